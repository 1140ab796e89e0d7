"""Run children on Dask: ``enact.executor(DaskExecutor(client))``. Needs ``enact-invoke[dask]``.

Each call submitted in the block runs as a Dask task on a worker, which
opens the active store by URL (a PostgreSQL store for a cluster; SQLite or
file stores on one machine), runs the call tracked and commits its record.
See :func:`enact_invoke.executor`.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

try:
    import distributed
except ImportError as e:  # pragma: no cover - tested in a process without Dask
    raise ImportError(
        "enact_invoke.dask needs Dask's distributed scheduler: pip install 'enact-invoke[dask]'"
    ) from e

__all__ = ["DaskExecutor"]

T = TypeVar("T")


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


class DaskExecutor(concurrent.futures.Executor):
    """A :class:`concurrent.futures.Executor` that runs each task on a Dask cluster.

    Every task is submitted with ``pure=False``, so Dask gives it a key of its
    own: two calls with the same request are two tasks (two samples), never
    merged by Dask's hashing. enact decides identity by request digest, when
    replaying, before anything is sent.

    A task whose worker dies is re-run by Dask on another worker, up to the
    scheduler's ``distributed.scheduler.allowed-failures`` (3 by default);
    then Dask's ``KilledWorker`` is recorded as the call's
    :class:`~enact_invoke.RemoteCallError`. ``shutdown()`` leaves the client
    and its cluster open (they are the caller's).

    Args:
        client: a ``distributed.Client`` connected to the cluster.
        **submit_options: options of every ``client.submit`` (``resources``,
            ``retries``, ``priority``...); not ``pure`` or ``key``.
    """

    def __init__(self, client: distributed.Client, **submit_options: Any) -> None:
        if not isinstance(client, distributed.Client):
            raise TypeError(
                f"DaskExecutor expects a distributed.Client, got {type(client).__qualname__}"
            )
        for name in ("pure", "key"):
            if name in submit_options:
                raise TypeError(
                    f"DaskExecutor does not take {name!r}: every task is a new one (pure=False)"
                )
        self._client = client
        self._options = submit_options
        self._lock = threading.Lock()
        # Dask futures until done: a Dask future dropped is a task cancelled.
        self._running: set[Any] = set()  # (distributed is partly untyped.)
        self._shut = False

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Runs ``fn(*args, **kwargs)`` as a Dask task; returns a future of its result."""
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot submit to a DaskExecutor after shutdown")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        task: Any = self._client.submit(_call, fn, args, kwargs, pure=False, **self._options)
        with self._lock:
            self._running.add(task)

        def done(task: Any) -> None:
            # Not by its status: a task whose worker died may call back while
            # Dask re-runs it; exception() waits for its outcome.
            try:
                error = task.exception()
                if error is None:
                    value = task.result()
            except BaseException as e:  # Cancelled, or the client lost the cluster.
                error = e
            finally:
                with self._lock:
                    self._running.discard(task)
            if future.done():
                return  # (Called back again for the same task.)
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

        task.add_done_callback(done)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stops accepting tasks (and cancels the running ones if ``cancel_futures``)."""
        with self._lock:
            self._shut = True
            running = list(self._running)
        if cancel_futures and running:
            client: Any = self._client
            client.cancel(running)
        elif wait and running:
            wait_all: Any = distributed.wait
            wait_all(running)
