"""Concurrent calls are recorded deterministically and replayed exactly (issue 13, rules 1-4).

Rule 1: a call takes its position among its parent's children when it starts
(a sync call, a submit, the first step of a coroutine). Rule 2: replay
matches the next recorded child in order, else the earliest one not yet
matched with the same request digest. Rule 3: a parent that returns while a
call it started runs records IncompleteSubinvocationError; a cancelled call
is recorded as cancelled and re-run on replay. Rule 4: failures and requests
for input are recorded per call.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
import threading
from typing import Any

import pytest

import enact

CHILDREN = 20
RUNS: collections.Counter[str] = collections.Counter()
#: Inputs of the calls that ran, in the order they ran.
RAN: list[int] = []
#: Children that raise, by input (and after how many ms).
FAIL: dict[int, float] = {}


@pytest.fixture(autouse=True)
def _reset() -> None:
    RUNS.clear()
    RAN.clear()
    FAIL.clear()


@pytest.fixture
def store() -> Any:
    with enact.Store() as active:
        yield active


def _without_output(invocation: enact.Invocation[Any, Any], *children: int) -> None:
    """Removes the output of the invocation and of the given children."""
    with invocation.response.modify() as response:
        response.output = None
        for index in children:
            with response.children[index].modify() as child, child.response.modify() as rec:
                rec.output = None


def _inputs(invocation: enact.Invocation[Any, Any]) -> list[Any]:
    return [child.request().input() for child in invocation.get_children()]


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Sample(enact.AsyncInvokable):
    """Sleeps a random time (at most ``ms``), then returns a number that depends on its input."""

    ms: float = 3.0

    async def call(self, x: enact.Int) -> enact.Int:
        RUNS["sample"] += 1
        await asyncio.sleep(random.random() * self.ms / 1000)
        RAN.append(int(x))
        if int(x) in FAIL:
            await asyncio.sleep(FAIL[int(x)] / 1000)
            raise ValueError(f"sample {x} failed")
        return enact.Int(100 * x + 1)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Gather(enact.AsyncInvokable):
    """Calls Sample on 0..n-1 under asyncio.gather (optionally after a random sleep each)."""

    jitter_ms: float = 0.0

    async def call(self, n: enact.Int) -> enact.Int:
        RUNS["gather"] += 1

        async def one(i: int) -> enact.Int:
            if self.jitter_ms:
                await asyncio.sleep(random.random() * self.jitter_ms / 1000)
            return await Sample()(enact.Int(i + OFFSETS.get(i, 0)))

        outputs = await asyncio.gather(*(one(i) for i in range(n)))
        return enact.Int(sum(outputs))


#: Changes the program between a run and its replay: input offsets by child.
OFFSETS: dict[int, int] = {}


@pytest.fixture(autouse=True)
def _no_offsets() -> None:
    OFFSETS.clear()


# --- Rule 1: positions follow start order. ---


def test_gathered_children_are_recorded_in_argument_order_every_run(store: enact.Store) -> None:
    async def runs() -> list[enact.Invocation[Any, Any]]:
        return [await Gather().invoke_async(enact.Int(CHILDREN)) for _ in range(100)]

    invocations = asyncio.run(runs())

    assert sorted(RAN) != RAN  # the children finished in random order...
    for invocation in invocations:  # ...and were recorded in argument order
        assert _inputs(invocation) == list(range(CHILDREN))
    assert len({enact.commit(invocation) for invocation in invocations}) == 1


def test_replay_async_of_a_gathered_run_runs_nothing_and_gives_the_same_record(
    store: enact.Store,
) -> None:
    recorded = asyncio.run(Gather().invoke_async(enact.Int(CHILDREN)))
    digest = enact.commit(recorded).digest
    RUNS.clear()

    replayed = asyncio.run(recorded.replay_async())
    assert RUNS == {}
    assert enact.commit(replayed).digest == digest

    # With the top output removed the parent re-runs, reusing every child in
    # order: the new record is the original one.
    _without_output(recorded)
    replayed = asyncio.run(recorded.replay_async())
    assert RUNS == {"gather": 1}
    assert enact.commit(replayed).digest == digest


# --- Rule 2: replay matches by request digest when start order jitters. ---


def test_strict_replay_reuses_every_child_whatever_order_they_start_in(
    store: enact.Store,
) -> None:
    recorded = asyncio.run(Gather(jitter_ms=4).invoke_async(enact.Int(CHILDREN)))
    output = recorded.get_output()
    orders = {tuple(_inputs(recorded))}
    for _ in range(5):
        _without_output(recorded)
        RUNS.clear()
        replayed = asyncio.run(recorded.replay_async())  # strict

        assert RUNS == {"gather": 1}  # no child ran again
        assert replayed.get_output() == output
        assert sorted(_inputs(replayed)) == list(range(CHILDREN))
        orders.add(tuple(_inputs(replayed)))
    assert len(orders) > 1  # the start order did jitter


def test_strict_replay_of_a_jittered_run_with_a_changed_input_names_the_new_call(
    store: enact.Store,
) -> None:
    recorded = asyncio.run(Gather(jitter_ms=4).invoke_async(enact.Int(CHILDREN)))
    _without_output(recorded)
    OFFSETS[7] = 1000  # the program now calls Sample()(1007) in child 7's place
    RUNS.clear()

    with pytest.raises(enact.ReplayError) as raised:
        asyncio.run(recorded.replay_async())

    assert str(raised.value).startswith("Expected invocation Sample(ms=3.0)(1007) but got ")
    assert RUNS["sample"] == 0  # no recorded child re-ran


def test_clearing_one_middle_childs_output_reruns_exactly_that_child(store: enact.Store) -> None:
    recorded = asyncio.run(Gather(jitter_ms=2).invoke_async(enact.Int(CHILDREN)))
    middle = _inputs(recorded).index(10)
    _without_output(recorded, middle)
    RUNS.clear()
    RAN.clear()

    replayed = asyncio.run(recorded.replay_async())

    assert RUNS == {"gather": 1, "sample": 1}
    assert RAN == [10]
    assert replayed.get_output() == sum(100 * i + 1 for i in range(CHILDREN))


# --- Threads: enact.ThreadPoolExecutor and submit. ---


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class SyncSample(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        with LOCK:
            RUNS["sync_sample"] += 1
        threading.Event().wait(random.random() / 1000)
        return enact.Int(100 * x + 1)


LOCK = threading.Lock()


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class PoolMap(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Int:
        RUNS["pool_map"] += 1
        with enact.ThreadPoolExecutor(4) as executor:
            return enact.Int(sum(executor.map(SyncSample(), range(n))))


def test_thread_pool_map_records_children_in_submit_order_and_replay_reuses_them(
    store: enact.Store,
) -> None:
    runs = [PoolMap().invoke(enact.Int(8)) for _ in range(20)]
    for invocation in runs:
        assert _inputs(invocation) == list(range(8))
    recorded = runs[0]
    _without_output(recorded)
    RUNS.clear()

    replayed = recorded.replay()

    assert RUNS == {"pool_map": 1}
    assert enact.commit(replayed) == enact.commit(runs[1])  # the very record of a run


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class SubmitEach(enact.Invokable):
    """Submits SyncSample calls with Invokable.submit (the shared executor)."""

    def call(self, n: enact.Int) -> enact.Int:
        futures = [SyncSample().submit(i) for i in range(n)]
        return enact.Int(sum(future.result() for future in futures))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class SubmitFunctions(enact.Invokable):
    """Submits plain functions that call SyncSample: they take positions as they start."""

    def call(self, n: enact.Int) -> enact.Int:
        def sample_later(i: int) -> enact.Int:
            threading.Event().wait(random.random() / 200)
            return SyncSample()(i)

        with enact.ThreadPoolExecutor(4) as executor:
            futures = [executor.submit(sample_later, i) for i in range(n)]
            return enact.Int(sum(future.result() for future in futures))


def test_invokable_submit_records_children_in_submit_order(store: enact.Store) -> None:
    invocation = SubmitEach().invoke(enact.Int(8))
    assert invocation.get_output() == sum(100 * i + 1 for i in range(8))
    assert _inputs(invocation) == list(range(8))


def test_functions_run_in_the_pool_are_recorded_and_reused_in_any_order(
    store: enact.Store,
) -> None:
    recorded = SubmitFunctions().invoke(enact.Int(16))
    assert sorted(_inputs(recorded)) == list(range(16))
    orders = {tuple(_inputs(recorded))}
    for _ in range(3):
        _without_output(recorded)
        RUNS.clear()
        replayed = recorded.replay()
        assert RUNS == {}  # every child reused, whatever order the workers took them
        assert replayed.get_output() == sum(100 * i + 1 for i in range(16))
        orders.add(tuple(_inputs(replayed)))
    assert len(orders) > 1  # the start order did jitter


# --- Rule 3: calls left running, cancelled calls. ---


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class FirstCompleted(enact.AsyncInvokable):
    """Starts three samples, keeps the first to finish and cancels the others."""

    wait_for_cancelled: bool = True

    async def call(self) -> enact.Int:
        RUNS["first"] += 1
        tasks = [asyncio.create_task(Sleeper()(enact.Int(ms))) for ms in (1, 5000, 6000)]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if self.wait_for_cancelled:
            await asyncio.gather(*pending, return_exceptions=True)
        return enact.Int(done.pop().result())


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Sleeper(enact.AsyncInvokable):
    async def call(self, ms: enact.Int) -> enact.Int:
        RUNS[f"sleeper {ms}"] += 1
        await asyncio.sleep(ms / 1000)
        return ms


@pytest.mark.parametrize("wait", [True, False], ids=["awaited", "not-awaited"])
def test_cancelled_children_are_recorded_as_cancelled_and_rerun_never_reused(
    store: enact.Store, wait: bool
) -> None:
    recorded = asyncio.run(FirstCompleted(wait).invoke_async())

    assert recorded.get_output() == 1
    first, *cancelled = recorded.get_children()
    assert first.get_output() == 1
    for child in cancelled:
        assert not child.successful()
        assert isinstance(child.get_raised(), enact.InvocationCancelled)
        assert child.get_raised_here()

    _without_output(recorded)
    RUNS.clear()
    # Even an override that would answer anything does not reuse a cancelled call.
    replayed = asyncio.run(recorded.replay_async(exception_override=lambda ref: enact.Int(-1)))

    assert RUNS == {"first": 1, "sleeper 5000": 1, "sleeper 6000": 1}  # sleeper 1 reused
    assert replayed.get_output() == 1


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class ReturnsEarly(enact.AsyncInvokable):
    """Returns while one child runs and another (a task) has not started."""

    async def call(self) -> enact.Int:
        RUNS["early"] += 1
        running = asyncio.create_task(Sleeper()(enact.Int(50)))
        await asyncio.sleep(0.001)
        BACKGROUND.extend([running, asyncio.create_task(Sleeper()(enact.Int(60)))])
        return enact.Int(1)


BACKGROUND: list[asyncio.Task[Any]] = []


def test_a_call_returning_while_its_children_run_records_an_error_naming_them(
    store: enact.Store,
) -> None:
    async def main() -> enact.Invocation[Any, Any]:
        recorded = await ReturnsEarly().invoke_async(raise_on_invocation_error=False)
        with pytest.raises(enact.IncompleteSubinvocationError) as raised:
            await ReturnsEarly().invoke_async()
        # The task that had not started finds its parent gone when it does.
        results = await asyncio.gather(*BACKGROUND, return_exceptions=True)
        assert [type(result) for result in results] == [
            enact.Int,
            enact.IncompleteSubinvocationError,
        ] * 2
        assert "started after the call that made it (ReturnsEarly) had returned" in str(results[1])
        assert str(raised.value) == str(recorded.get_raised())
        BACKGROUND.clear()
        return recorded

    recorded = asyncio.run(main())

    error = recorded.get_raised()
    assert isinstance(error, enact.IncompleteSubinvocationError)
    assert recorded.get_raised_here()
    assert str(error).startswith(
        "ReturnsEarly.call() returned while calls it started had not finished: "
        "child 0, Sleeper()(50) (still running); Sleeper()(60) (not started yet)."
    )
    (running,) = recorded.get_children()  # in flight: no output, no exception
    assert running.request().input() == 50
    assert running.response().output is None
    assert running.get_raised() is None

    RUNS.clear()
    BACKGROUND.clear()

    async def replay() -> enact.Invocation[Any, Any]:
        replayed = await ReturnsEarly().invoke_async(
            replay_from=recorded, raise_on_invocation_error=False
        )
        await asyncio.gather(*BACKGROUND, return_exceptions=True)
        BACKGROUND.clear()
        return replayed

    replayed = asyncio.run(replay())
    assert RUNS["sleeper 50"] == 1  # re-run, not reused
    assert isinstance(replayed.get_raised(), enact.IncompleteSubinvocationError)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Held(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        RELEASE.wait(10)
        return x


RELEASE = threading.Event()


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class SubmitsAndReturns(enact.Invokable):
    def call(self) -> enact.Int:
        FUTURES.append(Held().submit(3))
        return enact.Int(0)


FUTURES: list[Any] = []


def test_a_sync_call_returning_before_the_calls_it_submitted_finish_records_an_error(
    store: enact.Store,
) -> None:
    RELEASE.clear()
    try:
        recorded = SubmitsAndReturns().invoke(raise_on_invocation_error=False)
    finally:
        RELEASE.set()
    assert FUTURES.pop().result() == 3
    error = recorded.get_raised()
    assert isinstance(error, enact.IncompleteSubinvocationError)
    assert "child 0, Held()(3) (still running)" in str(error)
    assert recorded.get_children()[0].response().output is None


# --- Rule 4: failures and input, per call. ---


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class GatherErrors(enact.AsyncInvokable):
    """Gathers Sample(0..n-1) with return_exceptions=True: returns how many failed."""

    async def call(self, n: enact.Int) -> enact.Int:
        results = await asyncio.gather(
            *(Sample(0)(enact.Int(i)) for i in range(n)), return_exceptions=True
        )
        return enact.Int(sum(isinstance(result, Exception) for result in results))


def test_a_failing_child_leaves_its_finished_siblings_recorded_with_their_outputs(
    store: enact.Store,
) -> None:
    FAIL[2] = 30  # fails after the others have finished
    recorded = asyncio.run(Gather().invoke_async(enact.Int(5)))

    assert isinstance(recorded.get_raised(), enact.WrappedException)  # the ValueError
    assert not recorded.get_raised_here()
    children = recorded.get_children()
    assert _inputs(recorded) == [0, 1, 2, 3, 4]
    assert [child.successful() for child in children] == [True, True, False, True, True]
    assert [children[i].get_output() for i in (0, 1, 3, 4)] == [1, 101, 301, 401]
    assert "sample 2 failed" in str(children[2].get_raised())
    assert children[2].get_raised_here()


def test_a_child_still_running_when_its_sibling_fails_is_recorded_in_flight_and_rerun(
    store: enact.Store,
) -> None:
    async def main() -> enact.Invocation[Any, Any]:
        FAIL[1] = 30  # fails once the quick ones have finished...
        FAIL[3] = 500  # ...while this one is still running (then fails too)
        recorded = await Gather().invoke_async(enact.Int(5))
        FAIL.clear()
        _without_output(recorded)
        RAN.clear()
        replayed = await recorded.replay_async()
        assert sorted(RAN) == [1, 3]  # exactly the failed and the unfinished child re-ran
        return replayed

    replayed = asyncio.run(main())
    assert replayed.get_output() == sum(100 * i + 1 for i in range(5))


def test_with_return_exceptions_every_slot_is_recorded(store: enact.Store) -> None:
    FAIL.update({1: 0, 3: 5})
    recorded = asyncio.run(GatherErrors().invoke_async(enact.Int(5)))

    assert recorded.get_output() == 2
    children = recorded.get_children()
    assert [child.successful() for child in children] == [True, False, True, False, True]
    assert all(children[i].get_raised_here() for i in (1, 3))


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class AskName(enact.AsyncInvokable):
    async def call(self, x: enact.Int) -> enact.Str:
        await asyncio.sleep(0)
        name = enact.request_input(enact.Str, context=f"name for {x}?")
        return enact.Str(f"{x}:{name}")


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class AskTwo(enact.AsyncInvokable):
    async def call(self) -> enact.Str:
        answers = await asyncio.gather(AskName()(enact.Int(1)), AskName()(enact.Int(2)))
        return enact.Str(" ".join(answers))


def test_two_concurrent_requests_for_input_are_answered_in_one_replay_by_content(
    store: enact.Store,
) -> None:
    paused = asyncio.run(AskTwo().invoke_async())
    requests = [child.get_raised() for child in paused.get_children()]
    assert all(isinstance(request, enact.InputRequest) for request in requests)
    assert [request.context for request in requests] == ["name for 1?", "name for 2?"]

    # Keyed by each request's content (its ref), in another order than the calls.
    answers = {
        enact.commit(request): enact.Str(f"name-{request.context[-2]}")
        for request in reversed(requests)
    }
    continued = asyncio.run(paused.replay_async(exception_override=answers.get))

    assert continued.get_output() == "1:name-1 2:name-2"
