--[[
  A reservation's settlement (already recorded in PostgreSQL under `epoch`): its hold is
  released and `cost` added to `spent` of each budget period it held. A reservation Redis
  no longer holds (it ran out meanwhile) is charged on the holds PostgreSQL recorded.
  ARGV: resId, cost, epoch, holds ("<id>:<period>,...") -> 'OK' | 'STALE' (another epoch:
  the rebuild that replaced it read the settlement from PostgreSQL)
]]
use(KEYS[1])
if redis.call('HGET', base, 'epoch') ~= ARGV[3] then return 'STALE' end
local v = redis.call('HGET', base, 'r|' .. ARGV[1])
local holds
if v then
  -- The record read and parsed once: release_parsed is release(ARGV[1]) without reading it again.
  local r = parse_reservation(v)
  holds = r.holds
  release_parsed(ARGV[1], r)
else
  holds = parse_holds(ARGV[4])
end
if tonumber(ARGV[2]) > 0 then
  for _, hold in ipairs(holds) do
    if redis.call('HEXISTS', base, 'b|' .. hold.id) == 1 then redis.call('HINCRBY', base, 'sp|' .. hold.id .. '|' .. hold.pk, ARGV[2]) end
  end
end
return 'OK'
