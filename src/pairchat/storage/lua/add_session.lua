-- add_session: record an open session; its members are partners (again, when
-- it is loaded at start-up rather than reserved by pair).
-- KEYS[1] P session            hash session id -> "a,b"
-- KEYS[2] P partners:<a>       set
-- KEYS[3] P partners:<b>       set
-- KEYS[4] P open:<a>           set of a's open session ids
-- KEYS[5] P open:<b>           set of b's open session ids
-- ARGV[1] session id   ARGV[2] member a   ARGV[3] member b
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ',' .. ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
