"""enact.executor and enact.map: children run by any executor, also in other processes.

The remote driver of the tracked-call engine (``_engine``). A call submitted
inside a tracked call under ``executor(ex)``:

- to a thread pool, runs as with :class:`enact_invoke.ThreadPoolExecutor`
  (in a copy of the caller's context, in this process);
- to any other executor (a process pool, :class:`enact_invoke.ray.RayExecutor`,
  :class:`enact_invoke.dask.DaskExecutor`), is *started* here: it takes its
  slot among the caller's children, or, when replaying, is matched against the
  record (a reused call is never sent anywhere). Otherwise its request is
  written to the store, and a small picklable :class:`RemoteTask` goes to the
  executor: the store's URL (without credentials), the request's digest, the
  digests of the recorded children that guide a re-run, and the classes to
  import. The worker opens the store, runs the call tracked, commits its whole
  subtree in one transaction and returns the digest of its invocation, which
  fills the slot here. A worker that returns nothing (killed, say) leaves the
  call recorded as raising :class:`RemoteCallError`.

Identity is the request digest: an engine's own task hashing never decides
whether two calls are the same (every task is submitted as a new one).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import os
import pickle
import threading
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from enact_invoke._async import AsyncInvokableBase
from enact_invoke._engine import (
    RUNS,
    Frame,
    Guide,
    _note_propagated,
    _run_finished,
    close_invocation,
    enter_invocation,
    fail,
    get_frame,
    leave_invocation,
    match_untracked,
    open_invocation,
    reset_frame,
    set_frame,
    start,
)
from enact_invoke._exceptions import (
    ExceptionResource,
    InvokableTypeError,
    RemoteCallError,
    StoreNotShared,
)
from enact_invoke._executor import ThreadPoolExecutor, shared_executor, submit_carried
from enact_invoke._invokable import InvokableBase
from enact_invoke._records import ExceptionOverride
from enact_resource import Registry, ResourceBase
from enact_store import (
    FileBackend,
    InMemoryBackend,
    PostgresBackend,
    Ref,
    SqliteBackend,
    Store,
    StoreConfigError,
    open_store,
)

__all__ = ["STORE_URL_VARIABLE", "RemoteTask", "executor", "map", "run_task", "store_url", "submit"]

O = TypeVar("O", bound=ResourceBase)  # noqa: E741

#: The environment variable a worker reads a PostgreSQL password from (the
#: store URL sent to workers never holds one): the enact CLI's store variable.
STORE_URL_VARIABLE = "ENACT_STORE"

_EXECUTOR: ContextVar[concurrent.futures.Executor | None] = ContextVar(
    "enact_executor", default=None
)


# --- The API. ---


@contextlib.contextmanager
def executor(ex: concurrent.futures.Executor) -> Iterator[concurrent.futures.Executor]:
    """Runs the calls submitted in the block (``invokable.submit``, :func:`map`) on ``ex``.

    ``ex`` is any :class:`concurrent.futures.Executor`: a thread pool runs the
    calls in this process (as :class:`~enact_invoke.ThreadPoolExecutor` does);
    any other executor (``concurrent.futures.ProcessPoolExecutor``,
    :class:`enact_invoke.ray.RayExecutor`, :class:`enact_invoke.dask.DaskExecutor`)
    runs each call in a worker that opens the active store by URL, runs the
    call tracked there and commits its record. Inside a tracked call, a call
    takes its position among the caller's children when it is submitted, and
    a call that a replay reuses is never sent to a worker.

    The block's context (the executor) is carried by the current thread or
    task only. The executor is not shut down at the end of the block.

    Raises:
        InvokableTypeError: ``ex`` is not a ``concurrent.futures.Executor``.
    """
    if not isinstance(ex, concurrent.futures.Executor):
        raise InvokableTypeError(
            f"enact.executor expects a concurrent.futures.Executor (a thread or process pool, "
            f"enact_invoke.ray.RayExecutor, enact_invoke.dask.DaskExecutor), "
            f"got {type(ex).__qualname__}"
        )
    token = _EXECUTOR.set(ex)
    try:
        yield ex
    finally:
        _EXECUTOR.reset(token)


def map(  # The name is part of the API (enact.map).
    invokable: InvokableBase[Any, O],
    inputs: Iterable[Any],
    executor: concurrent.futures.Executor | None = None,
) -> list[O]:
    """Calls ``invokable`` on each input concurrently; returns the outputs in input order.

    Inside a tracked call the calls are its children, in input order. Each
    input is a resource or one argument for the input type (``Int`` from
    ``3``). Every call is waited for; then the first exception, in input
    order, is raised.

    Args:
        invokable: what to call (not an ``AsyncInvokable``: use
            ``asyncio.gather`` for those).
        inputs: the inputs, one call each.
        executor: where to run the calls; by default the executor of the
            enclosing :func:`executor` block, else the shared thread pool of
            ``invokable.submit``.

    Raises:
        StoreNotShared: the calls go to other processes and the active store
            cannot be opened there (an in-memory store).
    """
    if not isinstance(invokable, InvokableBase):
        raise InvokableTypeError(
            f"enact.map expects an invokable, got {type(invokable).__qualname__}"
        )
    if isinstance(invokable, AsyncInvokableBase):
        invokable.submit()  # Raises the InvokableTypeError that says what to do.
    resources = [invokable._make_input((item,), {}) for item in inputs]
    ex = executor if executor is not None else _EXECUTOR.get()
    futures = _submit_all(ex, invokable, resources)
    concurrent.futures.wait(futures)
    return [future.result() for future in futures]


def submit(
    invokable: InvokableBase[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> concurrent.futures.Future[Any]:
    """``invokable.submit(*args, **kwargs)``: on the executor of the enclosing
    :func:`executor` block, else on the shared thread pool."""
    ex = _EXECUTOR.get()
    if ex is None:
        return shared_executor().submit(invokable, *args, **kwargs)
    return _submit_all(ex, invokable, [invokable._make_input(args, kwargs)])[0]


def _submit_all(
    ex: concurrent.futures.Executor | None,
    invokable: InvokableBase[Any, Any],
    resources: list[ResourceBase],
) -> list[concurrent.futures.Future[Any]]:
    if ex is None:
        ex = shared_executor()
    if isinstance(ex, ThreadPoolExecutor):
        return [ex.submit(invokable, resource) for resource in resources]
    if isinstance(ex, concurrent.futures.ThreadPoolExecutor):
        return [submit_carried(ex.submit, invokable, (resource,), {}) for resource in resources]
    frame = get_frame()
    if frame is not None and frame.tracked:
        return _submit_remote(ex, frame, invokable, resources)
    futures: list[concurrent.futures.Future[Any]] = []
    for resource in resources:
        if frame is not None:
            # A ReplayContext outside any tracked call: matched here; a call
            # that must run runs untracked in the worker.
            reused, value = match_untracked(frame, invokable, resource)
            if reused:
                futures.append(_done(value))
                continue
        futures.append(ex.submit(_call_untracked, invokable, resource))
    return futures


def _call_untracked(invokable: InvokableBase[Any, Any], resource: ResourceBase) -> Any:
    return invokable(resource)


def _done(value: Any) -> concurrent.futures.Future[Any]:
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_result(value)
    return future


# --- The submitting side. ---


@dataclasses.dataclass(frozen=True, slots=True)
class RemoteTask:
    """What is sent to a worker to run one call: small, picklable, without credentials."""

    #: The store's URL, without any password (see :func:`store_url`).
    store: str
    #: The digest of the call's Request, written to the store before sending.
    request: str
    #: Digests of the recorded children that guide a re-run of the call
    #: (None for a call run afresh).
    guide: tuple[str, ...] | None
    #: The replay's exception override and strictness, for a guided re-run.
    exception_override: ExceptionOverride | None
    strict: bool
    #: The classes of the invokable and its input, with their type names here:
    #: unpickling them imports their modules in the worker (the store never
    #: names code to import).
    classes: tuple[tuple[str, type[ResourceBase]], ...]


def store_url(store: Store) -> str:
    """The URL that other processes open ``store`` by, without any password.

    Raises:
        StoreNotShared: other processes cannot open the store (an in-memory
            store, a custom backend or ref type).
    """
    backend = store.backend
    if store.ref_type is not Ref:
        raise StoreNotShared(
            f"Calls cannot be sent to other processes from a store with a custom ref type "
            f"({store.ref_type.__qualname__}): workers open stores with plain refs"
        )
    if isinstance(backend, SqliteBackend):
        return f"sqlite:///{backend.path}"
    if isinstance(backend, FileBackend):
        return f"file://{backend.root_dir}"
    if isinstance(backend, PostgresBackend):
        return backend.dsn
    if isinstance(backend, InMemoryBackend):
        raise StoreNotShared(
            "Calls cannot be sent to other processes from an in-memory store: the workers "
            "could not read or write it. Use a store they can open, enact.open_store("
            "'sqlite:///runs.db') on one machine or a PostgreSQL store for a cluster, or run "
            "the calls in threads (enact.ThreadPoolExecutor)"
        )
    raise StoreNotShared(
        f"Calls cannot be sent to other processes from a store with a "
        f"{type(backend).__qualname__}: workers open stores by URL (SQLite, file or PostgreSQL)"
    )


def _submit_remote(
    ex: concurrent.futures.Executor,
    frame: Frame,
    invokable: InvokableBase[Any, Any],
    resources: list[ResourceBase],
) -> list[concurrent.futures.Future[Any]]:
    store = frame.store
    url = store_url(store)  # Before any call starts: a refused store starts none.
    started = [start(frame, invokable, resource) for resource in resources]
    classes = [
        tuple((cls.type_name(), cls) for cls in (type(invokable), type(resource)))
        for resource in resources
    ]
    if any(type(child) is Frame for child in started):
        store.flush()  # The requests, for the workers to read (one write for all).
    futures: list[concurrent.futures.Future[Any]] = []
    for child, kinds in zip(started, classes, strict=True):
        if type(child) is not Frame:
            futures.append(_done(child))  # Reused from the record.
            continue
        guide: Guide | None = child.replay
        task = RemoteTask(
            store=url,
            request=child.request_ref.digest,
            guide=None if guide is None else tuple(ref.digest for ref in guide._children),
            exception_override=None if guide is None else guide.exception_override,
            strict=True if guide is None else guide.strict,
            classes=kinds,
        )
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        try:
            sent = ex.submit(run_task, task)
        except Exception as e:  # Shut down, broken: recorded as the call's outcome.
            _lost(invokable, child, future, e)
        else:
            sent.add_done_callback(functools.partial(_finished, invokable, child, future))
        futures.append(future)
    return futures


def _finished(
    invokable: InvokableBase[Any, Any],
    child: Frame,
    future: concurrent.futures.Future[Any],
    sent: concurrent.futures.Future[Any],
) -> None:
    """A task sent to a worker is done: fills the call's slot with its record."""
    try:
        digest, error = sent.result()
    except BaseException as e:  # The worker returned no record.
        _lost(invokable, child, future, e)
        return
    try:
        store = child.store
        ref: Ref[Any] = Ref.from_digest(digest)
        record = store.load(ref)
        if record["request"].digest != child.request_ref.digest:
            raise RemoteCallError(
                f"{_call(child)}: the worker recorded another request "
                f"({record['request'].digest}) than the one sent ({child.request_ref.digest}): "
                "is the worker's version of the invokable's class the submitter's?"
            )
        response = store.load(record["response"])
        parent: Frame = child.parent  # type: ignore[assignment]
        child.closed = True
        if not parent.closed:
            parent.children[child.index] = ref
        output_ref = response["output"]
        if output_ref is not None:
            output = store.get(output_ref)
            if RUNS:  # In a durable run: checkpointed before the caller goes on.
                _run_finished(child, ref, None)
            future.set_result(output)
            return
        raised_ref = response["raised"]
        if error is None:
            error = store.get(raised_ref)
        if not parent.closed:
            _note_propagated(parent, error, raised_ref)
        if RUNS:
            _run_finished(child, ref, error)
        future.set_exception(error)
    except BaseException as e:
        future.set_exception(e)


