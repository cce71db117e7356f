--[[
  Usage recorded without a reservation (recordComputeUsage, OTLP), already in PostgreSQL
  under `epoch`: each event's cost goes into `spent` of every budget of its subjects, in the
  period of the event.
  ARGV: epoch, then per event: cost, dayKey, monthKey, n, subject x n
  -> 1 | 0 (another epoch: the rebuild that replaced it summed the ledger)
]]
use(KEYS[1])
if redis.call('HGET', base, 'epoch') ~= ARGV[1] then return 0 end
local i = 2
while i <= #ARGV do
  local cost, n = ARGV[i], tonumber(ARGV[i + 3])
  local seen = {}
  for j = i + 4, i + 3 + n do
    local list = redis.call('HGET', base, 's|' .. ARGV[j])
    if list then
      for id in string.gmatch(list, '%S+') do
        local def = not seen[id] and budget_def(id)
        seen[id] = true
        if def then redis.call('HINCRBY', base, 'sp|' .. id .. '|' .. period_key(def.period, ARGV[i + 1], ARGV[i + 2]), cost) end
      end
    end
  end
  i = i + 4 + n
end
return 1
