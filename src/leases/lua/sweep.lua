--[[
  Collect one batch of expired leases and due lingers, recording them on the events stream,
  drop fair-queue tickets whose waiters stopped refreshing them (up to SWEEP_QUEUE_PAGES pages
  of the queue), and trim the stream. lease-store.ts repeats the call until nothing more is
  due and the queue has been read to its end. It looks whatever lexp and lnext say (check-out
  trusts them) and resets them. A function of the lease library (after lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] queueCursor  where the previous call stopped reading the queue: '' or absent =
                         start from its head, '-' = it was read to the end, else the arrival
                         number of the last ticket read

  Output:
    { leasesExpired, lingersEnded, more (0|1), queueCursor }
      queueCursor: for the next call; '-' once the queue has been read to its end
      (0, 0, 0, '-' when the pool's epoch is missing: nothing to trust until it is rebuilt)
]]
usePool(KEYS[1])
if rcall('HEXISTS', STATE, 'epoch') == 0 then return { 0, 0, 0, '-' } end
local now, nowStr = clock()
local expired, lingersEnded, more = purge(nowStr, true, true)
local queueCursor = ARGV[1] or ''
if queueCursor ~= '-' then
  queueCursor = rcall('HEXISTS', STATE, 'queued') == 1 and sweepQueue(now, queueCursor) or '-'
end
if not more and queueCursor == '-' then rcall('XTRIM', EVENTS, 'MAXLEN', '~', EVENTS_MAXLEN) end
return { expired, lingersEnded, more and 1 or 0, queueCursor }