def _lost(
    invokable: InvokableBase[Any, Any],
    child: Frame,
    future: concurrent.futures.Future[Any],
    cause: BaseException,
) -> None:
    """Records a call whose worker returned no record as raising RemoteCallError."""
    error = RemoteCallError(
        f"{_call(child)} ran in another process, which returned no record of it "
        f"(its worker died, say): {type(cause).__qualname__}: {cause}"
    )
    try:
        fail(invokable, child, error)
    except BaseException as e:
        future.set_exception(e)
        return
    future.set_exception(error)


def _call(child: Frame) -> str:
    """Names a call in a message (its request's digest: the store may be unreachable)."""
    return f"the call of request {child.request_ref.digest[:16]}…"


# --- The worker side. ---

# The stores a worker process opened, most recently used last. A long-lived
# worker that serves many stores keeps only the last few open (each holds a
# pool of PostgreSQL connections, which the server has few of).
_stores: dict[str, Store] = {}
_stores_pid = os.getpid()
_stores_lock = threading.Lock()
_STORES_KEPT = 4


def run_task(task: RemoteTask) -> tuple[str, BaseException | None]:
    """Runs one call sent by :func:`executor` in this (worker) process.

    Opens the store (once per process and URL), runs the call tracked and
    commits its whole subtree in one transaction.

    Returns:
        The digest of the call's invocation, and the exception it raised if
        the call raised one that pickles (the record holds it either way).
    """
    registry = Registry.get()
    for name, cls in task.classes:
        if registry.lookup_name(name) is None:
            # A class sent by value (cloudpickle), or defined in the script the
            # submitter runs, which a spawned worker imports as __mp_main__:
            # known here by the submitter's name, so its records are the same.
            registry.register(cls, name=None if cls.type_name() == name else name)
    store = _worker_store(task.store)
    with store:
        request = store.load(Ref.from_digest(task.request))
        invokable: InvokableBase[Any, Any] = store.get(request["invokable"])
        guide = None
        if task.guide is not None:
            refs: list[Ref[Any]] = [Ref.from_digest(digest) for digest in task.guide]
            guide = Guide._guide(refs, task.exception_override, task.strict)
        # The input as a resource, not a ref: invoke would refresh a ref's
        # object for gc (a write per call), which the fresh request needs not.
        given = store.get(request["input"])
        digest, error = _run_tracked(store, invokable, given, guide, task.request)
    if error is None or isinstance(error, ExceptionResource):
        return digest, None  # The record holds the very exception.
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return digest, None  # The submitter raises the recorded one.
    return digest, error


