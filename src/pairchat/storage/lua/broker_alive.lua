-- broker_alive: a broker is alive for ttl more seconds, by Redis' clock (the
-- one clock every host agrees on), as the holder (a logic process) says.
-- KEYS[1] P broker             hash broker_id -> push target
-- KEYS[2] P broker:deadline    zset broker_id -> end of liveness (epoch seconds)
-- KEYS[3] P broker:holder      hash broker_id -> the process that last renewed it
-- ARGV[1] broker id   ARGV[2] push target   ARGV[3] ttl (seconds)   ARGV[4] holder
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], string.format('%.6f', now + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
