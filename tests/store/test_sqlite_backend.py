"""What is particular to SqliteBackend: the file, its schema, WAL mode, its connections.

The behaviour it shares with PostgresBackend is in test_sql_backends.py.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _store_testlib import Box

import enact_resource as er
import enact_store as es


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def backend(db: Path) -> Iterator[es.SqliteBackend]:
    backend = es.SqliteBackend(db)
    yield backend
    backend.close()


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_opening_creates_the_file_and_its_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.db"

    es.SqliteBackend(path).close()

    assert path.is_file()


def test_database_is_in_wal_mode(backend: es.SqliteBackend, db: Path) -> None:
    assert _query(db, "PRAGMA journal_mode") == [("wal",)]


def test_schema_has_the_objects_and_tags_tables(backend: es.SqliteBackend, db: Path) -> None:
    tables = {
        row[0]: row[1]
        for row in _query(db, "SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    }

    assert set(tables) == {"objects", "tags"}
    assert "WITHOUT ROWID" in str(tables["objects"])
    assert [row[1:3] for row in _query(db, "PRAGMA table_info(objects)")] == [
        ("digest", "TEXT"),
        ("data", "BLOB"),
        ("written", "REAL"),
    ]
    assert [row[1:3] for row in _query(db, "PRAGMA table_info(tags)")] == [
        ("name", "TEXT"),
        ("digest", "TEXT"),
    ]


def test_location_names_the_file_and_the_row(backend: es.SqliteBackend, db: Path) -> None:
    digest = er.digest(Box(1))

    assert backend.location(digest) == f"sqlite {db} objects row {digest}"


def test_close_closes_the_connections_of_other_threads(db: Path) -> None:
    backend = es.SqliteBackend(db)
    committed, release = threading.Event(), threading.Event()

    def work() -> None:
        es.Store(backend).commit(Box("thread"))  # opens this thread's connection
        committed.set()
        release.wait(timeout=30)

    thread = threading.Thread(target=work)
    thread.start()
    committed.wait(timeout=30)
    try:
        assert Path(f"{db}-wal").exists()

        backend.close()

        # The last connection to close checkpoints and removes the WAL file,
        # so it is gone only if the live thread's connection was closed too.
        assert not Path(f"{db}-wal").exists()
    finally:
        release.set()
        thread.join()


def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "not.db"
    path.write_bytes(b"this is not an SQLite database, just some text" * 100)

    before = path.read_bytes()

    with pytest.raises(es.StoreError, match="not an SQLite database"):
        es.SqliteBackend(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("second", ["read-write", "read-only"])
def test_opening_a_store_twice_in_a_process_loses_nothing_it_commits_later(
    db: Path, second: str
) -> None:
    # Probing the file again for the second backend (its header read with
    # open(), or an immutable connection) must not drop the locks of the
    # first one's connections: another process closing its last connection
    # would take itself for the last, delete the write-ahead log under them,
    # and what they commit afterwards would be seen by no other process.
    first = es.Store(es.SqliteBackend(db))
    first.commit(Box("before"))
    again = es.SqliteBackend(db, read_only=second == "read-only")
    again.has(es.Ref(er.digest(Box("before"))))
    child = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "import _store_testlib as t, enact_store as es\n"
        "s = es.Store(es.SqliteBackend(sys.argv[1])); s.commit(t.Box('from another process'))\n"
        "s.close()\n"
    )
    here = str(Path(__file__).parent)
    subprocess.run([sys.executable, "-c", child, str(db), here], check=True, timeout=60)

    after = first.commit(Box("after"))

    check = (
        "import sys; sys.path.insert(0, sys.argv[2]); import enact_store as es\n"
        "b = es.SqliteBackend(sys.argv[1], read_only=True)\n"
        "sys.exit(0 if b.has(es.Ref(sys.argv[3])) else 3)\n"
    )
    seen = subprocess.run(
        [sys.executable, "-c", check, str(db), here, after.digest], timeout=60, check=False
    )
    assert seen.returncode == 0
    assert db.with_name(db.name + "-wal").exists()
    again.close()
    first.close()
