-- routed_to: every account routed to one broker, with its route.
-- KEYS[1] P route              hash account -> "broker_id|conn_id"
-- KEYS[2] P on:<broker_id>     set of the accounts routed to that broker
-- Returns a flat list: account, route, account, route, ...
local ids = redis.call('SMEMBERS', KEYS[2])
local out = {}
-- HMGET in slices: unpack() of tens of thousands of values overflows Lua's stack
for first = 1, #ids, 1000 do
  local last = math.min(first + 999, #ids)
  local routes = redis.call('HMGET', KEYS[1], unpack(ids, first, last))
  for i, route in ipairs(routes) do
    if route then
      out[#out + 1] = ids[first + i - 1]
      out[#out + 1] = route
    end
  end
end
return out
