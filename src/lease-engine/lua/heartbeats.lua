--[[
  Extend many leases of one pool at once (the batched heartbeats of a client): one call and
  one read of the pool's state for them all. A function of the lease library (after
  lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV    pairs: leaseId, leaseMs (new lease length; 0 = keep the lease's own), distinct ids

  Output:
    { 'UNAVAILABLE' }  the pool's epoch is missing (no lease is touched)
    otherwise three entries per lease, in ARGV's order:
      'OK', expiresAtMs, previousExpiresAtMs    as heartbeat.lua answers
      'NOT_ACTIVE', 0, 0                        unknown, ended, or past its expiry (then ended)
]]
usePool(KEYS[1])
local n = #ARGV / 2
local fields = { 'epoch', 'lexp' }
for i = 1, n do fields[i + 2] = 'l|' .. ARGV[2 * i - 1] end
local st = rcall('HMGET', STATE, unpack(fields))
if not st[1] then return { 'UNAVAILABLE' } end
local now = clock()
local lexp = st[2]
local out = {}
for i = 1, n do
  local status, newExpiry, previous = 'NOT_ACTIVE', 0, 0
  if st[i + 2] then
    local s, e, p, l = extendLease(ARGV[2 * i - 1], ARGV[2 * i], st[i + 2], lexp, now)
    if s == 'OK' then status, newExpiry, previous, lexp = s, e, p, l end
  end
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = status, newExpiry, previous
end
return out
