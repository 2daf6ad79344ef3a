-- lease_release: give up a lease, only if the caller holds it.
-- KEYS[1] P lease:<name>  string  the holder (expires: PX ttl)
-- ARGV[1] the holder
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
