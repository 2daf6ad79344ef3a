-- pairchat's durable store on PostgreSQL, version 1: the tables of the embedded
-- SQLite store (storage/store_sqlite*.py) with PostgreSQL types. Ids are identities,
-- so they are never reused; times are bigint milliseconds since the epoch, as in
-- SQLite, so both stores hand the same values to logic. Applied by
-- `pairchat migrate` inside one transaction, with search_path set to the target
-- schema (no name here is schema-qualified).

CREATE TABLE accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    nick          text   NOT NULL,
    token_hash    bytea  NOT NULL,
    created_at    bigint NOT NULL,
    logged_out_at bigint
);
-- snapshot() loads the accounts still logged in; most accounts end logged out.
CREATE INDEX accounts_logged_in ON accounts (id) WHERE logged_out_at IS NULL;

CREATE TABLE sessions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_a    bigint NOT NULL REFERENCES accounts (id),
    member_b    bigint NOT NULL REFERENCES accounts (id),
    created_at  bigint NOT NULL,
    closed_at   bigint,
    closed_by   bigint,
    -- The msgId counter: append_messages locks this row and advances it in the
    -- transaction that inserts the messages. It must stay out of every index
    -- (and index predicate) so those updates remain HOT.
    last_msg_id bigint NOT NULL DEFAULT 0
);
-- snapshot() loads the open sessions; most sessions end closed.
CREATE INDEX sessions_open ON sessions (id) WHERE closed_at IS NULL;

CREATE TABLE members (
    session_id   bigint NOT NULL REFERENCES sessions (id),
    account_id   bigint NOT NULL REFERENCES accounts (id),
    acked_msg_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, account_id)
);

-- The hottest table. No foreign keys on purpose: append_messages has already
-- locked the session row in the same transaction (which proves it exists), and
-- a per-row foreign-key trigger would cost a large share of the insert rate.
CREATE TABLE messages (
    session_id bigint NOT NULL,
    msg_id     bigint NOT NULL CHECK (msg_id > 0),
    sender_id  bigint NOT NULL,
    content    text   NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (session_id, msg_id)
);

-- One row per (sender, requestId) ever stored: the key of DIALOGUE's
-- idempotency. Writers claim a key with INSERT ... ON CONFLICT DO NOTHING, so
-- two processes storing the same requestId at once cannot both succeed.
CREATE TABLE request_ids (
    sender_id  bigint NOT NULL,
    request_id text   NOT NULL,
    session_id bigint NOT NULL,
    msg_id     bigint NOT NULL,
    PRIMARY KEY (sender_id, request_id)
);

-- Signals kept until acknowledged; a newer one of the same key replaces the older.
CREATE TABLE signals (
    receiver_id bigint NOT NULL,
    session_id  bigint NOT NULL,
    signal_type text   NOT NULL,
    sender_id   bigint NOT NULL,
    data        jsonb  NOT NULL DEFAULT '{}',
    PRIMARY KEY (receiver_id, session_id, signal_type)
);
