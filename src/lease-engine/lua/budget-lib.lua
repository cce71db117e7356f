--[[
  Top of the budget function library (budget-store.ts). KEYS[1] of every script is the
  organization's budget key base "<prefix>:{budgets:<orgId>}"; every budget of the
  organization lives under that one hash tag, so one call checks and holds all of the
  budgets a reservation falls under, atomically, in one Cluster slot.

    <base>         hash
                   epoch            epoch of the state; missing = state lost: reserve,
                                    charge, settle and define answer UNAVAILABLE or do
                                    nothing until install
                   seq              reservation counter (rises with every grant; a grant's
                                    seq not above one PostgreSQL recorded shows a rollback)
                   b|<budgetId>     "period|limit|subject": DAY, MONTH or TOTAL; limit in
                                    micro-units of the currency; subject as below
                   s|<subject>      space-separated ids of the budgets of a subject:
                                    o (the organization), t:<team>, p:<principalId>,
                                    w:<workUnitId>
                   sp|<id>|<period> spent in that period, micro-units
                   rv|<id>|<period> held by OPEN reservations made in that period
                   r|<resId>        "amount|expiresAt|seq|<id>:<period>,<id>:<period>,..."
                                    an OPEN reservation and the budget periods it holds
    <base>:exp     zset  resId -> expiresAt (ms, Redis clock)

  A period key is d<yyyymmdd>, m<yyyymm> or t (TOTAL), computed by the API from its clock and
  passed in, so a test can cross midnight without waiting.
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

local function budget_def(id)
  local v = redis.call('HGET', base, 'b|' .. id)
  if not v then return nil end
  local p1 = string.find(v, '|', 1, true)
  local p2 = string.find(v, '|', p1 + 1, true)
  return { period = string.sub(v, 1, p1 - 1), limit = tonumber(string.sub(v, p1 + 1, p2 - 1)), subject = string.sub(v, p2 + 1) }
end

local function period_key(period, day, month)
  if period == 'DAY' then return day elseif period == 'MONTH' then return month end
  return 't'
end

-- "<id>:<period>,..." -> { {id=, pk=}, ... }
local function parse_holds(list)
  local holds = {}
  for item in string.gmatch(list, '[^,]+') do
    local c = string.find(item, ':', 1, true)
    holds[#holds + 1] = { id = string.sub(item, 1, c - 1), pk = string.sub(item, c + 1) }
  end
  return holds
end

local function parse_reservation(v)
  local p1 = string.find(v, '|', 1, true)
  local p2 = string.find(v, '|', p1 + 1, true)
  local p3 = string.find(v, '|', p2 + 1, true)
  return { amount = tonumber(string.sub(v, 1, p1 - 1)), expiresAt = tonumber(string.sub(v, p1 + 1, p2 - 1)), holds = parse_holds(string.sub(v, p3 + 1)) }
end

-- The ids of the budgets of the subjects args[from..], each once.
local function budgets_of(args, from)
  local seen, ids = {}, {}
  for i = from, #args do
    local list = redis.call('HGET', base, 's|' .. args[i])
    if list then
      for id in string.gmatch(list, '%S+') do
        if not seen[id] then
          seen[id] = true
          ids[#ids + 1] = id
        end
      end
    end
  end
  return ids
end

-- Gives the hold of OPEN reservation resId, r (parse_reservation of its record), back.
local function release_parsed(resId, r)
  for _, hold in ipairs(r.holds) do
    local field = 'rv|' .. hold.id .. '|' .. hold.pk
    if redis.call('HINCRBY', base, field, -r.amount) <= 0 then redis.call('HDEL', base, field) end
  end
  redis.call('HDEL', base, 'r|' .. resId)
  redis.call('ZREM', EXP, resId)
end

-- Gives an OPEN reservation's hold back; 1 if it held one.
local function release(resId)
  local v = redis.call('HGET', base, 'r|' .. resId)
  if not v then return 0 end
  release_parsed(resId, parse_reservation(v))
  return 1
end

-- Releases up to `limit` reservations whose time ran out; the worker records their expiry.
local function expire_due(now, limit)
  local due = redis.call('ZRANGEBYSCORE', EXP, '-inf', now, 'LIMIT', 0, limit)
  for _, resId in ipairs(due) do release(resId) end
  return #due
end
