-- stop_waiting: leave the match queue, unless pair took the entry already.
-- KEYS[1] P queue              list of entries
-- KEYS[2] P queued:<account>   hash token -> its entry
-- ARGV[1] token
-- Returns 1 if the entry was still queued (and is gone now), 0 if pair took it.
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('LREM', KEYS[1], 1, entry)
