"""Group commit: several writers share one transaction and one fsync, but not each other's failures."""

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from hub.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    d = Database(tmp_path / "g.sqlite3").open()
    with d.write() as conn:
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    yield d
    d.close()


def test_jobs_queued_behind_a_commit_share_one_group_and_fail_alone(db: Database) -> None:
    results: dict[str, object] = {}

    def insert(key: str) -> None:
        def job(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT INTO t (k) VALUES (?)", (key,))
            if key == "bad":
                conn.execute("INSERT INTO t (k) VALUES ('also-bad')")
                raise ValueError("refused")
            return key

        try:
            results[key] = db.transact(job)
        except ValueError as exc:
            results[key] = exc

    groups = []
    real = db._commit_group

    def counting() -> None:
        with db._pending_lock:
            groups.append(len(db._pending))
        real()

    db._commit_group = counting  # type: ignore[method-assign]
    keys = ["a", "b", "bad", "c", "d"]
    with db._write_lock:  # as if a commit were waiting on fsync
        threads = [threading.Thread(target=insert, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(db._pending) < len(keys) and time.monotonic() < deadline:
            time.sleep(0.01)
    for t in threads:
        t.join(10)
    assert groups[0] == len(keys)  # one transaction for all five
    assert {k: v for k, v in results.items() if k != "bad"} == {"a": "a", "b": "b", "c": "c", "d": "d"}
    assert isinstance(results["bad"], ValueError)
    rows = sorted(r[0] for r in db.conn.execute("SELECT k FROM t"))
    assert rows == ["a", "b", "c", "d"]  # the failed job's rows, both of them, are gone


def test_a_failed_commit_fails_every_job_in_the_group(db: Database) -> None:
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("PRAGMA busy_timeout = 0")
    db.conn.execute("PRAGMA busy_timeout = 0")
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            db.transact(lambda conn: conn.execute("INSERT INTO t (k) VALUES ('x')"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert db.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert db.transact(lambda conn: conn.execute("INSERT INTO t (k) VALUES ('y')").rowcount) == 1
