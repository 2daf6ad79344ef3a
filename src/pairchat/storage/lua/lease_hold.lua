-- lease_hold: take a lease nobody holds, or extend the caller's own; one holder
-- at a time, because the check and the write are one step.
-- KEYS[1] P lease:<name>  string  the holder (expires: PX ttl)
-- ARGV[1] the holder
-- ARGV[2] the lease's life in milliseconds
-- Returns 1 when the caller holds the lease now, 0 when another does.
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
