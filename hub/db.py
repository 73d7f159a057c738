"""SQLite storage: WAL mode and numbered migrations (set up through sqlite-utils), one connection per thread."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from hub.errors import BackroomError

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("hub.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL: a sale acknowledged to a register must survive a power cut (Pis lose power).
    conn.execute("PRAGMA synchronous = FULL")


def migrate(path: Path) -> int:
    """Apply pending migrations to the database at path; return the schema version."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        db = sqlite_utils.Database(conn)
        db.enable_wal()
        if db.journal_mode != "wal":
            raise BackroomError(f"database {path} could not be put in WAL mode (got {db.journal_mode!r})")
        _configure(conn)
        db["schema_migrations"].create({"version": int, "name": str, "applied_at": str}, pk="version",
                                       not_null={"name"}, if_not_exists=True)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        version = max(applied, default=0)
        for number, name, sql in _migrations():
            if number in applied:
                continue
            log.info("applying migration %s to %s", name, path)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in sqlite3_split(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, datetime('now'))",
                             (number, name))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise BackroomError(f"migration {name} failed on {path}: {exc}; the database is unchanged") from exc
            version = number
        return version
    finally:
        conn.close()


def sqlite3_split(script: str) -> Iterator[str]:
    """Split a migration script into complete statements."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            stmt = buf.strip()
            if stmt and not all(s.strip().startswith("--") or not s.strip() for s in stmt.splitlines()):
                yield stmt
            buf = ""
    if buf.strip() and not all(s.strip().startswith("--") or not s.strip() for s in buf.splitlines()):
        raise BackroomError("migration script ends with an incomplete statement")


class Database:
    """The hub's database file. Hands each thread its own connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # One writer at a time inside the process: SQLite's own busy handler sleeps in steps of
        # up to 100 ms, which turned write contention into long tail latencies for sales.
        self._write_lock = threading.Lock()
        self._pending: list[_Job] = []
        self._pending_lock = threading.Lock()
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, listener: Callable[[], None]) -> None:
        """Call listener (cheap, non-blocking: e.g. wake the forwarder) after every write commit,
        so no writer of an outbox event has to remember to wake the sender itself."""
        self._after_commit.append(listener)

    def _committed(self) -> None:
        for listener in self._after_commit:
            listener()

    def open(self) -> Database:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        migrate(self.path)
        return self

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            _configure(conn)
            # A group commit's savepoints keep a copy of every page a job touches; past 64 KiB SQLite
            # spills it to a new file in /var/tmp at every commit (the SD card on a Pi). Keep it in RAM.
            # Not in _configure: migrations may build big indexes, which should sort on disk.
            conn.execute("PRAGMA temp_store = MEMORY")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE): all or nothing."""
        conn = self.conn
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
        self._committed()

    def transact(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in a write transaction with group commit: all or nothing for fn.

        While one commit waits on fsync, other callers queue; the next to take the lock commits
        them all in one transaction, each in its own savepoint, so one failure undoes only its own
        work. One fsync then serves several sales, which is what keeps a Pi's SD card fast enough.
        fn must use only the connection it is given and must not call write() or transact().
        """
        job = _Job(fn)
        with self._pending_lock:
            self._pending.append(job)
        with self._write_lock:
            if not job.done:
                self._commit_group()
        self._committed()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def _commit_group(self) -> None:
        with self._pending_lock:
            jobs, self._pending = self._pending, []
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for i, job in enumerate(jobs):
                conn.execute(f"SAVEPOINT job{i}")
                try:
                    job.result = job.fn(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the job's caller
                    conn.execute(f"ROLLBACK TO job{i}")
                    job.error = exc
                conn.execute(f"RELEASE job{i}")
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - every job in the group learns the commit failed
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job in jobs:
                job.error = job.error or exc
        finally:
            for job in jobs:
                job.done = True

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class _Job:
    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
