-- limit_hit: count one event in a key's window; the first event opens the
-- window. One script, so that no key is ever left counting without an expiry.
-- KEYS[1] P limit:<key>          string  events in the window
-- ARGV[1] window (milliseconds)
-- Returns {events, milliseconds until the window ends}.
local events = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if events == 1 or left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {events, left}
