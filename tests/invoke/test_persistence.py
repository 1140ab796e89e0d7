"""Invocations survive in a persistent store and replay from a fresh one (SPEC §4, §5)."""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import pytest

import enact

RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class PersistShout(enact.Invokable):
    marks: int = 1

    def call(self, text: enact.Str) -> enact.Str:
        RUNS["shout"] += 1
        return enact.Str(text.upper() + "!" * self.marks)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class PersistTwoShouts(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        RUNS["two"] += 1
        return enact.Str(PersistShout(1)(text) + " " + PersistShout(3)(text))


def _record(path: Path, *, remove_top_output: bool) -> str:
    """Runs PersistTwoShouts in a store over ``path``; returns the invocation's digest."""
    store = enact.Store(enact.SqliteBackend(path))
    with store:
        invocation = PersistTwoShouts().invoke(enact.Str("hey"))
        assert invocation.get_output() == "HEY! HEY!!!"
        ref = enact.commit(invocation)
        if remove_top_output:
            with ref.modify() as recorded, recorded.response.modify() as response:
                response.output = None
        digest = ref.digest
    store.close()
    return digest


def test_invocation_loads_in_a_fresh_store_over_the_same_file(tmp_path: Path) -> None:
    digest = _record(tmp_path / "s.db", remove_top_output=False)
    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        invocation = enact.Ref(digest)()
        assert isinstance(invocation, enact.Invocation)
        assert invocation.get_output() == "HEY! HEY!!!"
        assert [child.get_output() for child in invocation.get_children()] == ["HEY!", "HEY!!!"]
    store.close()


def test_invocation_replays_in_a_fresh_store_over_the_same_file(tmp_path: Path) -> None:
    digest = _record(tmp_path / "s.db", remove_top_output=True)
    RUNS.clear()

    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        invocation = enact.Ref(digest)()
        replayed = invocation.replay()
        assert replayed.get_output() == "HEY! HEY!!!"
        assert replayed.response().children == invocation.response().children
        replayed_digest = enact.commit(replayed).digest
    store.close()
    assert RUNS == {"two": 1}

    # The replayed record itself persists.
    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        reloaded = enact.Ref(replayed_digest)()
        assert reloaded.get_output() == "HEY! HEY!!!"
        assert len(reloaded.get_children()) == 2
    store.close()


def test_complete_invocation_replays_unchanged_from_a_fresh_store(tmp_path: Path) -> None:
    digest = _record(tmp_path / "s.db", remove_top_output=False)
    RUNS.clear()

    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        replayed = enact.Ref(digest)().replay()
        assert enact.commit(replayed).digest == digest
    store.close()
    assert RUNS == {}


@dataclasses.dataclass
@enact.typed_invokable(enact.Str, enact.Str)
class PersistDecoratedBelow(enact.Invokable):
    """typed_invokable applied before @dataclass: registered with the final fields."""

    greeting: str = "Hi"

    def call(self, name: enact.Str) -> enact.Str:
        RUNS["below"] += 1
        return enact.Str(f"{self.greeting} {name}")


def test_invokable_decorated_below_dataclass_reloads_from_a_fresh_store(tmp_path: Path) -> None:
    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        digest = enact.commit(PersistDecoratedBelow("Yo").invoke(enact.Str("x"))).digest
    store.close()

    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        invocation = enact.Ref(digest)()
        assert invocation.request().invokable() == PersistDecoratedBelow("Yo")
        assert invocation.get_output() == "Yo x"
        assert enact.commit(invocation.replay()).digest == digest
    store.close()
    assert RUNS == {"below": 1}


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class PersistAskName(enact.Invokable):
    def call(self, greeting: enact.Str) -> enact.Str:
        RUNS["ask_name"] += 1
        name = enact.request_input(enact.Str, for_resource=greeting, context="Who is greeted?")
        return enact.Str(f"{greeting} {name}")


def test_paused_invocation_is_answered_from_a_fresh_store(tmp_path: Path) -> None:
    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        paused = PersistAskName().invoke(enact.Str("Hello"))
        assert isinstance(paused.get_raised(), enact.InputRequest)
        digest = enact.commit(paused).digest
    store.close()

    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        paused = enact.Ref(digest)()
        request = paused.get_raised()
        assert isinstance(request, enact.InputRequest)
        assert request.requested_type is enact.Str
        assert request.context == "Who is greeted?"
        assert request.input() == "Hello"
        answered = request.continue_invocation(paused, enact.Str("Ada"))
        assert answered.get_output() == "Hello Ada"
    store.close()
    assert RUNS == {"ask_name": 2}


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class PersistFails(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        raise KeyError(f"missing {text}")


def test_wrapped_exception_reloads_from_a_fresh_store(tmp_path: Path) -> None:
    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        digest = enact.commit(PersistFails().invoke(enact.Str("key"))).digest
    store.close()

    store = enact.Store(enact.SqliteBackend(tmp_path / "s.db"))
    with store:
        raised = enact.Ref(digest)().get_raised()
        assert type(raised) is enact.WrappedException
        assert "KeyError: 'missing key'" in str(raised)
    store.close()
