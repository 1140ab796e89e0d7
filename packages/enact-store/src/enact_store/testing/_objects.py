"""Objects: commit, has and get, copies, modify, refs, round trips of every legal value."""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import enact_resource as er
import enact_store as es
from enact_store.testing._factory import BackendFactory, has, needs, require
from enact_store.testing._resources import Box, Node, Pair, canonical, fresh_ref

__all__ = ["ObjectTests"]

T = TypeVar("T")


@er.register(name="enact_store.testing.OtherRef")
class OtherRef(es.Ref[Any]):
    """A second ref type, to mix into a list of refs."""


#: Strings that are not digests, some shaped to escape a directory or a query.
MALFORMED_DIGESTS = [
    "../x",
    "../../" + "a" * 58,
    "/etc/passwd",
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "A" * 64,
    "",
    "a" * 63 + "\n",
    "a" * 32 + "/" + "a" * 31,
]

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
#: Every kind of value a resource can hold, nested.
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

EDGE_VALUES = [
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
]

TEXTS = [
    "C:\\udata\\file",  # A backslash and "ud": only looks like an escaped surrogate.
    "\\ud800",
    "😀 \U0001f600 \U00010000",  # Characters outside the BMP (one code point each).
    "line\nline\ttab \x00 \x7f \u2028",
    "café ñ 中文",
]


def nested(kind: str, levels: int) -> Box:
    """A Box whose value nests ``levels`` containers or resources of one kind (or all)."""
    value: Any = "leaf"
    for level in range(levels):
        step = ["list", "dict", "resource"][level % 3] if kind == "mixed" else kind
        if step == "list":
            value = [value]
        elif step == "tuple":
            value = (value,)
        elif step == "dict":
            value = {"k": value}
        else:
            value = Box(value)
    return Box(value)


def at_stack_depth(frames: int, run: Callable[[], T]) -> T:
    """Calls ``run`` from ``frames`` Python frames further down the stack."""
    if frames <= 0:
        return run()
    return at_stack_depth(frames - 1, run)


