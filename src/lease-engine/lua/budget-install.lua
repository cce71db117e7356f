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
  subjects[b[4]] = (subjects[b[4]] and (subjects[b[4]] .. ' ') or '') .. b[1]
end
for subject, ids in pairs(subjects) do redis.call('HSET', base, 's|' .. subject, ids) end
for _, s in ipairs(state.spent) do
  if tonumber(s[3]) ~= 0 then redis.call('HSET', base, 'sp|' .. s[1] .. '|' .. s[2], s[3]) end
end
for _, r in ipairs(state.reservations) do
  redis.call('HSET', base, 'r|' .. r[1], r[2])
  redis.call('ZADD', EXP, r[3], r[1])
  local res = parse_reservation(r[2])
  if res.amount > 0 then
    for _, hold in ipairs(res.holds) do redis.call('HINCRBY', base, 'rv|' .. hold.id .. '|' .. hold.pk, int(res.amount)) end
  end
end
redis.call('HSET', base, 'seq', state.seq, 'epoch', state.epoch)
return #state.reservations
