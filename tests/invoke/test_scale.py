"""Deep and wide tracked invocations record and replay (SPEC §5, §7)."""

from __future__ import annotations

import collections
import dataclasses
import subprocess
import sys

import pytest

import enact

RUNS: collections.Counter[str] = collections.Counter()
WIDTH = 10_000


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class ScaleChild(enact.Invokable):
    def call(self, value: enact.Int) -> enact.Int:
        RUNS["child"] += 1
        return enact.Int(value + 1)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class ScaleWide(enact.Invokable):
    def call(self, width: enact.Int) -> enact.Int:
        RUNS["top"] += 1
        child = ScaleChild()
        return enact.Int(sum(child(enact.Int(i)) for i in range(width)))


DEEP_CHAIN_PRELUDE = """
import dataclasses
import sys

import enact

sys.setrecursionlimit(1000)
RUNS = [0]

@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Down(enact.Invokable):
    def call(self, depth):
        RUNS[0] += 1
        if depth == 0:
            if FAIL_AT_BOTTOM:
                raise ValueError("bottom")
            return enact.Int(0)
        return enact.Int(Down()(enact.Int(depth - 1)) + 1)

def chain(invocation):
    nodes = [invocation]
    while nodes[-1].get_children():
        (child,) = nodes[-1].get_children()
        nodes.append(child)
    return nodes
"""

DEEP_CHAIN = """
FAIL_AT_BOTTOM = False
with enact.Store():
    invocation = Down().invoke(enact.Int(200))
    print(invocation.get_output(), len(chain(invocation)) - 1)
"""

DEEP_FAILING_CHAIN = """
FAIL_AT_BOTTOM = True
with enact.Store():
    nodes = chain(Down().invoke(enact.Int(200)))
    print(len(nodes) - 1, [i for i, node in enumerate(nodes) if node.get_raised_here()])
    print(len({node.response().raised for node in nodes}))
"""

DEEP_REPLAY = """
FAIL_AT_BOTTOM = False
with enact.Store():
    nodes = chain(Down().invoke(enact.Int(200)))
    # Remove every output along the chain, rebuilding the records bottom-up.
    rebuilt = None
    for node in reversed(nodes):
        response = node.response()
        response.output = None
        if rebuilt is not None:
            response.children = [rebuilt]
        rebuilt = enact.commit(enact.Invocation(node.request, enact.commit(response)))
    RUNS[0] = 0
    replayed = rebuilt().replay()
    print(replayed.get_output(), RUNS[0])
"""


def _run_python(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", DEEP_CHAIN_PRELUDE + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_call_chain_200_deep_works_at_default_recursion_limit() -> None:
    assert _run_python(DEEP_CHAIN) == ["200 200"]


def test_failing_call_chain_200_deep_records_at_default_recursion_limit() -> None:
    # One recorded exception, raised here only at the bottom of the chain.
    assert _run_python(DEEP_FAILING_CHAIN) == ["200 [200]", "1"]


def test_call_chain_200_deep_reruns_on_replay_at_default_recursion_limit() -> None:
    assert _run_python(DEEP_REPLAY) == ["200 201"]


def test_invocation_with_10000_children_records_and_replays() -> None:
    expected = sum(i + 1 for i in range(WIDTH))
    with enact.Store():
        invocation = ScaleWide().invoke(enact.Int(WIDTH))
        assert invocation.get_output() == expected
        assert len(invocation.response().children) == WIDTH
        assert RUNS == {"top": 1, "child": WIDTH}

        with invocation.response.modify() as response:
            response.output = None
        RUNS.clear()
        replayed = invocation.replay()

        assert RUNS["child"] == 0
        assert RUNS["top"] == 1
        assert replayed.get_output() == expected
        assert len(replayed.response().children) == WIDTH
        assert replayed.response().children == invocation.response().children
