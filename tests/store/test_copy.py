"""enact_store.copy(src, dst, roots) between stores of two different shipped kinds.

What copy does to and from each backend (skipping, refreshing, tags, corrupt
sources, repacking) is in enact_store.testing, run by test_conformance.py.
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
    fresh_ref,
)

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
