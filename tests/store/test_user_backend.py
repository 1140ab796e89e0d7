"""A user-written backend with only the three abstract methods works with Store.

It also passes the conformance suite: every test of an optional capability
it lacks (tags, listing, deleting) is skipped, saying which.
"""

from __future__ import annotations

from typing import Any

import pytest
from _store_testlib import Box, fresh_ref

import enact_resource as er
import enact_store as es
from enact_store.testing import BackendFactory, BackendTests


class DictOfBytesBackend(es.StorageBackend):
    """The tutorial's interface and nothing more: objects as JSON bytes in a dict."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.serializer = er.JsonSerializer()

    def commit(self, packed_resource: es.PackedResource[Any]) -> None:
        self.blobs[packed_resource.ref.digest] = self.serializer.serialize(packed_resource.data)

    def has(self, ref: es.Ref[Any]) -> bool:
        return ref.digest in self.blobs

    def get(self, ref: es.Ref[Any]) -> er.ResourceDict | None:
        data = self.blobs.get(ref.digest)
        return None if data is None else self.serializer.deserialize(data)


@pytest.fixture
def user_store() -> es.Store:
    return es.Store(DictOfBytesBackend())


def test_user_backend_commits_and_reads_back(user_store: es.Store) -> None:
    with user_store:
        ref = es.commit(Box({"x": [1, 2.5, b"raw"]}))

        assert user_store.has(ref)
        assert fresh_ref(ref).get() == Box({"x": [1, 2.5, b"raw"]})


def test_user_backend_stores_the_serialized_resource(user_store: es.Store) -> None:
    ref = user_store.commit(Box("plain"))

    blobs = user_store.backend.blobs  # type: ignore[attr-defined]
    assert b'"plain"' in blobs[ref.digest]


def test_user_backend_supports_modify(user_store: es.Store) -> None:
    with user_store:
        ref = es.commit(Box("before"))
        with ref.modify() as resource:
            resource.value = "after"

        assert fresh_ref(ref).get() == Box("after")


def test_user_backend_missing_object_raises_not_found(user_store: es.Store) -> None:
    with user_store, pytest.raises(es.NotFound):
        es.Ref(er.digest(Box("absent"))).get()


def test_user_backend_detects_corruption(user_store: es.Store) -> None:
    ref = user_store.commit(Box("right"))
    blobs = user_store.backend.blobs  # type: ignore[attr-defined]
    blobs[ref.digest] = blobs[ref.digest].replace(b"right", b"wrong")

    with user_store, pytest.raises(es.CorruptionError, match=ref.digest):
        fresh_ref(ref).get()


def test_user_backend_tags_raise_unsupported_operation(user_store: es.Store) -> None:
    ref = user_store.commit(Box(1))

    with pytest.raises(es.UnsupportedOperation):
        user_store.tags["main"] = ref
    with pytest.raises(es.UnsupportedOperation):
        user_store.tags["main"]
    with pytest.raises(es.UnsupportedOperation):
        len(user_store.tags)
    with pytest.raises(es.UnsupportedOperation):
        del user_store.tags["main"]


def test_user_backend_optional_listing_raises_unsupported_operation(
    user_store: es.Store,
) -> None:
    with pytest.raises(es.UnsupportedOperation):
        list(user_store.backend.iter_digests())
    with pytest.raises(es.UnsupportedOperation):
        user_store.backend.delete([])


def test_user_backend_commit_many_falls_back_to_commit(user_store: es.Store) -> None:
    user_store.backend.commit_many(es.Ref.pack(Box(i)) for i in range(3))

    assert all(user_store.has(es.Ref(er.digest(Box(i)))) for i in range(3))


class _MinimalFactory(BackendFactory):
    persistent = False  # The dict lives in the backend: every open() is the same one.

    def open(self) -> es.StorageBackend:
        if not hasattr(self, "backend"):
            self.backend = DictOfBytesBackend()
        return self.backend


class TestMinimalBackendConformance(BackendTests):
    factory_class = _MinimalFactory
