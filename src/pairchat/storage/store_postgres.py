"""The scaled durable store: PostgreSQL through a pool of asyncpg connections.

Each method runs on a pooled connection and commits before it returns, with the
server's synchronous commit (open() refuses a database where it is off), so a
returned append is durable. Many logic processes may share the database:
- msgIds come from the session row's `last_msg_id`, read and advanced while the
  row is locked, in the transaction that inserts the messages (numbered by
  `commit_plan.plan_commit`, as in the SQLite store); a concurrent writer of the
  same session waits for the lock, so ids stay gap-free. Rows are locked in
  session-id order so two batches never deadlock;
- requestIds are claimed through the primary key of `request_ids` (INSERT ...
  ON CONFLICT DO NOTHING): of two transactions storing the same one, the second
  finds the claim taken, rolls back and retries, and then returns the first
  transaction's message as a duplicate.
The schema is created and upgraded by `pairchat migrate`
(store_postgres_schema.py); open() only checks its version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from pairchat.errors import StartupError
from pairchat.storage.commit_plan import fold_acks, plan_commit
from pairchat.storage.records import (
    Account,
    Ack,
    NewMessage,
    PurgeReport,
    SessionRecord,
    Signal,
    Snapshot,
    StoredMessage,
)
from pairchat.storage.retention import chunk_of
from pairchat.storage.safety_postgres import PostgresSafety, purge_reports
from pairchat.storage.store_postgres_schema import (
    CONNECT_ERRORS,
    CONNECT_TIMEOUT,
    check_version,
    safe_url,
    server_settings,
    unavailable,
)

# A batch retries only when another process committed one of its requestIds
# between its look-up and its claim; the retry sees that claim, so a second
# retry needs yet another concurrent repeat of the same requestIds.
APPEND_ATTEMPTS = 5

_LOCK_SESSIONS = """
SELECT id, last_msg_id, closed_at IS NOT NULL FROM sessions WHERE id = ANY($1::bigint[])
ORDER BY id FOR NO KEY UPDATE
"""
# One primary-key probe per requestId of the batch: LIMIT keeps the planner from
# flattening the lateral subquery into a join, which it may then run as a scan
# of the whole (ever-growing) request_ids table.
_STORED_REQUESTS = """
SELECT k.sender_id, k.request_id, found.*
FROM unnest($1::bigint[], $2::text[]) AS k (sender_id, request_id)
CROSS JOIN LATERAL (
    SELECT r.session_id, r.msg_id, m.content, m.created_at
    FROM request_ids r
    JOIN messages m ON m.session_id = r.session_id AND m.msg_id = r.msg_id
    WHERE r.sender_id = k.sender_id AND r.request_id = k.request_id
    LIMIT 1
) AS found
"""
_MESSAGE_FIELDS = ("session_id", "msg_id", "sender_id", "content", "created_at")
# The writes of a batch in one statement (one round trip): claim the requestIds,
# advance the sessions' counters (rows already locked) and insert the messages.
# It returns how many claims succeeded; fewer than planned means another
# transaction holds one, and the caller rolls everything back. The claims are
# given in key order, in which INSERT ... SELECT FROM unnest() takes them.
# `sessions.id = ANY($5)` gives the planner an index condition on sessions:
# joined only to the unnest() it may scan the whole table.
_WRITE_BATCH = """
WITH claimed AS (
    INSERT INTO request_ids (sender_id, request_id, session_id, msg_id)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[])
    ON CONFLICT DO NOTHING
    RETURNING 1
), advanced AS (
    UPDATE sessions SET last_msg_id = n.last_msg_id
    FROM unnest($5::bigint[], $6::bigint[]) AS n (id, last_msg_id)
    WHERE sessions.id = n.id AND sessions.id = ANY($5::bigint[])
), inserted AS (
    INSERT INTO messages (session_id, msg_id, sender_id, content, created_at)
    SELECT * FROM unnest($7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::bigint[])
)
SELECT count(*) FROM claimed
"""
# Each member's mark rises to its highest ack, never lowering (one row per member,
# in key order: `fold_acks`).
_RAISE_ACKS = """
UPDATE members SET acked_msg_id = $3
WHERE session_id = $1 AND account_id = $2 AND acked_msg_id < $3
"""

# Retention: accounts logged out before the cutoff that no session or report
# refers to (a report keeps the accounts it names as evidence; in a dry run,
# none but those the purge deletes first); two NOT EXISTS rather than one OR, so
# that each probes its index.
_FREE_ACCOUNTS = """
SELECT id FROM accounts a WHERE logged_out_at < $1
AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.member_a = a.id {alive})
AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.member_b = a.id {alive})
AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.reporter_id = a.id {kept})
AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.reported_id = a.id {kept})
"""
_UNLESS_DUE = "AND (s.closed_at IS NULL OR s.closed_at >= $1)"
_UNLESS_RESOLVED = "AND (r.resolved_at IS NULL OR r.resolved_at >= $1)"
# SKIP LOCKED: rows another purge holds are its chunk, not this one's.
_DUE_SESSIONS = """
SELECT id, member_a, member_b, last_msg_id FROM sessions WHERE closed_at < $1
ORDER BY closed_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
"""
# A session's rows that are keyed by member first, probed through their keys.
_DELETE_BY_MEMBER = """
DELETE FROM {table} t USING unnest($1::bigint[], $2::bigint[]) AS k (member, session_id)
WHERE t.{member} = k.member AND t.session_id = k.session_id
"""


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release. asyncpg still rolls back an unfinished
    transaction; its default reset also sends RESET ALL, UNLISTEN, CLOSE ALL and
    unlocks advisory locks, one more round trip per call for state this store
    never creates (it sets nothing: search_path is a startup parameter)."""


