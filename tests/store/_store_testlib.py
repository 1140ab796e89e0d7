"""Resource types and helpers shared by the store tests and their child processes.

Not a test module. tests/conftest.py puts this folder on sys.path, and the worker
script beside it (run as a child process) finds it there too, so the types
have the same names, and the same type ids, in the parent and in children.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import uuid
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import enact_resource as er
import enact_store as es

T = TypeVar("T", bound=er.ResourceBase)

POSTGRES_URL_VAR = "ENACT_TEST_POSTGRES_URL"
#: In CI (CI set) the PostgreSQL tests must run: without a server URL they fail, never skip.
IN_CI = bool(os.environ.get("CI"))
POSTGRES_CONFIGURED = bool(os.environ.get(POSTGRES_URL_VAR))

# The PostgreSQL backend joins the suites when a real server is named by the
# environment variable (scripts/start-postgres starts one), and always in CI.
BACKEND_KINDS = ["memory", "file", "sqlite"]
PERSISTENT_KINDS = ["file", "sqlite"]
if POSTGRES_CONFIGURED or IN_CI:
    BACKEND_KINDS.append("postgres")
    PERSISTENT_KINDS.append("postgres")
#: The kinds that keep their objects and tags in SQL tables (subclasses of SqlBackend).
SQL_KINDS = ["sqlite", "postgres"]


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


class BackendFactory:
    """Opens backends of one kind over one location (a fresh one per test).

    Each call returns a new backend instance over the same stored data, as a
    new process would see it; for ``memory`` the data lives in the backend
    object, so every call returns that same object. For ``postgres`` the
    location is a schema of its own in the test database, dropped by
    :meth:`close_all`.
    """

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.persistent = kind != "memory"
        self._memory: es.InMemoryBackend | None = None
        self._opened: list[es.StorageBackend] = []
        self._schema: str | None = None

    @property
    def url(self) -> str:
        """The open_store URL of the location (persistent kinds only)."""
        if self.kind == "file":
            return f"file://{self.tmp_path / 'file-store'}"
        if self.kind == "sqlite":
            return f"sqlite:///{self._sqlite_path}"
        if self.kind == "postgres":
            if self._schema is None:
                schema = f"enact_test_{uuid.uuid4().hex[:16]}"
                postgres_admin().execute(f"CREATE SCHEMA {schema}")
                self._schema = schema
            return with_search_path(postgres_url(), self._schema)
        raise ValueError(f"{self.kind} has no URL")

    @property
    def _sqlite_path(self) -> Path:
        return self.tmp_path / "sqlite-store" / "store.db"

    def sql(self, query: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Runs one statement on the location's tables, on a connection of its own.

        For the SQL kinds only. Placeholders are ``?`` (for PostgreSQL they
        become ``%s``). Returns the rows the statement yields, if any.
        """
        if self.kind == "sqlite":
            with _connect(self._sqlite_path) as conn:
                return conn.execute(query, params or ()).fetchall()
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as pg:
                cursor = pg.execute(query.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        raise ValueError(f"{self.kind} has no SQL tables")

    def __call__(self) -> es.StorageBackend:
        backend = self._open()
        self._opened.append(backend)
        if isinstance(backend, es.PostgresBackend):
            _RAW_URLS[backend] = self.url
        return backend

    def _open(self) -> es.StorageBackend:
        if self.kind == "memory":
            if self._memory is None:
                self._memory = es.InMemoryBackend()
            return self._memory
        if self.kind == "file":
            return es.FileBackend(self.tmp_path / "file-store")
        if self.kind == "sqlite":
            return es.SqliteBackend(self._sqlite_path)
        if self.kind == "postgres":
            return es.PostgresBackend(self.url)
        raise ValueError(f"unknown backend kind {self.kind!r}")

    def close_all(self) -> None:
        for backend in self._opened:
            backend.close()
        self._opened.clear()
        if self._schema is not None:
            postgres_admin().execute(f"DROP SCHEMA {self._schema} CASCADE")
            self._schema = None

    def __enter__(self) -> BackendFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()


# Where the test can reach a PostgresBackend's rows directly (its DSN with the password).
_RAW_URLS: weakref.WeakKeyDictionary[es.StorageBackend, str] = weakref.WeakKeyDictionary()


@er.register
@dataclasses.dataclass
class Box(er.Resource):
    """One value of any legal kind."""

    value: Any


@er.register
@dataclasses.dataclass
class Pair(er.Resource):
    """Fields declared out of alphabetical order."""

    zeta: Any
    alpha: Any


@er.register
@dataclasses.dataclass
class Node(er.Resource):
    """A node of a DAG: children are refs to other nodes."""

    label: str
    children: list[es.Ref[Node]]


def tag_name(length: int, slashes: int) -> str:
    """A valid tag name of ``length`` characters with ``slashes`` '/' in it."""
    parts = slashes + 1
    size, extra = divmod(length - slashes, parts)
    return "/".join(chr(ord("a") + i % 26) * (size + (i < extra)) for i in range(parts))


def fresh_ref(ref: es.Ref[T]) -> es.Ref[T]:
    """A new ref to the same digest, with nothing cached."""
    return type(ref)(ref.digest)


def canonical(value: Any) -> Any:
    """A type-exact, comparable form of a value (NaN equals NaN, -0.0 differs from 0.0).

    Booleans compare as the integers they digest as (SPEC 3.2: ``True`` and
    ``1`` have one digest), since a store holds one object per digest.
    """
    if isinstance(value, er.ResourceBase):
        value = value.to_resource_dict()
    cls = type(value)
    if value is None:
        return None
    if cls is bool or cls is int:
        return ("int", int(value))
    if cls is float:
        return ("float", repr(value))
    if cls is str:
        return ("str", value)
    if cls is bytes:
        return ("bytes", value)
    if isinstance(value, type) and issubclass(value, er.ResourceBase):
        return ("type", value.type_id())
    if cls is er.ResourceDict:
        return ("res", value.type.type_id(), [(k, canonical(v)) for k, v in value.items()])
    if cls is dict:
        return ("map", sorted((k, canonical(v)) for k, v in value.items()))
    if cls in (list, tuple):
        return ("seq", [canonical(v) for v in value])
    raise AssertionError(f"unexpected value in a resource: {value!r}")


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
    """The server processes of the open PostgresBackend connections (of every test)."""
    rows = (
        postgres_admin()
        .execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'enact-store'"
            " AND datname = current_database()"
        )
        .fetchall()
    )
    return {row[0] for row in rows}


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


