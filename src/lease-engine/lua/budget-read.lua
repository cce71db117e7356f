--[[
  Live figures of budgets, read-only.
  ARGV: dayKey, monthKey, budgetId...
  -> {epoch or '', then per budget: limit or '' (unknown to Redis), spent, reserved}
]]
use(KEYS[1])
local out = { redis.call('HGET', base, 'epoch') or '' }
for i = 3, #ARGV do
  local def = budget_def(ARGV[i])
  if def then
    local pk = period_key(def.period, ARGV[1], ARGV[2])
    local figures = redis.call('HMGET', base, 'sp|' .. ARGV[i] .. '|' .. pk, 'rv|' .. ARGV[i] .. '|' .. pk)
    out[#out + 1] = int(def.limit)
    out[#out + 1] = figures[1] or '0'
    out[#out + 1] = figures[2] or '0'
  else
    out[#out + 1] = ''
    out[#out + 1] = '0'
    out[#out + 1] = '0'
  end
end
return out
