"""A run recorded in a local SQLite store, pushed to a shared PostgreSQL store, replays there.

SPEC §4: copy(src, dst, roots) "moves work from a laptop SQLite store to a
shared PostgreSQL one". Needs a PostgreSQL server (ENACT_TEST_POSTGRES_URL,
see scripts/start-postgres); in CI (CI set) it must run, so a missing server
fails the test instead of skipping it.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

import enact

POSTGRES_URL_VAR = "ENACT_TEST_POSTGRES_URL"
RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@pytest.fixture
def postgres_url(unavailable: Callable[[str], NoReturn]) -> Iterator[str]:
    """The URL of an empty PostgreSQL store: a schema of its own, dropped afterwards."""
    url = os.environ.get(POSTGRES_URL_VAR)
    if not url:
        unavailable(f"{POSTGRES_URL_VAR} is not set: no PostgreSQL server to test against")
    import psycopg

    schema = f"enact_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class CopyShout(enact.Invokable):
    marks: int = 1

    def call(self, text: enact.Str) -> enact.Str:
        RUNS["shout"] += 1
        return enact.Str(text.upper() + "!" * self.marks)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class CopyTwoShouts(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        RUNS["two"] += 1
        return enact.Str(CopyShout(1)(text) + " " + CopyShout(3)(text))


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class CopyAskName(enact.Invokable):
    def call(self, greeting: enact.Str) -> enact.Str:
        RUNS["ask"] += 1
        name = enact.request_input(enact.Str, for_resource=greeting, context="Who is greeted?")
        return enact.Str(f"{greeting} {name}")


def _record_locally(path: Path) -> enact.Ref[enact.Invocation]:
    """Records CopyTwoShouts in a SQLite store, then drops the top-level output so that
    a replay must run the top call again (and reuse the recorded children)."""
    store = enact.open_store(f"sqlite:///{path}")
    with store:
        invocation = CopyTwoShouts().invoke(enact.Str("hey"))
        assert invocation.get_output() == "HEY! HEY!!!"
        ref = enact.commit(invocation)
        with ref.modify() as recorded, recorded.response.modify() as response:
            response.output = None
        store.tags["runs/latest"] = ref
    store.close()
    return ref


def test_invocation_copied_from_sqlite_to_postgres_replays_there(
    tmp_path: Path, postgres_url: str
) -> None:
    ref = _record_locally(tmp_path / "laptop.db")
    laptop = enact.open_store(f"sqlite:///{tmp_path / 'laptop.db'}")
    shared = enact.open_store(postgres_url)
    try:
        report = enact.copy(laptop, shared, [], tags=["runs/latest"])
    finally:
        laptop.close()
        shared.close()
    assert report.tags == ["runs/latest"]
    assert report.copied > 0
    RUNS.clear()

    # Another process, on another machine, opens the shared store.
    shared = enact.open_store(postgres_url)
    try:
        assert shared.verify().ok
        with shared:
            invocation = shared.tags["runs/latest"]()
            assert shared.tags["runs/latest"] == ref
            assert isinstance(invocation, enact.Invocation)
            assert [child.get_output() for child in invocation.get_children()] == [
                "HEY!",
                "HEY!!!",
            ]
            replayed = invocation.replay()
            assert replayed.get_output() == "HEY! HEY!!!"
            assert replayed.response().children == invocation.response().children
            shared.tags["runs/replayed"] = enact.commit(replayed)
        assert RUNS == {"two": 1}  # the children's recorded outputs were reused
    finally:
        shared.close()


def test_copying_again_skips_what_the_shared_store_has(tmp_path: Path, postgres_url: str) -> None:
    ref = _record_locally(tmp_path / "laptop.db")
    laptop = enact.open_store(f"sqlite:///{tmp_path / 'laptop.db'}")
    shared = enact.open_store(postgres_url)
    try:
        first = enact.copy(laptop, shared, [ref])
        again = enact.copy(laptop, shared, [ref])
        assert first.copied == len(set(shared.backend.iter_digests()))
        assert (again.copied, again.skipped) == (0, 1)
    finally:
        laptop.close()
        shared.close()


def test_paused_invocation_pushed_to_postgres_is_answered_there(
    tmp_path: Path, postgres_url: str
) -> None:
    laptop = enact.open_store(f"sqlite:///{tmp_path / 'laptop.db'}")
    with laptop:
        paused = CopyAskName().invoke(enact.Str("Hello"))
        assert isinstance(paused.get_raised(), enact.InputRequest)
        ref = enact.commit(paused)
    shared = enact.open_store(postgres_url)
    try:
        enact.copy(laptop, shared, [ref])
        with shared:
            paused = enact.Ref(ref.digest)()
            request = paused.get_raised()
            assert isinstance(request, enact.InputRequest)
            answered = request.continue_invocation(paused, enact.Str("World"))
            assert answered.get_output() == "Hello World"
    finally:
        laptop.close()
        shared.close()
    assert RUNS == {"ask": 2}  # paused on the laptop, resumed from the shared store
