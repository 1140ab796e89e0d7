"""The resource protocol (SPEC 3): fields, ResourceDicts, copies and built-ins."""

import dataclasses
import math
import re

import pytest

import enact_resource as er


@er.register
@dataclasses.dataclass
class Point(er.Resource):
    y: int
    x: int


@er.register
@dataclasses.dataclass
class Holder(er.Resource):
    items: list
    mapping: dict
    child: Point
    kind: type


@dataclasses.dataclass
class Box(er.Resource):
    value: object


@er.register
class MyIntResource(er.ResourceBase, int):
    """A resource implemented directly on ResourceBase, as in tutorial In [3]."""

    @classmethod
    def from_fields(cls, field_dict) -> "MyIntResource":
        return cls(field_dict["value"])

    @classmethod
    def field_names(cls):
        yield "value"

    def field_values(self):
        yield int(self)


def _holder() -> Holder:
    return Holder(items=[1, [2.5, b"x"]], mapping={"p": Point(1, 2)}, child=Point(3, 4), kind=Point)


# --- fields --------------------------------------------------------------------


def test_field_names_follow_declaration_order() -> None:
    assert list(Point.field_names()) == ["y", "x"]


def test_field_values_follow_field_order() -> None:
    assert list(Point(y=1, x=2).field_values()) == [1, 2]


def test_field_items_pair_names_with_values() -> None:
    assert list(Point(y=1, x=2).field_items()) == [("y", 1), ("x", 2)]


def test_from_fields_builds_the_resource() -> None:
    assert Point.from_fields({"x": 2, "y": 1}) == Point(y=1, x=2)


def test_resources_with_equal_fields_are_equal() -> None:
    assert _holder() == _holder()


# --- ResourceDict ----------------------------------------------------------------


def test_to_resource_dict_returns_resource_dict_typed_with_the_class() -> None:
    resource_dict = Point(1, 2).to_resource_dict()

    assert isinstance(resource_dict, er.ResourceDict)
    assert resource_dict.type is Point


def test_to_resource_dict_keys_follow_field_order() -> None:
    assert list(Point(1, 2).to_resource_dict().items()) == [("y", 1), ("x", 2)]


def test_nested_resources_become_nested_resource_dicts() -> None:
    resource_dict = _holder().to_resource_dict()

    assert resource_dict["child"] == {"y": 3, "x": 4}
    assert resource_dict["child"].type is Point
    assert resource_dict["mapping"]["p"].type is Point


def test_resource_types_stay_types_in_resource_dict() -> None:
    assert _holder().to_resource_dict()["kind"] is Point


def test_to_resource_dict_shares_no_containers_with_the_resource() -> None:
    resource = _holder()
    resource_dict = resource.to_resource_dict()

    resource_dict["items"][1].append("extra")
    resource_dict["mapping"]["new"] = 1

    assert resource == _holder()


def test_resource_dicts_of_different_types_with_same_items_are_not_equal() -> None:
    @dataclasses.dataclass
    class OtherPoint(er.Resource):
        y: int
        x: int

    assert Point(1, 2).to_resource_dict() != OtherPoint(1, 2).to_resource_dict()


def test_from_resource_dict_rebuilds_an_equal_resource() -> None:
    assert Holder.from_resource_dict(_holder().to_resource_dict()) == _holder()


def test_resource_dict_to_resource_rebuilds_an_equal_resource() -> None:
    rebuilt = _holder().to_resource_dict().to_resource()

    assert type(rebuilt) is Holder
    assert type(rebuilt.child) is Point
    assert rebuilt == _holder()


def test_resource_dict_with_keys_in_another_order_rebuilds_the_resource() -> None:
    assert er.ResourceDict(Point, {"x": 2, "y": 1}).to_resource() == Point(y=1, x=2)


# --- copies and set_from -----------------------------------------------------------


def test_deep_copy_is_equal_but_not_the_same_object() -> None:
    original = _holder()

    copy = original.deep_copy_resource()

    assert copy == original
    assert copy is not original


def test_mutating_a_deep_copy_leaves_the_original_unchanged() -> None:
    original = _holder()
    copy = original.deep_copy_resource()

    copy.items[1].append("extra")
    copy.mapping["p"].x = 99
    copy.child.y = -1

    assert original == _holder()


def test_set_from_makes_the_resource_equal_to_the_other() -> None:
    target = Point(0, 0)

    target.set_from(Point(5, 6))

    assert target == Point(5, 6)


def test_set_from_copies_so_later_changes_to_the_source_do_not_leak() -> None:
    target = Box(None)
    source = Box([1, 2])

    target.set_from(source)
    source.value.append(3)

    assert target == Box([1, 2])


def test_set_from_a_resource_of_another_type_raises_type_error() -> None:
    with pytest.raises(TypeError, match="Point"):
        Point(0, 0).set_from(Box(1))


# --- a ResourceBase implementation (tutorial In [3]) ---------------------------------


def test_resource_base_subclass_to_resource_dict_holds_its_fields() -> None:
    resource_dict = MyIntResource(5).to_resource_dict()

    assert resource_dict == {"value": 5}
    assert resource_dict.type is MyIntResource


def test_resource_base_subclass_round_trips_through_its_resource_dict() -> None:
    rebuilt = MyIntResource(5).to_resource_dict().to_resource()

    assert type(rebuilt) is MyIntResource
    assert rebuilt == 5


def test_resource_base_subclass_round_trips_through_json() -> None:
    serializer = er.JsonSerializer()

    data = serializer.serialize(MyIntResource(5).to_resource_dict())

    assert serializer.deserialize(data).to_resource() == MyIntResource(5)


