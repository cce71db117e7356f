--[[
  Write a pool's configuration (cap, apps, team limits) unless Redis holds a newer one. A
  function of the lease library (after lease-lib.lua).

  Every change of a pool's configuration raises its version in PostgreSQL in the same
  transaction; the mirror writes the configuration it read with the version it read first.
  A write whose version is below the state's `cv` is older than what Redis holds (a resync
  that read the row before a change, or two changes reaching Redis out of order) and is
  ignored; an equal version is written again (repairs a partial write). Needs no epoch and
  creates none; ends no lease. Apps and team limits are upserted, never removed.

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] JSON { version: string, cap, apps: [ [appId, "shareScope|lingerMs|cost"] ],
                   groups: [ [team, "reserved|max"] ] } (team escaped)

  Output:
    { 1, version } when written, { 0, the version Redis holds } when ignored
]]
usePool(KEYS[1])
local input = cjson.decode(ARGV[1])
local held = rcall('HGET', STATE, 'cv')
if held and tonumber(held) > tonumber(input.version) then return { 0, held } end

rcall('HSET', STATE, 'cap', input.cap, 'cv', input.version)
for _, entry in ipairs(input.apps) do
  rcall('HSET', STATE, 'a|' .. entry[1], entry[2])
  local _, _, lingerMs = parseApp(entry[2])
  if lingerMs > 0 then rcall('HSET', STATE, 'linger', 1) end
end
for _, entry in ipairs(input.groups) do rcall('HSET', GROUPS, entry[1], entry[2]) end
if #input.groups > 0 then rcall('HSET', STATE, 'groups', 1) end
return { 1, input.version }
