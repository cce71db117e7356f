--[[
  Extend an active lease to now + its length. A function of the lease library (after
  lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] leaseId
    ARGV[2] leaseMs   new lease length; 0 or absent = keep the lease's own

  Output:
    { 'OK', expiresAtMs, previousExpiresAtMs }   (the API writes PostgreSQL's copy of the
                       expiry behind, and at once when the previous one was about to pass)
    { 'NOT_ACTIVE' }   unknown, ended, or already past its expiry (then ended as expired)
    { 'UNAVAILABLE' }  the pool's epoch is missing
]]
usePool(KEYS[1])
local leaseId = ARGV[1]
local st = rcall('HMGET', STATE, 'epoch', 'lexp', 'l|' .. leaseId)
if not st[1] then return { 'UNAVAILABLE' } end
if not st[3] then return { 'NOT_ACTIVE' } end
local status, newExpiry, previous = extendLease(leaseId, ARGV[2] or '0', st[3], st[2], clock())
if status ~= 'OK' then return { status } end
return { 'OK', newExpiry, previous }
