-- Backroom schema 4: the device registry the status page manages. The owner's name for a device
-- is kept apart from the name it announces (an announcement never overwrites it); the last event,
-- the printer's or scale's state and recent errors are kept per device; an input device may be
-- told to act as a scanner or as a keyboard, and the hub remembers that.

ALTER TABLE devices ADD COLUMN display_name TEXT CHECK (display_name IS NULL OR length(display_name) BETWEEN 1 AND 60);
ALTER TABLE devices ADD COLUMN last_event TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_event_at TEXT;
-- JSON object: the last payload of each state event, e.g. {"status": {"online": true, "paper_low": false, ...}}
ALTER TABLE devices ADD COLUMN state TEXT NOT NULL DEFAULT '{}';
-- when online last changed: "offline since 09:14"
ALTER TABLE devices ADD COLUMN state_since TEXT;
ALTER TABLE devices ADD COLUMN role_override TEXT CHECK (role_override IN ('scanner', 'keyboard'));

-- The last few errors of each device: failed jobs, its own error events, messages it sent that
-- the hub could not read. The hub keeps DEVICE_ERRORS_KEPT per device and drops older ones.
CREATE TABLE device_errors (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT NOT NULL,
    at         TEXT NOT NULL,
    source     TEXT NOT NULL,   -- cmd/<name>, event/error, bus
    message    TEXT NOT NULL
);
CREATE INDEX device_errors_device ON device_errors (device_id, id);

-- Who renamed, bound, set the role of or forgot which device, when, from what to what.
CREATE TABLE device_changes (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT NOT NULL,
    field      TEXT NOT NULL,   -- name, register_id, role, forgotten
    old        TEXT,
    new        TEXT,
    actor      TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX device_changes_device ON device_changes (device_id, id);
