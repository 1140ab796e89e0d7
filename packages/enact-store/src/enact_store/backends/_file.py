"""FileBackend: one file per object under a directory, sharded by digest prefix."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
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
    NoStoreError,
    NotAStoreError,
    ReadOnlyStoreError,
    StoreConfigError,
    StoreError,
    StoreFormatError,
)
from enact_store._ref import PackedResource, Ref, check_digest

__all__ = ["FileBackend"]


class FileBackend(StorageBackend):
    """Stores each object as a file ``objects/ab/abcdef…`` under ``root_dir``.

    Writes are atomic: the object is written to a temporary file in the same
    directory tree, flushed to disk (fsync) and renamed into place, so a crash
    never leaves a partial object visible. Reads are verified by the store.
    Safe for many threads and processes at once: objects are immutable and
    named by content, and tags are replaced atomically.

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
            written = os.stat(path).st_mtime
        except FileNotFoundError:
            self._write_atomically(path, encode_object(packed_resource))
            return
        if written < wall_time() - REFRESH_INTERVAL:
            # Refresh the time of an object a writer is using again (see gc).
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)

    def _write_atomically(self, path: str | Path, data: bytes) -> None:
        try:
            self._write_file(path, data)
        except OSError as e:
            raise StoreError(
                f"Cannot write to file store {self._root}: {e.strerror or e} ({path})"
            ) from e

    def _write_file(self, path: str | Path, data: bytes) -> None:
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

    def has(self, ref: Ref[Any]) -> bool:
        return os.path.exists(self._path(ref.digest))

    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        path = self._path(ref.digest)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return decode_object(ref.digest, data, f"file {path}", self)

    def read_raw(self, digest: str) -> bytes | None:
        """Returns the stored bytes of an object, or None."""
        try:
            with open(self._path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def read_raw_many(self, digests: Iterable[str]) -> dict[str, bytes]:
        """Returns the stored bytes of those of the objects the backend has, by digest."""
        found = {}
        for digest in digests:
            data = self.read_raw(digest)
            if data is not None:
                found[digest] = data
        return found

    def now(self) -> float:
        # The clock that stamps objects is the file system's: it may tick
        # more coarsely than time.time() (so an object written just after
        # gc started could look older than the start), and on a shared file
        # system it is the server's. Read it off a file created now.
        fd, tmp = self._temp_file("clock-")
        try:
            return os.fstat(fd).st_mtime
        finally:
            os.close(fd)
            os.unlink(tmp)

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
            with contextlib.suppress(FileNotFoundError):
                os.utime(self._path(digest))

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        self._check_writable()
        deleted = []
        for digest in digests:
            path = self._path(digest)
            with contextlib.suppress(FileNotFoundError):
                # Not atomic with the unlink: a refresh in between is lost. The
                # window is microseconds against a grace period of minutes.
                if older_than is not None and os.stat(path).st_mtime >= older_than:
                    continue
                os.unlink(path)
                deleted.append(digest)
        return deleted

    def _tag_path(self, name: str) -> Path:
        # One flat file per tag: '/' (allowed in names, like git branches) is
        # written as '%2F' ('%' is not allowed), so tags "a" and "a/b" coexist.
        return self._tags / check_tag_name(name).replace("/", "%2F")

    def get_tag(self, name: str) -> str | None:
        try:
            text = self._tag_path(name).read_text().strip()
        except FileNotFoundError:
            return None
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
            raise StoreError(f"Cannot lock the tags of file store {self._root}: {e}") from e
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
                    yield f"file {path}", f"a {_kind(path)} where an object file should be"
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

    def __repr__(self) -> str:
        return f"FileBackend({str(self._root)!r})"


_SHARD = re.compile(r"[0-9a-f]{2}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _tag_name(file_name: str) -> str:
    """The tag a file in tags/ holds (see FileBackend._tag_path)."""
    return file_name.replace("%2F", "/")


def _kind(path: Path) -> str:
    """'file', 'directory' or 'entry' (a FIFO, a device, a dangling link...), for messages."""
    if path.is_dir():
        return "directory"
    return "file" if path.is_file() else "entry"


_FORMAT_FILE = "format"
_TAGS_LOCK = "tags.lock"
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


def _fsync_dir(directory: str | Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
