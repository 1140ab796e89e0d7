"""What `enact tree` and `enact show` print: widths, --full, escaping, and --json."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _cli_testlib import open_default, run_enact

import enact
from enact._cli import main

PROMPT = (
    "You are a careful poet. Write a haiku about the first frost of the year, in the voice "
    "of an old gardener who has seen sixty winters and still loves every one of them."
)
SECOND_LINE = "Answer with three lines only."
#: Every kind of character that could move the cursor or fake a line in a terminal.
HOSTILE = "line one\nline two\r\tTAB \x1b[2J\x1b]0;title\x07 \x9b31m \u202egnp.exe \x00 \u2028 end"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory is a fresh temp dir and ENACT_STORE is unset."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENACT_STORE", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    return tmp_path


PROMPTS_MODULE = """\
import dataclasses

import enact


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Complete(enact.Invokable[enact.Str, enact.Str]):
    model: str = "tiny-model"

    def call(self, prompt: enact.Str) -> enact.Str:
        return enact.Str(prompt.splitlines()[0].upper())


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Ask(enact.Invokable[enact.Str, enact.Str]):
    question: str = "OK?"

    def call(self, prompt: enact.Str) -> enact.Str:
        answer = Complete()(prompt)
        return enact.Str(answer + enact.request_input(enact.Str, context=self.question))
"""
# The same two classes, defined here too for the in-process tests.


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Complete(enact.Invokable[enact.Str, enact.Str]):
    """A stand-in for an LLM call: answers the prompt's first line, upper-cased."""

    model: str = "tiny-model"

    def call(self, prompt: enact.Str) -> enact.Str:
        return enact.Str(prompt.splitlines()[0].upper())


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Ask(enact.Invokable[enact.Str, enact.Str]):
    """Completes the prompt, then asks a person a question (which may hold anything)."""

    question: str = "OK?"

    def call(self, prompt: enact.Str) -> enact.Str:
        answer = Complete()(prompt)
        extra = enact.request_input(enact.Str, context=self.question)
        return enact.Str(answer + extra)


