"""What is particular to SqliteBackend: the file, its schema, WAL mode, its connections.

The behaviour it shares with PostgresBackend is in test_sql_backends.py.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
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


# --- A full disk (a real, small file system: tmpfs, where mounting is allowed). ---


def _fill(path: Path) -> None:
    """Grows ``path`` until the file system is full (as another program might)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


def _free(ballast: Path, error: BaseException) -> None:
    """Frees the space the error asks for, by shrinking the ballast file."""
    text = str(error)
    assert "\n" not in text
    match = re.search(r"(\d+) KiB", text)
    assert match, text
    os.truncate(ballast, ballast.stat().st_size - int(match.group(1)) * 1024)


def _garbage(store: es.Store, count: int, size: int) -> None:
    for i in range(count):
        store.commit(Box(os.urandom(size) + str(i).encode()))


def _fill_with_garbage(store: es.Store) -> tuple[int, Exception]:
    """Commits objects until a commit fails; returns how many were stored and the error."""
    count = 0
    while True:
        try:
            _garbage(store, 1, 20_000)
        except Exception as e:
            return count, e
        count += 1


def _assert_collected(store: es.Store, kept: es.Ref[Box], garbage: int) -> None:
    before = len(list(store.backend.iter_digests()))
    report = store.gc(grace_period=0)
    # A gc that stopped for want of space may have deleted a few already.
    assert 0 < len(report.deleted) == before - 1 <= garbage
    assert list(store.backend.iter_digests()) == [kept.digest]
    with store:
        assert store.tags["kept"].get() == kept.get()
    assert store.verify().ok
    _garbage(store, 20, 20_000)  # The store takes new objects again.


def test_a_store_that_filled_its_disk_is_collected_after_freeing_what_the_error_says(
    small_filesystem: Callable[[int], Path],
) -> None:
    fs = small_filesystem(8 << 10)
    ballast = fs / "other-files"
    ballast.write_bytes(b"\0" * (4 << 20))
    store = es.Store(es.SqliteBackend(fs / "store.db"))
    kept = store.commit(Box("kept"))
    store.tags["kept"] = kept
    garbage, full = _fill_with_garbage(store)
    assert isinstance(full, es.StoreIOError), full
    assert full.errno == errno.ENOSPC
    assert str(fs / "store.db") in str(full)

    # Everything since the disk filled up is in the write-ahead log, which
    # cannot be folded into the database: gc says how much space to free.
    with pytest.raises(es.StoreIOError, match=r"disk is full.*free at least") as advice:
        store.gc(grace_period=0)
    _free(ballast, advice.value)

    _assert_collected(store, kept, garbage)


def test_a_store_on_a_full_disk_says_how_much_space_to_free_to_open_it(
    small_filesystem: Callable[[int], Path],
) -> None:
    fs = small_filesystem(8 << 10)
    ballast = fs / "other-files"
    store = es.Store(es.SqliteBackend(fs / "store.db"))
    kept = store.commit(Box("kept"))
    store.tags["kept"] = kept
    _garbage(store, 50, 20_000)
    store.close()
    _fill(ballast)

    # Opening a WAL database creates its log and shared-memory files.
    with pytest.raises(es.StoreIOError, match="disk is full") as advice:
        es.SqliteBackend(fs / "store.db")
    assert advice.value.errno == errno.ENOSPC
    _free(ballast, advice.value)

    _assert_collected(es.Store(es.SqliteBackend(fs / "store.db")), kept, 50)


def test_gc_deletes_on_a_disk_with_little_space_left(
    small_filesystem: Callable[[int], Path],
) -> None:
    # Deleting 1,000 objects in one transaction would log ~1 MiB of pages.
    fs = small_filesystem(32 << 10)
    ballast = fs / "other-files"
    store = es.Store(es.SqliteBackend(fs / "store.db"))
    kept = store.commit(Box("kept"))
    store.tags["kept"] = kept
    with store.batch():
        _garbage(store, 1000, 4000)
    store.close()
    _fill(ballast)
    os.truncate(ballast, ballast.stat().st_size - (320 << 10))

    _assert_collected(es.Store(es.SqliteBackend(fs / "store.db")), kept, 1000)
