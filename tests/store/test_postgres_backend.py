"""What is particular to PostgresBackend: optional import, schema, server clock, pool, errors.

The behaviour it shares with SqliteBackend is in test_sql_backends.py, and
what it shares with every backend in the conformance, corruption,
concurrency, crash, gc, verify and copy tests, which run against PostgreSQL
too (see _store_testlib.BACKEND_KINDS).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import traceback
import urllib.parse
from typing import Any

import pytest
from _store_testlib import (
    BackendFactory,
    Box,
    fresh_ref,
    postgres_admin,
    postgres_sessions,
    postgres_url,
)

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


# --- Credentials never appear in messages or logs. ---

# Each special character in a password, and all of them at once. The
# password's parts around the specials ("Sekr", "tPw9") are searched for too:
# a raw '@' or '/' can make libpq take part of a password for a host name.
SPECIALS = ["#", "?", "/", "@", ":", "&", "=", "%", "'", '"', " ", "#?/@:&=%' \" "]
PARTS = ("Sekr", "tPw9")


def _secret(special: str) -> str:
    return f"{PARTS[0]}{special}{PARTS[1]}"


def _dsn_forms(host: str, port: str, user: str, db: str, password: str) -> dict[str, str]:
    """A DSN in every form a user might write one, each holding ``password``."""
    encoded = urllib.parse.quote(password, safe="")
    quoted = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    url = f"postgresql://{user}@{host}:{port}/{db}"
    return {
        "url": f"postgresql://{user}:{encoded}@{host}:{port}/{db}",
        "url raw": f"postgresql://{user}:{password}@{host}:{port}/{db}",
        "url query": f"{url}?sslmode=prefer&password={encoded}",
        "url query raw": f"{url}?sslmode=prefer&password={password}",
        "key=value": f"host={host} port={port} user={user} dbname={db} password={quoted}",
        "key=value raw": f"host={host} port={port} user={user} dbname={db} password={password}",
    }


def _assert_hidden(texts: list[str], password: str) -> None:
    for text in texts:
        for secret in (password, urllib.parse.quote(password, safe=""), *PARTS):
            assert secret not in text, (secret, text)


def _failure_texts(error: BaseException) -> list[str]:
    """What a user sees of an error: its message, repr, and its traceback as logged."""
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def _server() -> tuple[str, str, str, str]:
    parts = urllib.parse.urlsplit(postgres_url())
    return parts.hostname or "", str(parts.port), parts.username or "", parts.path.lstrip("/")


def _open_both_ways(dsn: str) -> list[BaseException]:
    """The errors of opening ``dsn`` with PostgresBackend and with open_store."""
    errors = []
    for opener in (es.PostgresBackend, es.open_store):
        with pytest.raises(es.StoreError) as caught:
            opener(dsn)
        assert "\n" not in str(caught.value)
        errors.append(caught.value)
    return errors


@pytest.mark.parametrize("special", SPECIALS)
def test_no_password_in_the_errors_of_an_unreachable_server(
    special: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = _secret(special)
    for form, dsn in _dsn_forms("127.0.0.1", "1", "someone", "db", password).items():
        for error in _open_both_ways(dsn):
            _assert_hidden(_failure_texts(error), password)
            if form in ("url", "url query", "key=value") and isinstance(error, es.StoreConfigError):
                assert "127.0.0.1" in str(error), error
    _assert_hidden([caplog.text], password)


@pytest.mark.usefixtures("postgres_factory")  # skipped, as it is, where no server is set up
@pytest.mark.parametrize("special", SPECIALS)
def test_no_password_in_the_errors_of_a_wrong_password(
    special: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = _secret(special)
    host, port, user, db = _server()
    refused = 0
    for dsn in _dsn_forms(host, port, user, db, password).values():
        for error in _open_both_ways(dsn):
            _assert_hidden(_failure_texts(error), password)
            refused += "password authentication failed" in str(error)
    assert refused >= 4  # The well-formed DSNs reached the server, which refused them.
    _assert_hidden([caplog.text], password)


@pytest.mark.parametrize("special", SPECIALS)
def test_no_password_in_the_dsn_repr_location_and_logs_of_a_backend(
    special: str, postgres_factory: BackendFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # The DSN names the right password last: libpq uses it, and the backend
    # opens, with another password (the secret) earlier in the same DSN.
    caplog.set_level(logging.DEBUG)
    password = _secret(special)
    parts = urllib.parse.urlsplit(postgres_factory.url)
    right = urllib.parse.quote(parts.password or "", safe="")
    where = f"{parts.hostname}:{parts.port}{parts.path}"
    quoted = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    options = urllib.parse.parse_qs(parts.query)["options"][0]
    dsns = [
        f"postgresql://{parts.username}:{urllib.parse.quote(password, safe='')}@{where}"
        f"?{parts.query}&password={right}",
        f"postgresql://{parts.username}:{password}@{where}?{parts.query}&password={right}",
        f"postgresql://{parts.username}@{where}?password={urllib.parse.quote(password)}"
        f"&{parts.query}&password={right}",
        f"host={parts.hostname} port={parts.port} dbname={parts.path[1:]} "
        f"user={parts.username} password={quoted} options='{options}' "
        f"password='{parts.password}'",
    ]
    opened = 0
    for dsn in dsns:
        try:
            backend = es.PostgresBackend(dsn)
        except es.StoreConfigError as e:  # A raw '@', '/', '%' or space: refused.
            _assert_hidden(_failure_texts(e), password)
            continue
        opened += 1
        try:
            ref = es.Store(backend).commit(Box(special))
            texts = [backend.dsn, repr(backend), backend.location(ref.digest)]
        finally:
            backend.close()
        _assert_hidden(texts, password)
        assert str(parts.hostname) in backend.dsn
    assert opened >= 3
    _assert_hidden([caplog.text], password)


def test_a_url_with_a_raw_at_sign_in_its_password_says_to_percent_encode_it() -> None:
    password = _secret("@")
    with pytest.raises(es.StoreConfigError, match="percent-encode") as caught:
        es.PostgresBackend(f"postgresql://someone:{password}@127.0.0.1:1/db")

    assert "postgresql://***@127.0.0.1:1/db" in str(caught.value)
    _assert_hidden(_failure_texts(caught.value), password)
