-- Inbound item and price changes pulled from the back office (docs/sync-protocol.md section 6).
-- The cursor and the log of applied change ids are written in the same transaction as the
-- changes of a page, so a crash never skips or repeats a change.
CREATE TABLE inbound_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    cursor           TEXT NOT NULL DEFAULT '',   -- next_cursor of the last page applied; opaque
    pages            INTEGER NOT NULL DEFAULT 0,
    last_pull_at     TEXT,                       -- the last request, answered or not
    last_success_at  TEXT,                       -- the last pull that reached the end of the feed
    last_error       TEXT,
    last_error_at    TEXT
);
INSERT INTO inbound_state (id) VALUES (1);

-- One row per change id the hub has taken: what it did with it and why (the inbound log).
CREATE TABLE inbound_changes (
    id         INTEGER PRIMARY KEY,
    change_id  TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    sku        TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL CHECK (outcome IN ('applied', 'scheduled', 'ignored', 'refused')),
    detail     TEXT NOT NULL DEFAULT '',
    cursor     TEXT NOT NULL,                    -- the cursor its page was fetched with
    at         TEXT NOT NULL
);
CREATE INDEX inbound_changes_outcome ON inbound_changes (outcome, id);

-- A local edit to a back-office field, while pulling is on, waits as 'sent_to_back_office' until
-- the back office sends a change for that field. SQLite cannot alter a CHECK: rebuild the table
-- (nothing references it by foreign key).
CREATE TABLE change_requests_new (
    id             INTEGER PRIMARY KEY,
    sku            TEXT NOT NULL REFERENCES items (sku),
    changes        TEXT NOT NULL,          -- JSON {field: {"old": ..., "new": ...}}
    reason         TEXT NOT NULL DEFAULT '',
    effective_at   TEXT,                   -- NULL: as soon as approved
    status         TEXT NOT NULL CHECK (status IN ('pending', 'scheduled', 'applied', 'rejected', 'cancelled',
                                                   'failed', 'sent_to_back_office')),
    requested_by   TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    decided_by     TEXT,
    decided_at     TEXT,
    note           TEXT NOT NULL DEFAULT '',
    applied_at     TEXT
);
INSERT INTO change_requests_new (id, sku, changes, reason, effective_at, status, requested_by, requested_at,
                                 decided_by, decided_at, note, applied_at)
    SELECT id, sku, changes, reason, effective_at, status, requested_by, requested_at,
           decided_by, decided_at, note, applied_at FROM change_requests;
DROP TABLE change_requests;
ALTER TABLE change_requests_new RENAME TO change_requests;
CREATE INDEX change_requests_open ON change_requests (status, effective_at);
CREATE INDEX change_requests_sku ON change_requests (sku, id);
