"""Plain functions as invokables: @enact.invokable (issue 15)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import enact

HERE = Path(__file__).resolve().parent
CALLS: list[str] = []


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


@enact.invokable
def summarize(text: str, max_words: int = 50) -> str:
    CALLS.append("summarize")
    return " ".join(text.split()[:max_words])


@enact.invokable
def no_params() -> int:
    CALLS.append("no_params")
    return 4


@enact.invokable
def halve(sides: enact.Int) -> enact.Int:
    return enact.Int(int(sides) // 2)


@enact.invokable
def two_summaries(text: str) -> list[str]:
    return [summarize(text, 1), summarize(text=text)]


@enact.invokable
def parts(
    words: list[str], weights: dict[str, float], note: str | None = None, *, flag: bool = False
) -> str:
    return f"{words} {weights} {note} {flag}"


@enact.invokable
def liar(text: str) -> int:
    return text  # type: ignore[return-value]


@enact.invokable
def top(text: str) -> str:
    return str(liar(text))


@enact.invokable(name="tests.functions.versioned", version="2")
def versioned(text: str) -> str:
    return text


@enact.invokable(name="tests.functions.write_line", version="2")
async def write_line(topic: str, syllables: int) -> str:
    await asyncio.sleep(0)
    return f"{topic} ({syllables})"


@enact.invokable
async def three_lines(topic: str) -> list[str]:
    return list(await asyncio.gather(*(write_line(topic, n) for n in (5, 7, 5))))


@enact.invokable
def pooled(n: int) -> int:
    futures = [summarize.submit(f"w{i} x y", 1) for i in range(n)]
    return len([f.result() for f in futures])


@enact.register
@dataclasses.dataclass
class Tally(enact.Resource):
    count: int = 0

    @enact.invokable
    def add(self, by: int) -> int:
        CALLS.append("add")
        self.count += by
        return self.count


@enact.invokable
def add_twice(by: int) -> int:
    tally = Tally()
    tally.add(by)
    return tally.add(by)


def request_digest(invocation: enact.Invocation[Any, Any]) -> str:
    return invocation.request.digest


# --- Calling. ---


def test_a_call_outside_any_tracked_call_runs_and_writes_nothing() -> None:
    store = enact.Store()
    with store:
        assert summarize("one two three", 2) == "one two"
    assert list(store.backend.iter_objects()) == []  # type: ignore[attr-defined]
    assert summarize("a b") == "a b"  # No store needed either.
    assert CALLS == ["summarize", "summarize"]


def test_a_call_inside_a_tracked_call_records_a_child_and_returns_the_plain_value() -> None:
    with enact.Store():
        invocation = two_summaries.invoke("one two")
        assert invocation.get_output().value == ["one", "one two"]
        children = invocation.get_children()
        assert [child.get_output() for child in children] == ["one", "one two"]
        assert all(type(child.get_output()) is enact.Str for child in children)
    assert CALLS == ["summarize", "summarize"]


def test_arguments_are_bound_with_defaults_before_they_make_the_request() -> None:
    with enact.Store():
        digests = {
            request_digest(summarize.invoke("x")),
            request_digest(summarize.invoke(text="x")),
            request_digest(summarize.invoke("x", 50)),
            request_digest(summarize.invoke("x", max_words=50)),
        }
        assert len(digests) == 1
        assert request_digest(summarize.invoke("x", 51)) not in digests
        recorded = summarize.invoke("x").request().input()
        assert recorded.field_items is not None
        assert dict(recorded.field_items()) == {"text": "x", "max_words": 50}
        assert type(recorded).type_name() == f"{__name__}.summarize.Input"


def test_a_function_without_parameters_takes_none_resource() -> None:
    with enact.Store():
        invocation = no_params.invoke()
        assert invocation.request().input() == enact.NoneResource()
        assert invocation.get_output() == 4
    assert no_params() == 4


def test_one_resource_parameter_is_the_input() -> None:
    with enact.Store():
        invocation = halve.invoke(enact.Int(7))
        assert type(invocation.request().input()) is enact.Int
        assert invocation.get_output() == 3
    assert halve.input_type is enact.Int
    assert halve.output_type is enact.Int


def test_containers_and_optionals_are_checked_and_returned() -> None:
    with enact.Store():
        invocation = parts.invoke(["a"], {"a": 1}, flag=True)
        assert invocation.get_output() == "['a'] {'a': 1.0} None True"
        given = invocation.request().input()
    assert type(given.weights["a"]) is float  # An int given for a float is stored as one.
    with pytest.raises(enact.InvokableTypeError, match=r"'words'\[1\] must be str, got int"):
        parts(["a", 2], {})
    with pytest.raises(enact.InvokableTypeError, match=r"'weights' must be dict\[str, float\]"):
        parts([], [("a", 1.0)])  # type: ignore[arg-type]
    with pytest.raises(enact.InvokableTypeError, match=r"'note' must be str \| None"):
        parts([], {}, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None,), "argument 'text' must be str, got NoneType: None"),
        (([1, 2],), "argument 'text' must be str, got list: [1, 2]"),
        (("x", 3.9), "argument 'max_words' must be int, got float: 3.9"),
        (("x", True), "argument 'max_words' must be int, got bool: True"),
        (("x", "3"), "argument 'max_words' must be int, got str: '3'"),
    ],
)
def test_arguments_of_the_wrong_type_raise_naming_the_parameter(
    args: tuple[Any, ...], message: str
) -> None:
    with enact.Store() as store:
        with pytest.raises(enact.InvokableTypeError) as raised:
            summarize.invoke(*args)
        with pytest.raises(enact.InvokableTypeError):
            summarize(*args)
        assert list(store.backend.iter_objects()) == []  # type: ignore[attr-defined]
    assert message in str(raised.value)
    assert CALLS == []


def test_an_int_for_a_float_is_the_same_request_as_the_float() -> None:
    @enact.invokable(name="tests.functions.scale")
    def scale(x: float) -> float:
        return x * 2

    with enact.Store():
        assert request_digest(scale.invoke(2)) == request_digest(scale.invoke(2.0))
        assert scale.invoke(2).get_output() == 4.0
    assert type(scale(2)) is float


def test_a_wrong_return_type_is_recorded_and_raised() -> None:
    with enact.Store():
        with pytest.raises(enact.InvokableTypeError, match=r"liar\(\) must return int"):
            top.invoke("x")
        recorded = top.invokable_type().invoke(
            top.input_type(text="x"),  # type: ignore[call-arg]
            raise_on_invocation_error=False,
        )
        child = recorded.get_children()[0]
        raised = child.get_raised()
        assert isinstance(raised, enact.InvokableTypeError)
        assert "must return int, but returned str: 'x'" in str(raised)


def test_version_is_state_so_bumping_it_changes_the_request() -> None:
    with enact.Store():
        first = versioned.invoke("x")
        assert first.request().invokable() == versioned.invokable_type(version="2")  # type: ignore[call-arg]

        @enact.invokable(name="tests.functions.versioned", version="3")
        def versioned_v3(text: str) -> str:
            return text

        bumped = versioned_v3.invoke("x")
        assert request_digest(bumped) != request_digest(first)

        @enact.invokable(name="tests.functions.versioned", version="3")
        def versioned_v3_edited(text: str) -> str:
            return text.upper()  # Another body, the same version: the same request.

        assert request_digest(versioned_v3_edited.invoke("x")) == request_digest(bumped)
        assert "version" not in summarize.invokable_type.field_names()


def test_a_method_of_a_resource_has_the_resource_as_its_state() -> None:
    with enact.Store():
        invocation = add_twice.invoke(3)
        assert invocation.get_output() == 6
        first, second = invocation.get_children()
        assert first.request().invokable().self == Tally(0)
        assert first.response().invokable().self == Tally(3)  # Post-call state recorded.
        assert second.request().invokable().self == Tally(3)
        assert first.request().input().by == 3

        # Replay reuses both calls and applies their recorded state.
        CALLS.clear()
        assert invocation.replay().get_output() == 6
        assert CALLS == []

        tally = Tally(10)
        assert tally.add.invoke(1).get_output() == 11
        assert tally == Tally(11)
        assert tally.add.submit(2).result() == 13


def test_async_functions_are_async_invokables() -> None:
    async def main() -> enact.Invocation[Any, Any]:
        return await three_lines.invoke_async("rain")

    with enact.Store():
        invocation = asyncio.run(main())
        assert invocation.get_output().value == ["rain (5)", "rain (7)", "rain (5)"]
        assert [c.request().input().syllables for c in invocation.get_children()] == [5, 7, 5]
        assert issubclass(three_lines.invokable_type, enact.AsyncInvokable)
        assert invocation.replay().get_output().value == ["rain (5)", "rain (7)", "rain (5)"]


def test_submit_records_children_in_submit_order() -> None:
    with enact.Store():
        invocation = pooled.invoke(4)
        assert invocation.get_output() == 4
        inputs = [child.request().input().text for child in invocation.get_children()]
        assert inputs == ["w0 x y", "w1 x y", "w2 x y", "w3 x y"]
        assert summarize.submit("a b c", 1).result() == "a"


# --- Decoration-time errors. ---


def _decorate(fn: Any, **options: Any) -> Any:
    return enact.invokable(**options)(fn) if options else enact.invokable(fn)


def test_unsupported_signatures_fail_at_decoration_naming_the_parameter() -> None:
    def tuple_param(xs: tuple[int, int]) -> int:
        return 0

    def any_param(x: Any) -> int:
        return 0

    def star_args(*texts: str) -> int:
        return 0

    def star_kwargs(**texts: str) -> int:
        return 0

    def unannotated(text) -> int:  # type: ignore[no-untyped-def]
        return 0

    def no_return(text: str):  # type: ignore[no-untyped-def]
        return 0

    def union(x: int | str) -> int:
        return 0

    def int_keys(x: dict[int, str]) -> int:
        return 0

    def reserved(field_names: list[str]) -> int:
        return 0

    cases = [
        (tuple_param, "parameter 'xs'"),
        (any_param, "parameter 'x'"),
        (star_args, "parameter 'texts' is *args or **kwargs"),
        (star_kwargs, "parameter 'texts' is *args or **kwargs"),
        (unannotated, "parameter 'text' has no annotation"),
        (no_return, "the return value has no annotation"),
        (union, "parameter 'x'"),
        (int_keys, "dict keys must be str"),
        (reserved, "parameter 'field_names' has the name of a resource method"),
    ]
    for fn, message in cases:
        with pytest.raises(enact.InvokableTypeError) as raised:
            _decorate(fn, name=f"tests.functions.bad.{fn.__name__}")
        assert message in str(raised.value)


def test_lambdas_and_local_functions_need_a_name() -> None:
    def local(x: int) -> int:
        return x

    with pytest.raises(enact.InvokableTypeError, match="lambda or a local function"):
        _decorate(local)
    with pytest.raises(enact.InvokableTypeError, match="lambda or a local function"):
        _decorate(lambda: 1)
    named = _decorate(local, name="tests.functions.local")
    assert named.invokable_type.type_name() == "tests.functions.local"
    assert named(3) == 3


def test_a_default_of_the_wrong_type_fails_at_decoration() -> None:
    def bad_default(x: int = "3") -> int:  # type: ignore[assignment]
        return x

    with pytest.raises(enact.InvokableTypeError, match="default of parameter 'x' is not int"):
        _decorate(bad_default, name="tests.functions.bad_default")


# --- Media annotations (issue 19). ---


def test_pil_and_numpy_annotations_are_stored_as_image_and_nparray() -> None:
    np = pytest.importorskip("numpy")
    pil = pytest.importorskip("PIL.Image")

    @enact.invokable(name="tests.functions.brighten")
    def brighten(image: pil.Image, gains: np.ndarray) -> np.ndarray:
        return np.asarray(image, dtype=np.float64) * gains

    with enact.Store():
        image = pil.new("L", (2, 2), 10)
        invocation = brighten.invoke(image, np.array([1.0, 2.0]))
        given = invocation.request().input()
        assert isinstance(given.image, enact.Image)
        assert isinstance(given.gains, enact.NPArray)
        assert isinstance(invocation.get_output(), enact.NPArray)
        assert brighten.output_type is enact.NPArray
        result = brighten(image, np.array([1.0, 2.0]))
        assert isinstance(result, np.ndarray)
        assert result.tolist() == [[10.0, 20.0], [10.0, 20.0]]


# --- Identity with classes, and replay in another process. ---


def _python(code: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE), **(env or {})},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


_RECORD = """
import json, sys
import enact
import {module} as m

