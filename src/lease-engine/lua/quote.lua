--[[
  What a check-out would do now, without doing it: the same decision as checkout.lua. It
  collects what is due first (as check-out does), so that its answer is the one the next
  check-out would get. A function of the lease library (after lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] appId  ARGV[2] principalId  ARGV[3] team (escaped, '' = none)
    ARGV[4] host ('' = none)  ARGV[5] workUnitId ('' = none)

  Output:
    { 'OK', cost, grantable (0|1), available, queuedAhead }
      cost: the credits the lease would hold (0 when it would join a live draw)
      available: credits this principal's team could draw now, after the credits the fair
                 queue waits for (a new check-out queues behind every live ticket)
      queuedAhead: tickets in the fair queue (a lapsed one counts until a sweep or a check-out
                   that reads past it drops it)
    { 'UNAVAILABLE' }  the pool's epoch is missing
    { 'UNKNOWN_APP' }
]]
usePool(KEYS[1])
local appId, principal, team, host, workUnit = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local st, now = decisionState(appId, team)
if not st then return { 'UNAVAILABLE' } end
if not st[S_APP] then return { 'UNKNOWN_APP' } end
local cost, scope, lingerMs = parseApp(st[S_APP])
local mode, d = 'OPENED', nil
if scope ~= 'NONE' or lingerMs > 0 then
  local _
  mode, _, d = findDraw(scope, lingerMs, appId, principal, team, host, workUnit, now)
end
local free, ceiling, teamUsed = availableFor(team, st)
local creditsAhead, queuedAhead = 0, 0
if st[S_QUEUED] then creditsAhead, queuedAhead = queueAhead(nil, now, free) end
local refusal, available = refusalFor(tonumber(cost), math.max(0, free - creditsAhead), ceiling, teamUsed)
if mode == 'JOINED' then return { 'OK', 0, 1, available, queuedAhead } end
if mode == 'TAKEN_OVER' then return { 'OK', tonumber(d[COST]), 1, available, queuedAhead } end
return { 'OK', tonumber(cost), refusal and 0 or 1, available, queuedAhead }
