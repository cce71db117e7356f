--[[
  A budget created, changed or deleted in PostgreSQL under `epoch`.
  ARGV: epoch, 'put' | 'del', budgetId, subject, period, limit (period and limit: put)
  -> 1 | 0 (another epoch or none: the next rebuild reads the budget from PostgreSQL)
]]
use(KEYS[1])
if redis.call('HGET', base, 'epoch') ~= ARGV[1] then return 0 end
local id, subject = ARGV[3], ARGV[4]
local list = redis.call('HGET', base, 's|' .. subject) or ''
local triples = {}
for other, period, limit in string.gmatch(list, '(%S+) (%S+) (%S+)') do
  if other ~= id then triples[#triples + 1] = other .. ' ' .. period .. ' ' .. limit end
end
if ARGV[2] == 'put' then
  redis.call('HSET', base, 'b|' .. id, ARGV[5] .. '|' .. ARGV[6] .. '|' .. subject)
  triples[#triples + 1] = id .. ' ' .. ARGV[5] .. ' ' .. ARGV[6]
else
  redis.call('HDEL', base, 'b|' .. id)
end
if #triples == 0 then redis.call('HDEL', base, 's|' .. subject) else redis.call('HSET', base, 's|' .. subject, table.concat(triples, ' ')) end
return 1
