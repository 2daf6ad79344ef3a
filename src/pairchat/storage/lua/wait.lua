-- wait: join the end of the match queue.
-- KEYS[1] P queue              list of "account|token", oldest at the head
-- KEYS[2] P waiting:<account>  set of the tokens it waits with
-- ARGV[1] account id   ARGV[2] token
redis.call('RPUSH', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
redis.call('SADD', KEYS[2], ARGV[2])
