"""Compact mode abbreviates type ids (#r); every serializer reads both forms."""

import dataclasses
import json

import pytest

import enact_resource as er

COMPACT = er.JsonSerializer(compact=True)
CANONICAL = er.JsonSerializer()


@er.register
@dataclasses.dataclass
class Point(er.Resource):
    x: int
    y: int


@er.register
@dataclasses.dataclass
class Holder(er.Resource):
    inner: object


def _define_point_with_fields(*names: str) -> type[er.Resource]:
    """A type named like Point, whose field names differ (another version of it)."""
    namespace: dict = {"er": er, "dataclasses": dataclasses}
    fields = "".join(f"    {name}: int\n" for name in names)
    exec(f"@dataclasses.dataclass\nclass Point(er.Resource):\n{fields}", namespace)
    cls = namespace["Point"]
    cls.__module__ = Point.__module__
    return er.register(cls)


def test_compact_output_names_a_dataclass_type_by_name_and_16_digest_digits() -> None:
    tree = json.loads(COMPACT.serialize(Point(1, 2).to_resource_dict()))
    full = json.loads(Point.type_id())

    assert tree == {"#r": [full["name"], full["digest"][:16]], "x": 1, "y": 2}


def test_compact_output_names_a_type_without_fields_digest_by_name() -> None:
    tree = json.loads(COMPACT.serialize(Holder(er.Int(5)).to_resource_dict()))

    assert tree["inner"] == {"#r": "enact.resource_types.Int", "value": 5}


def test_compact_output_is_at_most_half_the_canonical_size_of_a_small_record() -> None:
    data = Point(1, 2).to_resource_dict()

    assert len(COMPACT.serialize(data)) * 2 <= len(CANONICAL.serialize(data))


def test_canonical_output_keeps_full_type_ids() -> None:
    tree = json.loads(CANONICAL.serialize(Holder(Point(1, 2)).to_resource_dict()))

    assert tree["#res"] == Holder.type_id()
    assert tree["inner"]["#res"] == Point.type_id()


@pytest.mark.parametrize("writer", [COMPACT, CANONICAL], ids=["compact", "canonical"])
@pytest.mark.parametrize("reader", [COMPACT, CANONICAL], ids=["compact", "canonical"])
def test_either_form_reads_back_with_either_serializer(
    writer: er.JsonSerializer, reader: er.JsonSerializer
) -> None:
    resource = Holder([Point(1, 2), er.Str("s"), {"k": Point(3, 4)}])

    back = reader.deserialize(writer.serialize(resource.to_resource_dict()))

    assert back.to_resource() == resource
    assert er.digest(back) == er.digest(resource)


def test_two_versions_of_a_type_name_read_back_as_their_own_versions() -> None:
    old = _define_point_with_fields("a")
    old_data = COMPACT.serialize(old(a=1).to_resource_dict())
    new = _define_point_with_fields("b")
    new_data = COMPACT.serialize(new(b=2).to_resource_dict())

    assert json.loads(old_data)["#r"][0] == json.loads(new_data)["#r"][0]
    assert type(COMPACT.deserialize(old_data).to_resource()) is old
    assert type(COMPACT.deserialize(new_data).to_resource()) is new


def test_a_redefined_class_wins_for_abbreviated_reads_too() -> None:
    first = _define_point_with_fields("c")
    data = COMPACT.serialize(first(c=1).to_resource_dict())
    assert type(COMPACT.deserialize(data).to_resource()) is first

    second = _define_point_with_fields("c")

    assert type(COMPACT.deserialize(data).to_resource()) is second


def test_an_unregistered_abbreviated_type_raises_type_not_registered_naming_it() -> None:
    data = b'{"#r":["somewhere.Unknown","0123456789abcdef"],"x":1}'

    with pytest.raises(er.TypeNotRegisteredError, match=r"somewhere\.Unknown"):
        COMPACT.deserialize(data)


@pytest.mark.parametrize(
    "value", ["5", "null", '["a"]', '["a", "b", "c"]', '[1, "b"]', '{"name": "x"}']
)
def test_a_malformed_abbreviated_type_raises_deserialization_error(value: str) -> None:
    data = ('{"#r":' + value + ',"x":1}').encode()

    with pytest.raises(er.DeserializationError, match="#r"):
        COMPACT.deserialize(data)


def test_a_type_with_a_nonstandard_type_id_is_written_in_full() -> None:
    @er.register
    @dataclasses.dataclass
    class Custom(er.Resource):
        value: int

        @classmethod
        def _describe_type(cls) -> tuple[str, tuple[str, ...]]:
            return '{"custom": "id"}', ("value",)

    tree = json.loads(COMPACT.serialize(Custom(1).to_resource_dict()))

    assert tree["#res"] == '{"custom": "id"}'
    assert COMPACT.deserialize(COMPACT.serialize(Custom(1).to_resource_dict())).type is Custom
