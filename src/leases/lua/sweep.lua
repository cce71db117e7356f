--[[
  Collect one batch of expired leases and due lingers, recording them on the events stream,
  drop fair-queue tickets whose waiters stopped refreshing them, and trim the stream. lease-store.ts repeats the call while more are due. It looks whatever
  lexp and lnext say (check-out trusts them) and resets them. A function of the lease library
  (after lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)

  Output:
    { leasesExpired, lingersEnded, more (0|1) }   all 0 when the pool's epoch is missing
                                                  (nothing to trust until it is rebuilt)
]]
usePool(KEYS[1])
if rcall('HEXISTS', STATE, 'epoch') == 0 then return { 0, 0, 0 } end
local now, nowStr = clock()
local expired, lingersEnded, more = purge(nowStr, true, true)
if rcall('HEXISTS', STATE, 'queued') == 1 then queueAhead(nil, now) end
if not more then rcall('XTRIM', EVENTS, 'MAXLEN', '~', EVENTS_MAXLEN) end
return { expired, lingersEnded, more and 1 or 0 }
