"""Stores: a backend plus a ref type, usable as the active store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from enact_resource import ResourceBase, ResourceDict, pack_resource
from enact_store._backend import StorageBackend, check_tag_name
from enact_store._context import ACTIVE, current_store
from enact_store._errors import CorruptionError, NotFound, StoreError
from enact_store._ref import PackedResource, Ref, check_digest
from enact_store.backends._memory import InMemoryBackend

if TYPE_CHECKING:
    from enact_store._maintenance import GcReport, Progress, VerifyReport

__all__ = ["Store", "Tags", "commit"]

T = TypeVar("T", bound=ResourceBase)

_new = object.__new__

#: Objects a batch holds before it writes them anyway (bounds its memory).
BATCH_LIMIT = 2000

# Per thread or task: the pending objects of each store with an open batch.
_NO_BATCHES: Mapping[Store, dict[str, PackedResource[Any]]] = MappingProxyType({})
_BATCHES: ContextVar[Mapping[Store, dict[str, PackedResource[Any]]]] = ContextVar(
    "enact_store_batches", default=_NO_BATCHES
)


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

    @property
    def backend(self) -> StorageBackend:
        """The storage backend."""
        return self._backend

    @property
    def ref_type(self) -> type[Ref[Any]]:
        """The ref class used to pack resources."""
        return self._ref_type

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

        Raises:
            FieldTypeError: the resource holds a value resources cannot hold
                (a string with a lone surrogate, say), or nests deeper than
                ``enact_resource.MAX_DEPTH`` levels; the same on every backend.
            SerializationError: the backend cannot represent a value.
        """
        if not isinstance(resource, ResourceBase):
            raise TypeError(f"Only resources can be committed, got {type(resource).__qualname__}")
        if self._default_pack:
            # Ref.pack, inlined for the default packing (keep the two alike):
            # every tracked call commits six objects, and the call it saves is
            # ~0.5 µs per tracked call (A/B over five alternating runs).
            data, value = pack_resource(resource)
            ref = _new(self._ref_type)
            ref._digest = value
            ref._cached = data
            packed: PackedResource[Any] = _new(PackedResource)
            packed.data = data
            packed.ref = ref
        else:
            packed = self._pack(resource)
        batches = _BATCHES.get()
        if batches is not _NO_BATCHES:
            pending = batches.get(self)
            if pending is not None:
                pending.setdefault(packed.ref._digest, packed)
                if len(pending) >= BATCH_LIMIT:
                    self._write(pending)
                return packed.ref
        self._put(packed)
        return packed.ref

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Groups the commits made in the block and writes them together at its end.

        For backends where each write is a transaction (SQLite, PostgreSQL),
        this writes all objects committed in the block, in this thread or
        task, in one transaction when the outermost ``batch`` block exits,
        normally or by an exception (and every :data:`BATCH_LIMIT` objects
        before). Reads in the block see the pending objects. Until the block
        exits, a crash loses the pending objects: never anything written
        before. Tracked invocations run in a batch, so an invocation's
        objects become durable together when its record is written. Setting
        a tag writes the pending objects first. On other backends this does
        nothing.
        """
        batches = _BATCHES.get()
        if not self._backend.batches_commits or self in batches:
            yield
            return
        pending: dict[str, PackedResource[Any]] = {}
        token = _BATCHES.set({**batches, self: pending})
        try:
            yield
        finally:
            _BATCHES.reset(token)
            self._write(pending)

    def flush(self) -> None:
        """Writes the objects pending in the current :meth:`batch` now."""
        pending = _BATCHES.get().get(self)
        if pending:
            self._write(pending)

    def _write(self, pending: dict[str, PackedResource[Any]]) -> None:
        if pending:
            self._backend.commit_many(list(pending.values()))
            pending.clear()

    def _pending(self, digest: str) -> PackedResource[Any] | None:
        batches = _BATCHES.get()
        if batches is not _NO_BATCHES:
            pending = batches.get(self)
            if pending:
                return pending.get(digest)
        return None

    def has(self, ref: Ref[Any]) -> bool:
        """Returns whether the store holds the referenced resource."""
        digest = check_digest(ref.digest)
        return self._pending(digest) is not None or self._backend.has(ref)

    def get(self, ref: Ref[T]) -> T:
        """Returns a copy of the referenced resource (see :meth:`Ref.get`)."""
        resource: T = self.load(ref).to_resource()  # type: ignore[assignment]
        return resource

    def load(self, ref: Ref[Any]) -> ResourceDict:
        """Returns the verified ResourceDict of a ref, read once and cached on the ref.

        The result is shared: treat it as read-only (:meth:`get` returns a
        resource built from it, which is safe to change).

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
        return data

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Checks every object hashes to its digest; reports corrupt, unreadable and
        dangling refs (see :func:`enact_store.verify`)."""
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
        """Deletes objects unreachable from tags and ``roots`` (see :func:`enact_store.gc`)."""
        from enact_store._maintenance import DEFAULT_GRACE_PERIOD, gc

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
        return self._store.ref_type.from_digest(value)

    def __setitem__(self, name: str, ref: Ref[Any]) -> None:
        check_tag_name(name)
        if not isinstance(ref, Ref):
            raise TypeError(f"Tags point at refs, got {type(ref).__qualname__}")
        if not self._store.has(ref):
            raise NotFound(f"Cannot tag {name!r}: object {ref.digest} is not in the store")
        self._store.flush()  # A tag never points at an object not yet written.
        self._store.backend.set_tag(name, ref.digest)

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
