-- broker_targets: the brokers still alive by Redis' clock, with their targets
-- (a broker past its deadline counts as dead before `expired` reports it).
-- KEYS[1] P broker             hash broker_id -> push target
-- KEYS[2] P broker:deadline    zset broker_id -> end of liveness (epoch seconds)
-- Returns a flat list: broker id, target, broker id, target, ...
local t = redis.call('TIME')
local now = string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
local out = {}
for first = 1, #live, 1000 do
  local last = math.min(first + 999, #live)
  local targets = redis.call('HMGET', KEYS[1], unpack(live, first, last))
  for i, target in ipairs(targets) do
    if target then
      out[#out + 1] = live[first + i - 1]
      out[#out + 1] = target
    end
  end
end
return out
