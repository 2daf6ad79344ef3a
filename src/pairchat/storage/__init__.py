"""Storage and routing backends behind small typed interfaces.

Each interface is a file of its own, each implementation a file named
`<interface>_<backend>.py`:
- `Store` (store.py, its records in records.py): durable state, on SQLite
  (store_sqlite*.py) or PostgreSQL (store_postgres*.py); both number a group
  commit with the one planner of commit_plan.py;
- `Routing` and its role-sized parts (routing.py), `Timers` (timers.py),
  `Brokers` (brokers.py), `Inbox` and its entries (inbox.py), `Limits`
  (limits.py, rate-limit windows): shared state, in
  memory (`*_memory.py`) or on Redis (`*_redis*.py`; the connection in redis.py,
  the key schema in redis_keys.py, the scripts in lua/);
- backends.py chooses a process's backends from its flags.
Nothing here imports the roles above it: only pairchat.errors, pairchat.obs and
pairchat.config.
"""
