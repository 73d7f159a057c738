-- Backroom schema 12: stored value (gift cards and store credit) paid and refunded at the till (issue 7 §3).

-- An account is named by the code printed on its card or credit slip. Its balance is the sum of
-- its movements, which are only ever appended; the triggers refuse edits and deletes.
CREATE TABLE stored_value_accounts (
    code        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('gift_card', 'store_credit')),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);

CREATE TABLE stored_value_movements (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL REFERENCES stored_value_accounts (code),
    kind          TEXT NOT NULL CHECK (kind IN ('issue', 'top_up', 'redeem', 'refund', 'void')),
    amount_minor  INTEGER NOT NULL CHECK (amount_minor <> 0),   -- + credit, - debit
    balance_minor INTEGER NOT NULL CHECK (balance_minor >= 0),  -- after this movement
    actor         TEXT NOT NULL CHECK (actor <> ''),
    sale_id       TEXT,
    return_id     TEXT,
    request_id    TEXT UNIQUE,                                  -- a top-up's client id: sent twice, counted once
    note          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);
CREATE INDEX stored_value_movements_code ON stored_value_movements (code, id);

CREATE TRIGGER stored_value_movements_no_update BEFORE UPDATE ON stored_value_movements
BEGIN
    SELECT RAISE(ABORT, 'stored value movements are append-only');
END;
CREATE TRIGGER stored_value_movements_no_delete BEFORE DELETE ON stored_value_movements
BEGIN
    SELECT RAISE(ABORT, 'stored value movements are append-only');
END;
