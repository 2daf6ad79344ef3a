-- end_session: remove an open session and the partnership of its members. The
-- HGET/HDEL pair runs in one script, so of concurrent callers exactly one finds
-- the session.
-- KEYS[1] P session            hash session id -> "a,b"
-- ARGV[1] session id
-- ARGV[2] prefix of P partners:<account>
-- ARGV[3] prefix of P open:<account>
-- Returns "a,b" to the caller that ended it, nil to the others.
local members = redis.call('HGET', KEYS[1], ARGV[1])
if not members then
  return nil
end
redis.call('HDEL', KEYS[1], ARGV[1])
local a, b = string.match(members, '^([^,]+),([^,]+)$')
redis.call('SREM', ARGV[2] .. a, b)
redis.call('SREM', ARGV[2] .. b, a)
redis.call('SREM', ARGV[3] .. a, ARGV[1])
redis.call('SREM', ARGV[3] .. b, ARGV[1])
return members
