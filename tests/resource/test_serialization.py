"""JSON serialisation (SPEC 3.3): exact encoding, exact round trips, clear errors."""

import base64
import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import enact_resource as er

# Pinned by the tutorial (In [6]).
RESOURCE_TO_SERIALIZE_BYTES = (
    b'{"#res": "{\\"digest\\": '
    b'\\"828bfb94333b141b83518e5a89ee13babbee6ebee3a9b4f52e692400ce31d722\\", '
    b'\\"name\\": \\"__main__.ResourceToSerialize\\"}", "value": 42}'
)

RESOURCE_TO_SERIALIZE_SOURCE = """
import dataclasses

import enact


@enact.register
@dataclasses.dataclass
class ResourceToSerialize(enact.Resource):
    value: int
"""


def _run_as_main(source: str) -> dict:
    """Executes source as if it were the __main__ module; returns its namespace."""
    namespace: dict = {"__name__": "__main__"}
    exec(source, namespace)
    return namespace


@er.register
@dataclasses.dataclass
class Box(er.Resource):
    value: object


@er.register
@dataclasses.dataclass
class Pair(er.Resource):
    first: object
    second: object


@er.register
@dataclasses.dataclass
class ZetaAlpha(er.Resource):
    zeta: object
    alpha: object


@er.register
class Count(er.ResourceBase, int):
    """A resource that is not a dataclass."""

    @classmethod
    def field_names(cls):
        return ("value",)

    def field_values(self):
        return (int(self),)

    @classmethod
    def from_fields(cls, field_dict):
        return cls(field_dict["value"])


@dataclasses.dataclass
class Unregistered(er.Resource):
    value: object


SERIALIZERS = [
    pytest.param(er.JsonSerializer(), id="canonical"),
    pytest.param(er.JsonSerializer(compact=True), id="compact"),
]


def _round_trip(serializer: er.JsonSerializer, resource: er.ResourceBase) -> er.ResourceDict:
    return serializer.deserialize(serializer.serialize(resource.to_resource_dict()))


def _box_bytes(value_json: str) -> bytes:
    return ('{"#res": ' + json.dumps(Box.type_id()) + ', "value": ' + value_json + "}").encode()


# --- pinned figures and format --------------------------------------------------


def test_tutorial_resource_serializes_to_the_pinned_bytes() -> None:
    resource_to_serialize = _run_as_main(RESOURCE_TO_SERIALIZE_SOURCE)["ResourceToSerialize"]

    data = er.JsonSerializer().serialize(resource_to_serialize(42).to_resource_dict())

    assert data == RESOURCE_TO_SERIALIZE_BYTES


def test_tutorial_bytes_deserialize_to_the_tutorial_resource() -> None:
    resource_to_serialize = _run_as_main(RESOURCE_TO_SERIALIZE_SOURCE)["ResourceToSerialize"]

    resource = er.JsonSerializer().deserialize(RESOURCE_TO_SERIALIZE_BYTES).to_resource()

    assert type(resource) is resource_to_serialize
    assert resource == resource_to_serialize(42)


def test_canonical_output_is_sorted_key_json_with_spaced_separators() -> None:
    resource = Pair({"b": [1, 2.5, None], "a": {"y": True, "x": "t, u: v"}}, "\u00e9\u4e16")

    data = er.JsonSerializer().serialize(resource.to_resource_dict())

    expected = json.dumps(json.loads(data), sort_keys=True, ensure_ascii=False)
    assert data == expected.encode()


def test_compact_output_is_json_without_spaces_fields_in_declared_order_maps_sorted() -> None:
    # Declared order (zeta before alpha) lets a reader without the class
    # rebuild the type id; mappings are sorted so equal content gives equal bytes.
    resource = Unordered({"b": [1, 2.5, None], "a": {"y": True, "x": "t, u: v"}}, "\u00e9\u4e16")

    data = er.JsonSerializer(compact=True).serialize(resource.to_resource_dict())

    assert list(json.loads(data)) == ["#r", "zeta", "alpha"]
    parsed = json.loads(data)
    assert list(parsed["zeta"]) == ["a", "b"]
    assert list(parsed["zeta"]["a"]) == ["x", "y"]
    expected = json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))
    assert data == expected.encode()


@er.register
@dataclasses.dataclass
class Unordered(er.Resource):
    zeta: object
    alpha: object


def test_resource_is_encoded_as_object_with_res_type_id_and_fields() -> None:
    data = er.JsonSerializer().serialize(Pair(1, "two").to_resource_dict())

    assert json.loads(data) == {"#res": Pair.type_id(), "first": 1, "second": "two"}


