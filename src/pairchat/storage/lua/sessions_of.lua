-- sessions_of: an account's open sessions, read in one consistent step.
-- KEYS[1] P session            hash session id -> "a,b"
-- KEYS[2] P open:<account>     set of its open session ids
-- Returns a flat list: session id, "a,b", session id, "a,b", ...
local ids = redis.call('SMEMBERS', KEYS[2])
if #ids == 0 then
  return {}
end
local members = redis.call('HMGET', KEYS[1], unpack(ids))
local out = {}
for i, id in ipairs(ids) do
  if members[i] then
    out[#out + 1] = id
    out[#out + 1] = members[i]
  end
end
return out