class RefusedSetting(StartupError):
    """The database is set up in a way that would break a guarantee."""


class _RequestIdTaken(Exception):
    """A requestId of the batch was committed by another transaction after this
    one looked it up: roll back and plan the batch again."""


class PostgresStore:
    """`Store` on a PostgreSQL schema (see the module docstring for concurrency).

    Args:
        url: a `postgresql://` URL; its password never appears in errors.
        schema: the schema holding the tables, as given to `pairchat migrate`.
        pool_min, pool_max: connections kept open / opened at most.
        command_timeout: seconds before a statement is abandoned (None: never).
    """

    def __init__(
        self,
        url: str,
        schema: str = "public",
        pool_min: int = 2,
        pool_max: int = 10,
        command_timeout: float | None = 30.0,
    ) -> None:
        if not 1 <= pool_min <= pool_max:
            raise ValueError(f"need 1 <= pool_min <= pool_max, got {pool_min}, {pool_max}")
        self.url = url
        self.schema = schema
        self._pool_min = pool_min
        self._pool_max = pool_max
        self._command_timeout = command_timeout
        self._pool: Any = None
        self.safety = PostgresSafety(self._opened)

    # --- lifecycle ---
    async def open(self) -> None:
        """Connect and check the schema; never migrates.

        Raises:
            StoreUnavailable: PostgreSQL cannot be reached or refuses the connection.
            SchemaVersionError: the schema is older or newer than this pairchat.
            RefusedSetting: synchronous_commit is off.
        """
        try:
            # min_size >= 1 makes create_pool connect now, so errors surface here.
            pool = await asyncpg.create_pool(
                self.url,
                min_size=self._pool_min,
                max_size=self._pool_max,
                timeout=CONNECT_TIMEOUT,
                command_timeout=self._command_timeout,
                server_settings=server_settings(self.url, self.schema),
                reset=_keep_session,
            )
        except CONNECT_ERRORS as exc:
            raise unavailable(self.url, exc) from exc
        try:
            async with pool.acquire() as conn:
                await check_version(conn, self.url, self.schema)
                if await conn.fetchval("SELECT current_setting('synchronous_commit')") == "off":
                    raise RefusedSetting(
                        f"synchronous_commit is off at {safe_url(self.url)}: pairchat answers "
                        "a message only once it is durable; turn it on for pairchat's role "
                        "(ALTER ROLE ... SET synchronous_commit = on)"
                    )
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _opened(self) -> Any:
        if self._pool is None:
            raise RuntimeError("PostgresStore is not open")
        return self._pool

    # --- accounts and sessions ---
    async def snapshot(self) -> Snapshot:
        # One repeatable-read transaction: no session refers to an account the
        # snapshot missed because it was created between the two reads.
        async with (
            self._opened().acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            accounts = await conn.fetch(
                "SELECT id, nick, token_hash FROM accounts WHERE logged_out_at IS NULL ORDER BY id"
            )
            sessions = await conn.fetch(
                "SELECT id, member_a, member_b FROM sessions WHERE closed_at IS NULL ORDER BY id"
            )
        return Snapshot(
            [Account(r[0], r[1], bytes(r[2]), False) for r in accounts],
            [SessionRecord(r[0], (r[1], r[2])) for r in sessions],
        )

    async def create_account(self, nick: str, token_hash: bytes, now_ms: int) -> int:
        return int(
            await self._opened().fetchval(
                "INSERT INTO accounts (nick, token_hash, created_at) VALUES ($1, $2, $3) "
                "RETURNING id",
                nick,
                token_hash,
                now_ms,
            )
        )

    async def get_account(self, account_id: int) -> Account | None:
        row = await self._opened().fetchrow(
            "SELECT nick, token_hash, logged_out_at FROM accounts WHERE id = $1", account_id
        )
        return (
            None if row is None else Account(account_id, row[0], bytes(row[1]), row[2] is not None)
        )

    async def logout_account(self, account_id: int, now_ms: int) -> None:
        await self._opened().execute(
            "UPDATE accounts SET logged_out_at = $2 WHERE id = $1 AND logged_out_at IS NULL",
            account_id,
            now_ms,
        )

    async def create_session(
        self, a: int, b: int, now_ms: int, announce: dict[str, Any] | None = None
    ) -> int:
        # One statement, hence one implicit transaction: the session, its two
        # members and (with `announce`) the NewSession signal appear together.
        return int(
            await self._opened().fetchval(
                "WITH s AS (INSERT INTO sessions (member_a, member_b, created_at) "
                "VALUES ($1, $2, $3) RETURNING id), "
                "m AS (INSERT INTO members (session_id, account_id) "
                "SELECT s.id, m FROM s, unnest(ARRAY[$1, $2]::bigint[]) AS m), "
                "n AS (INSERT INTO signals (receiver_id, session_id, signal_type, sender_id, data) "
                "SELECT $2, s.id, 'NewSession', $1, $4::jsonb FROM s WHERE $4::jsonb IS NOT NULL "
                "ON CONFLICT (receiver_id, session_id, signal_type) "
                "DO UPDATE SET sender_id = EXCLUDED.sender_id, data = EXCLUDED.data) "
                "SELECT id FROM s",
                a,
                b,
                now_ms,
                None if announce is None else json.dumps(announce),
            )
        )

    async def get_session(self, session_id: int) -> SessionRecord | None:
        row = await self._opened().fetchrow(
            "SELECT member_a, member_b, closed_at FROM sessions WHERE id = $1", session_id
        )
        return (
            None if row is None else SessionRecord(session_id, (row[0], row[1]), row[2] is not None)
        )

    async def last_msg_id(self, session_id: int) -> int:
        last = await self._opened().fetchval(
            "SELECT last_msg_id FROM sessions WHERE id = $1", session_id
        )
        return 0 if last is None else int(last)

    async def close_session(self, session_id: int, closed_by: int, now_ms: int) -> bool:
        closed = await self._opened().fetchval(
            "UPDATE sessions SET closed_at = $2, closed_by = $3 "
            "WHERE id = $1 AND closed_at IS NULL RETURNING id",
            session_id,
            now_ms,
            closed_by,
        )
        return closed is not None

    # --- messages ---
    async def append_messages(
        self,
        batch: Sequence[NewMessage],
        now_ms: int,
        acks: Sequence[Ack] = (),
    ) -> list[StoredMessage]:
        """See `Store.append_messages`: one transaction, tried again when another
        process claimed one of the batch's requestIds meanwhile."""
        if not batch and not acks:
            return []
        pool = self._opened()
        for _ in range(APPEND_ATTEMPTS):
            try:
                async with pool.acquire() as conn, conn.transaction():
                    stored = await _append(conn, batch, now_ms) if batch else []
                    if acks:
                        await conn.executemany(_RAISE_ACKS, fold_acks(acks))
                    return stored
            except _RequestIdTaken:
                continue
        raise RuntimeError(
            f"requestIds of a batch kept being stored concurrently; gave up after "
            f"{APPEND_ATTEMPTS} attempts"
        )

    async def history(self, session_id: int, after_msg_id: int, limit: int) -> list[StoredMessage]:
        rows = await self._opened().fetch(
            "SELECT msg_id, sender_id, content, created_at FROM messages "
            "WHERE session_id = $1 AND msg_id > $2 ORDER BY msg_id LIMIT $3",
            session_id,
            after_msg_id,
            limit,
        )
        return [StoredMessage(session_id, r[0], r[1], r[2], r[3]) for r in rows]

    async def unacked(
        self, session_id: int, account_id: int, after_msg_id: int = 0, limit: int = 0
    ) -> list[StoredMessage]:
        rows = await self._opened().fetch(
            "SELECT m.msg_id, m.sender_id, m.content, m.created_at FROM messages m "
            "JOIN members k ON k.session_id = m.session_id AND k.account_id = $2 "
            "WHERE m.session_id = $1 AND m.msg_id > greatest(k.acked_msg_id, $3) "
            "AND m.sender_id <> $2 ORDER BY m.msg_id LIMIT $4",
            session_id,
            account_id,
            after_msg_id,
            limit or None,
        )
        return [StoredMessage(session_id, r[0], r[1], r[2], r[3]) for r in rows]

    async def backlog(self, session_id: int, account_id: int) -> tuple[int, int]:
        row = await self._opened().fetchrow(
            "SELECT k.acked_msg_id, (SELECT count(*) FROM messages m "
            "WHERE m.session_id = k.session_id AND m.msg_id > k.acked_msg_id "
            "AND m.sender_id <> k.account_id) "
            "FROM members k WHERE k.session_id = $1 AND k.account_id = $2",
            session_id,
            account_id,
        )
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    # --- signals ---
    async def put_signals(self, signals: Sequence[Signal]) -> None:
        # The last of a key wins, as if stored one after the other; keys in
        # order so concurrent writers of the same keys never deadlock.
        latest = {(s.receiver_id, s.session_id, s.signal_type): s for s in signals}
        if not latest:
            return
        async with self._opened().acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO signals (receiver_id, session_id, signal_type, sender_id, data) "
                "VALUES ($1, $2, $3, $4, $5::jsonb) "
                "ON CONFLICT (receiver_id, session_id, signal_type) "
                "DO UPDATE SET sender_id = EXCLUDED.sender_id, data = EXCLUDED.data",
                [(*key, s.sender_id, json.dumps(s.data)) for key, s in sorted(latest.items())],
            )

    async def ack_signal(self, receiver_id: int, session_id: int, signal_type: str) -> None:
        await self._opened().execute(
            "DELETE FROM signals WHERE receiver_id = $1 AND session_id = $2 AND signal_type = $3",
            receiver_id,
            session_id,
            signal_type,
        )

    async def pending_signals(self, receiver_id: int) -> list[Signal]:
        rows = await self._opened().fetch(
            "SELECT session_id, signal_type, sender_id, data FROM signals "
            "WHERE receiver_id = $1 ORDER BY session_id, signal_type",
            receiver_id,
        )
        return [Signal(receiver_id, r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # --- retention ---
    async def purge(self, older_than_ms: int, limit: int, dry_run: bool = False) -> PurgeReport:
        pool = self._opened()
        if dry_run:
            async with (
                pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                sessions, messages = await conn.fetchrow(
                    "SELECT count(*), coalesce(sum(last_msg_id), 0) FROM sessions "
                    "WHERE closed_at < $1",
                    older_than_ms,
                )
                accounts = await conn.fetchval(
                    "SELECT count(*) FROM "
                    f"({_FREE_ACCOUNTS.format(alive=_UNLESS_DUE, kept=_UNLESS_RESOLVED)}) f",
                    older_than_ms,
                )
                reports = await purge_reports(conn, older_than_ms, limit, True)
            return PurgeReport(int(sessions), int(messages), int(accounts), reports)
        if limit < 1:
            raise ValueError(f"purge limit must be at least 1, got {limit}")
        async with pool.acquire() as conn, conn.transaction():
            chunk = chunk_of(
                [
                    (r[0], r[1], r[2], r[3])
                    for r in await conn.fetch(_DUE_SESSIONS, older_than_ms, limit)
                ],
                limit,
            )
            ids = [c[0] for c in chunk]
            members = [m for c in chunk for m in (c[1], c[2])]
            pairs = [c[0] for c in chunk for _ in (0, 1)]
            for table, member in (("request_ids", "sender_id"), ("signals", "receiver_id")):
                await conn.execute(
                    _DELETE_BY_MEMBER.format(table=table, member=member), members, pairs
                )
            deleted = await conn.execute(
                "DELETE FROM messages WHERE session_id = ANY($1::bigint[])", ids
            )
            await conn.execute("DELETE FROM members WHERE session_id = ANY($1::bigint[])", ids)
            await conn.execute("DELETE FROM sessions WHERE id = ANY($1::bigint[])", ids)
            reports = await purge_reports(conn, older_than_ms, limit, False)
            accounts = await conn.execute(
                "DELETE FROM accounts WHERE id IN "
                f"({_FREE_ACCOUNTS.format(alive='', kept='')} ORDER BY logged_out_at LIMIT $2 "
                "FOR UPDATE SKIP LOCKED)",
                older_than_ms,
                limit,
            )
        return PurgeReport(len(chunk), _row_count(deleted), _row_count(accounts), reports)


def _row_count(status: str) -> int:
    """The row count of a command's status, such as "DELETE 12"."""
    return int(status.rsplit(" ", 1)[1])


# --- one group commit ---
async def _append(conn: Any, batch: Sequence[NewMessage], now_ms: int) -> list[StoredMessage]:
    """One group commit inside the caller's transaction (see the module docstring).

    Raises:
        LookupError: a session of the batch does not exist.
        _RequestIdTaken: another transaction claimed a requestId of the batch
            after it was looked up.
    """
    session_ids = sorted({m.session_id for m in batch})
    rows = await conn.fetch(_LOCK_SESSIONS, session_ids)
    last_msg_ids = {r[0]: r[1] for r in rows}
    closed = {r[0] for r in rows if r[2]}
    # Looked up after the locks: a repeat that committed to one of these
    # sessions while this batch waited is seen here, not as a lost claim.
    keys = sorted({(m.sender_id, m.request_id) for m in batch if m.request_id is not None})
    stored: dict[tuple[int, str], StoredMessage] = {}
    if keys:
        for r in await conn.fetch(_STORED_REQUESTS, [k[0] for k in keys], [k[1] for k in keys]):
            stored[(r[0], r[1])] = StoredMessage(r[2], r[3], r[0], r[4], r[5], duplicate=True)
    plan = plan_commit(batch, now_ms, last_msg_ids, stored, closed)
    if not plan.new:
        return plan.results
    claims = [[c[i] for c in plan.claims] for i in range(4)]
    messages = [[getattr(m, f) for m in plan.new] for f in _MESSAGE_FIELDS]
    claimed = await conn.fetchval(
        _WRITE_BATCH,
        *claims,
        list(plan.last_msg_ids),
        list(plan.last_msg_ids.values()),
        *messages,
    )
    if claimed != len(plan.claims):
        raise _RequestIdTaken
    return plan.results
