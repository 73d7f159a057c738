-- Backroom schema 21: cash paid into or out of a register's drawer during a shift (change brought
-- from the bank, milk bought for the staff room, notes taken to the safe), so the Z report's
-- expected cash is what really should be there. Each is idempotent by its id (the register
-- retries with the same one); a cashier's paid out needs a manager's approval (hub.approvals).
CREATE TABLE cash_movements (
    id TEXT PRIMARY KEY,
    shift_id TEXT NOT NULL REFERENCES shifts (id),
    register_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('paid_in', 'paid_out')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    reason TEXT NOT NULL CHECK (reason <> ''),
    actor TEXT NOT NULL,
    approver TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX cash_movements_shift ON cash_movements (shift_id);
