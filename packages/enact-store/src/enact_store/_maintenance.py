"""Store maintenance: verify, garbage-collect and copy between stores.

These work on any backend that provides the optional listing and deleting
capabilities of :class:`StorageBackend` (every built-in backend does).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, NamedTuple

from enact_resource import ResourceDict, TypeNotRegisteredError
from enact_store._codec import decode_object
from enact_store._errors import CorruptionError, GcRefused, NotFound, UnsupportedOperation
from enact_store._ref import PackedResource, Ref, check_digest
from enact_store._store import Store

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "CopyReport",
    "GcReport",
    "Problem",
    "ProblemKind",
    "Progress",
    "VerifyReport",
    "copy",
    "gc",
    "ref_digests",
    "verify",
]

_DIGEST = re.compile(r"[0-9a-f]{64}")

#: Called as ``progress(done, total)`` during long operations (total may be None).
Progress = Callable[[int, int | None], None]

#: Default grace period of gc, in seconds: unreachable objects written more
#: recently than this are kept, so that a writer that has committed objects
#: but not yet the resource or tag that makes them reachable loses nothing.
DEFAULT_GRACE_PERIOD = 3600.0

#: What a :class:`Problem` is about (see there).
ProblemKind = Literal["corrupt", "unregistered", "unreadable", "dangling", "malformed"]

# Objects gc deletes at a time (one transaction on SQL).
_DELETE_BATCH = 500
# Objects gc reads at a time (one query on SQL backends).
_READ_BATCH = 500


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong in a store, as :func:`verify` and :func:`gc` report it.

    Attributes:
        kind: what is wrong.
            ``"corrupt"``: the object's stored bytes cannot be decoded or do
            not hash to its digest.
            ``"unregistered"``: the object names a type this process has not
            registered (``type_id``) and the backend gave no stored type
            for it, so it cannot be verified, nor the refs inside it known.
            ``"unreadable"``: reading the object failed for another reason.
            ``"dangling"``: ``referrer`` holds a ref to ``digest``, which the
            store lacks.
            ``"malformed"``: an entry of the backend (``location``) that is
            neither an object nor a tag (see :meth:`StorageBackend.problems`).
        digest: the object concerned (for ``"dangling"``, the missing one);
            None for ``"malformed"``.
        detail: what is wrong, in words, on one line.
        referrer: for ``"dangling"``: the digest of the object holding the
            ref, ``tag:NAME`` for a tag, or ``root`` for a root given to gc.
        type_id: for ``"unregistered"``: the type id the object names.
        location: where the object or entry is kept (a file, a table row),
            when known.
    """

    kind: ProblemKind
    digest: str | None
    detail: str
    referrer: str | None = None
    type_id: str | None = None
    location: str | None = None

    @property
    def type_name(self) -> str | None:
        """The name of the type in ``type_id`` (``module.Class``), or None."""
        return None if self.type_id is None else _type_name(self.type_id)

    def describe(self) -> str:
        """The problem on one line: what, where and why."""
        if self.kind == "dangling":
            return f"dangling ref {self.referrer} -> {self.digest}: {self.detail}"
        if self.kind == "malformed":
            return f"malformed entry {self.location}: {self.detail}"
        return f"{self.kind} object {self.digest}: {self.detail}"


@dataclasses.dataclass
class VerifyReport:
    """The result of :func:`verify`.

    Attributes:
        checked: how many objects were read and hashed.
        corrupt: objects that cannot be decoded or do not hash to their digest.
        unreadable: objects that cannot be read for another reason, such as
            a type that is not registered (kind ``"unregistered"``).
        dangling: refs (from objects and tags) to objects the store lacks.
        malformed: entries of the backend that are neither objects nor tags.
    """

    checked: int = 0
    corrupt: list[Problem] = dataclasses.field(default_factory=list)
    unreadable: list[Problem] = dataclasses.field(default_factory=list)
    dangling: list[Problem] = dataclasses.field(default_factory=list)
    malformed: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        """Every problem found: corrupt, unreadable, dangling, then malformed."""
        return [*self.corrupt, *self.unreadable, *self.dangling, *self.malformed]

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not (self.corrupt or self.unreadable or self.dangling or self.malformed)


