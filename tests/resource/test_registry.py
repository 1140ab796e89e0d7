"""The registry (SPEC 3.3): type id -> class, and nothing else resolves types."""

import dataclasses
import json
import sys

import pytest

import enact
import enact_resource as er


def test_registry_get_returns_the_same_process_registry_every_time() -> None:
    assert er.Registry.get() is er.Registry.get()


def test_register_returns_the_class_itself() -> None:
    @dataclasses.dataclass
    class Returned(er.Resource):
        x: int

    assert er.register(Returned) is Returned


def test_registered_class_is_found_by_its_type_id() -> None:
    @er.register
    @dataclasses.dataclass
    class Findable(er.Resource):
        x: int

    assert er.Registry.get().lookup(Findable.type_id()) is Findable


def test_enact_register_and_registry_are_the_resource_package_ones() -> None:
    @enact.register
    @dataclasses.dataclass
    class ViaEnact(enact.Resource):
        x: int

    assert er.Registry.get().lookup(ViaEnact.type_id()) is ViaEnact


@pytest.mark.parametrize("resource_type", [er.Str, er.Int, er.Float, er.Bytes, er.NoneResource])
def test_builtin_value_types_are_registered(resource_type: type[er.ResourceBase]) -> None:
    assert er.Registry.get().lookup(resource_type.type_id()) is resource_type


def test_lookup_of_unknown_type_id_raises_type_not_registered_error() -> None:
    type_id = json.dumps({"name": "nowhere.Unknown"})

    with pytest.raises(er.TypeNotRegisteredError):
        er.Registry.get().lookup(type_id)


def test_type_not_registered_error_is_a_deserialization_and_lookup_error() -> None:
    assert issubclass(er.TypeNotRegisteredError, er.DeserializationError)
    assert issubclass(er.TypeNotRegisteredError, LookupError)


def test_type_not_registered_message_names_type_id_and_says_to_register() -> None:
    type_id = json.dumps({"name": "nowhere.Unknown"})

    with pytest.raises(er.TypeNotRegisteredError) as raised:
        er.Registry.get().lookup(type_id)

    message = str(raised.value)
    assert type_id in message
    assert "register" in message
    assert "import" in message


def test_unregistered_class_is_not_found_by_its_type_id() -> None:
    @dataclasses.dataclass
    class NeverRegistered(er.Resource):
        x: int

    with pytest.raises(er.TypeNotRegisteredError):
        er.Registry.get().lookup(NeverRegistered.type_id())


def test_lookup_never_imports_the_module_named_in_the_type_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "tabnanny", raising=False)
    type_id = json.dumps({"name": "tabnanny.NannyNag"})

    with pytest.raises(er.TypeNotRegisteredError):
        er.Registry.get().lookup(type_id)

    assert "tabnanny" not in sys.modules


def test_a_fresh_registry_does_not_know_the_process_registry_classes() -> None:
    @er.register
    @dataclasses.dataclass
    class ProcessOnly(er.Resource):
        x: int

    with pytest.raises(er.TypeNotRegisteredError):
        er.Registry().lookup(ProcessOnly.type_id())


def test_registering_a_non_resource_raises_type_error() -> None:
    class NotAResource:
        pass

    with pytest.raises(TypeError, match="NotAResource"):
        er.register(NotAResource)


def _define_registered_above() -> type[er.Resource]:
    @er.register
    @dataclasses.dataclass
    class RedefinedAbove(er.Resource):
        x: int

    return RedefinedAbove


def _define_registered_below() -> type[er.Resource]:
    @dataclasses.dataclass
    @er.register
    class RedefinedBelow(er.Resource):
        x: int

    return RedefinedBelow


def test_redefining_a_class_registered_above_dataclass_replaces_the_earlier_one() -> None:
    first = _define_registered_above()
    er.Registry.get().lookup(first.type_id())
    second = _define_registered_above()

    assert second.type_id() == first.type_id()
    assert er.Registry.get().lookup(second.type_id()) is second


def test_redefining_a_class_registered_below_dataclass_replaces_the_earlier_one() -> None:
    # Re-running a notebook cell that defines a class with @register under @dataclass.
    first = _define_registered_below()
    er.Registry.get().lookup(first.type_id())
    second = _define_registered_below()

    assert second.type_id() == first.type_id()
    assert er.Registry.get().lookup(second.type_id()) is second


def test_deserialized_resource_of_redefined_class_has_the_new_class() -> None:
    first = _define_registered_below()
    er.Registry.get().lookup(first.type_id())
    second = _define_registered_below()
    data = er.JsonSerializer().serialize(second(x=1).to_resource_dict())

    assert type(er.JsonSerializer().deserialize(data).to_resource()) is second
