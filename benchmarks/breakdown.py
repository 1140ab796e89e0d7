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


def main() -> None:
    rows = [
        ("normal", None),
        ("pack only (no ref, PackedResource or backend)", pack_only),
        ("digest only (no ResourceDict)", digest_only),
        ("no commit work (call machinery)", no_work),
    ]
    for label, patch in rows:
        print(f"{label:48s} {per_child_us(patch):6.2f} µs/child")


if __name__ == "__main__":
    main()
