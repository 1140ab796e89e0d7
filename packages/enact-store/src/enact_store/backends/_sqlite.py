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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from time import time as wall_time
from typing import Any, TypeVar, cast

from enact_store._backend import FORMAT_VERSION, REFRESH_INTERVAL
from enact_store._errors import (
    NoStoreError,
    NotAStoreError,
    ReadOnlyStoreError,
    StoreConfigError,
    StoreError,
    StoreFormatError,
    StoreIOError,
)
from enact_store._ref import check_digest
from enact_store.backends._sql import PAGE, READ_PAGE, SqlBackend

__all__ = ["SqliteBackend"]

_T = TypeVar("_T")

# `written` is when the object was last written (Unix time); gc's grace
# period is measured against it.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS objects"
    " (digest TEXT PRIMARY KEY, data BLOB NOT NULL, written REAL NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tags (name TEXT PRIMARY KEY, digest TEXT NOT NULL)",
)
# Marks the file as an enact store (the header's application id, "enac"); the
# header's user_version holds the store's format version.
_APPLICATION_ID = 0x656E6163
_SQLITE_MAGIC = b"SQLite format 3\x00"
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


# Pages of write-ahead log after which a connection that checkpoints durable runs
# folds it into the database (SQLite's default: 1,000).
_RUN_AUTOCHECKPOINT = 10_000


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (so close() can reach them all)."""

    #: Whether a durable run's checkpoints used it (see SqliteBackend._log_steps).
    logs_steps = False


# The files this process has open through SQLite connections, by (device,
# inode). POSIX drops every lock a process holds on a file when the process
# closes any descriptor of that file: reading the header of such a file with
# open(), or through an immutable connection (which takes no lock and closes
# its descriptor at once), would drop the locks of this process's own
# connections; another process closing its last connection would then take
# itself for the last one and delete the write-ahead log under them, and
# what they commit afterwards would be lost. A file listed here was checked
# when it was first opened: it is not probed again.
_OPEN_FILES: dict[tuple[int, int], weakref.WeakSet[_Connection]] = {}
# A forked child holds none of its parent's locks.
os.register_at_fork(after_in_child=_OPEN_FILES.clear)


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _held_open(path: Path) -> bool:
    """Whether this process has the file open through an SQLite connection."""
    key = _file_key(path)
    return key is not None and bool(_OPEN_FILES.get(key))


class SqliteBackend(SqlBackend[sqlite3.Connection]):
    """Stores objects in one SQLite database file.

    The file holds two tables, ``objects(digest, data, written)`` with the encoded
    objects and ``tags(name, digest)``, created on first use (as is the
    file's directory). The database runs in WAL mode with
    ``synchronous=NORMAL``: a transaction that has committed survives the
    process being killed at any moment; on a power loss or OS crash the last
    few transactions may roll back, but the database is never corrupted.
    A connection that writes a durable run's checkpoints folds the log into
    the database every 10,000 pages (SQLite's default: 1,000), so the log
    may reach about 40 MB while a run goes on.

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

    Opening never changes a file that is not an enact store: it is recognised
    from its header (the application id that marks enact stores, or, for a
    store written before that mark, its two tables) and refused with
    :class:`NotAStoreError`, byte for byte untouched. A store is created
    (directory, file, tables) only with ``create=True`` and only where
    nothing exists yet (no file, or an empty one). ``read_only=True`` opens
    the file read-only (also in a directory the user cannot write) and never
    writes; every write raises :class:`ReadOnlyStoreError`.

    Args:
        path: the database file.
        timeout: how long, in seconds, to wait for another writer before
            giving up with a :class:`StoreError`.
        create: create the store if nothing exists at ``path``.
        read_only: open for reading only.

    Raises:
        NoStoreError: nothing at ``path`` and not ``create`` (or read-only).
        NotAStoreError: ``path`` is a directory, or a file that is not an
            enact store.
        StoreFormatError: the store's format is newer than this release's.
    """

    batches_commits = True
    _PARAM = "?"
    # SQLite keeps whatever a column is given (a text time, a blob digest).
    _MALFORMED_OBJECTS = (
        "SELECT digest, written FROM objects WHERE typeof(digest) != 'text'"
        " OR length(digest) != 64 OR digest GLOB '*[^0-9a-f]*'"
        " OR typeof(written) NOT IN ('integer', 'real')"
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        self._path = Path(path).absolute()
        self._place = f"sqlite {self._path}"
        self._timeout = timeout
        self.read_only = read_only
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._pid = os.getpid()
        self._closed = False
        self._uri: str | None = None  # How read-only connections open the file.
        if self._probe(create and not read_only):
            self._create()
        # Open now, so that a file SQLite cannot use fails here rather than at
        # the first commit; and learn the store's format version.
        self.format_version = self._run(_read_format)
        if self.format_version is None:
            raise NotAStoreError(
                f"Not an enact store: {self._path} is an SQLite database without "
                "enact's tables (left untouched)"
            )
        if self.format_version > FORMAT_VERSION:
            raise StoreFormatError(
                f"SQLite store {self._path} has storage format {self.format_version}, newer "
                f"than this enact-store reads (format {FORMAT_VERSION}): upgrade enact-store",
                self.format_version,
                FORMAT_VERSION,
            )

    def _probe(self, create: bool) -> bool:
        """Checks what is at the path without opening it; returns whether to create a store."""
        path = self._path
        if _held_open(path):
            return False  # A store this process has open (see _OPEN_FILES).
        try:
            if path.is_dir():
                raise NotAStoreError(f"Not an enact store: {path} is a directory")
            if not path.exists():
                if not create:
                    raise NoStoreError(str(path), f"{path} does not exist")
                return True
            with open(path, "rb") as f:
                header = f.read(100)
        except NoStoreError:
            raise
        except OSError as e:
            raise StoreConfigError(f"Cannot open SQLite store {path}: {e.strerror or e}") from e
        if not header:
            if not create:
                raise NotAStoreError(f"Not an enact store: {path} is an empty file")
            return True
        if not header.startswith(_SQLITE_MAGIC) or len(header) < 100:
            raise NotAStoreError(
                f"Not an enact store: {path} is not an SQLite database (left untouched)"
            )
        application_id = int.from_bytes(header[68:72], "big")
        if application_id not in (0, _APPLICATION_ID):
            raise NotAStoreError(
                f"Not an enact store: {path} is another program's SQLite database "
                f"(application id {application_id:#x}; left untouched)"
            )
        if application_id == 0 and not _has_tables(path):
            raise NotAStoreError(
                f"Not an enact store: {path} is an SQLite database without enact's tables "
                "(left untouched)"
            )
        return False

    def _create(self) -> None:
        """Creates the file, its directory and the tables, stamped with the format version."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreConfigError(
                f"Cannot create SQLite store {self._path}: {e.strerror or e}"
            ) from e

        # A connection of its own, in rollback-journal mode, so that the
        # header (application id, format version) is in the file itself at
        # once; the store's own connections then switch it to WAL mode.
        try:
            conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                if conn.execute("PRAGMA application_id").fetchone()[0] == 0:
                    conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as e:
            raise StoreConfigError(f"Cannot create SQLite store {self._path}: {e}") from e

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
            key = _file_key(self._path)
            if key is not None:
                _OPEN_FILES.setdefault(key, weakref.WeakSet()).add(conn)
        return conn

    def _forget_inherited_connections(self) -> None:
        # In a child process forked while this backend was open.
        _INHERITED.extend(list(self._connections))
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections = weakref.WeakSet()
        self._pid = os.getpid()

    def _connect(self) -> _Connection:
        if self.read_only:
            return self._connect_read_only()
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
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_read_only(self) -> _Connection:
        """A connection that cannot write: ``mode=ro``, or ``immutable`` where SQLite needs it.

        A database in WAL mode needs its shared-memory file beside it; in a
        directory the user cannot write, where that file cannot be made,
        SQLite opens the file only as immutable. That is exact when no
        write-ahead log holds changes not yet in the file, which is checked.
        """
        uris = [self._uri] if self._uri else [f"{self._path.as_uri()}?mode=ro"]
        wal = self._path.with_name(self._path.name + "-wal")
        if (
            self._uri is None
            and not (wal.exists() and wal.stat().st_size > 0)
            and not _held_open(self._path)  # (Immutable drops this process's locks.)
        ):
            uris.append(f"{self._path.as_uri()}?mode=ro&immutable=1")
        error: sqlite3.Error | None = None
        for uri in uris:
            try:
                conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=self._timeout,
                    isolation_level=None,
                    check_same_thread=False,
                    factory=_Connection,
                )
                conn.execute("SELECT 1 FROM objects LIMIT 1").fetchall()
            except sqlite3.Error as e:
                error = e
                continue
            self._uri = uri
            return conn
        advice = (
            " (its write-ahead log holds changes that only a process that can write "
            "the directory can read)"
            if wal.exists()
            else ""
        )
        raise StoreConfigError(f"Cannot open SQLite store {self._path} read-only: {error}{advice}")

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

    # --- The format version. ---

    def migrate(self) -> tuple[int | None, int | None]:
        if self.read_only:
            raise ReadOnlyStoreError(f"SQLite store {self._path} is open read-only")
        old = self.format_version

        def stamp(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            conn.execute("COMMIT")

        if old != FORMAT_VERSION:
            self._run(stamp)  # Version 0 has version 1's layout: only the stamp differs.
            self.format_version = FORMAT_VERSION
        return old, self.format_version

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
        self._check_writable()
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

    def delete_all_or_none(self, digests: Iterable[str], older_than: float) -> bool:
        # As delete(): fold the log into the database first, so that on a disk
        # that filled up the deletions free pages new objects can use.
        self._check_writable()
        self._checkpoint("PASSIVE")
        return super().delete_all_or_none(digests, older_than)

    def _delete_all(self, digests: list[str], limit: float, conn: sqlite3.Connection) -> bool:
        # The write lock is held from the count to the delete: no refresh between.
        try:
            return self._delete_all_in(digests, limit, conn)
        except sqlite3.Error as e:
            if getattr(e, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
                conn.rollback()
                return False  # gc then deletes layer by layer, which copes with little room.
            raise

    def _delete_all_in(self, digests: list[str], limit: float, conn: sqlite3.Connection) -> bool:
        conn.execute("BEGIN IMMEDIATE")
        parts = []
        for start in range(0, len(digests), READ_PAGE):
            part = digests[start : start + READ_PAGE]
            where = f"digest IN ({','.join('?' * len(part))}) AND written < ?"
            parts.append((where, [*part, limit]))
        old = sum(
            conn.execute(f"SELECT count(*) FROM objects WHERE {where}", params).fetchone()[0]
            for where, params in parts
        )
        if old != len(digests):
            conn.execute("ROLLBACK")
            return False
        for where, params in parts:
            conn.execute(f"DELETE FROM objects WHERE {where}", params)
        conn.execute("COMMIT")
        return True

    def _fetch_many(self, batch: list[str], conn: sqlite3.Connection) -> list[tuple[str, Any]]:
        marks = ",".join("?" * len(batch))
        sql = f"SELECT digest, data FROM objects WHERE digest IN ({marks})"
        return conn.execute(sql, batch).fetchall()

    def _delete_batch(self, batch: list[str], limit: float, conn: sqlite3.Connection) -> list[str]:
        # Two statements per READ_PAGE digests (not one per digest), in one
        # write transaction, so the rows selected are the rows deleted.
        try:
            conn.execute("BEGIN IMMEDIATE")
            deleted: list[str] = []
            for start in range(0, len(batch), READ_PAGE):
                part = batch[start : start + READ_PAGE]
                where = f"digest IN ({','.join('?' * len(part))}) AND written < ?"
                params = [*part, limit]
                found = {
                    row[0]
                    for row in conn.execute(f"SELECT digest FROM objects WHERE {where}", params)
                }
                conn.execute(f"DELETE FROM objects WHERE {where}", params)
                deleted.extend(digest for digest in part if digest in found)
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

    # --- The run index's hooks (the rest is in SqlBackend). ---

    # SQLite has no clock of its own but the machine's: this is it, in SQL.
    _NOW = "((julianday('now') - 2440587.5) * 86400.0)"

    def _log_steps(
        self, conn: sqlite3.Connection, name: str, owner: str, epoch: int, rows: list[Any]
    ) -> bool:
        if not getattr(conn, "logs_steps", True):
            # A run commits a small transaction per finished call, each changing
            # the same few pages: folding the log into the database every
            # 10,000 pages (40 MB) rather than 1,000 copies each of them far less
            # often (a run's checkpoint costs about a third less). Only this
            # connection's commits fold less often; durability is the same.
            conn.execute(f"PRAGMA wal_autocheckpoint={_RUN_AUTOCHECKPOINT}").fetchall()
            cast(_Connection, conn).logs_steps = True
        return super()._log_steps(conn, name, owner, epoch, rows)

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _insert_in(self, conn: sqlite3.Connection, rows: dict[str, bytes]) -> None:
        now = wall_time()
        conn.executemany(_INSERT, [(digest, data, now) for digest, data in rows.items()])

    def _executemany(self, conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(sql, rows)

    def _table_exists(self, conn: sqlite3.Connection, table: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return conn.execute(sql, (table,)).fetchone() is not None

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
        for held in _OPEN_FILES.values():
            for conn in connections:
                held.discard(conn)
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __repr__(self) -> str:
        return f"SqliteBackend({str(self._path)!r})"


def _read_format(conn: sqlite3.Connection) -> int | None:
    """The store's format version: its stamp, 0 for an unstamped store, None if not a store."""
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if application_id == _APPLICATION_ID:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return 0 if {"objects", "tags"} <= names else None


def _has_tables(path: Path) -> bool:
    """Whether an unstamped database has enact's tables, read without changing anything.

    Opened immutable (no lock, no shared-memory or log file made beside it),
    which sees what the file itself holds; a store whose tables are still
    only in its write-ahead log is opened normally, read-only.
    """
    for query in ("?mode=ro&immutable=1", "?mode=ro"):
        try:
            conn = sqlite3.connect(f"{path.as_uri()}{query}", uri=True)
        except sqlite3.Error:
            continue
        try:
            names = {
                row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.Error:
            names = set()
        finally:
            conn.close()
        if {"objects", "tags"} <= names:
            return True
        if not path.with_name(path.name + "-wal").exists():
            return False
    return False
