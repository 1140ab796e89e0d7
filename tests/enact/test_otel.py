"""OpenTelemetry export of recorded runs (enact.otel, `enact export --otel`).

Checked with the SDK's in-memory exporter: the span tree's shape, names and
parent links, ids derived from the records (the same on every export, in any
process), the GenAI conventions for model calls, and content only when asked.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from _cli_testlib import no_otel_env, run_enact
from _serve_testlib import STORE, Summarize, make_faraway_run, paused_demo_run, record
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import enact
import enact.otel

WHEN = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose store holds the demo's run."""
    path = tmp_path_factory.mktemp("otel")
    result = run_enact(path, "demo", "--answer", "Rain on the roof")
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def store(demo: Path) -> Iterator[enact.Store]:
    opened = enact.open_store(f"sqlite:///{demo / STORE}", read_only=True)
    with opened:
        yield opened
    opened.close()


def _exported(root: Any, **options: Any) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    options.setdefault("time_ns", WHEN)
    assert enact.otel.export(root, exporter, **options) == SpanExportResult.SUCCESS
    return list(exporter.get_finished_spans())


def _ids(spans: list[ReadableSpan]) -> list[tuple[str, int, int, int | None]]:
    return [
        (
            span.name,
            span.context.trace_id,
            span.context.span_id,
            None if span.parent is None else span.parent.span_id,
        )
        for span in spans
        if span.context is not None
    ]


def test_the_spans_of_a_run_form_its_call_tree(store: enact.Store) -> None:
    root = store.tags["demo/latest"]
    spans = _exported(root)

    names = [span.name for span in spans]
    assert names == ["WriteHaiku", "PickLine", "PickLine", "PickLine", "request_input"]
    top = spans[0]
    assert top.parent is None
    assert top.context is not None
    assert {span.context.trace_id for span in spans if span.context} == {int(root.digest[:32], 16)}
    for child in spans[1:]:
        assert child.parent is not None
        assert child.parent.span_id == top.context.span_id
    assert len({span.context.span_id for span in spans if span.context}) == 5
    children = root().response().children
    for position, (span, child) in enumerate(zip(spans[1:], children, strict=True)):
        attributes = span.attributes or {}
        assert attributes["enact.invocation.digest"] == child.digest
        assert attributes["enact.path"] == f"/{position}"
        assert attributes["enact.state"] == "done"
        assert attributes["enact.timing"] == "not recorded"
        assert span.kind == SpanKind.INTERNAL
        assert (span.start_time, span.end_time) == (WHEN, WHEN)
    assert (top.attributes or {})["enact.children"] == 4
    assert (top.attributes or {})["enact.invokable.type"] == "enact._demo.WriteHaiku"


def test_span_ids_come_from_the_records_so_a_re_export_gives_the_same(
    store: enact.Store, demo: Path
) -> None:
    root = store.tags["demo/latest"]
    first = _ids(_exported(root))
    again = _ids(_exported(root, time_ns=WHEN + 5))
    assert first == again
    # The same ids from another process, through the command (OTLP/JSON, hex ids).
    result = run_enact(demo, "export", "--otel", "demo/latest")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (resource_spans,) = document["resourceSpans"]
    (scope_spans,) = resource_spans["scopeSpans"]
    assert scope_spans["scope"]["name"] == "enact"
    exported = [
        (
            span["name"],
            int(span["traceId"], 16),
            int(span["spanId"], 16),
            int(span["parentSpanId"], 16) if "parentSpanId" in span else None,
        )
        for span in scope_spans["spans"]
    ]
    assert exported == first
    assert scope_spans["spans"][0]["traceId"] == root.digest[:32]
    assert scope_spans["spans"][0]["kind"] == 1  # OTLP's SPAN_KIND_INTERNAL
    attributes = {a["key"]: a["value"] for a in scope_spans["spans"][0]["attributes"]}
    assert attributes["enact.invocation.digest"] == {"stringValue": root.digest}
    assert attributes["enact.children"] == {"intValue": "4"}
    resource = {a["key"]: a["value"] for a in resource_spans["resource"]["attributes"]}
    assert resource["service.name"] == {"stringValue": "enact"}


def test_content_goes_into_spans_only_when_asked(store: enact.Store) -> None:
    root = store.tags["demo/latest"]
    haiku = root().get_output()
    private = ["spring", haiku.title, *haiku.lines]

    plain = json.dumps([dict(span.attributes or {}) for span in _exported(root)])
    for text in private:
        assert text not in plain

    spans = _exported(root, content=True)
    top = spans[0].attributes or {}
    assert json.loads(str(top["enact.input.value"]))["fields"] == {"value": "spring"}
    assert json.loads(str(top["enact.output.value"]))["fields"]["title"] == haiku.title
    told = json.dumps([dict(span.attributes or {}) for span in spans])
    for text in private:
        assert text in told


