"""Commit never leaves a dangling ref (issue 11 item 2).

A resource committed to a store may only hold refs to objects that store
holds (or has pending in the same batch): a ref from another store, or one
made from a digest, naming an object the store lacks, is refused with an
error that names the digest, and nothing is written.
"""

from __future__ import annotations

import pytest
from _store_testlib import BackendFactory, Box, Node, fresh_ref

import enact_resource as er
import enact_store as es


def test_a_ref_from_another_store_is_refused_naming_the_missing_digest(
    backend_factory: BackendFactory,
) -> None:
    store = es.Store(backend_factory())
    elsewhere = es.Store()
    foreign = elsewhere.commit(Box("precious, but only over there"))
    holder = Box(["holds", foreign])

    with pytest.raises(es.NotFound, match=foreign.digest) as caught:
        store.commit(holder)

    assert "another store" in str(caught.value)
    assert not store.has(es.Ref(er.digest(holder)))


def test_a_ref_made_from_a_digest_of_a_missing_object_is_refused(
    backend_factory: BackendFactory,
) -> None:
    store = es.Store(backend_factory())
    missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

    with pytest.raises(es.NotFound, match=missing.digest):
        store.commit(Node("parent", [missing]))
    with pytest.raises(es.NotFound, match=missing.digest):
        store.commit(missing)  # A ref is a resource holding a ref, too.


def test_a_ref_from_another_store_is_accepted_when_this_store_holds_its_target(
    backend_factory: BackendFactory,
) -> None:
    store = es.Store(backend_factory())
    foreign = es.Store().commit(Box("in both"))
    store.commit(Box("in both"))

    holder = store.commit(Box([foreign]))

    reopened = es.Store(backend_factory())
    with reopened:
        assert fresh_ref(holder).get().value[0].get() == Box("in both")
    assert reopened.verify().ok


def test_refs_read_from_the_store_or_its_tags_are_committed_without_a_lookup(
    backend_factory: BackendFactory,
) -> None:
    store = es.Store(backend_factory())
    child = store.commit(Node("child", []))
    store.tags["child"] = child
    parent = store.commit(Node("parent", [child]))
    reader = es.Store(backend_factory())  # Another process's view, for persistent kinds.

    with reader:
        children = fresh_ref(parent).get().children
        reader.commit(Node("again", [*children, reader.tags["child"]]))

    assert reader.verify().ok


def test_refs_to_objects_pending_in_the_same_batch_are_accepted(
    backend_factory: BackendFactory,
) -> None:
    store = es.Store(backend_factory())

    with store.batch():
        child = store.commit(Node("child", []))
        parent = store.commit(Node("parent", [es.Ref(child.digest)]))

    assert es.Store(backend_factory()).has(parent)
    assert es.Store(backend_factory()).verify().ok
