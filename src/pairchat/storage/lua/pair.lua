-- pair: choose a partner for an account and make the two partners, in one step,
-- so that no concurrent pair (in any logic process) overbooks either of them or
-- pairs them twice.
-- KEYS[1] P queue              list of entries, oldest at the head
-- KEYS[2] P online             set
-- KEYS[3] P partners:<account> set of the requester's partners
-- KEYS[4] P blocks:<account>   set of the accounts the requester is never paired with
-- KEYS[5] P unavailable        set of the accounts random picks skip
-- ARGV[1] the requester's account id
-- ARGV[2] max_sessions: an acceptable partner has fewer partners than this
-- ARGV[3] prefix of P partners:<account>  (the candidates are only known here)
-- ARGV[4] prefix of P queued:<account>
-- ARGV[5] how many random online accounts to try
-- ARGV[6] scan limit: queue entries examined at most, and the largest online
--         set that is swept in full when the random picks all fail
-- ARGV[7] "1": waiters only (an account that just came online is offered to the
--         waiting; it is never paired with someone who did not ask)
-- ARGV[8] "1": strict: only an entry sharing an interest, no random pick
-- ARGV[9 ..] the requester's interests, percent-encoded as in the entries
-- Returns {partner id, token it waited with, positions (1-based, ascending) of
-- the requester's interests the partner's entry names too} (token "" and no
-- positions when it was not waiting), or nil when the requester is full itself
-- or nobody is acceptable.
local queue, online, mine, blocked, unavailable = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local me, max_sessions = ARGV[1], tonumber(ARGV[2])
local partners, queued = ARGV[3], ARGV[4]
local samples, limit = tonumber(ARGV[5]), tonumber(ARGV[6])
local strict = ARGV[8] == '1'
local wanted, most = {}, #ARGV - 8 -- interest -> its position; the most an entry can share
for i = 9, #ARGV do
  wanted[ARGV[i]] = i - 8
end

-- The requester's own count is checked here too: its caller's check ran before
-- this step, and a concurrent pair may have made it a partner since.
if redis.call('SCARD', mine) >= max_sessions then
  return nil
end

local function acceptable(id)
  return id ~= me
    and redis.call('SISMEMBER', online, id) == 1
    and redis.call('SISMEMBER', mine, id) == 0
    and redis.call('SISMEMBER', blocked, id) == 0
    and redis.call('SCARD', partners .. id) < max_sessions
end

-- An entry is "account|strict|interests|token"; nil for anything else.
local function parse(entry)
  return string.match(entry, '^([^|]+)|([01])|([^|]*)|(.*)$')
end

-- The positions of the requester's interests that an entry's interests name.
local function shared(interests)
  local found = {}
  for interest in string.gmatch(interests, '[^,]+') do
    found[#found + 1] = wanted[interest]
  end
  table.sort(found)
  return found
end

-- Whether an entry sharing `common` may pair with the requester.
local function suits(entry_strict, common)
  return #common > 0 or not (strict or entry_strict == '1')
end

local function dequeue(entry, id, token)
  redis.call('LREM', queue, 1, entry)
  if id then
    redis.call('HDEL', queued .. id, token)
  end
end

local function take(id, token, common)
  redis.call('SADD', mine, id)
  redis.call('SADD', partners .. id, me)
  return {id, token, common}
end

-- 1. The acceptable entry sharing the most interests, the longest-waiting among
-- equals. Entries of accounts that went offline are removed on the way (unbind
-- drops them too; this catches an entry queued after its account's unbind).
local stale = {}
local best, best_id, best_token, best_common
local index = 0
while index < limit and not (best and #best_common == most) do
  local entries = redis.call('LRANGE', queue, index, index + 99)
  if #entries == 0 then
    break
  end
  for _, entry in ipairs(entries) do
    local id, entry_strict, interests, token = parse(entry)
    if not id or redis.call('SISMEMBER', online, id) == 0 then
      stale[#stale + 1] = entry
    else
      local common = shared(interests)
      if (not best or #common > #best_common) and suits(entry_strict, common) and acceptable(id) then
        best, best_id, best_token, best_common = entry, id, token, common
        if #common == most then
          break -- nothing can share more
        end
      end
    end
  end
  index = index + #entries
end
-- Removed after the scan, so that the indexes above stayed valid during it.
for _, entry in ipairs(stale) do
  local id, _, _, token = parse(entry)
  dequeue(entry, id, token)
end
if best then
  dequeue(best, best_id, best_token)
  return take(best_id, best_token, best_common)
end

if ARGV[7] == '1' or strict then
  return nil
end

-- 2. A random acceptable online account. One that waits (its entries lay past
-- the scan limit) is taken only through one of its entries, by the rules of 1,
-- and that entry leaves the queue, since its MATCH request must then be
-- answered; one that does not wait must be available.
local function choose(id)
  local entries = redis.call('HVALS', queued .. id)
  if #entries == 0 then
    if redis.call('SISMEMBER', unavailable, id) == 1 then
      return nil
    end
    return take(id, '', {})
  end
  local pick, pick_token, pick_common
  for _, entry in ipairs(entries) do
    local _, entry_strict, interests, token = parse(entry)
    if entry_strict then
      local common = shared(interests)
      if (not pick or #common > #pick_common) and suits(entry_strict, common) then
        pick, pick_token, pick_common = entry, token, common
      end
    end
  end
  if not pick then
    return nil
  end
  dequeue(pick, id, pick_token)
  return take(id, pick_token, pick_common)
end

for _, id in ipairs(redis.call('SRANDMEMBER', online, samples)) do
  if acceptable(id) then
    local chosen = choose(id)
    if chosen then
      return chosen
    end
  end
end
-- The picks can all miss when few online accounts are acceptable (most are full
-- or partners already); a small online set is then swept in full.
if redis.call('SCARD', online) <= limit then
  for _, id in ipairs(redis.call('SMEMBERS', online)) do
    if acceptable(id) then
      local chosen = choose(id)
      if chosen then
        return chosen
      end
    end
  end
end
return nil