def test_resource_base_subclass_field_items_pair_names_with_values() -> None:
    assert list(MyIntResource(5).field_items()) == [("value", 5)]


def test_resource_base_subclass_deep_copy_is_equal() -> None:
    assert MyIntResource(5).deep_copy_resource() == MyIntResource(5)


# --- built-in value resources -------------------------------------------------------

BUILTIN_VALUES = [
    pytest.param(er.Str, "text", id="Str"),
    pytest.param(er.Int, 2**80, id="Int"),
    pytest.param(er.Float, 1.25, id="Float"),
    pytest.param(er.Bytes, b"\x00raw", id="Bytes"),
]


@pytest.mark.parametrize(("resource_type", "value"), BUILTIN_VALUES)
def test_builtin_value_resource_behaves_as_its_python_type(resource_type, value) -> None:
    resource = resource_type(value)

    assert isinstance(resource, type(value))
    assert isinstance(resource, er.ResourceBase)
    assert resource == value
    assert hash(resource) == hash(value)


@pytest.mark.parametrize(("resource_type", "value"), BUILTIN_VALUES)
def test_builtin_value_resource_has_one_field_named_value(resource_type, value) -> None:
    assert list(resource_type(value).field_items()) == [("value", value)]


@pytest.mark.parametrize(("resource_type", "value"), BUILTIN_VALUES)
def test_builtin_value_resource_dict_holds_the_plain_value(resource_type, value) -> None:
    field = resource_type(value).to_resource_dict()["value"]

    assert type(field) is type(value)
    assert field == value


@pytest.mark.parametrize(("resource_type", "value"), BUILTIN_VALUES)
@pytest.mark.parametrize("compact", [False, True])
def test_builtin_value_resource_round_trips_through_json(resource_type, value, compact) -> None:
    serializer = er.JsonSerializer(compact=compact)

    data = serializer.serialize(resource_type(value).to_resource_dict())
    back = serializer.deserialize(data).to_resource()

    assert type(back) is resource_type
    assert back == value


def test_str_resource_supports_str_methods() -> None:
    assert er.Str("Hello").upper() + "!" == "HELLO!"


def test_float_resource_holding_nan_round_trips_through_json() -> None:
    serializer = er.JsonSerializer()

    back = serializer.deserialize(serializer.serialize(er.Float("nan").to_resource_dict()))

    assert math.isnan(back.to_resource())


def test_none_resource_has_no_fields() -> None:
    assert list(er.NoneResource.field_names()) == []
    assert er.NoneResource().to_resource_dict() == {}


def test_none_resources_are_equal() -> None:
    assert er.NoneResource() == er.NoneResource()


def test_none_resource_round_trips_through_json() -> None:
    serializer = er.JsonSerializer()

    back = serializer.deserialize(serializer.serialize(er.NoneResource().to_resource_dict()))

    assert back.to_resource() == er.NoneResource()


# --- illegal field values -----------------------------------------------------------


def test_unsupported_value_raises_field_type_error_in_the_tutorial_format() -> None:
    class NotAResource:
        pass

    value = NotAResource()

    with pytest.raises(er.FieldTypeError) as raised:
        Box(value).to_resource_dict()

    assert str(raised.value) == f"Encountered unsupported field type {type(value)}: {value!r}"
    assert re.fullmatch(
        r"Encountered unsupported field type <class '[\w.<>]+\.NotAResource'>: "
        r"<[\w.<>]+\.NotAResource object at 0x[0-9a-f]+>",
        str(raised.value),
    )


def test_field_type_error_is_a_type_error_and_enact_error() -> None:
    assert issubclass(er.FieldTypeError, TypeError)
    assert issubclass(er.FieldTypeError, er.EnactError)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({1, 2}, id="set"),
        pytest.param(frozenset(), id="frozenset"),
        pytest.param(bytearray(b"x"), id="bytearray"),
        pytest.param(1j, id="complex"),
        pytest.param(int, id="non-resource-class"),
        pytest.param(print, id="function"),
        pytest.param([1, object()], id="nested-in-list"),
    ],
)
def test_illegal_value_raises_field_type_error(value: object) -> None:
    with pytest.raises(er.FieldTypeError, match="unsupported field type"):
        Box(value).to_resource_dict()


@pytest.mark.parametrize(
    "key",
    [pytest.param(1, id="int"), pytest.param(None, id="none"), pytest.param(b"k", id="bytes")],
)
def test_mapping_with_non_str_key_raises_field_type_error(key: object) -> None:
    with pytest.raises(er.FieldTypeError, match="mapping key"):
        Box({key: 1}).to_resource_dict()


def test_list_containing_itself_raises_field_type_error() -> None:
    cyclic: list = [1]
    cyclic.append(cyclic)

    with pytest.raises(er.FieldTypeError, match="cycle"):
        Box(cyclic).to_resource_dict()


def test_dict_containing_itself_raises_field_type_error() -> None:
    cyclic: dict = {}
    cyclic["self"] = [cyclic]

    with pytest.raises(er.FieldTypeError, match="cycle"):
        Box(cyclic).to_resource_dict()


def test_resource_containing_itself_raises_field_type_error() -> None:
    box = Box(None)
    box.value = {"me": box}

    with pytest.raises(er.FieldTypeError, match="cycle"):
        box.to_resource_dict()


def test_same_list_appearing_twice_is_converted_twice() -> None:
    shared = [1, 2]

    assert Box([shared, shared]).to_resource_dict() == {"value": [[1, 2], [1, 2]]}
