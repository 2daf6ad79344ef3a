-- stop_waiting: leave the match queue, unless pair took the entry already.
-- KEYS[1] P queue              list of "account|token"
-- KEYS[2] P waiting:<account>  set of the tokens it waits with
-- ARGV[1] account id   ARGV[2] token
-- Returns 1 if the entry was still queued (and is gone now), 0 if pair took it.
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1] .. '|' .. ARGV[2])
redis.call('SREM', KEYS[2], ARGV[2])
return removed
