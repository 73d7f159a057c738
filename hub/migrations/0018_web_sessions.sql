-- Backroom schema 19: password sign-ins are kept on the hub, so signing out ends them everywhere.
-- A signed cookie alone cannot be taken back: a copy of it (another tab, a stolen cookie, an open
-- status stream) stayed signed in until it expired. Each password sign-in now names a row here
-- by the SHA-256 of its random id; /logout deletes it, a password change deletes all the person's,
-- and a request or stream whose row is gone is signed out. Rows older than the cookie's 12 hours
-- are pruned at the next sign-in.
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE INDEX web_sessions_username ON web_sessions (username);
