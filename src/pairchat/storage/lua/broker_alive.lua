-- broker_alive: a broker is alive for ttl more seconds, by Redis' clock (the
-- one clock every host agrees on), as the holder (a logic process) says. A
-- renewal (ARGV[5] "0") changes nothing when another holder has the broker: the
-- broker moved to that process while the caller stalled. A take ("1", the
-- broker said hello) always makes the caller the holder.
-- KEYS[1] P broker             hash broker_id -> push target
-- KEYS[2] P broker:deadline    zset broker_id -> end of liveness (epoch seconds)
-- KEYS[3] P broker:holder      hash broker_id -> the process that last renewed it
-- ARGV[1] broker id   ARGV[2] push target   ARGV[3] ttl (seconds)   ARGV[4] holder
-- ARGV[5] "1" to take the broker, "0" to renew it
-- Returns 1 if the broker is the caller's now, 0 if another holder has it.
if ARGV[5] ~= '1' then
  local holder = redis.call('HGET', KEYS[3], ARGV[1])
  if holder and holder ~= ARGV[4] then
    return 0
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], string.format('%.6f', now + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
return 1
