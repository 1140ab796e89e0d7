"""What is particular to FileBackend: its files, temporary files, tag file names, hostile entries.

Tag names that every backend must accept are tested on every backend in
test_conformance.py; here are the file names they get.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from _store_testlib import Box, object_file, tag_name

import enact_resource as er
import enact_store as es

T = TypeVar("T")

HOUR = 3600.0


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _committed(root: Path, value: object) -> es.Ref[Box]:
    with es.Store(es.FileBackend(root)):
        return es.commit(Box(value))


# --- Temporary files left by crashed writers. ---

_CRASHING_WRITER = """
import os, sys
import enact_store as es
from _store_testlib import Box
store = es.Store(es.FileBackend(sys.argv[1]))
print("ready", flush=True)
i = 0
while True:  # Large objects, so that the writer is nearly always mid-write.
    i += 1
    store.commit(Box(os.urandom(4 << 20) + str(i).encode()))
"""


def _tmp_files(root: Path) -> list[Path]:
    return sorted((root / "tmp").glob("*.tmp"))


def test_temp_files_of_a_killed_writer_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    root = tmp_path / "store"
    es.FileBackend(root)
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), *sys.path])}
    left: list[Path] = []
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _CRASHING_WRITER, str(root)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        while not set(_tmp_files(root)) - set(left) and time.monotonic() < deadline:
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
        child.wait()
        left = _tmp_files(root)
    assert left, "the killed writers left no temporary file"
    for path in left:
        _age(path, 2 * HOUR)

    _committed(root, "after the crashes")

    assert _tmp_files(root) == []


def test_recent_temp_files_and_other_files_in_tmp_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "store"
    es.FileBackend(root)
    recent = root / "tmp" / "abcdef0123456789xyz.tmp"
    recent.write_bytes(b"a writer may still be writing this")
    _age(recent, 60)
    other = root / "tmp" / "notes.txt"
    other.write_text("not ours")
    _age(other, 2 * HOUR)
    old_dir = root / "tmp" / "dir.tmp"
    old_dir.mkdir()
    _age(old_dir, 2 * HOUR)

    _committed(root, 1)

    assert recent.exists()
    assert other.exists()
    assert old_dir.is_dir()


def test_remove_stale_temp_files_on_demand_counts_what_it_removed(tmp_path: Path) -> None:
    backend = es.FileBackend(tmp_path / "store")
    for i in range(3):
        path = tmp_path / "store" / "tmp" / f"{i:016d}abc.tmp"
        path.write_bytes(b"partial")
        _age(path, 2 * HOUR if i else 10)

    assert backend.remove_stale_temp_files() == 2
    assert backend.remove_stale_temp_files(older_than=0) == 1
    assert _tmp_files(tmp_path / "store") == []


def test_a_writer_whose_temp_file_is_removed_meanwhile_writes_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if another process's sweep removed the file while this writer was
    # stopped between its write and its rename (say by SIGSTOP, for hours).
    root = tmp_path / "store"
    backend = es.FileBackend(root)
    real_fsync = os.fsync
    removed: list[str] = []

    def fsync_then_lose_the_temp_file(fd: int) -> None:
        real_fsync(fd)
        if not removed:
            (tmp,) = _tmp_files(root)
            backend.remove_stale_temp_files(older_than=-HOUR)
            removed.append(tmp.name)

    monkeypatch.setattr(os, "fsync", fsync_then_lose_the_temp_file)
    with es.Store(backend):
        ref = es.commit(Box("survives"))
    monkeypatch.undo()

    assert removed
    with es.Store(es.FileBackend(root)):
        assert type(ref)(ref.digest).get() == Box("survives")


# --- Tag file names. ---


def test_tag_file_names_of_existing_stores_are_unchanged(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ref = _committed(root, "tagged")
    # As every earlier version wrote them: '/' as '%2F', up to 255 bytes.
    longest = tag_name(199, 28)
    assert len(longest.replace("/", "%2F")) == 255
    for name in ("latest", "runs/a", longest):
        (root / "tags" / name.replace("/", "%2F")).write_text(ref.digest + "\n")

    store = es.Store(es.FileBackend(root))

    assert sorted(store.tags) == sorted(["latest", "runs/a", longest])
    assert all(store.tags[name] == ref for name in store.tags)


def test_a_tag_too_long_for_a_file_name_gets_another_file_name(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ref = _committed(root, "tagged")
    name = tag_name(200, 28)  # 256 bytes with '%2F' for '/'.
    store = es.Store(es.FileBackend(root))

    store.tags[name] = ref

    (path,) = (root / "tags").iterdir()
    assert path.name == "+" + name.replace("/", "+")
    assert list(es.Store(es.FileBackend(root)).tags) == [name]


# --- Entries that are not regular files. ---


def _without_hanging(run: Callable[[], T], fifo: Path) -> T:
    """Runs ``run`` in a thread; fails (rather than hangs) if it blocks on the FIFO ``fifo``."""
    result: list[Any] = []

    def target() -> None:
        try:
            result.append((True, run()))
        except BaseException as e:
            result.append((False, e))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        # Unblock the reader stuck opening the FIFO, then fail.
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail(f"blocked on the FIFO {fifo}")
    ((ok, outcome),) = result
    if not ok:
        raise outcome
    return outcome  # type: ignore[no-any-return]


def test_verify_reports_a_fifo_planted_as_an_object_and_does_not_hang(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ref = _committed(root, "replaced by a FIFO")
    path = object_file(root, ref.digest)
    path.unlink()
    os.mkfifo(path)

    report = _without_hanging(es.Store(es.FileBackend(root)).verify, path)

    # Not an object: listed as a malformed entry of the store, never opened.
    assert not report.ok
    (problem,) = report.malformed
    assert str(path) in (problem.location or "")
    assert "FIFO" in problem.detail


def _plant(root: Path, digest: str, make: Callable[[Path], None]) -> Path:
    path = object_file(root, digest)
    path.unlink()
    make(path)
    return path


PLANTED: dict[str, Callable[[Path], None]] = {
    "symbolic link to /dev/zero": lambda path: path.symlink_to("/dev/zero"),
    "symbolic link to a valid copy": lambda path: path.symlink_to(path.parent.parent / "copy"),
    "directory": lambda path: path.mkdir(),
    "FIFO": lambda path: os.mkfifo(path),
}


@pytest.mark.parametrize("kind", list(PLANTED))
def test_reading_an_object_that_is_not_a_regular_file_raises_corruption_error(
    tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "store"
    ref = _committed(root, kind)
    # A link to an intact copy of the object, outside objects/xx/: still refused.
    (root / "objects" / "copy").write_bytes(object_file(root, ref.digest).read_bytes())
    path = _plant(root, ref.digest, PLANTED[kind])

    with es.Store(es.FileBackend(root)) as store, pytest.raises(es.CorruptionError) as caught:
        _without_hanging(lambda: store.get(type(ref)(ref.digest)), path)

    assert str(path) in str(caught.value)
    assert "not a regular file" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", list(PLANTED))
def test_committing_an_object_replaces_an_entry_that_is_not_a_regular_file(
    tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "store"
    ref = _committed(root, kind)
    (root / "objects" / "copy").write_text("elsewhere")
    path = _plant(root, ref.digest, PLANTED[kind])
    store = es.Store(es.FileBackend(root))
    assert not store.has(ref)

    if kind == "directory":
        # A directory cannot be replaced by a file: a clear error, not a raw one.
        with pytest.raises(es.StoreIOError, match="cannot write"):
            store.commit(Box(kind))
        return
    store.commit(Box(kind))

    assert path.is_file()
    assert not path.is_symlink()
    with store:
        assert type(ref)(ref.digest).get() == Box(kind)
    assert (root / "objects" / "copy").read_text() == "elsewhere"


def test_a_tag_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ref = _committed(root, "tagged")
    store = es.Store(es.FileBackend(root))
    store.tags["good"] = ref
    os.mkfifo(root / "tags" / "fifo")
    (root / "tags" / "link").symlink_to(root / "tags" / "good")

    fifo = root / "tags" / "fifo"
    for name in ("fifo", "link"):
        with pytest.raises(es.RefError, match="not a regular file"):
            _without_hanging(lambda: store.tags[name], fifo)  # noqa: B023 - run at once

    assert _without_hanging(lambda: list(store.tags), fifo) == ["good"]


# --- Failures of the operating system. ---


def _one_line_naming(error: BaseException, path: Path | str, reason: str) -> None:
    text = str(error)
    assert "\n" not in text
    assert str(path) in text
    assert reason in text


def test_a_shard_that_is_not_a_directory_raises_store_io_error(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ref = _committed(root, "in a shard")
    shard = root / "objects" / ref.digest[:2]
    for path in shard.iterdir():
        path.unlink()
    shard.rmdir()
    shard.write_text("not a directory")
    store = es.Store(es.FileBackend(root))

    with store, pytest.raises(es.StoreIOError) as caught:
        type(ref)(ref.digest).get()
    _one_line_naming(caught.value, shard, "Not a directory")

    with pytest.raises(es.StoreIOError) as caught:
        store.commit(Box("in a shard"))
    _one_line_naming(caught.value, shard, "")
    assert isinstance(caught.value, OSError)


def test_a_root_that_is_a_file_is_not_a_store_and_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.write_text("a file")

    with pytest.raises(es.NotAStoreError) as caught:
        es.FileBackend(root)

    _one_line_naming(caught.value, root, "")
    assert root.read_text() == "a file"


def test_a_full_disk_raises_store_io_error_and_keeps_what_was_stored(
    small_filesystem: Callable[[int], Path],
) -> None:
    root = small_filesystem(512) / "store"
    store = es.Store(es.FileBackend(root))
    kept = store.commit(Box("small"))

    with pytest.raises(es.StoreIOError) as caught:
        store.commit(Box(b"x" * (1 << 20)))

    _one_line_naming(caught.value, root / "objects", "No space left on device")
    assert caught.value.errno == 28
    assert _tmp_files(root) == []  # The partial write is cleaned up.
    with es.Store(es.FileBackend(root)):
        assert type(kept)(kept.digest).get() == Box("small")


def test_a_read_only_file_system_raises_store_io_error_on_writes_only(
    small_filesystem: Callable[[int], Path],
) -> None:
    fs = small_filesystem(512)
    root = fs / "store"
    ref = _committed(root, "readable")
    es.Store(es.FileBackend(root)).tags["t"] = ref
    subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    store = es.Store(es.FileBackend(root))

    with store:
        assert store.tags["t"].get() == Box("readable")
    with pytest.raises(es.StoreIOError) as caught:
        store.commit(Box("new"))
    _one_line_naming(caught.value, root, "Read-only file system")
    with pytest.raises(es.StoreIOError):
        store.tags["u"] = ref
    with pytest.raises(es.StoreIOError):
        del store.tags["t"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the permissions")
def test_permission_denied_raises_store_io_error(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ref = _committed(root, "private")
    path = object_file(root, ref.digest)
    path.chmod(0)
    try:
        with es.Store(es.FileBackend(root)), pytest.raises(es.StoreIOError) as caught:
            type(ref)(ref.digest).get()
    finally:
        path.chmod(0o644)
    _one_line_naming(caught.value, path, "Permission denied")


def test_store_io_error_is_an_enact_error_and_an_os_error() -> None:
    assert issubclass(es.StoreIOError, es.StoreError)
    assert issubclass(es.StoreIOError, er.EnactError)
    assert issubclass(es.StoreIOError, OSError)


def test_files_in_the_tmp_folder_of_a_file_store_are_no_problem(tmp_path: Path) -> None:
    # tmp/ is where writers stage files: it holds neither objects nor tags.
    backend = es.FileBackend(tmp_path / "store")
    ref = es.Store(backend).commit(Box(1))
    (backend.root_dir / "tmp" / "left-by-a-crashed-writer.tmp").write_bytes(b"partial")

    assert list(backend.problems()) == []
    assert object_file(backend.root_dir, ref.digest).exists()
