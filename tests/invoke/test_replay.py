"""Replaying invocations: reuse, re-runs, state, overrides and strictness (SPEC §5)."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

import enact

RUNS: collections.Counter[str] = collections.Counter()
# Scripted "random" values: each call of a generator pops the next one.
ROLLS: collections.deque[int] = collections.deque()
GREETINGS: collections.deque[str] = collections.deque()
FLAKY: collections.deque[bool] = collections.deque()


@pytest.fixture(autouse=True)
def _reset() -> None:
    for state in (RUNS, ROLLS, GREETINGS, FLAKY, SQUARES):
        state.clear()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    with enact.Store() as active:
        yield active


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepDie(enact.Invokable):
    sides: int = 6

    def call(self) -> enact.Int:
        RUNS["die"] += 1
        return enact.Int(ROLLS.popleft())


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepRollTwice(enact.Invokable):
    sides: int = 6

    def call(self) -> enact.Int:
        RUNS["twice"] += 1
        return enact.Int(RepDie(self.sides)() + RepDie(self.sides)())


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepRollFourTimes(enact.Invokable):
    def call(self) -> enact.Int:
        RUNS["four"] += 1
        return enact.Int(RepRollTwice()() + RepRollTwice()())


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepTally(enact.Invokable):
    """Counts its own calls in a field: the call changes the invokable's state."""

    count: int = 0

    def call(self) -> enact.Int:
        RUNS["tally"] += 1
        self.count += 1
        return enact.Int(self.count)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepTallyTwice(enact.Invokable):
    def call(self) -> enact.Int:
        RUNS["tally_twice"] += 1
        tally = RepTally()
        tally()
        tally()
        return enact.Int(tally.count)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepTallyOnce(enact.Invokable):
    def call(self) -> enact.Int:
        RUNS["tally_once"] += 1
        tally = RepTally(count=10)
        tally()
        return enact.Int(tally.count)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepFlaky(enact.Invokable):
    def call(self) -> enact.Int:
        RUNS["flaky"] += 1
        if FLAKY.popleft():
            raise ValueError("flaky failure")
        return enact.Int(RUNS["flaky"])


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepDieThenFlaky(enact.Invokable):
    def call(self) -> enact.Int:
        RUNS["die_then_flaky"] += 1
        return enact.Int(RepDie()() * 100 + RepFlaky()())


class RepHumanRequired(enact.ExceptionResource):
    pass


enact.register(RepHumanRequired)


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class RepAskUser(enact.Invokable):
    def call(self) -> enact.Str:
        RUNS["ask"] += 1
        raise RepHumanRequired("ask a human")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RepAskAndGreet(enact.Invokable):
    def call(self, name: enact.Str) -> enact.Str:
        RUNS["ask_and_greet"] += 1
        return enact.Str(f"{RepAskUser()()} {name}")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RepOuterAsk(enact.Invokable):
    def call(self, name: enact.Str) -> enact.Str:
        return RepAskAndGreet()(name)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RepAskHere(enact.Invokable):
    """Raises in its own frame, at top level."""

    def call(self, name: enact.Str) -> enact.Str:
        RUNS["ask_here"] += 1
        raise RepHumanRequired(f"who is {name}?")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RepGreet(enact.Invokable):
    greeting: str = "Hello"

    def call(self, name: enact.Str) -> enact.Str:
        RUNS["greet"] += 1
        return enact.Str(f"{self.greeting} {name}!")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RepNonDeterministicGreeter(enact.Invokable):
    """Picks its greeting outside any invokable: not replayable in strict mode."""

    def call(self, name: enact.Str) -> enact.Str:
        RUNS["bad_greeter"] += 1
        return RepGreet(GREETINGS.popleft())(name)


def _remove_output(invocation: enact.Invocation) -> None:
    with invocation.response.modify() as response:
        response.output = None


# --- Reuse of recorded outputs. ---


def test_replay_reuses_recorded_child_outputs_without_running_them(store: enact.Store) -> None:
    ROLLS.extend([2, 6])
    invocation = RepRollTwice().invoke()
    assert invocation.get_output() == 8
    _remove_output(invocation)
    RUNS.clear()

    replayed = invocation.replay()

    assert replayed.get_output() == 8
    assert RUNS == {"twice": 1}
    assert [child.get_output() for child in replayed.get_children()] == [2, 6]


