"""The packers generated per dataclass type give the ResourceDict and the SPEC 3.2 digest.

Checked against a reference stream written here from the specification, for
field values of every kind, at the top level and nested in other values.
"""

import dataclasses
import hashlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import enact_resource as er


@dataclasses.dataclass
class Trio(er.Resource):
    first: Any
    second: Any
    third: Any


@dataclasses.dataclass
class Empty(er.Resource):
    pass


def _stream(value: Any) -> bytes:
    """The digest stream of SPEC 3.2, written out directly."""
    if isinstance(value, er.Bytes):
        return _resource_stream(type(value), [("value", bytes(value))])
    if isinstance(value, er.Str | er.Int | er.Float):
        plain = value.field_values()[0]
        return _resource_stream(type(value), [("value", plain)])
    if isinstance(value, er.ResourceBase):
        names = type(value).field_names()
        return _resource_stream(type(value), list(zip(names, value.field_values(), strict=True)))
    if isinstance(value, type):
        return f"type[{value.type_id()}]".encode()
    if value is None:
        return b"n"
    if isinstance(value, bool):
        return b"i1" if value else b"i0"
    if isinstance(value, int):
        return f"i{value}".encode()
    if isinstance(value, float):
        return ("f" + repr(value)).encode()
    if isinstance(value, str):
        return ("s" + repr(value)).encode()
    if isinstance(value, bytes):
        return f"b{len(value)}:".encode() + value
    if isinstance(value, list | tuple):
        return b"seq[" + b"".join(map(_stream, value)) + b"]"
    assert isinstance(value, dict)
    items = b"".join(repr(k).encode() + _stream(value[k]) for k in sorted(value))
    return b"map[" + items + b"]"


def _resource_stream(cls: type[er.ResourceBase], fields: list[tuple[str, Any]]) -> bytes:
    body = b"".join(repr(name).encode() + _stream(value) for name, value in fields)
    return ("res[" + cls.type_id()).encode() + body + b"]"


def _plain(value: Any) -> Any:
    """What a ResourceDict holds for a field value (resources as dicts, atoms whole)."""
    if isinstance(value, er.Str | er.Int | er.Float | er.Bytes):
        return value
    if isinstance(value, er.ResourceBase):
        return value.to_resource_dict()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


_atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.text(max_size=8).map(er.Str),
    st.integers().map(er.Int),
    st.binary(max_size=4).map(er.Bytes),
    st.just(Empty()),
    st.just(Trio),
)
_values = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=20),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
        st.builds(Trio, inner, inner, inner),
    ),
    max_leaves=30,
)


@given(_values, _values, _values)
def test_packing_a_resource_gives_its_dict_and_the_spec_digest(a: Any, b: Any, c: Any) -> None:
    resource = Trio(a, b, c)

    data, value = er.pack_resource(resource)

    assert value == hashlib.sha256(_stream(resource)).hexdigest()
    assert er.digest(resource) == value
    assert data.type is Trio
    assert data == {"first": _plain(a), "second": _plain(b), "third": _plain(c)}


@given(_values)
def test_a_resource_nested_in_a_list_digests_by_the_spec_stream(value: Any) -> None:
    nested = [Trio(value, None, True), {"k": Trio(False, value, [])}]

    assert er.digest(nested) == hashlib.sha256(_stream(nested)).hexdigest()


def test_a_type_without_fields_packs_to_the_same_digest_every_time() -> None:
    first = er.pack_resource(Empty())
    second = er.pack_resource(Empty())

    assert first[1] == second[1] == hashlib.sha256(_stream(Empty())).hexdigest()
    assert first[0] == {}
    assert first[0].type is Empty


@given(st.lists(st.text(max_size=5), min_size=16, max_size=40), st.integers(16, 40))
def test_long_lists_of_value_resources_pack_to_the_spec_digest(texts: list[str], n: int) -> None:
    resource = Trio([er.Str(t) for t in texts], [er.Int(i) for i in range(n)], list(range(n)))

    data, value = er.pack_resource(resource)

    assert value == hashlib.sha256(_stream(resource)).hexdigest()
    assert data["first"] == texts
    assert all(type(item) is er.Str for item in data["first"])
    assert data["second"] == list(range(n))
