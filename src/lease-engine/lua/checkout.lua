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
    ARGV[4] leaseMs
    ARGV[5] team         escaped; '' or absent = no team
    ARGV[6] host         '' or absent = none
    ARGV[7] workUnitId   '' or absent = none
    ARGV[8] waitMs       '0' or absent = do not queue; else a refusal puts (or keeps) the lease
                         id in the pool's fair queue, alive for waitMs unless tried again (see
                         queueAhead in lease-lib.lua). A grant takes it out. A cost above the
                         team's ceiling or the pool's cap is refused without queueing.
    ARGV[9] maxPerPrincipal  '' or absent = no bound; else a new ticket is refused (QUEUE_FULL)
                         while the principal has this many live tickets in the pool's queue
    ARGV[10] maxPerPool  '' or absent = no bound; else the same while the queue holds this many
    ARGV[11] drawId      '' or absent = the lease id; else the id of a draw this check-out opens.
                         A lease id that may be granted again (one derived from an idempotency
                         key) comes with a fresh one per request, so that no end of an earlier
                         grant's draw can be taken for this one's. Either way an id whose draw
                         still lingers gives way to one derived from it and the fencing token.
    ARGV[12] ownDraw     '1' = always open a draw of its own (a borrowed lease): it joins or
                         takes over no draw and leaves no share scope, so no other lease can
                         join it; '' or absent = the app's sharing and linger apply
    (lease-store.ts leaves out trailing empty arguments: most check-outs send four.)

  Output:
    leaseRecord          a new grant: the lease's record (see lease-lib.lua),
      "drawId|expiresAt|leaseMs|credits|fencingToken|acquiredAt|grantExpiresAt|inUse|drawAction"
      drawAction: OPENED, JOINED (credits 0) or TAKEN_OVER (a lingering draw; credits = its cost)
    { 'REPLAYED', leaseRecord }  the lease id is an active lease: its first grant, unchanged
    { 'POOL_EXHAUSTED' | 'GROUP_LIMIT_REACHED', requested, available, retryAfterMs, queuedAhead,
      neverFits }
      available: what this request may draw, after the credits the queue ahead waits for
      neverFits: 1 when the cost is above the team's ceiling or the pool's cap (not queued)
    { 'QUEUE_FULL', 'PRINCIPAL' | 'POOL', limit, retryAfterMs, queuedAhead }  refused and
      not queued: a new ticket would pass that bound
    { 'UNAVAILABLE' }  the pool's epoch is missing
    { 'UNKNOWN_APP' }
]]
usePool(KEYS[1])
local leaseId, appId, principal, leaseMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local team, host, workUnit, waitMs = ARGV[5] or '', ARGV[6] or '', ARGV[7] or '', ARGV[8]
local maxPerPrincipal, maxPerPool, drawArg = ARGV[9] or '', ARGV[10] or '', ARGV[11] or ''
local ownDraw = ARGV[12] == '1'

local st, now, nowStr = decisionState(appId, team, leaseId)
if not st then return { 'UNAVAILABLE' } end
if st[S_LEASE] then
  local drawId, expiresAt = leaseHead(st[S_LEASE])
  if expiresAt + 0 > now then return { 'REPLAYED', st[S_LEASE] } end
  -- Past its expiry but not collected yet: it ends as expired, and this call is a new lease.
  endLease(leaseId, drawId, loadDraw(drawId), 'expire', expiresAt + 0, expiresAt, 0)
  st, now, nowStr = decisionState(appId, team, leaseId)
end
if not st[S_APP] then return { 'UNKNOWN_APP' } end

local cost, scope, lingerMs = parseApp(st[S_APP])
local mode, drawId, d, scopeKey = 'OPENED', nil, nil, ''
if not ownDraw and (scope ~= 'NONE' or lingerMs > 0) then
  mode, drawId, d, scopeKey = findDraw(scope, lingerMs, appId, principal, team, host, workUnit, now)
