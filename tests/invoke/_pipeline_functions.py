"""A five-step pipeline written as decorated functions (run in subprocesses by the tests).

Each step appends its name to the file named by ENACT_TEST_RUNS, if set, so
that a test can count what ran in another process.
"""

from __future__ import annotations

import os

import enact


def ran(step: str) -> None:
    log = os.environ.get("ENACT_TEST_RUNS")
    if log:
        with open(log, "a") as f:
            f.write(step + "\n")


@enact.invokable
def outline(topic: str, points: int = 3) -> list[str]:
    ran("outline")
    return [f"{topic}: point {i + 1}" for i in range(points)]


@enact.invokable
def draft(point: str) -> str:
    ran("draft")
    return f"A paragraph about {point}."


@enact.invokable
def critique(text: str) -> str:
    ran("critique")
    return "shorter" if len(text) > 60 else "fine"


@enact.invokable
def revise(text: str, advice: str) -> str:
    ran("revise")
    return text if advice == "fine" else text[:60]


@enact.invokable(version="1")
def essay(topic: str) -> str:
    ran("essay")
    text = "\n".join(draft(point) for point in outline(topic))
    return revise(text, critique(text))


@enact.invokable
def roll(sides: enact.Int) -> enact.Int:
    ran("roll")
    return enact.Int(int(sides) // 2)


@enact.invokable(cache=True)
def slow_square(x: int) -> int:
    ran("slow_square")
    return x * x


@enact.invokable
def squares(n: int) -> list[int]:
    ran("squares")
    return [slow_square(i) for i in range(n)]
