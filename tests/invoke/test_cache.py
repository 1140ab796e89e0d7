"""The memo cache by request digest: cache=True / enact.Cache(version=...) (issue 15)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _store_testlib import BackendFactory

import enact

HERE = Path(__file__).resolve().parent
RUNS: list[str] = []


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@enact.invokable(cache=True)
def square(x: int) -> int:
    RUNS.append(f"square({x})")
    return x * x


@enact.invokable(cache=enact.Cache(version="2"))
def square_v2(x: int) -> int:
    RUNS.append(f"square_v2({x})")
    return x * x


@enact.invokable
def sum_of_squares(n: int) -> int:
    RUNS.append("sum")
    return sum(square(i) for i in range(n))


EXTRA: list[int] = []


@enact.invokable
def sum_plus_extra(n: int) -> int:
    RUNS.append("sum_plus_extra")
    return sum(square(i) for i in range(n)) + sum(square(x) for x in EXTRA)


@enact.invokable(cache=True)
def flaky(x: int) -> int:
    RUNS.append("flaky")
    if len(RUNS) == 1:
        raise RuntimeError("first call fails")
    return x


@enact.typed_invokable(enact.Str, enact.Str, cache=True)
@dataclasses.dataclass
class CachedShout(enact.Invokable):
    marks: int = 1

    def call(self, text: enact.Str) -> enact.Str:
        RUNS.append("shout")
        return enact.Str(text.upper() + "!" * self.marks)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class ShoutTwice(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        return enact.Str(CachedShout()(text) + CachedShout(2)(text))


def test_a_cached_call_is_reused_in_a_later_run_without_running(
    backend_factory: BackendFactory,
) -> None:
    with enact.Store(backend_factory()):
        first = sum_of_squares.invoke(3)
        assert RUNS == ["sum", "square(0)", "square(1)", "square(2)"]
        RUNS.clear()
        again = sum_of_squares.invoke(4)
        assert again.get_output() == 14
        assert RUNS == ["sum", "square(3)"]
        # A hit is recorded exactly as a reused call: the child is the earlier record.
        assert again.response().children[:3] == first.response().children


def test_a_top_level_invoke_is_served_by_the_cache() -> None:
    with enact.Store():
        first = square.invoke(5)
        again = square.invoke(5)
        assert RUNS == ["square(5)"]
        assert enact.commit(again) == enact.commit(first)


def test_the_cache_version_is_part_of_the_key() -> None:
    with enact.Store() as store:
        square.invoke(3)
        square_v2.invoke(3)
        square_v2.invoke(3)
        assert RUNS == ["square(3)", "square_v2(3)"]
        versions = sorted(entry.version for entry in enact.cache_entries(store))
        assert versions == ["0", "2"]
        assert all(name.startswith("cache/") for name in store.tags)


def test_calls_that_raised_are_not_cached() -> None:
    with enact.Store() as store:
        assert "first call fails" in str(flaky.invoke(1).get_raised())
        assert list(enact.cache_entries(store)) == []
        assert flaky.invoke(1).get_output() == 1
        assert flaky.invoke(1).get_output() == 1
        assert RUNS == ["flaky", "flaky"]


def test_class_invokables_take_cache_too() -> None:
    with enact.Store():
        assert ShoutTwice().invoke(enact.Str("hi")).get_output() == "HI!HI!!"
        assert ShoutTwice().invoke(enact.Str("hi")).get_output() == "HI!HI!!"
        assert RUNS == ["shout", "shout"]


def test_uncached_invokables_never_use_the_cache() -> None:
    with enact.Store() as store:
        sum_of_squares.invoke(1)
        sum_of_squares.invoke(1)
        assert RUNS == ["sum", "square(0)", "sum"]
        assert len(list(enact.cache_entries(store))) == 1  # square(0)


def test_replay_guidance_wins_over_the_cache() -> None:
    with enact.Store():
        invocation = sum_of_squares.invoke(2)
        ref = enact.commit(invocation)
        with ref.modify() as top, top.response.modify() as response:
            response.output = None
            with response.children[1].modify() as child, child.response.modify() as record:
                record.output = None  # Asked to resample square(1), though it is cached.
        RUNS.clear()
        replayed = ref().replay()
        assert replayed.get_output() == 1
        assert RUNS == ["sum", "square(1)"]


def test_the_cache_wins_over_running_a_call_the_record_lacks() -> None:
    with enact.Store():
        square.invoke(7)
        ref = enact.commit(sum_plus_extra.invoke(1))
        with ref.modify() as top, top.response.modify() as response:
            response.output = None
        RUNS.clear()
        EXTRA.append(7)  # A new call the record lacks (strict=False runs it): cached.
        try:
            assert ref().replay(strict=False).get_output() == 49
        finally:
            EXTRA.clear()
        assert RUNS == ["sum_plus_extra"]


def test_gc_keeps_cached_invocations_while_they_are_in_the_cache(
    backend_factory: BackendFactory,
) -> None:
    store = enact.Store(backend_factory())
    with store:
        square.invoke(9)
        store.gc(grace_period=0)
        assert square.invoke(9).get_output() == 81
        assert RUNS == ["square(9)"]
        for entry in list(enact.cache_entries(store)):
            del store.tags[entry.tag]
        store.gc(grace_period=0)
        assert square.invoke(9).get_output() == 81
        assert RUNS == ["square(9)", "square(9)"]


def test_the_cache_survives_a_restart(sql_factory: BackendFactory) -> None:
    store = enact.Store(sql_factory())
    with store:
        sum_of_squares.invoke(3)
    store.backend.close()
    RUNS.clear()
    store = enact.Store(sql_factory())
    with store:
        assert sum_of_squares.invoke(3).get_output() == 5
    assert RUNS == ["sum"]


def test_a_store_opened_read_only_serves_hits_and_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with enact.open_store(url) as store:
        square.invoke(4)
        tags_before = dict(store.backend.list_tags())
    store.close()
    RUNS.clear()
    with enact.open_store(url, read_only=True) as store:
        assert square.invoke(4).get_output() == 16
        with pytest.raises(enact.ReadOnlyStoreError):
            square.invoke(5)
        assert dict(store.backend.list_tags()) == tags_before
    store.close()
    assert RUNS == ["square(5)"]  # A miss runs (and its record cannot be written).


def _python(code: str, log: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE), "ENACT_TEST_RUNS": str(log)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_a_cache_hit_across_two_processes_sharing_an_sqlite_store_runs_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    code = f"""
import enact, _pipeline_functions as m
with enact.open_store("sqlite:///{tmp_path / "shared.db"}"):
    assert m.squares.invoke(3).get_output().value == [0, 1, 4]
"""
    _python(code, log)
    assert log.read_text().split() == ["squares"] + ["slow_square"] * 3
    log.unlink()
    _python(code, log)
    assert log.read_text().split() == ["squares"]


def test_cache_versions_must_be_tag_name_parts() -> None:
    for bad in ("", "a/b", "..", "-x", "x" * 65, 2):
        with pytest.raises(ValueError, match="Cache version"):
            enact.Cache(version=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cache must be"):

        @enact.invokable(name="tests.cache.bad", cache="yes")  # type: ignore[call-overload]
        def bad(x: int) -> int:
            return x
