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
local leaseId, leaseMs = ARGV[1], ARGV[2] or '0'
local st = rcall('HMGET', STATE, 'epoch', 'lexp', 'l|' .. leaseId)
if not st[1] then return { 'UNAVAILABLE' } end
local packed = st[3]
if not packed then return { 'NOT_ACTIVE' } end
local drawId, expiresAt, ownMs, grant = match(packed, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
local now = clock()
if expiresAt + 0 <= now then
  endLease(leaseId, drawId, loadDraw(drawId), 'expire', expiresAt + 0, expiresAt, 0)
  return { 'NOT_ACTIVE' }
end
if num(leaseMs) <= 0 then leaseMs = ownMs end
local newExpiry = now + num(leaseMs)
local expStr = format('%d', newExpiry)
rcall('ZADD', LEASES, 'XX', expStr, leaseId)
local record = drawId .. '|' .. expStr .. '|' .. leaseMs .. '|' .. grant
-- A shorter lease length can move the earliest expiry forward.
if not st[2] or newExpiry < num(st[2]) then
  rcall('HSET', STATE, 'l|' .. leaseId, record, 'lexp', expStr)
else
  rcall('HSET', STATE, 'l|' .. leaseId, record)
end
return { 'OK', newExpiry, expiresAt }