# --- Objects of types this process never registers. ---

_COMMIT_ELSEWHERE = """
import dataclasses, sys
import enact_resource as er
import enact_store as es

@er.register
@dataclasses.dataclass
class Elsewhere(er.Resource):
    label: str
    links: list

store = es.open_store(sys.argv[1])
links = [es.Ref(digest) for digest in sys.argv[3:]]
print(store.commit(Elsewhere(sys.argv[2], links)).digest)
store.close()
"""

#: The type name of what commit_elsewhere commits (defined in a child's __main__).
ELSEWHERE_TYPE = "__main__.Elsewhere"


def commit_elsewhere(url: str, label: str, links: Sequence[str] = ()) -> str:
    """Commits, in a child process, an object of a type this process does not have.

    The object is an ``Elsewhere(label, links)`` holding refs to ``links``
    (digests); returns its digest.
    """
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _COMMIT_ELSEWHERE, url, label, *links],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


# --- What the concurrency workers commit (so the parent knows every digest). ---


def shared_resource(i: int) -> Box:
    """The i-th resource that every thread of every worker commits."""
    return Box({"shared": i, "data": [i, float(i) / 3, str(i) * 10]})


def own_resource(process: int, thread: int, j: int) -> Box:
    """The j-th resource that only one thread of one worker commits."""
    return Box({"process": process, "thread": thread, "j": j})
