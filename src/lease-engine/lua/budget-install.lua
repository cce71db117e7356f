--[[
  Replaces the organization's budget state with one rebuilt from PostgreSQL.
  ARGV[1]: JSON { epoch, seq, budgets: list of { id, period, limit, subject },
                  spent: list of { id, period, micros },
                  reservations: list of { id, record, expiresAt } } (each item an array)
  Holds are recomputed from the reservations. -> number of reservations restored
]]
use(KEYS[1])
local state = cjson.decode(ARGV[1])
redis.call('DEL', base, EXP)
local subjects = {}
for _, b in ipairs(state.budgets) do
  redis.call('HSET', base, 'b|' .. b[1], b[2] .. '|' .. b[3] .. '|' .. b[4])
  subjects[b[4]] = (subjects[b[4]] and (subjects[b[4]] .. ' ') or '') .. b[1] .. ' ' .. b[2] .. ' ' .. b[3]
end
for subject, triples in pairs(subjects) do redis.call('HSET', base, 's|' .. subject, triples) end
for _, s in ipairs(state.spent) do
  if tonumber(s[3]) ~= 0 then
    local f = period_fields(s[1], s[2])
    redis.call('HSET', base, f.sp, s[3], f.u, s[3])
  end
end
local next
for _, r in ipairs(state.reservations) do
  redis.call('HSET', base, 'r|' .. r[1], r[2])
  redis.call('ZADD', EXP, r[3], r[1])
  if not next or tonumber(r[3]) < next then next = tonumber(r[3]) end
  local amount, holds = parse_reservation(r[2])
  if amount > 0 then
    for _, f in ipairs(holds_of(holds)) do redis.call('HINCRBY', base, f.u, int(amount)) end
  end
end
if next then redis.call('HSET', base, 'next', int(next)) end
redis.call('HSET', base, 'seq', state.seq, 'epoch', state.epoch)
return #state.reservations