def _record_in_a_subprocess(cwd: Path, invokable: str, prompt: str) -> None:
    """Tags ``run``: a call of ``invokable`` (Complete or Ask, from prompts.py) on ``prompt``."""
    (cwd / "prompts.py").write_text(PROMPTS_MODULE)
    script = (
        "import enact\n"
        "from prompts import Ask, Complete\n"
        "with enact.open_store('sqlite:///.enact/store.db') as store:\n"
        f"    store.tags['run'] = store.commit({invokable}.invoke(enact.Str({prompt!r})))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=cwd, check=True, timeout=60)


def _tag(name: str, invocation: enact.Invocation[Any, Any]) -> str:
    store = open_default()
    with store:
        ref = store.commit(invocation)
        store.tags[name] = ref
    store.close()
    return ref.digest


def _invoke(invokable: enact.Invokable[Any, Any], arg: str) -> enact.Invocation[Any, Any]:
    store = open_default()
    with store:
        invocation = invokable.invoke(enact.Str(arg))
    store.close()
    return invocation


def _tree(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["tree", *args]) == 0
    return capsys.readouterr().out.splitlines()


# --- enact tree: widths and --full ---


def test_tree_shows_the_first_line_of_long_values_up_to_the_width(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tag("run", _invoke(Complete(), f"{PROMPT}\n{SECOND_LINE}"))
    for width in (100, 160):
        monkeypatch.setenv("COLUMNS", str(width))
        (line,) = _tree(capsys, "run")
        assert len(line) == width
        # The input and the output share the room the rest of the line leaves.
        prefix = f"#{line[1:9]} Complete(model='tiny-model')("
        assert line.startswith(prefix)
        given, output = line.removeprefix(prefix).split(") -> ")
        assert abs(len(given) - len(output)) <= 1
        assert len(given) + len(output) == width - len(prefix) - len(") -> ")
        assert given == f"'{PROMPT[: len(given) - 5]}...'"
        assert output == f"'{PROMPT.upper()[: len(output) - 5]}...'"

    monkeypatch.setenv("COLUMNS", "400")
    (line,) = _tree(capsys, "run")
    # The whole first line, then "..." for the line left out.
    assert line.endswith(f" Complete(model='tiny-model')('{PROMPT}...') -> '{PROMPT.upper()}'")


def test_tree_full_shows_values_whole_on_one_line_per_call(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tag("run", _invoke(Complete(), f"{PROMPT}\n{SECOND_LINE}"))
    monkeypatch.setenv("COLUMNS", "40")
    (line,) = _tree(capsys, "run", "--full")
    assert f"('{PROMPT}\\n{SECOND_LINE}') -> '{PROMPT.upper()}'" in line


def test_tree_width_defaults_to_100_columns_when_not_a_terminal(tmp_path: Path) -> None:
    _record_in_a_subprocess(tmp_path, "Complete()", PROMPT * 3)
    result = run_enact(tmp_path, "--import", "prompts", "tree", "run")  # A pipe, no COLUMNS.
    assert result.returncode == 0, result.stderr
    assert [len(line) for line in result.stdout.splitlines()] == [100]
    wide = run_enact(tmp_path, "--import", "prompts", "tree", "run", env={"COLUMNS": "150"})
    assert [len(line) for line in wide.stdout.splitlines()] == [150]


def test_tree_clips_wide_characters_by_terminal_columns(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tag("run", _invoke(Complete(), "俳句" * 100))
    monkeypatch.setenv("COLUMNS", "80")
    (line,) = _tree(capsys, "run")
    columns = sum(2 if "\u4e00" <= c <= "\u9fff" else 1 for c in line)
    assert 78 <= columns <= 80


def test_tree_keeps_every_value_visible_on_a_narrow_terminal(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tag("run", _invoke(Complete(model="m" * 200), PROMPT))
    monkeypatch.setenv("COLUMNS", "20")
    (line,) = _tree(capsys, "run")
    # Each value keeps MIN_CLIP (12) columns, however narrow the terminal.
    assert line.endswith(" Complete(model='mmmmmmm...')('You are...') -> 'YOU ARE...'")


# --- enact tree: stored text is escaped ---


def test_tree_escapes_control_characters_so_each_call_stays_on_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    paused = _invoke(Ask(question=HOSTILE), HOSTILE)
    _tag("paused", paused)
    monkeypatch.setenv("COLUMNS", "1000")
    for args in (["paused"], ["paused", "--full"]):
        lines = _tree(capsys, *args)
        assert len(lines) == 3  # Ask, Complete and the request: one line each.
        for line in lines:
            assert line.isprintable(), repr(line)
        assert lines[0].startswith(f"#{enact.digest(paused)[:8]} Ask(question='line one")
        assert lines[2].split(" raised InputRequest: ")[1].startswith("line one")
    full = "".join(lines)
    for escaped in ("\\n", "\\r", "\\t", "\\x1b[2J", "\\x07", "\\x9b", "\\u202e", "\\x00"):
        assert escaped in full
    # The request's question, whole and escaped, as --full shows it.
    assert lines[2].endswith(
        "raised InputRequest: line one\\nline two\\r\\tTAB \\x1b[2J\\x1b]0;title\\x07 "
        "\\x9b31m \\u202egnp.exe \\x00 \\u2028 end"
    )


def test_tree_output_holds_no_control_characters_in_a_subprocess(tmp_path: Path) -> None:
    _record_in_a_subprocess(tmp_path, f"Ask(question={HOSTILE!r})", HOSTILE)
    for args in (["tree", "run"], ["tree", "run", "--full"], ["show", "run"]):
        result = run_enact(tmp_path, "--import", "prompts", *args)
        assert result.returncode == 0, result.stderr
        for line in result.stdout.splitlines():
            assert line.isprintable(), repr(line)


# --- show --json ---


@enact.register
@dataclasses.dataclass
class Everything(enact.Resource):
    """A field of every kind a resource can hold."""

    text: str
    number: int
    huge: int
    real: float
    special: list[float]
    flag: bool
    nothing: None
    data: bytes
    items: list[Any]
    mapping: dict[str, Any]
    nested: Any
    value: Any
    kind: Any
    ref: Any


def _everything(ref: enact.Ref[Any]) -> Everything:
    return Everything(
        text="héllo\n\x1b",
        number=-42,
        huge=10**5000,
        real=0.1,
        special=[math.nan, math.inf, -math.inf, -0.0],
        flag=True,
        nothing=None,
        data=b"\x00\xffbytes",
        items=[1, "two", [3.5]],
        mapping={"ref": "not a ref", "#x": 1},
        nested=enact.Int(7),
        value=enact.Str("a Str resource"),
        kind=enact.Str,
        ref=ref,
    )


def _type(cls: type[enact.ResourceBase]) -> dict[str, str]:
    return {"name": cls.type_name(), "id": cls.type_id()}


def _show_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(["show", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_show_json_writes_type_digest_and_every_kind_of_field(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_default()
    with store:
        target = store.commit(enact.Str("target"))
        ref = store.commit(_everything(target))
    store.close()

    shown = _show_json(capsys, ref.digest[:10])

    str_type = _type(enact.Str)
    assert shown == {
        "digest": ref.digest,
        "type": {"name": f"{__name__}.Everything", "id": Everything.type_id()},
        "fields": {
            "text": "héllo\n\x1b",
            "number": -42,
            "huge": {"int": "1" + "0" * 5000},  # Past json.loads's 4300 digits.
            "real": 0.1,
            "special": [{"float": "nan"}, {"float": "inf"}, {"float": "-inf"}, -0.0],
            "flag": True,
            "nothing": None,
            "data": {"bytes": base64.b64encode(b"\x00\xffbytes").decode()},
            "items": [1, "two", [3.5]],
            "mapping": {"map": {"ref": "not a ref", "#x": 1}},
            "nested": {"type": _type(enact.Int), "fields": {"value": 7}},
            "value": {"type": str_type, "fields": {"value": "a Str resource"}},
            "kind": {"resource_type": str_type},
            "ref": {"ref": target.digest},
        },
    }
    assert math.copysign(1, shown["fields"]["special"][3]) == -1


def test_show_json_output_is_ascii_and_follows_refs_only_to_depth(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = _tag("run", _invoke(Complete(), PROMPT))
    assert main(["show", "--json", "run"]) == 0
    text = capsys.readouterr().out
    assert text.isascii()
    shown = json.loads(text)
    assert shown["digest"] == digest
    assert shown["type"] == _type(enact.Invocation)
    store = open_default()
    with store:
        invocation = store.tags["run"]()
        request = invocation.request()
    store.close()
    assert shown["fields"] == {
        "request": {"ref": invocation.request.digest},
        "response": {"ref": invocation.response.digest},
    }

    followed = _show_json(capsys, "run", "--depth", "2")
    request_json = followed["fields"]["request"]
    assert request_json["ref"] == invocation.request.digest
    assert request_json["type"] == _type(enact.Request)
    invokable = request_json["fields"]["invokable"]
    assert invokable == {
        "ref": request.invokable.digest,
        "type": _type(Complete),
        "fields": {"model": "tiny-model"},
    }
    assert request_json["fields"]["input"]["fields"] == {"value": PROMPT}
    # Three hops: not followed at --depth 2.
    response = followed["fields"]["response"]["fields"]
    assert set(response["output"]) == {"ref", "type", "fields"}
    assert response["children"] == []


# --- tree --json ---


def test_tree_json_is_the_call_tree_as_nested_objects(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paused = _invoke(Ask(question="Another line?"), PROMPT)
    digest = _tag("paused", paused)
    assert main(["tree", "--json", "paused"]) == 0
    tree = json.loads(capsys.readouterr().out)

    store = open_default()
    with store:
        root = store.tags["paused"]()
        complete, ask = (ref() for ref in root.response().children)
        request = root.get_raised()
    store.close()
    assert isinstance(request, enact.InputRequest)

    assert tree["digest"] == digest
    assert tree["request"] == root.request.digest
    assert tree["response"] == root.response.digest
    assert tree["invokable"]["type"] == _type(Ask)
    assert tree["invokable"]["fields"] == {"question": "Another line?"}
    assert tree["input"]["fields"] == {"value": PROMPT}
    assert tree["output"] is None
    assert tree["raised"]["type"] == _type(enact.InputRequest)
    assert tree["raised_here"] is False
    first, second = tree["children"]
    assert first["digest"] == enact.digest(complete)
    assert first["invokable"]["fields"] == {"model": "tiny-model"}
    assert first["output"]["fields"] == {"value": PROMPT.upper()}
    assert first["raised"] is None
    assert first["children"] == []
    assert second["digest"] == enact.digest(ask)
    assert second["invokable"]["type"] == _type(enact.RequestInput)
    assert second["output"] is None
    assert second["raised_here"] is True
    raised = second["raised"]["fields"]
    assert raised["context"] == "Another line?"
    assert raised["requested_type"] == {"resource_type": _type(enact.Str)}
    keys = ["digest", "request", "response", "invokable", "input", "output", "raised"]
    assert list(tree) == list(first) == [*keys, "raised_here", "children"]


def test_tree_json_of_the_demo_run_parses_in_a_subprocess(tmp_path: Path) -> None:
    assert run_enact(tmp_path, "demo", "--answer", "Rain").returncode == 0
    result = run_enact(tmp_path, "tree", "demo/latest", "--json")
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree["invokable"]["type"]["name"] == "enact._demo.WriteHaiku"
    assert len(tree["children"]) == 4
    assert tree["children"][3]["output"]["fields"] == {"value": "Rain"}
