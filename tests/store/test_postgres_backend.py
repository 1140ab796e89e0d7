"""What is particular to PostgresBackend: optional import, schema, server clock, pool, errors.

The behaviour it shares with SqliteBackend is in test_sql_backends.py, and
what it shares with every backend in the conformance, corruption,
concurrency, crash, gc, verify and copy tests, which run against PostgreSQL
too (see _store_testlib.BACKEND_KINDS).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest
from _store_testlib import BackendFactory, Box, fresh_ref, postgres_admin, postgres_sessions

import enact_resource as er
import enact_store as es

# --- without a server ------------------------------------------------------------------


def test_importing_enact_store_does_not_import_psycopg() -> None:
    code = (
        "import sys, enact_store\n"
        "assert enact_store.PostgresBackend\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["psycopg", "psycopg_pool"])
def test_without_psycopg_the_backend_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail

    with pytest.raises(ImportError, match=r"pip install 'enact-store\[postgres\]'"):
        es.PostgresBackend("postgresql://user@127.0.0.1:1/db")
    with pytest.raises(ImportError, match=r"enact-store\[postgres\]"):
        es.open_store("postgresql://user@127.0.0.1:1/db")


@pytest.mark.parametrize(
    ("min_size", "max_size"), [(2, 1), (-1, 4), (0, 0)], ids=["min>max", "negative", "empty"]
)
def test_bad_pool_sizes_raise_store_config_error(min_size: int, max_size: int) -> None:
    with pytest.raises(es.StoreConfigError, match="min_size"):
        es.PostgresBackend("postgresql://user@127.0.0.1:1/db", min_size=min_size, max_size=max_size)


def test_an_invalid_dsn_raises_one_line_store_config_error() -> None:
    with pytest.raises(es.StoreConfigError, match="Invalid PostgreSQL DSN") as caught:
        es.PostgresBackend("host=127.0.0.1 password=hunter2 nonsense")

    assert "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://user:hunter2@127.0.0.1:1/db",
        "postgresql://user@127.0.0.1:1/db?password=hunter2",
        "host=127.0.0.1 port=1 user=user password=hunter2 dbname=db",
        "host=127.0.0.1 port=1 user=user password='hunter2 x' dbname=db",
    ],
)
def test_an_unreachable_server_raises_one_line_without_the_password(dsn: str) -> None:
    with pytest.raises(es.StoreConfigError, match="Cannot open PostgreSQL store") as caught:
        es.PostgresBackend(dsn)

    message = str(caught.value)
    assert "\n" not in message
    assert "hunter2" not in message
    assert "127.0.0.1" in message


# --- against the server -----------------------------------------------------------------


@pytest.fixture
def backend(postgres_factory: BackendFactory) -> es.PostgresBackend:
    backend = postgres_factory()  # closed by the factory
    assert isinstance(backend, es.PostgresBackend)
    return backend


def test_tables_are_created_on_first_use_in_the_schema_of_the_search_path(
    postgres_factory: BackendFactory,
) -> None:
    assert postgres_factory.sql("SELECT to_regclass('objects')") == [(None,)]

    postgres_factory()

    columns = postgres_factory.sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    assert columns == [
        ("enact_meta", "key", "text"),
        ("enact_meta", "value", "text"),
        ("objects", "digest", "text"),
        ("objects", "data", "bytea"),
        ("objects", "written", "double precision"),
        ("tags", "name", "text"),
        ("tags", "digest", "text"),
    ]
    assert postgres_factory.sql("SELECT key, value FROM enact_meta") == [("format", "1")]


def test_many_backends_created_at_once_on_a_new_schema_all_work(
    postgres_factory: BackendFactory,
) -> None:
    url = postgres_factory.url
    backends: list[es.PostgresBackend] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        try:
            barrier.wait()
            backends.append(es.PostgresBackend(url))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        refs = [es.Store(b).commit(Box(i)) for i, b in enumerate(backends)]
        assert all(es.Store(backends[0]).has(ref) for ref in refs)
    finally:
        for backend in backends:
            backend.close()


def test_stores_in_different_schemas_do_not_see_each_other(
    postgres_factory: BackendFactory, tmp_path: Any
) -> None:
    other_factory = BackendFactory("postgres", tmp_path / "other")
    try:
        mine, other = es.Store(postgres_factory()), es.Store(other_factory())
        ref = mine.commit(Box("mine"))
        mine.tags["main"] = ref

        assert not other.has(fresh_ref(ref))
        assert "main" not in other.tags
    finally:
        other_factory.close_all()


def test_write_times_and_now_come_from_the_server_clock(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    (server_before,) = postgres_factory.sql("SELECT date_part('epoch', clock_timestamp())")[0]
    ref = es.Store(backend).commit(Box("stamped"))
    now = backend.now()
    (server_after,) = postgres_factory.sql("SELECT date_part('epoch', clock_timestamp())")[0]

    [(written,)] = postgres_factory.sql("SELECT written FROM objects")
    assert server_before <= written <= now <= server_after
    assert dict(backend.iter_objects()) == {ref.digest: written}


def test_recommitting_a_recent_object_does_not_rewrite_its_row(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    store = es.Store(backend)
    ref = store.commit(Box("recent"))
    [(xmin_before, written_before)] = postgres_factory.sql(
        "SELECT xmin::text, written FROM objects"
    )

    store.commit(Box("recent"))
    backend.commit_many([es.Ref.pack(Box("recent"))])

    assert postgres_factory.sql("SELECT xmin::text, written FROM objects") == [
        (xmin_before, written_before)
    ]
    assert store.has(ref)


def test_location_repr_and_dsn_name_the_database_without_the_password(
    postgres_factory: BackendFactory,
) -> None:
    backend = postgres_factory()
    digest = er.digest(Box(1))
    url = postgres_factory.url
    password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]

    assert isinstance(backend, es.PostgresBackend)
    assert backend.location(digest).startswith("postgresql postgresql://")
    assert backend.location(digest).endswith(f" objects row {digest}")
    for text in (backend.location(digest), repr(backend), backend.dsn):
        assert url.split("@", 1)[1] in text
        if password:
            assert f":{password}@" not in text


def test_operations_survive_the_server_ending_the_connections(
    backend: es.PostgresBackend,
) -> None:
    store = es.Store(backend)
    ref = store.commit(Box("before"))
    # The server ends every session of this backend's pool (as on a restart).
    pids = postgres_sessions()
    assert pids
    for pid in pids:
        postgres_admin().execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))

    with store:
        assert fresh_ref(ref).get() == Box("before")
        assert store.commit(Box("after")).get() == Box("after")


def test_a_failing_query_raises_one_line_store_error(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    postgres_factory.sql("DROP TABLE objects")

    with pytest.raises(es.StoreError, match="objects") as caught:
        es.Store(backend).commit(Box(1))

    assert "\n" not in str(caught.value)
    assert "PostgreSQL store" in str(caught.value)
