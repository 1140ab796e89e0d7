"""Store maintenance: verify, garbage-collect and copy between stores.

These work on any backend that provides the optional listing and deleting
capabilities of :class:`StorageBackend` (every built-in backend does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from enact_resource import ResourceDict, TypeNotRegisteredError
from enact_store._errors import CorruptionError, NotFound, RefError
from enact_store._ref import PackedResource, Ref, check_digest
from enact_store._store import Store

__all__ = [
    "CopyReport",
    "GcReport",
    "Progress",
    "VerifyReport",
    "copy",
    "gc",
    "ref_digests",
    "verify",
]

#: Called as ``progress(done, total)`` during long operations (total may be None).
Progress = Callable[[int, int | None], None]

#: Default grace period of gc, in seconds: unreachable objects written more
#: recently than this are kept, so that a writer that has committed objects
#: but not yet the resource or tag that makes them reachable loses nothing.
DEFAULT_GRACE_PERIOD = 3600.0


@dataclasses.dataclass
class VerifyReport:
    """The result of :func:`verify`.

    Attributes:
        checked: how many objects were read and hashed.
        corrupt: (digest, detail) of objects that do not hash to their digest.
        unreadable: (digest, detail) of objects that cannot be decoded for
            another reason (for instance a type that is not registered).
        dangling: (referrer, missing digest) of refs to objects the store
            lacks; the referrer is a digest or ``tag:NAME``.
    """

    checked: int = 0
    corrupt: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    unreadable: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    dangling: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not (self.corrupt or self.unreadable or self.dangling)


@dataclasses.dataclass
class GcReport:
    """The result of :func:`gc`.

    Attributes:
        reachable: how many objects are reachable from the tags and roots.
        deleted: digests of the objects deleted (or that would be, if dry_run).
        kept_recent: how many unreachable objects were kept as written
            within the grace period, or reachable from one that was.
    """

    reachable: int = 0
    deleted: list[str] = dataclasses.field(default_factory=list)
    kept_recent: int = 0


@dataclasses.dataclass
class CopyReport:
    """The result of :func:`copy`.

    Attributes:
        copied: how many objects were written to the destination.
        skipped: how many roots or children the destination already had.
        tags: the tags set in the destination.
    """

    copied: int = 0
    skipped: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)


def ref_digests(data: ResourceDict) -> Iterator[str]:
    """Yields the digest of every ref inside a ResourceDict (at any depth)."""
    stack: list[Any] = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, Ref):
            yield value.digest
        elif isinstance(value, ResourceDict):
            if issubclass(value.type, Ref):
                yield value["digest"]
            else:
                stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())


def _read(store: Store, digest: str) -> tuple[PackedResource[Any], ResourceDict] | None:
    """Reads an object: (what is stored, its verified content), or None if missing."""
    ref = store.ref_type.from_digest(digest)
    data = store.backend.get(ref)
    if data is None:
        return None
    packed = PackedResource(data, ref)
    return packed, store.ref_type.verify(packed, store.backend.location(digest))


def _unpacked(store: Store, digest: str) -> ResourceDict | None:
    """Reads and verifies an object's content, or None if the store lacks it."""
    read = _read(store, digest)
    return None if read is None else read[1]


def verify(store: Store, progress: Progress | None = None) -> VerifyReport:
    """Reads every object of a store and checks it hashes to its digest.

    Also reports refs (from objects and tags) to objects the store lacks.
    """
    backend = store.backend
    digests = set(backend.iter_digests())
    report = VerifyReport()
    total = len(digests)
    for done, digest in enumerate(sorted(digests), 1):
        try:
            data = _unpacked(store, digest)
        except CorruptionError as e:
            report.corrupt.append((digest, str(e)))
            continue
        except Exception as e:
            report.unreadable.append((digest, f"{type(e).__name__}: {e}"))
            continue
        finally:
            if progress is not None:
                progress(done, total)
        if data is None:
            continue  # Deleted while we were looking.
        report.checked += 1
        for child in ref_digests(data):
            if child not in digests and not backend.has(store.ref_type.from_digest(child)):
                report.dangling.append((digest, child))
    for name, digest in sorted(backend.list_tags().items()):
        if digest not in digests and not backend.has(store.ref_type.from_digest(digest)):
            report.dangling.append((f"tag:{name}", digest))
    return report


