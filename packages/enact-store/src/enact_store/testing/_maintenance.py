"""verify, gc and copy on the backend under test (listing, deleting, refreshing, clocks)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import enact_resource as er
import enact_store as es
from enact_store.testing._children import commit_elsewhere
from enact_store.testing._factory import BackendFactory, needs, require
from enact_store.testing._resources import Box, Node, closure, fresh_ref

__all__ = ["CopyTests", "GcTests", "VerifyTests"]

#: Older than this (and than REFRESH_INTERVAL): what gc may delete.
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


def _age_everything(factory: BackendFactory, store: es.Store) -> None:
    factory.age(store.backend, list(store.backend.iter_digests()), OLD)


def _written(backend: es.StorageBackend, digest: str) -> float:
    """When the backend says an object was last written."""
    return dict(backend.iter_objects())[digest]


def _dangling(store: es.Store) -> list[tuple[str, str]]:
    """(parent, missing child) for every ref from a stored object to one the store lacks."""
    report = store.verify()
    assert report.corrupt == []
    assert report.unreadable == []
    return [(p.referrer or "", p.digest or "") for p in report.dangling]


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
    return closure(store, *roots), roots


@er.register(name="enact_store.testing.OwnRef")
class OwnRef(es.Ref[Any]):
    """A ref type of its own: gc cannot assume how it packs resources."""


class VerifyTests:
    """verify reads every object back, and reports what is wrong (here: what is missing)."""

    def test_verify_of_a_sound_store_is_ok(self, store: es.Store) -> None:
        needs(store.backend, "listing", "tags")
        leaf = store.commit(Node("leaf", []))
        store.tags["main"] = store.commit(Node("root", [leaf, leaf]))
        store.commit(Box("loose"))

        report = store.verify()

        assert report.ok
        assert report.checked == 3
        assert report.problems == []
        assert list(store.backend.problems()) == []

    def test_verify_reports_progress(self, store: es.Store) -> None:
        needs(store.backend, "listing", "tags")
        for i in range(4):
            store.commit(Box(i))
        calls: list[tuple[int, int | None]] = []

        store.verify(progress=lambda done, total: calls.append((done, total)))

        assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    def test_verify_reports_refs_to_a_deleted_child_and_a_tag_to_a_deleted_object(
        self, store: es.Store
    ) -> None:
        needs(store.backend, "listing", "tags", "deleting")
        child = store.commit(Node("child", []))
        parent = store.commit(Node("parent", [child]))
        grandparent = store.commit(Node("grandparent", [parent, child]))
        lonely = store.commit(Box("tagged, then deleted"))
        store.tags["main"] = grandparent
        store.tags["gone"] = lonely

        assert sorted(store.backend.delete([child.digest, lonely.digest])) == sorted(
            [child.digest, lonely.digest]
        )
        report = store.verify()

        assert not report.ok
        assert sorted((p.referrer, p.digest) for p in report.dangling) == sorted(
            [
                (parent.digest, child.digest),
                (grandparent.digest, child.digest),
                ("tag:gone", lonely.digest),
            ]
        )
        assert {p.kind for p in report.dangling} == {"dangling"}
        assert report.corrupt == []
        assert report.checked == 2

    def test_verify_checks_objects_of_unregistered_types_from_their_stored_form(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "url")
        store = es.Store(backend_factory())
        needs(store.backend, "listing", "tags", "deleting")
        child = store.commit(Box("a child"))
        unknown = commit_elsewhere(backend_factory.url or "", "made elsewhere", [child.digest])

        report = store.verify()

        assert report.ok, report
        assert report.checked == 2
        store.backend.delete([child.digest])
        assert [(p.referrer, p.digest) for p in store.verify().dangling] == [
            (unknown, child.digest)
        ]

    def test_listing_and_deleting(self, store: es.Store) -> None:
        needs(store.backend, "listing", "deleting")
        keep = store.commit(Box("keep"))
        drop = [store.commit(Box(i)) for i in range(3)]
        missing = er.digest(Box("never committed"))
        assert set(store.backend.iter_digests()) == {ref.digest for ref in [keep, *drop]}
        assert {digest for digest, _ in store.backend.iter_objects()} == {
            ref.digest for ref in [keep, *drop]
        }

        deleted = store.backend.delete([ref.digest for ref in drop] + [missing])

        assert sorted(deleted) == sorted(ref.digest for ref in drop)
        assert not any(store.has(fresh_ref(ref)) for ref in drop)
        assert store.has(fresh_ref(keep))
        assert set(store.backend.iter_digests()) == {keep.digest}


class GcTests:
    """gc keeps what tags, roots and recent writes reach, and deletes the rest parents first."""

    def _gc_store(self, factory: BackendFactory) -> es.Store:
        require(factory, "age")
        store = es.Store(factory())
        needs(store.backend, "listing", "tags", "deleting")
        return store

    def test_gc_keeps_what_tags_and_roots_reach_and_deletes_the_rest(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        tagged = _tree(store, "tagged")
        rooted = _tree(store, "rooted")
        shared = store.commit(Node("shared", []))
        also_tagged = store.commit(Node("also tagged", [shared]))
        garbage_root = store.commit(
            Node("garbage", [shared, store.commit(Node("garbage leaf", []))])
        )
        loose = store.commit(Box("loose"))
        store.tags["main"] = tagged
        store.tags["release/v1"] = also_tagged
        keep = closure(store, tagged, rooted, also_tagged)
        drop = (closure(store, garbage_root) - keep) | {loose.digest}
        _age_everything(backend_factory, store)  # so nothing is spared as recent

        report = store.gc([rooted], grace_period=GRACE)

        assert set(store.backend.iter_digests()) == keep
        assert sorted(report.deleted) == sorted(drop)
        assert report.reachable == len(keep)
        assert report.kept_recent == 0
        with store:
            assert store.tags["main"].get() == Node("tagged", fresh_ref(tagged).get().children)
        assert store.verify().ok

    def test_gc_dry_run_reports_without_deleting(self, backend_factory: BackendFactory) -> None:
        store = self._gc_store(backend_factory)
        kept = store.commit(Box("kept"))
        store.tags["main"] = kept
        garbage = {store.commit(Box(i)).digest for i in range(3)}
        _age_everything(backend_factory, store)

        report = store.gc(grace_period=GRACE, dry_run=True)

        assert set(report.deleted) == garbage
        assert set(store.backend.iter_digests()) == garbage | {kept.digest}

    def test_gc_keeps_unreachable_objects_younger_than_the_grace_period(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        old = store.commit(Box("old"))
        backend_factory.age(store.backend, [old.digest], OLD)
        recent = [store.commit(Box(i)) for i in range(3)]

        report = store.gc(grace_period=GRACE)

        assert report.deleted == [old.digest]
        assert report.kept_recent == 3
        assert all(store.has(ref) for ref in recent)
        assert not store.has(fresh_ref(old))

    def test_gc_with_the_default_grace_period_deletes_nothing_just_written(
        self, store: es.Store
    ) -> None:
        needs(store.backend, "listing", "tags", "deleting")
        refs = [store.commit(Box(i)) for i in range(5)]

        report = store.gc()

        assert report.deleted == []
        assert all(store.has(ref) for ref in refs)

    def test_gc_keeps_a_tag_whose_object_is_missing_and_what_else_it_reaches(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        leaf = store.commit(Node("leaf", []))
        parent = store.commit(Node("parent", [leaf]))
        store.tags["main"] = parent
        store.backend.delete([parent.digest])
        _age_everything(backend_factory, store)

        report = store.gc(grace_period=GRACE)

        assert report.deleted == [leaf.digest]  # nothing reachable is left but the tag
        assert store.tags["main"] == parent

    def test_recommitting_an_old_unreachable_object_refreshes_it_and_gc_spares_it(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        used_again = store.commit(Box("used again"))
        batch_used_again = store.commit(Box("used again in a batch"))
        unused = store.commit(Box("unused"))
        digests = [used_again.digest, batch_used_again.digest, unused.digest]
        backend_factory.age(store.backend, digests, OLD)
        before = _written(store.backend, used_again.digest)

        assert store.commit(Box("used again")) == used_again
        store.backend.commit_many([es.Ref.pack(Box("used again in a batch"))])

        now = store.backend.now()
        assert _written(store.backend, used_again.digest) > before + OLD / 2
        assert _written(store.backend, used_again.digest) > now - GRACE
        assert _written(store.backend, batch_used_again.digest) > now - GRACE
        report = store.gc(grace_period=GRACE)
        assert report.deleted == [unused.digest]
        assert report.kept_recent == 2
        assert store.has(fresh_ref(used_again))
        assert store.has(fresh_ref(batch_used_again))

    def test_objects_committed_after_now_are_stamped_no_earlier_than_it(
        self, store: es.Store
    ) -> None:
        # What gc's grace period rests on: the backend's clock (now) and the
        # times it stamps objects with (iter_objects) are one clock, even if
        # the storage keeps coarser times than time.time().
        needs(store.backend, "listing")
        for i in range(30):
            before = store.backend.now()
            ref = store.commit(Box(("stamped", i)))
            assert _written(store.backend, ref.digest) >= before

    def test_refresh_stamps_stored_objects_as_just_written_and_ignores_others(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        kept = store.commit(Box("refreshed"))
        other = store.commit(Box("left old"))
        backend_factory.age(store.backend, [kept.digest, other.digest], 7200)

        store.backend.refresh([kept.digest, er.digest(Box("never stored"))])

        written = dict(store.backend.iter_objects())
        now = store.backend.now()
        assert now - written[kept.digest] < 600
        assert now - written[other.digest] > 3600
        assert er.digest(Box("never stored")) not in written

    def test_gc_spares_objects_a_concurrent_writer_commits_during_the_run(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        live = _tree(store, "live")
        store.tags["main"] = live
        garbage = {store.commit(Box(("garbage", i))).digest for i in range(300)}
        _age_everything(backend_factory, store)  # written before the run: not spared as recent
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
        self, backend_factory: BackendFactory, grace_period: float
    ) -> None:
        store = self._gc_store(backend_factory)
        ref = store.commit(Box("deleted, then committed again"))
        backend_factory.age(store.backend, [ref.digest], OLD)
        assert store.gc(grace_period=grace_period).deleted == [ref.digest]

        again = store.commit(Box("deleted, then committed again"))

        assert again == ref
        with store:
            assert fresh_ref(ref).get() == Box("deleted, then committed again")

    def test_gc_keeps_what_a_recent_unreachable_object_reaches(
        self, backend_factory: BackendFactory
    ) -> None:
        # A writer builds on an old object it still holds a ref to (the tag
        # that reached it has moved on) and has not tagged its new work yet.
        # Like git, gc treats recent objects as roots, so the new work does
        # not dangle.
        store = self._gc_store(backend_factory)
        old_child = store.commit(Node("old child", []))
        old_grandchild = store.commit(Node("old grandchild", []))
        old_parent = store.commit(Node("old parent", [old_grandchild]))
        garbage = store.commit(Box("old garbage"))
        _age_everything(backend_factory, store)
        new_work = store.commit(Node("new work", [old_child, old_parent]))

        report = store.gc(grace_period=GRACE)

        assert report.deleted == [garbage.digest]
        assert report.kept_recent == 4  # new work and the three old objects it reaches
        assert store.verify().ok
        with store:
            grandchild = fresh_ref(new_work).get().children[1].get().children[0].get()
        assert grandchild.label == "old grandchild"

    @pytest.mark.parametrize("ref_type", [es.Ref, OwnRef], ids=["Ref", "own-ref-type"])
    def test_gc_follows_the_refs_in_objects_of_unregistered_types(
        self, backend_factory: BackendFactory, ref_type: type[es.Ref[Any]]
    ) -> None:
        require(backend_factory, "url", "age")
        store = es.Store(backend_factory(), ref_type=ref_type)
        needs(store.backend, "listing", "tags", "deleting")
        child = store.commit(Node("child", []))
        unknown = commit_elsewhere(backend_factory.url or "", "holds a ref", [child.digest])
        store.tags["main"] = es.Ref(unknown)
        garbage = store.commit(Box("garbage"))
        _age_everything(backend_factory, store)

        report = store.gc(grace_period=GRACE)

        assert report.deleted == [garbage.digest]
        assert set(store.backend.iter_digests()) == {child.digest, unknown}

    def test_gc_deletes_unregistered_garbage_whose_children_are_already_gone(
        self, backend_factory: BackendFactory
    ) -> None:
        # What an interrupted gc of earlier versions could leave behind: an
        # unreachable parent whose child is gone. gc cleans it up.
        require(backend_factory, "url")
        store = self._gc_store(backend_factory)
        child = store.commit(Node("child", []))
        parent = commit_elsewhere(backend_factory.url or "", "parent", [child.digest])
        store.tags["main"] = store.commit(Node("kept", []))
        store.backend.delete([child.digest])
        _age_everything(backend_factory, store)

        report = store.gc(grace_period=GRACE)

        assert report.deleted == [parent]
        assert store.verify().ok

    def test_gc_reports_refs_to_objects_already_lost_without_stopping(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        lost = store.commit(Node("lost", []))
        holder = store.commit(Node("holder", [lost]))
        store.tags["main"] = holder
        store.tags["gone"] = lost
        garbage = store.commit(Box("garbage"))
        store.backend.delete([lost.digest])
        backend_factory.age(store.backend, [holder.digest, garbage.digest], OLD)

        report = store.gc(grace_period=GRACE)

        assert report.deleted == [garbage.digest]
        assert sorted((p.kind, p.referrer, p.digest) for p in report.dangling) == sorted(
            [("dangling", holder.digest, lost.digest), ("dangling", "tag:gone", lost.digest)]
        )

    # --- Deleting parents first: the store stays closed under refs at every instant ---

    @pytest.mark.parametrize("in_one_step", [True, False], ids=["together", "in-layers"])
    def test_gc_deletes_parents_before_children_so_no_ref_ever_dangles(
        self, backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch, in_one_step: bool
    ) -> None:
        store = self._gc_store(backend_factory)
        kept = _tree(store, "kept")
        store.tags["main"] = kept
        garbage, _ = _garbage_dag(store)
        with store:
            children = {d: [c.digest for c in es.Ref[Node](d).get().children] for d in garbage}
        _age_everything(backend_factory, store)
        if not in_one_step:  # As on a backend that cannot delete a batch atomically.
            monkeypatch.setattr(store.backend, "delete_all_or_none", lambda digests, older: False)
        steps: list[int] = []

        def check(done: int, total: int | None) -> None:
            if total is not None:  # After each deletion step.
                steps.append(done)
                assert _dangling(store) == []

        report = store.gc(grace_period=GRACE, progress=check)

        assert set(report.deleted) == garbage
        assert set(store.backend.iter_digests()) == closure(store, kept)
        position = {digest: i for i, digest in enumerate(report.deleted)}
        assert all(position[p] < position[c] for p in garbage for c in children[p])
        assert steps[-1] == len(garbage)
        if not in_one_step:
            assert len(steps) >= 13  # the 13 levels of a chain, one after the other

    def test_gc_keeps_an_unreachable_object_refreshed_during_the_run_with_all_it_reaches(
        self, backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store = self._gc_store(backend_factory)
        store.tags["main"] = store.commit(Node("kept", []))
        child = store.commit(Node("child", []))
        middle = store.commit(Node("middle", [child]))
        top = store.commit(Node("top", [middle]))
        _age_everything(backend_factory, store)
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

    def test_delete_all_or_none_deletes_every_object_or_none(
        self, backend_factory: BackendFactory
    ) -> None:
        store = self._gc_store(backend_factory)
        refs = [store.commit(Box(("all or none", i))) for i in range(3)]
        digests = [ref.digest for ref in refs]
        backend_factory.age(store.backend, digests, OLD)
        cutoff = store.backend.now() - GRACE
        absent = er.digest(Box("never stored"))
        store.commit(Box(("all or none", 0)))  # refreshed: written after the cutoff

        assert not store.backend.delete_all_or_none(digests, cutoff)
        assert not store.backend.delete_all_or_none([*digests[1:], absent], cutoff)
        assert all(store.has(fresh_ref(ref)) for ref in refs)
        # Optional: a backend that cannot delete atomically says so, and deletes nothing.
        deleted = store.backend.delete_all_or_none(digests[1:], cutoff)
        assert [store.has(fresh_ref(ref)) for ref in refs] == [True, not deleted, not deleted]


_JSON = er.JsonSerializer(compact=True)


@er.register(name="enact_store.testing.Reversed")
@dataclasses.dataclass
class Reversed(er.Resource):
    """What ReversedRef stores: the JSON of the original resource, reversed."""

    payload: bytes


class ReversedRef(es.Ref[Any]):
    """A ref type that packs resources differently (the digest stays the original's)."""

    @classmethod
    def pack(cls, resource: er.ResourceBase) -> es.PackedResource[Any]:
        data = resource.to_resource_dict()
        wrapper = Reversed(_JSON.serialize(data)[::-1])
        return es.PackedResource(wrapper.to_resource_dict(), cls.from_digest(er.digest(data)))

    @classmethod
    def unpack(cls, packed: es.PackedResource[Any]) -> er.ResourceDict:
        return _JSON.deserialize(packed.data["payload"][::-1])


def _dag(store: es.Store) -> dict[str, es.Ref[Any]]:
    """root -> [a -> [a1, shared], b -> [shared]] plus an unrelated object."""
    refs: dict[str, es.Ref[Any]] = {}
    refs["shared"] = store.commit(Node("shared", []))
    refs["a1"] = store.commit(Node("a1", []))
    refs["a"] = store.commit(Node("a", [refs["a1"], refs["shared"]]))
    refs["b"] = store.commit(Node("b", [refs["shared"]]))
    refs["root"] = store.commit(Node("root", [refs["a"], refs["b"]]))
    refs["unrelated"] = store.commit(Box("not reachable from root"))
    return refs


#: Copies to and from the backend under test: (source, destination), where
#: "this" is a store of the backend under test, "other" another location of
#: it, and "memory" an InMemoryBackend.
COPIES = [("this", "memory"), ("memory", "this"), ("this", "other")]


@dataclasses.dataclass
class _Copy:
    src: es.Store
    dst: es.Store
    #: The factory of the destination, if it is the backend under test.
    dst_factory: BackendFactory | None


class CopyTests:
    """copy moves the closure of roots between a store of the backend and any other."""

    @pytest.fixture(params=COPIES, ids=lambda pair: "-to-".join(pair))
    def copying(self, request: pytest.FixtureRequest, backend_factory: BackendFactory) -> _Copy:
        """A source and a destination store, one of them of the backend under test."""
        factories = {"this": backend_factory, "other": None}
        stores = []
        for side in request.param:
            if side == "memory":
                stores.append(es.Store(es.InMemoryBackend()))
            else:
                factory = backend_factory if side == "this" else backend_factory.another()
                factories[side] = factory
                stores.append(es.Store(factory()))
        dst_side = request.param[1]
        return _Copy(stores[0], stores[1], factories.get(dst_side))

    def test_copy_transfers_the_closure_of_the_roots(self, copying: _Copy) -> None:
        src, dst = copying.src, copying.dst
        refs = _dag(src)

        report = es.copy(src, dst, [refs["root"]])

        closed = {name: ref for name, ref in refs.items() if name != "unrelated"}
        assert report.copied == len(closed) == 5
        assert report.skipped == 0
        assert report.tags == []
        assert all(dst.has(fresh_ref(ref)) for ref in closed.values())
        assert not dst.has(fresh_ref(refs["unrelated"]))
        with dst:
            root = fresh_ref(refs["root"]).get()
            assert [child.get().label for child in root.children] == ["a", "b"]
            assert root.children[0].get().children[1].get() == Node("shared", [])

    def test_copy_skips_what_the_destination_has(self, copying: _Copy) -> None:
        src, dst = copying.src, copying.dst
        refs = _dag(src)
        es.copy(src, dst, [refs["a"]])  # dst has a, a1 and shared now

        report = es.copy(src, dst, [refs["root"]])

        assert report.copied == 2  # root and b
        assert report.skipped == 2  # a (with what it reaches) and shared, reached from b
        again = es.copy(src, dst, [refs["root"]])
        assert (again.copied, again.skipped) == (0, 1)

    def test_copy_stamps_what_it_skips_so_a_gc_on_the_destination_keeps_it(
        self, copying: _Copy
    ) -> None:
        factory = copying.dst_factory
        if factory is None:
            pytest.skip("the destination is not the backend under test")
        require(factory, "age")
        src, dst = copying.src, copying.dst
        needs(dst.backend, "listing", "tags", "deleting")
        refs = _dag(src)
        es.copy(src, dst, [refs["a"]])  # dst has a, a1 and shared now...
        old = [refs[name].digest for name in ("a", "a1", "shared")]
        factory.age(dst.backend, old, 7200)  # ...written two hours ago, and unreachable there.

        es.copy(src, dst, [refs["root"]])
        # Had gc run between the copy's check that dst has `a` and its write
        # of `root`, a grace period of an hour must still have kept `a` and
        # `shared`.
        written = dict(dst.backend.iter_objects())
        now = dst.backend.now()
        assert now - written[refs["a"].digest] < 600
        assert now - written[refs["shared"].digest] < 600
        assert dst.gc(grace_period=3600).deleted == []

    def test_copy_copies_the_named_tags_and_what_they_reach(self, copying: _Copy) -> None:
        src, dst = copying.src, copying.dst
        needs(src.backend, "tags")
        needs(dst.backend, "tags")
        refs = _dag(src)
        src.tags["main"] = refs["root"]
        src.tags["release/v1"] = refs["b"]
        src.tags["not-copied"] = refs["unrelated"]

        report = es.copy(src, dst, [], tags=["main", "release/v1"])

        assert sorted(report.tags) == ["main", "release/v1"]
        assert report.copied == 5
        assert dict(dst.tags) == {"main": refs["root"], "release/v1": refs["b"]}
        assert not dst.has(fresh_ref(refs["unrelated"]))
        with dst:
            assert dst.tags["release/v1"].get().label == "b"

    def test_copy_of_a_missing_tag_or_object_raises_not_found(self, copying: _Copy) -> None:
        src, dst = copying.src, copying.dst
        needs(src.backend, "tags")
        never: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

        with pytest.raises(es.NotFound, match="missing"):
            es.copy(src, dst, [], tags=["missing"])
        with pytest.raises(es.NotFound, match=never.digest):
            es.copy(src, dst, [never])

    def test_copy_reports_progress(self, copying: _Copy) -> None:
        src, dst = copying.src, copying.dst
        refs = _dag(src)
        calls: list[tuple[int, int | None]] = []

        es.copy(src, dst, [refs["root"]], progress=lambda done, total: calls.append((done, total)))

        assert calls[-1] == (5, 5)

    def test_copy_refuses_a_corrupt_source_object_and_copies_no_parent_of_it(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "write_raw")
        src = es.Store(backend_factory())
        dst = es.Store(es.InMemoryBackend())
        leaf = src.commit(Box("the leaf, about to be corrupted"))
        root = src.commit(Node("root", [src.commit(Node("middle", [leaf]))]))
        backend_factory.write_raw(src.backend, leaf.digest, b'{"#res": 5}')

        with pytest.raises(es.CorruptionError, match=leaf.digest):
            es.copy(src, dst, [root])
        assert not dst.has(fresh_ref(root))

    @pytest.mark.parametrize("direction", ["from", "to"])
    def test_copy_repacks_for_a_store_with_another_ref_type(
        self, backend_factory: BackendFactory, direction: str
    ) -> None:
        # The destination packs differently from the source.
        packing: dict[str, type[es.Ref[Any]]] = {"from": es.Ref, "to": ReversedRef}
        other_packing = ReversedRef if direction == "from" else es.Ref
        this = es.Store(backend_factory(), ref_type=packing[direction])
        other = es.Store(es.InMemoryBackend(), ref_type=other_packing)
        src, dst = (this, other) if direction == "from" else (other, this)
        refs = _dag(src)

        report = es.copy(src, dst, [refs["root"]])

        assert report.copied == 5
        stored = dst.backend.get(fresh_ref(refs["root"]))
        assert stored is not None
        assert stored.type is (Reversed if dst.ref_type is ReversedRef else Node)
        with dst:
            root = dst.ref_type(refs["root"].digest).get()
            assert root.label == "root"
            assert [child.get().label for child in root.children] == ["a", "b"]
        back = es.Store(es.InMemoryBackend())
        assert es.copy(dst, back, [refs["root"]]).copied == 5
        with back:
            assert fresh_ref(refs["root"]).get().label == "root"
