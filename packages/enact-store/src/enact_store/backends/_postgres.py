"""PostgresBackend: the shared store for many processes on many machines (psycopg 3).

psycopg and psycopg-pool are an optional extra (``enact-store[postgres]``):
they are imported when a backend is created, never when this module is.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from enact_store._backend import FORMAT_VERSION, REFRESH_INTERVAL
from enact_store._errors import (
    NoStoreError,
    ReadOnlyStoreError,
    StoreConfigError,
    StoreError,
    StoreFormatError,
)
from enact_store.backends._sql import PAGE, SqlBackend

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresBackend"]

_T = TypeVar("_T")

_INSTALL_HINT = "pip install 'enact-store[postgres]'"

# The server's clock, in seconds since the epoch. Every time the backend
# stores or compares comes from the server, so gc run on one machine is not
# fooled by another machine's clock. clock_timestamp() (not now(), which is
# the start of the transaction) so a long transaction still stamps the time
# each row was written.
_SERVER_NOW = "date_part('epoch', clock_timestamp())"

# `written` is when the object was last written (server time); gc's grace
# period is measured against it. COLLATE "C": digests and tag names compare
# bytewise, as in Python, whatever the database's locale.
_SCHEMA = (
    'CREATE TABLE IF NOT EXISTS objects (digest TEXT COLLATE "C" PRIMARY KEY,'
    " data BYTEA NOT NULL, written DOUBLE PRECISION NOT NULL)",
    'CREATE TABLE IF NOT EXISTS tags (name TEXT COLLATE "C" PRIMARY KEY,'
    ' digest TEXT COLLATE "C" NOT NULL)',
    # The store's format version (key 'format'); a store made before versions
    # were recorded has no such table: version 0, the same layout.
    "CREATE TABLE IF NOT EXISTS enact_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_STAMP = (
    "INSERT INTO enact_meta (key, value) VALUES ('format', %s)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
# Serialises schema creation across clients: CREATE TABLE IF NOT EXISTS can
# still fail when two sessions run it at the same moment.
_SCHEMA_LOCK = 0x656E_6163_7473_746F  # "enactsto"
# Re-committing an object refreshes its time once it is older than
# REFRESH_INTERVAL (so a writer using it again protects it from gc, without
# rewriting the row on every duplicate commit).
_ON_CONFLICT = (
    " ON CONFLICT (digest) DO UPDATE SET written = excluded.written"
    f" WHERE o.written < excluded.written - {REFRESH_INTERVAL}"
)
_INSERT = f"INSERT INTO objects AS o (digest, data, written) VALUES (%s, %s, {_SERVER_NOW})" + (
    _ON_CONFLICT
)
_INSERT_MANY = (
    f"INSERT INTO objects AS o (digest, data, written) SELECT d, x, {_SERVER_NOW}"
    " FROM unnest(%s::text[], %s::bytea[]) AS t (d, x)" + _ON_CONFLICT
)
# A checkpoint that logs steps (see SqlBackend._log_steps): fenced by the run's row.
_LOG_STEPS = (
    "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)),"
    " fence AS (SELECT name FROM enact_runs WHERE name = %s AND owner = %s AND epoch = %s"
    " FOR SHARE), logged AS (INSERT INTO enact_run_steps AS s (name, path, seq, request,"
    " invocation, started, finished, objects) SELECT fence.name, t.path, t.seq, t.request,"
    " t.invocation, t.started, t.finished, t.objects FROM fence, unnest(%s::text[],"
    " %s::int8[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::bytea[])"
    " AS t (path, seq, request, invocation, started, finished, objects)"
    " ON CONFLICT (name, path) DO UPDATE SET seq = excluded.seq,"
    " request = excluded.request, invocation = excluded.invocation,"
    " started = CASE WHEN excluded.started IS NULL THEN s.started ELSE excluded.started END,"
    " finished = CASE WHEN excluded.started IS NULL THEN s.finished ELSE excluded.finished END,"
    " objects = COALESCE(excluded.objects, s.objects) RETURNING 1)"
    " SELECT count(*) FROM fence, quick"
)
# Bytes of object data per INSERT statement in commit_many.
_BATCH_BYTES = 8 << 20

# SQLSTATEs after which running the (idempotent) operation again can succeed:
# class 08 (connection exceptions), serialization failure, deadlock, and the
# server shutting down or starting up.
_RETRY_STATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})

# Pools inherited from a parent process through fork(). Their connections are
# the parent's: closing them would end the parent's sessions, so a forked
# child keeps them, untouched, and opens its own pool.
_INHERITED: list[object] = []


class PostgresBackend(SqlBackend["Connection[Any]"]):
    """Stores objects in a PostgreSQL database, shared by many processes and machines.

    The database holds two tables, ``objects(digest, data, written)`` with the
    encoded objects and ``tags(name, digest)``, created on first use in the
    first schema of the connection's ``search_path`` (give each store its
    own schema with ``options=-csearch_path=NAME`` in the DSN). Existing
    tables are used as they are, so a user without the right to create
    tables can use tables made by an administrator.

    Connections come from a pool (psycopg_pool): the backend is safe for many
    threads, for many processes (also one forked from a process that had the
    backend open) and for many machines. Commits are idempotent upserts;
    :meth:`commit_many` writes its objects in one transaction. Write times
    come from the server's clock (see :meth:`now`), so gc is not fooled by
    the clocks of the machines that write. Reads are verified by the store.
    An operation interrupted by a lost connection, a deadlock or a server
    restart is run again (every operation is idempotent) for up to
    ``timeout`` seconds.

    Credentials never appear in messages or logs: :attr:`dsn`, ``repr``,
    :meth:`location`, the pool's name (which psycopg_pool logs) and every
    error show the DSN as libpq parses it, without its ``password`` and
    ``sslpassword`` values, and libpq's own messages are shown without what
    they quote of a DSN it cannot parse. In a URL, special characters of the
    user name and password must be percent-encoded (``%40`` for '@', ``%2F``
    for '/', ...): a raw '@' or '/' there would make libpq take part of the
    password for a host name, so such a URL is refused, with that advice.

    Args:
        dsn: a libpq connection string: ``postgresql://user:password@host:port/db``
            or ``host=... dbname=...``.
        min_size: connections the pool keeps open.
        max_size: the most connections the pool opens at once.
        timeout: seconds to wait for a free connection, or to keep retrying
            an operation, before raising :class:`StoreError`.
        create: create the tables if the schema has none.
        read_only: open for reading only: nothing is created or migrated,
            sessions are read-only on the server too, and every write raises
            :class:`ReadOnlyStoreError`.

    Raises:
        ImportError: psycopg or psycopg-pool is not installed
            (``pip install 'enact-store[postgres]'``).
        StoreConfigError: the DSN is invalid, the server cannot be reached,
            or the tables cannot be created.
        NoStoreError: the schema has no store and not ``create``.
        StoreFormatError: the store's format is newer than this release's.

    Durability: as for :class:`SqliteBackend`, objects committed outside a
    tracked invocation are durable when ``commit`` returns; a tracked
    invocation's objects are written in one transaction when its record is
    (see :meth:`Store.batch`).
    """

    batches_commits = True
    _PARAM = "%s"
    # The columns are typed: only a digest's text or a NaN time can be wrong.
    _MALFORMED_OBJECTS = (
        "SELECT digest, written FROM objects WHERE digest !~ '^[0-9a-f]{64}$' OR written = 'NaN'"
    )

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 30.0,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        try:
            import psycopg
            import psycopg_pool  # noqa: F401 - fail here, not at the first query
        except ImportError as e:
            raise ImportError(
                f"PostgresBackend needs psycopg 3 and psycopg-pool: {_INSTALL_HINT}"
            ) from e
        if not isinstance(dsn, str):
            raise StoreConfigError(f"A PostgreSQL DSN must be a str, got {type(dsn).__qualname__}")
        if not 0 <= min_size <= max_size or max_size < 1:
            raise StoreConfigError(
                f"PostgresBackend needs 0 <= min_size <= max_size and max_size >= 1, "
                f"got min_size={min_size}, max_size={max_size}"
            )
        try:
            params = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error as e:
            # libpq quotes the part of the DSN it cannot parse, which may be
            # (part of) a password: its reason is shown without it, and the
            # error is not chained (a traceback would show it).
            hint = f" ({_PERCENT_ENCODE})" if _is_url(dsn) else ""
            raise StoreConfigError(
                f"Invalid PostgreSQL DSN {_hidden_dsn(dsn)!r}: "
                f"{_without_quoted(_one_line(e))}{hint}"
            ) from None
        self._secrets = _secrets(dsn, params)
        self._display = _display_dsn(dsn, params, self._secrets)
        self._place = f"postgresql {self._display}"
        self._dsn = dsn
        self._kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params and "PGCONNECT_TIMEOUT" not in os.environ:
            self._kwargs["connect_timeout"] = max(1, min(10, round(timeout)))
        if "application_name" not in params and "PGAPPNAME" not in os.environ:
            self._kwargs["application_name"] = "enact-store"
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self.read_only = read_only
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        # Connect once now, so that a bad DSN, an unreachable server or a
        # wrong password fails here with the server's reason (a pool would
        # only time out), and create the tables.
        try:
            with psycopg.connect(dsn, **self._kwargs) as conn:
                self.format_version = _open_tables(conn, create and not read_only, self._display)
        except psycopg.Error as e:
            raise StoreConfigError(
                f"Cannot open PostgreSQL store {self._display}: {self._reason(e)}"
            ) from _safe_cause(e, self._secrets)
        self._pool: ConnectionPool[Connection[Any]] | None = self._new_pool()

    @property
    def dsn(self) -> str:
        """The connection string, with any password removed (safe to print)."""
        return self._display

    # --- Connections. ---

    def _new_pool(self) -> ConnectionPool[Connection[Any]]:
        from psycopg_pool import ConnectionPool

        pool: ConnectionPool[Connection[Any]] = ConnectionPool(
            self._dsn,
            kwargs=self._kwargs,
            min_size=self._min_size,
            max_size=self._max_size,
            timeout=self._timeout,
            name=f"enact-store {self._display}",
            configure=_read_only_session if self.read_only else None,
            open=False,
        )
        pool.open(wait=False)
        return pool

    def _forget_inherited_pool(self) -> None:
        # In a child process forked while this backend was open. The lock
        # may have been copied while held, so it is replaced, not taken.
        _INHERITED.append(self._pool)
        self._lock = threading.Lock()
        self._pool = None
        self._pid = os.getpid()

    def _get_pool(self) -> ConnectionPool[Connection[Any]]:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if os.getpid() != self._pid:
            self._forget_inherited_pool()
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._closed:
                    raise StoreError(f"{self!r} is closed")
                if self._pool is None:
                    self._pool = self._new_pool()
                pool = self._pool
        return pool

    def _run(self, operation: Callable[[Connection[Any]], _T]) -> _T:
        """Runs ``operation`` on a pooled connection, retrying transient failures.

        Every operation is idempotent, so running it again is safe. A
        connection left inside a transaction (also by KeyboardInterrupt) is
        rolled back or discarded by the pool.
        """
        import psycopg
        from psycopg_pool import PoolTimeout

        deadline = time.monotonic() + self._timeout
        delay = 0.01
        while True:
            pool = self._get_pool()
            try:
                with pool.connection() as conn:
                    return operation(conn)
            except PoolTimeout as e:
                raise StoreError(
                    f"PostgreSQL store {self._display}: no connection within "
                    f"{self._timeout:g} s ({self._reason(e)})"
                ) from _safe_cause(e, self._secrets)
            except psycopg.Error as e:
                if not _transient(e):
                    raise StoreError(
                        f"PostgreSQL store {self._display}: {self._reason(e)}"
                    ) from _safe_cause(e, self._secrets)
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"PostgreSQL store {self._display}: still failing after "
                        f"{self._timeout:g} s: {self._reason(e)}"
                    ) from _safe_cause(e, self._secrets)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # --- The format version. ---

    def migrate(self) -> tuple[int | None, int | None]:
        if self.read_only:
            raise ReadOnlyStoreError(f"PostgreSQL store {self._display} is open read-only")
        old = self.format_version
        if old != FORMAT_VERSION:

            def stamp(conn: Connection[Any]) -> None:
                with conn.transaction():
                    conn.execute(_SCHEMA[2])
                    conn.execute(_STAMP, (str(FORMAT_VERSION),))

            self._run(stamp)
            self.format_version = FORMAT_VERSION
        return old, self.format_version

    # --- The server's clock; writing and deleting objects (the rest is in SqlBackend). ---

    def now(self) -> float:
        """The server's clock, which stamps every write (see :meth:`iter_objects`)."""
        row = self._run(lambda conn: conn.execute(f"SELECT {_SERVER_NOW}").fetchone())
        assert row is not None
        return float(row[0])

    def _insert(self, digest: str, data: bytes) -> None:
        self._run(lambda conn: conn.execute(_INSERT, (digest, data)))

    def _insert_many(self, rows: dict[str, bytes]) -> None:
        # In digest order, so that concurrent batches lock rows in the same
        # order and cannot deadlock; one row per digest, as an upsert cannot
        # touch a row twice.
        batches: list[tuple[list[str], list[bytes]]] = [([], [])]
        size = 0
        for digest in sorted(rows):
            digests, datas = batches[-1]
            if digests and (len(digests) >= PAGE or size >= _BATCH_BYTES):
                batches.append(([], []))
                digests, datas = batches[-1]
                size = 0
            digests.append(digest)
            datas.append(rows[digest])
            size += len(rows[digest])

        def insert(conn: Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cursor:
                for batch in batches:
                    cursor.execute(_INSERT_MANY, batch)

        self._run(insert)

    def _refresh_batch(self, batch: list[str], conn: Connection[Any]) -> None:
        conn.execute(
            f"UPDATE objects SET written = {_SERVER_NOW} WHERE digest = ANY(%s::text[])", (batch,)
        )

    def _delete_all(self, digests: list[str], limit: float, conn: Connection[Any]) -> bool:
        import psycopg

        # The delete locks its rows: a concurrent refresh waits for the
        # outcome, and one committed before is seen (its row is not old).
        deleted = False
        with conn.transaction() as transaction:
            rows = conn.execute(
                "DELETE FROM objects WHERE digest = ANY(%s::text[]) AND written < %s"
                " RETURNING digest",
                (digests, limit),
            ).fetchall()
            if len(rows) != len(digests):
                raise psycopg.Rollback(transaction)  # Leaves the block, undoing the delete.
            deleted = True
        return deleted

    def _fetch_many(self, batch: list[str], conn: Connection[Any]) -> list[tuple[str, Any]]:
        sql = "SELECT digest, data FROM objects WHERE digest = ANY(%s::text[])"
        return conn.execute(sql, (batch,), binary=True).fetchall()

    def _delete_batch(self, batch: list[str], limit: float, conn: Connection[Any]) -> list[str]:
        rows = conn.execute(
            "DELETE FROM objects WHERE digest = ANY(%s::text[]) AND written < %s RETURNING digest",
            (batch, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def _fetch_binary(self, conn: Connection[Any], sql: str, params: Any) -> Any:
        return conn.execute(sql, params, binary=True).fetchone()

    # --- The run index's hooks (the rest is in SqlBackend). ---

    # The server's clock: leases are judged on it, whatever the clients' clocks say.
    _NOW = _SERVER_NOW
    _FOR_UPDATE = " FOR UPDATE"
    _BLOB = "BYTEA"
    _GREATEST = "GREATEST"
    _FOR_SHARE = " FOR SHARE"

    def _log_steps(
        self, conn: Connection[Any], name: str, owner: str, epoch: int, rows: list[Any]
    ) -> bool:
        # One statement (its own transaction: the connection autocommits), so one
        # round trip; the row lock of the fence orders it against claims. Its
        # commit does not wait for the server's disk (synchronous_commit off, for
        # it only): once the server has it, a crash of this process loses
        # nothing; a crash of the server may lose its last fraction of a second
        # of steps (three times wal_writer_delay at most), never leaving a run
        # inconsistent: what SQLite's synchronous=NORMAL gives on a power loss.
        columns = list(zip(*rows, strict=True)) if rows else [()] * 8
        found = conn.execute(
            _LOG_STEPS, (name, owner, epoch, *(list(column) for column in columns[1:]))
        ).fetchone()
        return bool(found and found[0])

    def _transaction(self, conn: Connection[Any]) -> contextlib.AbstractContextManager[Any]:
        return conn.transaction()

    def _make_run_tables(self, conn: Connection[Any]) -> None:
        # Serialised: two sessions creating the same table at once can fail.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        super()._make_run_tables(conn)

    def _insert_in(self, conn: Connection[Any], rows: dict[str, bytes]) -> None:
        digests = sorted(rows)  # (In digest order: concurrent writers cannot deadlock.)
        for start in range(0, len(digests), PAGE):
            part = digests[start : start + PAGE]
            conn.execute(_INSERT_MANY, (part, [rows[digest] for digest in part]))

    def _executemany(self, conn: Connection[Any], sql: str, rows: list[tuple[Any, ...]]) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _table_exists(self, conn: Connection[Any], table: str) -> bool:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        return bool(row is not None and row[0])

    # --- Lifetime. ---

    def close(self) -> None:
        """Closes the pool's connections; the backend is unusable after."""
        if os.getpid() != self._pid:
            self._forget_inherited_pool()
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _reason(self, error: BaseException) -> str:
        """The error's message on one line, with any password of the DSN hidden."""
        return _scrub(_one_line(error), self._secrets)

    def __repr__(self) -> str:
        return f"PostgresBackend({self._display!r})"


def _open_tables(conn: Connection[Any], create: bool, display: str) -> int:
    """Finds the tables (creating them if asked and missing); returns the format version."""
    exists = "SELECT to_regclass('objects') IS NOT NULL AND to_regclass('tags') IS NOT NULL"
    row = conn.execute(exists).fetchone()
    if not (row is not None and row[0]):
        if not create:
            raise NoStoreError(display, "the schema has no enact tables: objects, tags")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            fresh = conn.execute("SELECT to_regclass('objects') IS NULL").fetchone()
            for statement in _SCHEMA:
                conn.execute(statement)
            if fresh is not None and fresh[0]:
                conn.execute(_STAMP, (str(FORMAT_VERSION),))
    version = _format_version(conn)
    if version > FORMAT_VERSION:
        raise StoreFormatError(
            f"PostgreSQL store {display} has storage format {version}, newer than this "
            f"enact-store reads (format {FORMAT_VERSION}): upgrade enact-store",
            version,
            FORMAT_VERSION,
        )
    return version


def _format_version(conn: Connection[Any]) -> int:
    row = conn.execute("SELECT to_regclass('enact_meta') IS NOT NULL").fetchone()
    if not (row is not None and row[0]):
        return 0
    found = conn.execute("SELECT value FROM enact_meta WHERE key = 'format'").fetchone()
    if found is None or not str(found[0]).isdigit():
        return 0
    return int(found[0])


def _read_only_session(conn: Connection[Any]) -> None:
    """Makes a pooled connection's transactions read-only on the server."""
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")


def _transient(error: Exception) -> bool:
    """Whether running the operation again may succeed (see _RETRY_STATES)."""
    import psycopg

    state = getattr(error, "sqlstate", None)
    if state is None:
        # Raised by the client, e.g. the connection was lost mid-query.
        return isinstance(error, psycopg.OperationalError)
    return state.startswith("08") or state in _RETRY_STATES


def _one_line(error: BaseException) -> str:
    """The error's message on one line (libpq's messages span several)."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return text or type(error).__name__


# Parameters whose values are credentials, never shown (libpq's names).
_SECRET_KEYS = frozenset({"password", "sslpassword"})
# Secrets shorter than this are not searched for in messages: hiding every
# "a" of a message would garble it, and so short a password hides nothing.
_MIN_SCRUB = 4
_HIDDEN = "***"
_PERCENT_ENCODE = (
    "percent-encode special characters in a URL's user name, password and parameters: "
    "'@' as %40, '/' as %2F, '%' as %25, '&' as %26, '#' as %23, '?' as %3F, a space as %20"
)


def _is_url(dsn: str) -> bool:
    return dsn.startswith(("postgresql://", "postgres://"))


def _url_credentials(rest: str) -> tuple[str, str | None, str] | None:
    """Splits what follows ``scheme://`` as libpq does: (user, password, the rest).

    libpq takes the user information up to the first '@', unless a '/'
    comes first (then there is none: None); the user name ends at the first
    ':', and the password runs from there to that '@'.
    """
    for index, char in enumerate(rest):
        if char == "/":
            return None
        if char == "@":
            user, colon, password = rest[:index].partition(":")
            return user, (password if colon else None), rest[index + 1 :]
    return None


def _secrets(dsn: str, params: Mapping[str, object]) -> tuple[str, ...]:
    """Every text of the DSN that is or may be a credential, longest first.

    libpq's own values, and the raw texts they came from: a password written
    in a URL's user information, whether or not libpq used it (a later
    ``password`` parameter wins), decoded or not. Not those that a public
    parameter (the user name, the database name...) holds.
    """
    found = {str(params[key]) for key in _SECRET_KEYS if params.get(key)}
    if _is_url(dsn):
        rest = dsn.split("://", 1)[1]
        credentials = _url_credentials(rest)
        if credentials is not None and credentials[1]:
            found.add(credentials[1])
            found.add(urllib.parse.unquote(credentials[1]))
        # As meant, if a raw '@' or '/' confused libpq: up to the last '@'.
        if "@" in rest:
            userinfo = rest.rsplit("@", 1)[0]
            found.add(userinfo.partition(":")[2])
        for pair in rest.partition("?")[2].split("&"):
            key, _, value = pair.partition("=")
            if urllib.parse.unquote(key) in _SECRET_KEYS and value:
                found.add(value)
                found.add(urllib.parse.unquote(value))
    # A password that is also (part of) the user name, the database name...
    # is shown with them anyway: hiding it would only garble those.
    public = [str(value) for key, value in params.items() if key not in _SECRET_KEYS]
    kept = (text for text in found if text and not any(text in value for value in public))
    return tuple(sorted(kept, key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret of at least _MIN_SCRUB characters replaced by ***."""
    for secret in secrets:
        if len(secret) >= _MIN_SCRUB and secret in text:
            text = text.replace(secret, _HIDDEN)
    return text


def _safe_cause(error: BaseException, secrets: tuple[str, ...]) -> BaseException | None:
    """``error``, to chain to the one raised, unless its text shows a secret."""
    texts = [str(error), repr(error)]
    if any(_scrub(text, secrets) != text for text in texts):
        return None
    return error


def _display_dsn(dsn: str, params: Mapping[str, object], secrets: tuple[str, ...]) -> str:
    """The DSN without credentials, for messages, ``dsn`` and ``location``.

    Built from the DSN as libpq parses it (``params``), so that nothing libpq
    takes for a password is shown: a URL keeps its form, less the password of
    its user information and its ``password`` parameters; a key=value DSN is
    rebuilt from its parameters, less the password.

    Raises:
        StoreConfigError: a URL whose user name or password holds a raw '@' or
            '/', which libpq would take for part of a host name, port or
            database name (and show in its messages).
    """
    if not _is_url(dsn):
        from psycopg.conninfo import make_conninfo

        public = {key: value for key, value in params.items() if key not in _SECRET_KEYS}
        return _scrub(make_conninfo(**public), secrets)  # type: ignore[arg-type]
    scheme, rest = dsn.split("://", 1)
    credentials = _url_credentials(rest)
    head = f"{scheme}://"
    if credentials is not None:
        user, _, rest = credentials
        if user:
            head += f"{user}@"
    where, question, query = rest.partition("?")
    ports = str(params.get("port") or "")
    if "@" in where or not all(port.isdigit() for port in ports.split(",") if port):
        raise StoreConfigError(
            f"Invalid PostgreSQL URL {_hidden_dsn(dsn)!r}: a raw '@' or '/' in its user name "
            f"or password makes it ambiguous ({_PERCENT_ENCODE})"
        )
    # The parameters as libpq splits them (it parsed them all).
    kept = [
        pair
        for pair in query.split("&")
        if pair and urllib.parse.unquote(pair.partition("=")[0]) not in _SECRET_KEYS
    ]
    shown = head + where + ("?" + "&".join(kept) if question and kept else "")
    return _scrub(shown, secrets)


def _hidden_dsn(dsn: str) -> str:
    """A DSN that libpq cannot use, with everything that may be a credential hidden.

    Everything from the first password keyword or parameter on, and in a
    URL, all up to its last '@' before that (the user information, however
    it is written).
    """
    match = _SECRET_KEYWORD.search(dsn)
    if match is not None:
        dsn = dsn[: match.start()] + f"{match.group(1)}={_HIDDEN}"
    if not _is_url(dsn):
        return dsn
    scheme, rest = dsn.split("://", 1)
    if "@" in rest:
        rest = f"{_HIDDEN}@" + rest.rsplit("@", 1)[1]
    where, question, query = rest.partition("?")
    kept = _public_query(query)
    return f"{scheme}://{where}" + ("?" + "&".join(kept) if question and kept else "")


def _public_query(query: str) -> list[str]:
    """The parameters of a URL's query before its first password (a raw '&' may
    continue the password: what follows it is not shown)."""
    kept = []
    for pair in query.split("&"):
        if urllib.parse.unquote(pair.partition("=")[0]) in _SECRET_KEYS:
            break
        if pair:
            kept.append(pair)
    return kept


_SECRET_KEYWORD = re.compile(r"(?<![A-Za-z0-9_])((?:ssl)?password)\s*=", re.IGNORECASE)


def _without_quoted(reason: str) -> str:
    """libpq's reason with what it quotes of the DSN (from the first '"' to the last) elided."""
    first, last = reason.find('"'), reason.rfind('"')
    if first == -1:
        return reason
    if first == last:
        return reason[:first] + "…"
    return reason[:first] + "…" + reason[last + 1 :]
