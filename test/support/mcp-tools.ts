/** Every tool the MCP server lists, sorted: what an MCP client sees, over HTTP or through `tokenpool mcp`. */
export const TOOL_NAMES = [
  'cancel_reservation',
  'checkin',
  'checkout',
  'list_pools',
  'my_leases',
  'quote',
  'record_outcome',
  'record_usage',
  'reserve_compute',
  'settle_compute',
  'start_work_unit',
];
