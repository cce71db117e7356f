--[[
  Checks every budget of the subjects and holds `amount` on all of them, or on none.
  ARGV: resId, amount, reservationMs, dayKey, monthKey, 'r|<resId>', 's|<subject>'...
  (the field names built by the caller: the script's own string work is its main cost)
  -> 'epoch|record' (granted: one string, the cheapest reply)
   | {'REPLAYED', epoch, record} (resId is an OPEN reservation)
   | {'BUDGET_EXHAUSTED', budgetId, remaining} (the budget with the least room)
   | {'UNAVAILABLE'}
]]
use(KEYS[1])
local head = redis.call('HMGET', base, 'epoch', 'next', 'seq', unpack(ARGV, 6))
local epoch = head[1]
if not epoch then return { 'UNAVAILABLE' } end
local now = now_ms()
local next = head[2]
if next and now >= tonumber(next) then
  expire_due(now, 100)
  next = redis.call('HGET', base, 'next')
  head[4] = redis.call('HGET', base, ARGV[6])
end
if head[4] then return { 'REPLAYED', epoch, head[4] } end
local amount = tonumber(ARGV[2])
local plan = reservation_plan(ARGV[4], ARGV[5], head, 5)
local n = #plan.u
if n > 0 then
  local used = redis.call('HMGET', base, unpack(plan.u))
  local tightest, room
  for i = 1, n do
    local remaining = plan.limits[i] - (tonumber(used[i]) or 0)
    if remaining < amount and (room == nil or remaining < room) then tightest, room = i, remaining end
  end
  if tightest then return { 'BUDGET_EXHAUSTED', plan.ids[tightest], int(math.max(0, room)) } end
  if amount > 0 then
    for i = 1, n do redis.call('HINCRBY', base, plan.u[i], ARGV[2]) end
  end
end
local seq = (tonumber(head[3]) or 0) + 1
local expiresAt = now + tonumber(ARGV[3])
local record = ARGV[2] .. '|' .. expiresAt .. '|' .. seq .. '|' .. plan.holds
if not next or expiresAt < tonumber(next) then
  redis.call('HSET', base, ARGV[6], record, 'seq', seq, 'next', expiresAt)
else
  redis.call('HSET', base, ARGV[6], record, 'seq', seq)
end
redis.call('ZADD', EXP, expiresAt, ARGV[1])
return epoch .. '|' .. record
