"""`enact cache ls` and `enact cache clear [--invokable NAME]` (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _cli_testlib import assert_one_line_error, run_enact

import enact
from enact._cli import main

RUNS: list[str] = []


@enact.invokable(cache=True)
def cli_square(x: int) -> int:
    RUNS.append("square")
    return x * x


@enact.invokable(cache=enact.Cache(version="7"))
def cli_cube(x: int) -> int:
    RUNS.append("cube")
    return x * x * x


@pytest.fixture
def cached_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    with enact.open_store(url) as store:
        cli_square.invoke(2)
        cli_square.invoke(3)
        cli_cube.invoke(2)
        store.tags["kept"] = enact.commit(cli_cube.invoke(5))
    store.close()
    RUNS.clear()
    return url


def test_cache_ls_lists_each_entry_with_its_invokable_and_version(
    cached_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--store", cached_store, "cache", "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"4 cache entries in {cached_store}"
    names = [line.split()[0] for line in lines[:-1]]
    assert names == [f"{__name__}.cli_cube"] * 2 + [f"{__name__}.cli_square"] * 2
    assert [line.split()[1] for line in lines[:-1]] == ["v7", "v7", "v0", "v0"]


def test_cache_clear_of_one_invokable_leaves_the_others(
    cached_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"{__name__}.cli_square"
    assert main(["--store", cached_store, "cache", "clear", "--invokable", name]) == 0
    assert capsys.readouterr().out.startswith("cleared 2 cache entries")
    with enact.open_store(cached_store) as store:
        assert {entry.version for entry in enact.cache_entries(store)} == {"7"}
        cli_square.invoke(2)  # Runs again: no longer cached.
        cli_cube.invoke(2)  # Still cached.
        assert "kept" in store.tags  # Other tags are untouched.
    store.close()
    assert RUNS == ["square"]


def test_cache_clear_deletes_every_entry_and_gc_then_frees_them(
    cached_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--store", cached_store, "cache", "clear"]) == 0
    assert capsys.readouterr().out.startswith("cleared 4 cache entries")
    assert main(["--store", cached_store, "gc", "--grace", "0"]) == 0
    with enact.open_store(cached_store) as store:
        assert list(enact.cache_entries(store)) == []
        assert list(store.tags) == ["kept"]
        assert store.tags["kept"]().get_output() == 125
    store.close()


def test_cache_clear_of_an_unknown_invokable_is_a_one_line_error(
    cached_store: str, tmp_path: Path
) -> None:
    result = run_enact(tmp_path, "--store", cached_store, "cache", "clear", "--invokable", "nope")
    assert_one_line_error(result, 1, "no cache entries of nope (see `enact cache ls`)")


def test_cache_without_an_action_is_a_usage_error(cached_store: str, tmp_path: Path) -> None:
    result = run_enact(tmp_path, "--store", cached_store, "cache")
    assert_one_line_error(result, 2, "required: ACTION")
