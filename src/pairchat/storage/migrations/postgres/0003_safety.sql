-- Version 3: moderation (storage/safety.py, safety_postgres.py), the tables of
-- the SQLite store's version 2 (safety_sqlite_ops.py) with PostgreSQL types.

-- A report names existing accounts (retention keeps them while it stays) but not
-- its session, which retention may delete: the evidence is a copy of the
-- session's last messages, and goes only with its report.
CREATE TABLE reports (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at      bigint NOT NULL,
    reporter_id     bigint NOT NULL REFERENCES accounts (id),
    reported_id     bigint NOT NULL REFERENCES accounts (id),
    session_id      bigint NOT NULL,
    reason          text   NOT NULL,
    note            text,
    status          text   NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'resolved', 'dismissed')),
    resolved_at     bigint,
    resolution_note text,
    CHECK ((status = 'open') = (resolved_at IS NULL)),
    -- one report per reporter and session: reporting again changes nothing
    UNIQUE (reporter_id, session_id)
);
-- distinct_reporters(), and the foreign key's check when an account is deleted
CREATE INDEX reports_reported ON reports (reported_id, created_at);
-- the moderators' lists, newest first
CREATE INDEX reports_status ON reports (status, id);
-- retention: the decided reports, oldest decision first
CREATE INDEX reports_resolved ON reports (resolved_at) WHERE resolved_at IS NOT NULL;

CREATE TABLE report_evidence (
    report_id  bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    msg_id     bigint NOT NULL,
    sender_id  bigint NOT NULL,
    content    text   NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (report_id, msg_id)
);

-- A blocked pair once, lower id first. No foreign keys: blocks and bans outlive
-- the accounts retention deletes.
CREATE TABLE blocks (
    low        bigint NOT NULL,
    high       bigint NOT NULL CHECK (low < high),
    created_at bigint NOT NULL,
    PRIMARY KEY (low, high)
);
CREATE INDEX blocks_high ON blocks (high);

CREATE TABLE bans (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text   NOT NULL CHECK (kind IN ('ban', 'suspension')),
    account_id bigint,
    network    text,  -- normalized CIDR text (safety.normalize_network)
    reason     text   NOT NULL,
    ends_at    bigint,  -- NULL: for good
    created_at bigint NOT NULL,
    lifted_at  bigint,
    CHECK ((account_id IS NULL) <> (network IS NULL))
);
-- every process polls the active bans
CREATE INDEX bans_unlifted ON bans (id) WHERE lifted_at IS NULL;

CREATE TABLE audit (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     bigint NOT NULL,
    action text   NOT NULL,
    target text   NOT NULL,
    reason text
);

-- The accounts not available to other users' MATCH (the default is available).
CREATE TABLE unavailable (
    account_id bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE
);
