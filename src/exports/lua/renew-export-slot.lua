--[[
  Renews a running export's claim for another lifetime. A claim that lapsed meanwhile (Redis
  lost it, or the process stalled past the lifetime) is taken again even above the limit:
  the export is running, and counting it keeps the others' view right.

  Input:
    KEYS[1] the organization's claims: a sorted set of claim id -> expiry (ms)
    ARGV[1] claim id
    ARGV[2] lifetime of a claim (ms)

  Output:
    1
]]
local key, claim, lifetime = KEYS[1], ARGV[1], tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', key, now + lifetime, claim)
redis.call('PEXPIRE', key, lifetime)
return 1
