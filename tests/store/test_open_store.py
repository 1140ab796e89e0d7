"""open_store(url): memory://, file:, sqlite:/// and the errors for everything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from _store_testlib import BackendFactory, Box, fresh_ref

import enact_store as es


def test_memory_url_opens_an_in_memory_store() -> None:
    store = es.open_store("memory://")

    assert isinstance(store, es.Store)
    assert isinstance(store.backend, es.InMemoryBackend)


def test_each_memory_url_opens_a_separate_store() -> None:
    first = es.open_store("memory://")
    ref = first.commit(Box(1))

    assert not es.open_store("memory://").has(fresh_ref(ref))


def test_file_url_with_absolute_path_opens_a_file_store(tmp_path: Path) -> None:
    store = es.open_store(f"file://{tmp_path / 'store'}")

    assert isinstance(store.backend, es.FileBackend)
    assert store.backend.root_dir == tmp_path / "store"


def test_file_url_with_relative_path_resolves_against_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = es.open_store("file:rel/store")

    assert isinstance(store.backend, es.FileBackend)
    assert store.backend.root_dir == tmp_path / "rel" / "store"
    assert (tmp_path / "rel" / "store").is_dir()


def test_sqlite_url_with_three_slashes_is_relative_to_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = es.open_store("sqlite:///.enact/store.db")

    assert isinstance(store.backend, es.SqliteBackend)
    assert store.backend.path == tmp_path / ".enact" / "store.db"
    assert (tmp_path / ".enact" / "store.db").is_file()
    store.close()


def test_sqlite_url_with_four_slashes_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path / "..")

    store = es.open_store(f"sqlite:///{tmp_path / 'abs.db'}")

    assert isinstance(store.backend, es.SqliteBackend)
    assert store.backend.path == tmp_path / "abs.db"
    store.close()


def test_scheme_is_case_insensitive(tmp_path: Path) -> None:
    store = es.open_store(f"SQLite:///{tmp_path / 'x.db'}")

    assert isinstance(store.backend, es.SqliteBackend)
    store.close()


@pytest.mark.parametrize("scheme", ["file", "sqlite"])
def test_stores_opened_by_url_persist(tmp_path: Path, scheme: str) -> None:
    url = f"file://{tmp_path / 'f'}" if scheme == "file" else f"sqlite:///{tmp_path / 's.db'}"
    first = es.open_store(url)
    first.tags["main"] = ref = first.commit(Box("persisted"))
    first.close()

    second = es.open_store(url)
    with second:
        assert second.tags["main"].get() == Box("persisted")
        assert fresh_ref(ref).get() == Box("persisted")
    second.close()


# Nothing listens on port 1 of the loopback address: connecting fails at once.
UNREACHABLE = "postgresql://user:hunter2@127.0.0.1:1/enact"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "PostgreSQL"])
def test_postgres_url_opens_a_postgres_store(postgres_factory: BackendFactory, scheme: str) -> None:
    url = postgres_factory.url.replace("postgresql", scheme, 1)

    store = es.open_store(url)
    try:
        assert isinstance(store.backend, es.PostgresBackend)
        store.tags["main"] = ref = store.commit(Box("over the network"))
    finally:
        store.close()
    again = es.open_store(url)
    try:
        with again:
            assert again.tags["main"].get() == Box("over the network")
            assert fresh_ref(ref).get() == Box("over the network")
    finally:
        again.close()


@pytest.mark.parametrize("url", [UNREACHABLE, UNREACHABLE.replace("postgresql", "postgres")])
def test_unreachable_postgres_url_raises_one_line_store_config_error(url: str) -> None:
    with pytest.raises(es.StoreConfigError) as caught:
        es.open_store(url)

    message = str(caught.value)
    assert "\n" not in message
    assert "Cannot open PostgreSQL store" in message
    assert "127.0.0.1" in message
    assert "hunter2" not in message


def test_store_config_error_does_not_show_a_password() -> None:
    with pytest.raises(es.StoreConfigError) as caught:
        es.open_store(
            "postgresql://user:hunter2@127.0.0.1:1/enact?password=hunter2&sslmode=disable"
        )

    assert "hunter2" not in str(caught.value)
    assert "postgresql://user@127.0.0.1:1/enact?sslmode=disable" in str(caught.value)


def test_postgres_url_without_slashes_is_unsupported() -> None:
    with pytest.raises(es.StoreConfigError, match="Unsupported store URL"):
        es.open_store("postgresql:enact")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "store.db",
        "memory",
        "memory:",
        "memory://somewhere",
        "file:",
        "file://",
        "file:///",
        "file://host/path",
        "sqlite:",
        "sqlite:store.db",
        "sqlite://store.db",
        "sqlite:///",
        "sqlite:///store.db?mode=ro",
        "http://example.com/store",
        "mysql://user:pw@host/db",
        "/abs/path/store.db",
    ],
)
def test_unsupported_url_raises_one_line_listing_the_supported_forms(url: str) -> None:
    with pytest.raises(es.StoreConfigError) as caught:
        es.open_store(url)

    message = str(caught.value)
    assert "\n" not in message
    for form in ["memory://", "file:///abs/path", "file:rel/path", "sqlite:///rel/path.db"]:
        assert form in message
    assert "sqlite:////abs/path.db" in message
    assert "postgresql://" in message


def test_store_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unsupported store URL"):
        es.open_store("nope")


def test_url_that_is_not_a_str_raises_store_config_error(tmp_path: Path) -> None:
    with pytest.raises(es.StoreConfigError, match="must be a str"):
        es.open_store(tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize("special", ["#", "?", "/", "@", ":", "&", "=", "%", "'", '"', " "])
@pytest.mark.parametrize(
    "template",
    [
        "mysql://someone:{}@db.example/x",
        "mysql://db.example/x?user=someone&password={}",
        "host=db.example password={}",
        "postgresql:someone:{}@db.example/x",
    ],
)
def test_an_unsupported_url_is_shown_without_its_password(template: str, special: str) -> None:
    password = f"Sekr{special}tPw9"

    with pytest.raises(es.StoreConfigError, match="Unsupported store URL") as caught:
        es.open_store(template.format(password))

    for secret in (password, "Sekr", "tPw9"):
        assert secret not in str(caught.value)
    assert "db.example" in str(caught.value)
