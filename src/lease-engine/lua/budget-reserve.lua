--[[
  Checks every budget of the subjects and holds `amount` on all of them, or on none.
  ARGV: resId, amount, reservationMs, dayKey, monthKey, subject...
  -> {'OK', epoch, record} | {'REPLAYED', epoch, record} (resId is an OPEN reservation)
   | {'BUDGET_EXHAUSTED', budgetId, remaining} (the budget with the least room)
   | {'UNAVAILABLE'}
]]
use(KEYS[1])
local epoch = redis.call('HGET', base, 'epoch')
if not epoch then return { 'UNAVAILABLE' } end
local now = now_ms()
expire_due(now, 100)
local resId = ARGV[1]
local existing = redis.call('HGET', base, 'r|' .. resId)
if existing then return { 'REPLAYED', epoch, existing } end
local amount = tonumber(ARGV[2])
local holds, rvFields = {}, {}
local tightest, room
for _, id in ipairs(budgets_of(ARGV, 6)) do
  local def = budget_def(id)
  if def then
    local pk = period_key(def.period, ARGV[4], ARGV[5])
    local rvField = 'rv|' .. id .. '|' .. pk
    local figures = redis.call('HMGET', base, 'sp|' .. id .. '|' .. pk, rvField)
    local remaining = def.limit - (tonumber(figures[1]) or 0) - (tonumber(figures[2]) or 0)
    if remaining < amount and (room == nil or remaining < room) then
      tightest, room = id, remaining
    end
    holds[#holds + 1] = id .. ':' .. pk
    rvFields[#rvFields + 1] = rvField
  end
end
if tightest then return { 'BUDGET_EXHAUSTED', tightest, int(math.max(0, room)) } end
if amount > 0 then
  for _, field in ipairs(rvFields) do redis.call('HINCRBY', base, field, ARGV[2]) end
end
local seq = redis.call('HINCRBY', base, 'seq', 1)
local record = ARGV[2] .. '|' .. int(now + tonumber(ARGV[3])) .. '|' .. seq .. '|' .. table.concat(holds, ',')
redis.call('HSET', base, 'r|' .. resId, record)
redis.call('ZADD', EXP, now + tonumber(ARGV[3]), resId)
return { 'OK', epoch, record }
