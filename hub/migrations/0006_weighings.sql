-- Backroom schema 6: legal-for-trade weighing. A weighing is one stable, positive reading the hub
-- took from a register's scale (POST /api/v1/registers/<id>/weighings); a sale line of a weighed
-- item says where its weight came from, and a weighing pays for at most one sale line, ever.

CREATE TABLE weighings (
    id           TEXT PRIMARY KEY,  -- made by the register: the idempotency key
    register_id  TEXT NOT NULL REFERENCES registers (id),
    device_id    TEXT NOT NULL,     -- no foreign key: a scale that removes itself keeps its history
    grams        INTEGER NOT NULL CHECK (grams > 0),
    tare_g       INTEGER NOT NULL DEFAULT 0,
    taken_at     TEXT NOT NULL,
    actor        TEXT NOT NULL,
    sale_id      TEXT REFERENCES sales (id),
    line_no      INTEGER,
    CHECK ((sale_id IS NULL) = (line_no IS NULL))
);
-- The last weighing on a scale: the scale must show zero after it before the next one.
CREATE INDEX weighings_device ON weighings (device_id, taken_at);
CREATE UNIQUE INDEX weighings_sale_line ON weighings (sale_id, line_no) WHERE sale_id IS NOT NULL;

-- 'scale' (a weighing), 'label' (a scanned scale label or GS1 weight), 'manual' (typed on a register
-- without a scale: the receipt says so); NULL for items that are not weighed.
ALTER TABLE sale_lines ADD COLUMN weight_source TEXT CHECK (weight_source IN ('scale', 'label', 'manual'));
ALTER TABLE sale_lines ADD COLUMN weighing_id TEXT REFERENCES weighings (id);