def test_replay_holds_the_very_recorded_child_invocations(store: enact.Store) -> None:
    ROLLS.extend([1, 2, 3, 4])
    invocation = RepRollFourTimes().invoke()
    _remove_output(invocation)
    RUNS.clear()

    replayed = invocation.replay()

    assert replayed.response().children == invocation.response().children
    # The reused children keep their own subtrees (two die rolls each).
    assert [len(child.get_children()) for child in replayed.get_children()] == [2, 2]
    assert RUNS == {"four": 1}


def test_replay_of_invocation_needing_nothing_returns_an_equal_one(store: enact.Store) -> None:
    ROLLS.extend([1, 2, 3, 4])
    invocation = RepRollFourTimes().invoke()
    RUNS.clear()

    replayed = invocation.replay()

    assert enact.commit(replayed) == enact.commit(invocation)
    assert enact.digest(replayed) == enact.digest(invocation)
    assert replayed.response().children == invocation.response().children
    assert RUNS == {}


def test_replay_applies_the_recorded_invokable_state(store: enact.Store) -> None:
    invocation = RepTallyTwice().invoke()
    assert invocation.get_output() == 2
    states = [child.response().invokable() for child in invocation.get_children()]
    assert states == [RepTally(1), RepTally(2)]
    _remove_output(invocation)
    RUNS.clear()

    replayed = invocation.replay()

    # Each reused call leaves the invokable as it was after the recorded call,
    # so the second call matches its record and the caller sees count == 2.
    assert replayed.get_output() == 2
    assert RUNS == {"tally_twice": 1}


def test_reused_call_leaves_the_caller_with_the_mutated_invokable(store: enact.Store) -> None:
    invocation = RepTallyOnce().invoke()
    assert invocation.get_output() == 11
    _remove_output(invocation)
    RUNS.clear()

    replayed = invocation.replay()

    assert replayed.get_output() == 11
    assert RUNS == {"tally_once": 1}


# --- Re-runs. ---


def test_replay_reruns_children_whose_output_was_removed(store: enact.Store) -> None:
    ROLLS.extend([2, 6, 3])
    invocation = RepRollTwice().invoke()
    assert invocation.get_output() == 8
    with invocation.response.modify() as response:
        response.output = None
        with response.children[1].modify() as child, child.response.modify() as child_response:
            child_response.output = None
    RUNS.clear()

    replayed = invocation.replay()

    children = replayed.get_children()
    assert children[0].get_output() == 2
    assert children[1].get_output() == 3
    assert replayed.get_output() == 5
    assert RUNS == {"twice": 1, "die": 1}
    assert replayed.response().children[0] == invocation.response().children[0]


def test_replay_reruns_children_that_raised(store: enact.Store) -> None:
    ROLLS.extend([4])
    FLAKY.extend([True, False])
    invocation = RepDieThenFlaky().invoke()
    assert isinstance(invocation.get_raised(), enact.WrappedException)
    RUNS.clear()

    replayed = invocation.replay()

    assert replayed.successful()
    assert replayed.get_output() == 401
    assert RUNS == {"die_then_flaky": 1, "flaky": 1}


def test_rerun_child_is_guided_by_its_own_recorded_children(store: enact.Store) -> None:
    ROLLS.extend([1, 2, 3, 4, 5])
    invocation = RepRollFourTimes().invoke()
    assert invocation.get_output() == 10
    # Remove the top output, the second RollTwice's output and its second die roll.
    with invocation.response.modify() as response:
        response.output = None
        with response.children[1].modify() as twice, twice.response.modify() as twice_resp:
            twice_resp.output = None
            with twice_resp.children[1].modify() as die, die.response.modify() as die_resp:
                die_resp.output = None
    RUNS.clear()

    replayed = invocation.replay()

    assert replayed.get_output() == 1 + 2 + 3 + 5
    assert RUNS == {"four": 1, "twice": 1, "die": 1}
    second = replayed.get_children()[1]
    assert [die.get_output() for die in second.get_children()] == [3, 5]


def test_invoke_with_replay_from_replays_the_recording(store: enact.Store) -> None:
    ROLLS.extend([2, 6])
    invocation = RepRollTwice().invoke()
    _remove_output(invocation)
    RUNS.clear()

    replayed = RepRollTwice().invoke(replay_from=invocation)

    assert replayed.get_output() == 8
    assert RUNS == {"twice": 1}