def _run_tracked(
    store: Store,
    invokable: InvokableBase[Any, Any],
    given: ResourceBase,
    guide: Guide | None,
    request: str,
) -> tuple[str, BaseException | None]:
    """Runs a call as ``invoke`` does, as a new top level whose record is the child's."""
    with store.batch():
        opened: Any = open_invocation(store, invokable, given, None, None, True, False)
        frame, resource, error = opened
        opened = None
        if frame.request_ref.digest != request:
            raise RemoteCallError(
                f"The worker's request {frame.request_ref.digest} differs from the one sent, "
                f"{request}: is the worker's version of {type(invokable).__qualname__} "
                "the submitter's?"
            )
        frame.replay = guide
        output: Any = None
        enter_invocation()
        try:
            if error is None:
                token = set_frame(frame)
                try:
                    output = invokable._call_with(resource)
                except Exception as e:
                    error = e
                finally:
                    reset_frame(token)
            close_invocation(invokable, frame, resource, output, error, False)
        finally:
            leave_invocation()
        holder: Frame = frame.parent
        return holder.children[0].digest, error


def _worker_store(url: str) -> Store:
    """The store at ``url``, opened once per worker process."""
    global _stores_pid
    with _stores_lock:
        if _stores_pid != os.getpid():  # Forked: the parent's stores are not ours.
            _stores.clear()
            _stores_pid = os.getpid()
        store = _stores.pop(url, None)
        if store is None:
            store = _open_shared(url)
        _stores[url] = store
        while len(_stores) > _STORES_KEPT:
            # The least recently used (a task still using it, in another
            # thread, would have had to start before the last few stores).
            _stores.pop(next(iter(_stores))).close()
        return store


