"""Recorded runs as OpenTelemetry spans (the optional extra ``enact[otel]``).

::

    import enact
    import enact.otel
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    with enact.open_store("sqlite:///.enact/store.db") as store:
        enact.otel.export(store.tags["demo/latest"], ConsoleSpanExporter())

One span per call of the run, each the child of the call that made it, in
call order. The ids come from the records, so exporting the same run again
gives the same ids: the trace id is the first 32 hex digits of the run's
invocation digest, and a span id the first 16 of the sha256 of the run's
digest and the call's path (its positions from the run down).

What a span says:

- ``enact.*`` attributes: the digests of the call's invocation, request and
  response (``enact show`` and ``enact serve`` open them), its invokable's
  and input's type names, its output's or exception's type, its state
  (``done``, ``paused``, ``failed`` or ``incomplete``), its path
  (``/0/2``) and its number of children.
- A call whose invokable has a string field ``model`` is a model call, as
  the GenAI semantic conventions describe it: its span is a ``CLIENT`` span
  named ``"{gen_ai.operation.name} {gen_ai.request.model}"``, with
  ``gen_ai.operation.name`` (``text_completion`` for a string prompt, else
  ``generate_content``), ``gen_ai.request.model``, ``gen_ai.provider.name``
  (from a field ``provider``) and the request parameters found among its
  fields (``temperature``, ``top_p``, ``top_k``, ``max_tokens``, ``seed``,
  ``frequency_penalty``, ``presence_penalty``, ``stop_sequences``). Other
  calls are ``INTERNAL`` spans named after their invokable's class; a
  request for human input is named ``request_input``.
- A call that raised sets ``error.type`` (the exception's type name; for an
  exception recorded as its traceback, the original exception's) and the
  status ERROR, except a run paused on an input request, which is not a
  failure (status UNSET, ``enact.state`` ``paused``).
- Content (prompts, outputs, questions, exception messages) goes into spans
  only with ``content=True``: ``gen_ai.input.messages`` and
  ``gen_ai.output.messages`` for model calls with string input and output,
  ``enact.input.value``, ``enact.output.value`` and
  ``enact.invokable.fields`` (the JSON forms of ``enact show --json``)
  for every call, and the exception's message as the status description.
- Times: enact records none yet (records are content-addressed and hold no
  times), so every span starts and ends at the export's time (or
  ``time_ns``), and carries ``enact.timing`` = ``"not recorded"``.

Reading the run never builds objects of the user's classes (it reads them as
stored), so no user code runs and runs of types this process has not imported
export too.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from enact._json import ref_json, value_json
from enact_invoke import InputRequest, Invocation, RequestInput
from enact_resource import EnactError, ResourceDict, Str
from enact_store import Ref, Store

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["export", "otlp_json", "span_id", "spans", "trace_id"]

#: Install hint for a missing OpenTelemetry.
INSTALL = "pip install 'enact[otel]'"
#: Fields of a model call's invokable copied to ``gen_ai.request.*``.
REQUEST_PARAMETERS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "stop_sequences",
)
#: OTLP's numbers for the SDK's span kinds (the SDK numbers them otherwise).
_OTLP_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}


class NotARun(EnactError, TypeError):
    """The object to export is not an invocation."""


def _sdk() -> Any:
    """The OpenTelemetry modules, imported on first use, with install advice if missing."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk import resources
        from opentelemetry.sdk import trace as sdk_trace
        from opentelemetry.sdk.util import instrumentation
    except ImportError as e:
        raise ImportError(f"enact.otel needs OpenTelemetry: {INSTALL}") from e
    return trace, sdk_trace, resources, instrumentation


def trace_id(root: Ref[Any]) -> int:
    """The trace id of a run: the first 128 bits of its invocation digest."""
    value = int(root.digest[:32], 16)
    return value or 1  # An id of zero is invalid (a digest starting with 32 zeros).


def span_id(root: Ref[Any], path: Sequence[int]) -> int:
    """The span id of the call at ``path`` (positions from the run down) in a run."""
    text = root.digest + "/" + "/".join(map(str, path))
    value = int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)
    return value or 1


def _store(store: Store | None) -> Store:
    return store if store is not None else Store.current()


