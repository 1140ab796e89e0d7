"""The tracked-call engine: frames, slots, replay matching and recording.

Every way of calling an invokable drives this one engine, as asyncio's
``Task`` and ``TaskGroup`` drive one state machine through thin wrappers:

- the sync driver, ``InvokableBase.__call__`` (and ``invoke``);
- the async driver, the coroutine of ``AsyncInvokableBase.__call__`` (and
  ``invoke_async``);
- the executor driver, ``enact.ThreadPoolExecutor.submit`` (and
  ``invokable.submit``), which starts a call in the submitting thread and
  runs it in a worker (:func:`run_started`).

A call inside a tracked call (a *frame*: the innermost is held in a context
variable) goes through three steps:

1. :func:`start` in the parent frame, when the call starts (a sync call, a
   ``submit``, the first step of a coroutine). When replaying, the call is
   matched against the parent's recorded children (:class:`Guide`); a call
   reused from the record fills a slot at once and is done. Otherwise its
   request is committed, its frame made, and its *slot* reserved: the next
   position in the parent's children, so that positions follow start order.
   A call of an invokable declared with ``cache=`` that the replay has no
   guidance for (replay guidance wins) is first looked up in the memo cache
   (``_cache``); a hit is done at once, recorded exactly as a reused call.
2. The driver runs ``call`` with the new frame as the current one.
3. :func:`succeed` or :func:`fail`: the frame is closed (its children list is
   final), its record written, and its slot in the parent filled.

A frame's children list is shared by every thread that runs one of its
children (threads given a copy of the context). It is only changed by single
list operations (append, item assignment, copy), which are atomic in CPython
(under the GIL, and under the list's own lock in free-threaded builds); the
one compound step, learning the index of a slot just appended, is checked by
identity. A lock would cost a tracked call ~0.3 µs (three lock sections of
~100 ns each); the slot bookkeeping costs about 1% of a tracked call's
instructions (valgrind, against the engine before slots).

Closing a frame copies its children list for its record: a child that
finishes after its parent closed fills its slot in the live list, which the
record does not use; a child that starts after its parent closed raises
:class:`IncompleteSubinvocationError` (no record can hold it). A child still
running when its parent closes is recorded in the parent's record *in
flight*: no output, no exception, its own children so far (or as cancelled,
if its task is being cancelled); replay re-runs it. A parent that returned
normally with such children records and raises
:class:`IncompleteSubinvocationError`, which names them.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Coroutine, Sequence
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from enact_invoke._cache import lookup as cache_lookup
from enact_invoke._cache import remember as cache_remember
from enact_invoke._exceptions import (
    ExceptionResource,
    IncompleteSubinvocationError,
    InvocationCancelled,
    InvocationError,
    InvokableTypeError,
    UntrackedCallWarning,
    WrappedException,
)
from enact_invoke._mismatch import replay_mismatch, shorten
from enact_invoke._records import ExceptionOverride, Invocation, Request, Response
from enact_resource import (
    FieldTypeError,
    NoneResource,
    ResourceBase,
    SerializationError,
    digest,
    type_info,
)
from enact_store import Ref, Store

if TYPE_CHECKING:
    import asyncio

    from enact_invoke._invokable import InvokableBase

__all__ = [
    "CARRIED",
    "NO_COROUTINES",
    "RUNS",
    "AsyncFrame",
    "Frame",
    "Guide",
    "ReplayFrame",
    "cancel_unstarted",
    "check_untracked",
    "close_invocation",
    "commit_in_flight",
    "current_frame",
    "enter_invocation",
    "fail",
    "get_frame",
    "in_flight_record",
    "in_tracked_call",
    "is_cancellation",
    "leave_invocation",
    "match_untracked",
    "new_frame",
    "next_coroutine_key",
    "open_invocation",
    "reset_frame",
    "run_started",
    "set_frame",
    "start",
    "succeed",
]

_new = object.__new__
F = TypeVar("F", bound="Frame")
# Longest text of a call named in an IncompleteSubinvocationError.
_CALL_CHARS = 160
# How many unfinished calls an IncompleteSubinvocationError names.
_NAMED = 5


# --- Matching recorded calls. ---


class Guide:
    """The recorded children of a replayed call, matched against its new calls.

    A new call takes the next recorded child in order if its request digest
    is the same; else the earliest recorded child not yet taken with the
    same request digest (so a replay of a concurrent run reuses every child
    even when start order jitters); else it matches nothing (see _match,
    which does the first step inline, and _take_by_request). Taking is safe
    without a lock: two threads racing for one recorded child can only both
    take it when their requests have its digest, and two calls with the same
    request digest are interchangeable (either recorded outcome is valid for
    either). The index by request digest is built under a lock.
    """

    __slots__ = ("_by_request", "_children", "_position", "_taken", "exception_override", "strict")

    _children: Sequence[Ref[Invocation[Any, Any]]]
    # The first recorded child not taken in order; those before it are taken.
    _position: int
    # Children after _position taken out of order (None until one is).
    _taken: set[int] | None
    # Request digest -> positions of the children with that request, latest
    # first (built on the first call that does not match in order).
    _by_request: dict[str, list[int]] | None
    #: Offered each recorded exception raised in the frame that raised it.
    exception_override: ExceptionOverride | None
    #: Whether a call that matches no recorded child raises ReplayError.
    strict: bool

    @classmethod
    def _guide(
        cls,
        children: Sequence[Ref[Invocation[Any, Any]]],
        exception_override: ExceptionOverride | None,
        strict: bool,
    ) -> Any:
        """A guide over recorded refs, as replay makes them (no checks, no copy)."""
        guide = _new(cls)
        guide._children = children
        guide._position = 0
        guide._taken = None
        guide._by_request = None
        guide.exception_override = exception_override
        guide.strict = strict
        return guide

    def _next(self) -> int:
        """The position of the first recorded child not yet taken (len if none)."""
        position = self._position
        taken = self._taken
        if taken:
            while position in taken:
                taken.discard(position)
                position += 1
            self._position = position
        return position

    def _take_by_request(
        self, store: Store, request_digest: str
    ) -> tuple[Ref[Invocation[Any, Any]], Any] | None:
        with _GUIDE_LOCK:
            index = self._by_request
            if index is None:
                index = {}
                for position, ref in enumerate(self._children):
                    index.setdefault(store.load(ref)["request"].digest, []).append(position)
                for positions in index.values():
                    positions.reverse()
                self._by_request = index
            positions = index.get(request_digest, [])
            while positions:
                position = positions.pop()
                taken = self._taken
                if position < self._position or (taken is not None and position in taken):
                    continue  # Taken already (in order, or by another call).
                if taken is None:
                    taken = self._taken = set()
                taken.add(position)
                ref = self._children[position]
                return ref, store.load(ref)
        return None


_GUIDE_LOCK = threading.Lock()


# --- Frames. ---


class Frame:
    """A tracked call in progress: its request, its children, and its slot in its parent.

    Made by :func:`start` for a call (or :func:`new_frame`); the fields
    marked below are set only when needed.
    """

    __slots__ = (
        "children",
        "closed",
        "created",
        "final",  # Set on closing: the children list of its record.
        "index",
        "input_ref",
        "invokable_ref",
        "parent",
        "propagated",
        "replay",
        "request_ref",
        "started",  # Set only while a durable run is active: when the call started.
        "store",
    )

    #: Whether calls in this frame are recorded (see ReplayFrame). A class
    #: attribute, which CPython 3.11 reads slowly through an instance: read
    #: only when ``replay`` is set (a ReplayFrame always has one).
    tracked: ClassVar[bool] = True

    #: The recorded children, in slot order: a ref once the child finished,
    #: the child's own Frame while it runs.
    children: list[Any]
    #: False while the call runs, True once closed.
    closed: bool
    #: The coroutines of async calls made here and not started yet, by key:
    #: in an AsyncFrame, NO_COROUTINES until its first async call; None in a
    #: sync frame (no async call can be made there).
    created: dict[int, Coroutine[Any, Any, Any]] | None
    index: int
    input_ref: Ref[Any]
    invokable_ref: Ref[Any]
    final: list[Any]
    parent: Frame | None
    # Exceptions raised by children (by identity), with their recorded refs,
    # so that a frame they propagate through records raised_here=False.
    # Made on the first child that raises: most calls have none.
    propagated: list[tuple[BaseException, Ref[ExceptionResource]]] | None
    replay: Guide | None
    request_ref: Ref[Request[Any, Any]]
    #: When the call started (wall clock), set only while a durable run is active.
    started: float
    store: Store

    # No __init__: `Frame()` with no Python __init__ is the cheapest way to
    # make one (start sets the fields; new_frame elsewhere).


class AsyncFrame(Frame):
    """The frame of an async call: async calls can be made in it."""

    __slots__ = ("task",)

    #: The task running the call while it runs (None once it ended).
    task: asyncio.Task[Any] | None


def new_frame(frame_type: type[F], store: Store, replay: Guide | None) -> F:
    """A frame with nothing recorded yet and no parent (see start for a call's frame)."""
    frame = frame_type()
    frame.store = store
    frame.replay = replay
    frame.children = []
    frame.closed = False
    frame.created = NO_COROUTINES if issubclass(frame_type, AsyncFrame) else None
    frame.parent = None
    frame.propagated = None
    return frame


#: The ``created`` of an AsyncFrame that has made no async call: made a dict at
#: the first (most async calls make none: one object less alive per call in flight).
NO_COROUTINES: dict[int, Coroutine[Any, Any, Any]] = MappingProxyType({})  # type: ignore[assignment]

#: The types of a running child's placeholder in its parent's children.
_FRAME_TYPES = frozenset((Frame, AsyncFrame))


class ReplayFrame(Frame):
    """The frame of a ReplayContext entered outside any tracked call.

    Its calls are matched against the context (``replay`` is never None) and
    nothing is recorded: a call that must run runs untracked.
    """

    __slots__ = ()
    tracked = False


_FRAME: ContextVar[Frame | None] = ContextVar("enact_invocation_frame", default=None)
# Its methods, bound once. A module that imports _FRAME must call these: for a
# method of an imported name, CPython 3.11 compiles `_FRAME.get()` without its
# method-call fast path, making a bound method on every call (~600
# instructions per tracked call for get, set and reset: valgrind).
get_frame = _FRAME.get
set_frame = _FRAME.set
reset_frame = _FRAME.reset


def current_frame() -> Frame | None:
    """Returns the innermost tracked call in progress, if any (or the frame of a
    ReplayContext entered outside any, whose calls are matched but not recorded)."""
    return _FRAME.get()


def in_tracked_call() -> bool:
    """Returns whether the code runs in a tracked call (its calls are recorded)."""
    frame = _FRAME.get()
    return frame is not None and frame.tracked


# --- Starting a call. ---


def start(
    parent: Frame,
    invokable: InvokableBase[Any, Any],
    resource: ResourceBase,
    frame_type: type[Frame] = Frame,
) -> Any:
    """Starts a call in a tracked frame: matches it when replaying, else reserves its slot.

    Returns:
        The call's new frame (of ``frame_type``), or, for a call reused from
        the record (which is then done, its slot filled), its output resource.

    Raises:
        ReplayError: a strict replay's call that matches no recorded child.
        IncompleteSubinvocationError: the parent has already returned.
    """
    store = parent.store
    replay = parent.replay
    guide: Guide | None = None
    if replay is not None:
        # Replaying: match by digests first; a reused call stores nothing.
        ref_of = store.ref_type.of
        request = Request(ref_of(invokable), ref_of(resource))
        matched = _match(invokable, resource, store, replay, request, ref_of(request), parent)
        if type(matched) is not tuple:
            return matched  # Reused.
        guide = matched[0]
        if guide is None and invokable._enact_cache_ is not None:
            # A new call (replay guidance, which wins, has nothing for it).
            hit = _cache_hit(invokable, resource, store, request, parent)
            if hit is not _MISS:
                return hit
    elif invokable._enact_cache_ is not None:
        ref_of = store.ref_type.of
        request = Request(ref_of(invokable), ref_of(resource))
        hit = _cache_hit(invokable, resource, store, request, parent)
        if hit is not _MISS:
            return hit
    invokable_ref = store.commit(invokable)
    input_ref = store.commit(resource)
    request_ref = store.commit(Request(invokable_ref, input_ref))

    # new_frame(frame_type, store, guide), inlined: each call makes one.
    child = frame_type()
    child.store = store
    child.replay = guide
    child.children = []
    child.closed = False
    child.created = None
    child.parent = parent
    child.propagated = None
    child.invokable_ref = invokable_ref
    child.input_ref = input_ref
    child.request_ref = request_ref
    # Reserve the slot: one atomic append; the index is checked by identity,
    # since another thread may append between the two steps.
    if RUNS:
        child.index = _run_append(parent, child)  # (Logged with its slot.)
    else:
        children = parent.children
        children.append(child)
        index = len(children) - 1
        if children[index] is not child:
            index = _find(children, child)
        child.index = index
    if parent.closed:
        # Closed before (or while) the slot was reserved: the record may lack it.
        _check_included(parent, child, invokable, resource)
    return child


_MISS = object()


def _cache_hit(
    invokable: InvokableBase[Any, Any],
    resource: ResourceBase,
    store: Store,
    request: Request[Any, Any],
    parent: Frame,
) -> Any:
    """A call of a cached invokable: the output of its cached record, which then fills a
    slot of ``parent`` exactly as a reused call's does; or _MISS."""
    cache: Any = invokable._enact_cache_
    hit = cache_lookup(store, cache, store.ref_type.of(request).digest)
    if hit is None:
        return _MISS
    recorded_ref, response = hit
    _apply_state(invokable, store, response["invokable"], request.invokable)
    if parent.closed:
        raise _late(parent, invokable, resource)
    if RUNS:
        _run_append(parent, recorded_ref)
    else:
        parent.children.append(recorded_ref)
    return store.get(response["output"])


def _find(children: list[Any], child: Frame) -> int:
    for index in range(len(children) - 1, -1, -1):
        if children[index] is child:
            return index
    raise AssertionError("a reserved slot disappeared")  # pragma: no cover


def _check_included(parent: Frame, child: Frame, invokable: Any, resource: ResourceBase) -> None:
    """The parent closed while the child reserved its slot: raises if its record lacks it."""
    while True:
        final = getattr(parent, "final", None)
        if final is not None:
            break
        time.sleep(0)  # The parent is copying its children list right now.
    if child.index >= len(final):
        raise _late(parent, invokable, resource)


def _late(parent: Frame, invokable: Any, resource: ResourceBase) -> IncompleteSubinvocationError:
    call = shorten(f"{invokable!r}({resource})", _CALL_CHARS)
    return IncompleteSubinvocationError(
        f"{call} started after the call that made it ({_name(parent)}) had returned, so "
        "no record can hold it: await (or wait for) every call a call starts before it returns"
    )


def _name(frame: Frame) -> str:
    """The invokable class of a frame's call (read from the store: error paths only)."""
    try:
        request = frame.store.load(frame.request_ref)
        return str(frame.store.load(request["invokable"]).type.__qualname__)
    except Exception:  # A message must not fail because a record cannot be read.
        return "its parent"


# --- Matching. ---


def _match(
    invokable: InvokableBase[Any, Any],
    resource: ResourceBase,
    store: Store,
    replay: Guide,
    request: Request[Any, Any],
    request_ref: Ref[Request[Any, Any]],
    frame: Frame | None,
) -> Any:
    """Matches a new call against ``replay``, the recorded children of ``frame``.

    ``request`` is the new call's Request and ``request_ref`` a ref to it,
    neither stored (its fields name the invokable's state before the call,
    and the input). Reads the records as ResourceDicts (no conversion of the
    children list), so matching costs the same whatever the size of the
    recorded subtree.

    Returns:
        The output of a reused call, whose record then fills a slot of
        ``frame`` (None for a ReplayFrame: outside any tracked call nothing is
        recorded or written); else a 1-tuple with the Guide for re-running
        the call (None to run it afresh).
    """
    # Guide.take, inlined for the next recorded child in order (the replay's
    # hot path): the same steps.
    position = replay._next() if replay._taken else replay._position
    children = replay._children
    if position < len(children):
        recorded_ref = children[position]
        recorded = store.load(recorded_ref)
        if recorded["request"].digest == request_ref.digest:
            replay._position = position + 1
        else:
            found = replay._take_by_request(store, request_ref.digest)
            if found is None:
                if replay.strict:
                    raise replay_mismatch(store, invokable, resource, recorded["request"], position)
                return (None,)  # A new call (strict=False): it runs.
            recorded_ref, recorded = found
    else:
        return (None,)  # A call after the last recorded one: it runs.
    # The request matched (same digest), so the invokable's state before the
    # call, request.invokable, is the recorded one: the recorded Request need
    # not be read.
    invokable_ref = request.invokable
    response = store.load(recorded["response"])
    recorded_state: Ref[InvokableBase[Any, Any]] = response["invokable"]
    output_ref: Ref[Any] | None = response["output"]
    if output_ref is not None:
        _apply_state(invokable, store, recorded_state, invokable_ref)
        if frame is not None:
            if frame.closed:
                raise _late(frame, invokable, resource)
            if RUNS:
                _run_append(frame, recorded_ref)
            else:
                frame.children.append(recorded_ref)
        return store.get(output_ref)
    raised_ref: Ref[ExceptionResource] | None = response["raised"]
    override = replay.exception_override
    if (
        raised_ref is not None
        and response["raised_here"]
        and override is not None
        and store.load(raised_ref).type is not InvocationCancelled  # Never reused.
    ):
        value = override(raised_ref.deep_copy_resource())
        if value is not None:
            output = invokable._check_output(value, NoneResource(), None)
            _apply_state(invokable, store, recorded_state, invokable_ref)
            if frame is not None:  # (Outside any tracked call nothing is recorded.)
                if frame.closed:
                    raise _late(frame, invokable, resource)
                new_response = Response(
                    invokable=recorded_state,
                    output=store.commit(output),
                    raised=None,
                    raised_here=False,
                    children=response["children"],
                )
                answered = store.commit(Invocation(recorded["request"], store.commit(new_response)))
                if RUNS:
                    _run_append(frame, answered)
                else:
                    frame.children.append(answered)
            return output
    return (Guide._guide(response["children"], override, replay.strict),)


def match_untracked(
    frame: Frame, invokable: InvokableBase[Any, Any], resource: ResourceBase
) -> tuple[bool, Any]:
    """A call in a ReplayFrame (a ReplayContext outside any tracked call).

    Returns:
        (True, the reused output), or (False, the frame to run the call in:
        a ReplayFrame over its record's children, or None to run it plainly).
    """
    store = frame.store
    replay: Guide = frame.replay  # type: ignore[assignment]
    ref_of = store.ref_type.of
    request = Request(ref_of(invokable), ref_of(resource))
    matched = _match(invokable, resource, store, replay, request, ref_of(request), None)
    if type(matched) is not tuple:
        return True, matched
    guide = matched[0]
    return False, None if guide is None else new_frame(ReplayFrame, store, guide)


def _apply_state(
    invokable: InvokableBase[Any, Any],
    store: Store,
    recorded_state: Ref[InvokableBase[Any, Any]],
    invokable_ref: Ref[InvokableBase[Any, Any]],
) -> None:
    """Applies the recorded post-call state of the invokable, if it differs."""
    if recorded_state.digest != invokable_ref.digest:
        invokable.set_from(store.get(recorded_state))


# --- Finishing a call. ---


def succeed(
    invokable: InvokableBase[Any, Any], frame: Frame, output: Any, resource: ResourceBase
) -> Any:
    """Records a call that returned ``output`` and fills its slot; returns the checked output.

    Raises:
        InvocationError: the output is not what the invokable declares, the
            input changed, or calls it started had not finished
            (IncompleteSubinvocationError); the call is recorded as raising it.
    """
    try:
        output = invokable._check_output(output, resource, frame.input_ref)
    except InvocationError as e:
        fail(invokable, frame, e)
        raise
    # _close(frame), inlined: this runs for every call. Closed first, then
    # read (see _check_included); a private copy, which late children cannot
    # change (a call without children needs no copy).
    frame.closed = True
    children = frame.children
    if children:
        children = frame.final = children.copy()
        if not _FRAME_TYPES.isdisjoint(map(type, children)):  # (In C: ~2/5 of a loop's cost.)
            _fail_unfinished(invokable, frame, children)  # Raises, if some are unfinished.
    else:
        children = frame.final = []
    if frame.created:
        _fail_unfinished(invokable, frame, children)  # Raises, if some never started.
    frame.propagated = None
    store = frame.store
    # _state_after, inlined: the invokable's state after the call.
    state = frame.invokable_ref
    if type_info(type(invokable)).field_names and digest(invokable) != state.digest:
        state = store.commit(invokable)
    response = Response(
        invokable=state,
        output=store.commit(output),
        raised=None,
        raised_here=False,
        children=children,
    )
    # Fill the slot (in a closed parent's live list, which its record does not
    # use, this changes nothing).
    ref = frame.parent.children[frame.index] = store.commit(  # type: ignore[union-attr]
        Invocation(frame.request_ref, store.commit(response))
    )
    if invokable._enact_cache_ is not None:
        cache_remember(store, invokable._enact_cache_, frame.request_ref.digest, ref)
    if RUNS:
        _run_finished(frame, ref, None)
    return output


def fail(
    invokable: InvokableBase[Any, Any],
    frame: Frame,
    error: BaseException,
    children: list[Any] | None = None,
) -> Ref[ExceptionResource]:
    """Records a call that raised ``error`` and fills its slot; returns the recorded exception.

    ``asyncio.CancelledError`` is recorded as :class:`InvocationCancelled`.
    ``children`` is the frame's closed children list, if it is closed already.
    """
    store = frame.store
    if children is None:
        children = _close(frame)
    raised_ref: Ref[ExceptionResource] | None = None
    for propagated, propagated_ref in frame.propagated or ():
        if propagated is error:
            raised_ref = propagated_ref
            break
    # Done with the call: drop the exceptions, whose tracebacks would make
    # reference cycles through the stack frames.
    frame.propagated = None
    raised_here = raised_ref is None
    if raised_ref is None:
        raised_ref = _commit_exception(store, error)
    try:
        state_ref = _state_after(invokable, store, frame.invokable_ref)
    except (FieldTypeError, SerializationError):
        state_ref = frame.invokable_ref  # The call left its state unstorable.
    response = Response(
        invokable=state_ref,
        output=None,
        raised=raised_ref,
        raised_here=raised_here,
        children=children,
    )
    ref = store.commit(Invocation(frame.request_ref, store.commit(response)))
    parent: Frame = frame.parent  # type: ignore[assignment]
    if not parent.closed:
        parent.children[frame.index] = ref
        _note_propagated(parent, error, raised_ref)
    if RUNS:
        _run_finished(frame, ref, error)
    return raised_ref


# --- Durable runs (enact.run): a checkpoint after each finished call. ---

#: The durable runs in progress in this process, by the holder frame of
#: their top-level call (see open_invocation). Empty unless a run is active:
#: a tracked call then costs one test of it when it starts and one when it ends.
RUNS: dict[Frame, Any] = {}


def _run_of(frame: Frame) -> Any:
    """The durable run a frame belongs to, or None."""
    top = frame
    while True:
        parent = top.parent
        if parent is None:
            return RUNS.get(top)
        top = parent


def _run_finished(frame: Frame, ref: Ref[Any], error: BaseException | None) -> None:
    """A call finished (recorded as ``ref``): if it belongs to a durable run, checkpoints
    the run."""
    run = _run_of(frame)
    if run is not None:
        run.finished(frame, ref, error)


def _run_append(parent: Frame, child: Any) -> int:
    """Fills the next slot of ``parent`` with ``child`` (a Frame that starts, or the ref of
    a call reused or cached) and returns its index; in a durable run, logs it with the
    slot (under the run's lock, so that the slots logged never leave a gap)."""
    run = _run_of(parent)
    if run is not None:
        return cast(int, run.appended(parent, child))
    children = parent.children
    children.append(child)
    index = len(children) - 1
    if children[index] is not child:
        index = _find(children, child)
    return index


def in_flight_record(frame: Frame) -> Ref[Invocation[Any, Any]]:
    """The record of a call still running: no output, its children so far (committed)."""
    return _in_flight(frame, False)


def _note_propagated(
    frame: Frame, error: BaseException, raised_ref: Ref[ExceptionResource]
) -> None:
    """Notes that ``error``, recorded as ``raised_ref``, leaves a child of ``frame``."""
    # Children run in threads share their parent's frame: two of them failing
    # at once must not each make a list and lose one. Only failing calls come
    # here, so the lock costs the others nothing.
    with _PROPAGATED_LOCK:
        if frame.propagated is None:
            frame.propagated = []
        frame.propagated.append((error, raised_ref))


_PROPAGATED_LOCK = threading.Lock()


def _close(frame: Frame) -> list[Any]:
    """Closes a frame and returns its children for its record (succeed inlines it).

    Every slot holds a ref in what it returns: a child still running is
    recorded in flight (see :func:`_close_unfinished`).
    """
    frame.closed = True
    children = frame.final = frame.children.copy()
    if not _FRAME_TYPES.isdisjoint(map(type, children)):
        _close_unfinished(frame, children)
    return children


def _close_unfinished(frame: Frame, children: list[Any]) -> list[str]:
    """Records the children still running in flight, in place; returns the descriptions of
    the calls left unfinished (running and not being cancelled, or never started)."""
    unfinished: list[str] = []
    for index, child in enumerate(children):
        if isinstance(child, Frame):
            cancelling = _cancelling(child)
            children[index] = _in_flight(child, cancelling)
            if not cancelling:
                unfinished.append(f"child {index}, {_describe(child)} (still running)")
    for coroutine in list((frame.created or {}).values()):
        if inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED:
            unfinished.append(f"{_describe_coroutine(coroutine)} (not started yet)")
    return unfinished


def _fail_unfinished(invokable: InvokableBase[Any, Any], frame: Frame, children: list[Any]) -> None:
    """A call returned with calls it started unfinished: records its children (in place)
    and, if any call is left unfinished, records and raises IncompleteSubinvocationError."""
    unfinished = _close_unfinished(frame, children)
    if unfinished:
        error = _incomplete(frame, unfinished)
        fail(invokable, frame, error, children)
        raise error


def _cancelling(frame: Frame) -> bool:
    """Whether the task running a call is being cancelled (its parent cancelled it)."""
    task = getattr(frame, "task", None)
    return task is not None and task.cancelling() > 0


def _in_flight(frame: Frame, cancelled: bool) -> Ref[Invocation[Any, Any]]:
    """The record of a call that has not finished: no output, its children so far.

    Its frame stays open (the call goes on; its own record, when it
    finishes, is referenced by nothing).
    """
    children = frame.children.copy()
    for index, child in enumerate(children):
        if isinstance(child, Frame):
            children[index] = _in_flight(child, _cancelling(child))
    return commit_in_flight(
        frame.store, frame.request_ref, frame.invokable_ref, children, cancelled=cancelled
    )


def commit_in_flight(
    store: Store,
    request_ref: Ref[Request[Any, Any]],
    invokable_ref: Ref[Any],
    children: list[Any],
    *,
    cancelled: bool = False,
) -> Ref[Invocation[Any, Any]]:
    """Commits the record of a call in flight: no output, ``children`` (refs) so far;
    ``cancelled``: recorded as cancelled (InvocationCancelled, raised here)."""
    response = Response(
        invokable=invokable_ref,
        output=None,
        raised=store.commit(_CANCELLED) if cancelled else None,
        raised_here=cancelled,
        children=children,
    )
    return store.commit(Invocation(request_ref, store.commit(response)))


def _incomplete(frame: Frame, unfinished: list[str]) -> IncompleteSubinvocationError:
    named = "; ".join(unfinished[:_NAMED])
    if len(unfinished) > _NAMED:
        named += f"; and {len(unfinished) - _NAMED} more"
    return IncompleteSubinvocationError(
        f"{_name(frame)}.call() returned while calls it started had not finished: {named}. "
        "Await (or cancel and await) every call a call starts, and wait for the futures "
        "of the calls it submits, before it returns"
    )


def _describe(frame: Frame) -> str:
    try:
        request = frame.store.get(frame.request_ref)
        return shorten(f"{request.invokable()!r}({request.input()})", _CALL_CHARS)
    except Exception:  # A message must not fail because a record cannot be read.
        return f"request {frame.request_ref.digest}"


def _describe_coroutine(coroutine: Coroutine[Any, Any, Any]) -> str:
    try:
        arguments = coroutine.cr_frame.f_locals  # type: ignore[attr-defined]
        return shorten(f"{arguments['self']!r}({arguments['resource']})", _CALL_CHARS)
    except Exception:  # pragma: no cover - a message must not fail
        return repr(coroutine)


def _state_after(
    invokable: InvokableBase[Any, Any], store: Store, before: Ref[InvokableBase[Any, Any]]
) -> Ref[InvokableBase[Any, Any]]:
    """Returns a ref to the invokable's state after a call (``before`` if unchanged; succeed
    inlines it)."""
    if not type_info(type(invokable)).field_names or digest(invokable) == before.digest:
        return before
    return store.commit(invokable)


def _commit_exception(store: Store, error: BaseException) -> Ref[ExceptionResource]:
    if isinstance(error, ExceptionResource):
        try:
            return store.commit(error)
        except (FieldTypeError, SerializationError):
            pass  # Fields that cannot be stored: record the traceback instead.
    if is_cancellation(error):
        return store.commit(_CANCELLED)
    text = "".join(traceback.format_exception(error))
    return cast(Ref[ExceptionResource], store.commit(WrappedException(text)))


_CANCELLED = InvocationCancelled("cancelled before it finished")


def is_cancellation(error: BaseException) -> bool:
    """Whether ``error`` is asyncio's CancelledError (asyncio is imported only by code
    that runs an event loop: ~15 ms and thousands of objects that ``import enact``
    need not pay for)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(error, asyncio.CancelledError)


# --- Running a started call (the executor driver; __call__ inlines the same). ---


def run_started(invokable: InvokableBase[Any, Any], frame: Frame, resource: ResourceBase) -> Any:
    """Runs a sync call started by :func:`start` (in a worker thread) and records it."""
    token = _FRAME.set(frame)
    try:
        output = invokable._call_with(resource)
    except Exception as e:
        fail(invokable, frame, e)
        raise
    finally:
        _FRAME.reset(token)
    return succeed(invokable, frame, output, resource)


def cancel_unstarted(invokable: InvokableBase[Any, Any], frame: Frame) -> None:
    """Records a started call whose future was cancelled before it ran."""
    fail(invokable, frame, _CANCELLED)


# --- Top-level invocations. ---


def open_invocation(
    store: Store,
    invokable: InvokableBase[Any, Any],
    arg_ref: Any,
    replay_from: Invocation[Any, Any] | None,
    exception_override: ExceptionOverride | None,
    strict: bool,
    is_async: bool,
) -> tuple[Frame, ResourceBase, Exception | None] | Invocation[Any, Any]:
    """Starts a top-level invocation: its frame, its input, and an error found before
    it runs (recorded as its outcome); or the recorded invocation, if entirely reused."""
    # What the call will refer to without writing it (a given input, the
    # recorded invocation to replay) is stamped as just written first, so
    # that a concurrent gc keeps it, and all it reaches, while this runs.
    protect: list[Ref[Any]] = [arg_ref] if isinstance(arg_ref, Ref) else []
    if replay_from is not None:
        protect += [replay_from.request, replay_from.response]
    if protect:
        store.refresh(protect)
    cache = invokable._enact_cache_
    if cache is not None and replay_from is None:
        # Looked up before anything is written: a store opened read-only serves hits.
        hit = _top_cache_hit(store, invokable, arg_ref, cache)
        if hit is not None:
            return hit
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
    invokable_ref = store.commit(invokable)
    request_ref = store.commit(Request(invokable_ref, input_ref))
    # The record is written into the one slot of a holder frame (never closed).
    holder = new_frame(Frame, store, None)
    frame = new_frame(AsyncFrame if is_async else Frame, store, None)
    frame.invokable_ref = invokable_ref
    frame.input_ref = input_ref
    frame.request_ref = request_ref
    frame.parent = holder
    frame.index = 0
    error: Exception | None = None
    try:
        invokable._check_input(resource)
        if replay_from is not None:
            # The recorded call is the guide of this one. Only the records
            # needed are read, so a replay that re-runs nothing costs the
            # same whatever the number of children.
            recorded_ref = store.commit(replay_from)
            if replay_from.request.digest == request_ref.digest:
                top = Guide._guide([recorded_ref], exception_override, strict)
                request = Request(invokable_ref, input_ref)
                matched = _match(invokable, resource, store, top, request, request_ref, holder)
                if type(matched) is not tuple:
                    return cast(Invocation[Any, Any], store.get(holder.children[0]))
                frame.replay = matched[0]
            else:
                # Another invokable state or input: its children still guide.
                response = store.load(store.load(recorded_ref)["response"])
                frame.replay = Guide._guide(response["children"], exception_override, strict)
    except InvocationError as e:
        error = e
    holder.children.append(frame)
    try:
        return frame, resource, error
    finally:
        # The error's traceback holds this function's frame: not the error too.
        error = None


def _top_cache_hit(
    store: Store, invokable: InvokableBase[Any, Any], arg_ref: Any, cache: Any
) -> Invocation[Any, Any] | None:
    """The cached record of a top-level call, if the cache holds one."""
    ref_of = store.ref_type.of
    if arg_ref is None:
        input_ref = ref_of(NoneResource())
    elif isinstance(arg_ref, Ref):
        input_ref = arg_ref
    elif isinstance(arg_ref, ResourceBase):
        input_ref = ref_of(arg_ref)
    else:
        return None  # open_invocation says what is wrong.
    hit = cache_lookup(store, cache, ref_of(Request(ref_of(invokable), input_ref)).digest)
    if hit is None:
        return None
    record = cast(Invocation[Any, Any], store.get(hit[0]))
    resource = record.request().input()
    invokable._check_input(resource)
    _apply_state(invokable, store, hit[1]["invokable"], record.request().invokable)
    return record


def close_invocation(
    invokable: InvokableBase[Any, Any],
    frame: Frame,
    resource: ResourceBase,
    output: Any,
    error: BaseException | None,
    raise_on_invocation_error: bool,
) -> Invocation[Any, Any]:
    """Records a top-level invocation's outcome and returns its record.

    Raises:
        InvocationError: when ``raise_on_invocation_error`` and the call
            raised one (or its output check did).
    """
    if error is None:
        try:
            succeed(invokable, frame, output, resource)
        except InvocationError as e:
            error = e
    else:
        fail(invokable, frame, error)
    holder = cast(Frame, frame.parent)
    holder.propagated = None  # (The error would hold the holder through tracebacks: a cycle.)
    record = cast(Invocation[Any, Any], frame.store.get(holder.children[0]))
    # Whether raised or only recorded, this frame lets go of the exception:
    # its traceback holds this frame, whose `error` would hold it (a cycle).
    try:
        if error is not None and (
            is_cancellation(error)
            or (raise_on_invocation_error and isinstance(error, InvocationError))
        ):
            raise error
    finally:
        error = None
    return record


# --- Calls that lost their context: threads that run while an invocation does. ---

#: Set in a context carried to a thread on purpose (enact.ThreadPoolExecutor):
#: an untracked call there did not lose a tracked call.
CARRIED: ContextVar[bool] = ContextVar("enact_context_carried", default=False)

# Thread id -> how many top-level invocations run in it.
_RUNNING: dict[int, int] = {}
_RUNNING_LOCK = threading.Lock()
_get_ident = threading.get_ident


def enter_invocation() -> None:
    """Notes that a top-level invocation runs in this thread (see check_untracked)."""
    ident = _get_ident()
    with _RUNNING_LOCK:
        _RUNNING[ident] = _RUNNING.get(ident, 0) + 1


def leave_invocation() -> None:
    """Notes that a top-level invocation running in this thread has ended."""
    ident = _get_ident()
    with _RUNNING_LOCK:
        count = _RUNNING.pop(ident, 1) - 1
        if count:
            _RUNNING[ident] = count


def check_untracked(invokable: InvokableBase[Any, Any]) -> None:
    """Warns if an untracked call may be one that lost its tracked call's context.

    That is a call made outside any tracked call in a thread while an
    invocation runs in another: threads do not inherit context variables.
    """
    if _RUNNING and _get_ident() not in _RUNNING and not CARRIED.get():
        warnings.warn(
            f"{type(invokable).__qualname__} was called outside any tracked call, in a thread "
            "other than the one running a tracked invocation, so it is not recorded: threads "
            "do not inherit the caller's context. To record it as a child, run it with "
            "enact.ThreadPoolExecutor, invokable.submit(...), asyncio.to_thread or "
            "contextvars.copy_context().run (if it is not part of that invocation, filter "
            "enact.UntrackedCallWarning)",
            UntrackedCallWarning,
            stacklevel=3,
        )


# --- Async calls. ---

_coroutine_keys = itertools.count()


def next_coroutine_key() -> int:
    """A key for an async call's coroutine in its frame's ``created`` (atomic)."""
    return next(_coroutine_keys)
