"""enact_store.copy(src, dst, roots) between stores of two different shipped kinds.

What copy does to and from each backend (with a store in memory, or another
of the same kind), and with corrupt sources or another ref type, is in
enact_store.testing, run by test_conformance.py; here, the same between pairs
of different persistent kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _store_testlib import (
    PERSISTENT_KINDS,
    BackendFactory,
    Box,
    Node,
    age_objects,
    fresh_ref,
)

import enact_resource as er
import enact_store as es

PAIRS = [("memory", "file"), ("file", "sqlite"), ("sqlite", "memory")]
if "postgres" in PERSISTENT_KINDS:
    PAIRS += [("sqlite", "postgres"), ("postgres", "file")]


@pytest.fixture(params=PAIRS, ids=lambda pair: "-to-".join(pair))
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[es.Store, es.Store]]:
    """A source and a destination store of the kinds named by the parameter."""
    src_kind, dst_kind = request.param
    src_factory = BackendFactory(src_kind, tmp_path / "src")
    dst_factory = BackendFactory(dst_kind, tmp_path / "dst")
    yield es.Store(src_factory()), es.Store(dst_factory())
    src_factory.close_all()
    dst_factory.close_all()


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


def test_copy_transfers_the_closure_of_the_roots(stores: tuple[es.Store, es.Store]) -> None:
    src, dst = stores
    refs = _dag(src)

    report = es.copy(src, dst, [refs["root"]])

    closure = {name: ref for name, ref in refs.items() if name != "unrelated"}
    assert report.copied == len(closure) == 5
    assert report.skipped == 0
    assert report.tags == []
    assert set(dst.backend.iter_digests()) == {ref.digest for ref in closure.values()}
    with dst:
        root = fresh_ref(refs["root"]).get()
        assert [child.get().label for child in root.children] == ["a", "b"]
        assert root.children[0].get().children[1].get() == Node("shared", [])
    assert dst.verify().ok


def test_copy_skips_what_the_destination_has(stores: tuple[es.Store, es.Store]) -> None:
    src, dst = stores
    refs = _dag(src)
    es.copy(src, dst, [refs["a"]])  # dst has a, a1 and shared now

    report = es.copy(src, dst, [refs["root"]])

    assert report.copied == 2  # root and b
    assert report.skipped == 2  # a (with what it reaches) and shared, reached from b
    again = es.copy(src, dst, [refs["root"]])
    assert (again.copied, again.skipped) == (0, 1)
    assert dst.verify().ok


def test_copy_stamps_what_it_skips_so_a_gc_on_the_destination_keeps_it(
    stores: tuple[es.Store, es.Store],
) -> None:
    src, dst = stores
    refs = _dag(src)
    es.copy(src, dst, [refs["a"]])  # dst has a, a1 and shared now...
    old = [refs[name].digest for name in ("a", "a1", "shared")]
    age_objects(dst.backend, old, 7200)  # ...written two hours ago, and unreachable there.

    es.copy(src, dst, [refs["root"]])
    # Had gc run between the copy's check that dst has `a` and its write of
    # `root`, a grace period of an hour must still have kept `a` and `shared`.
    written = dict(dst.backend.iter_objects())
    now = dst.backend.now()
    assert now - written[refs["a"].digest] < 600
    assert now - written[refs["shared"].digest] < 600
    assert dst.gc(grace_period=3600).deleted == []


def test_copy_copies_the_named_tags_and_what_they_reach(stores: tuple[es.Store, es.Store]) -> None:
    src, dst = stores
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


def test_copy_of_a_missing_tag_or_object_raises_not_found(
    stores: tuple[es.Store, es.Store],
) -> None:
    src, dst = stores
    never: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

    with pytest.raises(es.NotFound, match="missing"):
        es.copy(src, dst, [], tags=["missing"])
    with pytest.raises(es.NotFound, match=never.digest):
        es.copy(src, dst, [never])


def test_copy_reports_progress(stores: tuple[es.Store, es.Store]) -> None:
    src, dst = stores
    refs = _dag(src)
    calls: list[tuple[int, int | None]] = []

    es.copy(src, dst, [refs["root"]], progress=lambda done, total: calls.append((done, total)))

    assert calls[-1] == (5, 5)
