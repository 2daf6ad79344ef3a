-- take_due: remove and return the accounts whose grace ended. Reading and
-- removing in one script hands each account to exactly one caller.
-- KEYS[1] P grace              zset account -> deadline (epoch seconds)
-- ARGV[1] now (epoch seconds)
-- Returns the account ids, earliest deadline first.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for first = 1, #due, 1000 do
  redis.call('ZREM', KEYS[1], unpack(due, first, math.min(first + 999, #due)))
end
return due
