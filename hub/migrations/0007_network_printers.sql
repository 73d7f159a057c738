-- Network printers the owner added (found by zeroconf or the port-9100 scan, or typed in), and
-- who was given MQTT credentials for which device. Both keep who and when.

CREATE TABLE network_printers (
    id        INTEGER PRIMARY KEY,
    host      TEXT NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    port      INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    kind      TEXT NOT NULL CHECK (kind IN ('receipt_printer', 'label_printer')),
    language  TEXT NOT NULL CHECK (language IN ('escpos', 'zpl', 'tspl', 'brother_ql')),
    name      TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    added_by  TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    -- removing keeps the row (who added and removed it, when); one live printer per host and port
    removed_by  TEXT,
    removed_at  TEXT
);
CREATE UNIQUE INDEX network_printers_live ON network_printers (host, port) WHERE removed_at IS NULL;

-- The password itself lives only as mosquitto's hash in its password file.
CREATE TABLE mqtt_credentials (
    device_id   TEXT PRIMARY KEY,
    issued_by   TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    revoked_by  TEXT,
    revoked_at  TEXT
);