def test_invoke_with_replay_from_needing_nothing_returns_the_record(store: enact.Store) -> None:
    ROLLS.extend([2, 6])
    invocation = RepRollTwice().invoke()
    RUNS.clear()

    replayed = RepRollTwice().invoke(replay_from=invocation)

    assert enact.commit(replayed) == enact.commit(invocation)
    assert RUNS == {}


# --- Exception overrides. ---


def test_exception_override_value_becomes_the_output(store: enact.Store) -> None:
    invocation = RepAskAndGreet().invoke(enact.Str("World"))
    assert invocation.get_raised() == RepHumanRequired("ask a human")

    def override(ref: enact.Ref[enact.ExceptionResource]) -> enact.Str | None:
        if isinstance(ref(), RepHumanRequired):
            return enact.Str("Hi")
        return None

    replayed = invocation.replay(exception_override=override)

    assert replayed.get_output() == "Hi World"
    (child,) = replayed.get_children()
    assert child.get_output() == "Hi"
    assert child.get_raised() is None


def test_exception_override_is_offered_only_exceptions_raised_here(store: enact.Store) -> None:
    invocation = RepOuterAsk().invoke(enact.Str("World"))
    leaf = invocation.get_children()[0].get_children()[0]
    assert leaf.get_raised_here() is True
    offered: list[enact.Ref[enact.ExceptionResource]] = []

    def override(ref: enact.Ref[enact.ExceptionResource]) -> enact.Str:
        offered.append(ref)
        return enact.Str("Hey")

    RUNS.clear()
    replayed = invocation.replay(exception_override=override)

    # The same exception is recorded in all three frames; only the leaf raised it.
    assert offered == [leaf.response().raised]
    assert replayed.get_output() == "Hey World"
    assert RUNS == {"ask_and_greet": 1}


def test_exception_override_returning_none_reruns_the_call(store: enact.Store) -> None:
    invocation = RepAskAndGreet().invoke(enact.Str("World"))
    RUNS.clear()

    replayed = invocation.replay(exception_override=lambda ref: None)

    assert isinstance(replayed.get_raised(), RepHumanRequired)
    assert RUNS == {"ask_and_greet": 1, "ask": 1}


def test_exception_override_applies_to_a_top_level_raise(store: enact.Store) -> None:
    invocation = RepAskHere().invoke(enact.Str("Bob"))
    assert invocation.get_raised_here() is True
    RUNS.clear()

    replayed = invocation.replay(exception_override=lambda ref: enact.Str("Bob is Bob"))

    assert replayed.get_output() == "Bob is Bob"
    assert RUNS == {}


def test_exception_override_result_is_type_checked(store: enact.Store) -> None:
    invocation = RepAskAndGreet().invoke(enact.Str("World"))
    with pytest.raises(enact.InvokableTypeError):
        invocation.replay(exception_override=lambda ref: enact.Int(5))


def test_wrong_override_type_in_a_child_is_recorded_when_not_raising(store: enact.Store) -> None:
    invocation = RepAskAndGreet().invoke(enact.Str("World"))

    replayed = RepAskAndGreet().invoke(
        enact.Str("World"),
        replay_from=invocation,
        exception_override=lambda ref: enact.Int(5),
        raise_on_invocation_error=False,
    )

    assert isinstance(replayed.get_raised(), enact.InvokableTypeError)


def test_wrong_override_type_at_top_level_is_recorded_when_not_raising(
    store: enact.Store,
) -> None:
    invocation = RepAskHere().invoke(enact.Str("Bob"))

    replayed = RepAskHere().invoke(
        enact.Str("Bob"),
        replay_from=invocation,
        exception_override=lambda ref: enact.Int(5),
        raise_on_invocation_error=False,
    )

    assert isinstance(replayed.get_raised(), enact.InvokableTypeError)


def test_exception_override_result_must_be_a_resource(store: enact.Store) -> None:
    invocation = RepAskAndGreet().invoke(enact.Str("World"))
    with pytest.raises(enact.InvokableTypeError):
        invocation.replay(exception_override=lambda ref: "plain str")  # type: ignore[arg-type,return-value]


# --- Strictness. ---


def test_strict_replay_mismatch_raises_replay_error_with_exact_message(
    store: enact.Store,
) -> None:
    GREETINGS.extend(["first", "second"])
    invocation = RepNonDeterministicGreeter().invoke(enact.Str("World"))
    assert invocation.get_output() == "first World!"
    _remove_output(invocation)

    with pytest.raises(enact.ReplayError) as raised:
        invocation.replay()

    assert str(raised.value) == (
        "Expected invocation RepGreet(greeting='second')(World) but got "
        "RepGreet(greeting='first')(World).\n"
        "Ensure that all non-deterministic functions are wrapped in invokables "
        "or use strict=False."
    )


