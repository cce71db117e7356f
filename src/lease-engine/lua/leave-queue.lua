--[[
  Take a waiting check-out's ticket out of the pool's fair queue (its client went away, or
  it stopped waiting). A function of the lease library (after lease-lib.lua).

  Input:
    KEYS[1] the pool's key base "<prefix>:{pool:<id>}" (keys derived as in lease-lib.lua)
    ARGV[1] ticket     the waiting check-out's lease id
    ARGV[2] principal  the waiting check-out's principal (absent: its count lapses with the ticket)

  Output:
    { 1 } if the ticket was queued, else { 0 }
]]
usePool(KEYS[1])
if rcall('ZSCORE', QUEUE, ARGV[1]) then
  dequeue(ARGV[1], ARGV[2])
  return { 1 }
end
return { 0 }