def test_nested_resource_is_encoded_as_nested_res_object() -> None:
    data = er.JsonSerializer().serialize(Box(er.Int(3)).to_resource_dict())

    assert json.loads(data)["value"] == {"#res": er.Int.type_id(), "value": 3}


def test_bytes_are_encoded_as_base85_escape() -> None:
    data = er.JsonSerializer().serialize(Box(b"\x00binary\xff").to_resource_dict())

    assert json.loads(data)["value"] == {"#b85": base64.b85encode(b"\x00binary\xff").decode()}


def test_resource_type_is_encoded_as_type_escape() -> None:
    data = er.JsonSerializer().serialize(Box(Pair).to_resource_dict())

    assert json.loads(data)["value"] == {"#type": Pair.type_id()}


def test_serialize_accepts_a_resource_as_well_as_its_resource_dict() -> None:
    serializer = er.JsonSerializer()

    assert serializer.serialize(Pair(1, 2)) == serializer.serialize(Pair(1, 2).to_resource_dict())


def test_deserialize_returns_resource_dict_of_the_registered_class() -> None:
    resource_dict = er.JsonSerializer().deserialize(_box_bytes("1"))

    assert isinstance(resource_dict, er.ResourceDict)
    assert resource_dict.type is Box
    assert resource_dict == {"value": 1}


# --- exact round trips -----------------------------------------------------------


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_nan_comes_back_as_nan_not_none(serializer: er.JsonSerializer) -> None:
    value = _round_trip(serializer, Box(float("nan")))["value"]

    assert isinstance(value, float)
    assert math.isnan(value)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinities_come_back_with_their_sign(serializer: er.JsonSerializer, value: float) -> None:
    assert _round_trip(serializer, Box(value))["value"] == value


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_negative_zero_keeps_its_sign(serializer: er.JsonSerializer) -> None:
    value = _round_trip(serializer, Box(-0.0))["value"]

    assert value == 0.0
    assert math.copysign(1.0, value) == -1.0


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 3**200, -(7**300)])
def test_integers_beyond_64_bits_come_back_exactly(
    serializer: er.JsonSerializer, value: int
) -> None:
    back = _round_trip(serializer, Box(value))["value"]

    assert type(back) is int
    assert back == value


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_integer_with_thousands_of_digits_comes_back_exactly(
    serializer: er.JsonSerializer,
) -> None:
    assert _round_trip(serializer, Box(10**5000 + 1))["value"] == 10**5000 + 1


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_mapping_keys_that_look_like_escapes_come_back_unchanged(
    serializer: er.JsonSerializer,
) -> None:
    value = {"#res": 1, "#b85": "x", "#type": None, "#float": "nan", "#": [], "##": {"#x": 2}}

    assert _round_trip(serializer, Box(value))["value"] == value


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_empty_values_come_back_empty(serializer: er.JsonSerializer) -> None:
    value = ["", b"", [], {}, ()]

    assert _round_trip(serializer, Box(value))["value"] == ["", b"", [], {}, []]


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_bools_come_back_as_bools(serializer: er.JsonSerializer) -> None:
    back = _round_trip(serializer, Box([True, False]))["value"]

    assert [type(item) for item in back] == [bool, bool]


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_resource_types_come_back_as_the_registered_classes(
    serializer: er.JsonSerializer,
) -> None:
    assert _round_trip(serializer, Box([Pair, er.Str, Count]))["value"] == [Pair, er.Str, Count]


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_non_dataclass_resource_comes_back_as_itself(serializer: er.JsonSerializer) -> None:
    back = _round_trip(serializer, Box(Count(12))).to_resource()

    assert type(back.value) is Count
    assert back.value == 12


def test_json_with_fields_in_reverse_order_yields_fields_in_declared_order() -> None:
    data = json.dumps({"alpha": "a", "zeta": "z", "#res": ZetaAlpha.type_id()}).encode()

    resource_dict = er.JsonSerializer().deserialize(data)

    assert list(resource_dict) == ["zeta", "alpha"]
    assert er.digest(resource_dict) == er.digest(ZetaAlpha(zeta="z", alpha="a"))


def test_json_with_sorted_fields_deserializes_to_the_resource() -> None:
    data = json.dumps({"#res": ZetaAlpha.type_id(), "alpha": "a", "zeta": "z"}).encode()

    resource = er.JsonSerializer().deserialize(data).to_resource()

    assert resource == ZetaAlpha(zeta="z", alpha="a")


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_nested_resource_with_non_alphabetical_fields_round_trips(
    serializer: er.JsonSerializer,
) -> None:
    resource = Box([ZetaAlpha(zeta=1, alpha={"k": ZetaAlpha(2, 3)})])

    back = _round_trip(serializer, resource)

    assert er.digest(back) == er.digest(resource)
    assert back.to_resource() == resource


