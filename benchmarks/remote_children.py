"""Invokables that benchmarks/remote.py runs on Ray and Dask workers (importable by name:
the benchmark puts this folder on the workers' PYTHONPATH)."""

from __future__ import annotations

import dataclasses
import time

import enact


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Nap(enact.Invokable):
    """A child that sleeps ``seconds`` (stands for an LLM call) and returns its input."""

    seconds: float = 0.05

    def call(self, x: enact.Int) -> enact.Int:
        time.sleep(self.seconds)
        return x


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Fan(enact.Invokable):
    """The parent: ``enact.map(child, range(n))`` on the ambient executor, summed."""

    child: enact.Invokable = dataclasses.field(default_factory=Nap)

    def call(self, n: enact.Int) -> enact.Int:
        return enact.Int(sum(int(y) for y in enact.map(self.child, range(int(n)))))


def noop(x: int) -> int:
    """The engine's own no-op task."""
    return x


def nap(seconds: float) -> float:
    """The engine's own task that sleeps ``seconds``."""
    time.sleep(seconds)
    return seconds
