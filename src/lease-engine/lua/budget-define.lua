--[[
  A budget created, changed or deleted in PostgreSQL under `epoch`.
  ARGV: epoch, 'put' | 'del', budgetId, subject, definition ("period|limit|subject", put)
  -> 1 | 0 (another epoch or none: the next rebuild reads the budget from PostgreSQL)
]]
use(KEYS[1])
if redis.call('HGET', base, 'epoch') ~= ARGV[1] then return 0 end
local id, subject = ARGV[3], ARGV[4]
local list = redis.call('HGET', base, 's|' .. subject) or ''
local ids = {}
for other in string.gmatch(list, '%S+') do
  if other ~= id then ids[#ids + 1] = other end
end
if ARGV[2] == 'put' then
  redis.call('HSET', base, 'b|' .. id, ARGV[5])
  ids[#ids + 1] = id
else
  redis.call('HDEL', base, 'b|' .. id)
end
if #ids == 0 then redis.call('HDEL', base, 's|' .. subject) else redis.call('HSET', base, 's|' .. subject, table.concat(ids, ' ')) end
return 1
