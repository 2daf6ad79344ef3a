-- inbox_leases: one heartbeat of an inbox consumer. It says the consumer is
-- alive, forgets consumers whose heartbeat ran out, renews the consumer's shard
-- leases, gives up the shards it drained, and takes free shards up to its fair
-- share. Shares are computed here, from the one list of live consumers, so that
-- they add up to the shard count: with n consumers sorted by name, the first
-- (shards % n) hold one more shard than the others.
-- KEYS[1]        P inbox:consumers  zset consumer -> end of its heartbeat (server ms)
-- KEYS[2 .. n+1] P inbox:lease:<s>  for shard s = 0 .. n-1: the holder, with PX ttl
-- ARGV[1] the consumer (unique per live process)
-- ARGV[2] lease and heartbeat ttl (milliseconds)
-- ARGV[3] the shard to start looking for free ones from (spreads the consumers)
-- ARGV[4 ..] shards to give up: drained, nothing of theirs is taken but not done
-- Returns {fair share, {shards held after this call}}.
local consumers = KEYS[1]
local me, ttl, start = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local shards = #KEYS - 1

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', consumers, '-inf', now)
redis.call('ZADD', consumers, now + ttl, me)

local live = redis.call('ZRANGE', consumers, 0, -1)
table.sort(live)
local rank = 0
for i, name in ipairs(live) do
  if name == me then
    rank = i - 1
  end
end
local share = math.floor(shards / #live)
if rank < shards % #live then
  share = share + 1
end

local release = {}
for i = 4, #ARGV do
  release[tonumber(ARGV[i])] = true
end
local held = {}
for s = 0, shards - 1 do
  local lease = KEYS[s + 2]
  if redis.call('GET', lease) == me then
    if release[s] then
      redis.call('DEL', lease)
    else
      redis.call('PEXPIRE', lease, ttl)
      held[#held + 1] = s
    end
  end
end
local i = 0
while #held < share and i < shards do
  local s = (start + i) % shards
  if not release[s] and redis.call('SET', KEYS[s + 2], me, 'NX', 'PX', ttl) then
    held[#held + 1] = s
  end
  i = i + 1
end
return {share, held}
