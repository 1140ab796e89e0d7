"""SqlBackend: what SqliteBackend and PostgresBackend share (two tables, the same queries).

Private: the subclasses say how a statement runs (connections, retries), how
objects are inserted (the clock that stamps them, transactions) and how they
are deleted in batches; this module holds the rest.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from enact_resource import ResourceDict
from enact_store._backend import StorageBackend, check_tag_name
from enact_store._codec import decode_object, encode_object
from enact_store._errors import ReadOnlyStoreError
from enact_store._ref import PackedResource, Ref, check_digest
from enact_store._runs import (
    RUN_TAG_PREFIX,
    CallTime,
    RunEntry,
    RunStep,
    claim_outcome,
    path_key,
    step_from,
)

__all__ = ["PAGE", "READ_PAGE", "SqlBackend"]

_T = TypeVar("_T")

#: Rows per statement batch when listing or deleting (and committing, where batched).
PAGE = 1000

#: Digests per query when reading objects in bulk (under SQLite's old limit of
#: 999 parameters per statement).
READ_PAGE = 500

_HEX64 = re.compile(r"[0-9a-f]{64}")


class SqlCursor(Protocol):
    """What the shared queries use of a DB-API cursor (sqlite3's or psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class SqlConnection(Protocol):
    """What the shared queries use of a connection: ``execute`` returning a cursor."""

    def execute(self, sql: str, params: Any = ..., /) -> SqlCursor: ...


_C = TypeVar("_C", bound=SqlConnection)


class SqlBackend(StorageBackend, Generic[_C]):
    """Stores objects and tags in two SQL tables, through connections of type ``_C``.

    The tables are ``objects(digest, data, written)``, the encoded objects and
    when each was last written (on the backend's clock, :meth:`now`), and
    ``tags(name, digest)``; digests and tag names are their primary keys.
    Every operation is idempotent, so a subclass's :meth:`_run` may run it
    again after a transient failure.
    """

    #: The driver's parameter placeholder: ``?`` (qmark) or ``%s`` (format).
    _PARAM: ClassVar[str]

    #: Where the tables are, for :meth:`location` (e.g. ``sqlite /path/store.db``).
    _place: str

    #: A query for the (digest, written) of the rows of ``objects`` that may be
    #: malformed (a superset is fine: each row is checked again in Python).
    _MALFORMED_OBJECTS: ClassVar[str]

    # --- What a subclass provides. ---

    @abc.abstractmethod
    def _run(self, operation: Callable[[_C], _T]) -> _T:
        """Runs ``operation`` on a connection, retrying while the failure is transient.

        Raises :class:`StoreError` for a failure that is not, or that lasts.
        """

    @abc.abstractmethod
    def _insert(self, digest: str, data: bytes) -> None:
        """Upserts one (checked, encoded) object, stamping it with the backend's clock."""

    @abc.abstractmethod
    def _insert_many(self, rows: dict[str, bytes]) -> None:
        """Upserts (checked, encoded) objects by digest, all in one transaction."""

    @abc.abstractmethod
    def _delete_batch(self, batch: list[str], limit: float, conn: _C) -> list[str]:
        """Deletes the objects of ``batch`` last written before ``limit``; returns their digests.

        At most :data:`PAGE` digests. The time is checked in the statement
        that deletes, so an object that a concurrent commit refreshes is
        never deleted.
        """

    @abc.abstractmethod
    def _delete_all(self, digests: list[str], limit: float, conn: _C) -> bool:
        """Deletes all of ``digests`` (distinct, any number) in one transaction if all are
        stored and last written before ``limit``, else none; returns whether it did."""

    @abc.abstractmethod
    def _refresh_batch(self, batch: list[str], conn: _C) -> None:
        """Stamps the stored objects of ``batch`` (at most :data:`PAGE`) with the clock."""

    def _fetch_binary(self, conn: _C, sql: str, params: Any) -> Any:
        """The first row of a query whose result holds binary data, or None."""
        return conn.execute(sql, params).fetchone()

    # --- Objects. ---

    def location(self, digest: str) -> str:
        return f"{self._place} objects row {check_digest(digest)}"

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"{self._place} is open read-only")

    def commit(self, packed_resource: PackedResource[Any]) -> None:
        if self.read_only:
            self._check_writable()
        digest = check_digest(packed_resource.ref._digest)
        self._insert(digest, encode_object(packed_resource))

    def commit_many(self, packed_resources: Iterable[PackedResource[Any]]) -> None:
        self._check_writable()
        # Encode everything first: a value that cannot be written fails
        # before anything is stored. One row per digest.
        rows = {
            check_digest(packed.ref._digest): encode_object(packed) for packed in packed_resources
        }
        if rows:
            self._insert_many(rows)

    def has(self, ref: Ref[Any]) -> bool:
        digest = check_digest(ref.digest)
        sql = f"SELECT 1 FROM objects WHERE digest = {self._PARAM}"
        row = self._run(lambda conn: conn.execute(sql, (digest,)).fetchone())
        return row is not None

    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        digest = check_digest(ref.digest)
        data = self._read(digest)
        if data is None:
            return None
        return decode_object(digest, data, functools.partial(self.location, digest), self)

    def read_raw(self, digest: str) -> bytes | None:
        """Returns the stored bytes of an object, or None."""
        return self._read(check_digest(digest))

    def read_raw_many(self, digests: Iterable[str]) -> dict[str, bytes]:
        """Returns the stored bytes of those of the objects the backend has, by digest.

        One query per :data:`READ_PAGE` digests (gc reads a whole store).
        """
        checked = list(dict.fromkeys(check_digest(digest) for digest in digests))
        found: dict[str, bytes] = {}
        for start in range(0, len(checked), READ_PAGE):
            batch = checked[start : start + READ_PAGE]
            rows = self._run(functools.partial(self._fetch_many, batch))
            found.update((digest, bytes(data)) for digest, data in rows)
        return found

    @abc.abstractmethod
    def _fetch_many(self, batch: list[str], conn: _C) -> list[tuple[str, Any]]:
        """The (digest, data) of the stored objects among ``batch`` (at most READ_PAGE)."""

    def _read(self, digest: str) -> bytes | None:
        sql = f"SELECT data FROM objects WHERE digest = {self._PARAM}"
        row = self._run(lambda conn: self._fetch_binary(conn, sql, (digest,)))
        if row is None:
            return None
        return bytes(row[0])

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        # Keyset paging on the primary key: no transaction or cursor stays
        # open while the caller works (and deletes or commits meanwhile).
        # Malformed rows are skipped here and reported by problems().
        p = self._PARAM
        sql = f"SELECT digest, written FROM objects WHERE digest > {p} ORDER BY digest LIMIT {p}"

        def fetch_page(after: Any, conn: _C) -> list[tuple[Any, Any]]:
            return conn.execute(sql, (after, PAGE)).fetchall()

        after: Any = ""
        while True:
            page = self._run(functools.partial(fetch_page, after))
            for digest, written in page:
                if _object_row_problem(digest, written) is None:
                    yield digest, float(written)
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def refresh(self, digests: Iterable[str]) -> None:
        self._check_writable()
        checked = [check_digest(digest) for digest in digests]
        for start in range(0, len(checked), PAGE):
            self._run(functools.partial(self._refresh_batch, checked[start : start + PAGE]))

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        self._check_writable()
        checked = [check_digest(digest) for digest in digests]
        limit = float("inf") if older_than is None else float(older_than)
        done: list[str] = []
        for start in range(0, len(checked), PAGE):
            batch = checked[start : start + PAGE]
            done.extend(self._run(functools.partial(self._delete_batch, batch, limit)))
        return done

    def delete_all_or_none(self, digests: Iterable[str], older_than: float) -> bool:
        self._check_writable()
        checked = list(dict.fromkeys(check_digest(digest) for digest in digests))
        if not checked:
            return True
        # Idempotent: run again after a lost connection, a batch deleted by
        # the first run is no longer all there, and nothing more is deleted.
        return self._run(functools.partial(self._delete_all, checked, float(older_than)))

    # --- Tags. ---

    def get_tag(self, name: str) -> str | None:
        check_tag_name(name)
        sql = f"SELECT digest FROM tags WHERE name = {self._PARAM}"
        row = self._run(lambda conn: conn.execute(sql, (name,)).fetchone())
        if row is None:
            return None
        return check_digest(row[0])

    def set_tag(self, name: str, digest: str) -> None:
        self._check_writable()
        check_tag_name(name)
        check_digest(digest)
        p = self._PARAM
        sql = (
            f"INSERT INTO tags (name, digest) VALUES ({p}, {p})"
            " ON CONFLICT (name) DO UPDATE SET digest = excluded.digest"
        )
        self._run(lambda conn: conn.execute(sql, (name, digest)))

    def delete_tag(self, name: str) -> bool:
        self._check_writable()
        check_tag_name(name)
        sql = f"DELETE FROM tags WHERE name = {self._PARAM}"
        count = self._run(lambda conn: conn.execute(sql, (name,)).rowcount)
        return count > 0

    def compare_and_set_tag(self, name: str, expected: str | None, new: str | None) -> bool:
        # One statement each, so each is atomic on its own (a row lock).
        self._check_writable()
        check_tag_name(name)
        p = self._PARAM
        if expected is None:
            if new is None:
                return self.get_tag(name) is None
            sql = f"INSERT INTO tags (name, digest) VALUES ({p}, {p}) ON CONFLICT (name) DO NOTHING"
            params: tuple[str, ...] = (name, check_digest(new))
        elif new is None:
            sql = f"DELETE FROM tags WHERE name = {p} AND digest = {p}"
            params = (name, check_digest(expected))
        else:
            sql = f"UPDATE tags SET digest = {p} WHERE name = {p} AND digest = {p}"
            params = (check_digest(new), name, check_digest(expected))
        count = self._run(lambda conn: conn.execute(sql, params).rowcount)
        return count == 1

    def list_tags(self) -> dict[str, str]:
        # Malformed rows are skipped here and reported by problems().
        return {
            name: digest
            for name, digest in self._tag_rows()
            if _tag_row_problem(name, digest) is None
        }

    def _tag_rows(self) -> list[tuple[Any, Any]]:
        sql = "SELECT name, digest FROM tags ORDER BY name"
        return self._run(lambda conn: conn.execute(sql).fetchall())

    # --- The run index (see StorageBackend.run_get): two tables made on first use. ---
    #
    # enact_runs holds one row per run, enact_run_steps each path's latest
    # step (RunStep: what started, finished or filled a slot, and when).
    # They are created by the first claim (never by a read: a store without
    # them lists no runs). A store written before steps were logged may have
    # enact_runs without head_seq (added by the first write; read as 0) and
    # enact_run_calls (times of finished calls, still read). Every write is one transaction that
    # first checks (and locks) the run's row, so that a writer whose epoch
    # was bumped writes nothing.

    #: An SQL expression for the backend's clock, in seconds since the epoch.
    _NOW: ClassVar[str]

    #: What locks a selected row until the transaction ends ('' where the
    #: transaction itself holds the database's write lock).
    _FOR_UPDATE: ClassVar[str] = ""

    _run_tables_made = False

    @abc.abstractmethod
    def _transaction(self, conn: _C) -> contextlib.AbstractContextManager[Any]:
        """A write transaction on ``conn``, committed at the end of the block, rolled
        back if it raises."""

    @abc.abstractmethod
    def _insert_in(self, conn: _C, rows: dict[str, bytes]) -> None:
        """Upserts (checked, encoded) objects, inside the open transaction."""

    @abc.abstractmethod
    def _table_exists(self, conn: _C, table: str) -> bool:
        """Whether the store has a table (a read)."""

    #: The column type of stored bytes.
    _BLOB: ClassVar[str] = "BLOB"

    run_logs_objects = True

    def _make_run_tables(self, conn: _C) -> None:
        for statement in _RUN_SCHEMA:
            conn.execute(statement.format(blob=self._BLOB))
        self._head_seq_column = None  # (Looked at again: another process may have added it.)
        if not self._has_head_seq(conn):
            conn.execute("ALTER TABLE enact_runs ADD COLUMN head_seq INTEGER NOT NULL DEFAULT 0")
        self._head_seq_column = True

    _head_seq_column: bool | None = None

    def _has_head_seq(self, conn: _C) -> bool:
        """Whether enact_runs has its head_seq column (a store's tables made before it may
        lack it; a read then takes it as 0)."""
        if self._head_seq_column is None:
            cursor = conn.execute("SELECT * FROM enact_runs WHERE 1 = 0")
            columns = [column[0] for column in cursor.description or ()]
            cursor.fetchall()
            self._head_seq_column = "head_seq" in columns
        return self._head_seq_column

    #: SQL's maximum of two values.
    _GREATEST: ClassVar[str] = "max"
    #: What locks a selected row against updates until the transaction ends ('' where
    #: the transaction itself holds the database's write lock).
    _FOR_SHARE: ClassVar[str] = ""

    _steps_table = False

    def _run_select(self, conn: _C) -> str:
        """Selects entries; their calls done and update time count the steps logged since
        the entry was last written (a checkpoint that logs steps leaves it as it is)."""
        head_seq = "head_seq" if self._has_head_seq(conn) else "0"
        calls, updated = "calls_done", "updated_at"
        if self._steps_table or self._table_exists(conn, "enact_run_steps"):
            self._steps_table = True
            steps = "FROM enact_run_steps s WHERE s.name = enact_runs.name"
            calls = f"{self._GREATEST}(calls_done, COALESCE((SELECT max(s.seq) {steps}), 0))"
            updated = f"{self._GREATEST}(updated_at, COALESCE((SELECT max(s.finished) {steps}), 0))"
        return (
            "SELECT name, request, owner, epoch, lease_until, state, started_at,"
            f" {updated}, {calls}, {head_seq}, {self._NOW} FROM enact_runs"
        )

    def _log_steps(self, conn: _C, name: str, owner: str, epoch: int, rows: list[Any]) -> bool:
        """A checkpoint that only logs steps: if ``owner`` holds ``epoch``, upserts them.

        The entry is not written: its lease is renewed by the owner's heartbeat,
        and its calls done and update time are read from the steps.
        """
        with self._transaction(conn):
            if conn.execute(self._fence_sql, (name, owner, epoch)).fetchone() is None:
                return False
            if rows:
                self._executemany(conn, self._log_sql, rows)
        return True

    @functools.cached_property
    def _fence_sql(self) -> str:
        p = self._PARAM
        return (
            f"SELECT 1 FROM enact_runs WHERE name = {p} AND owner = {p} AND epoch = {p}"
            f"{self._FOR_SHARE}"
        )

    @functools.cached_property
    def _log_sql(self) -> str:
        p = self._PARAM
        return (
            "INSERT INTO enact_run_steps (name, path, seq, request, invocation, started,"
            f" finished, objects) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
            " ON CONFLICT (name, path) DO UPDATE SET seq = excluded.seq,"
            " request = excluded.request, invocation = excluded.invocation,"
            " started = CASE WHEN excluded.started IS NULL THEN enact_run_steps.started"
            " ELSE excluded.started END,"
            " finished = CASE WHEN excluded.started IS NULL THEN enact_run_steps.finished"
            " ELSE excluded.finished END,"
            " objects = COALESCE(excluded.objects, enact_run_steps.objects)"
        )

    def _ensure_run_tables(self) -> None:
        self._check_writable()
        if not self._run_tables_made:

            def make(conn: _C) -> None:
                with self._transaction(conn):
                    self._make_run_tables(conn)

            self._run(make)
            self._run_tables_made = True

    def _run_row(self, conn: _C, name: str, lock: bool) -> RunEntry | None:
        p = self._PARAM
        sql = f"{self._run_select(conn)} WHERE name = {p}{self._FOR_UPDATE if lock else ''}"
        row = conn.execute(sql, (name,)).fetchone()
        return None if row is None else _run_entry(row)

    def run_get(self, name: str) -> RunEntry | None:
        def read(conn: _C) -> RunEntry | None:
            if not self._table_exists(conn, "enact_runs"):
                return None
            return self._run_row(conn, name, False)

        return self._run(read)

    def run_list(self) -> list[RunEntry]:
        def read(conn: _C) -> list[RunEntry]:
            if not self._table_exists(conn, "enact_runs"):
                return []
            sql = f"{self._run_select(conn)} ORDER BY name"
            return [_run_entry(row) for row in conn.execute(sql).fetchall()]

        return self._run(read)

    def run_calls(self, name: str) -> list[CallTime]:
        p = self._PARAM

        def read(conn: _C) -> list[CallTime]:
            times: dict[str, CallTime] = {}
            for table, where in (("enact_run_calls", ""), ("enact_run_steps", _FINISHED)):
                if self._table_exists(conn, table):
                    sql = f"SELECT path, started, finished FROM {table} WHERE name = {p}{where}"
                    for path, started, finished in conn.execute(sql, (name,)).fetchall():
                        times[path] = CallTime(str(path), float(started), float(finished))
            return list(times.values())

        return sorted(self._run(read), key=path_key)

    def run_log(self, name: str) -> dict[str, bytes]:
        sql = f"SELECT objects FROM enact_run_steps WHERE name = {self._PARAM}{_LOGGED}"

        def read(conn: _C) -> dict[str, bytes]:
            if not self._table_exists(conn, "enact_run_steps"):
                return {}
            return _unframe(row[0] for row in conn.execute(sql, (name,)).fetchall())

        return self._run(read)

    def run_steps(self, name: str, after: int) -> list[RunStep]:
        p = self._PARAM
        sql = (
            "SELECT path, seq, request, invocation, started, finished FROM enact_run_steps"
            f" WHERE name = {p} AND seq > {p}"
        )

        def read(conn: _C) -> list[RunStep]:
            if not self._table_exists(conn, "enact_run_steps"):
                return []
            return [step_from(*row) for row in conn.execute(sql, (name, after)).fetchall()]

        return self._run(read)

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
        self._ensure_run_tables()
        p = self._PARAM
        now = self._NOW
        insert = (
            f"INSERT INTO enact_runs ({_RUN_COLUMNS}) VALUES ({p}, {p}, {p}, 1, {now} + {p},"
            f" 'running', {now}, {now}, 0) ON CONFLICT (name) DO NOTHING"
        )
        take = (
            f"UPDATE enact_runs SET owner = {p}, epoch = epoch + 1, lease_until = {now} + {p},"
            f" state = 'running', updated_at = {now} WHERE name = {p}"
        )

        def claim(conn: _C) -> tuple[str, RunEntry | None]:
            with self._transaction(conn):
                entry = self._run_row(conn, name, True)
                if entry is None:
                    if request is None or head is None:
                        return "missing", None
                    conn.execute(insert, (name, check_digest(request), owner, lease))
                    self._set_tag_in(conn, RUN_TAG_PREFIX + name, check_digest(head))
                    return "claimed", self._run_row(conn, name, False)
                outcome = claim_outcome(entry, request, force, reopen)
                if outcome != "claimed":
                    return outcome, entry
                conn.execute(take, (owner, lease, name))
                return "claimed", self._run_row(conn, name, False)

        return self._run(claim)

    def _set_tag_in(self, conn: _C, name: str, digest: str) -> None:
        p = self._PARAM
        conn.execute(
            f"INSERT INTO tags (name, digest) VALUES ({p}, {p})"
            " ON CONFLICT (name) DO UPDATE SET digest = excluded.digest",
            (name, digest),
        )

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
        self._ensure_run_tables()
        rows = {check_digest(packed.ref._digest): encode_object(packed) for packed in objects}
        # Logged objects are kept in the row of the checkpoint's last step (the call
        # that finished): one row of the steps' table, rather than a page per object.
        encoded = [(check_digest(packed.ref._digest), encode_object(packed)) for packed in logged]
        framed = None
        if encoded:
            if steps:
                framed = _frame(encoded)
            else:
                rows.update(encoded)  # (No step to keep them with: into the store.)
        last = len(steps) - 1
        log_rows = [
            (
                name,
                step.path,
                step.seq,
                step.request,
                step.invocation,
                step.started,
                step.finished,
                framed if index == last else None,
            )
            for index, step in enumerate(steps)
        ]
        tag = None if head is None else check_digest(head)
        if tag is None and not rows and not move_log and state == "running":
            # Most checkpoints: steps only (a row or two, one statement on PostgreSQL).
            return self._run(lambda conn: self._log_steps(conn, name, owner, epoch, log_rows))

        p = self._PARAM
        now = self._NOW
        update = (
            f"UPDATE enact_runs SET state = {p}, lease_until = {now} + {p}, updated_at = {now},"
            f" calls_done = {p} WHERE name = {p} AND owner = {p} AND epoch = {p}"
        )
        moved = f"UPDATE enact_runs SET head_seq = {p} WHERE name = {p}"
        logged_sql = f"SELECT objects FROM enact_run_steps WHERE name = {p}{_LOGGED}"
        unlog = f"UPDATE enact_run_steps SET objects = NULL WHERE name = {p}{_LOGGED}"

        def checkpoint(conn: _C) -> bool:
            try:
                with self._transaction(conn):
                    # First: the row lock orders this write against claims.
                    changed = conn.execute(
                        update, (state, lease, calls_done, name, owner, epoch)
                    ).rowcount
                    if changed != 1:
                        raise _Fenced
                    if rows:
                        self._insert_in(conn, rows)
                    if move_log:
                        found = conn.execute(logged_sql, (name,)).fetchall()
                        if found:
                            self._insert_in(conn, _unframe(row[0] for row in found))
                            conn.execute(unlog, (name,))
                    if log_rows:
                        self._executemany(conn, self._log_sql, log_rows)
                    if tag is not None:
                        self._set_tag_in(conn, RUN_TAG_PREFIX + name, tag)
                        conn.execute(moved, (head_seq or 0, name))
            except _Fenced:
                return False
            return True

        return self._run(checkpoint)

    def _executemany(self, conn: _C, sql: str, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            conn.execute(sql, row)

    def run_heartbeat(self, name: str, *, owner: str, epoch: int, lease: float) -> bool:
        self._ensure_run_tables()
        p = self._PARAM
        sql = (
            f"UPDATE enact_runs SET lease_until = {self._NOW} + {p} WHERE name = {p}"
            f" AND owner = {p} AND epoch = {p} AND state = 'running'"
        )
        return self._run(lambda conn: conn.execute(sql, (lease, name, owner, epoch)).rowcount) == 1

    def run_create(self, name: str, *, request: str, head: str, state: str) -> bool:
        self._ensure_run_tables()
        p = self._PARAM
        now = self._NOW
        insert = (
            f"INSERT INTO enact_runs ({_RUN_COLUMNS}) VALUES ({p}, {p}, '', 0, {now},"
            f" {p}, {now}, {now}, 0) ON CONFLICT (name) DO NOTHING"
        )

        def create(conn: _C) -> bool:
            with self._transaction(conn):
                if conn.execute(insert, (name, check_digest(request), state)).rowcount != 1:
                    return False
                self._set_tag_in(conn, RUN_TAG_PREFIX + name, check_digest(head))
                return True

        return self._run(create)

    def run_delete(self, name: str) -> bool:
        self._ensure_run_tables()
        p = self._PARAM

        def delete(conn: _C) -> bool:
            with self._transaction(conn):
                found = conn.execute(f"DELETE FROM enact_runs WHERE name = {p}", (name,)).rowcount
                for table in ("enact_run_steps", "enact_run_calls"):
                    if self._table_exists(conn, table):
                        conn.execute(f"DELETE FROM {table} WHERE name = {p}", (name,))
                tagged = conn.execute(
                    f"DELETE FROM tags WHERE name = {p}", (RUN_TAG_PREFIX + name,)
                ).rowcount
                return found > 0 or tagged > 0

        return self._run(delete)

    # --- Entries that are neither objects nor tags. ---

    def problems(self) -> Iterator[tuple[str, str]]:
        sql = self._MALFORMED_OBJECTS
        rows = self._run(lambda conn: conn.execute(sql).fetchall())
        for digest, written in rows:
            detail = _object_row_problem(digest, written)
            if detail is not None:
                yield f"{self._place} objects row {digest!r:.100}", detail
        for name, digest in self._tag_rows():
            detail = _tag_row_problem(name, digest)
            if detail is not None:
                yield f"{self._place} tags row {name!r:.100}", detail


class _Fenced(Exception):
    """A checkpoint found another owner's epoch (rolls its transaction back)."""


_RUN_COLUMNS = "name, request, owner, epoch, lease_until, state, started_at, updated_at, calls_done"

_RUN_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS enact_runs (name TEXT PRIMARY KEY, request TEXT NOT NULL,"
    " owner TEXT NOT NULL, epoch INTEGER NOT NULL, lease_until DOUBLE PRECISION NOT NULL,"
    " state TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,"
    " updated_at DOUBLE PRECISION NOT NULL, calls_done INTEGER NOT NULL,"
    " head_seq INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS enact_run_steps (name TEXT NOT NULL, path TEXT NOT NULL,"
    " seq INTEGER NOT NULL, request TEXT, invocation TEXT, started DOUBLE PRECISION,"
    " finished DOUBLE PRECISION, objects {blob}, PRIMARY KEY (name, path))",
)

# The steps that keep objects a checkpoint logged (see Store._write_run_checkpoint).
_LOGGED = " AND objects IS NOT NULL"


def _frame(objects: Iterable[tuple[str, bytes]]) -> bytes:
    """Objects in one value: for each, its digest (64 bytes), its length (4), its bytes."""
    return b"".join(
        digest.encode() + len(data).to_bytes(4, "big") + data for digest, data in objects
    )


def _unframe(values: Iterable[Any]) -> dict[str, bytes]:
    """The objects in values made by :func:`_frame` (a cut or malformed one: skipped)."""
    objects: dict[str, bytes] = {}
    for value in values:
        data = bytes(value)
        at = 0
        while at + 68 <= len(data):
            digest = data[at : at + 64].decode("ascii", "replace")
            size = int.from_bytes(data[at + 64 : at + 68], "big")
            if at + 68 + size > len(data):
                break
            objects[digest] = data[at + 68 : at + 68 + size]
            at += 68 + size
    return objects


# The steps that hold a finished call's times (a start has no finish time yet).
_FINISHED = " AND started IS NOT NULL AND finished IS NOT NULL"


def _run_entry(row: Any) -> RunEntry:
    name, request, owner, epoch, lease_until, state, started, updated, done, head_seq, now = row
    return RunEntry(
        str(name),
        str(request),
        str(owner),
        int(epoch),
        float(lease_until),
        str(state),
        float(started),
        float(updated),
        int(done),
        float(now),
        int(head_seq),
    )


def _object_row_problem(digest: Any, written: Any) -> str | None:
    """What is wrong with a row of ``objects`` (its data aside), or None."""
    if type(digest) is not str or not _HEX64.fullmatch(digest):
        return f"the digest column holds {digest!r:.100}, not 64 lowercase hex digits"
    if type(written) not in (int, float) or written != written:  # NaN != NaN
        return f"the written column holds {written!r:.100}, not a time"
    return None


def _tag_row_problem(name: Any, digest: Any) -> str | None:
    """What is wrong with a row of ``tags``, or None."""
    try:
        check_tag_name(name)
    except ValueError:
        return f"{name!r:.100} is not a valid tag name"
    if type(digest) is not str or not _HEX64.fullmatch(digest):
        return f"the tag names {digest!r:.100}, not a digest (64 lowercase hex digits)"
    return None
