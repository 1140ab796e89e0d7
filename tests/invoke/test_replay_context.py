"""ReplayContext used directly: in a tracked call or outside any (SPEC §5, issue 11
item 12), built from invocations or refs as the original enact accepted (issue 19 item 3)."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from _store_testlib import BackendFactory

import enact

RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    with enact.Store() as active:
        yield active


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class CtxStep(enact.Invokable):
    """Adds how many times it has run, so that a re-run is visible in its output."""

    def call(self, x: enact.Int) -> enact.Int:
        RUNS["step"] += 1
        return enact.Int(x + 10 * RUNS["step"])


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class CtxChain(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        RUNS["chain"] += 1
        step = CtxStep()
        return enact.Int(step(step(x)))


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class CtxAsk(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Str:
        RUNS["ask"] += 1
        answer = enact.request_input(enact.Str, context=f"name for {x}?")
        return enact.Str(f"{x}: {answer}")


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class CtxBlock(enact.Invokable):
    """Runs CtxChain(x) inside a ReplayContext over the given recorded invocations."""

    guide: list[Any]

    def call(self, x: enact.Int) -> enact.Int:
        with enact.ReplayContext(self.guide):
            return CtxChain()(x)


def _remove_output(invocation: enact.Invocation[Any, Any]) -> enact.Invocation[Any, Any]:
    with invocation.response.modify() as response:
        response.output = None
    return invocation


def _objects(store: enact.Store) -> set[str]:
    return set(store.backend.iter_digests())


# --- Outside any tracked call. ---


def test_outside_a_tracked_call_a_recorded_call_is_reused_and_nothing_written(
    backend_factory: BackendFactory,
) -> None:
    with enact.Store(backend_factory()) as store:
        recorded = CtxChain().invoke(enact.Int(1))
        runs, objects = RUNS.copy(), _objects(store)

        with enact.ReplayContext([recorded]):
            out = CtxChain()(enact.Int(1))

        assert out == recorded.get_output()
        assert runs == RUNS  # nothing ran
        assert _objects(store) == objects  # a read never writes


def test_outside_a_call_without_recorded_output_reruns_reusing_its_children(
    backend_factory: BackendFactory,
) -> None:
    with enact.Store(backend_factory()) as store:
        recorded = enact.commit(_remove_output(CtxChain().invoke(enact.Int(1))))
        runs, objects = RUNS.copy(), _objects(store)

        with enact.ReplayContext([recorded]):
            out = CtxChain()(enact.Int(1))

        assert out == 1 + 10 + 20  # both steps' recorded outputs, not new ones
        assert RUNS - runs == {"chain": 1}
        assert _objects(store) == objects


def test_outside_calls_after_the_recorded_ones_run_untracked(store: enact.Store) -> None:
    recorded = CtxChain().invoke(enact.Int(1))
    with enact.ReplayContext([recorded]):
        first = CtxChain()(enact.Int(1))
        second = CtxChain()(enact.Int(1))
    assert first == recorded.get_output()
    assert second == 1 + 30 + 40  # ran: the steps ran for the 3rd and 4th time
    assert RUNS == {"chain": 2, "step": 4}


def test_outside_a_strict_mismatch_raises_replay_error(store: enact.Store) -> None:
    recorded = CtxChain().invoke(enact.Int(1))
    with pytest.raises(enact.ReplayError), enact.ReplayContext([recorded]):
        CtxChain()(enact.Int(2))
    assert RUNS == {"chain": 1, "step": 2}  # only the recording ran


def test_outside_a_non_strict_mismatch_runs_untracked(backend_factory: BackendFactory) -> None:
    with enact.Store(backend_factory()) as store:
        recorded = CtxChain().invoke(enact.Int(1))
        objects = _objects(store)
        with enact.ReplayContext([recorded], strict=False):
            out = CtxChain()(enact.Int(2))
        assert out == 2 + 30 + 40
        assert _objects(store) == objects


def test_outside_an_exception_override_answers_a_recorded_request(
    backend_factory: BackendFactory,
) -> None:
    with enact.Store(backend_factory()) as store:
        paused = CtxAsk().invoke(enact.Int(7))
        assert isinstance(paused.get_raised(), enact.InputRequest)
        objects = _objects(store)

        def answer(raised: enact.Ref[enact.ExceptionResource]) -> enact.Str | None:
            return enact.Str("Ada") if isinstance(raised(), enact.InputRequest) else None

        with enact.ReplayContext([paused], exception_override=answer):
            out = CtxAsk()(enact.Int(7))

        assert out == "7: Ada"
        assert _objects(store) == objects


def test_outside_a_request_for_input_that_must_run_says_it_is_outside(
    store: enact.Store,
) -> None:
    paused = CtxAsk().invoke(enact.Int(7))
    with pytest.raises(enact.InputRequestOutsideInvocation), enact.ReplayContext([paused]):
        CtxAsk()(enact.Int(7))


def test_outside_a_tracked_call_it_needs_an_active_store() -> None:
    with enact.Store():
        recorded = CtxChain().invoke(enact.Int(1))
    with pytest.raises(enact.NoActiveStoreError), enact.ReplayContext([recorded]):
        pass


def test_invoke_inside_an_outside_context_records_as_usual(store: enact.Store) -> None:
    recorded = CtxChain().invoke(enact.Int(1))
    with enact.ReplayContext([recorded]):
        fresh = CtxChain().invoke(enact.Int(1))  # a new top-level record, not guided
    assert RUNS == {"chain": 2, "step": 4}
    assert len(fresh.get_children()) == 2


# --- The arguments the original enact accepted. ---


def test_recorded_invocations_given_as_refs_or_invocations_positionally_or_by_keyword(
    store: enact.Store,
) -> None:
    recorded = CtxChain().invoke(enact.Int(1))
    ref = enact.commit(recorded)
    contexts = [
        enact.ReplayContext([recorded]),
        enact.ReplayContext([ref]),
        enact.ReplayContext(subinvocations=[recorded]),
        enact.ReplayContext(subinvocations=(ref,), exception_override=None, strict=True),
        enact.ReplayContext([ref], None, False),
        enact.ReplayContext(children=[ref]),
    ]
    for context in contexts:
        with context:
            assert CtxChain()(enact.Int(1)) == recorded.get_output()
    assert RUNS == {"chain": 1, "step": 2}


@pytest.mark.parametrize("as_ref", [False, True], ids=["invocation", "ref"])
def test_in_a_tracked_call_a_reused_invocation_is_recorded_as_a_child(
    backend_factory: BackendFactory, as_ref: bool
) -> None:
    with enact.Store(backend_factory()) as store:
        earlier = CtxChain().invoke(enact.Int(1))
        # An invocation not in the store yet: the record must not dangle.
        with earlier.response.modify() as response:
            response.children = response.children[:1]
        given: Any = enact.commit(earlier) if as_ref else earlier
        later = CtxBlock([given]).invoke(enact.Int(1))
        assert later.get_output() == earlier.get_output()
        assert RUNS == {"chain": 1, "step": 2}
        (child,) = later.get_children()
        assert child == earlier
        store.tags["later"] = enact.commit(later)
    fresh = enact.Store(backend_factory())
    assert fresh.verify().ok
    with fresh:
        assert fresh.tags["later"]().get_children()[0].get_output() == earlier.get_output()


def test_a_bad_recorded_invocation_is_a_clear_type_error(store: enact.Store) -> None:
    with pytest.raises(TypeError, match="got Str at position 1"):
        enact.ReplayContext([CtxChain().invoke(enact.Int(1)), enact.Str("no")])
    with pytest.raises(TypeError, match="wrap a single one in a list"):
        enact.ReplayContext(CtxChain().invoke(enact.Int(1)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        enact.ReplayContext([], children=[])
    with pytest.raises(TypeError, match="exception_override must be a function"):
        enact.ReplayContext([], exception_override="answer")  # type: ignore[arg-type]
