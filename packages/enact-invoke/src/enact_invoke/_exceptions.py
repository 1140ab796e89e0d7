"""Errors of enact-invoke, and exceptions that are resources so invocations can record them.

The tree (``EnactError`` is the root shared by every enact package; the
whole API's tree is drawn in the enact package's errors module and README)::

    EnactError
    └── InvokeError                         misuse or failure of enact-invoke
        ├── InvocationError (ExceptionResource)
        │   │                               misuse of the invocation machinery; raised
        │   │                               by invoke() when raise_on_invocation_error
        │   ├── InvokableTypeError (TypeError)  wrong input, output or argument type
        │   ├── InputChanged                the call mutated its input
        │   ├── ReplayError                 a replayed call does not match the record
        │   ├── InputRequestOutsideInvocation  request_input() outside any invocation
        │   └── RequestedTypeUndetermined   RequestInput without a requested type
        └── NoOutputError (LookupError)     get_output() on an invocation without output

    Exception
    └── ExceptionResource (a Resource)      recorded as itself in an invocation
        ├── WrappedException                any other exception, as traceback text
        ├── InputRequest (alias InputRequired)
        │                                   a request for human input, answered with
        │                                   InputRequest.continue_invocation
        └── InvocationError                 (above)

``ExceptionResource`` is the base of the user's own recorded exceptions and
``InputRequest`` is how a program pauses, not a failure: neither is an
``EnactError``, so an ``except EnactError`` around a child call never
swallows a request for input. The invocation errors are resources too, so a
call that raised one records it; being an ``EnactError`` adds no field, so
their type ids and digests are those they always had.

An ``ExceptionResource`` subclass without dataclass fields of its own takes
positional arguments like any exception and records them as its one field,
``args``; a dataclass subclass records its dataclass fields.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from enact_resource import (
    EnactError,
    FieldValue,
    Resource,
    ResourceBase,
    register,
    set_type_name,
    type_info,
)

__all__ = [
    "ExceptionResource",
    "InputChanged",
    "InvocationError",
    "InvokableTypeError",
    "InvokeError",
    "NoOutputError",
    "ReplayError",
    "WrappedException",
]

E = TypeVar("E", bound="ExceptionResource")

_ARGS = ("args",)


class ExceptionResource(Resource, Exception):
    """An exception that is also a resource; invocations record it as itself.

    ``MyError('message')`` works like any exception (its ``args`` are its one
    field); ``@dataclass`` subclasses have their fields instead.
    """

    def __init__(self, *args: Any) -> None:
        Exception.__init__(self, *args)

    @classmethod
    def _is_plain(cls) -> bool:
        # _describe_type returns the _ARGS tuple itself for plain classes.
        return type_info(cls).field_names is _ARGS

    @classmethod
    def _describe_type(cls) -> tuple[str, tuple[str, ...]]:
        if not dataclasses.fields(cls):
            # No dataclass fields: the exception's args are its one field, and
            # the type id is the name alone (SPEC 3.1), as in the original
            # format. (Releases before 0.2 added a fields digest; their
            # records are read as stored types and upgraded to the class.)
            return json.dumps({"name": cls.type_name()}, sort_keys=True), _ARGS
        return super()._describe_type()

    def field_values(self) -> tuple[FieldValue, ...]:
        if self._is_plain():
            return (list(self.args),)
        return super().field_values()

    @classmethod
    def from_fields(cls: type[E], field_dict: Mapping[str, FieldValue]) -> E:
        if cls._is_plain():
            args = field_dict["args"]
            return cls(*args)
        return cls(**field_dict)

    def set_from(self, other: ResourceBase) -> None:
        if self._is_plain():
            if type(other) is not type(self):
                raise TypeError(
                    f"set_from expects a {type(self).__qualname__}, got {type(other).__qualname__}"
                )
            assert isinstance(other, ExceptionResource)
            self.args = tuple(other.deep_copy_resource().args)
            return
        super().set_from(other)

    def __repr__(self) -> str:
        if self._is_plain():
            return Exception.__repr__(self)
        return Resource.__repr__(self)

    def __str__(self) -> str:
        if self._is_plain():
            return Exception.__str__(self)
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ExceptionResource)
        return tuple(self.field_values()) == tuple(other.field_values())

    def __hash__(self) -> int:
        return hash(type(self))


class WrappedException(ExceptionResource):
    """Records an exception that is not a resource, as its formatted traceback."""


class InvokeError(EnactError):
    """Root of the errors of enact-invoke."""


class InvocationError(ExceptionResource, InvokeError):
    """Misuse of the invocation machinery; ``invoke`` raises these at top level.

    A resource (see :class:`ExceptionResource`), so a call that raised one
    records it, and an :class:`~enact_resource.EnactError`.
    """


class InvokableTypeError(InvocationError, TypeError):
    """An invokable got or returned a value of the wrong type."""


class InputChanged(InvocationError):
    """An invokable mutated its input during a call."""


class ReplayError(InvocationError):
    """A call during a strict replay does not match the recorded one."""


class NoOutputError(InvokeError, LookupError):
    """The invocation has no output (it raised, or its output was removed)."""


for _cls in (
    ExceptionResource,
    WrappedException,
    InvocationError,
    InvokableTypeError,
    InputChanged,
    ReplayError,
):
    set_type_name(_cls, f"enact.invocations.{_cls.__name__}")
    register(_cls)
