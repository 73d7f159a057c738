-- Print jobs become a queue the hub keeps until a printer says it printed: a job for a printer
-- that is offline, out of paper or has its cover open waits and is sent again. Any command a
-- printer takes is a job (receipt, label, test page, drawer kick), with the payload it sends.
-- SQLite cannot change a CHECK constraint in place, so the table is made again.

CREATE TABLE print_jobs_new (
    job_id           TEXT PRIMARY KEY,
    sale_id          TEXT REFERENCES sales (id),
    device_id        TEXT NOT NULL,
    register_id      TEXT,  -- where results are told; none for a test page from the status page
    command          TEXT NOT NULL DEFAULT 'print',
    kind             TEXT NOT NULL DEFAULT 'receipt' CHECK (kind IN ('receipt', 'label', 'test', 'drawer')),
    payload          TEXT,  -- JSON object sent (job_id added); NULL: a sale's receipt, made when sent
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'printed', 'failed', 'cancelled')),
    error            TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TEXT,  -- a queued job is not sent before this (backoff); NULL: as soon as online
    actor            TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    sent_at          TEXT,
    finished_at      TEXT
);

INSERT INTO print_jobs_new (job_id, sale_id, device_id, register_id, status, error, created_at, finished_at)
    SELECT job_id, sale_id, device_id, register_id, status, error, created_at, finished_at FROM print_jobs;

DROP TABLE print_jobs;

ALTER TABLE print_jobs_new RENAME TO print_jobs;

CREATE INDEX print_jobs_waiting ON print_jobs (device_id, created_at) WHERE status IN ('queued', 'sent');

CREATE INDEX print_jobs_by_sale ON print_jobs (sale_id) WHERE sale_id IS NOT NULL;
