-- broker_gone: forget a broker, if the caller is the holder that last renewed it
-- (a broker that failed over to another logic process stays registered).
-- KEYS[1] P broker             hash broker_id -> push target
-- KEYS[2] P broker:deadline    zset broker_id -> end of liveness (epoch seconds)
-- KEYS[3] P broker:holder      hash broker_id -> the process that last renewed it
-- ARGV[1] broker id   ARGV[2] holder
-- Returns 1 if the broker was forgotten, 0 if another holder has it.
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
