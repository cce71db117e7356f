--[[
  Live figures of budgets, read-only.
  ARGV: dayKey, monthKey, budgetId...
  -> {epoch or '', then per budget: limit or '' (unknown to Redis), spent, reserved}
]]
use(KEYS[1])
local out = { redis.call('HGET', base, 'epoch') or '' }
for i = 3, #ARGV do
  local def = redis.call('HGET', base, 'b|' .. ARGV[i])
  if def then
    local period, limit = string.match(def, '^([^|]+)|([^|]+)|')
    local f = period_fields(ARGV[i], period_key(period, ARGV[1], ARGV[2]))
    local figures = redis.call('HMGET', base, f.sp, f.u)
    local spent = tonumber(figures[1]) or 0
    out[#out + 1] = limit
    out[#out + 1] = int(spent)
    out[#out + 1] = int((tonumber(figures[2]) or 0) - spent)
  else
    out[#out + 1] = ''
    out[#out + 1] = '0'
    out[#out + 1] = '0'
  end
end
return out
