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
        │   ├── IncompleteSubinvocationError (RuntimeError)
        │   │                               a call returned while a call it started
        │   │                               had not finished
        │   ├── InputRequestOutsideInvocation  request_input() outside any invocation
        │   ├── RequestedTypeUndetermined   RequestInput without a requested type
        │   ├── RunConflict (ValueError)    a run of that name exists for another request
        │   ├── RunInProgress (RuntimeError)
        │   │                               another owner holds the run's lease
        │   ├── RunOwnershipLost (RuntimeError)
        │   │                               another process took the run over
        │   └── StoreNotShared (ValueError) a call sent to another process from a store
        │                                   other processes cannot open (memory)
        ├── RemoteCallError (ExceptionResource, RuntimeError)
        │                                   a call run by another process (enact.executor)
        │                                   returned no record: its worker died, say
        └── NoOutputError (LookupError)     get_output() on an invocation without output

    Exception
    └── ExceptionResource (a Resource)      recorded as itself in an invocation
        ├── WrappedException                any other exception, as traceback text
        ├── InputRequest (alias InputRequired)
        │                                   a request for human input, answered with
        │                                   InputRequest.continue_invocation
        ├── InvocationCancelled             recorded for a call cancelled before it
        │                                   finished (never raised: replay re-runs it)
        ├── InvocationError                 (above)
        └── RemoteCallError                 (above)

    Warning
    └── UntrackedCallWarning (RuntimeWarning)
                                            a call made, unrecorded, in a thread that
                                            lost the context of a running invocation

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
    "IncompleteSubinvocationError",
    "InputChanged",
    "InvocationCancelled",
    "InvocationError",
    "InvokableTypeError",
    "InvokeError",
    "NoOutputError",
    "RemoteCallError",
    "ReplayError",
    "RunConflict",
    "RunInProgress",
    "RunOwnershipLost",
    "StoreNotShared",
    "UntrackedCallWarning",
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
            # the type id is the name alone (docs/format.md §1), as in the original
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


class IncompleteSubinvocationError(InvocationError, RuntimeError):
    """A call returned while calls it had started were still running (or never ran).

    Its record must hold the outcome of every call it made, so it is recorded
    as failing with this error, which names the calls, and the error is
    raised to its caller. A call that starts after its parent returned
    raises it too: no record can hold it. Await (or cancel and await) every
    call a call starts, and wait for the futures of the calls it submits,
    before it returns.
    """


class RunConflict(InvocationError, ValueError):
    """A durable run of that name exists for another request (invokable state or input)."""


class RunInProgress(InvocationError, RuntimeError):
    """Another owner holds the durable run's lease: it is running elsewhere."""


class RunOwnershipLost(InvocationError, RuntimeError):
    """Another process took the durable run over (``force=True``, or a lapsed lease).

    Raised at this owner's next checkpoint, before it starts another call;
    nothing it did after losing the run is written to the run.
    """


class InvocationCancelled(ExceptionResource):
    """Recorded as the exception of a call cancelled before it finished.

    The call itself raised :class:`asyncio.CancelledError` (or its future
    was cancelled before it ran). Replay re-runs a cancelled call and never
    reuses it: an ``exception_override`` is not offered it. Never raised.
    """


class UntrackedCallWarning(RuntimeWarning):
    """An invokable was called in a thread that does not carry a tracked call's context.

    Threads do not inherit context variables, so a call made in a plain
    ``threading.Thread``, a ``concurrent.futures.ThreadPoolExecutor`` or
    ``loop.run_in_executor`` while an invocation runs elsewhere is not
    recorded. Run it with ``enact.ThreadPoolExecutor``, ``invokable.submit``,
    ``asyncio.to_thread`` or ``contextvars.copy_context().run`` instead.
    Shown once per place in the code (Python's default warning filter).
    """


class RemoteCallError(ExceptionResource, InvokeError, RuntimeError):
    """Recorded for a call run in another process that returned no record.

    A call submitted under :func:`enact_invoke.executor` to a process pool,
    Ray or Dask runs tracked in a worker, which commits its record and
    returns its digest. When the worker cannot (it was killed, ran out of
    memory, could not import the invokable's class, or the engine lost the
    task), the submitting side records the call as raising this error, whose
    message holds the engine's own error, and the call's future raises it.
    The call's siblings are not affected; a replay re-runs it.
    """


class StoreNotShared(InvocationError, ValueError):
    """A call was sent to another process from a store other processes cannot open.

    Workers open the active store by URL: SQLite and file stores (on one
    machine, or a shared file system) and PostgreSQL stores can be shared; an
    in-memory store, or a store with a custom backend or ref type, cannot.
    """


class NoOutputError(InvokeError, LookupError):
    """The invocation has no output (it raised, or its output was removed)."""


for _cls in (
    ExceptionResource,
    WrappedException,
    InvocationError,
    InvokableTypeError,
    InputChanged,
    ReplayError,
    IncompleteSubinvocationError,
    InvocationCancelled,
    RunConflict,
    RunInProgress,
    RunOwnershipLost,
    RemoteCallError,
    StoreNotShared,
):
    set_type_name(_cls, f"enact.invocations.{_cls.__name__}")
    register(_cls)
