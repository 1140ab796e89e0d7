"""The repo's backends under test, and helpers shared by the store tests and their children.

Not a test module. tests/conftest.py puts this folder on sys.path, and the worker
script beside it (run as a child process) finds it there too. BackendFactory is
the conformance suite's factory (enact_store.testing.BackendFactory) for every
kind in KINDS, with every optional hook; the resource types are the suite's
(so they have the same type ids in the parent and in children).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import enact_resource as er
import enact_store as es
from enact_store import testing
from enact_store.testing import Box, Node, Pair

__all__ = [
    "BACKEND_KINDS",
    "IN_CI",
    "KINDS",
    "PERSISTENT_KINDS",
    "POSTGRES_URL_VAR",
    "SQL_KINDS",
    "BackendFactory",
    "Box",
    "Node",
    "Pair",
    "age_objects",
    "fresh_ref",
    "object_file",
    "postgres_admin",
    "postgres_sessions",
    "postgres_url",
    "read_raw",
    "tag_name",
    "with_search_path",
    "write_raw",
    "write_raw_tag",
    "written_time",
]

T = TypeVar("T", bound=er.ResourceBase)

POSTGRES_URL_VAR = "ENACT_TEST_POSTGRES_URL"
#: In CI (CI set) the PostgreSQL tests must run: without a server URL they fail, never skip.
IN_CI = bool(os.environ.get("CI"))
POSTGRES_CONFIGURED = bool(os.environ.get(POSTGRES_URL_VAR))


def postgres_url() -> str:
    """The test server's URL; raises (failing the test) if none is set, as in CI without one."""
    url = os.environ.get(POSTGRES_URL_VAR)
    if not url:
        raise RuntimeError(
            f"{POSTGRES_URL_VAR} is not set, and in CI the PostgreSQL tests must run: "
            'start a server with `eval "$(scripts/start-postgres)"`'
        )
    return url