class ObjectTests:
    """Objects committed read back equal, under their digest, in any later process."""

    # --- commit, has, get ---

    def test_commit_returns_a_ref_that_the_store_has(self, store: es.Store) -> None:
        ref = store.commit(Box("hello"))

        assert isinstance(ref, es.Ref)
        assert store.has(ref)
        assert store.has(fresh_ref(ref))

    def test_committed_resource_reads_back_equal(self, store: es.Store) -> None:
        ref = store.commit(Box({"a": [1, 2.5, None], "b": b"\x00\xff"}))

        with store:
            assert fresh_ref(ref).get() == Box({"a": [1, 2.5, None], "b": b"\x00\xff"})
            assert fresh_ref(ref)() == Box({"a": [1, 2.5, None], "b": b"\x00\xff"})

    def test_ref_digest_is_the_digest_of_the_resource(self, store: es.Store) -> None:
        resource = Box([1, "two", 3.0])

        assert store.commit(resource).digest == er.digest(resource)

    def test_commit_is_idempotent_and_equal_content_gives_equal_refs(self, store: es.Store) -> None:
        first = store.commit(Box("same"))
        second = store.commit(Box("same"))
        third = store.commit(Box("different"))

        assert first == second
        assert hash(first) == hash(second)
        assert first != third
        with store:
            assert fresh_ref(first).get() == Box("same")

    def test_commit_function_uses_the_active_store(self, store: es.Store) -> None:
        with store:
            ref = es.commit(Box(1))

        assert store.has(ref)

    def test_store_has_not_an_uncommitted_resource(self, store: es.Store) -> None:
        assert not store.has(es.Ref(er.digest(Box("never committed"))))
        assert store.backend.get(es.Ref(er.digest(Box("never committed")))) is None

    def test_get_of_a_missing_digest_raises_not_found(self, store: es.Store) -> None:
        missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

        with store, pytest.raises(es.NotFound, match=missing.digest):
            missing.get()

    def test_commit_many_stores_every_object(self, store: es.Store) -> None:
        resources = [Box(i) for i in range(5)]

        store.backend.commit_many(es.Ref.pack(resource) for resource in resources)

        with store:
            for resource in resources:
                assert es.Ref(er.digest(resource)).get() == resource

    def test_a_batch_writes_every_object_committed_in_it(
        self, backend_factory: BackendFactory
    ) -> None:
        store = es.Store(backend_factory())
        with store.batch():
            refs = [store.commit(Box(["batched", i])) for i in range(30)]
            assert all(store.has(ref) for ref in refs)  # Pending objects are visible.

        fresh = es.Store(backend_factory())
        with fresh:
            got = [fresh_ref(ref).get() for ref in refs]
        assert got == [Box(["batched", i]) for i in range(30)]

    # --- copies ---

    def test_mutating_a_read_resource_does_not_change_later_reads(self, store: es.Store) -> None:
        ref = store.commit(Box([1, 2]))

        with store:
            first = ref.get()
            first.value.append(3)
            fresh = fresh_ref(ref).get()
            fresh.value.append(4)

            assert ref.get() == Box([1, 2])
            assert fresh_ref(ref).get() == Box([1, 2])

    def test_mutating_a_resource_after_commit_does_not_change_the_stored_one(
        self, store: es.Store
    ) -> None:
        resource = Box({"list": [1]})
        ref = store.commit(resource)
        resource.value["list"].append(2)

        with store:
            assert ref.get() == Box({"list": [1]})
            assert fresh_ref(ref).get() == Box({"list": [1]})

    # --- modify ---

    def test_modify_commits_the_change_and_repoints_the_ref(self, store: es.Store) -> None:
        ref = store.commit(Box("before"))
        old = fresh_ref(ref)

        with store:
            with ref.modify() as resource:
                resource.value = "after"

            assert ref.get() == Box("after")
            assert ref.digest == er.digest(Box("after"))
            assert old.get() == Box("before")
        assert store.has(fresh_ref(ref))

    def test_modify_leaves_the_ref_unchanged_when_the_block_raises(self, store: es.Store) -> None:
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

    # --- nested refs and field order ---

    def test_a_list_of_refs_reads_back_as_new_refs_that_can_be_repointed(
        self, store: es.Store
    ) -> None:
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
        self, store: es.Store, reopen: Callable[[], es.Store]
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
        self, store: es.Store, reopen: Callable[[], es.Store]
    ) -> None:
        resource = Pair(zeta=Pair("inner-z", "inner-a"), alpha=[Box(1), {"k": Pair(1, 2)}])
        ref = store.commit(resource)

        with reopen():
            got = fresh_ref(ref).get()
        assert got == resource
        assert er.digest(got) == ref.digest

    def test_a_fresh_store_sees_objects_and_tags_committed_before(
        self, store: es.Store, reopen: Callable[[], es.Store]
    ) -> None:
        needs(store.backend, "tags")
        refs = [store.commit(Box(i)) for i in range(5)]
        store.tags["main"] = refs[2]
        store.tags["release/v1"] = refs[4]

        fresh = reopen()
        assert all(fresh.has(fresh_ref(ref)) for ref in refs)
        with fresh:
            assert [fresh_ref(ref).get() for ref in refs] == [Box(i) for i in range(5)]
        assert fresh.tags["main"] == refs[2]
        assert dict(fresh.tags) == {"main": refs[2], "release/v1": refs[4]}

    # --- every legal value round-trips ---

    def test_every_legal_value_round_trips_with_an_identical_digest(
        self, backend_factory: BackendFactory
    ) -> None:
        @settings(
            max_examples=100 if backend_factory.persistent else 200,
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

    @pytest.mark.parametrize("value", EDGE_VALUES, ids=repr)
    def test_edge_values_round_trip(
        self, store: es.Store, reopen: Callable[[], es.Store], value: Any
    ) -> None:
        ref = store.commit(Box(value))

        with reopen():
            got = fresh_ref(ref).get()
        assert canonical(got) == canonical(Box(value))
        assert er.digest(got) == ref.digest

    @pytest.mark.parametrize("text", TEXTS)
    def test_unicode_text_commits_and_reads_back(
        self, store: es.Store, reopen: Callable[[], es.Store], text: str
    ) -> None:
        ref = store.commit(Box({text: [text, er.Str(text)]}))

        with reopen() as fresh:
            assert fresh.get(fresh_ref(ref)) == Box({text: [text, er.Str(text)]})

    @pytest.mark.parametrize("kind", ["list", "tuple", "dict", "resource", "mixed"])
    def test_values_nested_to_the_limit_commit_and_read_back(
        self, store: es.Store, reopen: Callable[[], es.Store], kind: str
    ) -> None:
        value = nested(kind, er.MAX_DEPTH)
        ref = store.commit(value)

        fresh = reopen()
        # Reading needs a few frames per level: it works from well down the
        # stack, under the interpreter's default recursion limit (a library
        # loaded earlier in the process may have raised it).
        before = sys.getrecursionlimit()
        sys.setrecursionlimit(1000)
        try:
            with fresh:
                got = at_stack_depth(300, lambda: fresh.get(fresh_ref(ref)))
                text = es.pformat(fresh_ref(ref))
        finally:
            sys.setrecursionlimit(before)
        assert er.digest(got) == ref.digest
        assert got.to_resource_dict() == value.to_resource_dict()
        assert text.count("'leaf'") == 1
        if has(fresh.backend, "listing", "tags"):
            assert fresh.verify().ok
        copied = es.Store()
        es.copy(fresh, copied, [ref])
        assert copied.has(ref)

    def test_a_backend_that_encodes_refuses_an_unregistered_type_at_commit(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "persistent")

        @dataclasses.dataclass
        class Unregistered(er.Resource):
            value: int

        store = es.Store(backend_factory())

        with pytest.raises(er.SerializationError, match="not registered"):
            store.commit(Box(Unregistered(1)))
        assert not store.has(es.Ref(er.digest(Box(Unregistered(1)))))

    # --- commit never leaves a dangling ref ---

    def test_a_ref_from_another_store_is_refused_naming_the_missing_digest(
        self, store: es.Store
    ) -> None:
        elsewhere = es.Store()
        foreign = elsewhere.commit(Box("precious, but only over there"))
        holder = Box(["holds", foreign])

        with pytest.raises(es.NotFound, match=foreign.digest) as caught:
            store.commit(holder)

        assert "another store" in str(caught.value)
        assert not store.has(es.Ref(er.digest(holder)))

    def test_a_ref_made_from_a_digest_of_a_missing_object_is_refused(self, store: es.Store) -> None:
        missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

        with pytest.raises(es.NotFound, match=missing.digest):
            store.commit(Node("parent", [missing]))
        with pytest.raises(es.NotFound, match=missing.digest):
            store.commit(missing)  # A ref is a resource holding a ref, too.

    def test_a_ref_from_another_store_is_accepted_when_this_store_holds_its_target(
        self, backend_factory: BackendFactory
    ) -> None:
        store = es.Store(backend_factory())
        foreign = es.Store().commit(Box("in both"))
        store.commit(Box("in both"))

        holder = store.commit(Box([foreign]))

        reopened = es.Store(backend_factory())
        with reopened:
            assert fresh_ref(holder).get().value[0].get() == Box("in both")

    def test_refs_read_from_the_store_or_its_tags_commit_back_to_it(
        self, backend_factory: BackendFactory
    ) -> None:
        store = es.Store(backend_factory())
        needs(store.backend, "tags")
        child = store.commit(Node("child", []))
        store.tags["child"] = child
        parent = store.commit(Node("parent", [child]))
        reader = es.Store(backend_factory())  # Another process's view, if persistent.

        with reader:
            children = fresh_ref(parent).get().children
            again = reader.commit(Node("again", [*children, reader.tags["child"]]))
            assert fresh_ref(again).get().children == [child, child]

    def test_refs_to_objects_pending_in_the_same_batch_are_accepted(
        self, backend_factory: BackendFactory
    ) -> None:
        store = es.Store(backend_factory())

        with store.batch():
            child = store.commit(Node("child", []))
            parent = store.commit(Node("parent", [es.Ref(child.digest)]))

        fresh = es.Store(backend_factory())
        assert fresh.has(parent)
        assert fresh.has(child)

    # --- malformed digests never reach the backend ---

    @pytest.mark.parametrize("digest", MALFORMED_DIGESTS, ids=repr)
    def test_a_forged_ref_is_refused_with_ref_error(self, store: es.Store, digest: str) -> None:
        # A Ref whose digest skipped validation, as a buggy or hostile caller could make.
        ref: es.Ref[Any] = object.__new__(es.Ref)
        object.__setattr__(ref, "_digest", digest)
        object.__setattr__(ref, "_cached", None)

        with pytest.raises(es.RefError):
            store.has(ref)
        with pytest.raises(es.RefError):
            store.get(ref)
        with store, pytest.raises(es.RefError):
            ref.get()
