-- Store-and-forward bookkeeping (docs/sync-protocol.md). The outbox rows themselves are never
-- rewritten: what the receiver holds above its contiguous acked_seq is a few ranges, not a flag
-- on a million rows (an SD card wears with every page rewritten).
CREATE TABLE outbox_received (
    lo  INTEGER PRIMARY KEY,
    hi  INTEGER NOT NULL CHECK (hi >= lo)
);

-- Events the hub is not sending now: 'rejected' by the receiver (the dead-letter list; the event
-- stays in the outbox until the owner replays it) or telemetry 'dropped' under disk pressure (the
-- event is gone). Each is announced to the receiver once as a set-aside marker.
CREATE TABLE outbox_set_aside (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('rejected', 'dropped')),
    detail     TEXT NOT NULL DEFAULT '',
    answer     TEXT NOT NULL DEFAULT '',
    at         TEXT NOT NULL,
    announced  INTEGER NOT NULL DEFAULT 0,
    replay     INTEGER NOT NULL DEFAULT 0,
    replay_by  TEXT,
    replay_at  TEXT
);

-- online | offline | degraded; offline until the first batch gets through
ALTER TABLE sync_state ADD COLUMN state TEXT NOT NULL DEFAULT 'offline';
ALTER TABLE sync_state ADD COLUMN state_since TEXT;
ALTER TABLE sync_state ADD COLUMN state_reason TEXT DEFAULT 'no batch has reached the cloud yet';
ALTER TABLE sync_state ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN quota_level INTEGER NOT NULL DEFAULT 0;
-- the outbox's size, counted up to usage_seq, so the quota check reads only rows added since
ALTER TABLE sync_state ADD COLUMN usage_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN usage_seq INTEGER NOT NULL DEFAULT 0;
