-- Paired tablets, people's PINs, manager approvals, shifts and their Z reports (issue 7 §1).
-- Codes, tokens and PINs are stored only as hashes.

-- A pairing code the owner shows on the status page; single use, short-lived.
CREATE TABLE pairing_codes (
    id          TEXT PRIMARY KEY,
    code_hash   TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,           -- paired, or cancelled by a newer code or too many wrong guesses
    tablet_id   TEXT
);

-- Wrong codes typed anywhere: past a limit every open code is cancelled.
CREATE TABLE pairing_failures (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    remote  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE tablets (
    id           TEXT PRIMARY KEY,
    register_id  TEXT NOT NULL REFERENCES registers (id),
    token_hash   TEXT NOT NULL UNIQUE,
    paired_at    TEXT NOT NULL,
    paired_by    TEXT NOT NULL,   -- who made the code
    user_agent   TEXT NOT NULL DEFAULT '',
    last_seen    TEXT,
    unpaired_at  TEXT,
    unpaired_by  TEXT,
    session_id   TEXT             -- the PIN session now signed in here; a copy of an older one is void
);
-- One paired tablet per register at a time.
CREATE UNIQUE INDEX tablets_live ON tablets (register_id) WHERE unpaired_at IS NULL;

CREATE TABLE person_pins (
    username      TEXT PRIMARY KEY REFERENCES users (username),
    pin_hash      TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,  -- wrong PINs in a row
    locked_until  TEXT,
    set_at        TEXT NOT NULL,
    set_by        TEXT NOT NULL
);

-- Every PIN try that failed (and each that worked): the audit trail and the rate limit's memory.
CREATE TABLE pin_attempts (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    place     TEXT NOT NULL,   -- tablet:<id> or register:<id>
    username  TEXT NOT NULL,
    purpose   TEXT NOT NULL CHECK (purpose IN ('signin', 'approval')),
    ok        INTEGER NOT NULL CHECK (ok IN (0, 1)),
    reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pin_attempts_place ON pin_attempts (place, at);

-- A manager's yes, bound to one action and its details, used once.
CREATE TABLE approvals (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    register_id   TEXT NOT NULL,
    action        TEXT NOT NULL,
    details       TEXT NOT NULL,   -- canonical JSON
    approver      TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    used_by       TEXT
);

CREATE TABLE shifts (
    id              TEXT PRIMARY KEY,
    number          INTEGER NOT NULL UNIQUE,
    register_id     TEXT NOT NULL REFERENCES registers (id),
    opened_at       TEXT NOT NULL,
    opened_by       TEXT NOT NULL,
    float_minor     INTEGER NOT NULL CHECK (float_minor >= 0),
    closed_at       TEXT,
    closed_by       TEXT,
    counted_minor   INTEGER,
    counted_detail  TEXT
);
CREATE UNIQUE INDEX shifts_one_open ON shifts (register_id) WHERE closed_at IS NULL;

-- A sale or return made while its register has an open shift belongs to that shift. A trigger,
-- so every writer of sales (the till, replays of offline sales, exchanges) is covered alike.
ALTER TABLE sales ADD COLUMN shift_id TEXT REFERENCES shifts (id);
ALTER TABLE returns ADD COLUMN shift_id TEXT REFERENCES shifts (id);
CREATE INDEX sales_shift ON sales (shift_id) WHERE shift_id IS NOT NULL;
CREATE INDEX returns_shift ON returns (shift_id) WHERE shift_id IS NOT NULL;

CREATE TRIGGER sales_in_shift AFTER INSERT ON sales WHEN NEW.shift_id IS NULL
BEGIN
    UPDATE sales SET shift_id = (SELECT id FROM shifts WHERE register_id = NEW.register_id AND closed_at IS NULL)
    WHERE id = NEW.id;
END;
CREATE TRIGGER returns_in_shift AFTER INSERT ON returns WHEN NEW.shift_id IS NULL
BEGIN
    UPDATE returns SET shift_id = (SELECT id FROM shifts WHERE register_id = NEW.register_id AND closed_at IS NULL)
    WHERE id = NEW.id;
END;

-- The Z report written when a shift closes: kept as it was printed, never changed.
CREATE TABLE z_reports (
    shift_id    TEXT PRIMARY KEY REFERENCES shifts (id),
    report      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TRIGGER z_reports_no_update BEFORE UPDATE ON z_reports
BEGIN
    SELECT RAISE(ABORT, 'a Z report is kept as it was closed');
END;
CREATE TRIGGER z_reports_no_delete BEFORE DELETE ON z_reports
BEGIN
    SELECT RAISE(ABORT, 'a Z report is kept as it was closed');
END;
