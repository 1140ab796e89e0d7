"""Tracked invocations for enact: invokables, replay, overrides and human input.

Calling an invokable inside a tracked invocation records a child invocation
(request, response, output or exception, children). Invocations can be
replayed: recorded outputs are reused, missing or failed ones re-run, and
recorded exceptions can be overridden with values, which is how a program
pauses for human input and resumes later.
"""

from importlib.metadata import PackageNotFoundError, version

from enact_invoke._exceptions import (
    ExceptionResource,
    InputChanged,
    InvocationError,
    InvokableTypeError,
    InvokeError,
    NoOutputError,
    ReplayError,
    WrappedException,
)
from enact_invoke._input import (
    InputRequest,
    InputRequestOutsideInvocation,
    InputRequired,
    RequestedTypeUndetermined,
    RequestInput,
    request_input,
)
from enact_invoke._invokable import Invokable, InvokableBase, ReplayContext, typed_invokable
from enact_invoke._records import ExceptionOverride, Invocation, Request, Response

try:
    __version__ = version("enact-invoke")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ExceptionOverride",
    "ExceptionResource",
    "InputChanged",
    "InputRequest",
    "InputRequestOutsideInvocation",
    "InputRequired",
    "Invocation",
    "InvocationError",
    "Invokable",
    "InvokableBase",
    "InvokableTypeError",
    "InvokeError",
    "NoOutputError",
    "ReplayContext",
    "ReplayError",
    "Request",
    "RequestInput",
    "RequestedTypeUndetermined",
    "Response",
    "WrappedException",
    "__version__",
    "request_input",
    "typed_invokable",
]
