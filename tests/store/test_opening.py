"""Opening a store: reads never write, nothing but a store is ever touched, format versions.

Issue 11 items 3 and 4, and the storage format version: a store is created
only where asked and where nothing exists yet; a file or directory that is
not a store is refused and left byte for byte as it was; a store opened
read-only is never written, also in a directory the user cannot write; a
store records its format version, a newer one is refused and an older one is
read as it is until migrated.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from _store_testlib import BackendFactory, Box

import enact_store as es

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"


def snapshot(path: Path) -> dict[str, bytes | None]:
    """Every file under (or at) ``path`` with its bytes; directories as None."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    found: dict[str, bytes | None] = {}
    for item in sorted(path.rglob("*")):
        found[str(item.relative_to(path))] = item.read_bytes() if item.is_file() else None
    return found


def local_url(kind: str, path: Path) -> str:
    return f"sqlite:///{path}" if kind == "sqlite" else f"file://{path}"


# --- Nothing is created unless asked, and never inside something else. ---


@pytest.mark.parametrize("kind", ["sqlite", "file"])
@pytest.mark.parametrize("options", [{"create": False}, {"read_only": True}])
def test_opening_a_missing_store_without_create_creates_nothing(
    kind: str, options: dict[str, bool], tmp_path: Path
) -> None:
    where = tmp_path / "absent" / ("store.db" if kind == "sqlite" else "store")

    with pytest.raises(es.NoStoreError, match="No store at"):
        es.open_store(local_url(kind, where), **options)

    assert not (tmp_path / "absent").exists()


def test_a_missing_postgres_store_is_not_created_without_create(
    postgres_factory: BackendFactory,
) -> None:
    url = postgres_factory.url

    for options in ({"create": False}, {"read_only": True}):
        with pytest.raises(es.NoStoreError, match="no enact tables"):
            es.open_store(url, **options)

    assert postgres_factory.sql("SELECT to_regclass('objects')") == [(None,)]


def _another_programs_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada')")
    conn.commit()
    conn.close()


NOT_STORES = {
    "another-programs-database": _another_programs_database,
    "one-byte-file": lambda path: path.write_bytes(b"x"),
    "text-file": lambda path: path.write_text("just some notes\n" * 50),
    "sqlite-header-only": lambda path: path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 10),
}


@pytest.mark.parametrize("make", NOT_STORES.values(), ids=NOT_STORES.keys())
@pytest.mark.parametrize(
    "options",
    [{"read_only": True}, {"create": False}, {"create": True}],
    ids=["read-only", "write", "create"],
)
def test_a_file_that_is_not_a_store_is_refused_and_left_untouched(
    make: object, options: dict[str, bool], tmp_path: Path
) -> None:
    path = tmp_path / "data.db"
    make(path)  # type: ignore[operator]
    before = snapshot(tmp_path)

    with pytest.raises(es.NotAStoreError, match="Not an enact store"):
        es.open_store(f"sqlite:///{path}", **options)

    assert snapshot(tmp_path) == before


