--[[
  Check in or revoke an active lease. Its draw is freed when this was the draw's last lease;
  after a check-in the draw first lingers for the app's lingerMs. A function of the lease
  library (after lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] leaseId
    ARGV[2] how   'checkin' or absent (linger applies), or 'revoke' (no linger)

  Output:
    1  ended, and so did its draw (the usual check-in: same as { 'ENDED', 1, 0 })
    { 'ENDED', drawEnded (0|1), lingerUntilMs (0 = no linger) }
    { 'NOT_ACTIVE' }   unknown, ended, or already past its expiry (then ended as expired)
    { 'UNAVAILABLE' }  the pool's epoch is missing
]]
usePool(KEYS[1])
local leaseId, how = ARGV[1], ARGV[2] or 'checkin'
-- The lease's record, the draw's when the lease opened it (the usual case), the epoch, and
-- whether any app of the pool lingers.
local recs = rcall('HMGET', STATE, 'l|' .. leaseId, 'd|' .. leaseId, 'epoch', 'linger')
if not recs[3] then return { 'UNAVAILABLE' } end
if not recs[1] then return { 'NOT_ACTIVE' } end
local drawId, expiresAt = leaseHead(recs[1])
local drawPacked = recs[2]
if drawId ~= leaseId then drawPacked = rcall('HGET', STATE, 'd|' .. drawId) end

-- The usual end, recognised by one pattern: the draw's only lease (refs 1), no linger running
-- (lingerUntil 0) or to start (a revoke, or no app of the pool lingers), and no share scope
-- (an empty scopeKey). Its draw_ended event goes first, and the time of the event's id
-- (Redis time in ms, as TIME would give) serves as now, which saves the TIME call. Should
-- that show the lease already expired, the event is taken back and the general path below
-- ends the lease as expired. Nothing is trimmed here (see sweep.lua).
local team, event, cost
if drawPacked and (how == 'revoke' or not recs[4]) then
  team, event, cost = match(drawPacked, '^1|0|([^|]*)|(([^|]*)|[^|]*|[^|]*|[^|]*|[^|]*)|$')
end
if event then
  event = drawId .. '|' .. event
  local id = rcall('XADD', EVENTS, '*', 'draw_ended', event)
  if expiresAt + 0 > sub(id, 1, find(id, '-', 1, true) - 1) + 0 then
    rcall('ZREM', LEASES, leaseId)
    rcall('HDEL', STATE, 'l|' .. leaseId, 'd|' .. drawId)
    addTo('used', cost, '-')
    if team ~= '' then addTo('t|' .. team, cost, '-') end
    return 1
  end
  rcall('XDEL', EVENTS, id)
end

local d = drawPacked and parseDraw(drawPacked) or nil
local now, nowStr = clock()
if expiresAt + 0 <= now then
  endLease(leaseId, drawId, d, 'expire', expiresAt + 0, expiresAt, 0)
  return { 'NOT_ACTIVE' }
end
-- The app's linger as it is now, needed only when a check-in ends the draw's last lease.
local lingerMs = 0
if how == 'checkin' and recs[4] and d and d[REFS] == 1 then
  local app = rcall('HGET', STATE, 'a|' .. d[APP])
  if app then
    local _
    _, _, lingerMs = parseApp(app)
  end
end
local drawEnded, lingerUntil = endLease(leaseId, drawId, d, how, now, nowStr, lingerMs)
return { 'ENDED', drawEnded and 1 or 0, lingerUntil or 0 }
