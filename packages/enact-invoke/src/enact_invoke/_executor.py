"""enact.ThreadPoolExecutor: a thread pool whose tasks are recorded children of the caller.

The executor driver of the tracked-call engine (``_engine``): an invokable
submitted inside a tracked call starts in the submitting thread (its
position is taken, or it is matched against the record when replaying) and
runs in a worker thread, in a copy of the caller's context.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from enact_invoke._async import AsyncInvokableBase
from enact_invoke._engine import (
    CARRIED,
    Frame,
    cancel_unstarted,
    get_frame,
    run_started,
    start,
)
from enact_invoke._invokable import InvokableBase

__all__ = ["ThreadPoolExecutor", "shared_executor", "submit_carried"]

T = TypeVar("T")


class ThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A :class:`concurrent.futures.ThreadPoolExecutor` whose tasks run in a copy of
    the submitting thread's context.

    So the active store and the tracked call in progress travel with the
    task: invokables called in its tasks are recorded as children of the
    caller. An invokable submitted itself (``executor.submit(child, x)``,
    ``executor.map(child, xs)``, ``child.submit(x)``) takes its position among
    the caller's children when it is submitted, so the record holds the calls
    in submit order whatever order the threads run them in; when replaying, a
    call reused from the record does not go to a thread at all (its future
    is done at once). Calls made by other functions submitted take their
    positions when they start, in the worker.

    The caller must wait for the futures of the calls it submits before it
    returns (``IncompleteSubinvocationError`` otherwise). A future cancelled
    before it ran is recorded as a cancelled call.

    Takes the arguments of :class:`concurrent.futures.ThreadPoolExecutor`.
    """

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Schedules ``fn(*args, **kwargs)`` in a copy of the current context."""
        return submit_carried(super().submit, fn, args, kwargs)


def submit_carried(
    pool_submit: Callable[..., concurrent.futures.Future[Any]],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> concurrent.futures.Future[Any]:
    """Submits ``fn(*args, **kwargs)`` with ``pool_submit`` (a thread pool's plain
    ``submit``), to run in a copy of the current context: an invokable is started
    here, as a child of the tracked call in progress (see ThreadPoolExecutor)."""
    context = contextvars.copy_context()
    frame = get_frame()
    if frame is not None and frame.tracked and isinstance(fn, InvokableBase):
        if isinstance(fn, AsyncInvokableBase):
            fn.submit()  # Raises the InvokableTypeError that says what to do.
        resource = fn._make_input(args, kwargs)
        child = start(frame, fn, resource)
        if type(child) is not Frame:
            done: concurrent.futures.Future[Any] = concurrent.futures.Future()
            done.set_result(child)  # Reused from the record.
            return done
        future = pool_submit(context.run, run_started, fn, child, resource)
        future.add_done_callback(lambda f: _cancelled(f, fn, child))
        return future
    # No tracked call to record it in: the context is carried all the same
    # (a store, a ReplayContext), and the call is untracked on purpose.
    context.run(CARRIED.set, True)
    return pool_submit(context.run, fn, *args, **kwargs)


def _cancelled(future: concurrent.futures.Future[Any], fn: Any, child: Frame) -> None:
    if future.cancelled():
        cancel_unstarted(fn, child)


# The executor of Invokable.submit, and the process it belongs to.
_shared: tuple[ThreadPoolExecutor, int] | None = None
_shared_lock = threading.Lock()


def shared_executor() -> ThreadPoolExecutor:
    """The executor of ``invokable.submit``: made on first use, with the default size
    (and again in a forked process, which does not inherit its threads)."""
    global _shared
    shared = _shared
    if shared is None or shared[1] != os.getpid():
        with _shared_lock:
            shared = _shared
            if shared is None or shared[1] != os.getpid():
                shared = _shared = (ThreadPoolExecutor(thread_name_prefix="enact"), os.getpid())
    return shared[0]
