--[[
  Top of the budget function library (budget-store.ts). KEYS[1] of every script (which calls
  use(KEYS[1]) first) is the organization's budget key base "<prefix>:{budgets:<orgId>}";
  every budget of the organization lives under that one hash tag, so one call checks and
  holds all of the budgets a reservation falls under, atomically, in one Cluster slot.

    <base>         hash
                   epoch            epoch of the state; missing = state lost: reserve,
                                    charge, settle and define answer UNAVAILABLE or do
                                    nothing until install
                   seq              reservation counter (rises with every grant; a grant's
                                    seq not above one PostgreSQL recorded as granted earlier
                                    shows a rollback)
                   next             no later than the earliest expiry in <base>:exp (absent
                                    when it is empty): reserve looks for due reservations
                                    only once it has passed
                   b|<budgetId>     "period|limit|subject" (for reads and changes)
                   s|<subject>      the subject's budgets, "<id> <period> <limit>" triples
                                    separated by spaces, so a reservation finds every budget
                                    it falls under in one read; subjects: o (the
                                    organization), t:<team>, p:<principalId>, w:<workUnitId>
                   u|<id>|<period>  used in that period: spent + held by OPEN
                                    reservations made in it (what a reservation checks)
                   sp|<id>|<period> spent in that period (reserved = used - spent)
                   r|<resId>        "amount|expiresAt|seq|<id>:<period>,<id>:<period>,..."
                                    an OPEN reservation and the budget periods it holds
    <base>:exp     zset  resId -> expiresAt (ms, Redis clock)

  Money is in integer micro-units. Period is DAY, MONTH or TOTAL; a period key is
  d<yyyymmdd>, m<yyyymm> or t, computed by the API from its clock and passed in, so a test can
  cross midnight without waiting.

  Speed: a script's time is mostly Lua's own work on strings and tables (a string.format or
  a gmatch costs about as much as a Redis call from the script), so sums are kept by HINCRBY
  (Redis formats the numbers), and what is parsed from stored strings (a subject's budgets, a
  reservation's holds) is parsed once per distinct string and kept in a bounded cache of the
  library (a pure function of the string, so it can never be stale).
]]
-- Set by use(KEYS[1]) at the top of every function (the library's top level has no KEYS).
local base, EXP

local function use(key)
  base = key
  EXP = key .. ':exp'
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Integers as digits: Lua 5.1 writes large numbers with an exponent.
local function int(x)
  return string.format('%.0f', x)
end

local function period_key(period, day, month)
  if period == 'DAY' then return day elseif period == 'MONTH' then return month end
  return 't'
end

-- Parsed strings, by the string itself; emptied when it grows past CACHE_MAX entries.
local CACHE_MAX = 10000
local cache, cached = {}, 0

local function remember(key, value)
  if cached >= CACHE_MAX then
    cache, cached = {}, 0
  end
  cache[key] = value
  cached = cached + 1
  return value
end

-- The field names of one budget period, built once: { u = 'u|id|pk', sp = 'sp|id|pk', hold = 'id:pk', id = id }.
local function period_fields(id, pk)
  local key = id .. ':' .. pk
  return cache[key] or remember(key, { u = 'u|' .. id .. '|' .. pk, sp = 'sp|' .. id .. '|' .. pk, hold = key, id = id })
end

-- A subject's budgets ("<id> <period> <limit>" triples) as a list of { id, period, limit }.
local function subject_budgets(list)
  local parsed = cache[list]
  if parsed then return parsed end
  parsed = {}
  for id, period, limit in string.gmatch(list, '(%S+) (%S+) (%S+)') do parsed[#parsed + 1] = { id = id, period = period, limit = tonumber(limit) } end
  return remember(list, parsed)
end

-- What a reservation holds, for one day and month and the stored budget lists of its
-- subjects: { u = the u| fields, limits, ids, holds = the holds list }. Kept in a tree of
-- tables by day, month and each list (no string built to look it up).
-- A budget has one subject, and the subjects differ: no budget comes twice.
local plans, planned = {}, 0

local function child(node, key)
  local found = node[key]
  if found then return found end
  found = {}
  node[key] = found
  return found
end

-- lists: the values of an HMGET from index `from` on, false where a subject has no budget.
local function reservation_plan(day, month, lists, from)
  if planned >= CACHE_MAX then plans, planned = {}, 0 end
  local node = child(child(plans, day), month)
  for i = from, #lists do
    if lists[i] then node = child(node, lists[i]) end
  end
  if node.plan then return node.plan end
  local plan = { u = {}, limits = {}, ids = {} }
  local holds = {}
  for i = from, #lists do
    for _, b in ipairs(lists[i] and subject_budgets(lists[i]) or {}) do
      local f = period_fields(b.id, period_key(b.period, day, month))
      plan.u[#plan.u + 1] = f.u
      plan.limits[#plan.limits + 1] = b.limit
      plan.ids[#plan.ids + 1] = b.id
      holds[#holds + 1] = f.hold
    end
  end
  plan.holds = table.concat(holds, ',')
  node.plan = plan
  planned = planned + 1
  return plan
end

-- "<id>:<period>,..." as a list of period_fields
local function holds_of(list)
  local key = 'h' .. list
  local parsed = cache[key]
  if parsed then return parsed end
  parsed = {}
  for id, pk in string.gmatch(list, '([^,:]+):([^,]+)') do parsed[#parsed + 1] = period_fields(id, pk) end
  return remember(key, parsed)
end

-- amount, holds (the list) of a reservation record "amount|expiresAt|seq|holds"
local function parse_reservation(v)
  local amount, holds = string.match(v, '^(%d+)|%d+|%d+|(.*)$')
  return tonumber(amount), holds
end

-- Gives back the hold of OPEN reservation resId, whose record is v.
local function release_record(resId, v)
  local amount, holds = parse_reservation(v)
  if amount > 0 then
    local minus = int(-amount)
    for _, f in ipairs(holds_of(holds)) do redis.call('HINCRBY', base, f.u, minus) end
  end
  redis.call('HDEL', base, 'r|' .. resId)
  redis.call('ZREM', EXP, resId)
end

-- Gives an OPEN reservation's hold back; 1 if it held one.
local function release(resId)
  local v = redis.call('HGET', base, 'r|' .. resId)
  if not v then return 0 end
  release_record(resId, v)
  return 1
end

-- Releases up to `limit` reservations whose time ran out (the worker records their expiry),
-- then moves `next` to the earliest expiry left.
local function expire_due(now, limit)
  local due = redis.call('ZRANGEBYSCORE', EXP, '-inf', now, 'LIMIT', 0, limit)
  for _, resId in ipairs(due) do release(resId) end
  local first = redis.call('ZRANGE', EXP, 0, 0, 'WITHSCORES')
  if first[2] then redis.call('HSET', base, 'next', first[2]) else redis.call('HDEL', base, 'next') end
end
