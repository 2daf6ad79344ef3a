"""Integration tests: real `pairchat up` systems driven over the wire protocol.

Run with `.venv/bin/python -m pytest tests/integration -q`. Every wait derives
from `harness.TIMEOUT` (env PAIRCHAT_TEST_TIMEOUT on a slow machine). Shared
scenarios run against one broker and against two; modules with special flags
(short grace, short match wait, tiny rate limit, restarts) start their own.
"""
