--[[
  Redis's clock and the expiry of each given lease the pool holds, read-only (flag
  no-writes). A function of the lease library (after lease-lib.lua). The clock is read here,
  on the node that holds the pool: on a Redis Cluster, the clock its expiries were set by.

  Input:
    KEYS[1]    the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1..n] lease ids (none: only the clock)

  Output:
    { now (ms), expiresAt of ARGV[1] (ms, nil when the pool does not hold it), ... }
]]
usePool(KEYS[1])
local now = clock()
if #ARGV == 0 then return { now } end
local scores = rcall('ZMSCORE', LEASES, unpack(ARGV))
local reply = { now }
for i = 1, #ARGV do reply[i + 1] = scores[i] end
return reply
