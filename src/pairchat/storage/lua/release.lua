-- release: undo a pair whose session could not be created.
-- KEYS[1] P partners:<a>       set
-- KEYS[2] P partners:<b>       set
-- ARGV[1] account a   ARGV[2] account b
redis.call('SREM', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[1])
