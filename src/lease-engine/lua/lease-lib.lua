--[[
  Top of the lease function library: lease-store.ts loads this file, then each script file
  as the body of one Redis Function (FUNCTION LOAD), so these helpers are defined once per
  load, not once per call as an EVALSHA script would define them.

  KEYS[1] of every script is the pool's key base "<prefix>:{pool:<id>}" (lease-keys.ts); the
  script calls usePool(KEYS[1]) to derive the pool's keys by appending the suffixes below.
  They all carry the same hash tag {pool:<id>}, so they live in the Cluster slot KEYS[1]
  routes to, and Redis Cluster lets a script touch undeclared keys of that slot.

    <base>:state    hash    everything a check-out reads, so that one HMGET gets it all:
                            epoch   pool epoch; missing = state lost: every script answers
                                    UNAVAILABLE (sweep does nothing) until install
                            cap     credits the pool may hand out
                            cv      version of the configuration (cap, a|, <base>:groups)
                                    written last; configure.lua ignores an older one
                            used    sum of the costs of held draws (live or lingering)
                            fence   fencing counter of the current epoch (12 digits)
                            lexp    no later than the earliest expiry in <base>:leases, absent
                                    when that zset is empty: check-out looks for expired
                                    leases only once it has passed
                            lnext   the same for <base>:lingers
                            groups  '1' once a group limit exists (else no team lookups)
                            linger  '1' once an app has a linger (else check-in looks up no app)
                            queued  '1' while <base>:queue may hold tickets (else check-out
                                    reads no queue)
                            a|<appId>     "shareScope|lingerMs|cost"
                            t|<team>      credits held by the team's draws (team escaped)
                            l|<leaseId>   "drawId|expiresAt|leaseMs|credits|fencingToken|
                                           acquiredAt|grantExpiresAt|inUse|drawAction"
                                          (from credits on: the grant as first answered,
                                          replayed unchanged)
                            d|<drawId>    "refs|lingerUntil|team|cost|openerLeaseId|appId|
                                           principalId|openedAt|scopeKey"
                            <scopeKey>    drawId of the live or lingering draw of that scope:
                                          "P|app|principal", "H|app|principal|host", "W|app|workUnit"
                            T|<appId>|<principalId>  drawId of a lingering draw
    <base>:leases   zset    leaseId -> expiresAt ms (the expiry index)
    <base>:lingers  zset    drawId -> lingerUntil ms
    <base>:groups   hash    team -> "reserved|max" (max empty = no ceiling)
    <base>:queue    zset    the fair queue: ticket (the waiting check-out's lease id) -> its
                            arrival number (state field qseq), first come first served
    <base>:qinfo    hash    ticket -> "cost|aliveUntilMs|reason": a waiter refreshes
                            aliveUntil on every try, so a dead one drops out; reason is the
                            refusal it waits on (POOL_EXHAUSTED or GROUP_LIMIT_REACHED)
    <base>:queue:<principalId>  zset  that principal's tickets -> aliveUntilMs, for its bound
                            (QUEUE_MAX_PER_PRINCIPAL): it counts the tickets not yet lapsed, so
                            one whose removal it missed (install, an older library) stops
                            counting by itself; the key expires with its last ticket
    <base>:events   stream  one field per entry, named by the event type:
                            lease_expired  "leaseId|atMs"
                            draw_ended     "drawId|cost|openerLeaseId|appId|principalId|
                                            openedAtMs[|endedAtMs]" (no endedAtMs: the
                                            draw ended at the time of the entry's id)

  Packing: ids never contain "|" (lease-store.ts checks), so fields made from ids never
  collide with each other or with the plain ones; teams are escaped; scopeKey is last in a
  draw because it contains "|". Invariant: a lease is active iff its record exists, and its
  record's expiresAt equals its score in <base>:leases (every script writes both).
  The only clock is Redis's: TIME, or (check-in) the time in the id of a new events entry.

  Speed (Redis 7.0's Lua 5.1, measured inside Redis): a redis.call costs 0.6-1 us, a C
  function (sub, find, format) 60-100 ns, a table 130 ns. Values read from Redis stay strings
  where no arithmetic needs them. tonumber(s) parses the string twice (about 180 ns); s + 0
  parses it once (60 ns), and num() below remembers the values that repeat from call to call.
  A number passed to redis.call is printed with "%.17g" (about 0.9 us): pass strings.
]]
-- Expired leases and due lingers one script call collects; the sweep repeats until done
-- (a string for redis.call, a number to compare counts with).
local PURGE_BATCH, PURGE_BATCH_N = '100', 100
-- A draw is an array of its record's fields, in record order; REFS is a number.
local REFS, LINGER_UNTIL, TEAM, COST, OPENER, APP, PRINCIPAL, OPENED_AT, SCOPE = 1, 2, 3, 4, 5, 6, 7, 8, 9

-- Set by usePool, which every function calls first. A function library may not look up
-- globals (redis.call, string) while it loads, only while a function runs; looking them up
-- on every call costs a quarter of a microsecond, so the first call keeps them. The pool's
-- key names are kept for the next call too, which is often for the same pool.
local rcall, match, find, sub, format, byte, char, concat
local BASE, STATE, LEASES, LINGERS, GROUPS, EVENTS, QUEUE, QINFO
local function usePool(base)
  if not rcall then
    rcall, match, find, sub, format = redis.call, string.match, string.find, string.sub, string.format
    byte, char, concat = string.byte, string.char, table.concat
  end
  if base ~= BASE then
    BASE, STATE, LEASES = base, base .. ':state', base .. ':leases'
    LINGERS, GROUPS, EVENTS = base .. ':lingers', base .. ':groups', base .. ':events'
    QUEUE, QINFO = base .. ':queue', base .. ':qinfo'
  end
end

-- Redis TIME in ms, as a number and as a string.
-- A draw that cannot take its opener's lease id (an earlier draw of that id still lingers)
-- gets a UUID derived from the name (SHA-1, version-5 form): PostgreSQL records draw ids as
-- UUIDs, and a re-sent call derives the same one.
local function derivedUuid(name)
  local h = redis.sha1hex(name)
  local variant = format('%x', 8 + (tonumber(sub(h, 17, 17), 16) % 4))
  return sub(h, 1, 8) .. '-' .. sub(h, 9, 12) .. '-5' .. sub(h, 14, 16) .. '-' .. variant .. sub(h, 18, 20) .. '-' .. sub(h, 21, 32)
end

local function clock()
  local t = rcall('TIME')
  local s = t[1] .. sub('00000' .. t[2], -6, -4)
  return s + 0, s
end

-- The number a decimal string holds, for the values that come back call after call (cap,
-- costs, lease lengths, lexp, used): a lookup instead of a parse. The library's Lua state
-- keeps the table between calls; it starts over once it holds NUM_MEMO values.
local NUM_MEMO = 512
local nums, numCount = {}, 0
local function num(s)
  local n = nums[s]
  if n then return n end
  n = s + 0
  if numCount >= NUM_MEMO then nums, numCount = {}, 0 end
  nums[s], numCount = n, numCount + 1
  return n
end

-- The decimal string of an integer, remembered the same way (inUse after a grant).
local strs, strCount = {}, 0
local function str(n)
  local s = strs[n]
  if s then return s end
  s = format('%d', n)
  if strCount >= NUM_MEMO then strs, strCount = {}, 0 end
  strs[n], strCount = s, strCount + 1
  return s
end

-- The fencing counter after fence (12 digits, or nil before the first lease). Usually only
-- the last digit changes, which string operations do several times faster than format.
local function nextFence(fence)
  local last = fence and byte(fence, 12)
  if last and last < 57 then return sub(fence, 1, 11) .. char(last + 1) end
  return format('%012d', (fence or 0) + 1)
end

local function isDue(at, now)
  return at and num(at) <= now
end

-- cost (string), shareScope, lingerMs (number), remembered per packed app like num().
local apps, appCount = {}, 0
local function parseApp(packed)
  local app = apps[packed]
  if not app then
    local scope, linger, cost = match(packed, '^([^|]*)|([^|]*)|(.*)$')
    app = { cost, scope, tonumber(linger) or 0 }
    if appCount >= NUM_MEMO then apps, appCount = {}, 0 end
    apps[packed], appCount = app, appCount + 1
  end
  return app[1], app[2], app[3]
end

-- drawId, expiresAt (string) of a lease record.
local function leaseHead(packed)
  local i = find(packed, '|', 1, true)
  local j = find(packed, '|', i + 1, true)
  return sub(packed, 1, i - 1), sub(packed, i + 1, j - 1)
end

local function parseDraw(packed)
  local d = { match(packed, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$') }
  d[REFS] = d[REFS] + 0
  return d
end

local function packDraw(d)
  return concat(d, '|')
end

local function loadDraw(drawId)
  local packed = rcall('HGET', STATE, 'd|' .. drawId)
  return packed and parseDraw(packed) or nil
end

-- Leases of one scope share a draw; '' = the app shares nothing (NONE, or WORK_UNIT
-- without a work unit).
local function scopeKeyFor(scope, appId, principal, host, workUnit)
  if scope == 'PRINCIPAL' then return 'P|' .. appId .. '|' .. principal end
  if scope == 'PRINCIPAL_HOST' then return 'H|' .. appId .. '|' .. principal .. '|' .. host end
  if scope == 'WORK_UNIT' and workUnit ~= '' then return 'W|' .. appId .. '|' .. workUnit end
  return ''
end

-- Nothing is trimmed here: an entry stays until the worker has recorded it (sweep.lua trims
-- below what every consumer group acknowledged).
local function addEvent(kind, packed)
  rcall('XADD', EVENTS, '*', kind, packed)
end

-- Adds (sign '') or subtracts (sign '-') a draw's cost, kept as its string, to a counter.
local function addTo(field, cost, sign)
  if cost ~= '0' then rcall('HINCRBY', STATE, field, sign .. cost) end
end

-- Frees a draw's credits, deletes its record (and its last lease's, if given), forgets every
-- index entry that still points at it, and records its draw_ended event at endedAt (number
-- and string). The record's fields from cost to openedAt are the event's, in its order.
local function endDraw(drawId, d, endedAt, endedAtStr, leaseId)
  if leaseId then rcall('HDEL', STATE, 'l|' .. leaseId, 'd|' .. drawId) else rcall('HDEL', STATE, 'd|' .. drawId) end
  local scopeKey = d[SCOPE]
  if scopeKey ~= '' and rcall('HGET', STATE, scopeKey) == drawId then rcall('HDEL', STATE, scopeKey) end
  if d[LINGER_UNTIL] ~= '0' then
    rcall('ZREM', LINGERS, drawId)
    local takeoverKey = 'T|' .. d[APP] .. '|' .. d[PRINCIPAL]
    if rcall('HGET', STATE, takeoverKey) == drawId then rcall('HDEL', STATE, takeoverKey) end
  end
  addTo('used', d[COST], '-')
  if d[TEAM] ~= '' then addTo('t|' .. d[TEAM], d[COST], '-') end
  addEvent('draw_ended', drawId .. '|' .. concat(d, '|', COST, OPENED_AT) .. '|' .. endedAtStr)
end

local function startLinger(drawId, d, lingerUntil)
  d[LINGER_UNTIL] = format('%d', lingerUntil)
  rcall('HSET', STATE, 'd|' .. drawId, packDraw(d), 'T|' .. d[APP] .. '|' .. d[PRINCIPAL], drawId)
  rcall('ZADD', LINGERS, d[LINGER_UNTIL], drawId)
  local lnext = rcall('HGET', STATE, 'lnext')
  if not lnext or lingerUntil < num(lnext) then rcall('HSET', STATE, 'lnext', d[LINGER_UNTIL]) end
end

-- Ends one lease of draw d (nil if the draw record is missing). how: 'checkin', 'revoke' or
-- 'expire' (recorded on the events stream). endedAt (number and string) is now, or the
-- lease's expiresAt for an expiry. lingerMs applies when this was the draw's last lease
-- (pass 0 unless checking in). Returns drawEnded (boolean) and lingerUntil (or nil).
local function endLease(leaseId, drawId, d, how, endedAt, endedAtStr, lingerMs)
  rcall('ZREM', LEASES, leaseId)
  if how == 'expire' then addEvent('lease_expired', leaseId .. '|' .. endedAtStr) end
  if not d then
    rcall('HDEL', STATE, 'l|' .. leaseId)
    return false, nil
  end
  d[REFS] = d[REFS] - 1
  if d[REFS] > 0 then
    rcall('HDEL', STATE, 'l|' .. leaseId)
    rcall('HSET', STATE, 'd|' .. drawId, packDraw(d))
    return false, nil
  end
  if lingerMs > 0 then
    rcall('HDEL', STATE, 'l|' .. leaseId)
    startLinger(drawId, d, endedAt + lingerMs)
    return false, endedAt + lingerMs
  end
  endDraw(drawId, d, endedAt, endedAtStr, leaseId)
  return true, nil
end

-- Extends an active lease, whose record `packed` was just read, to now + leaseMs ('0' = the
-- lease's own length), or ends it as expired when its expiry has passed. lexp is the pool's
-- earliest expiry as last read or written (nil when unset). Returns 'OK', the new expiry
-- and the expiry it replaced (both numbers), and lexp after this lease; or 'NOT_ACTIVE'.
local function extendLease(leaseId, leaseMs, packed, lexp, now)
  local drawId, expiresAt, ownMs, grant = match(packed, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if expiresAt + 0 <= now then
    endLease(leaseId, drawId, loadDraw(drawId), 'expire', expiresAt + 0, expiresAt, 0)
    return 'NOT_ACTIVE'
  end
  if num(leaseMs) <= 0 then leaseMs = ownMs end
  local newExpiry = now + num(leaseMs)
  local expStr = format('%d', newExpiry)
  rcall('ZADD', LEASES, 'XX', expStr, leaseId)
  local record = drawId .. '|' .. expStr .. '|' .. leaseMs .. '|' .. grant
  -- A shorter lease length can move the earliest expiry forward.
  if not lexp or newExpiry < num(lexp) then
    rcall('HSET', STATE, 'l|' .. leaseId, record, 'lexp', expStr)
    lexp = expStr
  else
    rcall('HSET', STATE, 'l|' .. leaseId, record)
  end
  return 'OK', newExpiry, expiresAt + 0, lexp
end

-- Resets a lower bound (lexp or lnext) to the earliest score left in the zset.
local function resetNext(field, zset)
  local first = rcall('ZRANGE', zset, '0', '0', 'WITHSCORES')
  if first[2] then rcall('HSET', STATE, field, first[2]) else rcall('HDEL', STATE, field) end
end

-- Collects at most PURGE_BATCH expired leases (if leasesDue) and as many due lingers (if
-- lingersDue) up to now (a string). Returns the number of leases expired, of lingers ended, and
-- whether more are due.
local function purge(now, leasesDue, lingersDue)
  local n, m = 0, 0
  if leasesDue then
    local expired = rcall('ZRANGEBYSCORE', LEASES, '-inf', now, 'WITHSCORES', 'LIMIT', '0', PURGE_BATCH)
    n = #expired / 2
    if n > 0 then
      local ids, fields = {}, {}
      for i = 1, n do ids[i], fields[i] = expired[2 * i - 1], 'l|' .. expired[2 * i - 1] end
      local packed = rcall('HMGET', STATE, unpack(fields))
      for i = 1, n do
        local at = expired[2 * i]
        if packed[i] then
          local drawId = leaseHead(packed[i])
          endLease(ids[i], drawId, loadDraw(drawId), 'expire', at + 0, at, 0)
        else
          rcall('ZREM', LEASES, ids[i])
        end
      end
    end
    resetNext('lexp', LEASES)
  end
  if lingersDue then
    local due = rcall('ZRANGEBYSCORE', LINGERS, '-inf', now, 'WITHSCORES', 'LIMIT', '0', PURGE_BATCH)
    m = #due / 2
    for i = 1, m do
      local drawId, at = due[2 * i - 1], due[2 * i]
      local d = loadDraw(drawId)
      if d and d[REFS] == 0 then
        endDraw(drawId, d, at + 0, at)
      else
        rcall('ZREM', LINGERS, drawId)
      end
    end
    resetNext('lnext', LINGERS)
  end
  return n, m, (n == PURGE_BATCH_N or m == PURGE_BATCH_N)
end

-- Reads the state fields a check-out or quote decides on, collecting what is due first.
-- Returns nil when the epoch is missing, else the fields (indexed by the S_ names below), now
-- and nowStr. With a leaseId (check-out), also its record and a draw record of the same id.
-- A team-less request reads no team counter: each field of an HMGET costs about 150 ns.
local S_EPOCH, S_CAP, S_USED, S_FENCE, S_LEXP, S_LNEXT, S_GROUPS, S_QUEUED = 1, 2, 3, 4, 5, 6, 7, 8
local S_APP, S_LEASE, S_DRAW, S_TEAM_USED = 9, 10, 11, 12
local function readDecisionState(appField, leaseField, drawField, teamField)
  if teamField then
    return rcall('HMGET', STATE, 'epoch', 'cap', 'used', 'fence', 'lexp', 'lnext', 'groups', 'queued',
      appField, leaseField, drawField, teamField)
  end
  return rcall('HMGET', STATE, 'epoch', 'cap', 'used', 'fence', 'lexp', 'lnext', 'groups', 'queued',
    appField, leaseField, drawField)
end

local function decisionState(appId, team, leaseId)
  local appField, teamField = 'a|' .. appId, team ~= '' and ('t|' .. team) or nil
  local leaseField, drawField = 'l|' .. (leaseId or ''), 'd|' .. (leaseId or '')
  local st = readDecisionState(appField, leaseField, drawField, teamField)
  if not st[S_EPOCH] then return nil end
  local now, nowStr = clock()
  local leasesDue, lingersDue = isDue(st[S_LEXP], now), isDue(st[S_LNEXT], now)
  if leasesDue or lingersDue then
    purge(nowStr, leasesDue, lingersDue)
    st = readDecisionState(appField, leaseField, drawField, teamField)
  end
  return st, now, nowStr
end

local function canTakeOver(d, appId, team, now)
  return d[REFS] == 0 and d[LINGER_UNTIL] + 0 > now and d[APP] == appId and d[TEAM] == team
end

-- Which draw a check-out would use: 'JOINED' (a live draw of its scope, no new credits),
-- 'TAKEN_OVER' (a lingering draw of its scope, or of the same app and principal), or
-- 'OPENED' (a new draw of the app's cost). Returns mode, drawId, draw, scopeKey.
-- Only needed for apps that share or linger: a NONE app without linger always opens.
local function findDraw(scope, lingerMs, appId, principal, team, host, workUnit, now)
  local scopeKey = scopeKeyFor(scope, appId, principal, host, workUnit)
  -- Only an app with linger leaves draws to take over (one lingering from before its linger
  -- was switched off just runs out).
  local takeoverKey = lingerMs > 0 and ('T|' .. appId .. '|' .. principal) or ''
  local ids = rcall('HMGET', STATE, scopeKey, takeoverKey)
  if ids[1] then
    local d = loadDraw(ids[1])
    if d and d[REFS] > 0 then return 'JOINED', ids[1], d, scopeKey end
    if d and canTakeOver(d, appId, team, now) then return 'TAKEN_OVER', ids[1], d, scopeKey end
  end
  if ids[2] and ids[2] ~= ids[1] then
    local d = loadDraw(ids[2])
    if d and canTakeOver(d, appId, team, now) then return 'TAKEN_OVER', ids[2], d, scopeKey end
  end
  return 'OPENED', nil, nil, scopeKey
end

-- The lingering draw becomes this lease's draw, under this lease's scope. It stays charged
-- to its opener (the ledger charges a draw once), so opener and principal do not change.
-- The caller saves the draw.
local function takeOver(drawId, d, scopeKey)
  rcall('ZREM', LINGERS, drawId)
  local takeoverKey = 'T|' .. d[APP] .. '|' .. d[PRINCIPAL]
  if rcall('HGET', STATE, takeoverKey) == drawId then rcall('HDEL', STATE, takeoverKey) end
  if d[SCOPE] ~= scopeKey then
    if d[SCOPE] ~= '' and rcall('HGET', STATE, d[SCOPE]) == drawId then rcall('HDEL', STATE, d[SCOPE]) end
    if scopeKey ~= '' then rcall('HSET', STATE, scopeKey, drawId) end
  end
  d[REFS], d[LINGER_UNTIL], d[SCOPE] = 1, '0', scopeKey
end

-- Credits this team may still draw: the cap, less what is held, less the unused
-- reservations of the other teams (a team-less principal sees every reservation as others').
-- Also returns the team's ceiling (nil = none) and what the team holds.
local function availableFor(team, st)
  local free = (st[S_CAP] and num(st[S_CAP]) or 0) - (st[S_USED] and num(st[S_USED]) or 0)
  if not st[S_GROUPS] then return math.max(0, free), nil, 0 end
  local groups = rcall('HGETALL', GROUPS)
  local reservedByOthers, ceiling, teamUsed = 0, nil, 0
  if #groups > 0 then
    local fields = {}
    for i = 1, #groups, 2 do fields[#fields + 1] = 't|' .. groups[i] end
    local usedBy = rcall('HMGET', STATE, unpack(fields))
    for i = 1, #fields do
      local reserved, max = match(groups[2 * i], '^([^|]*)|([^|]*)$')
      local held = tonumber(usedBy[i]) or 0
      if groups[2 * i - 1] == team then
        ceiling, teamUsed = tonumber(max), held
      else
        reservedByOthers = reservedByOthers + math.max(0, (tonumber(reserved) or 0) - held)
      end
    end
  end
  return math.max(0, free - reservedByOthers), ceiling, teamUsed
end

-- Refusal (nil when a new draw of cost fits) and the credits left to this team, given what it
-- may draw once the credits the queue ahead waits for are set aside (available) and its
-- ceiling (nil = none) and holding (see availableFor). The team ceiling is checked first:
-- GROUP_LIMIT_REACHED wins when both apply.
local function refusalFor(cost, available, ceiling, teamUsed)
  if ceiling and teamUsed + cost > ceiling then
    return 'GROUP_LIMIT_REACHED', math.max(0, math.min(available, ceiling - teamUsed))
  end
  if cost > available then return 'POOL_EXHAUSTED', available end
  return nil, available
end

-- A cost that no wait can serve as the pool is configured now: above the team's ceiling
-- (GROUP_LIMIT_REACHED, checked first as in refusalFor) or the pool's cap (POOL_EXHAUSTED).
-- Such a request is refused at once and never queued, where it would hold back everyone
-- behind it for as long as it waits.
local function neverFits(cost, st, ceiling)
  if ceiling and cost > ceiling then return 'GROUP_LIMIT_REACHED' end
  if cost > (st[S_CAP] and num(st[S_CAP]) or 0) then return 'POOL_EXHAUSTED' end
  return nil
end

-- The queue is read QUEUE_PAGE tickets at a time, so that every table and every unpack stays
-- this small whatever its length (Lua's stack holds about 8,000 values); a sweep call reads
-- at most SWEEP_QUEUE_PAGES pages and hands back where it stopped.
local QUEUE_PAGE, QUEUE_PAGE_N, SWEEP_QUEUE_PAGES = '100', 100, 10

local function isLapsed(info, now)
  local aliveUntil = info and tonumber(match(info, '^[^|]*|([^|]*)|'))
  return not aliveUntil or aliveUntil <= now
end

-- Takes tickets (at most a page) out of the queue; their principals' entries have lapsed too.
local function dropTickets(tickets)
  if #tickets == 0 then return end
  rcall('ZREM', QUEUE, unpack(tickets))
  rcall('HDEL', QINFO, unpack(tickets))
end

-- The fair queue ahead of ticket (nil or absent from the queue: a newcomer, behind every
-- ticket): the credits the live tickets ahead wait for from the pool, how many tickets are
-- ahead, and whether ticket is queued. Tickets whose waiter stopped refreshing them are
-- dropped on the way. It reads from the head and stops once the credits reach enough (what
-- the request could draw without a queue): past that point the answer cannot change (nothing
-- is left for the request), so with no credit free it reads no ticket. The count is ZRANK's
-- (or ZCARD's) less what it dropped, so it may include lapsed tickets past where it stopped,
-- until a sweep drops them.
-- Tickets waiting on their team's ceiling set no pool credits aside: what holds them back is
-- their own team, and blocking everyone behind them would leave the pool idle.
local function queueAhead(ticket, now, enough)
  local rank = ticket and rcall('ZRANK', QUEUE, ticket)
  local ahead = rank or rcall('ZCARD', QUEUE)
  local credits, start = 0, 0
  while start < ahead and credits < enough do
    local tickets = rcall('ZRANGE', QUEUE, format('%d', start), format('%d', math.min(start + QUEUE_PAGE_N, ahead) - 1))
    if #tickets == 0 then break end
    local infos = rcall('HMGET', QINFO, unpack(tickets))
    local dead, read = {}, 0
    while read < #tickets and credits < enough do
      read = read + 1
      local cost, aliveUntil, reason = match(infos[read] or '', '^([^|]*)|([^|]*)|(.*)$')
      if not cost or (tonumber(aliveUntil) or 0) <= now then
        dead[#dead + 1] = tickets[read]
      elseif reason == 'POOL_EXHAUSTED' then
        credits = credits + num(cost)
      end
    end
    dropTickets(dead)
    start, ahead = start + read - #dead, ahead - #dead
  end
  if not rank and ahead == 0 then rcall('HDEL', STATE, 'queued') end
  return credits, ahead, rank and true or false
end

-- The bound a new ticket of principal would pass, and its limit: 'PRINCIPAL' (its own live
-- tickets) or 'POOL' (every ticket, lapsed ones until a sweep drops them); nil when there is
-- room. A bound of '' is none.
local function queueFull(principal, nowStr, perPrincipal, perPool)
  if perPrincipal ~= '' then
    local own = QUEUE .. ':' .. principal
    rcall('ZREMRANGEBYSCORE', own, '-inf', nowStr)
    if rcall('ZCARD', own) >= num(perPrincipal) then return 'PRINCIPAL', perPrincipal end
  end
  if perPool ~= '' and rcall('ZCARD', QUEUE) >= num(perPool) then return 'POOL', perPool end
  return nil
end

-- Puts ticket in the queue (keeping its place if it is there already: queued) until
-- aliveUntil.
local function enqueue(ticket, principal, cost, aliveUntil, reason, queued)
  local untilStr = format('%d', aliveUntil)
  if not queued then
    rcall('ZADD', QUEUE, 'NX', rcall('HINCRBY', STATE, 'qseq', '1'), ticket)
    rcall('HSET', STATE, 'queued', '1')
  end
  rcall('HSET', QINFO, ticket, cost .. '|' .. untilStr .. '|' .. reason)
  local own = QUEUE .. ':' .. principal
  rcall('ZADD', own, untilStr, ticket)
  -- Scores are aliveUntil: the key lives as long as the last of them.
  rcall('PEXPIREAT', own, rcall('ZRANGE', own, '-1', '-1', 'WITHSCORES')[2])
end

-- principal: the ticket's, nil if unknown (its entry then lapses with the ticket).
local function dequeue(ticket, principal)
  if rcall('ZREM', QUEUE, ticket) == 1 then
    rcall('HDEL', QINFO, ticket)
    if principal then rcall('ZREM', QUEUE .. ':' .. principal, ticket) end
    if rcall('ZCARD', QUEUE) == 0 then rcall('HDEL', STATE, 'queued') end
  end
end

-- Drops lapsed tickets, reading at most SWEEP_QUEUE_PAGES pages from the ticket after arrival
-- number after ('' = from the head). Returns the arrival number to go on after, or '-' once
-- it has read to the end.
local function sweepQueue(now, after)
  local from = after == '' and '-inf' or '(' .. after
  for pages = 1, SWEEP_QUEUE_PAGES do
    local page = rcall('ZRANGEBYSCORE', QUEUE, from, '+inf', 'WITHSCORES', 'LIMIT', '0', QUEUE_PAGE)
    local n = #page / 2
    if n == 0 then break end
    local tickets, dead = {}, {}
    for i = 1, n do tickets[i] = page[2 * i - 1] end
    local infos = rcall('HMGET', QINFO, unpack(tickets))
    for i = 1, n do
      if isLapsed(infos[i], now) then dead[#dead + 1] = tickets[i] end
    end
    dropTickets(dead)
    if n < QUEUE_PAGE_N then break end
    if pages == SWEEP_QUEUE_PAGES then return page[2 * n] end
    from = '(' .. page[2 * n]
  end
  if rcall('ZCARD', QUEUE) == 0 then rcall('HDEL', STATE, 'queued') end
  return '-'
end

-- When a refused check-out may try again: the next lease expiry or linger end, 1 s at least.
local function retryAfterMs(now)
  local nextAt
  local lease = rcall('ZRANGE', LEASES, '0', '0', 'WITHSCORES')
  local linger = rcall('ZRANGE', LINGERS, '0', '0', 'WITHSCORES')
  if lease[2] then nextAt = lease[2] + 0 end
  if linger[2] and (not nextAt or linger[2] + 0 < nextAt) then nextAt = linger[2] + 0 end
  return math.max(1000, (nextAt or now) - now)
end
