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
  local n = tonumber(ARGV[i + 3])
  local subjects = {}
  for j = i + 4, i + 3 + n do subjects[#subjects + 1] = 's|' .. ARGV[j] end
  local lists = redis.call('HMGET', base, unpack(subjects))
  local seen = {}
  for j = 1, n do
    if lists[j] then
      for _, b in ipairs(subject_budgets(lists[j])) do
        if not seen[b.id] then
          seen[b.id] = true
          local f = period_fields(b.id, period_key(b.period, ARGV[i + 1], ARGV[i + 2]))
          redis.call('HINCRBY', base, f.u, ARGV[i])
          redis.call('HINCRBY', base, f.sp, ARGV[i])
        end
      end
    end
  end
  i = i + 4 + n
end
return 1
