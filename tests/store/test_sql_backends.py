"""What SqliteBackend and PostgresBackend share: rows, raw bytes, paging, transactions, processes.

Every test runs against both (the sql_factory fixture; PostgreSQL is skipped
only outside CI with no server). What is particular to one backend is in
test_sqlite_backend.py or test_postgres_backend.py; what every backend does
is in the conformance, corruption, concurrency, crash, gc, verify and copy tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from _store_testlib import BackendFactory, Box, age_objects, fresh_ref, postgres_sessions, read_raw

import enact_resource as er
import enact_store as es

AnySqlBackend = es.SqliteBackend | es.PostgresBackend

# Statements that make the insert of one object (digest {digest}) fail, per kind.
_REFUSE_ONE_DIGEST = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON objects WHEN NEW.digest = '{digest}'"
        " BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
    ],
    "postgres": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF NEW.digest = '{digest}' THEN RAISE EXCEPTION 'refused by test';"
        " END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON objects FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


@pytest.fixture
def backend(sql_factory: BackendFactory) -> AnySqlBackend:
    backend = sql_factory()  # closed by the factory
    assert isinstance(backend, AnySqlBackend)
    return backend


def test_commit_stores_one_row_however_often_it_is_repeated(
    backend: AnySqlBackend, sql_factory: BackendFactory
) -> None:
    store = es.Store(backend)
    for _ in range(3):
        ref = store.commit(Box("once"))
    backend.commit_many([es.Ref.pack(Box("once")), es.Ref.pack(Box("once"))])

    assert sql_factory.sql("SELECT digest FROM objects") == [(ref.digest,)]


def test_read_raw_returns_the_stored_bytes(backend: AnySqlBackend) -> None:
    ref = es.Store(backend).commit(Box("raw"))

    assert backend.read_raw(ref.digest) == read_raw(backend, ref.digest)
    assert backend.read_raw(er.digest(Box("absent"))) is None


def test_commit_many_is_one_transaction(
    backend: AnySqlBackend, sql_factory: BackendFactory
) -> None:
    # A trigger fails the insert of one object, after (or among) the others.
    poisoned = es.Ref.pack(Box("poisoned"))
    for statement in _REFUSE_ONE_DIGEST[sql_factory.kind]:
        sql_factory.sql(statement.format(digest=poisoned.ref.digest))
    packed = [es.Ref.pack(er.Int(i)) for i in range(1500)] + [poisoned]

    with pytest.raises(es.StoreError, match="refused by test"):
        backend.commit_many(packed)

    assert sql_factory.sql("SELECT count(*) FROM objects") == [(0,)]


def test_commit_many_refuses_an_unregistered_type_before_writing(
    backend: AnySqlBackend, sql_factory: BackendFactory
) -> None:
    class Unregistered(er.Resource):
        pass

    packed = [es.Ref.pack(Box(1)), es.Ref.pack(Unregistered()), es.Ref.pack(Box(2))]

    with pytest.raises(er.SerializationError, match="not registered"):
        backend.commit_many(packed)
    assert sql_factory.sql("SELECT count(*) FROM objects") == [(0,)]


def test_iter_digests_pages_through_many_objects(backend: AnySqlBackend) -> None:
    packed = [es.Ref.pack(er.Int(i)) for i in range(2500)]
    backend.commit_many(packed)

    assert list(backend.iter_digests()) == sorted(p.ref.digest for p in packed)


def test_iter_digests_tolerates_deletes_while_iterating(backend: AnySqlBackend) -> None:
    backend.commit_many(es.Ref.pack(er.Int(i)) for i in range(1500))

    seen = 0
    for digest in backend.iter_digests():
        assert backend.delete([digest]) == [digest]
        seen += 1

    assert seen == 1500
    assert list(backend.iter_digests()) == []


def test_delete_older_than_deletes_only_objects_written_before(
    backend: AnySqlBackend,
) -> None:
    store = es.Store(backend)
    old, new = store.commit(Box("old")), store.commit(Box("new"))
    age_objects(backend, [old.digest], 1000)

    deleted = backend.delete([old.digest, new.digest], older_than=backend.now() - 500)

    assert deleted == [old.digest]
    assert store.has(new)
    assert not store.has(fresh_ref(old))


def test_threads_share_one_backend(backend: AnySqlBackend) -> None:
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
# Forking while the pool's threads run is exactly what this test checks.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.parametrize("child_uses_the_store", [True, False])
def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone(
    backend: AnySqlBackend, sql_factory: BackendFactory, child_uses_the_store: bool
) -> None:
    store = es.Store(backend)
    before = store.commit(Box("before fork"))  # the parent's connections are open
    postgres = sql_factory.kind == "postgres"
    sessions = postgres_sessions() if postgres else set()
    assert sessions or not postgres

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
    if postgres:
        assert postgres_sessions() >= sessions  # the server did not end the parent's sessions
    with store:  # and they still work
        if child_uses_the_store:
            assert es.Ref(er.digest(Box("from the child"))).get() == Box("from the child")
        assert store.commit(Box("after fork")).get() == Box("after fork")


def test_a_second_process_sees_commits_at_once(
    backend: AnySqlBackend, sql_factory: BackendFactory
) -> None:
    ref = es.Store(backend).commit(Box("visible"))

    code = (
        "import sys, enact_store as es\n"
        f"store = es.open_store({sql_factory.url!r})\n"
        f"sys.exit(0 if store.has(es.Ref({ref.digest!r})) else 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_close_makes_the_backend_unusable(sql_factory: BackendFactory) -> None:
    backend = sql_factory()
    ref = es.Store(backend).commit(Box(1))

    backend.close()
    backend.close()  # closing twice is harmless

    with pytest.raises(es.StoreError, match="closed"):
        backend.has(ref)
