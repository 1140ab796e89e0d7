"""What is particular to PostgresBackend: optional import, schema, server clock, pool, errors.

The behaviour it shares with every backend is in the conformance, corruption,
concurrency, crash, gc, verify and copy tests, which run against PostgreSQL
too (see _store_testlib.BACKEND_KINDS).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import pytest
from _store_testlib import BackendFactory, Box, fresh_ref, postgres_admin, read_raw

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


def _sql(factory: BackendFactory, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Runs a query in the factory's schema, on a connection of its own."""
    import psycopg

    with psycopg.connect(factory.url, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def test_tables_are_created_on_first_use_in_the_schema_of_the_search_path(
    postgres_factory: BackendFactory,
) -> None:
    assert _sql(postgres_factory, "SELECT to_regclass('objects')") == [(None,)]

    postgres_factory()

    columns = _sql(
        postgres_factory,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    assert columns == [
        ("objects", "digest", "text"),
        ("objects", "data", "bytea"),
        ("objects", "written", "double precision"),
        ("tags", "name", "text"),
        ("tags", "digest", "text"),
    ]


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


def test_commit_stores_one_row_however_often_it_is_repeated(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    store = es.Store(backend)
    for _ in range(3):
        ref = store.commit(Box("once"))
    backend.commit_many([es.Ref.pack(Box("once")), es.Ref.pack(Box("once"))])

    assert _sql(postgres_factory, "SELECT digest FROM objects") == [(ref.digest,)]


def test_write_times_and_now_come_from_the_server_clock(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    (server_before,) = _sql(postgres_factory, "SELECT date_part('epoch', clock_timestamp())")[0]
    ref = es.Store(backend).commit(Box("stamped"))
    now = backend.now()
    (server_after,) = _sql(postgres_factory, "SELECT date_part('epoch', clock_timestamp())")[0]

    [(written,)] = _sql(postgres_factory, "SELECT written FROM objects")
    assert server_before <= written <= now <= server_after
    assert dict(backend.iter_objects()) == {ref.digest: written}


def test_recommitting_a_recent_object_does_not_rewrite_its_row(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    store = es.Store(backend)
    ref = store.commit(Box("recent"))
    [(xmin_before, written_before)] = _sql(
        postgres_factory, "SELECT xmin::text, written FROM objects"
    )

    store.commit(Box("recent"))
    backend.commit_many([es.Ref.pack(Box("recent"))])

    assert _sql(postgres_factory, "SELECT xmin::text, written FROM objects") == [
        (xmin_before, written_before)
    ]
    assert store.has(ref)


def test_commit_many_is_one_transaction(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    # A trigger fails the insert of one object, in the middle of the batch.
    poisoned = es.Ref.pack(Box("poisoned"))
    _sql(
        postgres_factory,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.digest = '{poisoned.ref.digest}' THEN RAISE EXCEPTION 'refused by test';"
        " END IF; RETURN NEW; END $$",
    )
    _sql(
        postgres_factory,
        "CREATE TRIGGER refuse BEFORE INSERT ON objects FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    packed = [es.Ref.pack(er.Int(i)) for i in range(1500)] + [poisoned]

    with pytest.raises(es.StoreError, match="refused by test"):
        backend.commit_many(packed)

    assert _sql(postgres_factory, "SELECT count(*) FROM objects") == [(0,)]


def test_commit_many_refuses_an_unregistered_type_before_writing(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    class Unregistered(er.Resource):
        pass

    packed = [es.Ref.pack(Box(1)), es.Ref.pack(Unregistered()), es.Ref.pack(Box(2))]

    with pytest.raises(er.SerializationError, match="not registered"):
        backend.commit_many(packed)
    assert _sql(postgres_factory, "SELECT count(*) FROM objects") == [(0,)]


def test_iter_digests_pages_through_many_objects(backend: es.PostgresBackend) -> None:
    packed = [es.Ref.pack(er.Int(i)) for i in range(2500)]
    backend.commit_many(packed)

    assert list(backend.iter_digests()) == sorted(p.ref.digest for p in packed)


def test_iter_digests_tolerates_deletes_while_iterating(backend: es.PostgresBackend) -> None:
    backend.commit_many(es.Ref.pack(er.Int(i)) for i in range(1500))

    seen = 0
    for digest in backend.iter_digests():
        assert backend.delete([digest]) == [digest]
        seen += 1

    assert seen == 1500
    assert list(backend.iter_digests()) == []


def test_delete_older_than_deletes_only_objects_written_before(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    store = es.Store(backend)
    old, new = store.commit(Box("old")), store.commit(Box("new"))
    _sql(
        postgres_factory,
        "UPDATE objects SET written = written - 1000 WHERE digest = %s",
        [old.digest],
    )

    deleted = backend.delete([old.digest, new.digest], older_than=backend.now() - 500)

    assert deleted == [old.digest]
    assert store.has(new)
    assert not store.has(fresh_ref(old))


def test_read_raw_returns_the_stored_bytes(backend: es.PostgresBackend) -> None:
    ref = es.Store(backend).commit(Box("raw"))

    assert backend.read_raw(ref.digest) == read_raw(backend, ref.digest)
    assert backend.read_raw(er.digest(Box("absent"))) is None


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


def test_no_query_runs_for_a_malformed_digest(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    # A row under the malformed key: a backend that queried it would return it.
    digest = "../../x"
    data = er.JsonSerializer(compact=True).serialize(Box(1).to_resource_dict())
    _sql(
        postgres_factory,
        "INSERT INTO objects (digest, data, written) VALUES (%s, %s, 0)",
        [digest, data],
    )
    forged: es.Ref[Any] = object.__new__(es.Ref)
    object.__setattr__(forged, "_digest", digest)
    object.__setattr__(forged, "_cached", None)

    for attempt in (
        lambda: backend.get(forged),
        lambda: backend.has(forged),
        lambda: backend.read_raw(digest),
        lambda: backend.location(digest),
        lambda: backend.commit(es.PackedResource(Box(2).to_resource_dict(), forged)),
        lambda: backend.commit_many([es.PackedResource(Box(2).to_resource_dict(), forged)]),
        lambda: backend.delete([digest]),
        lambda: backend.set_tag("main", digest),
    ):
        with pytest.raises(es.RefError):
            attempt()
    assert _sql(postgres_factory, "SELECT digest FROM objects") == [(digest,)]
    assert _sql(postgres_factory, "SELECT count(*) FROM tags") == [(0,)]


def test_threads_share_one_backend(backend: es.PostgresBackend) -> None:
    store = es.Store(backend)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(30):
                store.commit(Box((n * 7 + i) % 50))
                store.tags[f"t{n}"] = store.commit(Box(n))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(list(backend.iter_digests())) == 50
    assert len(store.tags) == 16


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("child_uses_the_store", [True, False])
def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone(
    backend: es.PostgresBackend, child_uses_the_store: bool
) -> None:
    store = es.Store(backend)
    before = store.commit(Box("before fork"))  # the parent's pool is open
    sessions = _pool_sessions()
    assert sessions

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if child_uses_the_store:
                with store:
                    assert fresh_ref(before).get() == Box("before fork")
                    store.commit(Box("from the child"))
            store.close()  # closes the child's connections, not the parent's
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert _pool_sessions() >= sessions  # the server did not end the parent's sessions
    with store:  # and they still work
        if child_uses_the_store:
            assert es.Ref(er.digest(Box("from the child"))).get() == Box("from the child")
        assert store.commit(Box("after fork")).get() == Box("after fork")


def _pool_sessions() -> set[int]:
    """The server processes of the open PostgresBackend connections."""
    rows = (
        postgres_admin()
        .execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'enact-store'"
            " AND datname = current_database()"
        )
        .fetchall()
    )
    return {row[0] for row in rows}


def test_operations_survive_the_server_ending_the_connections(
    backend: es.PostgresBackend,
) -> None:
    store = es.Store(backend)
    ref = store.commit(Box("before"))
    # The server ends every session of this backend's pool (as on a restart).
    pids = _pool_sessions()
    assert pids
    for pid in pids:
        postgres_admin().execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))

    with store:
        assert fresh_ref(ref).get() == Box("before")
        assert store.commit(Box("after")).get() == Box("after")


def test_a_failing_query_raises_one_line_store_error(
    backend: es.PostgresBackend, postgres_factory: BackendFactory
) -> None:
    _sql(postgres_factory, "DROP TABLE objects")

    with pytest.raises(es.StoreError, match="objects") as caught:
        es.Store(backend).commit(Box(1))

    assert "\n" not in str(caught.value)
    assert "PostgreSQL store" in str(caught.value)


def test_close_makes_the_backend_unusable(postgres_factory: BackendFactory) -> None:
    backend = postgres_factory()
    ref = es.Store(backend).commit(Box(1))

    backend.close()
    backend.close()  # closing twice is harmless

    with pytest.raises(es.StoreError, match="closed"):
        backend.has(ref)
