"""Async invokables: ``async def call``, ``invoke_async``, ``replay_async`` (issue 13, API)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import subprocess
import sys
from typing import Any

import pytest
from _store_testlib import BackendFactory

import enact

RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class AsyncShout(enact.AsyncInvokable):
    suffix: str = "!"

    async def call(self, text: enact.Str) -> enact.Str:
        RUNS["shout"] += 1
        await asyncio.sleep(0)
        return enact.Str(text.upper() + self.suffix)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class SyncLower(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        RUNS["lower"] += 1
        return enact.Str(text.lower())


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class AsyncPipeline(enact.AsyncInvokable):
    """Awaits an async child, then calls a sync one, then the async one again."""

    async def call(self, text: enact.Str) -> enact.Str:
        RUNS["pipeline"] += 1
        loud = await AsyncShout()(text)
        quiet = SyncLower()(loud)
        return await AsyncShout("?")(quiet)


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class AsyncNoInput(enact.AsyncInvokable):
    async def call(self) -> enact.Str:
        return enact.Str("none")


def test_an_async_call_records_its_awaited_children_in_order() -> None:
    with enact.Store():
        invocation = asyncio.run(AsyncPipeline().invoke_async(enact.Str("Hi")))

        assert invocation.get_output() == "HI!?"
        children = invocation.get_children()
        assert [child.request().invokable() for child in children] == [
            AsyncShout(),
            SyncLower(),
            AsyncShout("?"),
        ]
        assert [child.get_output() for child in children] == ["HI!", "hi!", "HI!?"]


def test_typed_invokable_declares_and_checks_the_types_of_an_async_invokable() -> None:
    assert AsyncShout.get_input_type() is enact.Str
    assert issubclass(AsyncShout, enact.AsyncInvokableBase)
    assert issubclass(AsyncShout, enact.InvokableBase)
    with enact.Store(), pytest.raises(enact.InvokableTypeError, match="expects input of type Str"):
        asyncio.run(AsyncShout().invoke_async(enact.Int(1)))
    with enact.Store():
        assert asyncio.run(AsyncNoInput().invoke_async()).get_output() == "none"


def test_an_async_invokable_called_outside_any_tracked_call_just_runs() -> None:
    assert asyncio.run(AsyncShout()("hey")) == "HEY!"  # raw arguments build the input


def test_invoke_of_an_async_invokable_outside_an_event_loop_runs_it_with_asyncio_run() -> None:
    with enact.Store():
        invocation = AsyncPipeline().invoke(enact.Str("Hi"))
        assert invocation.get_output() == "HI!?"
        assert len(invocation.get_children()) == 3
        replayed = invocation.replay()  # replay() of an async invocation, likewise
        assert replayed == invocation


def test_invoke_of_an_async_invokable_inside_an_event_loop_says_to_await_invoke_async() -> None:
    async def main() -> None:
        with pytest.raises(enact.InvokableTypeError, match=r"await AsyncShout\(...\).invoke_async"):
            AsyncShout().invoke(enact.Str("x"))

    with enact.Store():
        asyncio.run(main())


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class SyncCallsAsync(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        return AsyncShout()(text)  # type: ignore[return-value]


def test_calling_an_async_invokable_from_a_sync_call_names_the_way_out() -> None:
    with enact.Store():
        invocation = SyncCallsAsync().invoke(enact.Str("x"), raise_on_invocation_error=False)
        with pytest.raises(enact.InvokableTypeError) as raised:
            SyncCallsAsync().invoke(enact.Str("x"))
        assert isinstance(invocation.get_raised(), enact.InvokableTypeError)  # recorded too
    message = str(raised.value)
    assert "AsyncShout is an AsyncInvokable" in message
    assert "cannot be called from SyncCallsAsync.call(), which is synchronous" in message
    assert "make SyncCallsAsync an enact.AsyncInvokable with `async def call`" in message
    assert RUNS["shout"] == 0


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class AsyncOnPlainInvokable(enact.Invokable):
    async def call(self, text: enact.Str) -> enact.Str:  # type: ignore[override]
        return text


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class SyncOnAsyncInvokable(enact.AsyncInvokable):
    def call(self, text: enact.Str) -> enact.Str:  # type: ignore[override]
        return text


def test_async_def_call_on_a_plain_invokable_says_to_subclass_async_invokable() -> None:
    with enact.Store(), pytest.raises(enact.InvokableTypeError) as raised:
        AsyncOnPlainInvokable().invoke(enact.Str("x"))
    assert "is a coroutine function (async def)" in str(raised.value)
    assert "subclass enact.AsyncInvokable" in str(raised.value)
    assert "wrap it" not in str(raised.value)  # not the hint for values that are not resources


def test_a_sync_call_on_an_async_invokable_is_a_clear_error() -> None:
    with enact.Store(), pytest.raises(enact.InvokableTypeError, match="must be a coroutine"):
        SyncOnAsyncInvokable().invoke(enact.Str("x"))


def test_async_invokables_cannot_be_submitted_to_threads() -> None:
    with pytest.raises(enact.InvokableTypeError, match=r"asyncio\.gather"):
        AsyncShout().submit("x")


def test_invoke_async_of_a_sync_invokable_runs_it_in_a_thread() -> None:
    async def main() -> enact.Invocation[Any, Any]:
        return await SyncLower().invoke_async(enact.Str("LOUD"))

    with enact.Store():
        invocation = asyncio.run(main())
        assert invocation.get_output() == "loud"


def test_async_records_persist_and_replay_async_reuses_them(
    backend_factory: BackendFactory,
) -> None:
    with enact.Store(backend_factory()) as store:
        invocation = asyncio.run(AsyncPipeline().invoke_async(enact.Str("Hi")))
        store.tags["run"] = enact.commit(invocation)

    with enact.Store(backend_factory()) as fresh:  # a new process's view
        recorded = fresh.tags["run"]()
        with recorded.response.modify() as response:
            response.output = None
        RUNS.clear()
        replayed = asyncio.run(recorded.replay_async())

        assert RUNS == {"pipeline": 1}  # only the top re-ran; its children were reused
        assert enact.commit(replayed) == fresh.tags["run"]  # the very same record
        assert fresh.verify().ok


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class AsyncAsk(enact.AsyncInvokable):
    async def call(self) -> enact.Str:
        name = enact.request_input(enact.Str, context="name?")
        return await AsyncShout()(name)


def test_continue_invocation_async_answers_a_request_for_input() -> None:
    with enact.Store():
        paused = asyncio.run(AsyncAsk().invoke_async())
        request = paused.get_raised()
        assert isinstance(request, enact.InputRequest)

        continued = asyncio.run(request.continue_invocation_async(paused, enact.Str("ada")))

        assert continued.get_output() == "ADA!"


def test_import_enact_does_not_import_asyncio() -> None:
    # asyncio costs ~15 ms and thousands of objects at import: only code that
    # runs an event loop pays for it (the enact command starts without it).
    code = "import sys, enact; assert 'asyncio' not in sys.modules, 'asyncio imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