# --- property: every legal value round-trips with the same digest ----------------

_KEYS = st.text(max_size=8) | st.text(max_size=6).map(lambda key: "#" + key)

_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats()
    | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0])
    | st.text()
    | st.binary()
    | st.sampled_from([Box, Pair, ZetaAlpha, Count, er.Str, er.Bytes, er.NoneResource])
    | st.builds(er.Str, st.text())
    | st.builds(er.Int, st.integers())
    | st.builds(er.Float, st.floats())
    | st.builds(er.Bytes, st.binary())
    | st.builds(Count, st.integers())
    | st.just(er.NoneResource())
)


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    return (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(_KEYS, children, max_size=4)
        | st.builds(Box, children)
        | st.builds(Pair, children, children)
        | st.builds(ZetaAlpha, children, children)
    )


LEGAL_VALUES = st.recursive(_LEAVES, _extend, max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=LEGAL_VALUES, compact=st.booleans())
def test_every_legal_value_round_trips_with_an_identical_digest(
    value: object, compact: bool
) -> None:
    serializer = er.JsonSerializer(compact=compact)
    resource_dict = Box(value).to_resource_dict()
    expected = er.digest(Box(value))

    back = serializer.deserialize(serializer.serialize(resource_dict))

    assert er.digest(resource_dict) == expected
    assert er.digest(back) == expected
    assert er.digest(back.to_resource()) == expected


@settings(max_examples=100, deadline=None)
@given(value=LEGAL_VALUES)
def test_serializing_a_deserialized_value_gives_the_same_bytes(value: object) -> None:
    serializer = er.JsonSerializer()
    data = serializer.serialize(Box(value).to_resource_dict())

    assert serializer.serialize(serializer.deserialize(data)) == data


# --- malformed input ------------------------------------------------------------

MALFORMED = [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"not json", "not valid JSON", id="not-json"),
    pytest.param(b"\xff\xfe\x00", "not valid JSON", id="not-utf8"),
    pytest.param(b'{"#res": "x"', "not valid JSON", id="truncated"),
    pytest.param(b"[1, 2]", "'#res'", id="json-list"),
    pytest.param(b"42", "'#res'", id="json-number"),
    pytest.param(b'{"value": 1}', "'#res'", id="missing-res"),
    pytest.param(b'{"#res": 5, "value": 1}', "must be a string", id="non-string-res"),
    pytest.param(
        b'{"#res": "{\\"name\\": \\"nowhere.Gone\\"}"}', "nowhere.Gone", id="unregistered"
    ),
    pytest.param(_box_bytes('{"#b85": "~~~~~"}'), "base85", id="bad-b85"),
    pytest.param(_box_bytes('{"#b85": 12}'), "must be a string", id="non-string-b85"),
    pytest.param(_box_bytes('{"#b64": "@@@"}'), "base64", id="bad-b64"),
    pytest.param(_box_bytes('{"#zzz": 1}'), "'#zzz'", id="unknown-escape"),
    pytest.param(_box_bytes('{"#b85": "", "x": 1}'), "exactly one key", id="escape-extra-key"),
    pytest.param(_box_bytes('{"#float": "1.5"}'), "'1.5'", id="bad-float"),
    pytest.param(_box_bytes('{"#float": 1.5}'), "must be a string", id="non-string-float"),
    pytest.param(_box_bytes('{"#type": 3}'), "must be a string", id="non-string-type"),
    pytest.param(
        _box_bytes('{"#type": "{\\"name\\": \\"nowhere.Gone\\"}"}'), "nowhere.Gone", id="bad-type"
    ),
    pytest.param(
        ('{"#res": ' + json.dumps(Box.type_id()) + "}").encode(),
        "missing fields ['value']",
        id="missing-field",
    ),
    pytest.param(
        ('{"#res": ' + json.dumps(Box.type_id()) + ', "value": 1, "extra": 2}').encode(),
        "unexpected fields ['extra']",
        id="extra-field",
    ),
    pytest.param(_box_bytes('{"#res": 7}'), "must be a string", id="nested-non-string-res"),
    pytest.param(
        _box_bytes('{"#res": ' + json.dumps(Box.type_id()) + "}"),
        "missing fields ['value']",
        id="nested-missing-field",
    ),
]


