"""Tracked invocations for enact: invokables, replay, overrides and human input.

Calling an invokable inside a tracked invocation records a child invocation
(request, response, output or exception, children). Invocations can be
replayed: recorded outputs are reused, missing or failed ones re-run, and
recorded exceptions can be overridden with values, which is how a program
pauses for human input and resumes later. Calls can run concurrently
(``AsyncInvokable`` under asyncio, ``ThreadPoolExecutor`` in threads) and
are recorded and replayed deterministically; ``executor`` and ``map`` run
calls on any executor, also in other processes (process pools,
``enact_invoke.ray``, ``enact_invoke.dask``) against a shared store.
"""

from importlib.metadata import PackageNotFoundError, version

from enact_invoke._async import AsyncInvokable, AsyncInvokableBase
from enact_invoke._cache import CACHE_PREFIX, Cache, CacheEntry, cache_entries
from enact_invoke._exceptions import (
    ExceptionResource,
    IncompleteSubinvocationError,
    InputChanged,
    InvocationCancelled,
    InvocationError,
    InvokableTypeError,
    InvokeError,
    NoOutputError,
    RemoteCallError,
    ReplayError,
    RunConflict,
    RunInProgress,
    RunOwnershipLost,
    StoreNotShared,
    UntrackedCallWarning,
    WrappedException,
)
from enact_invoke._executor import ThreadPoolExecutor
from enact_invoke._function import FunctionInvokable, invokable
from enact_invoke._input import (
    InputRequest,
    InputRequestOutsideInvocation,
    InputRequired,
    RequestedTypeUndetermined,
    RequestInput,
    request_input,
)
from enact_invoke._invokable import Invokable, InvokableBase, typed_invokable
from enact_invoke._records import ExceptionOverride, Invocation, Request, Response
from enact_invoke._remote import executor, map
from enact_invoke._replay import ReplayContext
from enact_invoke._runs import RunStatus, delete_run, fork, resume, run, run_status, runs

try:
    __version__ = version("enact-invoke")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "CACHE_PREFIX",
    "AsyncInvokable",
    "AsyncInvokableBase",
    "Cache",
    "CacheEntry",
    "ExceptionOverride",
    "ExceptionResource",
    "FunctionInvokable",
    "IncompleteSubinvocationError",
    "InputChanged",
    "InputRequest",
    "InputRequestOutsideInvocation",
    "InputRequired",
    "Invocation",
    "InvocationCancelled",
    "InvocationError",
    "Invokable",
    "InvokableBase",
    "InvokableTypeError",
    "InvokeError",
    "NoOutputError",
    "RemoteCallError",
    "ReplayContext",
    "ReplayError",
    "Request",
    "RequestInput",
    "RequestedTypeUndetermined",
    "Response",
    "RunConflict",
    "RunInProgress",
    "RunOwnershipLost",
    "RunStatus",
    "StoreNotShared",
    "ThreadPoolExecutor",
    "UntrackedCallWarning",
    "WrappedException",
    "__version__",
    "cache_entries",
    "delete_run",
    "executor",
    "fork",
    "invokable",
    "map",
    "request_input",
    "resume",
    "run",
    "run_status",
    "runs",
    "typed_invokable",
]
