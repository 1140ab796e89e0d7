"""Invokables: resources that can be called, and their tracked invocation (sync).

The tracked-call engine (frames, slots, matching, recording) is in
``_engine``; this module holds the public classes and the sync driver:
calling an invokable inside a tracked call records a child invocation in
that call's frame, and ``invoke`` opens a new top-level frame. Async
invokables (``_async``) and executors (``_executor``) drive the same engine.

Each tracked level costs two Python stack frames (``__call__`` and the user's
``call``), so deep call chains work at the default recursion limit (the
original enact failed beyond about 150 levels).
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from enact_invoke._cache import Cache, cache_setting
from enact_invoke._engine import (
    _RUNNING,
    Frame,
    check_untracked,
    close_invocation,
    current_frame,
    enter_invocation,
    fail,
    get_frame,
    in_tracked_call,
    leave_invocation,
    match_untracked,
    open_invocation,
    reset_frame,
    set_frame,
    start,
    succeed,
)
from enact_invoke._exceptions import InputChanged, InvokableTypeError
from enact_invoke._records import ExceptionOverride, Invocation
from enact_invoke._replay import ReplayContext
from enact_resource import (
    Bytes,
    FieldTypeError,
    Float,
    Int,
    NoneResource,
    Resource,
    ResourceBase,
    Str,
    check_fields,
    digest,
    register,
)
from enact_store import Ref, Store

if TYPE_CHECKING:
    import concurrent.futures

__all__ = [
    "Invokable",
    "InvokableBase",
    "ReplayContext",
    "current_frame",
    "in_tracked_call",
    "typed_invokable",
]

I = TypeVar("I", bound=ResourceBase)  # noqa: E741
O = TypeVar("O", bound=ResourceBase)  # noqa: E741
C = TypeVar("C", bound=type)

# Immutable input types: a call cannot change them, so no check is needed.
_IMMUTABLE_INPUTS: tuple[type, ...] = (Str, Int, Float, Bytes, NoneResource)


class InvokableBase(ResourceBase, Generic[I, O], abc.ABC):
    """A resource that can be called: ``inv(x)``; implement :meth:`call`.

    Calling takes one resource argument, or raw arguments that are passed to
    the input type's constructor (``greeter('World')`` builds
    ``Str('World')``). Outside a tracked invocation the call just runs; inside
    one it is recorded as a child invocation. Use :meth:`invoke` to start a
    tracked invocation in the active store.
    """

    __slots__ = ()

    # Set by typed_invokable; None accepts any resource.
    _enact_input_type_: ClassVar[type[ResourceBase] | None] = None
    _enact_output_type_: ClassVar[type[ResourceBase] | None] = None
    # Set by typed_invokable(cache=...) and @invokable(cache=...): None, no memo cache.
    _enact_cache_: ClassVar[Cache | None] = None

    @abc.abstractmethod
    def call(self, *args: Any) -> Any:
        """Computes the output from the input (a ``call(self)`` without a
        parameter is allowed when the input type is NoneResource)."""

    @classmethod
    def get_input_type(cls) -> type[ResourceBase] | None:
        """Returns the declared input type, or None if any resource is accepted."""
        return cls._enact_input_type_

    def get_output_type(self) -> type[ResourceBase] | None:
        """Returns the declared output type, or None if any resource is accepted."""
        return self._enact_output_type_

    # --- Calling. ---

    def __call__(self, *args: Any, **kwargs: Any) -> O:
        resource = self._make_input(args, kwargs)
        frame = get_frame()
        if frame is None:
            if _RUNNING:
                check_untracked(self)
            return self._run_untracked(resource)
        if frame.replay is not None and not frame.tracked:  # (Slot first: cheaper.)
            return self._replay_untracked(resource, frame)

        # Tracked: the engine starts the call in the current frame (a reused
        # call is done at once), then this method itself calls `call`, so
        # that each level costs only two stack frames (run_started does the
        # same for calls run in executors: keep the two alike).
        child = start(frame, self, resource)
        if type(child) is not Frame:
            return child  # type: ignore[no-any-return]
        # _takes_input's cached answer, read inline (a call less per call).
        cls = type(self)
        takes = _TAKES_INPUT.get(cls)
        token = set_frame(child)
        try:
            # _call_with inlined for the common case: one stack frame less per level.
            if takes is not None and takes[1] and takes[0] is cls.call:
                output = self.call(resource)
            else:
                output = self._call_with(resource)
        except Exception as e:
            fail(self, child, e)
            raise
        finally:
            reset_frame(token)
        return succeed(self, child, output, resource)  # type: ignore[no-any-return]

    def _run_untracked(self, resource: ResourceBase) -> O:
        output = self._call_with(resource)
        return self._check_output(output, resource, None)

    def _replay_untracked(self, resource: ResourceBase, frame: Frame) -> O:
        """A call in a ReplayContext outside any tracked call: reused, or run untracked."""
        reused, value = match_untracked(frame, self, resource)
        if reused:
            return value  # type: ignore[no-any-return]
        # Runs as an untracked call does; its own calls are matched against
        # its record's children if it has a record.
        token = set_frame(value)
        try:
            return self._run_untracked(resource)
        finally:
            reset_frame(token)

    def submit(self, *args: Any, **kwargs: Any) -> concurrent.futures.Future[O]:
        """Runs the call concurrently: in a thread of the shared
        :class:`enact.ThreadPoolExecutor`, or on the executor of an enclosing
        :func:`enact.executor` block (threads, processes, Ray, Dask).

        Takes the arguments a call takes. Inside a tracked call the call is
        recorded as its child, in the position it takes now, when submitted
        (see :class:`~enact_invoke.ThreadPoolExecutor`).

        Returns:
            A future of the output; its exception if the call raised.
        """
        from enact_invoke._remote import submit

        return submit(self, args, kwargs)

    def _call_with(self, resource: ResourceBase) -> Any:
        if _takes_input(type(self)):
            return self.call(resource)
        if not isinstance(resource, NoneResource):
            raise InvokableTypeError(
                f"{type(self).__qualname__}.call() takes no input, "
                f"but was given {type(resource).__qualname__}"
            )
        return self.call()

    def _make_input(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ResourceBase:
        input_type = self.get_input_type()
        if not kwargs and len(args) == 1 and isinstance(args[0], ResourceBase):
            resource: ResourceBase = args[0]
        elif input_type is None:
            if args or kwargs:
                raise InvokableTypeError(
                    f"{type(self).__qualname__} has no declared input type, so it must be "
                    "called with one resource (declare one with @typed_invokable)"
                )
            resource = NoneResource()
        else:
            resource = self._build_input(input_type, args, kwargs)
        if input_type is not None and not isinstance(resource, input_type):
            self._check_input(resource)  # Raises, with the message.
        return resource

    def _build_input(
        self, input_type: type[ResourceBase], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> ResourceBase:
        """Builds the input from plain values, only if they fit its field types exactly."""
        name = type(self).__qualname__
        value_type = _VALUE_TYPES.get(input_type)
        if value_type is not None:
            # Str(None) would be "None" and Int(3.9) 3: not what the caller meant.
            expected, fits = value_type
            values = [*args, *kwargs.values()]
            if len(values) == 1 and (not kwargs or "value" in kwargs) and fits(values[0]):
                return input_type(values[0])  # type: ignore[call-arg]
            if len(values) == 1:
                value = values[0]
                raise InvokableTypeError(
                    f"{name} takes a {input_type.__qualname__} input, whose field 'value' "
                    f"must be {expected}: got {type(value).__qualname__}: {_short(value)}"
                )
        try:
            resource = input_type(*args, **kwargs)
            check_fields(resource)
        except FieldTypeError as e:
            raise InvokableTypeError(
                f"Cannot build the input {input_type.__qualname__} of {name} from the "
                f"arguments given: {e}"
            ) from e
        except (TypeError, ValueError) as e:
            raise InvokableTypeError(
                f"Cannot build the input {input_type.__qualname__} of "
                f"{name} from the arguments given: {e}"
            ) from e
        return resource

    def _check_input(self, resource: ResourceBase) -> None:
        input_type = self.get_input_type()
        if input_type is not None and not isinstance(resource, input_type):
            raise InvokableTypeError(
                f"{type(self).__qualname__} expects input of type {input_type.__qualname__}, "
                f"got {type(resource).__qualname__}"
            )

    def _check_output(self, output: Any, resource: ResourceBase, input_ref: Ref[Any] | None) -> O:
        if output is None:
            output = NoneResource()
        elif not isinstance(output, ResourceBase):
            if inspect.iscoroutine(output):
                output.close()  # Never awaited: no "never awaited" warning too.
                raise InvokableTypeError(
                    f"{type(self).__qualname__}.call() is a coroutine function (async def): "
                    "subclass enact.AsyncInvokable, not enact.Invokable, for an async call"
                )
            raise InvokableTypeError(
                f"{type(self).__qualname__}.call() returned {type(output).__qualname__}, "
                "which is not a resource (wrap it, e.g. enact.Str(...))"
            )
        output_type = self.get_output_type()
        if output_type is not None and not isinstance(output, output_type):
            raise InvokableTypeError(
                f"{type(self).__qualname__} must return {output_type.__qualname__}, "
                f"got {type(output).__qualname__}"
            )
        if (
            input_ref is not None
            and not isinstance(resource, _IMMUTABLE_INPUTS)
            and digest(resource) != input_ref.digest
        ):
            raise InputChanged(
                f"{type(self).__qualname__} modified its input during the call; "
                "inputs must not be mutated (work on a copy)"
            )
        checked: O = output  # (Not typing.cast: a call, and this runs on every call.)
        return checked

    # --- Tracked invocation. ---

    def invoke(
        self,
        arg_ref: Ref[I] | I | None = None,
        replay_from: Invocation[I, O] | None = None,
        exception_override: ExceptionOverride | None = None,
        raise_on_invocation_error: bool = True,
        strict: bool = True,
    ) -> Invocation[I, O]:
        """Runs the invokable tracked in the active store and returns the record.

        Every nested call becomes a child invocation, in the order the calls
        started. An invocation started this way inside another call is a new
        top-level record, not a child.

        Args:
            arg_ref: a ref to the input; a resource is committed first; None
                means a committed ``NoneResource()``.
            replay_from: a recorded invocation to replay: its recorded outputs
                are reused and calls without output re-run.
            exception_override: see :meth:`Invocation.replay`.
            raise_on_invocation_error: raise InvocationErrors (type errors,
                InputChanged, ReplayError) instead of only recording them.
            strict: see :meth:`Invocation.replay`.

        Raises:
            NoActiveStoreError: no store is active.
            InvocationError: when ``raise_on_invocation_error`` and the call
                raised one.
        """
        store = Store.current()
        # An invocation's objects are written together when its record is
        # (see Store.batch): one transaction instead of one per object.
        with store.batch():
            opened: Any = open_invocation(
                store, self, arg_ref, replay_from, exception_override, strict, False
            )
            if type(opened) is not tuple:
                return opened  # type: ignore[no-any-return]
            frame, resource, error = opened
            opened = None  # Holds the error too: see below.
            output: Any = None
            enter_invocation()
            try:
                if error is None:
                    token = set_frame(frame)
                    try:
                        output = self._call_with(resource)
                    except Exception as e:
                        error = e
                    finally:
                        reset_frame(token)
                return close_invocation(
                    self, frame, resource, output, error, raise_on_invocation_error
                )
            finally:
                # Whether raised or only recorded, this frame lets go of the
                # exception: its traceback holds this frame (a cycle).
                error = None
                leave_invocation()

    async def invoke_async(
        self,
        arg: Ref[I] | I | None = None,
        replay_from: Invocation[I, O] | None = None,
        exception_override: ExceptionOverride | None = None,
        strict: bool = True,
        *,
        raise_on_invocation_error: bool = True,
    ) -> Invocation[I, O]:
        """Like :meth:`invoke`, awaited: never blocks the event loop.

        A sync invokable runs in a thread (``asyncio.to_thread``, which
        carries the context: the active store, an enclosing batch); an
        :class:`~enact_invoke.AsyncInvokable` runs in the event loop.
        """
        import asyncio  # (Imported already: an event loop runs this.)

        return await asyncio.to_thread(
            self.invoke, arg, replay_from, exception_override, raise_on_invocation_error, strict
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)


# The value resources built from one plain value: (what they take, the test).
_VALUE_TYPES: dict[type, tuple[str, Callable[[Any], bool]]] = {
    Str: ("str", lambda value: isinstance(value, str)),
    Int: ("int (not bool)", _is_int),
    Float: ("float or int", _is_float),
    Bytes: ("bytes", lambda value: isinstance(value, bytes)),
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# Per class: (its `call` function, whether it takes an input parameter).
_TAKES_INPUT: dict[type, tuple[object, bool]] = {}


def _takes_input(cls: type[InvokableBase[Any, Any]]) -> bool:
    """Returns whether ``cls.call`` takes an input parameter (cached per class)."""
    call = cls.call
    cached = _TAKES_INPUT.get(cls)
    if cached is not None and cached[0] is call:
        return cached[1]
    try:
        params = list(inspect.signature(call).parameters.values())[1:]
    except (TypeError, ValueError):
        takes = True
    else:
        takes = any(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
        )
    _TAKES_INPUT[cls] = (call, takes)
    return takes


@dataclasses.dataclass
class Invokable(Resource, InvokableBase[I, O]):
    """An invokable defined as a dataclass: subclass it, add fields and ``call``."""


def typed_invokable(
    input_type: type[ResourceBase],
    output_type: type[ResourceBase],
    register: bool = True,
    *,
    cache: bool | Cache | None = False,
) -> Callable[[C], C]:
    """Class decorator: declares an invokable's input and output types.

    Also registers the class (unless ``register=False``), whichever side of
    ``@dataclass`` it is applied on.

    Args:
        input_type: the resource type of the input.
        output_type: the resource type of the output.
        register: register the class.
        cache: reuse a finished, non-raising recorded call with the same
            request digest from the active store instead of running it
            (``True``, or an :class:`enact.Cache` with a version).
    """
    for what, given in (("input_type", input_type), ("output_type", output_type)):
        if not (isinstance(given, type) and issubclass(given, ResourceBase)):
            raise TypeError(f"typed_invokable: {what} must be a resource type, got {given!r}")
    cache_config = cache_setting(cache)

    def decorate(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, InvokableBase)):
            raise TypeError(f"typed_invokable decorates InvokableBase subclasses, got {cls!r}")
        cls._enact_input_type_ = input_type
        cls._enact_output_type_ = output_type
        if cache_config is not None or "_enact_cache_" in vars(cls):
            cls._enact_cache_ = cache_config
        if register:
            _register(cls)
        return cls

    return decorate


_register = register