end
local costN = num(cost)
-- Without a queue or group limits the free credits alone decide; else refusalFor does.
local usedN = st[S_USED] and num(st[S_USED]) or 0
if mode == 'OPENED' and (st[S_QUEUED] or st[S_GROUPS] or costN > (st[S_CAP] and num(st[S_CAP]) or 0) - usedN) then
  local free, ceiling, teamUsed = availableFor(team, st)
  local never = neverFits(costN, st, ceiling)
  if never then
    -- It may have waited before the cap or the ceiling came down.
    if st[S_QUEUED] then dequeue(leaseId, principal) end
    local _, available = refusalFor(costN, free, ceiling, teamUsed)
    return { never, costN, available, retryAfterMs(now), 0, 1 }
  end
  local creditsAhead, queuedAhead, queued = 0, 0, false
  if st[S_QUEUED] then creditsAhead, queuedAhead, queued = queueAhead(leaseId, now, free) end
  local refusal, available = refusalFor(costN, math.max(0, free - creditsAhead), ceiling, teamUsed)
  if refusal then
    if waitMs and waitMs ~= '0' then
      local bound, limit
      if not queued then bound, limit = queueFull(principal, nowStr, maxPerPrincipal, maxPerPool) end
      if bound then return { 'QUEUE_FULL', bound, limit, retryAfterMs(now), queuedAhead } end
      enqueue(leaseId, principal, cost, now + waitMs, refusal, queued)
    end
    return { refusal, costN, available, retryAfterMs(now), queuedAhead, 0 }
  end
end
local fence = nextFence(st[S_FENCE])
local token = st[S_EPOCH] .. fence
local expiresAt = now + num(leaseMs)
local expStr = format('%d', expiresAt)
-- lexp only ever moves earlier here (see lease-lib.lua).
local lexp = (not st[S_LEXP] or expiresAt < num(st[S_LEXP])) and expStr or nil
local credits, used, drawPacked
if mode == 'OPENED' then
  -- An earlier draw of this id outlived its lease (it lingers): this draw needs another id.
  if drawArg == '' then
    drawId = st[S_DRAW] and derivedUuid(leaseId .. '~' .. token) or leaseId
  else
    drawId = rcall('HEXISTS', STATE, 'd|' .. drawArg) == 1 and derivedUuid(drawArg .. '~' .. token) or drawArg
  end
  drawPacked = '1|0|' .. team .. '|' .. cost .. '|' .. leaseId .. '|' .. appId .. '|' .. principal .. '|'
    .. nowStr .. '|' .. scopeKey
  credits, used = cost, str(usedN + costN)
else
  if mode == 'JOINED' then
    credits = '0'
    d[REFS] = d[REFS] + 1
  else
    takeOver(drawId, d, scopeKey)
    credits = d[COST]
  end
  drawPacked, used = packDraw(d), st[S_USED] or '0'
end

local record = drawId .. '|' .. expStr .. '|' .. leaseMs .. '|' .. credits .. '|' .. token .. '|' .. nowStr
  .. '|' .. expStr .. '|' .. used .. '|' .. mode
rcall('ZADD', LEASES, expStr, leaseId)
-- Every write to the state hash goes into one HSET; the usual one (a new draw of a team-less
-- app that shares nothing, lexp unchanged) without building a table first.
if mode == 'OPENED' and team == '' and scopeKey == '' and not lexp then
  rcall('HSET', STATE, 'fence', fence, 'l|' .. leaseId, record, 'd|' .. drawId, drawPacked, 'used', used)
else
  local writes = { 'fence', fence, 'l|' .. leaseId, record, 'd|' .. drawId, drawPacked }
  if mode == 'OPENED' then
    writes[7], writes[8] = 'used', used
    if team ~= '' then
      writes[#writes + 1] = 't|' .. team
      writes[#writes + 1] = format('%d', (st[S_TEAM_USED] and num(st[S_TEAM_USED]) or 0) + costN)
    end
    if scopeKey ~= '' then
      writes[#writes + 1] = scopeKey
      writes[#writes + 1] = drawId
    end
  end
  if lexp then
    writes[#writes + 1] = 'lexp'
    writes[#writes + 1] = lexp
  end
  rcall('HSET', STATE, unpack(writes))
end
if st[S_QUEUED] then dequeue(leaseId, principal) end
return record
