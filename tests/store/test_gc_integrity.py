"""gc never deletes what it cannot prove unused: damaged objects stop it before any deletion.

An object gc cannot read or verify may refer to anything, so gc raises
GcRefused, naming every such object, and deletes nothing (also in a dry run).
Objects of types this process has not registered are read with their stored
types: verified and followed like any other.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _store_testlib import (
    BackendFactory,
    Box,
    Node,
    age_objects,
    commit_elsewhere,
    fresh_ref,
    read_raw,
    write_raw,
)

import enact_store as es

OLD = 10_000.0
GRACE = 1_000.0
PRECIOUS = "precious, and only reachable through the holder"


def _flip(raw: bytes) -> bytes:
    """Flips one bit inside the holder's label: the bytes still decode, but hash wrong."""
    position = raw.index(b"holder") + 2
    return raw[:position] + bytes([raw[position] ^ 0x01]) + raw[position + 1 :]


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "flipped-bit": _flip,
    "truncated": lambda raw: raw[: len(raw) // 2],
    "garbage": lambda raw: b"\x00\xff not an object",
    "empty": lambda raw: b"",
}


def _holder_store(factory: BackendFactory) -> tuple[es.Store, es.Ref[Box], es.Ref[Node], str]:
    """A tagged holder whose only ref is to a precious Box, and an old garbage object."""
    store = es.Store(factory())
    doc = store.commit(Box(PRECIOUS))
    holder = store.commit(Node("holder", [doc]))
    store.tags["main"] = holder
    garbage = store.commit(Box("garbage"))
    age_objects(store.backend, [doc.digest, holder.digest, garbage.digest], OLD)
    return store, doc, holder, garbage.digest


def _assert_all_still_there(store: es.Store, before: set[str], doc: es.Ref[Box]) -> None:
    assert set(store.backend.iter_digests()) == before
    with store:
        assert fresh_ref(doc).get() == Box(PRECIOUS)


@pytest.mark.parametrize("damage", DAMAGE, ids=str)
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_gc_deletes_nothing_behind_a_damaged_tagged_object(
    persistent_factory: BackendFactory, damage: str, dry_run: bool
) -> None:
    store, doc, holder, _ = _holder_store(persistent_factory)
    write_raw(store.backend, holder.digest, DAMAGE[damage](read_raw(store.backend, holder.digest)))
    before = set(store.backend.iter_digests())

    with pytest.raises(es.GcRefused, match=holder.digest) as refused:
        store.gc(grace_period=GRACE, dry_run=dry_run)

    _assert_all_still_there(store, before, doc)
    [problem] = refused.value.problems
    assert (problem.kind, problem.digest) == ("corrupt", holder.digest)
    assert problem.location == store.backend.location(holder.digest)
    assert refused.value.report.deleted == []
    assert isinstance(refused.value, es.StoreError)
    assert "gc deleted nothing" in str(refused.value)


def test_gc_deletes_nothing_behind_a_damaged_object_kept_as_recent(
    persistent_factory: BackendFactory,
) -> None:
    # Untagged but young: the grace period keeps it, and what it refers to.
    store, doc, holder, _ = _holder_store(persistent_factory)
    del store.tags["main"]
    write_raw(store.backend, holder.digest, _flip(read_raw(store.backend, holder.digest) or b""))
    age_objects(store.backend, [holder.digest], -OLD)  # written just now
    before = set(store.backend.iter_digests())

    with pytest.raises(es.GcRefused) as refused:
        store.gc(grace_period=GRACE)

    _assert_all_still_there(store, before, doc)
    assert [(p.kind, p.digest) for p in refused.value.problems] == [("corrupt", holder.digest)]


def test_gc_deletes_nothing_while_an_unreachable_object_is_damaged(
    persistent_factory: BackendFactory,
) -> None:
    # What a damaged object referred to is unknown: gc cannot order the
    # deletion of the garbage around it, so it deletes none of it.
    store, _, _, garbage = _holder_store(persistent_factory)
    write_raw(store.backend, garbage, b"\x00\xff not an object")
    before = set(store.backend.iter_digests())

    with pytest.raises(es.GcRefused, match=garbage) as refused:
        store.gc(grace_period=GRACE)

    assert set(store.backend.iter_digests()) == before
    assert [(p.kind, p.digest) for p in refused.value.problems] == [("corrupt", garbage)]