def test_model_calls_follow_the_genai_conventions(tmp_path: Path) -> None:
    record(tmp_path, "run", Summarize(model="tiny-llm", texts=["haiku please"]))
    with enact.open_store(f"sqlite:///{tmp_path / STORE}") as opened:
        plain = _exported(opened.tags["run"])
        told = _exported(opened.tags["run"], content=True)
    opened.close()

    model = plain[1]
    assert model.name == "text_completion tiny-llm"
    assert model.kind == SpanKind.CLIENT
    attributes = model.attributes or {}
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.request.model"] == "tiny-llm"
    assert "gen_ai.input.messages" not in attributes
    # Summarize has a model field too, but no string prompt: generate_content.
    assert plain[0].name == "generate_content tiny-llm"

    attributes = told[1].attributes or {}
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "haiku please"}]}
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "tiny-llm:HAIKU PLEASE"}]}
    ]


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Fails(enact.Invokable[enact.Str, enact.Str]):
    def call(self, text: enact.Str) -> enact.Str:
        raise ValueError(f"cannot handle {text}")


def test_a_failed_call_is_an_error_and_a_paused_run_is_not(tmp_path: Path) -> None:
    record(tmp_path, "failed", Fails(), enact.Str("private words"))
    paused_demo_run(tmp_path)
    with enact.open_store(f"sqlite:///{tmp_path / STORE}") as opened:
        (failed,) = _exported(opened.tags["failed"])
        (told,) = _exported(opened.tags["failed"], content=True)
        paused = _exported(opened.tags["inbox/winter"], content=True)
    opened.close()

    assert failed.status.status_code == StatusCode.ERROR
    assert failed.status.description is None  # The message is content.
    assert (failed.attributes or {})["error.type"] == "ValueError"
    assert (failed.attributes or {})["enact.state"] == "failed"
    assert told.status.description == "ValueError: cannot handle private words"

    for span in paused:
        assert span.status.status_code == StatusCode.UNSET
        assert "error.type" not in (span.attributes or {})
    assert (paused[0].attributes or {})["enact.state"] == "paused"
    asked = paused[-1].attributes or {}
    assert asked["enact.input_request.question"] == "Give this winter haiku a title"


def test_runs_of_types_this_process_lacks_export_too(tmp_path: Path) -> None:
    make_faraway_run(tmp_path)
    with enact.open_store(f"sqlite:///{tmp_path / STORE}", read_only=True) as opened:
        spans = _exported(opened.tags["far/guard"], content=True)
    opened.close()
    assert [span.name for span in spans] == ["Guard", "request_input"]
    attributes = spans[0].attributes or {}
    assert attributes["enact.invokable.type"] == "faraway_types.Guard"
    assert json.loads(str(attributes["enact.input.value"]))["fields"] == {
        "code": "vault",
        "level": 3,
    }


def test_exporting_something_else_than_an_invocation_is_an_error(store: enact.Store) -> None:
    output = store.tags["demo/latest"]().response().output
    assert output is not None
    with pytest.raises(enact.otel.NotARun, match="is not an Invocation"):
        enact.otel.spans(output)


def test_without_opentelemetry_the_error_says_what_to_install(demo: Path, tmp_path: Path) -> None:
    script = (
        "import enact, enact.otel\n"
        "with enact.open_store('sqlite:///.enact/store.db') as s:\n"
        "    enact.otel.spans(s.tags['demo/latest'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=demo,
        env={**__import__("os").environ, **no_otel_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith(
        "ImportError: enact.otel needs OpenTelemetry: pip install 'enact[otel]'"
    )


#: What the collector below received: (path, content type, body) per POST.
RECEIVED: list[tuple[str, str, bytes]] = []


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        RECEIVED.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_command_sends_the_spans_to_an_otlp_collector(demo: Path) -> None:
    collector = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
        result = run_enact(demo, "export", "--otel", "demo/latest", "--endpoint", url)
    finally:
        collector.shutdown()
        collector.server_close()
    assert result.returncode == 0, result.stderr
    store = enact.open_store(f"sqlite:///{demo / STORE}", read_only=True)
    digest = store.tags["demo/latest"].digest
    store.close()
    assert result.stdout == f"sent 5 spans (trace {digest[:32]}) to {url}\n"
    ((path, content_type, body),) = RECEIVED
    assert (path, content_type) == ("/v1/traces", "application/json")
    spans = json.loads(body)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [span["name"] for span in spans][:2] == ["WriteHaiku", "PickLine"]