def spans(
    root: Ref[Any] | Invocation[Any, Any],
    *,
    store: Store | None = None,
    content: bool = False,
    time_ns: int | None = None,
    resource: Resource | None = None,
) -> list[ReadableSpan]:
    """Returns the spans of a recorded run, parents before their children.

    Args:
        root: the run's invocation (or a ref to it).
        store: where it is stored (default: the active store).
        content: put prompts, outputs, questions and exception messages in
            the spans (off by default: they may be private or large).
        time_ns: the start and end time of every span (nothing records real
            times yet); default: now.
        resource: the OpenTelemetry resource of the spans (default:
            ``service.name`` ``enact``).

    Raises:
        ImportError: OpenTelemetry is not installed (``pip install 'enact[otel]'``).
        NotARun: ``root`` is not an invocation.
        NotFound: an object of the run is missing from the store.
    """
    trace, sdk_trace, resources, instrumentation = _sdk()
    the_store = _store(store)
    if isinstance(root, Invocation):
        root = the_store.commit(root)
    if not isinstance(root, Ref):
        raise NotARun(f"export takes an Invocation or a ref to one, got {type(root).__name__}")
    if the_store.load(root).type is not Invocation:
        raise NotARun(f"{root.digest[:8]} is not an Invocation")
    when = time.time_ns() if time_ns is None else time_ns
    if resource is None:
        resource = resources.Resource.create({"service.name": "enact"})
    from enact import __version__

    scope = instrumentation.InstrumentationScope("enact", __version__)
    trace_value = trace_id(root)
    flags = trace.TraceFlags(trace.TraceFlags.SAMPLED)
    found: list[ReadableSpan] = []
    stack: list[tuple[Ref[Any], tuple[int, ...], Any]] = [(root, (), None)]
    while stack:
        ref, path, parent = stack.pop()
        call = _Call(the_store, ref)
        context = trace.SpanContext(trace_value, span_id(root, path), False, flags)
        name, kind, attributes = call.describe(path, content)
        status = trace.Status(trace.StatusCode.UNSET)
        if call.raised is not None and not call.paused:
            message = call.raised_message() if content else None
            status = trace.Status(trace.StatusCode.ERROR, message)
        found.append(
            sdk_trace.ReadableSpan(
                name=name,
                context=context,
                parent=parent,
                resource=resource,
                attributes=attributes,
                kind=getattr(trace.SpanKind, kind),
                status=status,
                start_time=when,
                end_time=when,
                instrumentation_scope=scope,
            )
        )
        for position in range(len(call.children) - 1, -1, -1):
            stack.append((call.children[position], (*path, position), context))
    return found


def export(
    root: Ref[Any] | Invocation[Any, Any],
    exporter: SpanExporter,
    *,
    store: Store | None = None,
    content: bool = False,
    time_ns: int | None = None,
    resource: Resource | None = None,
) -> SpanExportResult:
    """Exports a recorded run's spans (see :func:`spans`) with an SDK span exporter.

    Raises:
        ImportError: OpenTelemetry is not installed (``pip install 'enact[otel]'``).
        NotARun: ``root`` is not an invocation.
    """
    found = spans(root, store=store, content=content, time_ns=time_ns, resource=resource)
    result: SpanExportResult = exporter.export(found)
    return result


