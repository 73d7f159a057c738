-- Backroom schema 15: offline sales kept at the prices the register charged, and voids booked
-- into the shift whose drawer paid the cash back.

-- The shift open at the sale's register when it was voided: the void's cash left that drawer, so
-- that shift's Z report counts it (a void of an earlier shift's sale, whose Z report is closed).
ALTER TABLE sales ADD COLUMN voided_shift_id TEXT REFERENCES shifts (id);

-- An offline sale is recorded at what the register charged (its snapshot's catalog_version). Where
-- that differs from the hub's prices at replay, the lines are kept here with both prices for a
-- manager to review: [{line_no, sku, charged_unit_price_minor, charged_total_minor,
-- today_unit_price_minor, today_total_minor}]; today_total_minor is the sale priced at replay.
ALTER TABLE offline_sales ADD COLUMN catalog_version INTEGER;
ALTER TABLE offline_sales ADD COLUMN today_total_minor INTEGER;
ALTER TABLE offline_sales ADD COLUMN price_differences TEXT NOT NULL DEFAULT '[]';
