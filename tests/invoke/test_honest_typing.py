"""Calls with plain values build the input only when the values fit exactly (issue 15)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import enact


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class HonestEcho(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        return text


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class HonestDouble(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Int:
        return enact.Int(n * 2)


@enact.typed_invokable(enact.Float, enact.Float)
@dataclasses.dataclass
class HonestHalf(enact.Invokable):
    def call(self, x: enact.Float) -> enact.Float:
        return enact.Float(x / 2)


@enact.typed_invokable(enact.Bytes, enact.Int)
@dataclasses.dataclass
class HonestLength(enact.Invokable):
    def call(self, data: enact.Bytes) -> enact.Int:
        return enact.Int(len(data))


@enact.register
@dataclasses.dataclass
class HonestArgs(enact.Resource):
    count: int
    label: str = "x"


@enact.typed_invokable(HonestArgs, enact.Str)
@dataclasses.dataclass
class HonestRepeat(enact.Invokable):
    def call(self, args: HonestArgs) -> enact.Str:
        return enact.Str(args.label * args.count)


@pytest.mark.parametrize(
    ("invokable", "value", "message"),
    [
        (HonestEcho(), None, "field 'value' must be str: got NoneType: None"),
        (HonestEcho(), [1, 2], "field 'value' must be str: got list: [1, 2]"),
        (HonestEcho(), 3, "field 'value' must be str: got int: 3"),
        (HonestDouble(), 3.9, "field 'value' must be int (not bool): got float: 3.9"),
        (HonestDouble(), True, "field 'value' must be int (not bool): got bool: True"),
        (HonestDouble(), "3", "field 'value' must be int (not bool): got str: '3'"),
        (HonestHalf(), "1.5", "field 'value' must be float or int: got str: '1.5'"),
        (HonestHalf(), False, "field 'value' must be float or int: got bool: False"),
        (HonestLength(), "abc", "field 'value' must be bytes: got str: 'abc'"),
    ],
)
def test_a_plain_value_that_does_not_fit_a_value_input_raises(
    invokable: enact.Invokable[Any, Any], value: Any, message: str
) -> None:
    with pytest.raises(enact.InvokableTypeError) as raised:
        invokable(value)
    assert message in str(raised.value)


def test_values_that_fit_are_accepted() -> None:
    assert HonestEcho()("hi") == "hi"
    assert HonestEcho()(value="hi") == "hi"
    assert HonestDouble()(3) == 6
    assert HonestHalf()(3) == 1.5  # An int is a float.
    assert HonestLength()(b"abc") == 3
    assert HonestRepeat()(2, "ab") == "abab"
    assert HonestRepeat()(count=1) == "x"


def test_a_plain_value_that_does_not_fit_a_dataclass_input_field_raises_naming_it() -> None:
    with pytest.raises(enact.InvokableTypeError) as raised:
        HonestRepeat()("2")
    assert "Field 'count' of HonestArgs must be int (its annotation), got str: '2'" in str(
        raised.value
    )
    with pytest.raises(enact.InvokableTypeError, match="Field 'label' of HonestArgs must be str"):
        HonestRepeat()(2, label=None)


def test_inside_a_tracked_call_the_mistake_is_raised_to_the_caller_and_recorded() -> None:
    @enact.typed_invokable(enact.NoneResource, enact.Str)
    @dataclasses.dataclass
    class CallsWithNone(enact.Invokable):
        def call(self) -> enact.Str:
            return HonestEcho()(None)

    with enact.Store():
        with pytest.raises(enact.InvokableTypeError, match="must be str"):
            CallsWithNone().invoke()
        invocation = CallsWithNone().invoke(raise_on_invocation_error=False)
        assert invocation.get_children() == []
        assert "must be str" in str(invocation.get_raised())
