"""Compact one-line descriptions of resources and the call tree of an invocation.

Used by ``enact tree`` and ``enact demo``. One line per invocation::

    #6c1f0e2a WriteHaiku()('spring') -> Haiku(title='Rain', season='spring', lines=[3 items])
    #0b9c3e11   PickLine(options=[5 items])() -> 'morning frost melting'
    #77cc88dd   RequestInput(requested_type=Str, context='Give this...')() raised InputRequest: ...

The call is written as ``invokable(input)``, as in enact's replay error
messages; an input of ``NoneResource`` is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enact_invoke import (
    ExceptionResource,
    InputRequest,
    Invocation,
    RequestInput,
    WrappedException,
)
from enact_resource import NoneResource, ResourceBase
from enact_store import Ref

__all__ = ["brief", "describe_exception", "short", "tree_lines"]

#: Hex digits of a digest shown in listings (``#6c1f0e2a``).
SHORT = 8


def short(ref: Ref[Any]) -> str:
    """Returns ``#`` and the first hex digits of a ref's digest."""
    return "#" + ref.digest[:SHORT]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 1)] + "..."


def _str(value: str, width: int) -> str:
    # The repr of the clipped text, so quotes stay balanced.
    return str.__repr__(value) if len(value) <= width else str.__repr__(_clip(value, width))


def brief(value: Any, width: int = 48) -> str:
    """Returns a one-line description of a field value or resource.

    Strings are clipped to about ``width`` characters, lists and mappings
    show their size, refs their short digest, and resources nested inside
    fields only their class name.
    """
    return _brief(value, width, nested=False)


def _brief(value: Any, width: int, nested: bool) -> str:
    if isinstance(value, Ref):
        return short(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return _str(value, width)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, NoneResource):
        return "None"
    if isinstance(value, list | tuple):
        return _count(len(value), "[", "]")
    if isinstance(value, Mapping):
        return _count(len(value), "{", "}")
    if isinstance(value, ExceptionResource):
        return describe_exception(value, width)
    if isinstance(value, RequestInput) and value.requested_type is not None:
        # Its question shows in the InputRequest it raises.
        return f"RequestInput({value.requested_type.__name__})"
    if isinstance(value, ResourceBase):
        name = type(value).__name__
        items = list(value.field_items())
        if not items:
            return f"{name}()"
        if nested:
            return f"{name}(...)"
        fields = [f"{field}={_brief(item, 24, nested=True)}" for field, item in items]
        return f"{name}({', '.join(fields)})"
    return _clip(repr(value), width)


def _count(n: int, open_: str, close: str) -> str:
    if n == 0:
        return open_ + close
    return f"{open_}{n} item{'s' if n != 1 else ''}{close}"


def describe_exception(error: ExceptionResource, width: int = 48) -> str:
    """Returns ``Name: message`` for a recorded exception, on one line."""
    name = type(error).__name__
    if isinstance(error, InputRequest):
        message = error.context if isinstance(error.context, str) else brief(error.context)
    elif isinstance(error, WrappedException):
        # The traceback text: its last line names the original exception.
        text = str(error.args[0]) if error.args else ""
        lines = [line for line in text.splitlines() if line.strip()]
        message = lines[-1].strip() if lines else ""
    else:
        message = " ".join(str(error).split())
    return f"{name}: {_clip(message, width)}" if message else name


def _call(invocation: Invocation[Any, Any]) -> str:
    request = invocation.request()
    given = request.input()
    argument = "" if isinstance(given, NoneResource) else brief(given, 30)
    return f"{brief(request.invokable())}({argument})"


def _result(invocation: Invocation[Any, Any]) -> str:
    response = invocation.response()
    if response.output is not None:
        return "-> " + brief(response.output())
    if response.raised is not None:
        if not response.raised_here:
            return f"raised {type(response.raised()).__name__} (from a child)"
        return f"raised {describe_exception(response.raised())}"
    return "(no output recorded)"


def tree_lines(root: Ref[Invocation[Any, Any]]) -> list[str]:
    """Returns the call tree of an invocation, one line per call, children indented.

    Reads from the active store. Works from an explicit stack, so deep trees
    do not hit the recursion limit.
    """
    lines: list[str] = []
    stack: list[tuple[Ref[Invocation[Any, Any]], int]] = [(root, 0)]
    while stack:
        ref, depth = stack.pop()
        invocation = ref()
        if not isinstance(invocation, Invocation):
            raise TypeError(f"{short(ref)} is a {type(invocation).__name__}, not an Invocation")
        lines.append(f"{short(ref)} {'  ' * depth}{_call(invocation)} {_result(invocation)}")
        children = invocation.response().children
        stack.extend((child, depth + 1) for child in reversed(children))
    return lines
