-- Backroom schema 2: the item master. Tax categories, costs, suppliers, price tiers and breaks,
-- modifiers, variants, kits, packaging barcodes, change requests and scheduled changes, labels.

-- Store-defined tax rates; an item names its category, so a rate change is one row.
CREATE TABLE tax_categories (
    id       TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 40),
    name     TEXT NOT NULL,
    rate_bp  INTEGER NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000)
);
INSERT INTO tax_categories (id, name, rate_bp) VALUES ('zero', 'Zero rate', 0);
INSERT OR IGNORE INTO tax_categories (id, name, rate_bp)
    SELECT DISTINCT 'rate_' || tax_rate_bp, printf('%d.%02d%%', tax_rate_bp / 100, tax_rate_bp % 100), tax_rate_bp
    FROM items WHERE tax_rate_bp > 0;

ALTER TABLE items ADD COLUMN tax_category TEXT NOT NULL DEFAULT 'zero' REFERENCES tax_categories (id);
UPDATE items SET tax_category = 'rate_' || tax_rate_bp WHERE tax_rate_bp > 0;
ALTER TABLE items DROP COLUMN tax_rate_bp;

ALTER TABLE items ADD COLUMN cost_minor INTEGER NOT NULL DEFAULT 0 CHECK (cost_minor >= 0);
ALTER TABLE items ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN supplier TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN supplier_sku TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN case_pack INTEGER NOT NULL DEFAULT 1 CHECK (case_pack > 0);
-- Net content of an 'each' item (a 500 g jar), for the unit price per kg or litre on labels.
ALTER TABLE items ADD COLUMN net_content INTEGER NOT NULL DEFAULT 0 CHECK (net_content >= 0);
ALTER TABLE items ADD COLUMN net_unit TEXT NOT NULL DEFAULT '' CHECK (net_unit IN ('', 'g', 'ml'));
-- Variants: a child names its parent; the parent lists its axes, each child its values.
ALTER TABLE items ADD COLUMN parent_sku TEXT REFERENCES items (sku);
ALTER TABLE items ADD COLUMN variant_axes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE items ADD COLUMN variant_values TEXT NOT NULL DEFAULT '{}';
-- A child without its own price follows its parent's (kept equal, each change audited).
ALTER TABLE items ADD COLUMN own_price INTEGER NOT NULL DEFAULT 1 CHECK (own_price IN (0, 1));
-- Kits: '' for a plain item; 'components' or 'assembled' (see hub.domain.kits).
ALTER TABLE items ADD COLUMN kit_policy TEXT NOT NULL DEFAULT '' CHECK (kit_policy IN ('', 'components', 'assembled'));
CREATE INDEX items_parent ON items (parent_sku) WHERE parent_sku IS NOT NULL;

-- Reports roll variants up to their parent through this view.
CREATE VIEW item_report_sku AS SELECT sku, coalesce(parent_sku, sku) AS report_sku FROM items;

-- Member and wholesale unit prices (qty 1) and quantity breaks ("3 for 5.00": qty 3, price 500).
-- Retail's unit price is items.price_minor; retail breaks are rows with tier 'retail'.
CREATE TABLE item_prices (
    sku          TEXT NOT NULL REFERENCES items (sku),
    tier         TEXT NOT NULL CHECK (tier IN ('retail', 'member', 'wholesale')),
    qty          INTEGER NOT NULL CHECK (qty > 0),
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    PRIMARY KEY (sku, tier, qty),
    CHECK (NOT (tier = 'retail' AND qty = 1))
);

CREATE TABLE modifier_groups (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    required     INTEGER NOT NULL DEFAULT 0 CHECK (required IN (0, 1)),
    max_choices  INTEGER NOT NULL DEFAULT 1 CHECK (max_choices >= 1)
);
CREATE TABLE modifier_options (
    id           TEXT PRIMARY KEY,
    group_id     TEXT NOT NULL REFERENCES modifier_groups (id),
    name         TEXT NOT NULL,
    delta_minor  INTEGER NOT NULL DEFAULT 0,
    position     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE item_modifier_groups (
    sku       TEXT NOT NULL REFERENCES items (sku),
    group_id  TEXT NOT NULL REFERENCES modifier_groups (id),
    position  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sku, group_id)
);

CREATE TABLE kit_components (
    kit_sku        TEXT NOT NULL REFERENCES items (sku),
    component_sku  TEXT NOT NULL REFERENCES items (sku),
    qty            INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (kit_sku, component_sku),
    CHECK (kit_sku <> component_sku)
);

-- Barcodes: where a code came from and what packaging it marks (pack_qty units of the item).
ALTER TABLE barcodes ADD COLUMN packaging TEXT NOT NULL DEFAULT 'unit' CHECK (packaging IN ('unit', 'inner', 'case'));
ALTER TABLE barcodes ADD COLUMN internal INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1));
UPDATE barcodes SET packaging = 'case' WHERE pack_qty > 1;

-- Why each change was made, and which request it came from.
ALTER TABLE item_changes ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE item_changes ADD COLUMN request_id INTEGER;

-- Price, cost and tax changes a manager asks for, an owner approves; and changes (from anyone
-- allowed) that take effect later. The scheduler applies due rows, also after a restart.
CREATE TABLE change_requests (
    id             INTEGER PRIMARY KEY,
    sku            TEXT NOT NULL REFERENCES items (sku),
    changes        TEXT NOT NULL,          -- JSON {field: {"old": ..., "new": ...}}
    reason         TEXT NOT NULL DEFAULT '',
    effective_at   TEXT,                   -- NULL: as soon as approved
    status         TEXT NOT NULL CHECK (status IN ('pending', 'scheduled', 'applied', 'rejected', 'cancelled', 'failed')),
    requested_by   TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    decided_by     TEXT,
    decided_at     TEXT,
    note           TEXT NOT NULL DEFAULT '',
    applied_at     TEXT
);
CREATE INDEX change_requests_open ON change_requests (status, effective_at);
CREATE INDEX change_requests_sku ON change_requests (sku, id);

-- Shelf labels waiting to be printed (a price change queues its item's shelf label).
CREATE TABLE label_queue (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL REFERENCES items (sku),
    kind        TEXT NOT NULL CHECK (kind IN ('shelf', 'sticker')),
    reason      TEXT NOT NULL,
    queued_at   TEXT NOT NULL,
    printed_at  TEXT,
    printed_by  TEXT
);
CREATE UNIQUE INDEX label_queue_waiting ON label_queue (sku, kind) WHERE printed_at IS NULL;

-- Audit of catalog settings that are not one item (tax categories, modifier groups).
CREATE TABLE catalog_changes (
    id       INTEGER PRIMARY KEY,
    subject  TEXT NOT NULL,               -- e.g. 'tax_category:standard', 'modifier_group:size'
    old      TEXT,
    new      TEXT,
    actor    TEXT NOT NULL,
    at       TEXT NOT NULL,
    reason   TEXT NOT NULL DEFAULT ''
);

-- A sale line keeps the modifiers chosen and what quantity breaks took off.
ALTER TABLE sale_lines ADD COLUMN modifiers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sale_lines ADD COLUMN saving_minor INTEGER NOT NULL DEFAULT 0;
