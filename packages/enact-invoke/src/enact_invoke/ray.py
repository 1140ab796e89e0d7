"""Run children on Ray: ``enact.executor(RayExecutor())``. Needs ``enact-invoke[ray]``.

Each call submitted in the block runs as a Ray task in a worker process,
which opens the active store by URL (a PostgreSQL store for a cluster;
SQLite or file stores on one machine), runs the call tracked and commits its
record. See :func:`enact_invoke.executor`.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

try:
    import ray
except ImportError as e:  # pragma: no cover - tested in a process without Ray
    raise ImportError("enact_invoke.ray needs Ray: pip install 'enact-invoke[ray]'") from e

__all__ = ["RayExecutor"]

T = TypeVar("T")


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


class RayExecutor(concurrent.futures.Executor):
    """A :class:`concurrent.futures.Executor` that runs each task as a Ray task.

    Connects to Ray when made, unless Ray is initialised already in this
    process: ``address=None`` starts a local Ray instance (or joins the one
    named by ``RAY_ADDRESS``), ``address="auto"`` joins a running one,
    ``"ray://host:10001"`` a remote cluster. ``shutdown()`` disconnects only
    if this executor connected.

    A task whose worker dies is not retried unless asked: the call is then
    recorded as raising :class:`~enact_invoke.RemoteCallError` (Ray's
    ``WorkerCrashedError`` in its message). Pass ``max_retries=N`` to have Ray
    re-run it (a re-run is a new sample of the call, recorded in its slot).

    Args:
        address: the Ray cluster to connect to (see ``ray.init``).
        **ray_options: options of every task (``ray.remote(...).options``):
            ``num_cpus``, ``resources``, ``max_retries`` (default 0),
            ``runtime_env``...
    """

    def __init__(self, address: str | None = None, **ray_options: Any) -> None:
        self._connected = False
        if not ray.is_initialized():
            ray.init(address=address)
            self._connected = True
        ray_options.setdefault("max_retries", 0)
        self._remote = ray.remote(_call).options(**ray_options)
        self._lock = threading.Lock()
        self._shut = False

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Runs ``fn(*args, **kwargs)`` as a Ray task; returns a future of its result."""
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot submit to a RayExecutor after shutdown")
            object_ref = self._remote.remote(fn, args, kwargs)
        future: concurrent.futures.Future[T] = object_ref.future()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stops accepting tasks; disconnects from Ray if this executor connected."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
        if self._connected:
            ray.shutdown()
