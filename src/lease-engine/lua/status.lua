--[[
  The pool's counters, read-only (flag no-writes). A function of the lease library (after
  lease-lib.lua).
  inUse may still count leases and lingers that are due but not yet collected (at most one
  sweep interval); activeLeases counts only leases whose expiry is still ahead.

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)

  Output:
    { epoch ('' = missing), cap, inUse, activeLeases, reservedUnused, queued }
      reservedUnused: sum over teams of max(0, reserved - held)
      queued: tickets in the fair queue (a dead waiter's until the next sweep drops it)
]]
usePool(KEYS[1])
local _, nowStr = clock()
local st = rcall('HMGET', STATE, 'epoch', 'cap', 'used')
local active = rcall('ZCOUNT', LEASES, '(' .. nowStr, '+inf')
local groups = rcall('HGETALL', GROUPS)
local reservedUnused = 0
if #groups > 0 then
  local fields = {}
  for i = 1, #groups, 2 do fields[#fields + 1] = 't|' .. groups[i] end
  local held = rcall('HMGET', STATE, unpack(fields))
  for i = 1, #fields do
    local reserved = tonumber(match(groups[2 * i], '^([^|]*)|')) or 0
    reservedUnused = reservedUnused + math.max(0, reserved - (tonumber(held[i]) or 0))
  end
end
return { st[1] or '', tonumber(st[2]) or 0, tonumber(st[3]) or 0, active, reservedUnused, rcall('ZCARD', QUEUE) }
