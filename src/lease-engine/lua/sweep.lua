--[[
  Collect one batch of expired leases and due lingers, recording them on the events stream,
  drop fair-queue tickets whose waiters stopped refreshing them (up to SWEEP_QUEUE_PAGES pages
  of the queue), and trim the stream. lease-store.ts repeats the call until nothing more is
  due and the queue has been read to its end. It looks whatever lexp and lnext say (check-out
  trusts them) and resets them. A function of the lease library (after lease-lib.lua).

  The stream is trimmed only below what every consumer group has acknowledged: below a
  group's oldest pending entry, or with none pending, below its last delivered one. A
  stream without a group keeps everything (the worker creates the group reading from the
  start). No count bound: a worker that falls behind finds every event when it comes back,
  and memory is bounded by the worker keeping up.

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] queueCursor  where the previous call stopped reading the queue: '' or absent =
                         start from its head, '-' = it was read to the end, else the arrival
                         number of the last ticket read

  Output:
    { leasesExpired, lingersEnded, more (0|1), queueCursor }
      queueCursor: for the next call; '-' once the queue has been read to its end
      (0, 0, 0, '-' when the pool's epoch is missing: nothing to trust until it is rebuilt)
]]
-- Whether stream id a ("ms-seq") comes before b.
local function idBefore(a, b)
  local am, as = match(a, '^(%d+)-(%d+)$')
  local bm, bs = match(b, '^(%d+)-(%d+)$')
  am, bm = am + 0, bm + 0
  return am < bm or (am == bm and as + 0 < bs + 0)
end

-- The lowest id that some consumer group has not acknowledged, or may not have been
-- delivered: every entry below it is recorded. nil when the stream has no group.
local function acknowledgedBelow()
  local floor
  for _, group in ipairs(rcall('XINFO', 'GROUPS', EVENTS)) do
    local name, delivered
    for i = 1, #group, 2 do
      if group[i] == 'name' then name = group[i + 1] elseif group[i] == 'last-delivered-id' then delivered = group[i + 1] end
    end
    local pending = rcall('XPENDING', EVENTS, name)
    local keep = pending[1] > 0 and pending[2] or delivered
    if not floor or idBefore(keep, floor) then floor = keep end
  end
  return floor
end

usePool(KEYS[1])
if rcall('HEXISTS', STATE, 'epoch') == 0 then return { 0, 0, 0, '-' } end
local now, nowStr = clock()
local expired, lingersEnded, more = purge(nowStr, true, true)
local queueCursor = ARGV[1] or ''
if queueCursor ~= '-' then
  queueCursor = rcall('HEXISTS', STATE, 'queued') == 1 and sweepQueue(now, queueCursor) or '-'
end
if not more and queueCursor == '-' then
  local floor = rcall('EXISTS', EVENTS) == 1 and acknowledgedBelow() or nil
  if floor then rcall('XTRIM', EVENTS, 'MINID', '~', floor) end
end
return { expired, lingersEnded, more and 1 or 0, queueCursor }