@dataclasses.dataclass
class GcReport:
    """The result of :func:`gc`.

    Attributes:
        reachable: how many objects are reachable from the tags and roots.
        deleted: digests of the objects deleted (or that would be, if
            dry_run), in the order they were (parents before children).
        kept_recent: how many unreachable objects were kept as written
            within the grace period (or during the run), or reachable from
            one that was.
        dangling: refs met while marking to objects the store lacks (already
            lost: gc reports them, and they do not stop it).
    """

    reachable: int = 0
    deleted: list[str] = dataclasses.field(default_factory=list)
    kept_recent: int = 0
    dangling: list[Problem] = dataclasses.field(default_factory=list)


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


def _problem(store: Store, digest: str, error: Exception) -> Problem:
    """The problem an error met reading an object stands for."""
    location = _location(store, digest)
    if isinstance(error, CorruptionError):
        return Problem("corrupt", digest, error.detail, location=location or error.location)
    if isinstance(error, TypeNotRegisteredError):
        name = _type_name(error.type_id)
        return Problem(
            "unregistered",
            digest,
            f"type {name} is not registered in this process, so the object cannot be verified",
            type_id=error.type_id,
            location=location,
        )
    return Problem("unreadable", digest, _one_line(error), location=location)


def verify(store: Store, progress: Progress | None = None) -> VerifyReport:
    """Reads every object of a store and checks it hashes to its digest.

    Also reports refs (from objects and tags) to objects the store lacks,
    and the backend's entries that are neither objects nor tags (see
    :meth:`StorageBackend.problems`); one bad object or entry never stops
    the others being checked.
    """
    backend = store.backend
    report = VerifyReport()
    report.malformed = [_malformed(location, detail) for location, detail in backend.problems()]
    digests = set(backend.iter_digests())
    ordered = sorted(digests)
    total = len(ordered)
    reader = _Reader(store)
    done = 0
    for start in range(0, total, _READ_BATCH):
        loaded = reader.load_many(ordered[start : start + _READ_BATCH])
        for digest, data in loaded.items():
            done += 1
            if isinstance(data, Exception):
                problem = _problem(store, digest, data)
                (report.corrupt if problem.kind == "corrupt" else report.unreadable).append(problem)
            elif data is not None:  # (None: deleted while we were looking.)
                report.checked += 1
                for child in ref_digests(data):
                    if child not in digests and not backend.has(store.ref_type.from_digest(child)):
                        report.dangling.append(_dangling(digest, child))
            if progress is not None:
                progress(done, total)
    for name, digest in sorted(backend.list_tags().items()):
        if digest not in digests and not backend.has(store.ref_type.from_digest(digest)):
            report.dangling.append(_dangling(f"tag:{name}", digest))
    for digest, referrer in _run_roots(store):
        if digest not in digests and not backend.has(store.ref_type.from_digest(digest)):
            report.dangling.append(_dangling(referrer, digest))
    return report


def _run_roots(store: Store) -> list[tuple[str, str]]:
    """The records durable runs logged that their heads do not reach yet (roots for gc).

    A run's checkpoint logs each finished call (RunStep) and moves its head
    (the tag ``runs/NAME``) only now and then; until it does, what the
    steps name is reachable from the run's name through its steps alone.
    """
    backend = store.backend
    try:
        entries = backend.run_list()
    except UnsupportedOperation:
        return []
    roots: list[tuple[str, str]] = []
    for entry in entries:
        # Objects a checkpoint kept in the run's log are not in the store yet:
        # what they refer to is kept (they are, by the run).
        logged = backend.run_log(entry.name)
        for digest, data in logged.items():
            location = f"the log of run {entry.name!r}"
            for child in ref_digests(decode_object(digest, data, location)):
                if child not in logged:
                    roots.append((child, f"run:{entry.name}"))
        for step in backend.run_steps(entry.name, entry.head_seq):
            for named in (step.request, step.invocation):
                if named is not None and named not in logged and _DIGEST.fullmatch(named):
                    roots.append((named, f"run:{entry.name}/{step.path}"))
    return roots


