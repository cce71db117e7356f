--[[
  Releases reservations' holds (cancelled, or expired by the worker).
  ARGV: resId... -> how many were held
]]
use(KEYS[1])
local released = 0
for i = 1, #ARGV do released = released + release(ARGV[i]) end
return released
