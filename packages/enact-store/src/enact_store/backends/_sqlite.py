"""SqliteBackend: the embedded persistent backend (stdlib sqlite3, WAL)."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from time import time as wall_time
from typing import TypeVar

from enact_store._backend import REFRESH_INTERVAL
from enact_store._errors import StoreConfigError, StoreError, StoreIOError
from enact_store._ref import check_digest
from enact_store.backends._sql import PAGE, SqlBackend

__all__ = ["SqliteBackend"]

_T = TypeVar("_T")

# `written` is when the object was last written (Unix time); gc's grace
# period is measured against it.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS objects"
    " (digest TEXT PRIMARY KEY, data BLOB NOT NULL, written REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tags (name TEXT PRIMARY KEY, digest TEXT NOT NULL)",
)
# Insert an object; re-committing one refreshes its time once it is older than
# REFRESH_INTERVAL (so a writer using it again protects it from gc, without
# rewriting the row on every duplicate commit).
_INSERT = (
    "INSERT INTO objects (digest, data, written) VALUES (?, ?, ?)"
    " ON CONFLICT (digest) DO UPDATE SET written = excluded.written"
    f" WHERE objects.written < excluded.written - {REFRESH_INTERVAL}"
)
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# Free space (bytes) that deleting needs besides what folding the log into the
# database needs: a few pages of log per deleted row, with a wide margin.
_DELETE_ROOM = 256 << 10


class _DiskFull(Exception):
    """A deletion transaction found the disk full (handled by SqliteBackend.delete)."""


# Connections inherited from a parent process through fork(). SQLite forbids
# using them in the child, and closing them could disturb the parent's locks,
# so a forked child keeps them alive, untouched, and opens its own.
_INHERITED: list[sqlite3.Connection] = []


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (so close() can reach them all)."""