def _open_shared(url: str) -> Store:
    """Opens a store by the URL a submitter sent, with a password from this environment.

    A PostgreSQL URL is sent without its password. If ``$ENACT_STORE`` names
    the same host, port, database and user with a password, that password is
    used; else libpq's own environment applies (``PGPASSWORD``, the password
    file ``~/.pgpass`` or ``PGPASSFILE``).
    """
    is_url = "://" in url
    if is_url and not url.lower().startswith(("postgresql://", "postgres://")):
        return open_store(url)
    dsn = _with_password(url)
    try:
        return Store(PostgresBackend(dsn))
    except StoreConfigError as e:
        raise StoreConfigError(
            f"{e} (a worker takes the password of the store's PostgreSQL user from "
            f"${STORE_URL_VARIABLE}, a URL of the same host, port, database and user, or "
            "from PGPASSWORD or ~/.pgpass)"
        ) from None


def _with_password(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = os.environ.get(STORE_URL_VARIABLE, "")
    if not given.lower().startswith(("postgresql://", "postgres://")):
        return dsn
    try:
        params = conninfo_to_dict(dsn)
        env = conninfo_to_dict(given)
    except Exception:
        return dsn
    password = env.get("password")
    same = all(params.get(key) == env.get(key) for key in ("host", "port", "dbname", "user"))
    if password and same and "password" not in params:
        return make_conninfo(dsn, password=password)
    return dsn
