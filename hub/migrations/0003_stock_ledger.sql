-- Backroom schema 3: the stock ledger around the till. Locations with a kind, reason and
-- condition codes, negative-stock policy, returns and voids, receiving against purchase orders,
-- reservations, and rolling cycle counts.

ALTER TABLE locations ADD COLUMN kind TEXT NOT NULL DEFAULT 'custom'
    CHECK (kind IN ('floor', 'backroom', 'review', 'damaged', 'custom'));
ALTER TABLE locations ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
UPDATE locations SET kind = id WHERE id IN ('floor', 'backroom');
INSERT INTO locations (id, name, kind) VALUES ('review', 'Review bin', 'review'), ('damaged', 'Damaged', 'damaged');

-- Codes the owner may extend: why stock came back or was adjusted, and what state it came back in.
-- A condition names the location its stock goes to.
CREATE TABLE reason_codes (
    kind        TEXT NOT NULL CHECK (kind IN ('return', 'adjustment', 'condition')),
    code        TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 40),
    label       TEXT NOT NULL,
    location    TEXT REFERENCES locations (id),
    needs_note  INTEGER NOT NULL DEFAULT 0 CHECK (needs_note IN (0, 1)),
    builtin     INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    PRIMARY KEY (kind, code),
    CHECK ((kind = 'condition') = (location IS NOT NULL))
);
INSERT INTO reason_codes (kind, code, label, location, needs_note, builtin) VALUES
    ('return', 'defective', 'Defective', NULL, 0, 1),
    ('return', 'damaged', 'Damaged', NULL, 0, 1),
    ('return', 'wrong_item', 'Wrong item', NULL, 0, 1),
    ('return', 'wrong_size', 'Wrong size', NULL, 0, 1),
    ('return', 'changed_mind', 'Changed mind', NULL, 0, 1),
    ('return', 'other', 'Other (say why)', NULL, 1, 1),
    ('condition', 'resellable', 'Resellable', 'floor', 0, 1),
    ('condition', 'open_box', 'Open box', 'review', 0, 1),
    ('condition', 'damaged', 'Damaged', 'damaged', 0, 1),
    ('condition', 'defective', 'Defective', 'review', 0, 1),
    ('adjustment', 'shrink', 'Shrink (unexplained loss)', NULL, 0, 1),
    ('adjustment', 'theft', 'Theft', NULL, 0, 1),
    ('adjustment', 'damaged', 'Damaged', NULL, 0, 1),
    ('adjustment', 'expired', 'Expired', NULL, 0, 1),
    ('adjustment', 'found', 'Found', NULL, 0, 1),
    ('adjustment', 'correction', 'Correction (say why)', NULL, 1, 1);

-- '' follows the store's setting (store.negative_stock); 'allow' or 'block' overrides it.
ALTER TABLE items ADD COLUMN negative_stock TEXT NOT NULL DEFAULT '' CHECK (negative_stock IN ('', 'allow', 'block'));
-- Where the item sits on the shop floor, for count sessions by aisle (a field the shop owns).
ALTER TABLE items ADD COLUMN aisle TEXT NOT NULL DEFAULT '';

-- qty joins the item's index so the balance before a history page is a sum over the index alone.
DROP INDEX stock_moves_item;
CREATE INDEX stock_moves_item ON stock_moves (sku, location, id, qty);

ALTER TABLE stock_moves ADD COLUMN doc_line INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stock_moves ADD COLUMN note TEXT NOT NULL DEFAULT '';
CREATE INDEX stock_moves_doc ON stock_moves (doc_type, doc_id);

-- A post-void keeps the sale and says who voided it and why; its moves restore the stock.
ALTER TABLE sales ADD COLUMN voided_at TEXT;
ALTER TABLE sales ADD COLUMN voided_by TEXT;
ALTER TABLE sales ADD COLUMN void_reason TEXT;

CREATE TABLE returns (
    id                TEXT PRIMARY KEY,
    number            INTEGER NOT NULL UNIQUE,
    sale_id           TEXT REFERENCES sales (id),     -- NULL: a return without a receipt
    register_id       TEXT NOT NULL,
    actor             TEXT NOT NULL,
    approved_by       TEXT,                           -- the manager, when one was needed
    exchange_sale_id  TEXT REFERENCES sales (id),     -- the sale made in exchange, if any
    total_minor       INTEGER NOT NULL,
    tax_minor         INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    request_hash      TEXT NOT NULL,
    response          TEXT NOT NULL
);
CREATE TABLE return_lines (
    return_id     TEXT NOT NULL REFERENCES returns (id),
    line_no       INTEGER NOT NULL,
    sale_id       TEXT REFERENCES sales (id),
    sale_line_no  INTEGER,
    sku           TEXT NOT NULL REFERENCES items (sku),
    qty           INTEGER NOT NULL CHECK (qty > 0),
    amount_minor  INTEGER NOT NULL,
    tax_minor     INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    condition     TEXT NOT NULL,
    location      TEXT NOT NULL REFERENCES locations (id),
    note          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (return_id, line_no)
);
CREATE INDEX return_lines_sale ON return_lines (sale_id, sale_line_no);
CREATE TABLE return_refunds (
    return_id     TEXT NOT NULL REFERENCES returns (id),
    line_no       INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL,
    reference     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (return_id, line_no)
);