def gc(
    store: Store,
    roots: Iterable[Ref[Any]] = (),
    *,
    grace_period: float = DEFAULT_GRACE_PERIOD,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> GcReport:
    """Deletes the objects not reachable from the store's tags or ``roots``.

    The records of durable runs that their heads do not reach yet (calls
    logged since the head last moved, see :class:`RunStep`) count as roots.

    What gc promises:

    - **Concurrent writers.** Unreachable objects written less than
      ``grace_period`` seconds before gc started are kept, so an object
      that a concurrent writer commits (or re-commits, which refreshes its
      time) during the run is never deleted. As in git, such recent objects
      also count as roots: what they refer to is kept too, so a writer's new
      work that is not tagged yet never dangles. Deletion re-checks each
      object's time in the backend, atomically where the backend allows, and
      an object a writer refreshes during the run is kept with everything
      it reaches.
    - **Damage.** gc deletes nothing if it meets anything it cannot read:
      an object that is corrupt or unreadable (reachable or not: what it
      refers to is unknown), or a malformed entry of the backend (a
      malformed tag may have named a root). It raises :class:`GcRefused` listing them all,
      before deleting anything, also with ``dry_run``. Refs to objects the
      store already lacks are reported (``GcReport.dangling``), not a
      reason to stop.
    - **Interruptions.** Unreachable objects are deleted parents first: an
      object is deleted only with or after every unreachable object that
      refers to it, in batches of up to 500 that the backend deletes
      atomically (:meth:`StorageBackend.delete_all_or_none`: SQLite,
      PostgreSQL, memory), or else (a file store, or a batch holding an
      object refreshed meanwhile) layer after layer. So at every instant,
      also if gc is killed between or during its deletions, every object in
      the store still has everything it refers to: ``verify`` finds no
      dangling ref gc made, and ``copy``, which skips what the destination
      has with everything it reaches, can rely on that. Running gc again
      finishes the job.

    Objects of types this process has not registered are read with their
    stored types (see enact-resource), verified and followed like any other.
    An object that still cannot be read (a backend of your own that gives no
    stored types, say) is one gc refuses on: the refs inside it are unknown.

    gc reads every object once (in batches where the backend allows) and
    keeps in memory the digests and the refs between unreachable objects:
    its time and memory grow linearly with the store.

    Args:
        store: the store to collect.
        roots: refs to keep (with everything they reach) besides the tags.
        grace_period: seconds; see above. The guarantee for concurrent
            writers needs at least the backends' refresh interval (60 s).
        dry_run: only report what would be deleted.
        progress: called as objects are read (``progress(n, None)``) and as
            they are deleted (``progress(deleted, total)``).

    Raises:
        GcRefused: gc met objects or entries it cannot read (see above);
            nothing was deleted.
    """
    backend = store.backend
    started = backend.now()
    cutoff = started - grace_period
    reader = _Reader(store)
    problems = [_malformed(location, detail) for location, detail in backend.problems()]
    report = GcReport()
    marker = _Marker(reader, problems, report.dangling, progress)
    pending: list[_Pending] = [(check_digest(ref.digest), "root") for ref in roots]
    pending.extend((digest, f"tag:{name}") for name, digest in backend.list_tags().items())
    pending.extend(_run_roots(store))
    marker.mark(pending)
    report.reachable = len(marker.live)
    candidates = []
    recent: list[_Pending] = []
    for digest, written in backend.iter_objects():
        if digest in marker.live:
            continue
        if written >= cutoff:
            recent.append((digest, None))
        else:
            candidates.append(digest)
    marker.mark(recent)
    report.kept_recent = len(marker.live) - report.reachable
    graph = _Graph(sorted(digest for digest in candidates if digest not in marker.live))
    graph.read(marker)
    if problems:
        raise GcRefused(problems, report)
    if dry_run:
        report.deleted = graph.sweep(lambda batch: True, lambda batch: batch)
    else:
        report.deleted = graph.sweep(
            lambda batch: backend.delete_all_or_none(batch, cutoff),
            lambda batch: backend.delete(batch, older_than=cutoff),
            progress,
        )
    # Candidates not deleted: refreshed by a writer during the run, or
    # reachable from one that was (or deleted by someone else meanwhile).
    report.kept_recent += len(graph.digests) - len(report.deleted) - graph.vanished
    return report


class _Refs(NamedTuple):
    """What gc learns from reading an object."""

    #: The digests of the refs inside it (empty if ``problem``).
    found: Iterable[str]
    #: Why the refs inside it cannot be known.
    problem: Problem | None = None


class _Reader:
    """Reads objects for verify and gc, in batches: verified, or why they cannot be."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._ref_type = store.ref_type
        self._backend = store.backend
        # Where the backend can read many objects' stored bytes at once (the
        # built-in persistent ones), they are decoded here as its get() does;
        # a backend that cannot (read_raw_many raises UnsupportedOperation)
        # is read with get().
        self._raw = True

    def load_many(self, digests: list[str]) -> dict[str, ResourceDict | Exception | None]:
        """Reads objects: per digest, its verified content, None if the store lacks it,
        or the error reading or verifying it raised.

        Raises:
            StoreError: the backend failed to read the batch (no object's fault).
        """
        if self._raw:
            try:
                raws = self._backend.read_raw_many(digests)
            except UnsupportedOperation:
                self._raw = False
            else:
                return {digest: self._load(digest, raws.get(digest), True) for digest in digests}
        return {digest: self._load(digest, None, False) for digest in digests}

    def _load(self, digest: str, raw: bytes | None, read: bool) -> ResourceDict | Exception | None:
        """Decodes (or gets) and verifies one object; returns what it raised instead of raising."""
        ref = self._ref_type.from_digest(digest)
        backend = self._backend
        try:
            if read:
                if raw is None:
                    return None
                data = decode_object(digest, raw, lambda: backend.location(digest), backend)
            else:
                got = backend.get(ref)
                if got is None:
                    return None
                data = got
            return self._ref_type.verify(PackedResource(data, ref))
        except Exception as e:
            return e

    def refs_many(self, digests: list[str]) -> dict[str, _Refs]:
        """The refs inside each of the objects the store has (the others are left out).

        Raises:
            StoreError: the backend failed to read the batch (no object's fault).
        """
        found = {}
        for digest, data in self.load_many(digests).items():
            if isinstance(data, Exception):
                found[digest] = _Refs((), _problem(self._store, digest, data))
            elif data is not None:
                found[digest] = _Refs(ref_digests(data))
        return found


# (digest, who refers to it: a digest, "tag:NAME", "root", or None for a
# recent object, which is nothing to report should it be missing).
_Pending = tuple[str, str | None]


class _Marker:
    """Marks what roots reach, collecting problems instead of failing."""

    def __init__(
        self,
        reader: _Reader,
        problems: list[Problem],
        dangling: list[Problem],
        progress: Progress | None,
    ) -> None:
        self.reader = reader
        self.problems = problems
        self.dangling = dangling
        self.progress = progress
        self.live: set[str] = set()
        self.missing: set[str] = set()
        self.read = 0

    def mark(self, pending: list[_Pending]) -> None:
        """Adds to ``live`` the objects of ``pending`` and everything they reach."""
        live = self.live
        missing = self.missing
        while pending:
            # Up to _READ_BATCH objects not met yet, read together.
            batch: dict[str, list[_Pending]] = {}
            while pending and len(batch) < _READ_BATCH:
                item = pending.pop()
                digest = item[0]
                if digest in batch:
                    batch[digest].append(item)  # Another referrer, for reports.
                elif digest in live:
                    if digest in missing:
                        self._missing(*item)
                else:
                    live.add(digest)
                    batch[digest] = [item]
            found = self.reader.refs_many(list(batch))
            missing.update(digest for digest in batch if digest not in found)
            for digest, items in batch.items():
                refs = found.get(digest)
                self.read += 1
                if refs is None:
                    for item in items:
                        self._missing(*item)
                elif refs.problem is not None:
                    self.problems.append(refs.problem)
                else:
                    pending.extend(
                        (child, digest)
                        for child in set(refs.found)
                        if child not in live or child in missing
                    )
                if self.progress is not None:
                    self.progress(self.read, None)

    def _missing(self, digest: str, referrer: str | None) -> None:
        """Records a ref to an object the store lacks (a recent root gone meanwhile: nothing)."""
        if referrer is not None:
            self.dangling.append(_dangling(referrer, digest))


class _Graph:
    """The unreachable objects and the refs between them, to delete them parents first."""

    def __init__(self, digests: list[str]) -> None:
        self.digests = digests
        self.index = {digest: i for i, digest in enumerate(digests)}
        #: Per object, the unreachable objects it refers to.
        self.children: list[list[int]] = [[] for _ in digests]
        #: Per object, how many unreachable objects refer to it.
        self.parents = [0] * len(digests)
        self.vanished = 0

    def read(self, marker: _Marker) -> None:
        """Reads every object once for its refs; problems go to the marker's list."""
        index = self.index
        parents = self.parents
        for start in range(0, len(self.digests), _READ_BATCH):
            batch = self.digests[start : start + _READ_BATCH]
            found = marker.reader.refs_many(batch)
            for i, digest in enumerate(batch, start):
                refs = found.get(digest)
                marker.read += 1
                if refs is None:
                    self.vanished += 1  # Deleted by someone else meanwhile.
                elif refs.problem is not None:
                    marker.problems.append(refs.problem)
                else:
                    children = {index[d] for d in refs.found if d in index}
                    children.discard(i)
                    self.children[i] = list(children)
                    for child in children:
                        parents[child] += 1
                if marker.progress is not None:
                    marker.progress(marker.read, None)

    def order(self) -> list[int]:
        """The objects parents first, layer by layer (Kahn's algorithm).

        Each layer is in digest order (the objects are numbered so), so that
        a batch of it touches neighbouring rows of a database's index rather
        than rows spread over all of it. O(objects + refs), plus sorting.
        Objects on a cycle of refs (which content addressing rules out) would
        be left out: never deleted.
        """
        parents = self.parents[:]
        children = self.children
        order: list[int] = []
        layer = [i for i, count in enumerate(parents) if count == 0]
        while layer:
            order.extend(layer)
            freed = []
            for i in layer:
                for child in children[i]:
                    parents[child] -= 1
                    if parents[child] == 0:
                        freed.append(child)
            layer = sorted(freed)
        return order

    def sweep(
        self,
        delete_all_or_none: Callable[[list[str]], bool],
        delete: Callable[[list[str]], list[str]],
        progress: Progress | None = None,
    ) -> list[str]:
        """Deletes the objects parents first; returns the digests deleted, in order.

        Takes the objects in :meth:`order`, up to _DELETE_BATCH at a time,
        each with every unreachable object that refers to it either deleted
        already or in the same batch, and deletes the batch in one step
        (``delete_all_or_none``). Where that cannot be done (the backend
        cannot, or an object was refreshed meanwhile) it deletes the batch
        in layers with ``delete``, each layer only once the objects that
        refer to it are deleted. An object that is not deleted keeps every
        object it reaches. So no object ever loses what it refers to.
        """
        digests = self.digests
        children = self.children
        remaining = self.parents[:]  # Per object, the referrers not deleted yet.
        order = self.order()
        done: list[str] = []
        position = 0
        while position < len(order):
            batch: list[int] = []
            in_batch: dict[int, int] = {}  # Per object, its referrers in the batch.
            while position < len(order) and len(batch) < _DELETE_BATCH:
                i = order[position]
                position += 1
                if remaining[i] == in_batch.get(i, 0):
                    batch.append(i)
                    for child in children[i]:
                        in_batch[child] = in_batch.get(child, 0) + 1
                # Else a referrer was kept: so is this object.
            if delete_all_or_none([digests[i] for i in batch]):
                self._deleted(batch, remaining, done, progress)
            else:
                self._in_layers(batch, remaining, delete, done, progress)
        return done

    def _in_layers(
        self,
        batch: list[int],
        remaining: list[int],
        delete: Callable[[list[str]], list[str]],
        done: list[str],
        progress: Progress | None,
    ) -> None:
        """Deletes a batch layer by layer, each once the objects referring to it are gone."""
        digests = self.digests
        index = self.index
        children = self.children
        members = set(batch)  # Every referrer of a member not deleted yet is one.
        layer = [i for i in batch if remaining[i] == 0]
        while layer:
            gone = [index[d] for d in delete([digests[i] for i in layer])]
            self._deleted(gone, remaining, done, progress)
            freed = (c for i in gone for c in children[i] if c in members and remaining[c] == 0)
            layer = list(dict.fromkeys(freed))  # (A child of two objects of the layer: once.)

    def _deleted(
        self, gone: list[int], remaining: list[int], done: list[str], progress: Progress | None
    ) -> None:
        """Records deleted objects: their children have one referrer fewer."""
        children = self.children
        for i in gone:
            done.append(self.digests[i])
            for child in children[i]:
                remaining[child] -= 1
        if progress is not None:
            progress(len(done), len(self.digests))


def _type_name(type_id: str) -> str:
    """The name in a type id (``{"name": ...}``), else the type id itself."""
    try:
        name = json.loads(type_id)["name"]
    except (ValueError, KeyError, TypeError):
        return type_id
    return str(name)


def _location(store: Store, digest: str) -> str | None:
    try:
        return store.backend.location(digest)
    except Exception:  # A user backend's location() failing must not hide the problem.
        return None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _dangling(referrer: str, digest: str) -> Problem:
    return Problem("dangling", digest, "the store lacks the object", referrer=referrer)


def _malformed(location: str, detail: str) -> Problem:
    return Problem("malformed", None, " ".join(detail.split()), location=" ".join(location.split()))


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
