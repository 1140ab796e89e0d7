"""gc on the shipped backends beyond the contract (the contract's gc tests are in
enact_store.testing, run by test_conformance.py)."""

from __future__ import annotations

from typing import Any

from _store_testlib import BackendFactory, Box, age_objects, fresh_ref, written_time

import enact_resource as er
import enact_store as es

OLD = 10_000.0
GRACE = 1_000.0


def test_recommitting_a_recently_written_object_keeps_its_time(
    persistent_factory: BackendFactory,
) -> None:
    # Refreshing is for objects older than REFRESH_INTERVAL: a store that is
    # committed to again and again does not rewrite them every time.
    store = es.Store(persistent_factory())
    ref = store.commit(Box("recent"))
    age_objects(store.backend, [ref.digest], 10.0)
    before = written_time(store.backend, ref.digest)

    store.commit(Box("recent"))
    store.backend.commit_many([es.Ref.pack(Box("recent"))])

    assert written_time(store.backend, ref.digest) == before


def test_every_shipped_backend_but_the_file_store_deletes_atomically(
    backend_factory: BackendFactory,
) -> None:
    # A file store cannot delete several files atomically: it never does
    # (and gc deletes layer by layer there); the others always can.
    store = es.Store(backend_factory())
    refs = [store.commit(Box(("all or none", i))) for i in range(3)]
    age_objects(store.backend, [ref.digest for ref in refs], OLD)
    cutoff = store.backend.now() - GRACE

    deleted = store.backend.delete_all_or_none([ref.digest for ref in refs], cutoff)

    assert deleted is (backend_factory.kind != "file")
    assert [store.has(fresh_ref(ref)) for ref in refs] == [not deleted] * 3


def test_a_backend_without_atomic_deletes_says_so() -> None:
    class Minimal(es.StorageBackend):
        def commit(self, packed_resource: es.PackedResource[Any]) -> None: ...

        def has(self, ref: es.Ref[Any]) -> bool:
            return False

        def get(self, ref: es.Ref[Any]) -> er.ResourceDict | None:
            return None

    assert Minimal().delete_all_or_none([er.digest(Box(1))], 0.0) is False
    assert list(Minimal().problems()) == []
