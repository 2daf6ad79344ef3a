-- end_replay: count one pending replay less, never below zero.
-- KEYS[1] P replay             hash "account:session" -> pending replays
-- ARGV[1] "account:session"
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
