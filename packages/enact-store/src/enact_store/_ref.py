"""References: sha256 digests that name resources in a store."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Generic, NamedTuple, TypeVar

from enact_resource import (
    FieldValue,
    ResourceBase,
    ResourceDict,
    digest,
    pack_resource,
    register,
    set_type_name,
    type_info,
)
from enact_store._context import current_store
from enact_store._errors import CorruptionError, RefError

__all__ = ["PackedResource", "Ref", "check_digest"]

T = TypeVar("T", bound=ResourceBase)
R = TypeVar("R", bound="Ref[Any]")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_new = object.__new__

#: While a backend decodes stored data (see enact_store._codec): that
#: backend's home token, which refs read from the data take as their home.
_DECODING: ContextVar[object] = ContextVar("enact_decoding_backend", default=None)


class ForeignRef(Exception):
    """Raised while packing for a commit: a ref whose target the store is not known to hold."""

    def __init__(self, ref: Ref[Any]) -> None:
        super().__init__(ref)
        self.ref = ref


def home_token(backend: object) -> object:
    """The token that refs hold to say that ``backend`` holds their targets.

    A plain object of the backend's own rather than the backend itself: the
    in-memory backend holds refs, and refs holding it would make a cycle.
    """
    token = getattr(backend, "_enact_home_", None)
    if token is None:
        token = object()
        try:
            backend._enact_home_ = token  # type: ignore[attr-defined]
        except AttributeError:
            return token  # A backend with __slots__: its refs are simply checked.
    return token


_tuple_new = tuple.__new__

# The digest stream's prefix (docs/format.md §2: "res[" and the type id) of each ref
# class met so far. Refs are not dataclasses, so a class's type id is fixed
# once its name is (set_type_name is called before a class's first use).
_PREFIXES: dict[type, str] = {}


def _prefix(cls: type[ResourceBase]) -> str:
    prefix = _PREFIXES.get(cls)
    if prefix is None:
        prefix = _PREFIXES[cls] = type_info(cls).stream_prefix
    return prefix


def check_digest(value: object) -> str:
    """Returns ``value`` if it is a digest (64 lowercase hex digits), else raises RefError.

    Every path from a digest to a file name or a query goes through here, so a
    malformed digest (``../x``, an absolute path, wrong length, non-hex) is
    rejected before anything is touched.
    """
    if type(value) is str and len(value) == 64 and _HEX64.fullmatch(value):
        return value
    raise RefError(f"Invalid digest {value!r:.100}: expected 64 lowercase hex digits")


class PackedResource(NamedTuple, Generic[T]):
    """What a backend stores: ``data`` (a ResourceDict) under ``ref``'s digest.

    ``data`` is the packed form chosen by the store's ``ref_type``: the
    resource's own ResourceDict by default, or for instance a compressed or
    encrypted wrapper resource for a :class:`Ref` subclass that overrides
    :meth:`Ref.pack` and :meth:`Ref.unpack`.

    An immutable record (a named tuple: its fields cannot be reassigned; use
    ``_replace`` for a changed copy). Two packs are equal when their refs and
    their data are equal, so packing equal resources gives equal packs. Packs
    are not hashable: ``data`` is a dict, whose contents can change, so a
    pack is no safe set member or dict key; key by ``packed.ref`` instead.
    """

    data: ResourceDict
    ref: Ref[T]

    def __eq__(self, other: object) -> bool:
        # Not equal to a plain tuple of the same items: a pack is a record.
        return isinstance(other, PackedResource) and (
            self.ref == other.ref and self.data == other.data
        )

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        raise TypeError(
            "PackedResource is not hashable: its data is a dict whose contents can change; "
            "use packed.ref (or its digest) as the key"
        )


class Ref(ResourceBase, Generic[T]):
    """A reference to a resource in a store, by the sha256 digest of its content.

    Refs are hashable and compare equal by digest. ``ref.get()`` (or simply
    ``ref()``) returns a fresh copy of the resource from the active store;
    mutating it never changes what any ref returns later.
    """

    __slots__ = ("_cached", "_digest", "_home")
    # Kept whole (as a private copy) inside ResourceDicts.
    _enact_atomic_ = True

    _digest: str
    # The verified ResourceDict of the target, once loaded. Private and never
    # mutated: every get() builds a new resource from it, so dereferencing a
    # loaded ref costs one conversion and no hashing.
    _cached: ResourceDict | None
    # The home token (see home_token) of the backend known to hold the
    # target: the one that committed it, or whose data this ref was read from
    # (None: not known). A store checks the other refs inside a resource it
    # commits (see Store.commit).
    _home: object

    def __init__(self, digest: str) -> None:
        # INLINED COPY of enact_store._ref.check_digest (tests/test_inlined_copies.py)
        # Refs are made by the thousand.
        if type(digest) is not str or len(digest) != 64 or not _HEX64.fullmatch(digest):
            check_digest(digest)
        self._digest = digest
        self._cached = None
        self._home = None

    @property
    def digest(self) -> str:
        """The hex sha256 digest of the referenced resource."""
        return self._digest

    # --- Resource protocol: a Ref is a resource with one field, `digest`. ---

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return ("digest",)

    def field_values(self) -> tuple[str]:
        return (self._digest,)

    @classmethod
    def from_fields(cls: type[R], field_dict: Mapping[str, FieldValue]) -> R:
        return cls(field_dict["digest"])

    @classmethod
    def from_resource_dict(cls: type[R], resource_dict: ResourceDict) -> R:
        # A shortcut of from_fields for the many refs read back from storage.
        ref = _new(cls)
        digest = resource_dict["digest"]
        # INLINED COPY of enact_store._ref.check_digest (tests/test_inlined_copies.py)
        if type(digest) is not str or len(digest) != 64 or not _HEX64.fullmatch(digest):
            check_digest(digest)
        ref._digest = digest
        ref._cached = None
        ref._home = _DECODING.get()  # The backend whose data is being read, if any.
        return ref

    def _enact_stream_(self) -> str:
        # The generic stream of a one-field resource; a digest needs no escaping.
        cls = type(self)
        # INLINED COPY of enact_store._ref._prefix (tests/test_inlined_copies.py)
        prefix = _PREFIXES.get(cls) or _prefix(cls)
        return f"{prefix}'digest's'{self._digest}']"

    def _enact_pack_(self, context: object = None) -> tuple[str, Ref[T]]:
        # Stream (as _enact_stream_) and snapshot copy in one call: refs fill
        # invocation records, so this runs several times per tracked call.
        # A store committing passes its home token as the context: a ref not
        # known to be held there stops the packing, so that the store checks it.
        home = self._home
        if home is not context and context is not None:
            raise ForeignRef(self)
        cls = type(self)
        copy = _new(cls)
        copy._digest = digest = self._digest
        copy._cached = self._cached
        copy._home = home
        # INLINED COPY of enact_store._ref._prefix (tests/test_inlined_copies.py)
        prefix = _PREFIXES.get(cls) or _prefix(cls)
        return f"{prefix}'digest's'{digest}']", copy

    def deep_copy_resource(self: R) -> R:
        # A new object, since modify() re-points a ref; the cache is shared as
        # it is never mutated.
        copy: R = _new(type(self))
        copy._digest = self._digest
        copy._cached = self._cached
        copy._home = self._home
        return copy

    @classmethod
    def _enact_copy_list_(cls, refs: list[Any]) -> list[Any] | None:
        # INLINED COPY of enact_store.Ref.deep_copy_resource (tests/test_inlined_copies.py)
        # For each ref, in one loop: lists of refs are read back with every
        # Response and RefList.
        copies: list[Any] = []
        append = copies.append
        for ref in refs:
            if type(ref) is not cls:
                return None
            copy = _new(cls)
            copy._digest = ref._digest
            copy._cached = ref._cached
            copy._home = ref._home
            append(copy)
        return copies

    def set_from(self, other: ResourceBase) -> None:
        if not isinstance(other, Ref):
            raise TypeError(f"set_from expects a Ref, got {type(other).__qualname__}")
        self._digest = other._digest
        self._cached = other._cached
        self._home = other._home

    # --- Value semantics. ---

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other._digest == self._digest

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._digest)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._digest}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._digest,))

    # --- Dereferencing. ---

    def get(self) -> T:
        """Returns a copy of the referenced resource from the active store.

        The content is read once (and verified) and then kept with this ref:
        later calls build a new copy from it without reading or hashing
        again. Content is named by its digest, so it is the same whichever
        store it came from; a ref that has its content no longer asks the
        active store whether it holds it.

        Raises:
            NoActiveStoreError: no store is active.
            NotFound: the active store does not hold the resource.
            CorruptionError: the stored data does not match the digest.
        """
        return current_store().get(self)

    __call__ = get

    @contextlib.contextmanager
    def modify(self) -> Iterator[T]:
        """Yields a copy of the resource; on normal exit commits it and re-points this ref.

        If the block raises, the ref is left unchanged.
        """
        store = current_store()
        # Stamped as just written first, so that a concurrent gc keeps it and
        # what it refers to (which the new version may refer to as well).
        store.refresh([self])
        resource = self.get()
        yield resource
        new = store.commit(resource)
        self._digest = new._digest
        self._cached = new._cached
        self._home = new._home

    # --- Packing: override in subclasses to compress or encrypt. ---

    @classmethod
    def from_digest(cls: type[R], value: str) -> R:
        """Returns a ref of this class to the given digest."""
        return cls(value)

    @classmethod
    def of(cls: type[R], resource: ResourceBase) -> R:
        """Returns a ref naming ``resource`` by its digest, without committing it.

        The ref says which content it names, not that any store holds it:
        dereferencing it needs a store that does. Replay uses it to compare
        a new call with a recorded one without writing anything.
        """
        ref = _new(cls)
        ref._digest = digest(resource)  # Just computed: needs no check.
        ref._cached = None
        ref._home = None
        return ref

    @classmethod
    def pack(cls, resource: ResourceBase) -> PackedResource[Any]:
        """Returns what a backend stores for ``resource`` and the ref naming it.

        The default stores the resource's own ResourceDict. A subclass may
        return another ResourceDict (say, of a resource holding compressed or
        encrypted bytes) as long as :meth:`unpack` inverts it; the ref's digest
        must stay the digest of ``resource`` itself.
        """
        data, value = pack_resource(resource)
        # The digest was just computed, so it needs no validation. (Objects are
        # made without calling __init__: this runs for every object committed;
        # Store.commit inlines this body for the default packing.)
        ref = _new(cls)
        ref._digest = value
        ref._cached = data
        ref._home = None  # Store.commit sets it once a backend holds the object.
        # tuple.__new__: the fast constructor of the PackedResource record.
        packed: PackedResource[Any] = _tuple_new(PackedResource, (data, ref))
        return packed

    @classmethod
    def unpack(cls, packed: PackedResource[Any]) -> ResourceDict:
        """Inverts :meth:`pack`: returns the ResourceDict of the original resource."""
        return packed.data

    @classmethod
    def verify(cls, packed: PackedResource[Any], location: str = "") -> ResourceDict:
        """Unpacks ``packed`` and checks that its content hashes to ``packed.ref``.

        Returns:
            The verified ResourceDict of the resource.

        Raises:
            CorruptionError: the content does not match the digest.
        """
        expected = packed.ref._digest
        where = location or "stored data"
        try:
            data = cls.unpack(packed)
            actual = digest(data)
        except Exception as e:
            raise CorruptionError(expected, where, f"cannot be read: {e}") from e
        if actual != expected:
            raise CorruptionError(expected, where, f"content hashes to {actual}")
        return data


set_type_name(Ref, "enact.references.Ref")
# Registered so that resources holding refs can be read back from persistent backends.
register(Ref)
