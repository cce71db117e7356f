--[[
  Which of these reservations Redis holds OPEN, with its epoch, its seq and its clock: what
  the worker compares with PostgreSQL to see a Redis that went back in time. Read-only.
  ARGV: resId... -> {epoch or '', seq, now, 1|0 per reservation}
]]
use(KEYS[1])
local out = { redis.call('HGET', base, 'epoch') or '', redis.call('HGET', base, 'seq') or '0', now_ms() }
for i = 1, #ARGV do out[#out + 1] = redis.call('HEXISTS', base, 'r|' .. ARGV[i]) end
return out