def otlp_json(found: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The spans as an OTLP/JSON trace request (what an OTLP/HTTP collector takes at
    ``/v1/traces``): ids in hex, times in nanoseconds as strings."""
    groups: dict[tuple[int, int], tuple[Any, Any, list[dict[str, Any]]]] = {}
    for span in found:
        key = (id(span.resource), id(span.instrumentation_scope))
        groups.setdefault(key, (span.resource, span.instrumentation_scope, []))[2].append(
            _otlp_span(span)
        )
    resource_spans = []
    for resource, scope, items in groups.values():
        scope_json: dict[str, Any] = {"name": scope.name if scope else "enact"}
        if scope is not None and scope.version:
            scope_json["version"] = scope.version
        resource_spans.append(
            {
                "resource": {"attributes": _otlp_attributes(dict(resource.attributes))},
                "scopeSpans": [{"scope": scope_json, "spans": items}],
            }
        )
    return {"resourceSpans": resource_spans}


def _otlp_span(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None
    item: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "name": span.name,
        "kind": _OTLP_KIND[span.kind.name],
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": _otlp_attributes(dict(span.attributes or {})),
    }
    if span.parent is not None:
        item["parentSpanId"] = f"{span.parent.span_id:016x}"
    status: dict[str, Any] = {"code": int(span.status.status_code.value)}
    if span.status.description:
        status["message"] = span.status.description
    item["status"] = status
    return item


def _otlp_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_otlp_value(item) for item in value]}}
    return {"stringValue": str(value)}


def _otlp_attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _otlp_value(value)} for key, value in attributes.items()]


class _Call:
    """One recorded call, read as stored."""

    def __init__(self, store: Store, ref: Ref[Any]) -> None:
        self.store = store
        self.ref = ref
        invocation = store.load(ref)
        if invocation.type is not Invocation:
            raise NotARun(f"{ref.digest[:8]} is not an Invocation")
        self.invocation = invocation
        self.request = store.load(invocation["request"])
        self.response = store.load(invocation["response"])
        self.invokable = store.load(self.request["invokable"])
        self.input = store.load(self.request["input"])
        output = self.response["output"]
        raised = self.response["raised"]
        self.output: ResourceDict | None = None if output is None else store.load(output)
        self.raised: ResourceDict | None = None if raised is None else store.load(raised)
        self.paused = self.raised is not None and issubclass(self.raised.type, InputRequest)
        self.children: list[Ref[Any]] = self.response["children"]

    def state(self) -> str:
        if self.output is not None:
            return "done"
        if self.raised is None:
            return "incomplete"
        return "paused" if self.paused else "failed"

    def error_type(self) -> str:
        """The exception's type: for one recorded as its traceback (a WrappedException),
        the original's, from the traceback's last line (``ValueError: ...``)."""
        assert self.raised is not None
        name = self.raised.type.type_name()
        args = self.raised.get("args")
        if name == "enact.invocations.WrappedException" and isinstance(args, list) and args:
            lines = [line for line in str(args[0]).splitlines() if line.strip()]
            found = re.match(r"([A-Za-z_][\w.]*)(?::|$)", lines[-1].strip()) if lines else None
            if found:
                return found[1]
        return name

    def raised_message(self) -> str | None:
        raised = self.raised
        if raised is None:
            return None
        if "context" in raised and issubclass(raised.type, InputRequest):
            return _text(raised["context"])
        args = raised.get("args")
        if isinstance(args, list) and args:
            if raised.type.type_name() == "enact.invocations.WrappedException":
                lines = [line for line in str(args[0]).splitlines() if line.strip()]
                return lines[-1].strip() if lines else None
            return ", ".join(_text(arg) for arg in args)
        return json.dumps(value_json(self.store, dict(raised), 0), sort_keys=False)

    def _json(self, ref: Ref[Any]) -> str:
        return json.dumps(ref_json(self.store, ref, 1), separators=(",", ":"))

    def describe(self, path: tuple[int, ...], content: bool) -> tuple[str, str, dict[str, Any]]:
        """(span name, span kind, attributes) of the call."""
        invokable_type = self.invokable.type
        attributes: dict[str, Any] = {
            "enact.invocation.digest": self.ref.digest,
            "enact.request.digest": self.invocation["request"].digest,
            "enact.response.digest": self.invocation["response"].digest,
            "enact.invokable.type": invokable_type.type_name(),
            "enact.input.type": self.input.type.type_name(),
            "enact.state": self.state(),
            "enact.path": "/" + "/".join(map(str, path)),
            "enact.children": len(self.children),
            "enact.timing": "not recorded",
        }
        if self.output is not None:
            attributes["enact.output.type"] = self.output.type.type_name()
        if self.raised is not None:
            attributes["enact.raised_here"] = bool(self.response["raised_here"])
            if not self.paused:
                attributes["error.type"] = self.error_type()
        if content:
            attributes["enact.invokable.fields"] = json.dumps(
                value_json(self.store, dict(self.invokable), 0), separators=(",", ":")
            )
            attributes["enact.input.value"] = self._json(self.request["input"])
            if self.output is not None:
                attributes["enact.output.value"] = self._json(self.response["output"])
            if self.paused and self.raised is not None and self.response["raised_here"]:
                attributes["enact.input_request.question"] = _text(self.raised.get("context"))
        name = invokable_type.__name__
        kind = "INTERNAL"
        model = self.invokable.get("model")
        if isinstance(model, str) and model:
            operation = "text_completion" if self.input.type is Str else "generate_content"
            name, kind = f"{operation} {model}", "CLIENT"
            attributes["gen_ai.operation.name"] = operation
            attributes["gen_ai.request.model"] = model
            provider = self.invokable.get("provider")
            if isinstance(provider, str) and provider:
                attributes["gen_ai.provider.name"] = provider
            for parameter in REQUEST_PARAMETERS:
                value = self.invokable.get(parameter)
                if isinstance(value, bool):
                    continue
                if isinstance(value, int | float) or (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)
                ):
                    attributes[f"gen_ai.request.{parameter}"] = value
            if content and self.input.type is Str:
                attributes["gen_ai.input.messages"] = _messages("user", self.input)
            if content and self.output is not None and self.output.type is Str:
                attributes["gen_ai.output.messages"] = _messages("assistant", self.output)
        elif issubclass(invokable_type, RequestInput):
            name = "request_input"
        return name, kind, attributes


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, ResourceDict) and "value" in value and isinstance(value["value"], str):
        return str(value["value"])
    return json.dumps(value, default=str)


def _messages(role: str, data: ResourceDict) -> str:
    """A GenAI message list (JSON text) holding one text part."""
    # No finish_reason: enact does not record why a model stopped.
    message = {"role": role, "parts": [{"type": "text", "content": data["value"]}]}
    return json.dumps([message])
