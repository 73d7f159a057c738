-- Backroom schema 13: registers that keep selling while the hub is out of reach.

-- The catalog's version for the registers' offline snapshot (hub.catalog_snapshot): every write to
-- what a register sells by (an item's name, unit, price, tax category, active flag; its barcodes;
-- a tax rate) appends a row here, in the writer's own transaction, because triggers do it: no
-- code path (API, CSV import, back-office feed, a script) can change a price and forget the bump.
-- sku NULL: a store-wide change (a tax rate), which every delta carries in full anyway.
CREATE TABLE catalog_versions (
    version  INTEGER PRIMARY KEY AUTOINCREMENT,
    sku      TEXT
);

CREATE TRIGGER catalog_versions_item_new AFTER INSERT ON items
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NEW.sku);
END;
CREATE TRIGGER catalog_versions_item_changed
AFTER UPDATE OF name, unit, price_minor, tax_category, active, variant_axes ON items
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NEW.sku);
END;
CREATE TRIGGER catalog_versions_item_gone AFTER DELETE ON items
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (OLD.sku);
END;
CREATE TRIGGER catalog_versions_barcode_new AFTER INSERT ON barcodes
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NEW.sku);
END;
CREATE TRIGGER catalog_versions_barcode_changed AFTER UPDATE ON barcodes
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (OLD.sku);
    INSERT INTO catalog_versions (sku) SELECT NEW.sku WHERE NEW.sku IS NOT OLD.sku;
END;
CREATE TRIGGER catalog_versions_barcode_gone AFTER DELETE ON barcodes
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (OLD.sku);
END;
CREATE TRIGGER catalog_versions_tax_new AFTER INSERT ON tax_categories
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;
CREATE TRIGGER catalog_versions_tax_changed AFTER UPDATE ON tax_categories
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;
CREATE TRIGGER catalog_versions_tax_gone AFTER DELETE ON tax_categories
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;

-- The catalog as it stood before this migration is version 1: a register's first snapshot.
INSERT INTO catalog_versions (sku) VALUES (NULL);

-- Sales a register made while it could not reach the hub, replayed later (hub.service
-- complete_sale with offline: true). recorded_at is the tablet's clock when the cashier finished;
-- oversold lists the items the sale took below zero where the shop blocks that: the sale stands
-- (the customer has left with the goods) and a manager sees the items on the exceptions list.
CREATE TABLE offline_sales (
    sale_id      TEXT PRIMARY KEY REFERENCES sales (id),
    recorded_at  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    oversold     TEXT NOT NULL DEFAULT '[]'
);
