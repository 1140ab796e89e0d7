"""Stores: a backend plus a ref type, usable as the active store."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from enact_resource import ResourceBase, ResourceDict, TypeNotRegisteredError, pack_resource
from enact_store._backend import StorageBackend, check_tag_name
from enact_store._context import ACTIVE, current_store
from enact_store._errors import CorruptionError, NotFound, ReadOnlyStoreError, StoreError
from enact_store._ref import (
    ForeignRef,
    PackedResource,
    Ref,
    check_digest,
    home_token,
)
from enact_store.backends._memory import InMemoryBackend

if TYPE_CHECKING:
    import concurrent.futures

    from enact_store._maintenance import GcReport, Progress, VerifyReport
    from enact_store._runs import Runs

__all__ = ["Store", "Tags", "commit", "get"]

T = TypeVar("T", bound=ResourceBase)

_new = object.__new__

# Values that hold no refs, skipped at once when commit looks for refs.
_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})

#: Objects a batch holds before it writes them anyway (bounds its memory).
BATCH_LIMIT = 2000


class _Pending(dict[str, PackedResource[Any]]):
    """The objects of an open batch, by digest, not yet written.

    Shared by every thread that runs in a copy of the batch's context (as
    ``asyncio.to_thread`` does): any of them may add objects while another
    writes. Writing takes ``lock`` and removes only the objects it wrote, once
    written, so nothing added meanwhile is dropped and every object stays
    readable (here or in the backend) at every instant. ``limit`` is how many
    objects make a commit write the batch: 0 once the batch has ended, so that
    a thread still using its context writes what it commits at once.
    ``background``: the writes a full batch makes are done by a thread of
    their own (see Store.batch). ``staged``: objects a durable run's
    checkpoint wrote to the run's log, not yet to the store (see
    :meth:`Store._write_run_checkpoint`): still read from here, and written
    with the batch's next write.
    """

    __slots__ = ("background", "limit", "lock", "staged")

    def __init__(self, background: bool = False) -> None:
        super().__init__()
        self.limit = BATCH_LIMIT
        self.lock = threading.Lock()
        self.background = background
        self.staged: dict[str, PackedResource[Any]] | None = None


# The background writer, and the process it belongs to.
_writer: tuple[concurrent.futures.ThreadPoolExecutor, int] | None = None
_writer_lock = threading.Lock()


def _background_writer() -> concurrent.futures.ThreadPoolExecutor:
    """The one thread that writes background batches (made on first use).

    One long-lived thread, so that backends that keep a connection per thread
    (SQLite) open it once. A process forked from one that had it makes its
    own (the thread is not forked with it: work given to it would never run).
    """
    global _writer
    writer = _writer
    if writer is None or writer[1] != os.getpid():
        with _writer_lock:
            writer = _writer
            if writer is None or writer[1] != os.getpid():
                import concurrent.futures  # (Only async runs need it.)

                executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="enact-store-writer"
                )
                writer = _writer = (executor, os.getpid())
    return writer[0]


# Per thread or task: the pending objects of each store with an open batch.
_NO_BATCHES: Mapping[Store, _Pending] = MappingProxyType({})
_BATCHES: ContextVar[Mapping[Store, _Pending]] = ContextVar(
    "enact_store_batches", default=_NO_BATCHES
)

_tuple_new = tuple.__new__  # the fast constructor of the PackedResource record


class Store:
    """A content-addressed store of resources: a backend and a ref type.

    Use it as a context manager to make it the active store for the current
    thread or asyncio task; nested ``with`` blocks restore the previous store.

    Args:
        backend: where objects live; an :class:`InMemoryBackend` by default.
        ref_type: the :class:`Ref` class that packs resources (a subclass may
            compress or encrypt) and that :meth:`commit` returns.
    """

    def __init__(
        self, backend: StorageBackend | None = None, *, ref_type: type[Ref[Any]] = Ref
    ) -> None:
        if backend is None:
            backend = InMemoryBackend()
        if not isinstance(backend, StorageBackend):
            raise TypeError(f"backend must be a StorageBackend, got {type(backend).__qualname__}")
        if not (isinstance(ref_type, type) and issubclass(ref_type, Ref)):
            raise TypeError(f"ref_type must be a Ref subclass, got {ref_type!r}")
        self._backend = backend
        self._ref_type = ref_type
        # Reads from a trusted backend with the default packing need no
        # re-hashing (the data never left this process).
        self._verify_reads = not backend.trusted
        # Bound once: commit is the hot path of every tracked call.
        self._pack = ref_type.pack
        default = Ref.pack.__func__  # type: ignore[attr-defined]
        self._default_pack = getattr(ref_type.pack, "__func__", None) is default
        self._put = backend.commit
        # What refs hold to say that this store's backend holds their target.
        self._home = home_token(backend)

    @property
    def backend(self) -> StorageBackend:
        """The storage backend."""
        return self._backend

    @property
    def ref_type(self) -> type[Ref[Any]]:
        """The ref class used to pack resources."""
        return self._ref_type

    @property
    def runs(self) -> Runs:
        """The store's run index (durable named runs: see ``enact.run``)."""
        from enact_store._runs import Runs

        return Runs(self)

    def _write_run_checkpoint(
        self, name: str, *, head: str | None, move_log: bool, **fields: Any
    ) -> bool:
        """Runs.checkpoint: writes the objects pending in the current batch with it.

        Where the backend logs objects (``run_logs_objects``: SQLite,
        PostgreSQL), a checkpoint that does not move the head writes them to
        the run's log, a few rows side by side, rather than into the store's
        objects, where each would change a page of its own: they stay
        readable here (``staged``) and go into the store with the next
        checkpoint that moves the head, or once :data:`BATCH_LIMIT` are
        staged, or when the batch is written. A crash leaves them in the
        log, which resuming moves into the store first.
        """
        pending = _BATCHES.get().get(self)
        backend = self._backend
        if pending is None:
            return backend.run_checkpoint(
                name,
                objects=[],
                logged=[],
                move_log=move_log or head is not None,
                head=head,
                **fields,
            )
        with pending.lock:
            written = pending.copy()
            staged = pending.staged
            log = (
                backend.run_logs_objects
                and head is None
                and not move_log
                and (staged is None or len(staged) < BATCH_LIMIT)
            )
            objects = list(written.values())
            done = backend.run_checkpoint(
                name,
                objects=[] if log else objects,
                logged=objects if log else [],
                move_log=not log,
                head=head,
                **fields,
            )
            if done:
                if log:
                    if staged is None:
                        staged = pending.staged = {}
                    staged.update(written)
                else:
                    pending.staged = None
                for digest in written:
                    del pending[digest]
        return done

    def _stage_logged(self, objects: list[PackedResource[Any]]) -> None:
        """Runs.recover_log: makes objects read back from a run's log readable.

        In a batch they are staged (see :meth:`_write_run_checkpoint`): the
        next checkpoint that moves the head moves the log into the store, and
        the batch's next write writes them; outside one they are written now.
        """
        pending = _BATCHES.get().get(self)
        if pending is None:
            self._backend.commit_many(objects)
            return
        with pending.lock:
            staged = pending.staged
            if staged is None:
                staged = pending.staged = {}
            for packed in objects:
                staged[packed.ref._digest] = packed

    @property
    def tags(self) -> Tags:
        """Named, mutable pointers to refs (like git branches)."""
        # A new view each time: a Tags held by the store would form a cycle,
        # and a dropped store (with all it holds) would then wait for the
        # cyclic garbage collector instead of being freed at once.
        return Tags(self)

    @staticmethod
    def current() -> Store:
        """Returns the active store.

        Raises:
            NoActiveStoreError: no store is active.
        """
        return current_store()

    def __enter__(self) -> Store:
        ACTIVE.set((*ACTIVE.get(), self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = ACTIVE.get()
        if not stack or stack[-1] is not self:
            raise StoreError("Store contexts were exited out of order")
        ACTIVE.set(stack[:-1])

    def commit(self, resource: T) -> Ref[T]:
        """Commits a resource and returns a ref to it (idempotent).

        Inside :meth:`batch` the object is written when the batch ends;
        otherwise it is durable (as far as the backend is) when this returns.

        Never leaves a dangling ref: every ref inside the resource must name
        an object this store holds (or has pending in the batch). Refs that
        this store made or read are known to; any other (from another store,
        or made from a digest) is checked, and one that names an object the
        store lacks raises :class:`NotFound`. Copy such objects first with
        :func:`enact_store.copy`.

        Raises:
            FieldTypeError: the resource holds a value resources cannot hold
                (a string with a lone surrogate, say), or nests deeper than
                ``enact_resource.MAX_DEPTH`` levels; the same on every backend.
            SerializationError: the backend cannot represent a value.
            NotFound: a ref inside names an object this store does not hold.
        """
        if not isinstance(resource, ResourceBase):
            raise TypeError(f"Only resources can be committed, got {type(resource).__qualname__}")
        if self._default_pack:
            # INLINED COPY of enact_store.Ref.pack (tests/test_inlined_copies.py)
            # For the default packing: every tracked call commits six objects,
            # and the call it saves is ~0.5 µs per tracked call (A/B over
            # five alternating runs).
            # Packing stops at a ref this store is not known to hold
            # (ForeignRef, see Ref._enact_pack_): all are checked, then again.
            try:
                data, value = pack_resource(resource, self._home)
            except ForeignRef:
                self._check_refs(resource.field_values(), resource)
                data, value = pack_resource(resource, self._home)
            ref = _new(self._ref_type)
            ref._digest = value
            ref._cached = data
            packed: PackedResource[Any] = _tuple_new(PackedResource, (data, ref))
        else:
            packed = self._pack(resource)
            ref = packed.ref
            self._check_refs(resource.field_values(), resource)
        if resource._enact_atomic_ and isinstance(resource, Ref):
            self._check_refs([resource], resource)  # Packed without _enact_pack_.
        ref._home = self._home
        batches = _BATCHES.get()
        if batches is not _NO_BATCHES:
            pending = batches.get(self)
            if pending is not None:
                staged = pending.staged
                if staged is None or ref._digest not in staged:
                    pending.setdefault(ref._digest, packed)
                # While another thread writes the batch, the others go on
                # adding to it: it is written again at the next commit over
                # the limit or when it ends. A commit to an ended batch (limit
                # 0) waits for the lock, since nothing else will write it.
                if len(pending) >= pending.limit and not (pending.limit and pending.lock.locked()):
                    if pending.background and pending.limit:
                        self._write_behind(pending)
                    else:
                        self._write(pending)
                return ref
        self._put(packed)
        return ref

    def _check_refs(self, value: Any, resource: ResourceBase) -> None:
        """Checks that every ref in ``value`` names an object this store holds (see commit).

        Walks the values themselves (not copies), so that each ref found
        present is marked as held here and packs without stopping again.
        """
        home = self._home
        stack: list[Any] = [value]
        while stack:
            item = stack.pop()
            kind = type(item)
            if kind in _SCALARS:
                continue
            if isinstance(item, Ref):
                if item._home is not home:
                    if not self.has(item):
                        raise NotFound(
                            f"Cannot commit {type(resource).__qualname__}: it refers to "
                            f"object {item._digest}, which this store ({self._describe()}) "
                            "does not hold (a ref from another store?); copy that object "
                            "here first (enact.copy), or commit it to this store"
                        )
                    item._home = home
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list | tuple):
                stack.extend(item)
            elif isinstance(item, ResourceBase) and not item._enact_atomic_:
                stack.extend(item.field_values())

    def refresh(self, refs: Iterable[Ref[Any]]) -> None:
        """Stamps objects as just written, so that a concurrent gc keeps them.

        gc keeps what was written within its grace period, and everything
        that reaches or is reached from it; a writer that is about to refer
        to objects it did not write itself (a replay reusing recorded calls,
        a new version of an old object) refreshes them first, so that gc
        cannot delete them meanwhile. The replay, ``invoke`` with a ref and
        ``Ref.modify`` do this themselves.

        Raises:
            NotFound: the store does not hold one of the objects.
            ReadOnlyStoreError: the store was opened read-only.
        """
        refs = list(refs)
        digests = [check_digest(ref.digest) for ref in refs]
        if not digests or self._backend.read_only:
            return  # A read-only store is not written, so gc needs no warning.
        self._backend.refresh(digests)
        for ref in refs:
            if not self.has(ref):
                raise NotFound(f"Object {ref.digest} is not in the store ({self._describe()})")

    @contextlib.contextmanager
    def batch(self, *, background: bool = False) -> Iterator[None]:
        """Groups the commits made in the block and writes them together at its end.

        For backends where each write is a transaction (SQLite, PostgreSQL),
        this writes all objects committed in the block, in this thread or
        task, in one transaction when the outermost ``batch`` block exits,
        normally or by an exception (and every :data:`BATCH_LIMIT` objects
        before). Threads started with a copy of the block's context (as
        ``asyncio.to_thread`` does) share the batch: no object any of them
        commits is lost, whichever thread writes, and one that commits after
        the block has exited writes at once. Reads in the block see the
        pending objects. Until the block exits, a crash loses the pending
        objects: never anything written before. Tracked invocations run in a
        batch, so an invocation's objects become durable together when its
        record is written. Setting a tag writes the pending objects first. On
        other backends this does nothing.

        Args:
            background: the writes the batch makes each time it fills up are
                done by a thread of their own, while commits go on (they
                never wait for the disk): what an event loop needs. The end
                of the block still writes what is left, in the thread that
                exits it: call :meth:`flush` in a thread first (``await
                asyncio.to_thread(store.flush)``). A write that fails in the
                background leaves its objects pending, to be written (or the
                error raised) by the next write. Ignored in a nested block.
        """
        batches = _BATCHES.get()
        if not self._backend.batches_commits or self in batches:
            yield
            return
        pending = _Pending(background)
        token = _BATCHES.set({**batches, self: pending})
        try:
            yield
        finally:
            _BATCHES.reset(token)
            # Before the last write: a thread that still holds the batch's
            # context and commits after it writes its objects itself.
            pending.limit = 0
            self._write(pending)

    def flush(self) -> None:
        """Writes the objects pending in the current :meth:`batch` now."""
        pending = _BATCHES.get().get(self)
        if pending:
            self._write(pending)

    def _write(self, pending: _Pending) -> None:
        with pending.lock:
            self._write_locked(pending)

    def _write_locked(self, pending: _Pending) -> None:
        staged = pending.staged
        if staged:
            self._backend.commit_many(list(staged.values()))
            pending.staged = None
        if pending:
            # A snapshot: other threads may add objects while it is written.
            written = pending.copy()
            self._backend.commit_many(list(written.values()))
            # Only writers remove, under the lock: each is still there.
            for digest in written:
                del pending[digest]

    def _write_behind(self, pending: _Pending) -> None:
        """Has the background writer write a full batch (one write at a time per batch)."""
        if not pending.lock.acquire(blocking=False):
            return  # Being written: the next full batch will write again.
        try:
            _background_writer().submit(self._write_behind_locked, pending)
        except BaseException:
            pending.lock.release()  # (The interpreter is shutting down.)
            raise

    def _write_behind_locked(self, pending: _Pending) -> None:
        try:
            self._write_locked(pending)
        except BaseException:
            # Nothing is lost: the objects stay pending, and the next write
            # (at the latest, the batch's end) writes them or raises.
            pass
        finally:
            pending.lock.release()

    def _pending(self, digest: str) -> PackedResource[Any] | None:
        batches = _BATCHES.get()
        if batches is not _NO_BATCHES:
            pending = batches.get(self)
            if pending is not None:
                found = pending.get(digest)
                if found is None and pending.staged:
                    return pending.staged.get(digest)
                return found
        return None

    def has(self, ref: Ref[Any]) -> bool:
        """Returns whether the store holds the referenced resource."""
        digest = check_digest(ref.digest)
        return self._pending(digest) is not None or self._backend.has(ref)

    def get(self, ref: Ref[T]) -> T:
        """Returns a copy of the referenced resource (see :meth:`Ref.get`).

        Raises:
            NotFound: the store does not hold the resource.
            CorruptionError: the stored data does not match the digest.
            TypeNotRegisteredError: the object (or one inside it) is of a type
                this process has not registered; :meth:`load` still reads it.
            SchemaMismatchError: it was stored by another version of its class,
                and the class cannot take the stored fields.
        """
        data = self.load(ref)
        try:
            resource: T = data.to_resource()  # type: ignore[assignment]
        except TypeNotRegisteredError as e:
            where = f"reading object {ref.digest} from {self._describe()}"
            raise TypeNotRegisteredError(e.type_id, where) from e
        return resource

    def load(self, ref: Ref[Any]) -> ResourceDict:
        """Returns the verified ResourceDict of a ref, read once and cached on the ref.

        The result is shared: treat it as read-only (:meth:`get` returns a
        resource built from it, which is safe to change).

        This is also the raw view of stored data: it reads any object, also
        one whose class this process lacks or has in another version. Its
        ``.type`` is then a :class:`~enact_resource.StoredResource` subclass
        made from the stored type id and fields (``.type.stored_name``,
        ``.type.stored_type_id``), and its values are the stored fields.

        Raises:
            NotFound: the store does not hold the resource.
            CorruptionError: the stored data does not match the digest.
        """
        data = ref._cached
        if data is not None:
            return data
        digest = check_digest(ref.digest)
        pending = self._pending(digest)
        data = self._backend.get(ref) if pending is None else pending.data
        if data is None:
            raise NotFound(f"Object {digest} is not in the store ({self._describe()})")
        packed = PackedResource(data, ref)
        if self._verify_reads:
            try:
                data = self._ref_type.verify(packed)
            except CorruptionError as e:
                # Where the object lives, worked out only when it is corrupt.
                where = self._backend.location(digest)
                raise CorruptionError(e.digest, where, e.detail) from e.__cause__
        else:
            data = self._ref_type.unpack(packed)
        ref._cached = data
        ref._home = self._home
        return data

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Checks every object hashes to its digest; reports corrupt and unreadable
        objects, dangling refs and malformed entries (see :func:`enact_store.verify`)."""
        from enact_store._maintenance import verify

        return verify(self, progress)

    def gc(
        self,
        roots: Iterable[Ref[Any]] = (),
        *,
        grace_period: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> GcReport:
        """Deletes objects unreachable from tags and ``roots`` (see :func:`enact_store.gc`).

        ``grace_period`` defaults to :data:`DEFAULT_GRACE_PERIOD` (an hour).

        Raises:
            GcRefused: gc met an object it cannot read or verify, or a
                malformed entry; nothing was deleted.
        """
        from enact_store._maintenance import DEFAULT_GRACE_PERIOD, gc

        if self._backend.read_only and not dry_run:
            raise ReadOnlyStoreError(f"Cannot collect garbage: {self!r} is open read-only")
        period = DEFAULT_GRACE_PERIOD if grace_period is None else grace_period
        return gc(self, roots, grace_period=period, dry_run=dry_run, progress=progress)

    def close(self) -> None:
        """Closes the backend (connections, files)."""
        self._backend.close()

    def _describe(self) -> str:
        return type(self._backend).__name__

    def __repr__(self) -> str:
        return f"Store({self._backend!r})"


class Tags(MutableMapping[str, Ref[Any]]):
    """A store's tags: a persistent mapping from a name to a ref.

    Setting a tag requires the store to hold the referenced object, so a tag
    never dangles at the moment it is written.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getitem__(self, name: str) -> Ref[Any]:
        value = self._store.backend.get_tag(check_tag_name(name))
        if value is None:
            raise KeyError(name)
        ref = self._store.ref_type.from_digest(value)
        ref._home = self._store._home  # Tags name objects the store holds.
        return ref

    def __setitem__(self, name: str, ref: Ref[Any]) -> None:
        check_tag_name(name)
        if not isinstance(ref, Ref):
            raise TypeError(f"Tags point at refs, got {type(ref).__qualname__}")
        if not self._store.has(ref):
            raise NotFound(f"Cannot tag {name!r}: object {ref.digest} is not in the store")
        self._store.flush()  # A tag never points at an object not yet written.
        self._store.backend.set_tag(name, ref.digest)

    def compare_and_set(self, name: str, expected: Ref[Any] | None, new: Ref[Any] | None) -> bool:
        """Atomically points ``name`` at ``new`` if it points at ``expected`` now.

        ``expected`` None means the tag must not exist yet; ``new`` None
        deletes it. Returns whether the tag was changed. Atomic on every
        backend, across threads and processes sharing the store: of several
        writers that read the same value and try to move the tag, exactly one
        succeeds, so no update is lost.

        Raises:
            NotFound: the store does not hold ``new``.
            UnsupportedOperation: the backend cannot compare-and-set.
        """
        check_tag_name(name)
        for given in (expected, new):
            if given is not None and not isinstance(given, Ref):
                raise TypeError(f"Tags point at refs, got {type(given).__qualname__}")
        if new is not None:
            if not self._store.has(new):
                raise NotFound(f"Cannot tag {name!r}: object {new.digest} is not in the store")
            self._store.flush()  # A tag never points at an object not yet written.
        return self._store.backend.compare_and_set_tag(
            name,
            None if expected is None else expected.digest,
            None if new is None else new.digest,
        )

    def __delitem__(self, name: str) -> None:
        if not self._store.backend.delete_tag(check_tag_name(name)):
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._store.backend.list_tags()))

    def __len__(self) -> int:
        return len(self._store.backend.list_tags())

    def __contains__(self, name: object) -> bool:
        try:
            check_tag_name(name)
        except ValueError:
            return False  # No tag can have an invalid name.
        assert isinstance(name, str)
        return self._store.backend.get_tag(name) is not None

    def __repr__(self) -> str:
        return f"Tags({self._store.backend.list_tags()!r})"


def commit(resource: T) -> Ref[T]:
    """Commits a resource to the active store and returns a ref to it.

    Raises:
        NoActiveStoreError: no store is active.
    """
    return current_store().commit(resource)


@overload
def get(ref: None) -> None: ...


@overload
def get(ref: Ref[T]) -> T: ...


def get(ref: Ref[T] | None) -> T | None:
    """Returns a copy of the resource a ref names, from the active store; None for None.

    The same as ``ref.get()``, for a ref that may be missing (an optional
    field, say).

    Raises:
        TypeError: ``ref`` is neither a Ref nor None.
        NoActiveStoreError: no store is active.
        NotFound: the active store does not hold the resource.
    """
    if ref is None:
        return None
    if not isinstance(ref, Ref):
        raise TypeError(f"get expects a Ref or None, got {type(ref).__qualname__}")
    return current_store().get(ref)
