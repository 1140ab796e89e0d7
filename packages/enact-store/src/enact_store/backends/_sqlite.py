"""SqliteBackend: the embedded persistent backend (stdlib sqlite3, WAL)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from time import time as wall_time
from typing import Any, TypeVar

from enact_store._backend import REFRESH_INTERVAL
from enact_store._errors import StoreConfigError, StoreError
from enact_store.backends._sql import READ_PAGE, SqlBackend

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

    Args:
        path: the database file (created if missing).
        timeout: how long, in seconds, to wait for another writer before
            giving up with a :class:`StoreError`.
    """

    batches_commits = True
    _PARAM = "?"
    # SQLite keeps whatever a column is given (a text time, a blob digest).
    _MALFORMED_OBJECTS = (
        "SELECT digest, written FROM objects WHERE typeof(digest) != 'text'"
        " OR length(digest) != 64 OR digest GLOB '*[^0-9a-f]*'"
        " OR typeof(written) NOT IN ('integer', 'real')"
    )

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
                if getattr(e, "sqlite_errorcode", 0) & 0xFF not in _BUSY_CODES:
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

    def _delete_all(self, digests: list[str], limit: float, conn: sqlite3.Connection) -> bool:
        # The write lock is held from the count to the delete: no refresh between.
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
        conn.execute("BEGIN IMMEDIATE")
        deleted: list[str] = []
        for start in range(0, len(batch), READ_PAGE):
            part = batch[start : start + READ_PAGE]
            where = f"digest IN ({','.join('?' * len(part))}) AND written < ?"
            params = [*part, limit]
            found = {
                row[0] for row in conn.execute(f"SELECT digest FROM objects WHERE {where}", params)
            }
            conn.execute(f"DELETE FROM objects WHERE {where}", params)
            deleted.extend(digest for digest in part if digest in found)
        conn.execute("COMMIT")
        return deleted

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
