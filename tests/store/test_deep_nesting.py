"""Deeply nested values: one limit on every backend, and what is committed reads back.

Fields may nest up to enact_resource.MAX_DEPTH levels of lists, tuples, dicts
and resources; deeper values are refused at commit with a FieldTypeError,
never a RecursionError, and never accepted only to fail when read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _store_testlib import Box, fresh_ref

import enact_resource as er
import enact_store as es
from enact_store.testing._objects import nested

KINDS = ["list", "tuple", "dict", "resource", "mixed"]


@pytest.fixture(autouse=True)
def default_recursion_limit() -> Iterator[None]:
    """Runs each test under the interpreter's default recursion limit (1000).

    The levels below are chosen against it; a library loaded earlier in the
    same process (a test engine, a browser driver) may have raised it.
    """
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@pytest.mark.parametrize("kind", KINDS)
def test_a_value_nested_past_the_limit_is_refused_on_every_backend(
    store: es.Store, kind: str
) -> None:
    with pytest.raises(er.FieldTypeError, match=f"at most {er.MAX_DEPTH} levels"):
        store.commit(nested(kind, er.MAX_DEPTH + 1))

    assert list(store.backend.iter_digests()) == []


@pytest.mark.parametrize("levels", [150, 300, 600, 2000])
@pytest.mark.parametrize("kind", KINDS)
def test_what_a_store_accepts_it_reads_back(
    backend_factory: Callable[[], es.StorageBackend], kind: str, levels: int
) -> None:
    store = es.Store(backend_factory())
    refused = _outcome(er.FieldTypeError, lambda: store.commit(nested(kind, levels)))
    if refused is None:
        ref = store.commit(nested(kind, levels))
        with es.Store(backend_factory()) as fresh:
            fresh.get(fresh_ref(ref))
            es.pformat(fresh_ref(ref))
    else:
        assert "nested too deeply" in refused


def _outcome(error: type[Exception], run: Callable[[], object]) -> str | None:
    """None if ``run`` returns, the message if it raises ``error``."""
    try:
        run()
    except error as e:
        return str(e)
    return None


def test_a_long_chain_of_refs_commits_reads_and_collects(store: es.Store) -> None:
    ref = store.commit(Box(None))
    for _ in range(2000):
        ref = store.commit(Box(ref))
    store.tags["chain"] = ref

    with store:
        assert fresh_ref(ref).get().value == ref.get().value
        assert es.pformat(fresh_ref(ref)).count("-> Box") == 2001
    assert store.verify().ok
    assert store.gc(grace_period=0).deleted == []


def test_data_stored_deeper_than_the_limit_still_reads(
    persistent_factory: Callable[[], es.StorageBackend],
) -> None:
    # As an earlier version could store it: nested past MAX_DEPTH (within
    # the recursion limit), written without the commit-time check.
    data = nested("list", 2 * er.MAX_DEPTH).to_resource_dict()
    packed = es.PackedResource(data, es.Ref(er.digest(data)))
    persistent_factory().commit(packed)

    store = es.Store(persistent_factory())
    with store:
        got = store.get(es.Ref(er.digest(data)))
    assert got.to_resource_dict() == data
    assert store.verify().ok


# Levels from where converting works but building back may not (it takes
# more frames per level), to past where nothing works.
CONVERTIBLE = [250, 300, 350, 400, 450, 500, 600, 700, 1000, 2000, 3000]


def nested_data(kind: str, levels: int) -> er.ResourceDict:
    """The ResourceDict of ``nested(kind, levels)``, built directly (as read from a store)."""
    value: Any = "leaf"
    for level in range(levels):
        step = ["list", "dict", "resource"][level % 3] if kind == "mixed" else kind
        if step in ("list", "tuple"):
            value = [value]
        elif step == "dict":
            value = {"k": value}
        else:
            value = er.ResourceDict(Box, {"value": value})
    return er.ResourceDict(Box, {"value": value})


@pytest.mark.parametrize("kind", KINDS)
def test_building_past_the_recursion_limit_raises_deserialization_error(kind: str) -> None:
    outcomes = [
        _outcome(er.DeserializationError, nested_data(kind, levels).to_resource)
        for levels in (er.MAX_DEPTH, 500, 1000, 3000)
    ]

    assert outcomes[0] is None
    assert all(text is None or "nested too deeply" in text for text in outcomes)
    assert outcomes[-1] is not None


@pytest.mark.parametrize("kind", KINDS)
def test_copying_past_the_recursion_limit_raises_field_type_error(kind: str) -> None:
    outcomes = [
        _outcome(er.FieldTypeError, nested(kind, levels).deep_copy_resource)
        for levels in CONVERTIBLE
    ]

    assert all(text is None or "nested too deeply" in text for text in outcomes)
    assert any(text is not None for text in outcomes)
