-- Version 2: the indexes of retention (PostgresStore.purge). It finds the ended
-- sessions and the logged-out accounts oldest first, and an account can go only
-- once no session or member row refers to it: those look-ups, and the foreign
-- keys' own checks when an account is deleted, probe these indexes instead of
-- scanning sessions and members. None covers last_msg_id, so the updates of
-- append_messages stay HOT.

CREATE INDEX sessions_closed ON sessions (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX sessions_member_a ON sessions (member_a);
CREATE INDEX sessions_member_b ON sessions (member_b);
CREATE INDEX members_account ON members (account_id);
CREATE INDEX accounts_logged_out ON accounts (logged_out_at) WHERE logged_out_at IS NOT NULL;
