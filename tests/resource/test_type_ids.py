"""Type ids (SPEC 3.1): the exact JSON text that names a resource type."""

import dataclasses
import hashlib
import json

import pytest

import enact_resource as er

# Pinned by the tutorial (In [1]).
MY_RESOURCE_TYPE_ID = (
    '{"digest": "a46cd7bf341ef134fe8fd7e97e564f0f84425c747c3c55850cd599f1249b97f5", '
    '"name": "__main__.MyResource"}'
)

MY_RESOURCE_SOURCE = """
import dataclasses

import enact


@dataclasses.dataclass
class MyResource(enact.Resource):
    my_field: str
    my_other_field: int
"""


def _run_as_main(source: str) -> dict:
    """Executes source as if it were the __main__ module; returns its namespace."""
    namespace: dict = {"__name__": "__main__"}
    exec(source, namespace)
    return namespace


def _thing(fields: list[str]) -> type[er.Resource]:
    """A dataclass resource named `Thing` (always the same module and qualname)."""
    return dataclasses.make_dataclass(
        "Thing", [(name, int) for name in fields], bases=(er.Resource,)
    )


# --- pinned figures ------------------------------------------------------------


def test_tutorial_resource_type_id_is_the_pinned_text() -> None:
    my_resource = _run_as_main(MY_RESOURCE_SOURCE)["MyResource"]

    assert my_resource.type_id() == MY_RESOURCE_TYPE_ID


@pytest.mark.parametrize(
    ("resource_type", "name"),
    [
        (er.Str, "enact.resource_types.Str"),
        (er.Int, "enact.resource_types.Int"),
        (er.Float, "enact.resource_types.Float"),
        (er.Bytes, "enact.resource_types.Bytes"),
        (er.NoneResource, "enact.interfaces.NoneResource"),
    ],
)
def test_builtin_value_types_carry_the_original_enact_names(
    resource_type: type[er.ResourceBase], name: str
) -> None:
    assert resource_type.type_id() == '{"name": "' + name + '"}'


# --- format --------------------------------------------------------------------


def test_dataclass_type_id_is_json_with_sorted_keys_and_spaced_separators() -> None:
    thing = _thing(["a", "b"])
    type_id = thing.type_id()

    descriptor = json.loads(type_id)

    assert sorted(descriptor) == ["digest", "name"]
    assert json.dumps(descriptor, sort_keys=True, separators=(", ", ": ")) == type_id


def test_dataclass_type_id_digest_is_sha256_of_name_then_field_name_reprs() -> None:
    thing = _thing(["zeta", "alpha"])
    name = f"{thing.__module__}.{thing.__qualname__}"

    expected = hashlib.sha256((name + repr("zeta") + repr("alpha")).encode()).hexdigest()

    assert json.loads(thing.type_id()) == {"digest": expected, "name": name}


def test_type_id_name_is_module_and_qualname_of_nested_class() -> None:
    class Outer:
        @dataclasses.dataclass
        class Inner(er.Resource):
            x: int

    name = json.loads(Outer.Inner.type_id())["name"]

    assert name == f"{Outer.Inner.__module__}.{Outer.Inner.__qualname__}"
    assert name.endswith(".Outer.Inner")


def test_non_dataclass_resource_type_id_holds_only_its_name() -> None:
    class Plain(er.ResourceBase, int):
        @classmethod
        def field_names(cls):
            return ("value",)

        def field_values(self):
            return (int(self),)

        @classmethod
        def from_fields(cls, field_dict):
            return cls(field_dict["value"])

    assert Plain.type_id() == json.dumps({"name": f"{Plain.__module__}.{Plain.__qualname__}"})


def test_subclass_of_builtin_value_type_is_named_after_itself() -> None:
    class MyStr(er.Str):
        pass

    assert json.loads(MyStr.type_id()) == {"name": f"{MyStr.__module__}.{MyStr.__qualname__}"}


# --- what the type id depends on -----------------------------------------------


def test_classes_with_same_name_and_fields_share_a_type_id() -> None:
    assert _thing(["a", "b"]).type_id() == _thing(["a", "b"]).type_id()


def test_adding_a_field_changes_the_type_id() -> None:
    assert _thing(["a"]).type_id() != _thing(["a", "b"]).type_id()


def test_renaming_a_field_changes_the_type_id() -> None:
    assert _thing(["a", "b"]).type_id() != _thing(["a", "c"]).type_id()


def test_reordering_fields_changes_the_type_id() -> None:
    assert _thing(["a", "b"]).type_id() != _thing(["b", "a"]).type_id()


def test_inherited_dataclass_fields_come_first_in_field_names() -> None:
    @dataclasses.dataclass
    class Base(er.Resource):
        base_field: int

    @dataclasses.dataclass
    class Derived(Base):
        own_field: int

    assert Derived.field_names() == ("base_field", "own_field")
    assert Derived.type_id() != Base.type_id()


# --- decorator order (final fields) ----------------------------------------------


def _decorated(order: str) -> type[er.Resource]:
    """The same class (one qualname) with @register above, below or absent."""
    if order == "above":

        @er.register
        @dataclasses.dataclass
        class Decorated(er.Resource):
            first: int
            second: str

    elif order == "below":

        @dataclasses.dataclass
        @er.register
        class Decorated(er.Resource):
            first: int
            second: str

    else:

        @dataclasses.dataclass
        class Decorated(er.Resource):
            first: int
            second: str

    return Decorated


@pytest.mark.parametrize("order", ["above", "below"])
def test_registered_class_type_id_reflects_final_fields_whatever_decorator_order(
    order: str,
) -> None:
    registered = _decorated(order)
    unregistered = _decorated("none")

    assert registered.field_names() == ("first", "second")
    assert registered.type_id() == unregistered.type_id()


def test_registry_finds_class_registered_above_dataclass_by_final_type_id() -> None:
    @er.register
    @dataclasses.dataclass
    class RegisteredAbove(er.Resource):
        first: int
        second: str

    assert er.Registry.get().lookup(RegisteredAbove.type_id()) is RegisteredAbove


def test_registry_finds_class_registered_below_dataclass_by_final_type_id() -> None:
    @dataclasses.dataclass
    @er.register
    class RegisteredBelow(er.Resource):
        first: int
        second: str

    assert er.Registry.get().lookup(RegisteredBelow.type_id()) is RegisteredBelow


def test_type_id_asked_before_dataclass_runs_is_recomputed_from_final_fields() -> None:
    seen = []

    def remember_type_id(cls):
        seen.append(cls.type_id())
        return cls

    @dataclasses.dataclass
    @remember_type_id
    class Late(er.Resource):
        x: int

    name = f"{Late.__module__}.{Late.__qualname__}"
    final_digest = hashlib.sha256((name + repr("x")).encode()).hexdigest()

    assert Late.type_id() != seen[0]
    assert json.loads(Late.type_id()) == {"digest": final_digest, "name": name}
