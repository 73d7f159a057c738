-- The complete cart (issue 7 §2): discounts with reasons and price overrides kept on each sale line,
-- and carts parked at a register to be resumed later (there or at another register).

ALTER TABLE sale_lines ADD COLUMN discount_minor INTEGER NOT NULL DEFAULT 0;       -- the line's own discount
ALTER TABLE sale_lines ADD COLUMN discount_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE sale_lines ADD COLUMN cart_discount_minor INTEGER NOT NULL DEFAULT 0;  -- its share of the cart discount
ALTER TABLE sale_lines ADD COLUMN discount_approver TEXT;                          -- manager, when one had to approve
ALTER TABLE sale_lines ADD COLUMN override_from_minor INTEGER;                     -- unit price before an override
ALTER TABLE sale_lines ADD COLUMN override_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE sale_lines ADD COLUMN override_by TEXT;
ALTER TABLE sale_lines ADD COLUMN override_approver TEXT;

CREATE TABLE parked_carts (
    id           TEXT PRIMARY KEY,          -- a UUID the register made
    register_id  TEXT NOT NULL REFERENCES registers (id),
    cart         TEXT NOT NULL,             -- the register's cart as JSON, given back as it was
    label        TEXT NOT NULL DEFAULT '',  -- what the cashier called it ("blue coat")
    line_count   INTEGER NOT NULL,
    parked_by    TEXT NOT NULL,
    parked_at    TEXT NOT NULL,
    resumed_at   TEXT,
    resumed_by   TEXT,
    resumed_on   TEXT                       -- the register it was resumed at
);
CREATE INDEX parked_carts_open ON parked_carts (parked_at) WHERE resumed_at IS NULL;

-- Carts voided before payment (loss prevention): each is also a cart.voided event.
CREATE TABLE cart_voids (
    id           TEXT PRIMARY KEY,   -- a UUID the register made: the same void sent twice is one
    register_id  TEXT NOT NULL,
    voided_by    TEXT NOT NULL,
    voided_at    TEXT NOT NULL,
    data         TEXT NOT NULL       -- the event's payload
);
