-- Backroom schema 18: a register prices offline as the hub does (hub.catalog_snapshot), so its
-- snapshot carries each item's tier prices, quantity breaks and modifier groups, and a change to
-- any of them must reach the tablet as a delta: these triggers bump the catalog's version in the
-- writer's own transaction, as 0013's do for items, barcodes and tax rates.
-- An item's own price rows and modifier groups: that item. A modifier group or option: every item
-- may use it, and the registers get all groups with every delta, so a store-wide row (sku NULL).
CREATE TRIGGER catalog_versions_price_new AFTER INSERT ON item_prices
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NEW.sku);
END;
CREATE TRIGGER catalog_versions_price_changed AFTER UPDATE ON item_prices
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (OLD.sku);
    INSERT INTO catalog_versions (sku) SELECT NEW.sku WHERE NEW.sku IS NOT OLD.sku;
END;
CREATE TRIGGER catalog_versions_price_gone AFTER DELETE ON item_prices
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (OLD.sku);
END;
CREATE TRIGGER catalog_versions_item_group_new AFTER INSERT ON item_modifier_groups
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NEW.sku);
END;
CREATE TRIGGER catalog_versions_item_group_changed AFTER UPDATE ON item_modifier_groups
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (OLD.sku);
    INSERT INTO catalog_versions (sku) SELECT NEW.sku WHERE NEW.sku IS NOT OLD.sku;
END;
CREATE TRIGGER catalog_versions_item_group_gone AFTER DELETE ON item_modifier_groups
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (OLD.sku);
END;
CREATE TRIGGER catalog_versions_group_new AFTER INSERT ON modifier_groups
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;
CREATE TRIGGER catalog_versions_group_changed AFTER UPDATE ON modifier_groups
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;
CREATE TRIGGER catalog_versions_group_gone AFTER DELETE ON modifier_groups
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;
CREATE TRIGGER catalog_versions_option_new AFTER INSERT ON modifier_options
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;
CREATE TRIGGER catalog_versions_option_changed AFTER UPDATE ON modifier_options
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;
CREATE TRIGGER catalog_versions_option_gone AFTER DELETE ON modifier_options
BEGIN
    INSERT INTO catalog_versions (sku) VALUES (NULL);
END;

-- Snapshots given out before this migration lack the price lists: a version bump alone would let a
-- tablet keep them, so the tablet's database version (web/register-catalog.js) moves too.
INSERT INTO catalog_versions (sku) VALUES (NULL);