class SqliteBackend(SqlBackend[sqlite3.Connection]):
    """Stores objects in one SQLite database file.

    The file holds two tables, ``objects(digest, data, written)`` with the encoded
    objects and ``tags(name, digest)``, created on first use (as is the
    file's directory). The database runs in WAL mode with
    ``synchronous=NORMAL``: a transaction that has committed survives the
    process being killed at any moment; on a power loss or OS crash the last
    few transactions may roll back, but the database is never corrupted.

    Safe for many threads and processes at once: each thread (and each
    process, also one forked from a process that had the backend open) uses
    its own connection; writers wait for each other (``timeout`` seconds) and
    retry, and commits are idempotent (an insert that only refreshes the
    ``written`` time of an object already stored, see gc).
    :meth:`commit_many` writes its objects in one transaction. Reads are
    verified by the store.

    Durability: an object committed outside a tracked invocation is durable
    when ``commit`` returns. Inside a tracked invocation (``invoke``,
    ``replay``), the store groups the invocation's objects (see
    :meth:`Store.batch`) and writes them in one transaction when the
    top-level invocation's record is written, that is before ``invoke``
    returns or raises; a process killed during the invocation loses that
    invocation's objects, never earlier ones.

    A full disk: writes that find it full raise :class:`StoreIOError`
    saying how much space to free. gc works on a full disk where it can: it
    first folds the write-ahead log into the database, deletes in one
    transaction per batch and, when even that finds no room, one object per
    transaction, folding the log in after each, so it needs only a few
    pages free; where not even that is free (opening a store needs room for
    its ``-wal`` and ``-shm`` files), the error says how many KiB to free.
    Deleting frees pages inside the database file for new objects (a commit
    that finds the disk full folds the log into them and tries again); the
    file does not shrink (SQLite's ``VACUUM`` shrinks it, given free space
    the size of the database).

    Args:
        path: the database file (created if missing).
        timeout: how long, in seconds, to wait for another writer before
            giving up with a :class:`StoreError`.
    """

    batches_commits = True
    _PARAM = "?"

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self._path = Path(path).absolute()
        self._place = f"sqlite {self._path}"
        self._timeout = timeout
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._pid = os.getpid()
        self._closed = False
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Open now, so that a bad path or a file that is not a database fails
        # here rather than at the first commit; this also creates the tables.
        self._run(lambda conn: None)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # --- Connections. ---

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if os.getpid() != self._pid:
            self._forget_inherited_connections()
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.add(conn)
        return conn

    def _forget_inherited_connections(self) -> None:
        # In a child process forked while this backend was open.
        _INHERITED.extend(list(self._connections))
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections = weakref.WeakSet()
        self._pid = os.getpid()

    def _connect(self) -> _Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # close() may run on another thread
                factory=_Connection,
            )
        except sqlite3.Error as e:
            raise StoreConfigError(f"Cannot open SQLite store {self._path}: {e}") from e
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreConfigError(
                    f"Cannot use WAL mode for SQLite store {self._path} (got {mode!r})"
                )
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Runs ``operation`` on this thread's connection, retrying while the database is busy.

        Every operation is idempotent, so running it again is safe. SQLite's
        own busy handler already waits for most locks; this covers the cases
        where it reports "busy" at once (and connecting while another process
        switches the file to WAL mode).
        """
        deadline = time.monotonic() + self._timeout
        delay = 0.001
        folded = False
        while True:
            conn: sqlite3.Connection | None = None
            try:
                conn = self._connection()
                return operation(conn)
            except BaseException as e:
                # Whatever happened (even KeyboardInterrupt), never leave this
                # thread's connection inside a transaction.
                if conn is not None and conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.rollback()
                if not isinstance(e, sqlite3.Error):
                    raise
                code = getattr(e, "sqlite_errorcode", 0) & 0xFF
                if code == sqlite3.SQLITE_FULL and not folded and conn is not None:
                    # The log may only need folding into free pages of the
                    # database (after gc) to be written over instead of grown.
                    folded = True
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                        continue
                if code == sqlite3.SQLITE_FULL or (
                    code == sqlite3.SQLITE_IOERR and self._disk_is_full()
                ):
                    # Opening needs room too: WAL mode creates two files.
                    raise self._disk_full_error(e, deleting=False) from e
                if code not in _BUSY_CODES:
                    raise StoreError(f"SQLite store {self._path}: {e}") from e
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"SQLite store {self._path} stayed locked for {self._timeout:g} s: {e}"
                    ) from e
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # --- Writing and deleting objects (the rest is in SqlBackend). ---

    def _insert(self, digest: str, data: bytes) -> None:
        row = (digest, data, wall_time())
        self._run(lambda conn: conn.execute(_INSERT, row))

    def _insert_many(self, rows: dict[str, bytes]) -> None:
        now = wall_time()
        params = [(digest, data, now) for digest, data in rows.items()]

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, params)
            conn.execute("COMMIT")

        self._run(insert)

    def _refresh_batch(self, batch: list[str], conn: sqlite3.Connection) -> None:
        now = wall_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "UPDATE objects SET written = ? WHERE digest = ?", [(now, digest) for digest in batch]
        )
        conn.execute("COMMIT")

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        """Deletes objects by digest (see :meth:`StorageBackend.delete`), also on a full disk.

        Deletions are written to the write-ahead log, so they need a little
        free space. When there is too little for a batch, the log is folded
        into the database and truncated (giving its space back), and the
        objects are deleted one per transaction, the log being folded in
        after each, so that deleting needs only a few pages of free space.
        Freed pages stay in the database file for new objects; the file
        does not shrink (``VACUUM`` shrinks it, and needs free space the
        size of the database).

        Raises:
            StoreIOError: the disk is too full even for that; the message
                says how much space to free.
        """
        checked = [check_digest(digest) for digest in digests]
        limit = float("inf") if older_than is None else float(older_than)
        # Fold the log into the database first: on a disk that filled up, the
        # log may hold what the database file had no room for, and only then
        # can deletions reuse the log's space instead of growing it.
        if checked:
            self._checkpoint("PASSIVE")
        done: list[str] = []
        for start in range(0, len(checked), PAGE):
            batch = checked[start : start + PAGE]
            try:
                done.extend(self._run(functools.partial(self._delete_batch, batch, limit)))
            except _DiskFull:
                done.extend(self._delete_with_little_space(batch, limit))
        return done

    def _delete_batch(self, batch: list[str], limit: float, conn: sqlite3.Connection) -> list[str]:
        try:
            conn.execute("BEGIN IMMEDIATE")
            deleted = [
                digest
                for digest in batch
                if conn.execute(
                    "DELETE FROM objects WHERE digest = ? AND written < ?", (digest, limit)
                ).rowcount
            ]
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if getattr(e, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
                raise _DiskFull from e  # _run rolls the transaction back.
            raise
        return deleted

    def _delete_with_little_space(self, batch: list[str], limit: float) -> list[str]:
        self._checkpoint("TRUNCATE")
        done: list[str] = []
        for digest in batch:
            try:
                if self._run(functools.partial(self._delete_batch, [digest], limit)):
                    done.append(digest)
            except _DiskFull as e:
                raise self._disk_full_error(e.__cause__, deleting=True) from e.__cause__
            # Fold the deletion into the database, so that the next one
            # writes over the same pages of the log instead of growing it.
            self._checkpoint("PASSIVE")
        return done

    def _checkpoint(self, mode: str) -> None:
        """Folds the write-ahead log into the database, as far as it can (never raises)."""
        with contextlib.suppress(sqlite3.Error, StoreError):
            self._run(lambda conn: conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall())

    def _disk_is_full(self) -> bool:
        """Whether the device holding the database has less than _DELETE_ROOM free."""
        try:
            info = os.statvfs(self._path.parent)
        except (OSError, AttributeError):  # No statvfs on Windows.
            return False
        return info.f_bavail * info.f_frsize < _DELETE_ROOM

    def _growth_to_fold_log(self) -> int:
        """Bytes the database file grows by when the log is folded into it (deletions
        need that first): up to its page count, or at most the log's size if unknown."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        try:
            file_size = os.path.getsize(self._path)
            if conn is None:
                return os.path.getsize(f"{self._path}-wal")
        except OSError:
            return 0
        try:
            # Direct reads, not _run: this runs while _run reports an error.
            (page_size,) = conn.execute("PRAGMA page_size").fetchone()
            (page_count,) = conn.execute("PRAGMA page_count").fetchone()
        except sqlite3.Error:
            with contextlib.suppress(OSError):
                return os.path.getsize(f"{self._path}-wal")
            return 0
        return max(0, int(page_size) * int(page_count) - file_size)

    def _disk_full_error(self, cause: BaseException | None, *, deleting: bool) -> StoreIOError:
        """A one-line StoreIOError saying how much space to free, and what for."""
        need = _DELETE_ROOM + self._growth_to_fold_log()
        kib = -(-need // 1024)
        reason = f"the disk is full ({cause})" if cause is not None else "the disk is full"
        if deleting:
            advice = (
                f"deleting objects needs free space to record the deletions: free at least "
                f"{kib} KiB on its device (for instance by deleting other files), "
                "then run gc again"
            )
        else:
            advice = (
                f"free space on its device ({kib} KiB lets gc run, which makes room "
                "inside the store for new objects)"
            )
        return StoreIOError(
            f"SQLite store {self._path}: {reason}: {advice}",
            errno=errno.ENOSPC,
            path=str(self._path),
        )

    # --- Lifetime. ---

    def close(self) -> None:
        """Closes every connection of this process; the backend is unusable after."""
        if os.getpid() != self._pid:
            self._forget_inherited_connections()
        with self._lock:
            self._closed = True
            connections = list(self._connections)
            self._connections = weakref.WeakSet()
        self._local = threading.local()
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __repr__(self) -> str:
        return f"SqliteBackend({str(self._path)!r})"
