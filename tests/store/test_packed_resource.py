"""PackedResource: a small immutable record that compares by value."""

from __future__ import annotations

import pytest
from _store_testlib import Box, Pair

import enact_resource as er
import enact_store as es


def test_packs_of_equal_resources_are_equal() -> None:
    first = es.Ref.pack(Pair(1, "a"))
    second = es.Ref.pack(Pair(1, "a"))
    assert first is not second
    assert first == second
    assert not first != second  # noqa: SIM202 - __ne__ is tested on purpose


def test_packs_of_different_resources_differ() -> None:
    assert es.Ref.pack(Pair(1, "a")) != es.Ref.pack(Pair(2, "a"))
    assert not es.Ref.pack(Pair(1, "a")) == es.Ref.pack(Pair(2, "a"))  # noqa: SIM201


def test_packs_with_the_same_ref_but_other_data_differ() -> None:
    packed = es.Ref.pack(Box(1))
    assert es.PackedResource(Box(2).to_resource_dict(), packed.ref) != packed


def test_a_pack_built_by_hand_equals_the_one_ref_pack_makes() -> None:
    box = Box([1, 2.5, "x"])
    ref = es.Ref(er.digest(box))
    assert es.PackedResource(box.to_resource_dict(), ref) == es.Ref.pack(box)
    assert es.PackedResource(data=box.to_resource_dict(), ref=ref) == es.Ref.pack(box)


def test_a_pack_is_not_equal_to_a_plain_tuple_of_its_fields() -> None:
    packed = es.Ref.pack(Box(1))
    assert packed != (packed.data, packed.ref)
    assert (packed.data, packed.ref) != packed


@pytest.mark.parametrize("field", ["data", "ref"])
def test_fields_cannot_be_reassigned(field: str) -> None:
    packed = es.Ref.pack(Box(1))
    with pytest.raises(AttributeError):
        setattr(packed, field, None)


def test_no_other_attributes_can_be_added() -> None:
    packed = es.Ref.pack(Box(1))
    with pytest.raises(AttributeError):
        packed.extra = 1  # type: ignore[attr-defined]


def test_replace_makes_a_changed_copy() -> None:
    packed = es.Ref.pack(Box(1))
    other = packed._replace(data=Box(2).to_resource_dict())
    assert other.data == Box(2).to_resource_dict()
    assert packed.data == Box(1).to_resource_dict()


def test_a_pack_is_unhashable_and_says_to_key_by_its_ref() -> None:
    packed = es.Ref.pack(Box(1))
    with pytest.raises(TypeError, match=r"not hashable.*packed\.ref"):
        hash(packed)


def test_commit_hands_the_backend_an_equal_pack(store: es.Store) -> None:
    # Store.commit builds its packs on a fast path; they are the same records.
    seen: list[es.PackedResource[er.ResourceBase]] = []
    original = store.backend.commit

    def spy(packed: es.PackedResource[er.ResourceBase]) -> None:
        seen.append(packed)
        original(packed)

    store.backend.commit = spy  # type: ignore[method-assign]
    fast = es.Store(store.backend)
    fast.commit(Pair(3, "c"))
    assert seen == [es.Ref.pack(Pair(3, "c"))]
    assert type(seen[0]) is es.PackedResource
    with pytest.raises(AttributeError):
        seen[0].ref = None  # type: ignore[misc]
