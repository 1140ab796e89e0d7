"""The packers and codecs generated from source text can be read and debugged.

Each generated function has a filename of its own whose source is registered,
so that tracebacks, inspect.getsource and profilers show the generated lines;
names written into the source as identifiers are checked to be identifiers.
(A unit test of private modules: the generated functions are not public.)
"""

from __future__ import annotations

import dataclasses
import inspect
import traceback
from typing import Any

import pytest

import enact_resource as er
from enact_resource import _codegen, _digest, _serialization


@dataclasses.dataclass
class Sample(er.Resource):
    title: str
    count: int
    extra: Any = None


def _packers() -> tuple[Any, Any]:
    entry = _digest._dataclass_packers(Sample)
    assert entry is not None
    return entry[1], entry[2]


def _codec() -> Any:
    return _serialization._Layout(er.type_info(Sample), Sample, True)


def test_the_generated_source_of_a_sample_class_can_be_printed() -> None:
    pack, pack_top = _packers()
    layout = _codec()
    functions = [pack, pack_top, layout.encode_fields, layout.encode_whole, layout.decode]

    sources = [inspect.getsource(function) for function in functions]

    for function, source in zip(functions, sources, strict=True):
        print(f"# {function.__code__.co_filename}\n{source}")
        assert source.startswith(f"def {function.__name__}(")
        assert function.__code__.co_filename.startswith("<enact-resource ")
        assert f"{Sample.__qualname__}" in function.__code__.co_filename
    assert "value = resource.title" in sources[1]
    assert "'count'" in sources[2]


def test_a_traceback_through_a_generated_packer_shows_its_line() -> None:
    sample = Sample("t", 1)
    del sample.count  # The packer reads each field as an attribute.

    with pytest.raises(AttributeError) as caught:
        er.digest(sample)

    frames = traceback.extract_tb(caught.value.__traceback__)
    generated = [frame for frame in frames if frame.filename.startswith("<enact-resource ")]
    assert generated, [frame.filename for frame in frames]
    assert generated[-1].line == "value = resource.count"
    assert "packers of" in generated[-1].filename


def test_a_traceback_through_a_generated_codec_shows_its_line() -> None:
    layout = _codec()

    with pytest.raises(TypeError) as caught:
        layout.decode(None, 42)  # not a JSON object

    frame = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert frame.filename.startswith("<enact-resource codec of")
    assert frame.line == "if len(obj) != 4:"


@pytest.mark.parametrize("name", ["not an identifier", "class", "a.b", "x]; import os; [y", ""])
def test_a_name_used_as_an_identifier_must_be_one(name: str) -> None:
    namespace: dict[str, Any] = {}

    with pytest.raises(ValueError, match="is not a Python identifier"):
        _codegen.generate(
            "packers",
            Sample,
            ["def f(resource):", "    return 1"],
            namespace,
            identifiers=["title", name],
        )

    assert "f" not in namespace


def test_each_generation_gets_a_filename_of_its_own() -> None:
    first = _codegen.generate("codec", Sample, ["def f():", "    return 1"], {})["f"]
    second = _codegen.generate("codec", Sample, ["def f():", "    return 2"], {})["f"]

    assert first.__code__.co_filename != second.__code__.co_filename
    assert inspect.getsource(first) != inspect.getsource(second)
    assert (first(), second()) == (1, 2)