def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections use ``schema`` (libpq's ``options``)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


_ADMIN: list[Any] = []  # one psycopg connection per process, opened on first use


def postgres_admin() -> Any:
    """A psycopg connection (autocommit) to the test server, shared by the tests of a process."""
    import psycopg

    if not _ADMIN or _ADMIN[0].closed:
        _ADMIN[:] = [psycopg.connect(postgres_url(), autocommit=True)]
    return _ADMIN[0]


class Kind(NamedTuple):
    """A backend the repo tests: how a factory makes the URL of its location."""

    url: Callable[[BackendFactory], str]
    #: Whether a new backend over the URL sees the data of the others.
    persistent: bool = True
    #: Whether BackendFactory's raw-access hooks (read_raw, write_raw, age,
    #: malformed_entries...) know this kind's storage; without them the
    #: conformance tests that need them are skipped, naming the hook.
    raw_access: bool = False


#: Every backend kind the repo tests, by name: adding a backend adds its line
#: here, and nothing else (its raw-access hooks below, which let more of the
#: conformance suite run on it, are optional).
KINDS: dict[str, Kind] = {
    "memory": Kind(lambda factory: "memory://", persistent=False),
    "file": Kind(lambda factory: f"file://{factory.tmp_path / 'file-store'}", raw_access=True),
    "sqlite": Kind(
        lambda factory: f"sqlite:///{factory.tmp_path / 'sqlite-store' / 'store.db'}",
        raw_access=True,
    ),
    "postgres": Kind(lambda factory: factory.postgres_location(), raw_access=True),
}

# The PostgreSQL backend joins the suites when a real server is named by the
# environment variable (scripts/start-postgres starts one), and always in CI.
BACKEND_KINDS = [kind for kind in KINDS if kind != "postgres" or POSTGRES_CONFIGURED or IN_CI]
PERSISTENT_KINDS = [kind for kind in BACKEND_KINDS if KINDS[kind].persistent]
#: The kinds that keep their objects and tags in SQL tables (subclasses of SqlBackend).
SQL_KINDS = ["sqlite", "postgres"]


class BackendFactory(testing.BackendFactory):
    """Opens backends of one kind (see KINDS) over one location (a fresh one per test).

    The conformance suite's factory (enact_store.testing.BackendFactory), with
    every hook: each call returns a new backend instance over the same stored
    data, as a new process would see it; for ``memory`` the data lives in
    the backend object, so every call returns that same object. For
    ``postgres`` the location is a schema of its own in the test database,
    dropped by :meth:`close_all`.
    """

    def __init__(self, kind: str, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.kind = kind
        self.persistent = KINDS[kind].persistent
        self._memory: es.StorageBackend | None = None
        self._schema: str | None = None

    # --- Opening. ---

    def open(self) -> es.StorageBackend:
        if not self.persistent:
            if self._memory is None:
                self._memory = es.open_store(KINDS[self.kind].url(self)).backend
            return self._memory
        backend = es.open_store(self._url()).backend
        if isinstance(backend, es.PostgresBackend):
            _RAW_URLS[backend] = self._url()
        return backend

    def open_read_only(self) -> es.StorageBackend:
        backend = es.open_store(self._url(), read_only=True).backend
        self._opened.append(backend)
        return backend

    @property
    def url(self) -> str | None:
        """The open_store URL of the location (None for kinds that are not persistent)."""
        return self._url() if self.persistent else None

    def _url(self) -> str:
        return KINDS[self.kind].url(self)

    def postgres_location(self) -> str:
        """The URL of a schema of this factory's own (made on first use)."""
        if self._schema is None:
            schema = f"enact_test_{uuid.uuid4().hex[:16]}"
            postgres_admin().execute(f"CREATE SCHEMA {schema}")
            self._schema = schema
        return with_search_path(postgres_url(), self._schema)

    def another(self) -> BackendFactory:
        other = BackendFactory(self.kind, self.tmp_path / f"another-{len(self._others)}")
        self._others.append(other)
        return other

    # --- Raw access (for every kind but memory, which can only be aged). ---

    def provides(self, hook: str) -> bool:
        if not self.persistent:
            return hook == "age"
        if not KINDS[self.kind].raw_access and hook not in ("url", "open_read_only"):
            return False
        return super().provides(hook)

    def read_raw(self, backend: es.StorageBackend, digest: str) -> bytes | None:
        return read_raw(backend, digest)

    def write_raw(self, backend: es.StorageBackend, digest: str, data: bytes) -> None:
        write_raw(backend, digest, data)

    def write_raw_tag(self, backend: es.StorageBackend, name: str, value: str) -> None:
        write_raw_tag(backend, name, value)

    def age(self, backend: es.StorageBackend, digests: Iterable[str], seconds: float) -> None:
        age_objects(backend, digests, seconds)

    def set_format_version(self, version: int) -> None:
        if self.kind == "sqlite":
            self.sql(f"PRAGMA user_version = {int(version)}")
        elif self.kind == "file":
            (self.tmp_path / "file-store" / "format").write_text(f"enact-store format {version}\n")
        else:
            self.sql("UPDATE enact_meta SET value = ? WHERE key = 'format'", [str(version)])

    def malformed_entries(self) -> dict[str, Plant]:
        return malformed_entries(self.kind)

    def sql(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Runs one statement on the location's tables, on a connection of its own.

        For the SQL kinds only. Placeholders are ``?`` (for PostgreSQL they
        become ``%s``). Returns the rows the statement yields, if any.
        """
        if self.kind == "sqlite":
            with _connect(self.tmp_path / "sqlite-store" / "store.db") as conn:
                return conn.execute(query, params or ()).fetchall()
        if self.kind == "postgres":
            return _postgres_sql(self._url(), query, params)
        raise ValueError(f"{self.kind} has no SQL tables")

    def __repr__(self) -> str:
        return f"BackendFactory({self.kind!r})"

    def close_all(self) -> None:
        super().close_all()
        if self._schema is not None:
            postgres_admin().execute(f"DROP SCHEMA {self._schema} CASCADE")
            self._schema = None


def _postgres_sql(url: str, query: str, params: Sequence[Any] | None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        cursor = pg.execute(query.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


# Where the test can reach a PostgresBackend's rows directly (its DSN with the password).
_RAW_URLS: weakref.WeakKeyDictionary[es.StorageBackend, str] = weakref.WeakKeyDictionary()


def tag_name(length: int, slashes: int) -> str:
    """A valid tag name of ``length`` characters with ``slashes`` '/' in it."""
    parts = slashes + 1
    size, extra = divmod(length - slashes, parts)
    return "/".join(chr(ord("a") + i % 26) * (size + (i < extra)) for i in range(parts))


def fresh_ref(ref: es.Ref[T]) -> es.Ref[T]:
    """A new ref to the same digest, with nothing cached."""
    return type(ref)(ref.digest)


# --- The raw stored bytes, as a user with direct access to the store would see them. ---


def object_file(root: Path, digest: str) -> Path:
    """Where FileBackend keeps an object (its documented layout: objects/ab/abcdef…)."""
    return root / "objects" / digest[:2] / digest


def read_raw(backend: es.StorageBackend, digest: str) -> bytes | None:
    """The stored bytes of an object, read without the backend (file or row)."""
    if isinstance(backend, es.FileBackend):
        path = object_file(backend.root_dir, digest)
        return path.read_bytes() if path.exists() else None
    if isinstance(backend, es.SqliteBackend):
        with _connect(backend.path) as conn:
            row = conn.execute("SELECT data FROM objects WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else bytes(row[0])
    if isinstance(backend, es.PostgresBackend):
        with _postgres(backend) as conn:
            row = conn.execute("SELECT data FROM objects WHERE digest = %s", (digest,)).fetchone()
        return None if row is None else bytes(row[0])
    raise TypeError(f"no raw access to {backend!r}")


def write_raw(backend: es.StorageBackend, digest: str, data: bytes) -> None:
    """Overwrites the stored bytes of an object behind the backend's back."""
    if isinstance(backend, es.FileBackend):
        object_file(backend.root_dir, digest).write_bytes(data)
        return
    if isinstance(backend, es.SqliteBackend):
        with _connect(backend.path) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO objects (digest, data, written) VALUES (?, ?, 0)",
                (digest, data),
            )
        return
    if isinstance(backend, es.PostgresBackend):
        with _postgres(backend) as conn:
            updated = conn.execute(
                "UPDATE objects SET data = %s WHERE digest = %s", (data, digest)
            ).rowcount
            if not updated:
                conn.execute(
                    "INSERT INTO objects (digest, data, written) VALUES (%s, %s, 0)",
                    (digest, data),
                )
        return
    raise TypeError(f"no raw access to {backend!r}")


def write_raw_tag(backend: es.StorageBackend, name: str, value: str) -> None:
    """Overwrites what a tag holds behind the backend's back."""
    if isinstance(backend, es.FileBackend):
        (backend.root_dir / "tags" / name).write_text(value + "\n")
    elif isinstance(backend, es.SqliteBackend):
        with _connect(backend.path) as conn:
            conn.execute("UPDATE tags SET digest = ? WHERE name = ?", (value, name))
    elif isinstance(backend, es.PostgresBackend):
        with _postgres(backend) as conn:
            conn.execute("UPDATE tags SET digest = %s WHERE name = %s", (value, name))
    else:
        raise TypeError(f"no raw access to {backend!r}")


def age_objects(backend: es.StorageBackend, digests: Iterable[str], seconds: float) -> None:
    """Makes objects look as if they were last written ``seconds`` earlier."""
    digests = list(digests)
    if isinstance(backend, es.InMemoryBackend):
        for digest in digests:
            backend._times[digest] -= seconds  # no public way to age an in-memory object
    elif isinstance(backend, es.FileBackend):
        for digest in digests:
            path = object_file(backend.root_dir, digest)
            written = path.stat().st_mtime - seconds
            os.utime(path, (written, written))
    elif isinstance(backend, es.SqliteBackend):
        with _connect(backend.path) as conn:
            conn.executemany(
                "UPDATE objects SET written = written - ? WHERE digest = ?",
                [(seconds, digest) for digest in digests],
            )
    elif isinstance(backend, es.PostgresBackend):
        with _postgres(backend) as conn:
            conn.execute(
                "UPDATE objects SET written = written - %s WHERE digest = ANY(%s)",
                (seconds, digests),
            )
    else:
        raise TypeError(f"cannot age objects of {backend!r}")


def written_time(backend: es.StorageBackend, digest: str) -> float:
    """When the backend says an object was last written (see StorageBackend.iter_objects)."""
    times = dict(backend.iter_objects())
    return times[digest]


def postgres_sessions() -> set[int]:
    """The server processes of this process's open PostgresBackend connections.

    Only this process's: other test processes (pytest-xdist workers, other
    runs sharing the server) have sessions of their own, which a test must
    neither count nor end. A session is this process's if its client port
    is the local port of one of this process's TCP sockets.
    """
    rows = (
        postgres_admin()
        .execute(
            "SELECT pid, client_port FROM pg_stat_activity WHERE application_name = 'enact-store'"
            " AND datname = current_database()"
        )
        .fetchall()
    )
    ports = _own_tcp_ports()
    return {pid for pid, port in rows if port in ports}


def _own_tcp_ports() -> set[int]:
    """The local ports of this process's TCP sockets (Linux: /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _postgres(backend: es.StorageBackend) -> Any:
    """A new psycopg connection (a context manager) to a PostgresBackend's tables."""
    import psycopg

    return psycopg.connect(_RAW_URLS[backend], autocommit=True)


class _connect:
    """sqlite3.connect as a context manager that commits and closes."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=30)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.conn.commit()
        self.conn.close()


# --- Malformed entries: rows and files that are neither objects nor tags. ---

#: Plants one malformed entry in a backend's store; returns text its location contains.
Plant = Callable[[es.StorageBackend], str]

_DIGEST = er.digest(Box("not stored"))
_DATA = er.JsonSerializer(compact=True).serialize(Box(1).to_resource_dict())


def _sql(backend: es.StorageBackend, query: str, params: Sequence[Any]) -> None:
    """Runs one statement on a SQL backend's tables behind its back (``?`` placeholders)."""
    if isinstance(backend, es.SqliteBackend):
        with _connect(backend.path) as conn:
            conn.execute(query, params)
    else:
        _postgres_sql(_RAW_URLS[backend], query, params)


def _sql_object(digest: object, written: object = 0) -> Plant:
    def plant(backend: es.StorageBackend) -> str:
        _sql(
            backend,
            "INSERT INTO objects (digest, data, written) VALUES (?, ?, ?)",
            [digest, _DATA, written],
        )
        return f"objects row {digest!r:.40}"

    return plant


def _sql_tag(name: str, digest: str) -> Plant:
    def plant(backend: es.StorageBackend) -> str:
        _sql(backend, "INSERT INTO tags (name, digest) VALUES (?, ?)", [name, digest])
        return f"tags row {name!r}"

    return plant


_SQL_ENTRIES: dict[str, Plant] = {
    "object-not-a-digest": _sql_object("notadigest"),
    "object-uppercase-digest": _sql_object(_DIGEST.upper()),
    "object-digest-with-a-newline": _sql_object(_DIGEST[:63] + "\n"),
    "object-empty-digest": _sql_object(""),
    "tag-naming-no-digest": _sql_tag("broken", "../../etc/passwd"),
    "tag-naming-a-short-digest": _sql_tag("short", _DIGEST[:12]),
    "tag-with-an-invalid-name": _sql_tag("../evil", _DIGEST),
}
_SQLITE_ENTRIES: dict[str, Plant] = {  # SQLite keeps any value in any column.
    "object-time-not-a-number": _sql_object(_DIGEST, "yesterday"),
    "object-blob-digest": _sql_object(_DIGEST.encode()),
}
_POSTGRES_ENTRIES: dict[str, Plant] = {"object-time-nan": _sql_object(_DIGEST, float("nan"))}


def _file(
    relative: str, content: bytes = _DATA, *, directory: bool = False, reported: str = ""
) -> Plant:
    """Plants a file (or directory); the problem is reported at ``reported`` (default: it)."""

    def plant(backend: es.StorageBackend) -> str:
        assert isinstance(backend, es.FileBackend)
        path = backend.root_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            path.mkdir()
        else:
            path.write_bytes(content)
        return f"file {backend.root_dir / (reported or relative)}"

    return plant


_FILE_ENTRIES: dict[str, Plant] = {
    "file-in-a-stray-shard": _file("objects/zz/notadigest", reported="objects/zz"),
    "stray-shard-with-a-digest-like-file": _file(
        f"objects/zz/zz{_DIGEST[2:]}", reported="objects/zz"
    ),
    "file-not-named-by-a-digest": _file(f"objects/{_DIGEST[:2]}/notadigest"),
    "digest-in-the-wrong-shard": _file(f"objects/00/{_DIGEST.replace('0', '1')}"),
    "uppercase-digest-file": _file(f"objects/{_DIGEST[:2]}/{_DIGEST.upper()}"),
    "directory-named-like-an-object": _file(f"objects/{_DIGEST[:2]}/{_DIGEST}", directory=True),
    "file-at-the-top-of-objects": _file("objects/README"),
    "empty-directory-in-objects": _file("objects/backup", directory=True),
    "directory-in-tags": _file("tags/main-old", directory=True),
    "tag-file-naming-no-digest": _file("tags/broken", b"../../etc/passwd\n"),
    "tag-file-not-utf8": _file("tags/binary", b"\xff\xfe\x00"),
    "tag-file-with-an-invalid-name": _file("tags/.hidden", _DIGEST.encode()),
}


def malformed_entries(kind: str) -> dict[str, Plant]:
    """Every malformed entry a store of the kind can hold, by name."""
    if kind == "file":
        return _FILE_ENTRIES
    if kind == "sqlite":
        return {**_SQL_ENTRIES, **_SQLITE_ENTRIES}
    if kind == "postgres":
        return {**_SQL_ENTRIES, **_POSTGRES_ENTRIES}
    return {}
