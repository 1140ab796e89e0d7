"""InMemoryBackend: objects in a dict, for the lifetime of the process."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from time import monotonic
from typing import Any

from enact_resource import ResourceDict
from enact_store._backend import StorageBackend
from enact_store._ref import PackedResource, Ref

__all__ = ["InMemoryBackend"]


class InMemoryBackend(StorageBackend):
    """Keeps objects in a dict for the lifetime of the process.

    The stored ResourceDicts are private snapshots made at commit time and
    never mutated (the store builds a new resource on every read), so reads
    need no verification and types need not be registered.
    """

    trusted = True

    def __init__(self) -> None:
        self._objects: dict[str, ResourceDict] = {}
        self._times: dict[str, float] = {}
        self._tags: dict[str, str] = {}
        self._lock = threading.Lock()

    def commit(self, packed_resource: PackedResource[Any]) -> None:
        digest = packed_resource.ref._digest
        # dict.setdefault is atomic in CPython: concurrent commits of the same
        # digest keep the first (identical) snapshot. The time is written
        # first, so gc never sees an object without one.
        self._times[digest] = monotonic()
        self._objects.setdefault(digest, packed_resource.data)

    def has(self, ref: Ref[Any]) -> bool:
        return ref._digest in self._objects

    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        return self._objects.get(ref._digest)

    def location(self, digest: str) -> str:
        return f"in-memory object {digest}"

    def now(self) -> float:
        # Process-local: a monotonic clock, immune to wall-clock changes.
        return monotonic()

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        times = self._times
        return iter([(digest, times.get(digest, 0.0)) for digest in list(self._objects)])

    def refresh(self, digests: Iterable[str]) -> None:
        now = monotonic()
        with self._lock:
            for digest in digests:
                if digest in self._objects:
                    self._times[digest] = now

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        deleted = []
        with self._lock:
            for digest in digests:
                if older_than is not None and self._times.get(digest, 0.0) >= older_than:
                    continue
                if self._objects.pop(digest, None) is not None:
                    self._times.pop(digest, None)
                    deleted.append(digest)
        return deleted

    def delete_all_or_none(self, digests: Iterable[str], older_than: float) -> bool:
        unique = list(dict.fromkeys(digests))
        with self._lock:
            objects, times = self._objects, self._times
            if any(d not in objects or times.get(d, 0.0) >= older_than for d in unique):
                return False
            for digest in unique:
                del objects[digest]
                times.pop(digest, None)
        return True

    def get_tag(self, name: str) -> str | None:
        return self._tags.get(name)

    def set_tag(self, name: str, digest: str) -> None:
        with self._lock:
            self._tags[name] = digest

    def delete_tag(self, name: str) -> bool:
        with self._lock:
            return self._tags.pop(name, None) is not None

    def compare_and_set_tag(self, name: str, expected: str | None, new: str | None) -> bool:
        with self._lock:
            if self._tags.get(name) != expected:
                return False
            if new is None:
                self._tags.pop(name, None)
            else:
                self._tags[name] = new
            return True

    def list_tags(self) -> dict[str, str]:
        with self._lock:
            return dict(self._tags)

    def __len__(self) -> int:
        return len(self._objects)
