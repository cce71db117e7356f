--[[
  Claims one of an organization's export slots, unless live claims hold all of them. A claim
  lapses at its expiry unless the export that holds it renews it (renew-export-slot.lua), so
  the slots of a process that died come free by themselves. Times are Redis's own clock.

  Input:
    KEYS[1] the organization's claims: a sorted set of claim id -> expiry (ms)
    ARGV[1] claim id
    ARGV[2] slots of the organization
    ARGV[3] lifetime of a claim (ms)

  Output:
    1  claimed
    0  every slot is held
]]
local key, claim, slots, lifetime = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= slots then return 0 end
redis.call('ZADD', key, now + lifetime, claim)
-- Every claim expires by now + lifetime, so the set lives as long as its longest claim.
redis.call('PEXPIRE', key, lifetime)
return 1
