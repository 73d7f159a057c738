-- Backroom schema 1. Money is integer minor units; quantities are integers in the item's base unit.

CREATE TABLE items (
    sku          TEXT PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) > 0),
    unit         TEXT NOT NULL CHECK (unit IN ('each', 'g', 'ml')),
    -- per each; per kilogram for unit 'g'; per litre for unit 'ml'
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    tax_rate_bp  INTEGER NOT NULL DEFAULT 0 CHECK (tax_rate_bp >= 0),
    department   TEXT NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Every barcode belongs to exactly one item. GTINs are stored as 14 digits.
CREATE TABLE barcodes (
    code      TEXT PRIMARY KEY,
    sku       TEXT NOT NULL REFERENCES items (sku),
    pack_qty  INTEGER NOT NULL DEFAULT 1 CHECK (pack_qty > 0)
);
CREATE INDEX barcodes_sku ON barcodes (sku);

-- Audit trail: item and price changes are rows, never silent updates.
CREATE TABLE item_changes (
    id      INTEGER PRIMARY KEY,
    sku     TEXT NOT NULL,
    field   TEXT NOT NULL,
    old     TEXT,
    new     TEXT,
    actor   TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX item_changes_sku ON item_changes (sku, id);

CREATE TABLE locations (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL
);
INSERT INTO locations (id, name) VALUES ('floor', 'Sales floor'), ('backroom', 'Backroom');

-- The stock ledger: append-only.
CREATE TABLE stock_moves (
    id        INTEGER PRIMARY KEY,
    sku       TEXT NOT NULL REFERENCES items (sku),
    location  TEXT NOT NULL REFERENCES locations (id),
    qty       INTEGER NOT NULL CHECK (qty <> 0),
    kind      TEXT NOT NULL,
    reason    TEXT NOT NULL DEFAULT '',
    doc_type  TEXT NOT NULL DEFAULT '',
    doc_id    TEXT NOT NULL DEFAULT '',
    actor     TEXT NOT NULL,
    device    TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL
);
CREATE INDEX stock_moves_item ON stock_moves (sku, location, id);

-- Projection of stock_moves. A trigger keeps it in the same transaction as each move, so no
-- writer can append a move and forget the projection.
CREATE TABLE stock_levels (
    sku           TEXT NOT NULL REFERENCES items (sku),
    location      TEXT NOT NULL REFERENCES locations (id),
    on_hand       INTEGER NOT NULL DEFAULT 0,
    reserved      INTEGER NOT NULL DEFAULT 0,
    last_move_id  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sku, location)
);

CREATE TRIGGER stock_moves_project AFTER INSERT ON stock_moves
BEGIN
    INSERT INTO stock_levels (sku, location, on_hand, last_move_id)
    VALUES (NEW.sku, NEW.location, NEW.qty, NEW.id)
    ON CONFLICT (sku, location) DO UPDATE SET on_hand = on_hand + NEW.qty, last_move_id = NEW.id;
END;

-- The ledger is append-only: history is never rewritten.
CREATE TRIGGER stock_moves_no_update BEFORE UPDATE ON stock_moves
BEGIN
    SELECT RAISE(ABORT, 'stock moves are append-only: post a correcting move instead');
END;
CREATE TRIGGER stock_moves_no_delete BEFORE DELETE ON stock_moves
BEGIN
    SELECT RAISE(ABORT, 'stock moves are append-only: post a correcting move instead');
END;

CREATE TABLE registers (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL
);

CREATE TABLE sales (
    id              TEXT PRIMARY KEY,
    number          INTEGER NOT NULL UNIQUE,
    register_id     TEXT NOT NULL REFERENCES registers (id),
    actor           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    total_minor     INTEGER NOT NULL,
    tax_minor       INTEGER NOT NULL,
    tendered_minor  INTEGER NOT NULL,
    change_minor    INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response        TEXT NOT NULL
);

CREATE TABLE sale_lines (
    sale_id           TEXT NOT NULL REFERENCES sales (id),
    line_no           INTEGER NOT NULL,
    sku               TEXT NOT NULL REFERENCES items (sku),
    name              TEXT NOT NULL,
    unit              TEXT NOT NULL,
    qty               INTEGER NOT NULL,
    unit_price_minor  INTEGER NOT NULL,
    total_minor       INTEGER NOT NULL,
    tax_rate_bp       INTEGER NOT NULL,
    tax_minor         INTEGER NOT NULL,
    PRIMARY KEY (sale_id, line_no)
);

-- Tenders carry a kind, an amount and an external reference; never card data.
CREATE TABLE sale_tenders (
    sale_id       TEXT NOT NULL REFERENCES sales (id),
    line_no       INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL,
    reference     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (sale_id, line_no)
);

-- Outbox: written in the same transaction as the domain change. AUTOINCREMENT keeps seq
-- gapless (a rolled-back transaction rolls back sqlite_sequence too) and never reused after pruning.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    v            INTEGER NOT NULL,
    data         TEXT NOT NULL
);

CREATE TABLE sync_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    acked_seq        INTEGER NOT NULL DEFAULT 0,
    last_success_at  TEXT,
    last_error       TEXT,
    last_error_at    TEXT
);
INSERT INTO sync_state (id) VALUES (1);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    model         TEXT NOT NULL DEFAULT '',
    manufacturer  TEXT NOT NULL DEFAULT '',
    sw_version    TEXT NOT NULL DEFAULT '',
    connection    TEXT NOT NULL DEFAULT '',
    capabilities  TEXT NOT NULL DEFAULT '[]',
    register_id   TEXT REFERENCES registers (id),
    online        INTEGER NOT NULL DEFAULT 0,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL
);

CREATE TABLE print_jobs (
    job_id       TEXT PRIMARY KEY,
    sale_id      TEXT REFERENCES sales (id),
    device_id    TEXT NOT NULL,
    register_id  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'printed', 'failed')),
    error        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    finished_at  TEXT
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE users (
    username       TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    disabled_at    TEXT
);

-- Who changed which person, when: never the password itself, only that it changed.
CREATE TABLE user_changes (
    id        INTEGER PRIMARY KEY,
    username  TEXT NOT NULL,
    field     TEXT NOT NULL,
    old       TEXT,
    new       TEXT,
    actor     TEXT NOT NULL,
    at        TEXT NOT NULL
);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
