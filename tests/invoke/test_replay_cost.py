"""A replay that needs nothing re-run does the same work whatever the size.

Counted in Python function calls (deterministic), not in time.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import enact


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Inc(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(x + 1)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class Many(enact.Invokable):
    n: int

    def call(self) -> enact.Int:
        inc = Inc()
        return enact.Int(sum(inc(enact.Int(i)) for i in range(self.n)))


def _calls(run: Callable[[], Any]) -> int:
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return count


def _replay_calls(n: int, drop_top_output: bool) -> int:
    with enact.Store() as store:
        ref = enact.commit(Many(n).invoke())
        invocation = enact.Ref(ref.digest)()
        if drop_top_output:
            with invocation.response.modify() as response:
                response.output = None
        invocation.replay()  # Warm the per-class caches.
        invocation = enact.Ref(ref.digest)()
        if drop_top_output:
            with invocation.response.modify() as response:
                response.output = None
        with store:
            return _calls(invocation.replay)


def test_replay_that_reruns_nothing_costs_the_same_for_10_or_2000_children() -> None:
    assert _replay_calls(10, drop_top_output=False) == _replay_calls(2000, False)


def test_replay_that_reuses_every_child_costs_the_same_per_child() -> None:
    small, large, larger = (_replay_calls(n, True) for n in (20, 1020, 2020))
    # The second thousand children cost what the first did (a few calls of
    # slack: bookkeeping that depends on sizes; lists of 16 or more items take
    # the uniform-list paths, so all three sizes are above that).
    assert abs((larger - large) - (large - small)) <= 10
    assert large - small < 1000 * 100
