"""One exception tree for the whole API, documented in one place (issue 11 item 14)."""

from __future__ import annotations

import builtins
import dataclasses
import re
from pathlib import Path

import pytest

import enact
import enact._errors

README = Path(__file__).resolve().parents[2] / "packages" / "enact" / "README.md"
DOCSTRING = enact._errors.__doc__ or ""

INVOKE_ERRORS = [
    enact.InvokeError,
    enact.InvocationError,
    enact.InvokableTypeError,
    enact.InputChanged,
    enact.ReplayError,
    enact.InputRequestOutsideInvocation,
    enact.RequestedTypeUndetermined,
    enact.NoOutputError,
]
# The ones that are also resources (recorded by the invocation that raised them).
RESOURCE_ERRORS = [cls for cls in INVOKE_ERRORS if issubclass(cls, enact.ExceptionResource)]


@dataclasses.dataclass
class Node:
    name: str
    ancestors: list[str]  # as drawn, the root first
    alongside: str | None  # the class in parentheses


def _tree_block(text: str) -> str:
    """The drawing: the first block after '::' (a docstring) or the whole text."""
    if "::\n\n" in text:
        block = text.split("::\n\n", 1)[1].split("\n\n", 1)[0]
        return "\n".join(line.removeprefix("    ") for line in block.splitlines())
    return text.strip("\n")


def _drawn_tree(text: str) -> list[Node]:
    nodes: list[Node] = []
    path: list[str] = []
    for number, line in enumerate(_tree_block(text).splitlines()):
        match = re.match(r"([│ ]*(?:├── |└── ))?(\w+)(?: \((\w+)\))?", line)
        if number and (match is None or match.group(1) is None):
            continue  # a description carried over to a line of its own
        assert match is not None, line
        depth = len(match.group(1) or "") // 4
        path[depth:] = [match.group(2)]
        nodes.append(Node(match.group(2), path[:depth], match.group(3)))
    return nodes


def _resolve(name: str) -> type:
    found = getattr(enact, name, None) or getattr(builtins, name)
    assert isinstance(found, type), name
    return found


@pytest.mark.parametrize("cls", INVOKE_ERRORS, ids=lambda cls: cls.__name__)
def test_invoke_errors_are_enact_errors(cls: type[Exception]) -> None:
    assert issubclass(cls, enact.EnactError)
    assert issubclass(cls, enact.InvokeError)


def test_except_enact_error_catches_what_invoke_raises() -> None:
    with enact.Store(), pytest.raises(enact.EnactError) as raised:
        _Double().invoke(enact.Str("not an Int"))
    assert isinstance(raised.value, enact.InvokableTypeError)
    assert isinstance(raised.value, TypeError)


def test_a_request_for_input_is_not_an_enact_error() -> None:
    # Pausing for input must get through an `except EnactError` around a call.
    assert not issubclass(enact.InputRequest, enact.EnactError)
    assert not issubclass(enact.ExceptionResource, enact.EnactError)


@pytest.mark.parametrize("cls", RESOURCE_ERRORS, ids=lambda cls: cls.__name__)
def test_being_an_enact_error_changes_no_type_id_digest_or_args(
    cls: type[enact.ExceptionResource],
) -> None:
    # A twin with the same type name that is only an ExceptionResource: the
    # type ids and digests of stored errors must be the ones they always were.
    name = cls.type_name()
    twin = type(
        cls.__name__, (enact.ExceptionResource,), {"type_name": classmethod(lambda _: name)}
    )
    assert cls.type_id() == twin.type_id()
    error, twin_error = cls("message", 2), twin("message", 2)
    assert enact.digest(error) == enact.digest(twin_error)
    assert error.args == ("message", 2)
    assert str(error) == str(twin_error)
    with enact.Store():
        assert enact.commit(error)() == error


def test_the_drawn_tree_is_the_class_tree() -> None:
    nodes = _drawn_tree(DOCSTRING)
    assert nodes[0].name == "Exception"
    for node in nodes[1:]:
        cls = _resolve(node.name)
        assert issubclass(cls, _resolve(node.ancestors[-1])), node
        if node.alongside is not None:
            assert issubclass(cls, _resolve(node.alongside)), node
        under_enact_error = any("EnactError" in n.ancestors for n in nodes if n.name == node.name)
        if node.name != "EnactError":
            assert issubclass(cls, enact.EnactError) == under_enact_error, node


def test_every_exception_of_the_api_is_in_the_drawn_tree() -> None:
    drawn = {node.name for node in _drawn_tree(DOCSTRING)}
    exported = {
        name
        for name in enact.__all__
        if isinstance(getattr(enact, name), type)
        and issubclass(getattr(enact, name), BaseException)
    }
    # Aliases, named beside the class they are.
    assert exported - {"InputRequired", "ResourceNotFound"} <= drawn
    assert enact.InputRequired is enact.InputRequest
    assert enact.ResourceNotFound is enact.TypeNotRegisteredError


def test_the_readme_draws_the_same_tree() -> None:
    section = README.read_text().split("\n## Errors\n", 1)[1]
    block = section.split("```\n", 2)[1]
    assert _tree_block(block) == _tree_block(DOCSTRING)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class _Double(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(2 * x)
