"""Calling invokables directly: inputs, outputs and their type checks (SPEC §5)."""

from __future__ import annotations

import dataclasses

import pytest

import enact


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class CallGreeter(enact.Invokable):
    greeting: str = "Hello"

    def call(self, name: enact.Str) -> enact.Str:
        return enact.Str(f"{self.greeting} {name}!")


@enact.register
@dataclasses.dataclass
class CallPoint(enact.Resource):
    x: int
    y: int


@enact.typed_invokable(CallPoint, enact.Int)
@dataclasses.dataclass
class CallPointSum(enact.Invokable):
    def call(self, point: CallPoint) -> enact.Int:
        return enact.Int(point.x + point.y)


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class CallNoParameter(enact.Invokable):
    def call(self) -> enact.Str:
        return enact.Str("no input")


@enact.typed_invokable(enact.Str, enact.NoneResource)
@dataclasses.dataclass
class CallReturnsNone(enact.Invokable):
    def call(self, name: enact.Str) -> None:
        return None


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class CallReturnsInt(enact.Invokable):
    def call(self, name: enact.Str) -> enact.Int:
        return enact.Int(len(name))


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class CallReturnsPlainStr(enact.Invokable):
    def call(self, name: enact.Str) -> str:
        return f"plain {name}"


def test_raw_argument_is_built_into_the_input_type() -> None:
    output = CallGreeter()("World")
    assert output == "Hello World!"
    assert type(output) is enact.Str


def test_raw_arguments_are_passed_to_the_input_constructor() -> None:
    assert CallPointSum()(2, 3) == 5
    assert CallPointSum()(x=2, y=5) == 7


def test_resource_argument_is_used_as_the_input() -> None:
    assert CallPointSum()(CallPoint(1, 2)) == 3


def test_call_without_parameter_is_allowed_for_none_input() -> None:
    assert CallNoParameter()() == "no input"
    assert CallNoParameter()(enact.NoneResource()) == "no input"


def test_returning_none_means_none_resource() -> None:
    output = CallReturnsNone()("x")
    assert isinstance(output, enact.NoneResource)


def test_wrong_input_type_raises_invokable_type_error() -> None:
    with pytest.raises(enact.InvokableTypeError):
        CallGreeter()(enact.Int(3))


def test_unbuildable_raw_arguments_raise_invokable_type_error() -> None:
    with pytest.raises(enact.InvokableTypeError):
        CallPointSum()(1, 2, 3)


def test_wrong_output_type_raises_invokable_type_error() -> None:
    with pytest.raises(enact.InvokableTypeError):
        CallReturnsInt()("abc")


def test_non_resource_return_value_raises_invokable_type_error() -> None:
    with pytest.raises(enact.InvokableTypeError, match="not a resource"):
        CallReturnsPlainStr()("abc")


def test_invokable_type_error_is_a_type_error() -> None:
    assert issubclass(enact.InvokableTypeError, TypeError)
    assert issubclass(enact.InvokableTypeError, enact.InvocationError)
    with pytest.raises(TypeError):
        CallReturnsInt()("abc")


def test_call_outside_invocation_needs_no_store() -> None:
    with pytest.raises(enact.NoActiveStoreError):
        enact.Store.current()
    assert CallGreeter("Hi")("you") == "Hi you!"


def test_invoke_without_active_store_raises_a_clear_error() -> None:
    with pytest.raises(enact.NoActiveStoreError, match=r"with enact\.Store"):
        CallGreeter().invoke(enact.Str("World"))


def test_typed_invokable_registers_the_class() -> None:
    assert enact.Registry.get().lookup(CallGreeter.type_id()) is CallGreeter


def test_typed_invokable_rejects_non_resource_types() -> None:
    with pytest.raises(TypeError):
        enact.typed_invokable(str, enact.Str)  # type: ignore[arg-type]
