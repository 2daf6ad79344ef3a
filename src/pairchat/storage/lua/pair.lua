-- pair: choose a partner for an account and make the two partners, in one step,
-- so that no concurrent pair (in any logic process) overbooks either of them or
-- pairs them twice.
-- KEYS[1] P queue              list of "account|token", oldest at the head
-- KEYS[2] P online             set
-- KEYS[3] P partners:<account> set of the requester's partners
-- ARGV[1] the requester's account id
-- ARGV[2] max_sessions: an acceptable partner has fewer partners than this
-- ARGV[3] prefix of P partners:<account>  (the candidates are only known here)
-- ARGV[4] prefix of P waiting:<account>
-- ARGV[5] how many random online accounts to try
-- ARGV[6] scan limit: queue entries examined at most, and the largest online
--         set that is swept in full when the random picks all fail
-- ARGV[7] "1": waiters only (an account that just came online is offered to the
--         waiting; it is never paired with someone who did not ask)
-- Returns {partner id, token it waited with} (token "" when it was not waiting),
-- or nil when the requester is full itself or nobody is acceptable.
local queue, online, mine = KEYS[1], KEYS[2], KEYS[3]
local me, max_sessions = ARGV[1], tonumber(ARGV[2])
local partners, waiting = ARGV[3], ARGV[4]
local samples, limit = tonumber(ARGV[5]), tonumber(ARGV[6])

-- The requester's own count is checked here too: its caller's check ran before
-- this step, and a concurrent pair may have made it a partner since.
if redis.call('SCARD', mine) >= max_sessions then
  return nil
end

local function acceptable(id)
  return id ~= me
    and redis.call('SISMEMBER', online, id) == 1
    and redis.call('SISMEMBER', mine, id) == 0
    and redis.call('SCARD', partners .. id) < max_sessions
end

local function split(entry)
  local bar = string.find(entry, '|', 1, true)
  if not bar then
    return nil, nil
  end
  return string.sub(entry, 1, bar - 1), string.sub(entry, bar + 1)
end

local function dequeue(entry, id, token)
  redis.call('LREM', queue, 1, entry)
  if id then
    redis.call('SREM', waiting .. id, token)
  end
end

local function take(id, token)
  redis.call('SADD', mine, id)
  redis.call('SADD', partners .. id, me)
  return {id, token}
end

-- 1. The longest-waiting acceptable account. Entries of accounts that went
-- offline are removed on the way (unbind drops them too; this catches an entry
-- queued after its account's unbind).
local stale = {}
local found_entry, found_id, found_token
local index = 0
while index < limit and not found_entry do
  local entries = redis.call('LRANGE', queue, index, index + 99)
  if #entries == 0 then
    break
  end
  for _, entry in ipairs(entries) do
    local id, token = split(entry)
    if not id or redis.call('SISMEMBER', online, id) == 0 then
      stale[#stale + 1] = entry
    elseif acceptable(id) then
      found_entry, found_id, found_token = entry, id, token
      break
    end
  end
  index = index + #entries
end
-- Removed after the scan, so that the indexes above stayed valid during it.
for _, entry in ipairs(stale) do
  local id, token = split(entry)
  dequeue(entry, id, token)
end
if found_entry then
  dequeue(found_entry, found_id, found_token)
  return take(found_id, found_token)
end

if ARGV[7] == '1' then
  return nil
end

-- 2. A random acceptable online account. One that waits (its entries lay past
-- the scan limit) is taken out of the queue with one of its tokens, since its
-- MATCH request must then be answered.
local function choose(id)
  local tokens = redis.call('SMEMBERS', waiting .. id)
  if #tokens == 0 then
    return take(id, '')
  end
  dequeue(id .. '|' .. tokens[1], id, tokens[1])
  return take(id, tokens[1])
end

for _, id in ipairs(redis.call('SRANDMEMBER', online, samples)) do
  if acceptable(id) then
    return choose(id)
  end
end
-- The picks can all miss when few online accounts are acceptable (most are full
-- or partners already); a small online set is then swept in full.
if redis.call('SCARD', online) <= limit then
  for _, id in ipairs(redis.call('SMEMBERS', online)) do
    if acceptable(id) then
      return choose(id)
    end
  end
end
return nil
