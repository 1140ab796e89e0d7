"""The memo cache: reusing a finished call by its request digest, across runs.

An invokable declared with ``cache=True`` (or ``cache=Cache(version=...)``)
looks each tracked call up by (request digest, cache version) before running
it. The index is the store's tags, under a reserved prefix::

    cache/<cache version>/<request digest>  ->  the recorded Invocation

A tag read is O(1) on every backend (memory, file, SQLite, PostgreSQL), the
entries need no storage format of their own, and gc keeps a cached
invocation (and all it reaches) for as long as its tag exists. An entry is
written when a cached call finishes without raising, in a store opened
writable; a store opened read-only serves hits and writes nothing.
``enact cache ls`` and ``enact cache clear`` list and delete the entries.
"""

from __future__ import annotations

import dataclasses
import re
import weakref
from collections.abc import Iterator
from typing import Any

from enact_store import Ref, Store

__all__ = ["CACHE_PREFIX", "Cache", "CacheEntry", "cache_entries", "cache_setting"]

#: The tags of the memo cache begin with this.
CACHE_PREFIX = "cache/"
_VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class Cache:
    """Memo-cache settings of an invokable: ``cache=enact.Cache(version="2")``.

    A call is reused from the cache when a finished, non-raising record of a
    call with the same request digest *and* the same cache version is in the
    active store. Bump ``version`` to stop reusing what earlier code
    computed without changing the calls' requests (``cache=True`` is
    version ``"0"``).

    Attributes:
        version: 1-64 letters, digits, ``.``, ``_`` or ``-`` (not first).
    """

    version: str = "0"

    def __post_init__(self) -> None:
        if not (isinstance(self.version, str) and _VERSION.fullmatch(self.version)):
            raise ValueError(
                f"Cache version must be 1-64 letters, digits, '.', '_' or '-' (not first), "
                f"got {self.version!r}"
            )
        if ".." in self.version or self.version.endswith((".", ".lock")):
            raise ValueError(f"Cache version {self.version!r} cannot be a tag name part")

    def tag(self, request_digest: str) -> str:
        """The tag name of the entry for a request digest."""
        return f"{CACHE_PREFIX}{self.version}/{request_digest}"


def cache_setting(cache: Any) -> Cache | None:
    """The Cache for a ``cache=`` argument (False or None: no cache)."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return Cache()
    if isinstance(cache, Cache):
        return cache
    raise TypeError(f"cache must be True, False or an enact.Cache, got {cache!r}")


def lookup(store: Store, cache: Cache, request_digest: str) -> tuple[Ref[Any], Any] | None:
    """The cached invocation for a request (its ref and its Response's ResourceDict), or None.

    An entry whose invocation has no output (or raised) is not a hit.
    """
    # The backend's tag read (the name is valid by construction), not Tags' checked one.
    digest = store.backend.get_tag(cache.tag(request_digest))
    if digest is None:
        return None
    # The records an entry names never change (they are content-addressed), so a
    # store's hits read them once: a hit then costs what a replay's reused call does.
    loaded = _LOADED.get(store)
    if loaded is None:
        loaded = _LOADED.setdefault(store, {})
    found = loaded.get(digest)
    if found is not None:
        return found
    ref: Ref[Any] = store.ref_type.from_digest(digest)
    recorded = store.load(ref)  # (Which marks the ref as one this store holds.)
    if recorded["request"].digest != request_digest:  # pragma: no cover - written by hand
        return None
    response = store.load(recorded["response"])
    if response["output"] is None or response["raised"] is not None:
        return None
    if len(loaded) >= _LOADED_MAX:
        loaded.clear()
    loaded[digest] = found = (ref, response)
    return found


# Per store: invocation digest -> (its ref, its Response's ResourceDict), for hits.
_LOADED: weakref.WeakKeyDictionary[Store, dict[str, tuple[Ref[Any], Any]]] = (
    weakref.WeakKeyDictionary()
)
_LOADED_MAX = 4096


def remember(store: Store, cache: Cache, request_digest: str, ref: Ref[Any]) -> None:
    """Writes the entry of a finished call (not in a store opened read-only)."""
    if store.backend.read_only:
        return
    store.tags[cache.tag(request_digest)] = ref


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One entry of the memo cache (see :func:`cache_entries`).

    Attributes:
        tag: its tag name.
        version: the cache version.
        request_digest: the digest of the cached call's request.
        invocation: the recorded invocation.
    """

    tag: str
    version: str
    request_digest: str
    invocation: Ref[Any]


def cache_entries(store: Store) -> Iterator[CacheEntry]:
    """The entries of the memo cache in ``store``, by tag name (reads only)."""
    tags = store.tags
    for name in tags:
        if not name.startswith(CACHE_PREFIX):
            continue
        parts = name[len(CACHE_PREFIX) :].split("/")
        if len(parts) != 2 or not _DIGEST.fullmatch(parts[1]):
            continue
        ref = tags.get(name)
        if ref is not None:
            yield CacheEntry(name, parts[0], parts[1], ref)