def test_replay_error_is_recorded_when_not_raising(store: enact.Store) -> None:
    GREETINGS.extend(["first", "second"])
    invocation = RepNonDeterministicGreeter().invoke(enact.Str("World"))
    _remove_output(invocation)

    replayed = RepNonDeterministicGreeter().invoke(
        enact.Str("World"), replay_from=invocation, raise_on_invocation_error=False
    )

    assert isinstance(replayed.get_raised(), enact.ReplayError)


def test_non_strict_replay_runs_mismatched_calls(store: enact.Store) -> None:
    GREETINGS.extend(["first", "second"])
    invocation = RepNonDeterministicGreeter().invoke(enact.Str("World"))
    _remove_output(invocation)
    RUNS.clear()

    replayed = invocation.replay(strict=False)

    assert replayed.get_output() == "second World!"
    assert RUNS == {"bad_greeter": 1, "greet": 1}
    (child,) = replayed.get_children()
    assert child.request().invokable() == RepGreet("second")


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class RepSquare(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        RUNS[f"square {x}"] += 1
        return enact.Int(x * x)


#: The inputs RepSquares calls RepSquare on, in order (the program, changed between runs).
SQUARES: list[int] = []


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class RepSquares(enact.Invokable):
    def call(self) -> enact.Int:
        RUNS["squares"] += 1
        return enact.Int(sum(RepSquare()(x) for x in SQUARES))


def test_replay_reuses_calls_made_in_another_order_matching_them_by_request(
    store: enact.Store,
) -> None:
    # Issue 13 rule 2: the next recorded child in order, else the earliest
    # one not yet matched with the same request digest.
    SQUARES[:] = [1, 2, 3]
    invocation = RepSquares().invoke()
    _remove_output(invocation)
    SQUARES[:] = [3, 1, 2]
    RUNS.clear()

    replayed = invocation.replay()  # strict

    assert RUNS == {"squares": 1}
    assert [child.request().input() for child in replayed.get_children()] == [3, 1, 2]


def test_a_call_matching_no_recorded_call_takes_none_of_them(store: enact.Store) -> None:
    SQUARES[:] = [1, 2]
    invocation = RepSquares().invoke()
    _remove_output(invocation)
    SQUARES[:] = [5, 1]  # a new call first; then the first recorded one
    RUNS.clear()

    with pytest.raises(enact.ReplayError, match=r"Expected invocation RepSquare\(\)\(5\)"):
        invocation.replay()
    replayed = invocation.replay(strict=False)

    assert RUNS == {"squares": 2, "square 5": 1}  # RepSquare(1) reused, not re-run
    assert replayed.get_output() == 26


def test_replay_context_matches_recorded_children_in_order(store: enact.Store) -> None:
    ROLLS.extend([2, 6])
    invocation = RepRollTwice().invoke()
    context = enact.ReplayContext.from_invocation(invocation)
    children = invocation.response().children
    assert context.remaining() == 2
    assert context.peek() == children[0]
    context.advance()
    assert context.peek() == children[1]
    context.advance()
    assert context.peek() is None
    assert context.remaining() == 0


class TestReplayContextUsedDirectly:
    """ReplayContext as a context manager inside a tracked call."""

    def test_calls_in_the_block_reuse_the_given_recorded_children(self) -> None:
        with enact.Store():
            earlier = _ReuseBlock(None).invoke()
            runs_before = _Count.runs
            later = _ReuseBlock(enact.commit(earlier)).invoke()
            assert _Count.runs == runs_before  # both counts reused, none re-run
            assert later.get_output() == earlier.get_output()


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class _Count(enact.Invokable):
    runs: ClassVar[int] = 0

    def call(self, x: enact.Int) -> enact.Int:
        type(self).runs += 1
        return enact.Int(x + type(self).runs)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class _ReuseBlock(enact.Invokable):
    earlier: enact.Ref[enact.Invocation[Any, Any]] | None

    def call(self) -> enact.Int:
        count = _Count()
        if self.earlier is None:
            return enact.Int(count(enact.Int(1)) + count(enact.Int(2)))
        with enact.ReplayContext.from_invocation(self.earlier()):
            return enact.Int(count(enact.Int(1)) + count(enact.Int(2)))