def test_gc_refused_lists_every_damaged_object(persistent_factory: BackendFactory) -> None:
    store, doc, holder, garbage = _holder_store(persistent_factory)
    for digest in (holder.digest, garbage, doc.digest):
        write_raw(store.backend, digest, b"{}")

    with pytest.raises(es.GcRefused) as refused:
        store.gc(grace_period=GRACE)

    # The doc is unreachable once its holder cannot be read, and damaged too.
    assert sorted(p.digest or "" for p in refused.value.problems) == sorted(
        [holder.digest, garbage, doc.digest]
    )
    assert {p.kind for p in refused.value.problems} == {"corrupt"}


# --- Objects of types this process has not registered (read with stored types) ---


UNKNOWN_DAMAGE: dict[str, Callable[[bytes, str], bytes]] = {
    # A digest in a ref turned into another valid digest, or into a non-digest.
    "other-digest": lambda raw, doc: raw.replace(
        doc.encode(), (doc[:-1] + ("0" if doc[-1] != "0" else "1")).encode()
    ),
    "non-hex-digest": lambda raw, doc: raw.replace(doc.encode(), doc[:-1].encode() + b"x"),
    # The ref's type name: the dict is no longer a ref.
    "ref-marker": lambda raw, doc: raw.replace(b"references.Ref", b"references.Reg"),
    "flipped-label": lambda raw, doc: raw.replace(b"holder", b"holdes"),
}


@pytest.mark.parametrize("damage", UNKNOWN_DAMAGE, ids=str)
def test_gc_deletes_nothing_behind_a_damaged_object_of_an_unregistered_type(
    persistent_factory: BackendFactory, damage: str
) -> None:
    # Its stored type still lets gc verify it: the damage is found, not guessed past.
    store = es.Store(persistent_factory())
    doc = store.commit(Box(PRECIOUS))
    holder = commit_elsewhere(persistent_factory.url, "holder", [doc.digest])
    store.tags["main"] = es.Ref(holder)
    garbage = store.commit(Box("garbage"))
    age_objects(store.backend, [doc.digest, holder, garbage.digest], OLD)
    raw = read_raw(store.backend, holder) or b""
    write_raw(store.backend, holder, UNKNOWN_DAMAGE[damage](raw, doc.digest))
    before = set(store.backend.iter_digests())

    with pytest.raises(es.GcRefused, match=holder) as refused:
        store.gc(grace_period=GRACE)

    _assert_all_still_there(store, before, doc)
    assert [(p.kind, p.digest) for p in refused.value.problems] == [("corrupt", holder)]


def test_gc_deletes_unregistered_garbage_whose_children_are_already_gone(
    persistent_factory: BackendFactory,
) -> None:
    # What an interrupted gc of earlier versions could leave behind: an
    # unreachable parent whose child is gone. gc cleans it up.
    store = es.Store(persistent_factory())
    child = store.commit(Node("child", []))
    parent = commit_elsewhere(persistent_factory.url, "parent", [child.digest])
    store.tags["main"] = store.commit(Node("kept", []))
    store.backend.delete([child.digest])
    age_objects(store.backend, list(store.backend.iter_digests()), OLD)

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [parent]
    assert store.verify().ok


def test_gc_reports_refs_to_objects_already_lost_without_stopping(store: es.Store) -> None:
    lost = store.commit(Node("lost", []))
    holder = store.commit(Node("holder", [lost]))
    store.tags["main"] = holder
    store.tags["gone"] = lost
    garbage = store.commit(Box("garbage"))
    store.backend.delete([lost.digest])
    age_objects(store.backend, [holder.digest, garbage.digest], OLD)

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [garbage.digest]
    assert sorted((p.kind, p.referrer, p.digest) for p in report.dangling) == sorted(
        [("dangling", holder.digest, lost.digest), ("dangling", "tag:gone", lost.digest)]
    )
