"""Invokables and tracked execution: recording, replay and exception overrides.

A tracked call runs inside a *frame* (the innermost one is held in a context
variable). Calling an invokable inside a frame records a child invocation in
that frame; ``invoke`` opens a new top-level frame. Replay gives each frame a
:class:`ReplayContext`: the recorded children, matched to new calls in order.

Each tracked level costs two Python stack frames (``__call__`` and the user's
``call``), so deep call chains work at the default recursion limit (the
original enact failed beyond about 150 levels).
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar, Token
from typing import Any, ClassVar, Generic, TypeVar, cast

from enact_invoke._exceptions import (
    ExceptionResource,
    InputChanged,
    InvocationError,
    InvokableTypeError,
    WrappedException,
)
from enact_invoke._mismatch import replay_mismatch
from enact_invoke._records import ExceptionOverride, Invocation, Request, Response
from enact_resource import (
    Bytes,
    FieldTypeError,
    Float,
    Int,
    NoneResource,
    Resource,
    ResourceBase,
    SerializationError,
    Str,
    digest,
    register,
    type_info,
)
from enact_store import Ref, Store

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
_new = object.__new__


class ReplayContext:
    """Recorded invocations, matched in order against new calls.

    Replay makes one for each call it re-runs, from the call's recorded
    children. Used directly as a context manager, it makes the calls in its
    block match the given recorded invocations, in order: a call that matches
    one with an output is not run (its recorded output is returned and the
    invokable's recorded state after the call applied); a call that matches
    one without an output runs, its own calls matched against that record's
    children. Calls after the last recorded invocation simply run::

        with ReplayContext([earlier]):
            out = chain(arg)  # earlier's output, if earlier was chain(arg)

        with ReplayContext.from_invocation(earlier):
            summary = summarize(text)  # reused if earlier called summarize(text)

    Inside a tracked call, the calls in the block are recorded as usual (a
    reused call as the very invocation given). Outside any tracked call,
    nothing is recorded and nothing is written to the store: a reused call
    reads its recorded output from the active store, and a call that must run
    runs as an untracked call does (still guided by its record's children, if
    it has a record).

    Args:
        subinvocations: the recorded invocations, in call order, as refs to
            them or as :class:`Invocation` resources. Inside a tracked call,
            invocations given as resources are committed (the new record
            refers to the ones reused); outside, they are only read.
        exception_override: offered each recorded exception raised in the
            frame that raised it; a resource it returns becomes that call's
            output.
        strict: whether a call that does not match the next recorded
            invocation raises :class:`ReplayError`; with False the call runs
            (untracked outside a tracked call) and the recorded invocation is
            passed over.
        children: the name of ``subinvocations`` in enact-invoke 0.1.0.

    Raises:
        TypeError: ``subinvocations`` is not a sequence of invocations and
            refs, or ``exception_override`` is not callable.
        NoActiveStoreError: entered outside any tracked call with no active
            store (the records are read from it).
    """

    __slots__ = (
        "_children",
        "_given",
        "_position",
        "_saved",
        "_user",
        "exception_override",
        "strict",
    )

    _children: list[Ref[Invocation[Any, Any]]] | Sequence[Ref[Invocation[Any, Any]]]
    # The invocations given as resources, by position: committed when the
    # context is entered in a tracked call (None once done, or if none).
    _given: dict[int, Invocation[Any, Any]] | None
    _saved: list[tuple[_Frame, ReplayContext | None, Token[_Frame | None] | None]]

    def __init__(
        self,
        subinvocations: Iterable[Ref[Invocation[Any, Any]] | Invocation[Any, Any]] = (),
        exception_override: ExceptionOverride | None = None,
        strict: bool = True,
        *,
        children: Iterable[Ref[Invocation[Any, Any]] | Invocation[Any, Any]] | None = None,
    ) -> None:
        if children is not None:
            if subinvocations != ():
                raise TypeError(
                    "ReplayContext takes subinvocations or children (its former name), not both"
                )
            subinvocations = children
        if isinstance(subinvocations, (ResourceBase, str, bytes)):
            raise TypeError(
                "ReplayContext expects a sequence of recorded invocations or refs to them, "
                f"got {type(subinvocations).__qualname__} (wrap a single one in a list)"
            )
        refs: list[Ref[Invocation[Any, Any]]] = []
        given: dict[int, Invocation[Any, Any]] = {}
        for position, item in enumerate(subinvocations):
            if isinstance(item, Ref):
                refs.append(item)
            elif isinstance(item, Invocation):
                # A ref that carries the invocation: read without the store.
                refs.append(Ref.pack(item).ref)
                given[position] = item
            else:
                raise TypeError(
                    "ReplayContext expects recorded invocations or refs to them, got "
                    f"{type(item).__qualname__} at position {position}"
                )
        if exception_override is not None and not callable(exception_override):
            raise TypeError(
                "exception_override must be a function of a recorded exception's ref, "
                f"got {type(exception_override).__qualname__}"
            )
        self._children = refs
        self._given = given or None
        self._user = True  # Made by the user (not by replay): its refs are refreshed.
        self._position = 0
        self._saved = []
        self.exception_override = exception_override
        self.strict = strict

    @classmethod
    def _guide(
        cls,
        children: Sequence[Ref[Invocation[Any, Any]]],
        exception_override: ExceptionOverride | None,
        strict: bool,
    ) -> ReplayContext:
        """A context over recorded refs, as replay makes them (no checks, no copy)."""
        context = _new(cls)
        context._children = children
        context._given = None
        context._user = False
        context._position = 0
        context._saved = []
        context.exception_override = exception_override
        context.strict = strict
        return context

    def __enter__(self) -> ReplayContext:
        frame = _FRAME.get()
        if frame is None:
            # Outside any tracked call: a frame that matches calls against this
            # context and records nothing.
            frame = _ReplayFrame(Store.current(), self)
            self._saved.append((frame, None, _FRAME.set(frame)))
            return self
        if self._given is not None and frame.tracked:
            # A reused invocation becomes a child in the record: store it.
            children = cast(list[Ref[Invocation[Any, Any]]], self._children)
            for position, invocation in self._given.items():
                children[position] = frame.store.commit(invocation)
            self._given = None
        if frame.tracked and self._user:
            # Recorded calls this replay may reuse: kept by a concurrent gc.
            frame.store.refresh(self._children)
        self._saved.append((frame, frame.replay, None))
        frame.replay = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        frame, previous, token = self._saved.pop()
        if token is not None:
            _FRAME.reset(token)
        else:
            frame.replay = previous

    @classmethod
    def from_invocation(
        cls,
        invocation: Invocation[Any, Any],
        exception_override: ExceptionOverride | None = None,
        strict: bool = True,
    ) -> ReplayContext:
        """Returns a context that guides a re-run of ``invocation``'s call: its
        recorded children."""
        return cls._guide(invocation.response().children, exception_override, strict)

    def peek(self) -> Ref[Invocation[Any, Any]] | None:
        """Returns the next recorded invocation not yet matched, or None."""
        if self._position < len(self._children):
            return self._children[self._position]
        return None

    def advance(self) -> None:
        """Marks the next recorded invocation as matched."""
        self._position += 1

    def remaining(self) -> int:
        """Returns how many recorded invocations are not yet matched."""
        return len(self._children) - self._position


class _Frame:
    """A tracked call in progress: where its children are recorded."""

    __slots__ = ("children", "propagated", "replay", "store")

    #: Whether calls in this frame are recorded (see _ReplayFrame).
    tracked: ClassVar[bool] = True

    def __init__(self, store: Store, replay: ReplayContext | None) -> None:
        self.store = store
        self.replay = replay
        # Children run in threads that copied the context (asyncio.to_thread)
        # append here concurrently: only ever by list.append, which is atomic.
        self.children: list[Ref[Invocation[Any, Any]]] = []
        # Exceptions raised by children (by identity), with their recorded refs,
        # so that a frame they propagate through records raised_here=False.
        # Made on the first child that raises: most calls have none.
        self.propagated: list[tuple[BaseException, Ref[ExceptionResource]]] | None = None


class _ReplayFrame(_Frame):
    """The frame of a ReplayContext entered outside any tracked call.

    Its calls are matched against the context (``replay`` is never None) and
    nothing is recorded: a call that must run runs untracked.
    """

    __slots__ = ()
    tracked = False


_FRAME: ContextVar[_Frame | None] = ContextVar("enact_invocation_frame", default=None)


def current_frame() -> _Frame | None:
    """Returns the innermost tracked call in progress, if any (or the frame of a
    ReplayContext entered outside any, whose calls are matched but not recorded)."""
    return _FRAME.get()


def in_tracked_call() -> bool:
    """Returns whether the code runs in a tracked call (its calls are recorded)."""
    frame = _FRAME.get()
    return frame is not None and frame.tracked


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
        frame = _FRAME.get()
        if frame is None:
            return self._run_untracked(resource)

        # Tracked: record a child in the current frame. This method itself
        # calls `call`, so that each level costs only two stack frames.
        store = frame.store
        replay = frame.replay
        child_replay: ReplayContext | None = None
        if replay is not None:
            if not frame.tracked:
                return self._replay_untracked(resource, frame, replay)
            recorded_ref = replay.peek()
            if recorded_ref is not None:
                # Replaying: match by digests first; a reused call stores nothing.
                ref_of = store.ref_type.of
                request = Request(ref_of(self), ref_of(resource))
                reused, output, child_replay = _match_recorded(
                    self,
                    resource,
                    store,
                    replay,
                    recorded_ref,
                    request.invokable,
                    ref_of(request),
                    frame,
                )
                if reused:
                    return cast(O, output)
        invokable_ref = store.commit(self)
        input_ref = store.commit(resource)
        request_ref = store.commit(Request(invokable_ref, input_ref))

        child = _Frame(store, child_replay)
        token = _FRAME.set(child)
        try:
            # _call_with inlined for the common case: one stack frame less per level.
            output = self.call(resource) if _takes_input(type(self)) else self._call_with(resource)
        except Exception as e:
            raised_ref = _record_failure(self, store, request_ref, invokable_ref, child, e, frame)
            _note_propagated(frame, e, raised_ref)
            raise
        finally:
            _FRAME.reset(token)
        try:
            output = self._check_output(output, resource, input_ref)
        except InvocationError as e:
            raised_ref = _record_failure(self, store, request_ref, invokable_ref, child, e, frame)
            _note_propagated(frame, e, raised_ref)
            raise
        _record_success(self, store, request_ref, invokable_ref, child, output, frame.children)
        return output

    def _run_untracked(self, resource: ResourceBase) -> O:
        output = self._call_with(resource)
        return self._check_output(output, resource, None)

    def _replay_untracked(self, resource: ResourceBase, frame: _Frame, replay: ReplayContext) -> O:
        """A call in a ReplayContext outside any tracked call: reused, or run untracked."""
        recorded_ref = replay.peek()
        child_replay = None
        if recorded_ref is not None:
            store = frame.store
            ref_of = store.ref_type.of
            request = Request(ref_of(self), ref_of(resource))
            reused, output, child_replay = _match_recorded(
                self,
                resource,
                store,
                replay,
                recorded_ref,
                request.invokable,
                ref_of(request),
                frame,
            )
            if reused:
                return cast(O, output)
        # Runs as an untracked call does; its own calls are matched against
        # its record's children if it has a record.
        inner = None if child_replay is None else _ReplayFrame(frame.store, child_replay)
        token = _FRAME.set(inner)
        try:
            return self._run_untracked(resource)
        finally:
            _FRAME.reset(token)

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
            try:
                resource = input_type(*args, **kwargs)
            except (TypeError, ValueError) as e:
                raise InvokableTypeError(
                    f"Cannot build the input {input_type.__qualname__} of "
                    f"{type(self).__qualname__} from the arguments given: {e}"
                ) from e
        if input_type is not None and not isinstance(resource, input_type):
            self._check_input(resource)  # Raises, with the message.
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

        Every nested call becomes a child invocation, in call order. An
        invocation started this way inside another call is a new top-level
        record, not a child.

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
        # What the call will refer to without writing it (a given input, the
        # recorded invocation to replay) is stamped as just written first, so
        # that a concurrent gc keeps it, and all it reaches, while this runs.
        protect: list[Ref[Any]] = [arg_ref] if isinstance(arg_ref, Ref) else []
        if replay_from is not None:
            protect += [replay_from.request, replay_from.response]
        if protect:
            store.refresh(protect)
        # An invocation's objects are written together when its record is
        # (see Store.batch): one transaction instead of one per object.
        with store.batch():
            return self._invoke(
                store,
                arg_ref,
                replay_from,
                exception_override,
                raise_on_invocation_error,
                strict,
            )

    def _invoke(
        self,
        store: Store,
        arg_ref: Ref[I] | I | None,
        replay_from: Invocation[I, O] | None,
        exception_override: ExceptionOverride | None,
        raise_on_invocation_error: bool,
        strict: bool,
    ) -> Invocation[I, O]:
        input_ref: Ref[Any]
        if arg_ref is None:
            input_ref = store.commit(NoneResource())
        elif isinstance(arg_ref, Ref):
            input_ref = arg_ref
        elif isinstance(arg_ref, ResourceBase):
            input_ref = store.commit(arg_ref)
        else:
            raise InvokableTypeError(
                f"invoke() expects a Ref or a resource, got {type(arg_ref).__qualname__}"
            )
        resource = input_ref()
        invokable_ref = store.commit(self)
        request_ref = store.commit(Request(invokable_ref, input_ref))
        frame = _Frame(store, None)
        error: Exception | None = None
        try:
            self._check_input(resource)
            if replay_from is not None:
                # The recorded call is the guide of this one. Only the records
                # needed are read, so a replay that re-runs nothing costs the
                # same whatever the number of children.
                recorded_ref = store.commit(replay_from)
                if replay_from.request.digest == request_ref.digest:
                    top = ReplayContext._guide([recorded_ref], exception_override, strict)
                    holder = _Frame(store, top)
                    reused, _, frame.replay = _match_recorded(
                        self, resource, store, top, recorded_ref, invokable_ref, request_ref, holder
                    )
                    if reused:
                        return cast(Invocation[I, O], store.get(holder.children[0]))
                else:
                    # Another invokable state or input: its children still guide.
                    response = store.load(store.load(recorded_ref)["response"])
                    frame.replay = ReplayContext._guide(
                        response["children"], exception_override, strict
                    )
        except InvocationError as e:
            error = e
        if error is None:
            token = _FRAME.set(frame)
            try:
                output = self._call_with(resource)
            except Exception as e:
                error = e
            finally:
                _FRAME.reset(token)
        if error is None:
            try:
                output = self._check_output(output, resource, input_ref)
            except InvocationError as e:
                error = e
        recorded: list[Ref[Invocation[Any, Any]]] = []
        if error is None:
            _record_success(self, store, request_ref, invokable_ref, frame, output, recorded)
            return cast(Invocation[I, O], store.get(recorded[0]))
        _record_failure(self, store, request_ref, invokable_ref, frame, error, None, recorded)
        # Whether raised or only recorded, this frame lets go of the exception:
        # its traceback holds this frame, whose `error` would hold it (a cycle).
        try:
            if raise_on_invocation_error and isinstance(error, InvocationError):
                raise error
        finally:
            error = None
        return cast(Invocation[I, O], store.get(recorded[0]))


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


def _note_propagated(frame: _Frame, error: Exception, raised_ref: Ref[ExceptionResource]) -> None:
    """Notes that ``error``, recorded as ``raised_ref``, leaves a child of ``frame``."""
    # Children run in threads (asyncio.to_thread) share their parent's frame:
    # two of them failing at once must not each make a list and lose one.
    # Only failing calls come here, so the lock costs the others nothing.
    with _PROPAGATED_LOCK:
        if frame.propagated is None:
            frame.propagated = []
        frame.propagated.append((error, raised_ref))


_PROPAGATED_LOCK = threading.Lock()


def _match_recorded(
    invokable: InvokableBase[Any, Any],
    resource: ResourceBase,
    store: Store,
    replay: ReplayContext,
    recorded_ref: Ref[Invocation[Any, Any]],
    invokable_ref: Ref[InvokableBase[Any, Any]],
    request_ref: Ref[Request[Any, Any]],
    frame: _Frame,
) -> tuple[bool, ResourceBase | None, ReplayContext | None]:
    """Matches a new call (``invokable`` on ``resource``) against the next recorded child.

    ``request_ref`` names the new call's Request, which need not be stored;
    ``invokable_ref`` names the invokable's state before the call.
    Reads the records as ResourceDicts (no conversion of the children list),
    so matching costs the same whatever the size of the recorded subtree.

    Returns:
        (reused, output, replay context for re-running the call). A reused
        call's invocation is appended to ``frame.children`` if the frame is
        tracked (outside any tracked call nothing is recorded or written).
    """
    recorded = store.load(recorded_ref)
    recorded_request: Ref[Request[Any, Any]] = recorded["request"]
    if recorded_request.digest != request_ref.digest:
        if replay.strict:
            raise replay_mismatch(store, invokable, resource, recorded_request, replay._position)
        replay.advance()
        return False, None, None
    replay.advance()
    # The request matched (same digest), so the invokable's state before the
    # call, invokable_ref, is the recorded one: the recorded Request need not
    # be read.
    response = store.load(recorded["response"])
    recorded_state: Ref[InvokableBase[Any, Any]] = response["invokable"]
    output_ref: Ref[Any] | None = response["output"]
    if output_ref is not None:
        _apply_state(invokable, store, recorded_state, invokable_ref)
        if frame.tracked:
            frame.children.append(recorded_ref)
        return True, store.get(output_ref), None
    raised_ref: Ref[ExceptionResource] | None = response["raised"]
    override = replay.exception_override
    if raised_ref is not None and response["raised_here"] and override is not None:
        value = override(raised_ref.deep_copy_resource())
        if value is not None:
            output = invokable._check_output(value, NoneResource(), None)
            _apply_state(invokable, store, recorded_state, invokable_ref)
            if frame.tracked:  # (Outside any tracked call nothing is recorded.)
                new_response = Response(
                    invokable=recorded_state,
                    output=store.commit(output),
                    raised=None,
                    raised_here=False,
                    children=response["children"],
                )
                frame.children.append(
                    store.commit(Invocation(recorded_request, store.commit(new_response)))
                )
            return True, output, None
    return False, None, ReplayContext._guide(response["children"], override, replay.strict)


def _apply_state(
    invokable: InvokableBase[Any, Any],
    store: Store,
    recorded_state: Ref[InvokableBase[Any, Any]],
    invokable_ref: Ref[InvokableBase[Any, Any]],
) -> None:
    """Applies the recorded post-call state of the invokable, if it differs."""
    if recorded_state.digest != invokable_ref.digest:
        invokable.set_from(store.get(recorded_state))


def _state_after(
    invokable: InvokableBase[Any, Any], store: Store, before: Ref[InvokableBase[Any, Any]]
) -> Ref[InvokableBase[Any, Any]]:
    """Returns a ref to the invokable's state after a call (``before`` if unchanged)."""
    if not type_info(type(invokable)).field_names or digest(invokable) == before.digest:
        return before
    return store.commit(invokable)


def _record_success(
    invokable: InvokableBase[Any, Any],
    store: Store,
    request_ref: Ref[Request[Any, Any]],
    invokable_ref: Ref[InvokableBase[Any, Any]],
    frame: _Frame,
    output: ResourceBase,
    into: list[Ref[Invocation[Any, Any]]],
) -> None:
    frame.propagated = None  # See _record_failure.
    response = Response(
        invokable=_state_after(invokable, store, invokable_ref),
        output=store.commit(output),
        raised=None,
        raised_here=False,
        children=frame.children,
    )
    into.append(store.commit(Invocation(request_ref, store.commit(response))))


def _record_failure(
    invokable: InvokableBase[Any, Any],
    store: Store,
    request_ref: Ref[Request[Any, Any]],
    invokable_ref: Ref[InvokableBase[Any, Any]],
    frame: _Frame,
    error: Exception,
    parent: _Frame | None,
    into: list[Ref[Invocation[Any, Any]]] | None = None,
) -> Ref[ExceptionResource]:
    """Records a call that raised; returns the ref of the recorded exception."""
    raised_ref: Ref[ExceptionResource] | None = None
    for propagated, ref in frame.propagated or ():
        if propagated is error:
            raised_ref = ref
            break
    # Done with the call: drop the exceptions, whose tracebacks would make
    # reference cycles through the stack frames.
    frame.propagated = None
    raised_here = raised_ref is None
    if raised_ref is None:
        raised_ref = _commit_exception(store, error)
    try:
        state_ref = _state_after(invokable, store, invokable_ref)
    except (FieldTypeError, SerializationError):
        state_ref = invokable_ref  # The call left its state unstorable.
    response = Response(
        invokable=state_ref,
        output=None,
        raised=raised_ref,
        raised_here=raised_here,
        children=frame.children,
    )
    invocation_ref = store.commit(Invocation(request_ref, store.commit(response)))
    (parent.children if parent is not None else cast(list[Any], into)).append(invocation_ref)
    return raised_ref


def _commit_exception(store: Store, error: Exception) -> Ref[ExceptionResource]:
    if isinstance(error, ExceptionResource):
        try:
            return store.commit(error)
        except (FieldTypeError, SerializationError):
            pass  # Fields that cannot be stored: record the traceback instead.
    text = "".join(traceback.format_exception(error))
    return cast(Ref[ExceptionResource], store.commit(WrappedException(text)))


@dataclasses.dataclass
class Invokable(Resource, InvokableBase[I, O]):
    """An invokable defined as a dataclass: subclass it, add fields and ``call``."""


def typed_invokable(
    input_type: type[ResourceBase], output_type: type[ResourceBase], register: bool = True
) -> Callable[[C], C]:
    """Class decorator: declares an invokable's input and output types.

    Also registers the class (unless ``register=False``), whichever side of
    ``@dataclass`` it is applied on.
    """
    for what, given in (("input_type", input_type), ("output_type", output_type)):
        if not (isinstance(given, type) and issubclass(given, ResourceBase)):
            raise TypeError(f"typed_invokable: {what} must be a resource type, got {given!r}")

    def decorate(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, InvokableBase)):
            raise TypeError(f"typed_invokable decorates InvokableBase subclasses, got {cls!r}")
        cls._enact_input_type_ = input_type
        cls._enact_output_type_ = output_type
        if register:
            _register(cls)
        return cls

    return decorate


_register = register