CREATE TABLE purchase_orders (
    id          TEXT PRIMARY KEY,
    supplier    TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('open', 'received', 'closed')),
    note        TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE purchase_order_lines (
    po_id         TEXT NOT NULL REFERENCES purchase_orders (id),
    line_no       INTEGER NOT NULL,
    sku           TEXT NOT NULL REFERENCES items (sku),
    qty_ordered   INTEGER NOT NULL CHECK (qty_ordered > 0),
    qty_received  INTEGER NOT NULL DEFAULT 0,
    cost_minor    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (po_id, line_no)
);
CREATE TABLE receipts (
    id          TEXT PRIMARY KEY,
    po_id       TEXT REFERENCES purchase_orders (id),  -- NULL: an unplanned delivery
    supplier    TEXT NOT NULL DEFAULT '',
    location    TEXT NOT NULL REFERENCES locations (id),
    note        TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    -- a delivery sent twice (a lost answer, a double tap) is received once: same id, same answer
    request_hash  TEXT,
    response      TEXT
);
CREATE TABLE receipt_lines (
    receipt_id   TEXT NOT NULL REFERENCES receipts (id),
    line_no      INTEGER NOT NULL,
    sku          TEXT NOT NULL REFERENCES items (sku),
    qty          INTEGER NOT NULL CHECK (qty > 0),
    po_line_no   INTEGER,
    cost_minor   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (receipt_id, line_no)
);

-- Stock set aside for a customer (click-and-collect): available = on hand - reserved.
CREATE TABLE reservations (
    id           TEXT PRIMARY KEY,
    sku          TEXT NOT NULL REFERENCES items (sku),
    location     TEXT NOT NULL REFERENCES locations (id),
    qty          INTEGER NOT NULL CHECK (qty > 0),
    ref          TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    released_at  TEXT,
    released_by  TEXT,
    outcome      TEXT CHECK (outcome IN ('collected', 'cancelled', 'expired'))
);
CREATE INDEX reservations_open ON reservations (sku) WHERE released_at IS NULL;
CREATE TRIGGER reservations_hold AFTER INSERT ON reservations
BEGIN
    INSERT INTO stock_levels (sku, location, on_hand, reserved) VALUES (NEW.sku, NEW.location, 0, NEW.qty)
    ON CONFLICT (sku, location) DO UPDATE SET reserved = reserved + NEW.qty;
END;
CREATE TRIGGER reservations_release AFTER UPDATE OF released_at ON reservations
WHEN OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
BEGIN
    UPDATE stock_levels SET reserved = reserved - OLD.qty WHERE sku = OLD.sku AND location = OLD.location;
END;

-- ABC class of each item from the trailing 90 days of sales value, recomputed weekly.
CREATE TABLE item_classes (
    sku          TEXT PRIMARY KEY REFERENCES items (sku),
    class        TEXT NOT NULL CHECK (class IN ('A', 'B', 'C')),
    value_minor  INTEGER NOT NULL,
    computed_at  TEXT NOT NULL
);

CREATE TABLE count_sessions (
    id          INTEGER PRIMARY KEY,
    location    TEXT NOT NULL REFERENCES locations (id),
    scope_kind  TEXT NOT NULL CHECK (scope_kind IN ('location', 'aisle', 'category', 'daily', 'items')),
    scope       TEXT NOT NULL DEFAULT '',
    blind       INTEGER NOT NULL DEFAULT 1 CHECK (blind IN (0, 1)),
    status      TEXT NOT NULL CHECK (status IN ('open', 'review', 'closed', 'cancelled')),
    note        TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    closed_by   TEXT,
    closed_at   TEXT
);
-- One line per item and location in a session. ledger_position is the last stock move id when
-- the line was first counted and ledger_qty the on-hand then: the variance is measured there,
-- so sales after that point stay on top when it posts.
CREATE TABLE count_lines (
    session_id       INTEGER NOT NULL REFERENCES count_sessions (id),
    sku              TEXT NOT NULL REFERENCES items (sku),
    location         TEXT NOT NULL REFERENCES locations (id),
    counted          INTEGER NOT NULL CHECK (counted >= 0),
    ledger_qty       INTEGER NOT NULL,
    ledger_position  INTEGER NOT NULL,
    unit_cost_minor  INTEGER NOT NULL DEFAULT 0,
    class            TEXT NOT NULL DEFAULT 'C',
    status           TEXT NOT NULL CHECK (status IN ('counted', 'needs_approval', 'recount', 'approved', 'rejected', 'posted')),
    note             TEXT NOT NULL DEFAULT '',
    photo            TEXT NOT NULL DEFAULT '',
    counted_by       TEXT NOT NULL,
    counted_at       TEXT NOT NULL,
    decided_by       TEXT,
    decided_at       TEXT,
    move_id          INTEGER REFERENCES stock_moves (id),
    PRIMARY KEY (session_id, sku, location)
);

-- Client-made ids of count scans already applied: a scan resent after a lost answer counts once.
CREATE TABLE count_requests (
    id          TEXT PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES count_sessions (id),
    sku         TEXT NOT NULL,
    at          TEXT NOT NULL
);

-- Every move from now on carries a reason and a user (and a time, which is NOT NULL already).
CREATE TRIGGER stock_moves_need_reason BEFORE INSERT ON stock_moves
WHEN NEW.reason = '' OR NEW.actor = ''
BEGIN
    SELECT RAISE(ABORT, 'a stock move needs a reason and a user');
END;