@pytest.mark.parametrize(("data", "fragment"), MALFORMED)
def test_malformed_input_raises_deserialization_error_saying_what_is_wrong(
    data: bytes, fragment: str
) -> None:
    with pytest.raises(er.DeserializationError) as raised:
        er.JsonSerializer().deserialize(data)

    assert fragment in str(raised.value)


_JSON_KEYS = st.sampled_from(["#res", "#type", "#b85", "#b64", "#float", "#", "##x", "value"]) | (
    st.text(max_size=5)
)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | st.sampled_from([Box.type_id(), Pair.type_id(), "nan", "inf", "", "@@"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(_JSON_KEYS, children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON_VALUES)
def test_any_json_field_value_deserializes_or_raises_deserialization_error(value: object) -> None:
    data = _box_bytes(json.dumps(value))

    try:
        resource_dict = er.JsonSerializer().deserialize(data)
    except er.DeserializationError:
        return
    assert resource_dict.type is Box
    assert len(er.digest(resource_dict)) == 64


@settings(max_examples=300, deadline=None)
@given(data=st.binary())
def test_arbitrary_bytes_deserialize_or_raise_deserialization_error(data: bytes) -> None:
    try:
        resource_dict = er.JsonSerializer().deserialize(data)
    except er.DeserializationError:
        return
    assert isinstance(resource_dict, er.ResourceDict)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_too_deeply_raises_deserialization_error(depth: int) -> None:
    data = _box_bytes("[" * depth + "]" * depth)

    with pytest.raises(er.DeserializationError, match=r"(?i)deep|nest"):
        er.JsonSerializer().deserialize(data)


def test_unregistered_type_id_raises_type_not_registered_error() -> None:
    data = b'{"#res": "{\\"name\\": \\"nowhere.Gone\\"}"}'

    with pytest.raises(er.TypeNotRegisteredError):
        er.JsonSerializer().deserialize(data)


def test_deserializer_resolves_types_only_through_its_registry() -> None:
    data = er.JsonSerializer().serialize(Box(1).to_resource_dict())

    with pytest.raises(er.TypeNotRegisteredError):
        er.JsonSerializer(registry=er.Registry()).deserialize(data)


def test_deserialize_of_text_instead_of_bytes_raises_deserialization_error() -> None:
    with pytest.raises(er.DeserializationError, match="bytes"):
        er.JsonSerializer().deserialize(_box_bytes("1").decode())  # type: ignore[arg-type]


# --- values that cannot be written ------------------------------------------------


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_lone_surrogate_raises_serialization_error(serializer: er.JsonSerializer) -> None:
    with pytest.raises(er.SerializationError):
        serializer.serialize(Box("\ud800").to_resource_dict())


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_lone_surrogate_in_mapping_key_raises_serialization_error(
    serializer: er.JsonSerializer,
) -> None:
    with pytest.raises(er.SerializationError):
        serializer.serialize(Box({"\udfff": 1}).to_resource_dict())


def test_serialization_error_is_a_value_error_and_enact_error() -> None:
    assert issubclass(er.SerializationError, ValueError)
    assert issubclass(er.SerializationError, er.EnactError)


def test_require_registered_refuses_unregistered_type_naming_it() -> None:
    serializer = er.JsonSerializer(require_registered=True)

    with pytest.raises(er.SerializationError, match=r"Unregistered.*register"):
        serializer.serialize(Unregistered(1).to_resource_dict())


def test_require_registered_refuses_nested_unregistered_resource() -> None:
    serializer = er.JsonSerializer(require_registered=True)

    with pytest.raises(er.SerializationError, match="Unregistered"):
        serializer.serialize(Box([Unregistered(1)]).to_resource_dict())


def test_require_registered_refuses_unregistered_resource_type_as_value() -> None:
    serializer = er.JsonSerializer(require_registered=True)

    with pytest.raises(er.SerializationError, match="Unregistered"):
        serializer.serialize(Box(Unregistered).to_resource_dict())


def test_require_registered_accepts_registered_types() -> None:
    serializer = er.JsonSerializer(require_registered=True)
    resource = Box([Pair(er.Str("a"), Count(1)), ZetaAlpha])

    back = serializer.deserialize(serializer.serialize(resource.to_resource_dict()))

    assert back.to_resource() == resource


def test_without_require_registered_an_unregistered_type_is_written() -> None:
    data = er.JsonSerializer().serialize(Unregistered(1).to_resource_dict())

    assert json.loads(data)["#res"] == Unregistered.type_id()
