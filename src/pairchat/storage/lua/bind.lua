-- bind: route an account to a connection, which makes it online.
-- KEYS[1] P route              hash account -> "broker_id|conn_id"
-- KEYS[2] P online             set
-- KEYS[3] P on:<new broker_id> set of the accounts routed to that broker
-- ARGV[1] account id
-- ARGV[2] the new route, "broker_id|conn_id"
-- ARGV[3] prefix of P on:<broker_id>, for the broker of the route replaced
-- Returns the route replaced, or nil when the account was offline.
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then
  -- broker ids may contain '|'; conn ids never do, so split at the last one
  redis.call('SREM', ARGV[3] .. string.match(previous, '^(.*)|'), ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return previous
