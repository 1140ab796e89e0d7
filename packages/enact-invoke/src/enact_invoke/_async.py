"""Async invokables: ``async def call``, awaited as children of async tracked calls.

The async driver of the tracked-call engine (``_engine``): the same start,
matching and recording as the sync driver, around an ``await``. A call takes
its position among its parent's children in the first step of its coroutine
(when ``await child(x)`` runs it, or when the task ``asyncio.gather`` or
``create_task`` made for it first runs, in the order they were made).
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

from enact_invoke._engine import (
    _RUNNING,
    NO_COROUTINES,
    AsyncFrame,
    Frame,
    check_untracked,
    close_invocation,
    enter_invocation,
    fail,
    get_frame,
    is_cancellation,
    leave_invocation,
    match_untracked,
    next_coroutine_key,
    open_invocation,
    reset_frame,
    set_frame,
    start,
    succeed,
)
from enact_invoke._exceptions import InvokableTypeError
from enact_invoke._invokable import InvokableBase, _takes_input
from enact_invoke._records import ExceptionOverride, Invocation
from enact_resource import Resource, ResourceBase
from enact_store import Ref, Store

# asyncio is imported when an event loop first needs it (as `import enact`
# would otherwise pay ~15 ms for it): the coroutines below run under one.

__all__ = ["AsyncInvokable", "AsyncInvokableBase"]

I = TypeVar("I", bound=ResourceBase)  # noqa: E741
O = TypeVar("O", bound=ResourceBase)  # noqa: E741


class AsyncInvokableBase(InvokableBase[I, O]):
    """An invokable whose :meth:`call` is a coroutine function: ``await inv(x)``.

    Calling it returns a coroutine. Inside an async tracked call, awaiting it
    (directly, or through ``asyncio.gather``, ``create_task``, a
    ``TaskGroup``...) records a child invocation, in the position the call
    takes when its coroutine first runs. Sync invokables can be called from
    an async call as usual; an async invokable cannot be called from a sync
    call (:class:`InvokableTypeError`): make the caller async too.

    Run it with ``await inv.invoke_async(x)``; ``inv.invoke(x)`` runs that
    with :func:`asyncio.run` when no event loop runs in the thread.
    """

    __slots__ = ()

    @abc.abstractmethod
    async def call(self, *args: Any) -> Any:
        """Computes the output from the input (``async def call(self)`` without a
        parameter is allowed when the input type is NoneResource)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, O]:  # type: ignore[override]
        resource = self._make_input(args, kwargs)
        frame = get_frame()
        if frame is None or not frame.tracked:
            return self._run(resource, None, 0)
        created = frame.created
        if created is None:
            raise _called_from_sync(self, frame)
        if created is NO_COROUTINES:
            created = frame.created = {}
        # Noted until its first step, so that a call that never ran is named
        # if its parent returns first.
        key = next_coroutine_key()
        coroutine = self._run(resource, created, key)
        created[key] = coroutine
        return coroutine

    async def _run(self, resource: ResourceBase, created: dict[int, Any] | None, key: int) -> O:
        if created is not None:
            del created[key]
        frame = get_frame()
        if frame is None:
            if _RUNNING:
                check_untracked(self)
            return self._check_output(await self._coroutine(resource), resource, None)
        if not frame.tracked:
            # A ReplayContext outside any tracked call: reused, or run untracked.
            reused, value = match_untracked(frame, self, resource)
            if reused:
                return value  # type: ignore[no-any-return]
            token = set_frame(value)
            try:
                output = await self._coroutine(resource)
            finally:
                _reset(token)
            return self._check_output(output, resource, None)
        if frame.created is None:
            raise _called_from_sync(self, frame)
        child = start(frame, self, resource, AsyncFrame)
        if type(child) is not AsyncFrame:
            return child  # type: ignore[no-any-return]
        child.created = NO_COROUTINES
        asyncio = sys.modules.get("asyncio")
        child.task = None if asyncio is None else asyncio.current_task()
        token = set_frame(child)
        try:
            output = await self._coroutine(resource)
        except BaseException as e:
            if isinstance(e, Exception) or is_cancellation(e):
                fail(self, child, e)  # A cancelled call is recorded as InvocationCancelled.
            raise
        finally:
            # Needed only while the call runs; kept, a failed task would hold
            # its exception, whose traceback holds this frame: a cycle.
            child.task = None
            try:
                reset_frame(token)
            except ValueError:
                pass  # See _reset.
        return succeed(self, child, output, resource)  # type: ignore[no-any-return]

    def _coroutine(self, resource: ResourceBase) -> Coroutine[Any, Any, Any]:
        result = self.call(resource) if _takes_input(type(self)) else self._call_with(resource)
        if not inspect.iscoroutine(result):
            raise InvokableTypeError(
                f"{type(self).__qualname__}.call() must be a coroutine function (async def) "
                f"in an AsyncInvokable; it returned {type(result).__qualname__}"
            )
        return result

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Not for async invokables: raises :class:`InvokableTypeError`."""
        raise InvokableTypeError(
            f"{type(self).__qualname__} is an AsyncInvokable: run calls concurrently with "
            "asyncio (asyncio.gather, asyncio.create_task, a TaskGroup), not submit()"
        )

    # --- Tracked invocation. ---

    def invoke(
        self,
        arg_ref: Ref[I] | I | None = None,
        replay_from: Invocation[I, O] | None = None,
        exception_override: ExceptionOverride | None = None,
        raise_on_invocation_error: bool = True,
        strict: bool = True,
    ) -> Invocation[I, O]:
        """Runs :meth:`invoke_async` with :func:`asyncio.run` (see :meth:`InvokableBase.invoke`).

        Raises:
            InvokableTypeError: an event loop runs in this thread (await
                :meth:`invoke_async` there instead).
        """
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # No loop runs here: run one (outside this handler, not to chain to it).
        else:
            raise InvokableTypeError(
                f"{type(self).__qualname__} is an AsyncInvokable and an event loop is running "
                "in this thread, where invoke() cannot wait for it: use `await "
                f"{type(self).__qualname__}(...).invoke_async(...)`"
            )
        return asyncio.run(
            self.invoke_async(
                arg_ref,
                replay_from,
                exception_override,
                strict,
                raise_on_invocation_error=raise_on_invocation_error,
            )
        )

    async def invoke_async(
        self,
        arg: Ref[I] | I | None = None,
        replay_from: Invocation[I, O] | None = None,
        exception_override: ExceptionOverride | None = None,
        strict: bool = True,
        *,
        raise_on_invocation_error: bool = True,
    ) -> Invocation[I, O]:
        """Runs the invokable tracked in the active store and returns the record.

        As :meth:`InvokableBase.invoke`, in the event loop. The store's work
        never blocks the loop for long: the invocation's objects are batched
        (see ``Store.batch``), the batch is written in a background thread
        each time it fills up, and its last write runs in a thread too
        (``asyncio.to_thread``). Cancelling the task records the invocation
        (and its calls in progress) as cancelled, and raises
        :class:`asyncio.CancelledError` as usual.
        """
        import asyncio  # (Imported already: an event loop runs this.)

        store = Store.current()
        with store.batch(background=True):
            try:
                return await self._invoke_async(
                    store, arg, replay_from, exception_override, strict, raise_on_invocation_error
                )
            finally:
                # The batch's last write, in a thread: the event loop goes on.
                await asyncio.to_thread(store.flush)

    async def _invoke_async(
        self,
        store: Store,
        arg: Ref[I] | I | None,
        replay_from: Invocation[I, O] | None,
        exception_override: ExceptionOverride | None,
        strict: bool,
        raise_on_invocation_error: bool,
    ) -> Invocation[I, O]:
        opened: Any = open_invocation(
            store, self, arg, replay_from, exception_override, strict, True
        )
        if type(opened) is not tuple:
            return opened  # type: ignore[no-any-return]
        frame, resource, error = opened
        opened = None  # Holds the error too: see below.
        error = cast("BaseException | None", error)
        output: Any = None
        enter_invocation()
        try:
            if error is None:
                token = set_frame(frame)
                try:
                    output = await self._coroutine(resource)
                except BaseException as e:
                    if not (isinstance(e, Exception) or is_cancellation(e)):
                        raise
                    error = e
                finally:
                    _reset(token)
            return close_invocation(self, frame, resource, output, error, raise_on_invocation_error)
        finally:
            error = None  # See invoke: no reference cycle through this frame.
            leave_invocation()


@dataclasses.dataclass
class AsyncInvokable(Resource, AsyncInvokableBase[I, O]):
    """An async invokable defined as a dataclass: subclass it, add fields and ``async def call``."""


def _reset(token: Any) -> None:
    try:
        reset_frame(token)
    except ValueError:
        # A suspended coroutine closed from another context (garbage
        # collection): that context never saw the frame.
        pass


def _called_from_sync(invokable: InvokableBase[Any, Any], frame: Frame) -> InvokableTypeError:
    name = type(invokable).__qualname__
    try:
        request = frame.store.load(frame.request_ref)
        parent = frame.store.load(request["invokable"]).type.__qualname__
    except Exception:  # A message must not fail because a record cannot be read.
        parent = "the calling invokable"
    return InvokableTypeError(
        f"{name} is an AsyncInvokable, so it cannot be called from {parent}.call(), which is "
        f"synchronous (its coroutine would never run): make {parent} an enact.AsyncInvokable "
        f"with `async def call` and `await` the call there, or run {name} on its own with "
        "invoke() / `await invoke_async()`"
    )
