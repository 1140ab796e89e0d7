"""FileBackend: one file per object under a directory, sharded by digest prefix."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from time import time as wall_time
from typing import Any

from enact_resource import ResourceDict
from enact_store._backend import (
    FORMAT_VERSION,
    REFRESH_INTERVAL,
    StorageBackend,
    check_tag_name,
)
from enact_store._codec import decode_object, encode_object
from enact_store._errors import (
    CorruptionError,
    NoStoreError,
    NotAStoreError,
    ReadOnlyStoreError,
    RefError,
    StoreConfigError,
    StoreFormatError,
    StoreIOError,
)
from enact_store._ref import PackedResource, Ref, check_digest
from enact_store._runs import (
    RUN_TAG_PREFIX,
    CallTime,
    RunEntry,
    RunStep,
    claim_outcome,
    fold_step,
    path_key,
    step_from,
)

__all__ = ["FileBackend"]


#: Seconds after which a temporary file is taken to be left over by a writer
#: that died. A live writer holds its temporary file only while it writes and
#: fsyncs one object; if it ever took longer, it would find the file gone when
#: it renames it and write the object again (see FileBackend._write_atomically).
STALE_TEMP_AGE = 3600.0

# Longest file name (bytes) of the file systems stores live on (NAME_MAX of
# ext4, XFS, Btrfs, tmpfs, APFS, NTFS). Tag files up to this length keep the
# name they have always had; longer ones are written in a second form.
_NAME_MAX = 255

# Reads never follow a symbolic link, never block on a FIFO or a device, and
# never make a terminal the controlling one (see _read_regular).
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
# os.utime on the link itself where the platform can (the refresh of gc times).
_UTIME_NOFOLLOW = os.utime in os.supports_follow_symlinks


class FileBackend(StorageBackend):
    """Stores each object as a file ``objects/ab/abcdef…`` under ``root_dir``.

    Writes are atomic: the object is written to a temporary file in the same
    directory tree, flushed to disk (fsync) and renamed into place, so a crash
    never leaves a partial object visible. Reads are verified by the store.
    Safe for many threads and processes at once: objects are immutable and
    named by content, and tags are replaced atomically.

    A writer killed mid-write leaves its temporary file in ``tmp/``. Each
    backend that writes removes the temporary files older than an hour
    (:data:`STALE_TEMP_AGE`) when it first writes, and again at most once an
    hour after that; :meth:`remove_stale_temp_files` does it on demand. No
    live writer can lose its file this way: a writer holds one only while it
    writes one object, and one that finds its file gone writes it again.

    Tags are files in ``tags/``: a tag ``runs/a`` is the file ``runs%2Fa``,
    and a name whose file name would pass 255 bytes is written as
    ``+runs+a``, so that every valid tag name (up to 200 characters) works.

    Hostile or damaged stores: an object or tag that is not a regular file
    (a symbolic link, a FIFO, a device, a directory) is never followed or
    opened for reading: reading the object raises :class:`CorruptionError`
    naming its path (``verify`` reports it as corrupt), reading the tag
    raises :class:`RefError`; committing the object again replaces the
    entry. Failures of the operating system (permission denied, disk full, a
    path component that is not a directory...) raise :class:`StoreIOError`,
    naming the path and the reason.

    The file ``format`` in the directory holds the store's format version (a
    store written before versions were recorded has ``objects/`` but no
    ``format``: version 0). Opening never creates anything in a directory
    that is not a store: a store is created only with ``create=True`` where
    nothing exists yet (no directory, or an empty one); ``read_only=True``
    never writes, and every write then raises :class:`ReadOnlyStoreError`.

    Args:
        root_dir: the store's directory.
        durable: fsync each object and its directory before ``commit``
            returns, so committed objects survive a power loss as well as a
            process crash. With False they survive a process crash only.
        create: create the store if nothing exists at ``root_dir``.
        read_only: open for reading only.

    Raises:
        NoStoreError: nothing at ``root_dir`` and not ``create``.
        NotAStoreError: ``root_dir`` is a file, or a directory that is not a store.
        StoreFormatError: the store's format is newer than this release's.
        StoreIOError: the operating system refused (permission, disk full...).
    """

    def __init__(
        self,
        root_dir: str | os.PathLike[str],
        *,
        durable: bool = True,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        self._root = Path(root_dir).absolute()
        self._objects = self._root / "objects"
        self._tags = self._root / "tags"
        self._tmp = self._root / "tmp"
        self.read_only = read_only
        self.format_version = self._open(create and not read_only)
        self._durable = durable
        # When this backend last removed stale temporary files (never yet).
        self._swept = float("-inf")
        # Object paths are built as text (pathlib costs microseconds per join).
        self._objects_dir = str(self._objects)

    def _open(self, create: bool) -> int:
        """Checks the directory is a store (creating one if asked); returns its format."""
        root = self._root
        format_file = root / _FORMAT_FILE
        try:
            if not root.exists():
                if not create:
                    raise NoStoreError(str(root), f"{root} does not exist")
                root.mkdir(parents=True, exist_ok=True)
                for directory in (self._objects, self._tags, self._tmp):
                    directory.mkdir()
                _write_format(format_file, FORMAT_VERSION)
                return FORMAT_VERSION
            if not root.is_dir():
                raise NotAStoreError(f"Not an enact store: {root} is not a directory")
            if format_file.is_file():
                return _read_format(format_file)
            if self._objects.is_dir():
                return 0  # Written before format versions were recorded.
            if any(root.iterdir()):
                raise NotAStoreError(
                    f"Not an enact store: {root} holds other files and no objects/ "
                    "directory (left untouched)"
                )
            if not create:
                raise NotAStoreError(f"Not an enact store: {root} is an empty directory")
            for directory in (self._objects, self._tags, self._tmp):
                directory.mkdir()
            _write_format(format_file, FORMAT_VERSION)
        except NoStoreError:
            raise
        except OSError as e:
            raise StoreConfigError(f"Cannot open file store {root}: {e.strerror or e}") from e
        return FORMAT_VERSION

    def migrate(self) -> tuple[int | None, int | None]:
        self._check_writable()
        old = self.format_version
        if old != FORMAT_VERSION:
            _write_format(self._root / _FORMAT_FILE, FORMAT_VERSION)
            self.format_version = FORMAT_VERSION
        return old, self.format_version

    def _temp_file(self, prefix: str) -> tuple[int, str]:
        """A new temporary file in ``tmp/`` (made on first use, so opening writes nothing)."""
        try:
            return tempfile.mkstemp(dir=self._tmp, prefix=prefix, suffix=".tmp")
        except FileNotFoundError:
            self._tmp.mkdir(exist_ok=True)
            return tempfile.mkstemp(dir=self._tmp, prefix=prefix, suffix=".tmp")

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"File store {self._root} is open read-only")

    @property
    def root_dir(self) -> Path:
        """The store's directory."""
        return self._root

    def _os_error(self, error: OSError, action: str, path: str | os.PathLike[str]) -> StoreIOError:
        """A StoreIOError on one line: the store, what failed, the path and the reason."""
        reason = error.strerror or str(error) or type(error).__name__
        return StoreIOError(
            f"File store {self._root}: cannot {action} {os.fspath(path)}: {reason}",
            errno=error.errno,
            path=os.fspath(path),
        )

    def _path(self, digest: str) -> str:
        check_digest(digest)
        return f"{self._objects_dir}{os.sep}{digest[:2]}{os.sep}{digest}"

    def location(self, digest: str) -> str:
        return f"file {self._path(digest)}"

    def commit(self, packed_resource: PackedResource[Any]) -> None:
        if self.read_only:
            self._check_writable()
        path = self._path(packed_resource.ref.digest)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            self._write_atomically(path, encode_object(packed_resource))
            return
        except OSError as e:
            raise self._os_error(e, "look up", path) from e
        if not stat.S_ISREG(info.st_mode):
            # Not an object (a link, a FIFO...): put the object in its place.
            self._write_atomically(path, encode_object(packed_resource))
        elif info.st_mtime < wall_time() - REFRESH_INTERVAL:
            # Refresh the time of an object a writer is using again (see gc).
            self._touch(path)

    def _touch(self, path: str) -> None:
        try:
            if _UTIME_NOFOLLOW:
                os.utime(path, follow_symlinks=False)
            elif stat.S_ISREG(os.lstat(path).st_mode):
                os.utime(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise self._os_error(e, "refresh the time of", path) from e

    def _write_atomically(self, path: str | Path, data: bytes) -> None:
        now = wall_time()
        if now - self._swept >= STALE_TEMP_AGE:
            self._swept = now
            self.remove_stale_temp_files()
        # A writer whose temporary file was removed as stale (it took over
        # STALE_TEMP_AGE, say stopped with SIGSTOP) finds it gone at the
        # rename: it writes again, so the object is never lost.
        for attempt in (1, 2, 3):
            try:
                self._write_once(path, data)
                return
            except FileNotFoundError as e:
                if attempt == 3:
                    raise self._os_error(e, "write", path) from e
            except OSError as e:
                raise self._os_error(e, "write", path) from e

    def _write_once(self, path: str | Path, data: bytes) -> None:
        directory = os.path.dirname(path)
        new_dir = not os.path.isdir(directory)
        if new_dir:
            os.makedirs(directory, exist_ok=True)
        name = os.path.basename(path)
        fd, tmp = self._temp_file(name[:16])
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self._durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if self._durable:
            _fsync_dir(directory)
            if new_dir:
                _fsync_dir(os.path.dirname(directory))

    def remove_stale_temp_files(self, older_than: float = STALE_TEMP_AGE) -> int:
        """Removes the temporary files that crashed writers left in ``tmp/``.

        Only regular files named ``*.tmp`` last modified more than
        ``older_than`` seconds ago are removed; anything else in ``tmp/`` is
        left alone. Called by every writing backend on its first write (see
        the class docstring).

        Returns:
            How many files were removed.

        Raises:
            StoreIOError: ``tmp/`` cannot be listed.
        """
        limit = wall_time() - older_than
        removed = 0
        try:
            with os.scandir(self._tmp) as entries:
                stale = [
                    entry.path
                    for entry in entries
                    if entry.name.endswith(".tmp")
                    and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime < limit
                ]
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise self._os_error(e, "list", self._tmp) from e
        for path in stale:
            # A file that vanished meanwhile, or that cannot be removed, is
            # not worth failing a write for: the next sweep tries again.
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed += 1
        return removed

    def has(self, ref: Ref[Any]) -> bool:
        path = self._path(ref.digest)
        try:
            return stat.S_ISREG(os.lstat(path).st_mode)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise self._os_error(e, "look up", path) from e

    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        digest = ref.digest
        path = self._path(digest)
        data = self._read_object(digest, path)
        if data is None:
            return None
        return decode_object(digest, data, f"file {path}", self)

    def read_raw(self, digest: str) -> bytes | None:
        """Returns the stored bytes of an object, or None.

        Raises:
            CorruptionError: the object's entry is not a regular file.
            StoreIOError: the file cannot be read.
        """
        return self._read_object(digest, self._path(digest))

    def _read_object(self, digest: str, path: str) -> bytes | None:
        try:
            return _read_regular(path)
        except _NotRegularFile as e:
            raise CorruptionError(
                digest, f"file {path}", f"is {e.kind}, not a regular file: refused"
            ) from None
        except OSError as e:
            raise self._os_error(e, "read", path) from e

    def now(self) -> float:
        # The clock that stamps objects is the file system's: it may tick
        # more coarsely than time.time() (so an object written just after
        # gc started could look older than the start), and on a shared file
        # system it is the server's. Read it off a file created now.
        try:
            fd, tmp = self._temp_file("clock-")
            try:
                return os.fstat(fd).st_mtime
            finally:
                os.close(fd)
                os.unlink(tmp)
        except OSError as e:
            raise self._os_error(e, "create a file in", self._tmp) from e

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        # Anything else in objects/ is skipped here and reported by problems().
        for shard in sorted(self._objects.iterdir()):
            if not (_SHARD.fullmatch(shard.name) and shard.is_dir()):
                continue
            with os.scandir(shard) as entries:
                found = sorted(entries, key=lambda entry: entry.name)
            for entry in found:
                name = entry.name
                if name.startswith(shard.name) and _HEX64.fullmatch(name) and entry.is_file():
                    with contextlib.suppress(FileNotFoundError):
                        yield name, entry.stat().st_mtime

    def refresh(self, digests: Iterable[str]) -> None:
        self._check_writable()
        for digest in digests:
            self._touch(self._path(digest))

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        self._check_writable()
        deleted = []
        for digest in digests:
            path = self._path(digest)
            try:
                # Not atomic with the unlink: a refresh in between is lost. The
                # window is microseconds against a grace period of minutes.
                if older_than is not None and os.lstat(path).st_mtime >= older_than:
                    continue
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise self._os_error(e, "delete", path) from e
            deleted.append(digest)
        return deleted

    def _tag_path(self, name: str) -> Path:
        return self._tags / _tag_file_name(check_tag_name(name))

    def get_tag(self, name: str) -> str | None:
        path = self._tag_path(name)
        try:
            data = _read_regular(path)
        except _NotRegularFile as e:
            raise RefError(
                f"Tag {name!r} ({path}) is {e.kind}, not a regular file: refused"
            ) from None
        except OSError as e:
            raise self._os_error(e, "read", path) from e
        if data is None:
            return None
        try:
            text = data.decode("ascii").strip()
        except UnicodeDecodeError:
            raise RefError(f"Tag {name!r} ({path}) does not hold a digest") from None
        return check_digest(text)

    @contextlib.contextmanager
    def _tags_locked(self) -> Iterator[None]:
        """Holds the store's tag lock: tag writes of every thread and process take turns.

        A file lock (flock) on ``tags.lock``, opened anew each time, so that it
        excludes other threads as well as other processes.
        """
        try:
            fd = os.open(self._root / _TAGS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise self._os_error(e, "lock the tags in", self._root) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # Releases the lock.

    def set_tag(self, name: str, digest: str) -> None:
        self._check_writable()
        path = self._tag_path(name)
        with self._tags_locked():
            self._write_atomically(path, (check_digest(digest) + "\n").encode())

    def delete_tag(self, name: str) -> bool:
        self._check_writable()
        path = self._tag_path(name)
        with self._tags_locked():
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            except OSError as e:
                raise self._os_error(e, "delete", path) from e
            return True

    def compare_and_set_tag(self, name: str, expected: str | None, new: str | None) -> bool:
        self._check_writable()
        path = self._tag_path(name)
        for digest in (expected, new):
            if digest is not None:
                check_digest(digest)
        with self._tags_locked():
            if self.get_tag(name) != expected:
                return False
            if new is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                self._write_atomically(path, (new + "\n").encode())
            return True

    def list_tags(self) -> dict[str, str]:
        tags = {}
        for path in sorted(self._tags.iterdir()):
            if not path.is_file():
                continue  # Not a tag: reported by problems().
            name = _tag_name(path.name)
            with contextlib.suppress(ValueError):  # Not a tag file: skip it.
                value = self.get_tag(name)
                if value is not None:
                    tags[name] = value
        return tags

    def problems(self) -> Iterator[tuple[str, str]]:
        for shard in sorted(self._objects.iterdir()):
            if not (_SHARD.fullmatch(shard.name) and shard.is_dir()):
                yield f"file {shard}", f"a stray {_kind(shard)} in objects/, not a shard directory"
                continue
            for path in sorted(shard.iterdir()):
                name = path.name
                if not (name.startswith(shard.name) and _HEX64.fullmatch(name)):
                    yield f"file {path}", f"a stray {_kind(path)}, not named by an object's digest"
                elif not path.is_file():
                    yield (
                        f"file {path}",
                        f"a {_kind(path)} where an object file should be (refused)",
                    )
        for path in sorted(self._tags.iterdir()):
            if not path.is_file():
                yield f"file {path}", f"a stray {_kind(path)} in tags/, not a tag file"
                continue
            name = _tag_name(path.name)
            try:
                check_tag_name(name)
            except ValueError:
                yield f"file {path}", f"a stray file in tags/: {name!r:.100} is not a tag name"
                continue
            try:
                self.get_tag(name)
            except (ValueError, OSError) as e:
                yield f"file {path}", f"tag {name!r} does not hold a digest: {e}"

    # --- The run index (see StorageBackend.run_get): files under runs/. ---
    #
    # runs/NAME.json holds a run's entry, replaced atomically; runs/NAME.calls
    # its steps (RunStep), JSON lines appended by each checkpoint and fsynced
    # (an older store's lines hold only times). Every write takes the tag
    # lock (a checkpoint moves the run's tag with its entry), so claims,
    # checkpoints and tag writes of all threads and processes take turns.
    # Objects are written (and fsynced) as they are committed, before the
    # tag that reaches them.

    def _run_file(self, name: str, suffix: str) -> Path:
        short = name.replace("/", "%2F")
        if len(short) + len(suffix) > _NAME_MAX:
            short = "+" + name.replace("/", "+")
        return self._root / _RUNS_DIR / (short + suffix)

    def _read_run(self, path: Path, now: float) -> RunEntry | None:
        try:
            data = _read_regular(path)
        except (OSError, _NotRegularFile):
            return None
        if data is None:
            return None
        try:
            fields = json.loads(data)
            return RunEntry(**{**fields, "now": now})
        except (ValueError, TypeError):
            return None  # Not an entry this release wrote: skipped.

    def _write_run(self, entry: RunEntry) -> None:
        fields = dataclasses.asdict(entry)
        del fields["now"]
        path = self._run_file(entry.name, ".json")
        self._write_atomically(path, json.dumps(fields, sort_keys=True).encode())

    def run_get(self, name: str) -> RunEntry | None:
        return self._read_run(self._run_file(name, ".json"), wall_time())

    def run_list(self) -> list[RunEntry]:
        now = wall_time()
        try:
            paths = sorted((self._root / _RUNS_DIR).glob("*.json"))
        except OSError:
            return []
        entries = (self._read_run(path, now) for path in paths)
        return [entry for entry in entries if entry is not None]

    def _read_steps(self, name: str) -> dict[str, RunStep]:
        try:
            data = _read_regular(self._run_file(name, ".calls"))
        except (OSError, _NotRegularFile):
            return {}
        steps: dict[str, RunStep] = {}
        for line in (data or b"").splitlines():
            with contextlib.suppress(ValueError, TypeError):  # (A line cut by a crash.)
                step = _step_from_line(json.loads(line))
                steps[step.path] = fold_step(steps.get(step.path), step)
        return steps

    def run_calls(self, name: str) -> list[CallTime]:
        times = (step.time for step in self._read_steps(name).values())
        return sorted((time for time in times if time is not None), key=path_key)

    def run_steps(self, name: str, after: int) -> list[RunStep]:
        return [step for step in self._read_steps(name).values() if step.seq > after]

    def run_claim(
        self,
        name: str,
        *,
        request: str | None,
        owner: str,
        lease: float,
        force: bool,
        reopen: tuple[str, ...],
        head: str | None,
    ) -> tuple[str, RunEntry | None]:
        self._check_writable()
        self._make_runs_dir()
        with self._tags_locked():
            now = wall_time()
            entry = self.run_get(name)
            if entry is None:
                if request is None or head is None:
                    return "missing", None
                entry = RunEntry(name, request, owner, 1, now + lease, "running", now, now, 0, now)
                self._write_atomically(
                    self._tag_path(RUN_TAG_PREFIX + name), (head + "\n").encode()
                )
                self._write_run(entry)
                return "claimed", entry
            outcome = claim_outcome(entry, request, force, reopen)
            if outcome != "claimed":
                return outcome, entry
            entry = dataclasses.replace(
                entry,
                owner=owner,
                epoch=entry.epoch + 1,
                lease_until=now + lease,
                state="running",
                updated_at=now,
            )
            self._write_run(entry)
            return "claimed", entry

    def run_checkpoint(
        self,
        name: str,
        *,
        owner: str,
        epoch: int,
        objects: list[PackedResource[Any]],
        logged: list[PackedResource[Any]],
        move_log: bool,
        head: str | None,
        head_seq: int | None,
        lease: float,
        calls_done: int,
        state: str,
        steps: list[RunStep],
    ) -> bool:
        self._check_writable()
        for packed in (*objects, *logged):  # (No log of its own: into the store.)
            self.commit(packed)
        with self._tags_locked():
            entry = self.run_get(name)
            if entry is None or entry.owner != owner or entry.epoch != epoch:
                return False
            if steps:
                self._append_steps(name, steps)
            if head is not None:
                path = self._tag_path(RUN_TAG_PREFIX + name)
                self._write_atomically(path, (check_digest(head) + "\n").encode())
                entry = dataclasses.replace(entry, head_seq=head_seq or 0)
            now = wall_time()
            self._write_run(
                dataclasses.replace(
                    entry,
                    state=state,
                    lease_until=now + lease,
                    updated_at=now,
                    calls_done=calls_done,
                )
            )
            return True

    def _append_steps(self, name: str, steps: list[RunStep]) -> None:
        """Appends steps to the run's log, one JSON line each, fsynced if durable."""
        path = self._run_file(name, ".calls")
        lines = "".join(
            json.dumps(
                [step.path, step.seq, step.request, step.invocation, step.started, step.finished]
            )
            + "\n"
            for step in steps
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, lines.encode())
                if self._durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise self._os_error(e, "write", path) from e

    def run_heartbeat(self, name: str, *, owner: str, epoch: int, lease: float) -> bool:
        self._check_writable()
        with self._tags_locked():
            entry = self.run_get(name)
            if entry is None or (entry.owner, entry.epoch, entry.state) != (
                owner,
                epoch,
                "running",
            ):
                return False
            self._write_run(dataclasses.replace(entry, lease_until=wall_time() + lease))
            return True

    def run_create(self, name: str, *, request: str, head: str, state: str) -> bool:
        self._check_writable()
        self._make_runs_dir()
        with self._tags_locked():
            if self.run_get(name) is not None:
                return False
            now = wall_time()
            self._write_atomically(
                self._tag_path(RUN_TAG_PREFIX + name), (check_digest(head) + "\n").encode()
            )
            self._write_run(RunEntry(name, request, "", 0, now, state, now, now, 0, now))
            return True

    def run_delete(self, name: str) -> bool:
        self._check_writable()
        with self._tags_locked():
            existed = False
            for path in (
                self._run_file(name, ".json"),
                self._run_file(name, ".calls"),
                self._tag_path(RUN_TAG_PREFIX + name),
            ):
                try:
                    path.unlink()
                    existed = existed or path.suffix != ".calls"
                except FileNotFoundError:
                    pass
                except OSError as e:
                    raise self._os_error(e, "delete", path) from e
            return existed

    def _make_runs_dir(self) -> None:
        try:
            (self._root / _RUNS_DIR).mkdir(exist_ok=True)
        except OSError as e:
            raise self._os_error(e, "create", self._root / _RUNS_DIR) from e

    def __repr__(self) -> str:
        return f"FileBackend({str(self._root)!r})"


_SHARD = re.compile(r"[0-9a-f]{2}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _step_from_line(fields: Any) -> RunStep:
    """A step from a line of a run's log: [path, seq, request, invocation, started,
    finished], or [path, started, finished] (the times of a finished call, as written
    before steps were logged)."""
    if len(fields) == 3:
        path, started, finished = fields
        return RunStep(str(path), 0, started=float(started), finished=float(finished))
    return step_from(*fields)


def _tag_file_name(name: str) -> str:
    """The file name of a (valid) tag name; :func:`_tag_name` inverts it.

    One flat file per tag: '/' (allowed in names, like git branches) is
    written as '%2F' ('%' is not allowed), so tags "a" and "a/b" coexist. A
    name of many parts could then pass the longest file name that file
    systems allow, so such a name is written as '+' followed by the name with
    '+' for '/' (at most 201 bytes; '+' is not allowed in names either, and
    no name starts with '%' or '+', so the two forms never meet). Names that
    fit keep the first form, which stores have always used.
    """
    short = name.replace("/", "%2F")
    if len(short) <= _NAME_MAX:
        return short
    return "+" + name.replace("/", "+")


def _tag_name(file_name: str) -> str:
    """The tag name a file in ``tags/`` is named after (see :func:`_tag_file_name`)."""
    if file_name.startswith("+"):
        return file_name[1:].replace("+", "/")
    return file_name.replace("%2F", "/")


class _NotRegularFile(Exception):
    """An entry that is not a regular file was found where one should be."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _describe_mode(mode: int) -> str:
    for test, kind in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _read_regular(path: str | Path) -> bytes | None:
    """Reads a regular file of the store, or returns None if there is none.

    Never follows a symbolic link (O_NOFOLLOW), never waits on a FIFO or a
    device (O_NONBLOCK), and reads exactly the size the open file has, so a
    planted link to ``/dev/zero`` or a FIFO cannot make a read hang or grow
    without bound.

    Raises:
        _NotRegularFile: the entry is a link, FIFO, device, directory...
        OSError: the system refused (permission denied, ...).
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as e:
        # O_NOFOLLOW on a link fails with ELOOP (EMLINK on FreeBSD); a socket
        # cannot be opened at all (ENXIO).
        if e.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO):
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                raise e from None
            if not stat.S_ISREG(mode):
                raise _NotRegularFile(_describe_mode(mode)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegularFile(_describe_mode(info.st_mode))
        size = info.st_size
        data = os.read(fd, size)
        if len(data) < size:
            # Large files come in several reads.
            chunks = [data]
            remaining = size - len(data)
            while remaining > 0:
                chunk = os.read(fd, remaining)
                if not chunk:
                    break  # Truncated meanwhile: the digest check will tell.
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
        return data
    finally:
        os.close(fd)


def _fsync_dir(directory: str | Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _kind(path: Path) -> str:
    """What an entry is, for messages: 'file', 'directory', 'FIFO', 'symbolic link'..."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "entry"
    if stat.S_ISREG(mode):
        return "file"
    return _describe_mode(mode).removeprefix("a ").removeprefix("not a regular file") or "entry"


_FORMAT_FILE = "format"
_TAGS_LOCK = "tags.lock"
_RUNS_DIR = "runs"
_FORMAT_PREFIX = "enact-store format "


def _read_format(path: Path) -> int:
    text = path.read_text(errors="replace").strip()
    version = text.removeprefix(_FORMAT_PREFIX)
    if not (text.startswith(_FORMAT_PREFIX) and version.isdigit()):
        raise NotAStoreError(
            f"Not an enact store: {path} does not name a format version (got {text[:40]!r})"
        )
    found = int(version)
    if found > FORMAT_VERSION:
        raise StoreFormatError(
            f"File store {path.parent} has storage format {found}, newer than this "
            f"enact-store reads (format {FORMAT_VERSION}): upgrade enact-store",
            found,
            FORMAT_VERSION,
        )
    return found


def _write_format(path: Path, version: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{_FORMAT_PREFIX}{version}\n")
    os.replace(tmp, path)
