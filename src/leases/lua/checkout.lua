--[[
  Check a lease out: collect what is due, replay a live lease of the same id, then join,
  take over or open a draw, all in one atomic step. A function of the lease library (after
  lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] leaseId      the dedup key: while a lease of this id is active, a re-sent call gets
                         its first grant back and creates nothing. Also the id of a draw it opens
    ARGV[2] appId
    ARGV[3] principalId
    ARGV[4] team         escaped; '' = no team
    ARGV[5] host         '' = none
    ARGV[6] workUnitId   '' = none
    ARGV[7] leaseMs
    ARGV[8] waitMs       0 = do not queue; else a refusal puts (or keeps) the lease id in the
                         pool's fair queue, alive for waitMs unless tried again (see
                         queueAhead in lease-lib.lua). A grant takes it out.

  Output:
    { 'GRANTED', leaseRecord, replayed (0|1) } with the lease's record (see lease-lib.lua):
      "drawId|expiresAt|leaseMs|credits|fencingToken|acquiredAt|grantExpiresAt|inUse|drawAction"
      drawAction: OPENED, JOINED (credits 0) or TAKEN_OVER (a lingering draw; credits = its cost)
    { 'POOL_EXHAUSTED' | 'GROUP_LIMIT_REACHED', requested, available, retryAfterMs, queuedAhead }
      available: what this request may draw, after the credits the queue ahead waits for
    { 'UNAVAILABLE' }  the pool's epoch is missing
    { 'UNKNOWN_APP' }
]]
usePool(KEYS[1])
local leaseId, appId, principal, team, host, workUnit, leaseMs, waitMs =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])

local st, now, nowStr = decisionState(appId, team, leaseId)
if not st then return { 'UNAVAILABLE' } end
if st[10] then
  local drawId, expiresAt = leaseHead(st[10])
  if tonumber(expiresAt) > now then return { 'GRANTED', st[10], 1 } end
  -- Past its expiry but not collected yet: it ends as expired, and this call is a new lease.
  endLease(leaseId, drawId, loadDraw(drawId), 'expire', tonumber(expiresAt), expiresAt, 0)
  st, now, nowStr = decisionState(appId, team, leaseId)
end
if not st[8] then return { 'UNKNOWN_APP' } end

local cost, scope, lingerMs = parseApp(st[8])
local mode, drawId, d, scopeKey = 'OPENED', nil, nil, ''
if scope ~= 'NONE' or lingerMs > 0 then
  mode, drawId, d, scopeKey = findDraw(scope, lingerMs, appId, principal, team, host, workUnit, now)
end
local fence = nextFence(st[4])
local token = st[1] .. fence
-- Every write to the state hash goes into one HSET: fence, lease, draw, then what applies.
local writes = { 'fence', fence, 'l|' .. leaseId, '', 'd|', '' }
local credits, used
if mode == 'OPENED' then
  local creditsAhead, queuedAhead = 0, 0
  if st[12] then creditsAhead, queuedAhead = queueAhead(leaseId, now) end
  local refusal, available = refusalFor(tonumber(cost), team, st, creditsAhead)
  if refusal then
    if waitMs > 0 then enqueue(leaseId, cost, now + waitMs, refusal) end
    return { refusal, tonumber(cost), available, retryAfterMs(now), queuedAhead }
  end
  -- An earlier lease of this id opened a draw that outlived it: this draw needs another id.
  drawId = st[11] and (leaseId .. '~' .. token) or leaseId
  writes[6] = '1|0|' .. team .. '|' .. cost .. '|' .. leaseId .. '|' .. appId .. '|' .. principal .. '|'
    .. nowStr .. '|' .. scopeKey
  credits, used = cost, format('%d', (tonumber(st[3]) or 0) + tonumber(cost))
  writes[7], writes[8] = 'used', used
  if team ~= '' then
    writes[#writes + 1] = 't|' .. team
    writes[#writes + 1] = format('%d', (tonumber(st[9]) or 0) + tonumber(cost))
  end
  if scopeKey ~= '' then
    writes[#writes + 1] = scopeKey
    writes[#writes + 1] = drawId
  end
else
  if mode == 'JOINED' then
    credits = '0'
    d[REFS] = d[REFS] + 1
  else
    takeOver(drawId, d, scopeKey)
    credits = d[COST]
  end
  writes[6], used = packDraw(d), st[3] or '0'
end

local expiresAt = now + tonumber(leaseMs)
local expStr = format('%d', expiresAt)
if not st[5] or expiresAt < tonumber(st[5]) then
  writes[#writes + 1] = 'lexp'
  writes[#writes + 1] = expStr
end
local record = drawId .. '|' .. expStr .. '|' .. leaseMs .. '|' .. credits .. '|' .. token .. '|' .. nowStr
  .. '|' .. expStr .. '|' .. used .. '|' .. mode
writes[4], writes[5] = record, 'd|' .. drawId
rcall('ZADD', LEASES, expStr, leaseId)
rcall('HSET', STATE, unpack(writes))
if st[12] then dequeue(leaseId) end
return { 'GRANTED', record, 0 }