def gc(
    store: Store,
    roots: Iterable[Ref[Any]] = (),
    *,
    grace_period: float = DEFAULT_GRACE_PERIOD,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> GcReport:
    """Deletes the objects not reachable from the store's tags or ``roots``.

    Unreachable objects written less than ``grace_period`` seconds before gc
    started are kept, so an object that a concurrent writer commits (or
    re-commits, which refreshes its time) during the run is never deleted.
    As in git, such recent objects also count as roots: what they refer to
    is kept too, so a writer's new work that is not tagged yet never
    dangles. Deletion re-checks each object's time in the backend,
    atomically where the backend allows.

    Args:
        store: the store to collect.
        roots: refs to keep (with everything they reach) besides the tags.
        grace_period: seconds; see above. The guarantee for concurrent
            writers needs at least the backends' refresh interval (60 s).
        dry_run: only report what would be deleted.
        progress: called as objects are marked and swept.

    An object to keep whose type this process has not registered is read as
    raw JSON for the refs inside it (every object of the shape of a ref
    counts, which can only keep more), where the backend can give raw bytes
    and the store packs resources the default way.

    Raises:
        TypeNotRegisteredError: an object to keep names a type this process
            has not registered and cannot be read raw, so the refs inside it
            cannot be followed; nothing is deleted.
    """
    backend = store.backend
    started = backend.now()
    cutoff = started - grace_period
    live: set[str] = set()
    pending = [check_digest(ref.digest) for ref in roots]
    pending.extend(backend.list_tags().values())
    _mark(store, pending, live, progress)
    report = GcReport(reachable=len(live))
    candidates = []
    recent = []
    for digest, written in backend.iter_objects():
        if digest in live:
            continue
        if written >= cutoff:
            recent.append(digest)
        else:
            candidates.append(digest)
    _mark(store, recent, live, progress)
    report.kept_recent = len(live) - report.reachable
    candidates = [digest for digest in candidates if digest not in live]
    if dry_run:
        report.deleted = candidates
        return report
    for start in range(0, len(candidates), 500):
        batch = candidates[start : start + 500]
        report.deleted.extend(backend.delete(batch, older_than=cutoff))
        if progress is not None:
            progress(start + len(batch), len(candidates))
    return report


def _mark(store: Store, pending: list[str], live: set[str], progress: Progress | None) -> None:
    """Adds to ``live`` the objects of ``pending`` and everything they reach."""
    while pending:
        digest = pending.pop()
        if digest in live:
            continue
        live.add(digest)
        try:
            data = _unpacked(store, digest)
        except CorruptionError:
            continue  # Keep it: verify reports it, gc does not decide.
        except TypeNotRegisteredError:
            raw = _raw_ref_digests(store, digest)
            if raw is None:
                raise
            pending.extend(d for d in raw if d not in live)
            continue
        if data is not None:
            pending.extend(d for d in ref_digests(data) if d not in live)
        if progress is not None:
            progress(len(live), None)


def _raw_ref_digests(store: Store, digest: str) -> list[str] | None:
    """The digests of everything shaped like a ref in an object's raw JSON.

    None if that cannot be known: the backend gives no raw bytes, or the
    store's ref type packs resources in its own way.
    """
    read_raw = getattr(store.backend, "read_raw", None)
    if store.ref_type is not Ref or read_raw is None:
        return None
    raw = read_raw(digest)
    if raw is None:
        return []
    try:
        tree = json.loads(raw)
    except ValueError:
        return None
    found: list[str] = []
    stack = [tree]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            target = value.get("digest")
            if len(value) == 2 and ("#res" in value or "#r" in value) and type(target) is str:
                with contextlib.suppress(RefError):
                    found.append(check_digest(target))
                    continue
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def copy(
    src: Store,
    dst: Store,
    roots: Iterable[Ref[Any]],
    *,
    tags: Iterable[str] = (),
    progress: Progress | None = None,
) -> CopyReport:
    """Copies the closure of ``roots`` (and of the named ``tags``) from ``src`` to ``dst``.

    Objects that ``dst`` already has are skipped together with everything
    they reach: objects are written children first, so an object present in a
    store implies its closure is. A skipped object is stamped as just written
    (``refresh``) before anything that refers to it is written, so a gc
    running on ``dst`` meanwhile keeps it. Every object copied is verified on
    reading.

    Raises:
        NotFound: ``src`` lacks an object of the closure (or a named tag).
        CorruptionError: an object in ``src`` is corrupt.
    """
    tag_targets = {}
    for name in tags:
        if name not in src.tags:
            raise NotFound(f"Tag {name!r} is not in the source store")
        tag_targets[name] = src.tags[name]
    start = [check_digest(ref.digest) for ref in roots] + [r.digest for r in tag_targets.values()]
    report = CopyReport()
    same_packing = src.ref_type is dst.ref_type
    batch: list[PackedResource[Any]] = []
    skipped: list[str] = []  # Present in dst; refreshed before any referrer is written.
    seen: set[str] = set()
    # Iterative post-order walk: (digest, the object once its children are queued).
    Read = tuple[PackedResource[Any], ResourceDict]
    stack: list[tuple[str, Read | None]] = [(d, None) for d in reversed(start)]
    while stack:
        digest, expanded = stack.pop()
        if expanded is not None:
            packed, content = expanded
            batch.append(packed if same_packing else _repack(dst, digest, content))
            if len(batch) >= 500:
                _refresh(dst, skipped)
                dst.backend.commit_many(batch)
                report.copied += len(batch)
                batch = []
                if progress is not None:
                    progress(report.copied, None)
            continue
        if digest in seen:
            continue
        seen.add(digest)
        if dst.backend.has(dst.ref_type.from_digest(digest)):
            report.skipped += 1
            skipped.append(digest)
            continue
        read = _read(src, digest)
        if read is None:
            raise NotFound(f"Object {digest} is not in the source store")
        stack.append((digest, read))
        stack.extend((child, None) for child in ref_digests(read[1]) if child not in seen)
    _refresh(dst, skipped)
    if batch:
        dst.backend.commit_many(batch)
        report.copied += len(batch)
    for name, ref in tag_targets.items():
        dst.tags[name] = dst.ref_type.from_digest(ref.digest)
        report.tags.append(name)
    if progress is not None:
        progress(report.copied, report.copied)
    return report


def _refresh(store: Store, digests: list[str]) -> None:
    if digests:
        store.backend.refresh(digests)
        digests.clear()


def _repack(dst: Store, digest: str, content: ResourceDict) -> PackedResource[Any]:
    """Packs content for a destination whose ref type packs differently."""
    packed = dst.ref_type.pack(content.to_resource())
    if packed.ref.digest != digest:
        raise CorruptionError(digest, "copy", f"repacked content hashes to {packed.ref.digest}")
    return packed
