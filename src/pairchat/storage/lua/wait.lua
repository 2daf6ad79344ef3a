-- wait: join the end of the match queue; a token queued already moves there,
-- with its new entry.
-- KEYS[1] P queue              list of entries, oldest at the head
-- KEYS[2] P queued:<account>   hash token -> its entry
-- ARGV[1] token   ARGV[2] the entry, "account|strict|interests|token"
local previous = redis.call('HGET', KEYS[2], ARGV[1])
if previous then
  redis.call('LREM', KEYS[1], 1, previous)
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
