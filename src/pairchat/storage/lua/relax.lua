-- relax: a waiting MATCH's interest wait is over: its entry keeps its place in
-- the queue (it has waited that long) but is no longer strict.
-- KEYS[1] P queue              list of entries, oldest at the head
-- KEYS[2] P queued:<account>   hash token -> its entry
-- ARGV[1] token
-- Returns 1 if the entry was still queued (and is relaxed now), 0 if pair took it.
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then
  return 0
end
local relaxed = (string.gsub(entry, '^(%d+)|1|', '%1|0|', 1))
if relaxed == entry then
  return 1
end
local index = redis.call('LPOS', KEYS[1], entry)
if not index then
  -- Dropped from the queue as stale (its account went offline): gone.
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 0
end
redis.call('LSET', KEYS[1], index, relaxed)
redis.call('HSET', KEYS[2], ARGV[1], relaxed)
return 1
