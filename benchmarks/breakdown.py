"""Where the time of a tracked child call goes, by taking work away.

    uv run python benchmarks/breakdown.py

Runs a fan-out of 1,000 tracked child calls with ``Store.commit`` replaced,
inside the parent's call only, by cheaper stand-ins, and prints the median
time per child of each:

- normal: the real commit;
- pack only: ResourceDict + digest, no ref, PackedResource or backend;
- digest only: the digest stream and sha256, no ResourceDict;
- no commit work: a constant ref (what the call machinery costs alone).

The differences between rows apportion the cost (the stand-ins break the
store, so only the timings mean anything).

Then times whole invocations of 1,000 and 16,000 children and reports the
part spent in CPython's cyclic garbage collector, by generation (through
``gc.callbacks``): what makes the cost per child grow with the size.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import enact
import enact_store
from enact_resource import ResourceBase, digest, pack_resource

Commit = Callable[[enact.Store, ResourceBase], enact.Ref[Any]]
_TIMES: list[float] = []
_PATCH: list[Commit | None] = [None]
_FIRST = [0]


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class AddOne(enact.Invokable[enact.Int, enact.Int]):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(x + 1)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class FanOut(enact.Invokable[enact.NoneResource, enact.Int]):
    n: int
    first: int = 0  # Each repetition uses new values: nothing is remembered from the last.

    def call(self) -> enact.Int:
        child = AddOne()
        original = enact_store.Store.commit
        if _PATCH[0] is not None:
            enact_store.Store.commit = _PATCH[0]  # type: ignore[method-assign,assignment]
        try:
            start = time.perf_counter()
            for i in range(self.first, self.first + self.n):
                child(enact.Int(i))
            _TIMES.append(time.perf_counter() - start)
        finally:
            enact_store.Store.commit = original  # type: ignore[method-assign]
        return enact.Int(0)


def _ref(value: str, data: Any = None) -> enact.Ref[Any]:
    ref: enact.Ref[Any] = object.__new__(enact.Ref)  # As cheap as a ref can be made.
    ref._digest = value
    ref._cached = data
    return ref


def pack_only(store: enact.Store, resource: ResourceBase) -> enact.Ref[Any]:
    data, value = pack_resource(resource)
    return _ref(value, data)


def digest_only(store: enact.Store, resource: ResourceBase) -> enact.Ref[Any]:
    return _ref(digest(resource))


def no_work(store: enact.Store, resource: ResourceBase) -> enact.Ref[Any]:
    return _ref("a" * 64)


def per_child_us(patch: Commit | None, n: int = 1000, reps: int = 7) -> float:
    _PATCH[0] = patch
    _TIMES.clear()
    for _ in range(reps):
        gc.collect()
        with enact.Store():
            FanOut(n, first=_FIRST[0]).invoke()
        _FIRST[0] += 10 * n
    return statistics.median(_TIMES) / n * 1e6


class _GcTimer:
    """Sums the time of the cyclic GC's collections by generation (a gc.callbacks entry)."""

    def __init__(self) -> None:
        self.spent = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.spent[info["generation"]] += time.perf_counter() - self._started
            self.count[info["generation"]] += 1


def gc_share(n: int, reps: int = 5) -> tuple[float, list[float], list[float]]:
    """Times fan-outs of n children; returns the median µs per child, and the
    µs per child spent in the cyclic GC and the number of its collections,
    by generation (medians over the repetitions)."""
    _PATCH[0] = None
    totals: list[float] = []
    timers: list[_GcTimer] = []
    for _ in range(reps):
        timer = _GcTimer()
        gc.collect()
        gc.callbacks.append(timer)
        start = time.perf_counter()
        try:
            with enact.Store():
                FanOut(n, first=_FIRST[0]).invoke()
        finally:
            gc.callbacks.remove(timer)
        totals.append(time.perf_counter() - start)
        timers.append(timer)
        _FIRST[0] += 10 * n
    per_child = [statistics.median(t.spent[g] for t in timers) / n * 1e6 for g in range(3)]
    counts = [statistics.median(t.count[g] for t in timers) for g in range(3)]
    return statistics.median(totals) / n * 1e6, per_child, counts


def main() -> None:
    rows = [
        ("normal", None),
        ("pack only (no ref, PackedResource or backend)", pack_only),
        ("digest only (no ResourceDict)", digest_only),
        ("no commit work (call machinery)", no_work),
    ]
    for label, patch in rows:
        print(f"{label:48s} {per_child_us(patch):6.2f} µs/child")
    print()
    print("cyclic GC during the whole invoke (µs per child; collections by generation):")
    for n in (1000, 16000):
        total, per_child, counts = gc_share(n)
        shares = ", ".join(f"gen{g} {per_child[g]:.2f} µs ({counts[g]:.0f})" for g in range(3))
        print(f"  {n:6d} children: {total:6.2f} µs/child in all; in GC: {shares}")


if __name__ == "__main__":
    main()
