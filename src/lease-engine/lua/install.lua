--[[
  (Re)build a pool from the database: wipe its lease state, write its configuration,
  restore its active leases and re-form their draws. A function of the lease library (after
  lease-lib.lua).

  The fair queue is emptied too: its waiters re-enter it on their next try, in their new
  order. The per-principal ticket sets (<base>:queue:<principalId>) cannot be listed here: a
  waiter that comes back keeps its entry, the others lapse by their aliveUntil. The epoch is deleted first (with the rest of <base>:state) and written last: Redis does not
  roll back a script that fails half-way, and a pool without an epoch refuses every lease
  operation until rebuilt. The events stream is kept: it may hold records the ledger worker
  has not consumed yet. Restored leases expire no sooner than now + graceMs, so live clients
  can heartbeat again (a borrowed lease keeps its expiry, its borrowedUntil, and its draw no
  share scope). A draw takes its principal and team from its opener lease if
  restored, else its first one. The fencing counter restarts; tokens stay rising because the
  new epoch is larger. A restored lease's replayable grant is its restored state (inUse = the
  pool's inUse after the rebuild).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] JSON { epoch: string, configVersion: string, cap, graceMs,
                   apps: [ [appId, "shareScope|lingerMs|cost"] ], groups: [ [team, "reserved|max"] ],
                   leases: [{ leaseId, drawId, drawCost, drawOpenerLeaseId, drawOpenedAtMs,
                              appId, principalId, team, host, workUnitId, credits, leaseMs,
                              acquiredAtMs, fencingToken, expiresAtMs, borrowed? } ] }
             (team escaped; '' for a missing team, host or work unit)

  Output:
    { leasesRestored, drawsRestored, inUse }
]]
usePool(KEYS[1])
local input = cjson.decode(ARGV[1])
local now = clock()

rcall('UNLINK', STATE, LEASES, LINGERS, GROUPS, QUEUE, QINFO)
rcall('HSET', STATE, 'cap', input.cap, 'cv', input.configVersion, 'fence', '000000000000')
local scopes = {}
for _, entry in ipairs(input.apps) do
  rcall('HSET', STATE, 'a|' .. entry[1], entry[2])
  local _, scope, lingerMs = parseApp(entry[2])
  scopes[entry[1]] = scope
  if lingerMs > 0 then rcall('HSET', STATE, 'linger', 1) end
end
for _, entry in ipairs(input.groups) do rcall('HSET', GROUPS, entry[1], entry[2]) end
if #input.groups > 0 then rcall('HSET', STATE, 'groups', 1) end

local draws, drawIds = {}, {}
for _, l in ipairs(input.leases) do
  local d = draws[l.drawId]
  if not d then
    -- A borrowed lease's draw is its own: no scope for another lease to join.
    local scope = l.borrowed and 'NONE' or (scopes[l.appId] or 'NONE')
    d = { 0, '0', l.team, format('%d', l.drawCost), l.drawOpenerLeaseId, l.appId, l.principalId,
      format('%d', l.drawOpenedAtMs), scopeKeyFor(scope, l.appId, l.principalId, l.host, l.workUnitId) }
    draws[l.drawId] = d
    drawIds[#drawIds + 1] = l.drawId
  end
  if l.leaseId == d[OPENER] then d[PRINCIPAL], d[TEAM] = l.principalId, l.team end
  d[REFS] = d[REFS] + 1
end

local used, teamUsed = 0, {}
for _, drawId in ipairs(drawIds) do
  local d = draws[drawId]
  rcall('HSET', STATE, 'd|' .. drawId, packDraw(d))
  if d[SCOPE] ~= '' then rcall('HSET', STATE, d[SCOPE], drawId) end
  local cost = tonumber(d[COST])
  if d[TEAM] ~= '' then teamUsed[d[TEAM]] = (teamUsed[d[TEAM]] or 0) + cost end
  used = used + cost
end
for team, held in pairs(teamUsed) do rcall('HSET', STATE, 't|' .. team, held) end

local lexp
for _, l in ipairs(input.leases) do
  -- A borrowed lease needs no heartbeat to come back: it keeps its borrowedUntil.
  local expiresAt = l.borrowed and l.expiresAtMs or math.max(l.expiresAtMs, now + input.graceMs)
  if not lexp or expiresAt < lexp then lexp = expiresAt end
  rcall('ZADD', LEASES, expiresAt, l.leaseId)
  rcall('HSET', STATE, 'l|' .. l.leaseId, l.drawId .. '|' .. expiresAt .. '|' .. l.leaseMs .. '|' .. l.credits .. '|'
    .. l.fencingToken .. '|' .. l.acquiredAtMs .. '|' .. expiresAt .. '|' .. used .. '|'
    .. (l.credits > 0 and 'OPENED' or 'JOINED'))
end
if lexp then rcall('HSET', STATE, 'lexp', lexp) end
rcall('HSET', STATE, 'used', used)
rcall('HSET', STATE, 'epoch', input.epoch)
return { #input.leases, #drawIds, used }
