"""Stored types: records read without their classes, or under another version of them.

A serializer made with ``stored_types=True`` (what stores use) reads a record
whose type id no registered class has with a stored type as its ``.type``:
it digests and serialises as the original; converting it to a resource uses
the class now registered under its name (defaults, ``migrate_fields``,
aliases) or says exactly what does not fit.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any, ClassVar

import pytest

import enact_resource as er

COMPACT = er.JsonSerializer(compact=True)
CANONICAL = er.JsonSerializer()
STORED = er.JsonSerializer(compact=True, stored_types=True)
STORED_CANONICAL = er.JsonSerializer(stored_types=True)

_names = itertools.count()


def unregistered(name: str, fields: dict[str, Any], **defaults: Any) -> type[er.Resource]:
    """A dataclass resource type named ``name`` that is never registered."""
    namespace: dict[str, Any] = {"__annotations__": dict.fromkeys(fields, "Any")}
    namespace.update(defaults)
    cls = type(name.rsplit(".", 1)[-1], (er.Resource,), namespace)
    er.set_type_name(cls, name)
    return dataclasses.dataclass(cls)


def fresh_name(stem: str) -> str:
    """A type name no other test uses (the registry is process-wide)."""
    return f"tests.stored.{stem}{next(_names)}"


def test_an_unregistered_record_reads_as_a_stored_type_that_digests_as_the_original() -> None:
    Ghost = unregistered(fresh_name("Ghost"), {"zeta": 0, "alpha": 0})
    original = Ghost(zeta=[1, b"\x00", {"k": 1.5}], alpha="a")
    data = COMPACT.serialize(original.to_resource_dict())

    read = STORED.deserialize(data)

    assert issubclass(read.type, er.StoredResource)
    assert read.type.stored_name == Ghost.type_name()
    assert read.type.stored_type_id == Ghost.type_id()
    assert read.type.field_names() == ("zeta", "alpha")
    assert dict(read) == {"zeta": [1, b"\x00", {"k": 1.5}], "alpha": "a"}
    assert er.digest(read) == er.digest(original)
    assert STORED.serialize(read) == data
    assert repr(read.type) == f"<stored type {Ghost.type_name()}>"


def test_without_stored_types_an_unregistered_record_raises_type_not_registered() -> None:
    Ghost = unregistered(fresh_name("Ghost"), {"x": 0})
    data = COMPACT.serialize(Ghost(x=1).to_resource_dict())

    with pytest.raises(er.TypeNotRegisteredError, match="Ghost"):
        COMPACT.deserialize(data)


def test_converting_an_unregistered_stored_type_raises_type_not_registered() -> None:
    Ghost = unregistered(fresh_name("Ghost"), {"x": 0})
    read = STORED.deserialize(COMPACT.serialize(Ghost(x=1).to_resource_dict()))

    with pytest.raises(er.TypeNotRegisteredError, match="Ghost"):
        read.to_resource()


def test_records_stored_with_sorted_fields_find_their_declared_order() -> None:
    # Releases before 0.2 (and the canonical form) sort the fields; the
    # type id's fields digest tells which order was declared.
    Ghost = unregistered(fresh_name("Ghost"), {"m": 0, "z": 0, "a": 0, "q": 0})
    original = Ghost(m=1, z=2, a=3, q=4)

    canonical = CANONICAL.serialize(original.to_resource_dict())
    # The compact form as releases before 0.2 wrote it: abbreviated type id, sorted keys.
    compact = json.dumps(
        json.loads(COMPACT.serialize(original.to_resource_dict())),
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    assert list(json.loads(compact)) == ["#r", "a", "m", "q", "z"]

    for data in (canonical, compact):
        read = STORED.deserialize(data)
        assert read.type.field_names() == ("m", "z", "a", "q")
        assert er.digest(read) == er.digest(original)


def test_a_sorted_record_with_too_many_fields_to_search_says_what_to_do() -> None:
    fields = {f"f{i}": 0 for i in reversed(range(10))}  # declared f9 ... f0
    Wide = unregistered(fresh_name("Wide"), fields)
    data = CANONICAL.serialize(Wide(*range(10)).to_resource_dict())

    with pytest.raises(er.DeserializationError, match="import the class"):
        STORED_CANONICAL.deserialize(data)


def test_a_record_whose_fields_do_not_fit_its_type_id_is_an_error() -> None:
    Ghost = unregistered(fresh_name("Ghost"), {"x": 0})
    data = COMPACT.serialize(Ghost(x=1).to_resource_dict()).replace(b'"x"', b'"y"')

    with pytest.raises(er.DeserializationError, match="do not fit its type id"):
        STORED.deserialize(data)


def test_a_resource_type_value_of_an_unregistered_type_keeps_its_type_id() -> None:
    Ghost = unregistered(fresh_name("Ghost"), {"x": 0})

    @er.register
    @dataclasses.dataclass
    class TypeHolder(er.Resource):
        kind: Any

    original = TypeHolder([Ghost, er.Str])
    data = COMPACT.serialize(original.to_resource_dict())

    read = STORED.deserialize(data)

    ghost_type, str_type = read["kind"]
    assert issubclass(ghost_type, er.StoredResource)
    assert ghost_type.type_id() == Ghost.type_id()
    assert str_type is er.Str
    assert er.digest(read) == er.digest(original)
    assert STORED.serialize(read) == data


# --- Reading records of an earlier version of a registered class. ---


def test_a_field_added_with_a_default_is_filled_in_on_read() -> None:
    name = fresh_name("Doc")
    Old = unregistered(name, {"text": 0})
    old = Old(text="hi")
    stored = COMPACT.serialize(old.to_resource_dict())

    @er.register(name=name)
    @dataclasses.dataclass
    class Doc(er.Resource):
        text: str
        lang: str = "en"
        tags: list[str] = dataclasses.field(default_factory=list)

    read = STORED.deserialize(stored)

    assert er.digest(read) == er.digest(old)  # still the stored record
    assert read.to_resource() == Doc("hi", "en", [])
    # Content addressing: the upgraded object is other content.
    assert er.digest(Doc("hi")) != er.digest(old)


def test_a_field_without_default_and_a_dropped_field_are_named_in_the_error() -> None:
    name = fresh_name("Doc")
    stored = COMPACT.serialize(
        unregistered(name, {"text": 0, "old": 0})("hi", 1).to_resource_dict()
    )

    @er.register(name=name)
    @dataclasses.dataclass
    class Doc(er.Resource):
        text: str
        lang: str

    with pytest.raises(er.SchemaMismatchError) as caught:
        STORED.deserialize(stored).to_resource()

    message = str(caught.value)
    assert "the class's fields ['lang'] are not stored and have no default" in message
    assert "the stored fields ['old'] are not fields of the class" in message
    assert "migrate_fields" in message
    assert "not registered" not in message


def test_migrate_fields_renames_drops_and_converts_stored_fields() -> None:
    name = fresh_name("Person")
    stored = COMPACT.serialize(
        unregistered(name, {"full_name": 0, "age": 0, "legacy": 0})(
            "Ada Lovelace", "36", None
        ).to_resource_dict()
    )
    seen: list[tuple[dict[str, Any], str]] = []

    @er.register(name=name)
    @dataclasses.dataclass
    class Person(er.Resource):
        first: str
        last: str
        age: int

        @classmethod
        def migrate_fields(cls, fields: dict[str, Any], stored_name: str) -> dict[str, Any]:
            seen.append((dict(fields), stored_name))
            first, last = fields["full_name"].split()
            return {"first": first, "last": last, "age": int(fields["age"])}

    assert STORED.deserialize(stored).to_resource() == Person("Ada", "Lovelace", 36)
    assert seen == [({"full_name": "Ada Lovelace", "age": "36", "legacy": None}, name)]


def test_a_renamed_class_reads_records_stored_under_its_alias() -> None:
    old_name = fresh_name("OldPlace")
    stored = COMPACT.serialize(unregistered(old_name, {"x": 0})(x=5).to_resource_dict())

    @er.register(name=fresh_name("NewPlace"), aliases=[old_name])
    @dataclasses.dataclass
    class NewPlace(er.Resource):
        x: int

    read = STORED.deserialize(stored)

    assert read.type.stored_name == old_name
    assert read.to_resource() == NewPlace(5)
    assert er.Registry.get().lookup_name(old_name) is NewPlace


def test_nested_records_of_older_versions_upgrade_too() -> None:
    name = fresh_name("Leaf")
    Old = unregistered(name, {"v": 0})

    @er.register
    @dataclasses.dataclass
    class Tree(er.Resource):
        leaves: list[Any]

    stored = COMPACT.serialize(Tree([Old(1), Old(2)]).to_resource_dict())

    @er.register(name=name)
    @dataclasses.dataclass
    class Leaf(er.Resource):
        v: int
        weight: float = 1.0

    assert STORED.deserialize(stored).to_resource() == Tree([Leaf(1), Leaf(2)])


def test_register_rejects_bad_names_and_aliases() -> None:
    class Thing(er.Resource):
        pass

    with pytest.raises(TypeError, match="non-empty"):
        er.register(name="")(Thing)
    with pytest.raises(TypeError, match="list of names"):
        er.register(aliases="old.Thing")(Thing)


class _ValuesOnly(er.ResourceBase):
    """A non-dataclass resource: its type id has no fields digest."""

    fields: ClassVar[tuple[str, ...]] = ("a",)

    def __init__(self, **values: Any) -> None:
        self.values = values

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return cls.fields

    def field_values(self) -> tuple[Any, ...]:
        return tuple(self.values[name] for name in self.fields)

    @classmethod
    def from_fields(cls, field_dict: Any) -> _ValuesOnly:
        return cls(**field_dict)


def test_a_name_only_type_with_other_fields_now_reads_as_a_stored_type() -> None:
    name = fresh_name("Shape")
    old = type("Shape", (_ValuesOnly,), {"fields": ("a", "b")})
    er.set_type_name(old, name)
    stored = COMPACT.serialize(old(a=1, b=2).to_resource_dict())
    original_digest = er.digest(old(a=1, b=2))
    new = type("Shape", (_ValuesOnly,), {"fields": ("a",)})  # one field fewer, same type id
    er.register(name=name)(new)

    read = STORED.deserialize(stored)

    assert issubclass(read.type, er.StoredResource)
    assert er.digest(read) == original_digest
    with pytest.raises(er.SchemaMismatchError, match="'b'"):
        read.to_resource()
