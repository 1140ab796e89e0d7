"""Tracked calls free what they hold by reference counting alone.

Exceptions keep their tracebacks, which hold stack frames; a frame that also
holds the exception makes a cycle that only the cyclic collector frees, late
and at a cost that grows with the heap. Invocations must not leave any.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import Callable, Iterator

import pytest

import enact


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Half(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        if x % 2:
            raise ValueError(f"{x} is odd")
        return enact.Int(x // 2)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class HalveTwice(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        return Half()(Half()(x))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class CatchOdd(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        try:
            return Half()(x)
        except ValueError:
            return enact.Int(0)


@pytest.fixture
def no_cycle_collector() -> Iterator[Callable[[], int]]:
    gc.collect()
    gc.disable()
    try:
        yield gc.collect
    finally:
        gc.enable()


@pytest.mark.parametrize("value", [8, 6, 3])
def test_invocations_leave_no_cyclic_garbage(
    value: int, no_cycle_collector: Callable[[], int]
) -> None:
    with enact.Store():
        invocation = HalveTwice().invoke(enact.Int(value))
        caught = CatchOdd().invoke(enact.Int(value))
        replayed = invocation.replay()
    del invocation, caught, replayed

    assert no_cycle_collector() == 0


def test_a_raised_invocation_error_leaves_no_cyclic_garbage(
    no_cycle_collector: Callable[[], int],
) -> None:
    with enact.Store():
        try:
            Half().invoke(enact.Str("not an int"))  # type: ignore[arg-type]
        except enact.InvokableTypeError:
            pass

    assert no_cycle_collector() == 0


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class AsyncHalf(enact.AsyncInvokable):
    async def call(self, x: enact.Int) -> enact.Int:
        await asyncio.sleep(0)
        if x % 2:
            raise ValueError(f"{x} is odd")
        return enact.Int(x // 2)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class AsyncHalveBoth(enact.AsyncInvokable):
    """Halves x and x + 2 at once: both fail when x is odd."""

    async def call(self, x: enact.Int) -> enact.Int:
        a, b = await asyncio.gather(AsyncHalf()(x), AsyncHalf()(enact.Int(x + 2)))
        return enact.Int(a + b)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class AsyncCatchOdd(enact.AsyncInvokable):
    async def call(self, x: enact.Int) -> enact.Int:
        try:
            return await AsyncHalf()(x)
        except ValueError:
            return enact.Int(0)


@pytest.mark.parametrize("value", [8, 6, 3])
def test_async_invocations_leave_no_cyclic_garbage(
    value: int, no_cycle_collector: Callable[[], int]
) -> None:
    loop = asyncio.new_event_loop()
    try:
        with enact.Store():
            invocation = loop.run_until_complete(AsyncHalveBoth().invoke_async(enact.Int(value)))
            caught = loop.run_until_complete(AsyncCatchOdd().invoke_async(enact.Int(value)))
            replayed = loop.run_until_complete(invocation.replay_async())
        del invocation, caught, replayed

        assert no_cycle_collector() == 0
    finally:
        loop.close()
