"""Exception resources have the type ids of SPEC 3.1, and old records of them still read."""

from __future__ import annotations

import dataclasses
import json

import pytest

import enact

PLAIN = [
    enact.ExceptionResource,
    enact.WrappedException,
    enact.InvocationError,
    enact.InvokableTypeError,
    enact.InputChanged,
    enact.ReplayError,
    enact.InputRequestOutsideInvocation,
    enact.RequestedTypeUndetermined,
    # Issue 13: recorded for calls left unfinished or cancelled (names forever).
    enact.IncompleteSubinvocationError,
    enact.InvocationCancelled,
    # Issue 14: durable runs (names forever).
    enact.RunConflict,
    enact.RunInProgress,
    enact.RunOwnershipLost,
]


@pytest.mark.parametrize("cls", PLAIN, ids=lambda cls: cls.__name__)
def test_plain_exception_resources_have_a_name_only_type_id(cls: type) -> None:
    assert cls.type_id() == json.dumps({"name": f"enact.invocations.{cls.__name__}"})


def test_a_users_plain_exception_resource_has_a_name_only_type_id() -> None:
    @enact.register
    class Oops(enact.ExceptionResource):
        pass

    assert json.loads(Oops.type_id()) == {"name": Oops.type_name()}
    assert list(Oops("a", 1).field_items()) == [("args", ["a", 1])]


def test_an_exception_resource_with_dataclass_fields_keeps_its_fields_digest() -> None:
    @enact.register
    @dataclasses.dataclass
    class Detailed(enact.ExceptionResource):
        code: int

    assert set(json.loads(Detailed.type_id())) == {"digest", "name"}
    assert set(json.loads(enact.InputRequest.type_id())) == {"digest", "name"}
