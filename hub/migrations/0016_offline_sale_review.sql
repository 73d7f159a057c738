-- Backroom schema 17: an owner reviews the offline sales a register charged at other prices than
-- the hub's (hub.offline_review). The review is recorded once, with who and when, and sent to the
-- cloud as offline_sale.reviewed; the status page counts the sales with differences still unreviewed.
ALTER TABLE offline_sales ADD COLUMN reviewed_at TEXT;
ALTER TABLE offline_sales ADD COLUMN reviewed_by TEXT;
ALTER TABLE offline_sales ADD COLUMN review_note TEXT;

-- The review list pages newest first by the time a sale reached the hub.
CREATE INDEX offline_sales_received ON offline_sales (received_at, sale_id);