def test_an_empty_file_is_a_store_only_when_creating(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()

    with pytest.raises(es.NotAStoreError, match="empty file"):
        es.open_store(f"sqlite:///{path}", read_only=True)
    assert path.read_bytes() == b""

    store = es.open_store(f"sqlite:///{path}", create=True)
    store.tags["x"] = store.commit(Box(1))
    store.close()
    with es.open_store(f"sqlite:///{path}", read_only=True) as reader:
        assert reader.tags["x"]() == Box(1)


@pytest.mark.parametrize("options", [{"read_only": True}, {"create": True}])
def test_a_directory_that_is_not_a_store_is_refused_and_left_untouched(
    options: dict[str, bool], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "sub").mkdir()
    before = snapshot(tmp_path)

    with pytest.raises(es.NotAStoreError, match="Not an enact store"):
        es.open_store(f"file://{tmp_path}", **options)

    assert snapshot(tmp_path) == before


def test_a_file_where_a_file_store_should_be_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.write_bytes(b"x")

    with pytest.raises(es.NotAStoreError, match="not a directory"):
        es.open_store(f"file://{path}", create=True)
    assert path.read_bytes() == b"x"


# --- Reading never writes. ---


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_reading_a_store_opened_read_only_changes_no_file(kind: str, tmp_path: Path) -> None:
    where = tmp_path / ("store.db" if kind == "sqlite" else "store")
    store = es.open_store(local_url(kind, where))
    store.tags["t"] = store.commit(Box([store.commit(Box("child"))]))
    store.close()
    before = snapshot(where)

    reader = es.open_store(local_url(kind, where), read_only=True)
    with reader:
        assert reader.tags["t"]().value[0]() == Box("child")
        assert reader.verify().ok
        assert list(reader.tags) == ["t"]
        assert len(list(reader.backend.iter_digests())) == 2
    reader.close()

    assert snapshot(where) == before


def test_postgres_read_only_sessions_are_read_only_on_the_server(
    postgres_factory: BackendFactory,
) -> None:
    es.Store(postgres_factory())  # creates the tables
    reader = es.open_store(postgres_factory.url, read_only=True)
    backend = reader.backend
    assert isinstance(backend, es.PostgresBackend)

    with pytest.raises(es.StoreError, match="read-only"):
        backend._run(lambda conn: conn.execute("DELETE FROM tags"))
    reader.close()


@contextlib.contextmanager
def read_only_directory(path: Path, unavailable: Callable[[str], NoReturn]) -> Iterator[None]:
    """Makes ``path`` unwritable for this process (as root: a read-only mount)."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    # Root writes anywhere; a read-only bind mount stops even root.
    done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if done.returncode != 0:
        unavailable(f"cannot make a read-only directory here (mount failed: {done.stderr!r})")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_a_store_in_a_directory_the_user_cannot_write_can_be_read(
    kind: str, tmp_path: Path, unavailable: Callable[[str], NoReturn]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    where = folder / ("store.db" if kind == "sqlite" else "store")
    store = es.open_store(local_url(kind, where))
    store.tags["t"] = store.commit(Box("readable"))
    store.close()

    with read_only_directory(folder, unavailable):
        with es.open_store(local_url(kind, where), read_only=True) as reader:
            assert reader.tags["t"]() == Box("readable")
            assert reader.verify().ok
        reader.close()

        def write() -> None:
            writer = es.open_store(local_url(kind, where))
            writer.commit(Box("new"))

        with pytest.raises(es.StoreError) as caught:
            write()
        assert "\n" not in str(caught.value)


# --- Format versions. ---


def _copy_fixture(kind: str, tmp_path: Path) -> Path:
    import shutil

    if kind == "sqlite":
        shutil.copy(FIXTURES / "0.1" / "store.db", tmp_path / "store.db")
        return tmp_path / "store.db"
    shutil.copytree(FIXTURES / "0.1" / "file-store", tmp_path / "store")
    return tmp_path / "store"


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_a_store_of_an_older_format_is_read_as_it_is_until_migrated(
    kind: str, tmp_path: Path
) -> None:
    where = _copy_fixture(kind, tmp_path)
    before = snapshot(where)

    reader = es.open_store(local_url(kind, where), read_only=True)
    assert reader.backend.format_version == 0
    assert reader.verify().ok
    reader.close()
    writer = es.open_store(local_url(kind, where))
    assert writer.backend.format_version == 0  # Opening to write does not migrate.
    writer.close()
    assert snapshot(where) == before

    migrated = es.open_store(local_url(kind, where))
    assert migrated.backend.migrate() == (0, es.FORMAT_VERSION)
    assert migrated.backend.migrate() == (es.FORMAT_VERSION, es.FORMAT_VERSION)
    migrated.close()
    again = es.open_store(local_url(kind, where), read_only=True)
    assert again.backend.format_version == es.FORMAT_VERSION
    assert again.verify().ok