with enact.Store():
    records = {{}}
    for name, call in [("essay", lambda: {essay}), ("roll", lambda: {roll})]:
        invocation = call()
        ref = enact.commit(invocation)
        records[name] = ref.digest
        records[name + "/output"] = str(invocation.get_output())
    print(json.dumps(records))
"""


def test_functions_and_hand_written_classes_of_the_same_names_record_identically() -> None:
    functions = json.loads(
        _python(
            _RECORD.format(
                module="_pipeline_functions",
                essay="m.essay.invoke('rain')",
                roll="m.roll.invoke(enact.Int(7))",
            )
        )
    )
    classes = json.loads(
        _python(
            _RECORD.format(
                module="_pipeline_classes",
                essay="m.Essay().invoke(m.EssayInput('rain'))",
                roll="m.Roll().invoke(enact.Int(7))",
            )
        )
    )
    assert functions == classes
    assert functions["roll/output"] == "3"


def test_records_replay_in_a_fresh_interpreter_that_imports_only_the_module(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.db"
    log = tmp_path / "runs.log"
    env = {"ENACT_TEST_RUNS": str(log)}
    _python(
        f"""
import enact, _pipeline_functions as m
with enact.open_store("sqlite:///{db}") as store:
    invocation = m.essay.invoke("rain")
    ref = enact.commit(invocation)
    # Forget the second draft and everything after it: replay re-runs those only.
    with ref.modify() as top, top.response.modify() as response:
        response.output = None
        response.children = response.children[:3]
        with response.children[2].modify() as draft, draft.response.modify() as drafted:
            drafted.output = None
    store.tags["run"] = ref
""",
        env,
    )
    steps = ["essay", "outline", "draft", "draft", "draft", "critique", "revise"]
    assert log.read_text().split() == steps
    log.unlink()
    out = _python(
        f"""
import enact, _pipeline_functions
with enact.open_store("sqlite:///{db}") as store:
    replayed = store.tags["run"]().replay()
    print(replayed.get_output())
""",
        env,
    )
    assert out.startswith("A paragraph about rain: point 1.")
    assert log.read_text().split() == ["essay", "draft", "draft", "critique", "revise"]
