"""The behaviour every backend must share, run against each kind (_store_testlib.BACKEND_KINDS)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import Any

import pytest
from _store_testlib import (
    BACKEND_KINDS,
    IN_CI,
    PERSISTENT_KINDS,
    POSTGRES_URL_VAR,
    BackendFactory,
    Box,
    Node,
    Pair,
    canonical,
    fresh_ref,
    tag_name,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import enact_resource as er
import enact_store as es


def test_postgres_backend_joins_the_suite_when_a_server_is_configured() -> None:
    if not os.environ.get(POSTGRES_URL_VAR):
        if IN_CI:
            pytest.fail(f"{POSTGRES_URL_VAR} is not set: in CI the PostgreSQL tests must run")
        pytest.skip(f"{POSTGRES_URL_VAR} is not set: PostgreSQL conformance not run")
    assert "postgres" in BACKEND_KINDS
    assert "postgres" in PERSISTENT_KINDS


# --- commit, has, get ------------------------------------------------------------


def test_commit_returns_a_ref_that_the_store_has(store: es.Store) -> None:
    ref = store.commit(Box("hello"))

    assert isinstance(ref, es.Ref)
    assert store.has(ref)
    assert store.has(fresh_ref(ref))


def test_committed_resource_reads_back_equal(store: es.Store) -> None:
    ref = store.commit(Box({"a": [1, 2.5, None], "b": b"\x00\xff"}))

    with store:
        assert fresh_ref(ref).get() == Box({"a": [1, 2.5, None], "b": b"\x00\xff"})
        assert fresh_ref(ref)() == Box({"a": [1, 2.5, None], "b": b"\x00\xff"})


def test_ref_digest_is_the_digest_of_the_resource(store: es.Store) -> None:
    resource = Box([1, "two", 3.0])

    assert store.commit(resource).digest == er.digest(resource)


def test_commit_is_idempotent_and_equal_content_gives_equal_refs(store: es.Store) -> None:
    first = store.commit(Box("same"))
    second = store.commit(Box("same"))
    third = store.commit(Box("different"))

    assert first == second
    assert hash(first) == hash(second)
    assert first != third
    with store:
        assert fresh_ref(first).get() == Box("same")


def test_commit_function_uses_the_active_store(store: es.Store) -> None:
    with store:
        ref = es.commit(Box(1))

    assert store.has(ref)


def test_store_has_not_an_uncommitted_resource(store: es.Store) -> None:
    assert not store.has(es.Ref(er.digest(Box("never committed"))))


def test_get_of_a_missing_digest_raises_not_found(store: es.Store) -> None:
    missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

    with store, pytest.raises(es.NotFound, match=missing.digest):
        missing.get()


# --- copies ----------------------------------------------------------------------


def test_mutating_a_read_resource_does_not_change_later_reads(store: es.Store) -> None:
    ref = store.commit(Box([1, 2]))

    with store:
        first = ref.get()
        first.value.append(3)
        fresh = fresh_ref(ref).get()
        fresh.value.append(4)

        assert ref.get() == Box([1, 2])
        assert fresh_ref(ref).get() == Box([1, 2])


def test_mutating_a_resource_after_commit_does_not_change_the_stored_one(
    store: es.Store,
) -> None:
    resource = Box({"list": [1]})
    ref = store.commit(resource)
    resource.value["list"].append(2)

    with store:
        assert ref.get() == Box({"list": [1]})
        assert fresh_ref(ref).get() == Box({"list": [1]})


# --- modify ----------------------------------------------------------------------


def test_modify_commits_the_change_and_repoints_the_ref(store: es.Store) -> None:
    ref = store.commit(Box("before"))
    old = fresh_ref(ref)

    with store:
        with ref.modify() as resource:
            resource.value = "after"

        assert ref.get() == Box("after")
        assert ref.digest == er.digest(Box("after"))
        assert old.get() == Box("before")
    assert store.has(fresh_ref(ref))


def test_modify_leaves_the_ref_unchanged_when_the_block_raises(store: es.Store) -> None:
    ref = store.commit(Box("before"))
    digest = ref.digest

    def change_then_fail() -> None:
        with ref.modify() as resource:
            resource.value = "half-done"
            raise RuntimeError("boom")

    with store:
        with pytest.raises(RuntimeError, match="boom"):
            change_then_fail()

        assert ref.digest == digest
        assert ref.get() == Box("before")
    assert not store.has(es.Ref(er.digest(Box("half-done"))))


# --- nested refs and field order ---------------------------------------------------


@er.register
class OtherRef(es.Ref[Any]):
    """A second ref type, to mix into a list of refs."""


def test_a_list_of_refs_reads_back_as_new_refs_that_can_be_repointed(store: es.Store) -> None:
    targets = [store.commit(Box(i)) for i in range(20)]
    mixed = [*targets[:10], OtherRef(targets[10].digest), *targets[11:]]
    holder = store.commit(Box(mixed))

    with store:
        first = holder.get().value
        with first[0].modify() as resource:
            resource.value = "changed"
        second = holder.get().value

    assert [type(ref) for ref in second] == [type(ref) for ref in mixed]
    assert second == targets
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert first[0] != targets[0]  # Re-pointed; the stored list is untouched.


def test_nested_refs_read_back_through_a_fresh_store(
    store: es.Store, reopen: Callable[[], es.Store]
) -> None:
    leaf_a = store.commit(Node("a", []))
    leaf_b = store.commit(Node("b", []))
    root = store.commit(Node("root", [leaf_a, leaf_b, leaf_a]))

    with reopen():
        node = fresh_ref(root).get()
        assert node.label == "root"
        assert [child.get().label for child in node.children] == ["a", "b", "a"]
        assert all(type(child) is es.Ref for child in node.children)


def test_fields_declared_out_of_alphabetical_order_read_back(
    store: es.Store, reopen: Callable[[], es.Store]
) -> None:
    resource = Pair(zeta=Pair("inner-z", "inner-a"), alpha=[Box(1), {"k": Pair(1, 2)}])
    ref = store.commit(resource)

    with reopen():
        got = fresh_ref(ref).get()
    assert got == resource
    assert er.digest(got) == ref.digest


# --- a fresh store over the same location ------------------------------------------


def test_a_fresh_store_sees_objects_and_tags_committed_before(
    store: es.Store, reopen: Callable[[], es.Store]
) -> None:
    refs = [store.commit(Box(i)) for i in range(5)]
    store.tags["main"] = refs[2]
    store.tags["release/v1"] = refs[4]

    fresh = reopen()
    assert all(fresh.has(fresh_ref(ref)) for ref in refs)
    with fresh:
        assert [fresh_ref(ref).get() for ref in refs] == [Box(i) for i in range(5)]
    assert fresh.tags["main"] == refs[2]
    assert dict(fresh.tags) == {"main": refs[2], "release/v1": refs[4]}


# --- tags ------------------------------------------------------------------------


def test_tag_set_and_get(store: es.Store) -> None:
    ref = store.commit(Box("tagged"))

    store.tags["main"] = ref

    assert store.tags["main"] == ref
    with store:
        assert store.tags["main"].get() == Box("tagged")


def test_tag_overwrite_moves_the_tag(store: es.Store) -> None:
    first = store.commit(Box(1))
    second = store.commit(Box(2))
    store.tags["main"] = first

    store.tags["main"] = second

    assert store.tags["main"] == second
    assert len(store.tags) == 1


def test_tag_delete_removes_only_that_tag(store: es.Store) -> None:
    ref = store.commit(Box(1))
    store.tags["keep"] = ref
    store.tags["drop"] = ref

    del store.tags["drop"]

    assert "drop" not in store.tags
    assert "keep" in store.tags
    assert store.has(ref)
    with pytest.raises(KeyError):
        del store.tags["drop"]


def test_tags_iterate_sorted_with_len_and_contains(store: es.Store) -> None:
    ref = store.commit(Box(1))
    for name in ["zeta", "alpha", "dir/sub/leaf", "v1.0", "under_score-dash"]:
        store.tags[name] = ref

    assert list(store.tags) == ["alpha", "dir/sub/leaf", "under_score-dash", "v1.0", "zeta"]
    assert len(store.tags) == 5
    assert "dir/sub/leaf" in store.tags
    assert "missing" not in store.tags


def test_missing_tag_raises_key_error(store: es.Store) -> None:
    with pytest.raises(KeyError):
        store.tags["missing"]
    assert store.tags.get("missing") is None
    assert len(store.tags) == 0


def test_tagging_a_missing_object_raises_not_found(store: es.Store) -> None:
    missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

    with pytest.raises(es.NotFound, match=missing.digest):
        store.tags["main"] = missing
    assert "main" not in store.tags


# The longest names (200 characters), with as many parts as fit, and names at
# the file store's limit of 255 bytes for the name with '%2F' for '/' (see
# FileBackend): 199 + 2 * 28 = 255, 200 + 2 * 28 = 256.
LONG_TAG_NAMES = [
    tag_name(200, 99),
    tag_name(200, 0),
    tag_name(199, 28),
    tag_name(200, 28),
    tag_name(200, 60),
]


def test_every_valid_tag_name_up_to_200_characters_round_trips(
    store: es.Store, reopen: Callable[[], es.Store]
) -> None:
    refs = {name: store.commit(Box(name)) for name in LONG_TAG_NAMES}
    for name, ref in refs.items():
        store.tags[name] = ref

    fresh = reopen()
    assert sorted(fresh.tags) == sorted(store.tags)
    for name, ref in refs.items():
        assert fresh.tags[name] == ref
        del fresh.tags[name]
        assert name not in fresh.tags
    assert not set(reopen().tags) & set(LONG_TAG_NAMES)


@pytest.mark.parametrize("name", ["", "../x", "/abs", "a..b", "-x", "x y", "a//b", "x/", ".x"])
def test_invalid_tag_names_raise_value_error(store: es.Store, name: str) -> None:
    ref = store.commit(Box(1))

    with pytest.raises(ValueError, match="Invalid tag name"):
        store.tags[name] = ref
    with pytest.raises(ValueError, match="Invalid tag name"):
        store.tags[name]
    with pytest.raises(ValueError, match="Invalid tag name"):
        del store.tags[name]
    assert len(store.tags) == 0


# --- listing and deleting ------------------------------------------------------------


def test_iter_digests_lists_every_object(store: es.Store) -> None:
    refs = {store.commit(Box(i)) for i in range(7)}

    try:
        listed = set(store.backend.iter_digests())
    except es.UnsupportedOperation:
        pytest.skip(f"{store.backend!r} cannot list objects")

    assert listed == {ref.digest for ref in refs}


def test_delete_removes_objects_and_returns_their_digests(store: es.Store) -> None:
    keep = store.commit(Box("keep"))
    drop = [store.commit(Box(i)) for i in range(3)]
    missing = er.digest(Box("never committed"))

    try:
        deleted = store.backend.delete([ref.digest for ref in drop] + [missing])
    except es.UnsupportedOperation:
        pytest.skip(f"{store.backend!r} cannot delete objects")

    assert sorted(deleted) == sorted(ref.digest for ref in drop)
    assert not any(store.has(fresh_ref(ref)) for ref in drop)
    assert store.has(fresh_ref(keep))
    assert set(store.backend.iter_digests()) == {keep.digest}


def test_commit_many_stores_every_object(store: es.Store) -> None:
    resources = [Box(i) for i in range(5)]

    store.backend.commit_many(es.Ref.pack(resource) for resource in resources)

    with store:
        for resource in resources:
            assert es.Ref(er.digest(resource)).get() == resource


# --- every legal value round-trips ---------------------------------------------------

_TYPES = [Box, Pair, Node, er.Str, er.Int, er.Float, er.Bytes, er.NoneResource, es.Ref]
_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]),
)
_INTS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**300),
    st.integers(min_value=-(2**300), max_value=-(2**63) + 2),
)
_KEYS = st.one_of(
    st.text(max_size=8),
    st.text(max_size=8).map(lambda key: "#" + key),
    st.sampled_from(["#res", "#type", "#b85", "#b64", "#float", "##", "#"]),
)
# Refs in a committed value must name objects the store holds (commit never
# leaves a dangling ref): each generated ref names a Str, committed first.
_REF_TARGETS: dict[str, er.Str] = {}


def _ref_to(text: str) -> es.Ref[er.Str]:
    target = er.Str(text)
    ref: es.Ref[er.Str] = es.Ref(er.digest(target))
    _REF_TARGETS[ref.digest] = target
    return ref


def _refs_in(value: Any) -> list[es.Ref[Any]]:
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, es.Ref):
            found.append(item)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, er.Resource):
            stack.extend(item.field_values())
    return found


_ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    _INTS,
    _FLOATS,
    st.text(),
    st.binary(),
    st.sampled_from(_TYPES),
    st.builds(er.Str, st.text(max_size=8)),
    st.builds(er.Int, _INTS),
    st.builds(er.Float, _FLOATS),
    st.builds(er.Bytes, st.binary(max_size=8)),
    st.just(er.NoneResource()),
    st.builds(_ref_to, st.text(max_size=8)),
)
LEGAL_VALUES = st.recursive(
    _ATOMS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_KEYS, children, max_size=4),
        st.builds(Box, children),
        st.builds(Pair, children, children),
    ),
    max_leaves=12,
)

_EXAMPLES = {"memory": 200}  # backends that touch disk run fewer


def test_every_legal_value_round_trips_with_an_identical_digest(
    backend_factory: BackendFactory,
) -> None:
    @settings(
        max_examples=_EXAMPLES.get(backend_factory.kind, 100),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(value=LEGAL_VALUES)
    def round_trip(value: Any) -> None:
        resource = Box(value)
        expected = er.digest(resource)

        writer = es.Store(backend_factory())
        try:
            for target in _refs_in(value):
                writer.commit(_REF_TARGETS[target.digest])
            ref = writer.commit(resource)
        finally:
            writer.close()
        assert ref.digest == expected

        reader = es.Store(backend_factory())  # a new backend over the same location
        try:
            with reader:
                got = fresh_ref(ref).get()
        finally:
            reader.close()
        assert canonical(got) == canonical(resource)
        assert er.digest(got) == expected

    round_trip()


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        [math.nan, -0.0, math.inf, -math.inf],
        {"#res": 1, "#float": "nan", "##": None, "#b64": b""},
        2**64 + 1,
        -(2**200),
        "",
        b"",
        [],
        {},
        "\U0001f600 \x00 \u2028 \ud7ff \ufffd",
        er.NoneResource,
    ],
    ids=repr,
)
def test_edge_values_round_trip(
    store: es.Store, reopen: Callable[[], es.Store], value: Any
) -> None:
    ref = store.commit(Box(value))

    with reopen():
        got = fresh_ref(ref).get()
    assert canonical(got) == canonical(Box(value))
    assert er.digest(got) == ref.digest


# --- what persistent backends cannot store -------------------------------------------


def test_persistent_store_refuses_an_unregistered_type_at_commit(
    persistent_factory: BackendFactory,
) -> None:
    @dataclasses.dataclass
    class Unregistered(er.Resource):
        value: int

    store = es.Store(persistent_factory())

    with pytest.raises(er.SerializationError, match="not registered"):
        store.commit(Box(Unregistered(1)))
    assert list(store.backend.iter_digests()) == []


def test_tags_can_name_both_a_path_and_its_prefix(store: es.Store) -> None:
    ref = store.commit(Box("nested"))
    try:
        store.tags["runs"] = ref
        store.tags["runs/today"] = ref
        store.tags["runs/today/1"] = ref
    except es.UnsupportedOperation:
        pytest.skip(f"{store.backend!r} has no tags")

    assert list(store.tags) == ["runs", "runs/today", "runs/today/1"]
    del store.tags["runs/today"]
    assert list(store.tags) == ["runs", "runs/today/1"]


def test_an_invalid_tag_name_is_simply_not_in_the_tags(store: es.Store) -> None:
    assert "x y" not in store.tags
    assert "../x" not in store.tags
    assert 3 not in store.tags
