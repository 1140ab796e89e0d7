"""InMemoryBackend: objects in a dict, for the lifetime of the process."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator
from time import monotonic
from time import time as wall_time
from typing import Any

from enact_resource import ResourceDict
from enact_store._backend import StorageBackend
from enact_store._ref import PackedResource, Ref
from enact_store._runs import (
    RUN_TAG_PREFIX,
    CallTime,
    RunEntry,
    RunStep,
    claim_outcome,
    fold_step,
    path_key,
)

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
        self._run_entries: dict[str, RunEntry] = {}
        self._run_steps: dict[str, dict[str, RunStep]] = {}

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

    # --- The run index (see StorageBackend.run_get): entries in a dict. ---

    def run_get(self, name: str) -> RunEntry | None:
        with self._lock:
            entry = self._runs().get(name)
        return None if entry is None else dataclasses.replace(entry, now=wall_time())

    def run_list(self) -> list[RunEntry]:
        now = wall_time()
        with self._lock:
            return [dataclasses.replace(entry, now=now) for entry in self._runs().values()]

    def run_calls(self, name: str) -> list[CallTime]:
        with self._lock:
            steps = list(self._run_steps.get(name, {}).values())
        times = [time for time in (step.time for step in steps) if time is not None]
        return sorted(times, key=path_key)

    def run_steps(self, name: str, after: int) -> list[RunStep]:
        with self._lock:
            return [step for step in self._run_steps.get(name, {}).values() if step.seq > after]

    def run_claim(
        self,
        name: str,
        *,
        request: str | None,
        owner: str,
        lease: float,
        force: bool,
        reopen: tuple[str, ...],
        head: str | None,
    ) -> tuple[str, RunEntry | None]:
        with self._lock:
            runs = self._runs()
            now = wall_time()
            entry = runs.get(name)
            if entry is None:
                if request is None or head is None:
                    return "missing", None
                entry = RunEntry(name, request, owner, 1, now + lease, "running", now, now, 0, now)
                self._tags[RUN_TAG_PREFIX + name] = head
                runs[name] = entry
                return "claimed", entry
            entry = dataclasses.replace(entry, now=now)
            outcome = claim_outcome(entry, request, force, reopen)
            if outcome != "claimed":
                return outcome, entry
            entry = dataclasses.replace(
                entry,
                owner=owner,
                epoch=entry.epoch + 1,
                lease_until=now + lease,
                state="running",
                updated_at=now,
            )
            runs[name] = entry
            return "claimed", entry

    def run_checkpoint(
        self,
        name: str,
        *,
        owner: str,
        epoch: int,
        objects: list[PackedResource[Any]],
        logged: list[PackedResource[Any]],
        move_log: bool,
        head: str | None,
        head_seq: int | None,
        lease: float,
        calls_done: int,
        state: str,
        steps: list[RunStep],
    ) -> bool:
        with self._lock:
            runs = self._runs()
            entry = runs.get(name)
            if entry is None or entry.owner != owner or entry.epoch != epoch:
                return False
            for packed in (*objects, *logged):  # (No log of its own: into the store.)
                self.commit(packed)
            if head is not None:
                self._tags[RUN_TAG_PREFIX + name] = head
                entry = dataclasses.replace(entry, head_seq=head_seq or 0)
            now = wall_time()
            runs[name] = dataclasses.replace(
                entry, state=state, lease_until=now + lease, updated_at=now, calls_done=calls_done
            )
            kept = self._run_steps.setdefault(name, {})
            for step in steps:
                kept[step.path] = fold_step(kept.get(step.path), step)
            return True

    def run_heartbeat(self, name: str, *, owner: str, epoch: int, lease: float) -> bool:
        with self._lock:
            runs = self._runs()
            entry = runs.get(name)
            if entry is None or (entry.owner, entry.epoch, entry.state) != (
                owner,
                epoch,
                "running",
            ):
                return False
            runs[name] = dataclasses.replace(entry, lease_until=wall_time() + lease)
            return True

    def run_create(self, name: str, *, request: str, head: str, state: str) -> bool:
        with self._lock:
            runs = self._runs()
            if name in runs:
                return False
            now = wall_time()
            runs[name] = RunEntry(name, request, "", 0, now, state, now, now, 0, now)
            self._tags[RUN_TAG_PREFIX + name] = head
            return True

    def run_delete(self, name: str) -> bool:
        with self._lock:
            existed = self._runs().pop(name, None) is not None
            self._run_steps.pop(name, None)
            existed |= self._tags.pop(RUN_TAG_PREFIX + name, None) is not None
            return existed

    def _runs(self) -> dict[str, RunEntry]:
        return self._run_entries

    def __len__(self) -> int:
        return len(self._objects)
