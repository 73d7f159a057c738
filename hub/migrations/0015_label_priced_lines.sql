-- Backroom schema 16: an each item sold at the price its scale label carries (a deli's prepacked
-- cheese at 3.47, whatever the shelf says), marked so the owner can tell a label price from an
-- override; NULL is the shelf or tier price.
ALTER TABLE sale_lines ADD COLUMN price_source TEXT CHECK (price_source IN ('label'));
