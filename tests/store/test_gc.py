"""store.gc(): keeps what tags and roots reach, deletes the rest, loses nothing a writer commits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _store_testlib import (
    BackendFactory,
    Box,
    Node,
    age_objects,
    commit_elsewhere,
    fresh_ref,
    written_time,
)

import enact_resource as er
import enact_store as es

#: Older than this and than REFRESH_INTERVAL (60 s): what gc may delete.
OLD = 10_000.0
GRACE = 1_000.0


def _tree(store: es.Store, label: str, fanout: int = 2, depth: int = 2) -> es.Ref[Node]:
    """Commits a tree of Nodes and returns its root."""
    children = (
        []
        if depth == 0
        else [_tree(store, f"{label}.{i}", fanout, depth - 1) for i in range(fanout)]
    )
    return store.commit(Node(label, children))


def _closure(store: es.Store, root: es.Ref[Node]) -> set[str]:
    with store:
        node = fresh_ref(root).get()
    found = {root.digest}
    for child in node.children:
        found |= _closure(store, child)
    return found


def _age_everything(store: es.Store) -> None:
    age_objects(store.backend, list(store.backend.iter_digests()), OLD)


def test_gc_keeps_what_tags_and_roots_reach_and_deletes_the_rest(store: es.Store) -> None:
    tagged = _tree(store, "tagged")
    rooted = _tree(store, "rooted")
    shared = store.commit(Node("shared", []))
    also_tagged = store.commit(Node("also tagged", [shared]))
    garbage_root = store.commit(Node("garbage", [shared, store.commit(Node("garbage leaf", []))]))
    loose = store.commit(Box("loose"))
    store.tags["main"] = tagged
    store.tags["release/v1"] = also_tagged
    keep = _closure(store, tagged) | _closure(store, rooted) | _closure(store, also_tagged)
    drop = (_closure(store, garbage_root) - keep) | {loose.digest}
    _age_everything(store)  # so nothing is spared as recent

    report = store.gc([rooted], grace_period=GRACE)

    assert set(store.backend.iter_digests()) == keep
    assert sorted(report.deleted) == sorted(drop)
    assert report.reachable == len(keep)
    assert report.kept_recent == 0
    with store:
        assert store.tags["main"].get() == Node("tagged", fresh_ref(tagged).get().children)
        assert store.verify().ok


def test_gc_dry_run_reports_without_deleting(store: es.Store) -> None:
    kept = store.commit(Box("kept"))
    store.tags["main"] = kept
    garbage = {store.commit(Box(i)).digest for i in range(3)}
    _age_everything(store)

    report = store.gc(grace_period=GRACE, dry_run=True)

    assert set(report.deleted) == garbage
    assert set(store.backend.iter_digests()) == garbage | {kept.digest}


def test_gc_keeps_unreachable_objects_younger_than_the_grace_period(store: es.Store) -> None:
    old = store.commit(Box("old"))
    age_objects(store.backend, [old.digest], OLD)
    recent = [store.commit(Box(i)) for i in range(3)]

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [old.digest]
    assert report.kept_recent == 3
    assert all(store.has(ref) for ref in recent)
    assert not store.has(fresh_ref(old))


def test_gc_with_the_default_grace_period_deletes_nothing_just_written(store: es.Store) -> None:
    refs = [store.commit(Box(i)) for i in range(5)]

    report = store.gc()

    assert report.deleted == []
    assert all(store.has(ref) for ref in refs)


def test_gc_keeps_a_tag_whose_object_is_missing_and_what_else_it_reaches(store: es.Store) -> None:
    leaf = store.commit(Node("leaf", []))
    parent = store.commit(Node("parent", [leaf]))
    store.tags["main"] = parent
    store.backend.delete([parent.digest])
    _age_everything(store)

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [leaf.digest]  # nothing reachable is left but the tag
    assert store.tags["main"] == parent


def test_recommitting_an_old_unreachable_object_refreshes_it_and_gc_spares_it(
    store: es.Store,
) -> None:
    used_again = store.commit(Box("used again"))
    batch_used_again = store.commit(Box("used again in a batch"))
    unused = store.commit(Box("unused"))
    age_objects(store.backend, [used_again.digest, batch_used_again.digest, unused.digest], OLD)
    before = written_time(store.backend, used_again.digest)

    assert store.commit(Box("used again")) == used_again
    store.backend.commit_many([es.Ref.pack(Box("used again in a batch"))])

    now = store.backend.now()
    assert written_time(store.backend, used_again.digest) > before + OLD / 2
    assert written_time(store.backend, used_again.digest) > now - GRACE
    assert written_time(store.backend, batch_used_again.digest) > now - GRACE
    report = store.gc(grace_period=GRACE)
    assert report.deleted == [unused.digest]
    assert report.kept_recent == 2
    assert store.has(fresh_ref(used_again))
    assert store.has(fresh_ref(batch_used_again))


def test_objects_committed_after_now_are_stamped_no_earlier_than_it(store: es.Store) -> None:
    # What gc's grace period rests on: the backend's clock (now) and the times
    # it stamps objects with (iter_objects) are one clock, even if the file
    # system keeps coarser times than time.time().
    for i in range(30):
        before = store.backend.now()
        ref = store.commit(Box(("stamped", i)))
        assert written_time(store.backend, ref.digest) >= before


def test_gc_spares_objects_a_concurrent_writer_commits_during_the_run(store: es.Store) -> None:
    live = _tree(store, "live")
    store.tags["main"] = live
    garbage = {store.commit(Box(("garbage", i))).digest for i in range(300)}
    _age_everything(store)  # written before the run: not spared as recent
    gc_started, gc_done = threading.Event(), threading.Event()
    written: list[es.Ref[Node]] = []
    tagged: dict[str, es.Ref[Node]] = {}
    errors: list[BaseException] = []

    def write() -> None:
        # Commits and tags new objects from the moment gc has taken its
        # snapshot of the tags until after it has finished deleting.
        try:
            assert gc_started.wait(timeout=30)
            i = 0
            while i < 40 or not gc_done.is_set():
                leaf = store.commit(Node(f"new leaf {i}", []))
                parent = store.commit(Node(f"new {i}", [leaf]))
                written.extend([leaf, parent])
                store.tags[f"new/{i}"] = tagged[f"new/{i}"] = parent
                i += 1
        except BaseException as e:
            errors.append(e)

    def progress(done: int, total: int | None) -> None:
        if not gc_started.is_set():
            gc_started.set()  # gc is marking: it has read the tags already
            deadline = time.monotonic() + 30
            while len(written) < 20 and time.monotonic() < deadline and not errors:
                time.sleep(0.001)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        report = store.gc(grace_period=0, progress=progress)
    finally:
        gc_done.set()
        writer.join(timeout=60)

    assert errors == []
    assert len(written) >= 80
    assert set(report.deleted) == garbage  # only the garbage; nothing the writer made
    missing = [ref for ref in written if not store.has(fresh_ref(ref))]
    assert missing == []
    assert {name: store.tags[name] for name in tagged} == tagged
    assert store.verify().ok


@pytest.mark.parametrize("grace_period", [GRACE, 0.0])
def test_gc_then_commit_again_restores_a_deleted_object(
    store: es.Store, grace_period: float
) -> None:
    ref = store.commit(Box("deleted, then committed again"))
    age_objects(store.backend, [ref.digest], OLD)
    assert store.gc(grace_period=grace_period).deleted == [ref.digest]

    again = store.commit(Box("deleted, then committed again"))

    assert again == ref
    with store:
        assert fresh_ref(ref).get() == Box("deleted, then committed again")


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


def test_gc_keeps_what_a_recent_unreachable_object_reaches(store: es.Store) -> None:
    # A writer builds on an old object it still holds a ref to (the tag that
    # reached it has moved on) and has not tagged its new work yet. Like git,
    # gc treats recent objects as roots, so the new work does not dangle.
    old_child = store.commit(Node("old child", []))
    old_grandchild = store.commit(Node("old grandchild", []))
    old_parent = store.commit(Node("old parent", [old_grandchild]))
    garbage = store.commit(Box("old garbage"))
    _age_everything(store)
    new_work = store.commit(Node("new work", [old_child, old_parent]))

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [garbage.digest]
    assert report.kept_recent == 4  # new work and the three old objects it reaches
    assert store.verify().ok
    with store:
        assert fresh_ref(new_work).get().children[1].get().children[0].get().label == (
            "old grandchild"
        )


def _store_with_an_unregistered_live_object(
    store: es.Store, url: str
) -> tuple[es.Ref[Node], str, es.Ref[Box]]:
    """A tagged object whose type this process does not know, holding a ref to `child`."""
    child = store.commit(Node("child", []))
    unknown = commit_elsewhere(url, "holds a ref", [child.digest])
    store.tags["main"] = es.Ref(unknown)
    garbage = store.commit(Box("garbage"))
    _age_everything(store)
    return child, unknown, garbage


def test_gc_follows_the_refs_in_objects_of_unregistered_types(
    persistent_factory: BackendFactory,
) -> None:
    store = es.Store(persistent_factory())
    child, unknown, garbage = _store_with_an_unregistered_live_object(store, persistent_factory.url)

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [garbage.digest]
    assert set(store.backend.iter_digests()) == {child.digest, unknown}


@er.register
class _OwnRef(es.Ref[Any]):
    """A ref type of its own: gc cannot assume how it packs resources."""


def test_gc_follows_the_refs_in_objects_of_unregistered_types_whatever_the_ref_type(
    persistent_factory: BackendFactory,
) -> None:
    store = es.Store(persistent_factory(), ref_type=_OwnRef)
    child, unknown, garbage = _store_with_an_unregistered_live_object(store, persistent_factory.url)

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [garbage.digest]
    assert set(store.backend.iter_digests()) == {child.digest, unknown}


def test_refresh_stamps_stored_objects_as_just_written_and_ignores_others(
    store: es.Store,
) -> None:
    kept = store.commit(Box("refreshed"))
    other = store.commit(Box("left old"))
    age_objects(store.backend, [kept.digest, other.digest], 7200)

    store.backend.refresh([kept.digest, er.digest(Box("never stored"))])

    written = dict(store.backend.iter_objects())
    now = store.backend.now()
    assert now - written[kept.digest] < 600
    assert now - written[other.digest] > 3600
    assert er.digest(Box("never stored")) not in written


# --- Deleting parents first: the store stays closed under refs at every instant ---


def _garbage_dag(store: es.Store) -> tuple[set[str], list[es.Ref[Node]]]:
    """Chains and trees of unreachable Nodes sharing children; returns (digests, roots)."""
    shared = [store.commit(Node(f"shared leaf {i}", [])) for i in range(5)]
    roots = []
    for c in range(6):  # chains, each ending in a shared leaf
        ref = shared[c % 5]
        for i in range(12):
            ref = store.commit(Node(f"chain {c}.{i}", [ref]))
        roots.append(ref)
    for t in range(4):  # trees whose leaves are shared leaves
        level = shared[t:] + shared[:t]
        for depth in range(3):
            level = [
                store.commit(Node(f"tree {t}.{depth}.{i}", level[i : i + 2]))
                for i in range(0, len(level), 2)
            ]
        roots.extend(level)
    digests = set().union(*(_closure(store, root) for root in roots))
    return digests, roots


def _dangling(store: es.Store) -> list[tuple[str, str]]:
    """(parent, missing child) for every ref from a stored object to one the store lacks."""
    report = store.verify()
    assert report.corrupt == []
    assert report.unreadable == []
    return [(p.referrer or "", p.digest or "") for p in report.dangling]


@pytest.mark.parametrize("in_one_step", [True, False], ids=["together", "in-layers"])
def test_gc_deletes_parents_before_children_so_no_ref_ever_dangles(
    store: es.Store, monkeypatch: pytest.MonkeyPatch, in_one_step: bool
) -> None:
    kept = _tree(store, "kept")
    store.tags["main"] = kept
    garbage, _ = _garbage_dag(store)
    with store:
        children = {d: [c.digest for c in es.Ref(d).get().children] for d in garbage}
    _age_everything(store)
    if not in_one_step:  # As on a backend that cannot delete a batch atomically.
        monkeypatch.setattr(store.backend, "delete_all_or_none", lambda digests, older: False)
    steps: list[int] = []

    def check(done: int, total: int | None) -> None:
        if total is not None:  # After each deletion step.
            steps.append(done)
            assert _dangling(store) == []

    report = store.gc(grace_period=GRACE, progress=check)

    assert set(report.deleted) == garbage
    assert set(store.backend.iter_digests()) == _closure(store, kept)
    position = {digest: i for i, digest in enumerate(report.deleted)}
    assert all(position[p] < position[c] for p in garbage for c in children[p])
    assert steps[-1] == len(garbage)
    if not in_one_step:
        assert len(steps) >= 13  # the 13 levels of a chain, one after the other


def test_gc_keeps_an_unreachable_object_refreshed_during_the_run_with_all_it_reaches(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.tags["main"] = store.commit(Node("kept", []))
    child = store.commit(Node("child", []))
    middle = store.commit(Node("middle", [child]))
    top = store.commit(Node("top", [middle]))
    _age_everything(store)
    listed = store.backend.iter_objects

    def list_then_refresh() -> Iterator[tuple[str, float]]:
        # Right after gc has listed `middle` as old: a writer re-commits it.
        yield from listed()
        store.commit(Node("middle", [child]))

    monkeypatch.setattr(store.backend, "iter_objects", list_then_refresh)

    report = store.gc(grace_period=GRACE)

    assert report.deleted == [top.digest]
    assert report.kept_recent == 2
    assert store.has(fresh_ref(middle))
    assert store.has(fresh_ref(child))
    assert _dangling(store) == []


def test_delete_all_or_none_deletes_every_object_or_none(store: es.Store) -> None:
    refs = [store.commit(Box(("all or none", i))) for i in range(3)]
    digests = [ref.digest for ref in refs]
    age_objects(store.backend, digests, OLD)
    cutoff = store.backend.now() - GRACE
    absent = er.digest(Box("never stored"))
    store.commit(Box(("all or none", 0)))  # refreshed: written after the cutoff

    assert not store.backend.delete_all_or_none(digests, cutoff)
    assert not store.backend.delete_all_or_none([*digests[1:], absent], cutoff)
    assert all(store.has(fresh_ref(ref)) for ref in refs)
    # A file store cannot delete several files atomically: it never does.
    atomic = not isinstance(store.backend, es.FileBackend)
    assert store.backend.delete_all_or_none(digests[1:], cutoff) is atomic
    assert [store.has(fresh_ref(ref)) for ref in refs] == [True, not atomic, not atomic]


def test_a_backend_without_atomic_deletes_says_so() -> None:
    class Minimal(es.StorageBackend):
        def commit(self, packed_resource: es.PackedResource[Any]) -> None: ...

        def has(self, ref: es.Ref[Any]) -> bool:
            return False

        def get(self, ref: es.Ref[Any]) -> er.ResourceDict | None:
            return None

    assert Minimal().delete_all_or_none([er.digest(Box(1))], 0.0) is False
    assert list(Minimal().problems()) == []
