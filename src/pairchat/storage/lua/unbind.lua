-- unbind: take an account offline if its route is the expected one; once it is
-- offline, drop its match-queue entries.
-- KEYS[1] P route              hash account -> "broker_id|conn_id"
-- KEYS[2] P online             set
-- KEYS[3] P queue              list of entries
-- KEYS[4] P queued:<account>   hash token -> its entry
-- ARGV[1] account id
-- ARGV[2] the expected route "broker_id|conn_id", or "" for any route
-- ARGV[3] prefix of P on:<broker_id>
-- Returns 1 if this call took the account offline, else 0.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and ARGV[2] ~= '' and current ~= ARGV[2] then
  -- Routed to a newer connection: that one keeps the account online and its
  -- MATCH requests open.
  return 0
end
if current then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  redis.call('SREM', ARGV[3] .. string.match(current, '^(.*)|'), ARGV[1])
end
-- Offline now (or already): nobody would answer these entries' MATCH requests.
for _, entry in ipairs(redis.call('HVALS', KEYS[4])) do
  redis.call('LREM', KEYS[3], 1, entry)
end
redis.call('DEL', KEYS[4])
if current then
  return 1
end
return 0
