"""Human input: request_input, RequestInput and continue_invocation (SPEC §5)."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator

import pytest

import enact

RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    with enact.Store() as active:
        yield active


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class InpConcat(enact.Invokable):
    """Tutorial In [16]: asks twice, the second time about the first answer."""

    def call(self) -> enact.Str:
        RUNS["concat"] += 1
        first = enact.request_input(enact.Str, context="Please provide input")
        second = enact.request_input(
            enact.Str,
            for_resource=first,
            context="Please provide a string to append to the previous input",
        )
        return enact.Str(first + second)


@enact.typed_invokable(enact.Str, enact.Int)
@dataclasses.dataclass
class InpAskNumber(enact.Invokable):
    """Asks through the RequestInput invokable directly."""

    def call(self, question: enact.Str) -> enact.Int:
        RUNS["ask_number"] += 1
        answer = enact.RequestInput(enact.Int, context=str(question))(question)
        return enact.Int(answer * 2)


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class InpNoRequestedType(enact.Invokable):
    def call(self) -> enact.Str:
        return enact.RequestInput()()


def test_request_input_records_an_input_request(store: enact.Store) -> None:
    invocation = InpConcat().invoke()
    raised = invocation.get_raised()
    assert type(raised) is enact.InputRequest
    assert raised.requested_type is enact.Str
    assert raised.context == "Please provide input"
    assert isinstance(raised.input(), enact.NoneResource)
    assert raised.invokable() == enact.RequestInput(enact.Str, "Please provide input")
    (child,) = invocation.get_children()
    assert child.get_raised_here() is True
    assert invocation.get_raised_here() is False


def test_continue_invocation_chained_twice_completes(store: enact.Store) -> None:
    invocation = InpConcat().invoke()
    invocation = invocation.get_raised().continue_invocation(invocation, enact.Str("Hello "))

    second = invocation.get_raised()
    assert isinstance(second, enact.InputRequest)
    assert second.context == "Please provide a string to append to the previous input"
    assert second.input() == "Hello "

    invocation = second.continue_invocation(invocation, enact.Str("World"))

    assert invocation.successful()
    assert invocation.get_output() == "Hello World"
    assert [child.get_output() for child in invocation.get_children()] == ["Hello ", "World"]
    assert RUNS["concat"] == 3


def test_continue_invocation_rejects_an_answer_of_the_wrong_type(store: enact.Store) -> None:
    invocation = InpConcat().invoke()
    with pytest.raises(enact.InvokableTypeError):
        invocation.get_raised().continue_invocation(invocation, enact.Int(3))


def test_request_input_invokable_is_answered_by_continue_invocation(store: enact.Store) -> None:
    invocation = InpAskNumber().invoke(enact.Str("How many?"))
    raised = invocation.get_raised()
    assert isinstance(raised, enact.InputRequest)
    assert raised.requested_type is enact.Int
    assert raised.context == "How many?"
    assert raised.input() == "How many?"

    answered = raised.continue_invocation(invocation, enact.Int(21))

    assert answered.get_output() == 42


def test_request_input_outside_invocation_raises() -> None:
    with pytest.raises(enact.InputRequestOutsideInvocation):
        enact.request_input(enact.Str, context="nobody is asking")


def test_request_input_invokable_outside_invocation_raises() -> None:
    with pytest.raises(enact.InputRequestOutsideInvocation):
        enact.RequestInput(enact.Str, "nobody is asking")()


def test_request_input_outside_invocation_inside_a_store_raises(store: enact.Store) -> None:
    with pytest.raises(enact.InputRequestOutsideInvocation):
        enact.request_input(enact.Str)


def test_request_input_without_requested_type_is_an_invocation_error(
    store: enact.Store,
) -> None:
    with pytest.raises(enact.RequestedTypeUndetermined):
        InpNoRequestedType().invoke()


def test_input_required_is_input_request() -> None:
    assert enact.InputRequired is enact.InputRequest
    assert issubclass(enact.InputRequest, enact.ExceptionResource)
