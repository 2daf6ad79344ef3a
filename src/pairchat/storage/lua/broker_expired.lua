-- broker_expired: remove and return the brokers whose liveness ran out, so that
-- each is reported once, to one caller.
-- KEYS[1] P broker             hash broker_id -> push target
-- KEYS[2] P broker:deadline    zset broker_id -> end of liveness (epoch seconds)
-- KEYS[3] P broker:holder      hash broker_id -> the process that last renewed it
-- Returns the broker ids.
local t = redis.call('TIME')
local now = string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for first = 1, #dead, 1000 do
  local last = math.min(first + 999, #dead)
  redis.call('ZREM', KEYS[2], unpack(dead, first, last))
  redis.call('HDEL', KEYS[1], unpack(dead, first, last))
  redis.call('HDEL', KEYS[3], unpack(dead, first, last))
end
return dead
