--[[
  A reservation's settlement (already recorded in PostgreSQL under `epoch`): its hold is
  released and `cost` added to `spent` of each budget period it held. A reservation Redis
  no longer holds (it ran out meanwhile) is charged on the holds PostgreSQL recorded.
  ARGV: resId, cost, epoch, holds ("<id>:<period>,..."), 'r|<resId>', onlyIfHeld ('1': do
  nothing unless Redis still holds the reservation: the settlement is applied again after a
  process died between PostgreSQL's commit and this call, and applying deletes the hold)
  -> 'OK' | 'STALE' (another epoch: the rebuild that replaced it read the settlement from
  PostgreSQL) | 'NOT_HELD' (onlyIfHeld, and nothing held)
]]
use(KEYS[1])
local head = redis.call('HMGET', base, 'epoch', ARGV[5])
if head[1] ~= ARGV[3] then return 'STALE' end
if ARGV[6] == '1' and not head[2] then return 'NOT_HELD' end
local cost = tonumber(ARGV[2])
local holds, amount = ARGV[4], 0
if head[2] then
  amount, holds = parse_reservation(head[2])
  redis.call('HDEL', base, ARGV[5])
  redis.call('ZREM', EXP, ARGV[1])
end
-- used loses the hold and gains the cost; spent gains the cost.
local delta = cost - amount
if delta ~= 0 then delta = int(delta) end
for _, f in ipairs(holds_of(holds)) do
  if delta ~= 0 then redis.call('HINCRBY', base, f.u, delta) end
  if cost > 0 then redis.call('HINCRBY', base, f.sp, ARGV[2]) end
end
return 'OK'
