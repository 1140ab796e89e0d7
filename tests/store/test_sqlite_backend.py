"""What is particular to SqliteBackend: the file, its schema, connections, transactions."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _store_testlib import Box, fresh_ref

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


def test_commit_stores_one_row_however_often_it_is_repeated(
    backend: es.SqliteBackend, db: Path
) -> None:
    store = es.Store(backend)
    for _ in range(3):
        ref = store.commit(Box("once"))

    assert _query(db, "SELECT digest FROM objects") == [(ref.digest,)]


def test_read_raw_returns_the_stored_bytes(backend: es.SqliteBackend, db: Path) -> None:
    ref = es.Store(backend).commit(Box("raw"))

    assert backend.read_raw(ref.digest) == _query(db, "SELECT data FROM objects")[0][0]
    assert backend.read_raw(er.digest(Box("absent"))) is None


def test_location_names_the_file_and_the_row(backend: es.SqliteBackend, db: Path) -> None:
    digest = er.digest(Box(1))

    assert backend.location(digest) == f"sqlite {db} objects row {digest}"


def test_commit_many_is_all_or_nothing(backend: es.SqliteBackend, db: Path) -> None:
    class Unregistered(er.Resource):
        pass

    packed = [es.Ref.pack(Box(1)), es.Ref.pack(Unregistered()), es.Ref.pack(Box(2))]

    with pytest.raises(er.SerializationError, match="not registered"):
        backend.commit_many(packed)
    assert _query(db, "SELECT count(*) FROM objects") == [(0,)]


def test_iter_digests_pages_through_many_objects(backend: es.SqliteBackend) -> None:
    packed = [es.Ref.pack(er.Int(i)) for i in range(2500)]
    backend.commit_many(packed)

    listed = list(backend.iter_digests())

    assert listed == sorted(p.ref.digest for p in packed)


def test_iter_digests_tolerates_deletes_while_iterating(backend: es.SqliteBackend) -> None:
    backend.commit_many(es.Ref.pack(er.Int(i)) for i in range(1500))

    seen = 0
    for digest in backend.iter_digests():
        assert backend.delete([digest]) == [digest]
        seen += 1

    assert seen == 1500
    assert list(backend.iter_digests()) == []


def test_threads_share_one_backend(backend: es.SqliteBackend) -> None:
    store = es.Store(backend)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(30):
                store.commit(Box((n * 7 + i) % 50))
                store.tags[f"t{n}"] = store.commit(Box(n))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(list(backend.iter_digests())) == 50
    assert len(store.tags) == 8


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connection(backend: es.SqliteBackend) -> None:
    store = es.Store(backend)
    before = store.commit(Box("before fork"))  # the parent's connection is open

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            with store:
                assert fresh_ref(before).get() == Box("before fork")
                store.commit(Box("from the child"))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    with store:
        assert es.Ref(er.digest(Box("from the child"))).get() == Box("from the child")
        assert store.commit(Box("after fork")).get() == Box("after fork")


def test_close_makes_the_backend_unusable(db: Path) -> None:
    backend = es.SqliteBackend(db)
    ref = es.Store(backend).commit(Box(1))

    backend.close()
    backend.close()  # closing twice is harmless

    with pytest.raises(es.StoreError, match="closed"):
        backend.has(ref)


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

    with pytest.raises(es.StoreError, match="not a database"):
        es.SqliteBackend(path)


def test_a_second_process_sees_commits_at_once(backend: es.SqliteBackend, db: Path) -> None:
    ref = es.Store(backend).commit(Box("visible"))

    code = (
        "import sys, enact_store as es\n"
        f"b = es.SqliteBackend({str(db)!r})\n"
        f"sys.exit(0 if b.has(es.Ref({ref.digest!r})) else 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
