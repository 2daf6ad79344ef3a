-- inbox_release: a consumer stops: give up its shard leases and its place among
-- the live consumers, so that others take its shards (and claim what it took
-- but did not finish) at once instead of after the lease ttl.
-- KEYS[1]        P inbox:consumers  zset consumer -> end of its heartbeat
-- KEYS[2 .. n+1] P inbox:lease:<s>  for every shard s
-- ARGV[1] the consumer
for s = 2, #KEYS do
  if redis.call('GET', KEYS[s]) == ARGV[1] then
    redis.call('DEL', KEYS[s])
  end
end
redis.call('ZREM', KEYS[1], ARGV[1])
