"""The call tree of an invocation as text, one line per call (``enact tree``, ``enact demo``).

::

    #6c1f0e2a WriteHaiku()('spring') -> Haiku(title='Rain', season='spring', lines=[3 items])
    #0b9c3e11   PickLine(options=[5 items])() -> 'morning frost melting'
    #77cc88dd   RequestInput(Str)() raised InputRequest: Give this winter haiku a title

The call is written as ``invokable(input)``, as in enact's replay error
messages; an input of ``NoneResource`` is left out. Lists and mappings show
their size, refs their short digest, and resources nested inside fields only
their class name.

Strings show their first line, and as much of it as the line's width allows:
when a line would be wider, the strings on it share the room the rest of the
line leaves (the shortest keep all they need, the longest are clipped first,
none below :data:`MIN_CLIP` columns) and a clipped string ends in ``...``.
Without a width (``enact tree --full``) every value is shown whole: strings
with all their lines, and lists, mappings and nested resources with their
items.

Stored values are user content, so a line never holds a character that is not
printable: newlines, tabs, ESC and the other C0 and C1 controls, bidi
overrides and the like are shown escaped, as in a Python repr (``\\n``,
``\\x1b``, ``\\u202e``). A value can neither start a new line nor move the
cursor.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from enact_invoke import (
    ExceptionResource,
    InputRequest,
    Invocation,
    RequestInput,
    WrappedException,
)
from enact_resource import (
    EnactError,
    NoneResource,
    ResourceBase,
    ResourceDict,
    SchemaMismatchError,
    StoredResource,
    TypeNotRegisteredError,
)
from enact_store import Ref, Store

__all__ = ["DEFAULT_WIDTH", "MIN_CLIP", "NotAnInvocation", "escape", "short", "tree_lines"]

#: Hex digits of a digest shown in listings (``#6c1f0e2a``).
SHORT = 8
#: The width of a line when no terminal says otherwise.
DEFAULT_WIDTH = 100
#: Fewest columns a clipped string keeps, however crowded its line.
MIN_CLIP = 12
_MORE = "..."
# One character of escaped text: an escape sequence as a repr writes it, or a
# plain character (so clipping never cuts an escape in two).
_TOKEN = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)|.", re.DOTALL)


class NotAnInvocation(EnactError, TypeError):
    """A call tree names an object that is not an invocation."""


def short(ref: Ref[Any]) -> str:
    """Returns ``#`` and the first hex digits of a ref's digest."""
    return "#" + ref.digest[:SHORT]


def escape(text: str) -> str:
    """Returns ``text`` with every character that is not printable escaped as a repr does."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else str.__repr__(c)[1:-1] for c in text)


def _columns(text: str) -> int:
    """Terminal columns of printable text: wide (East Asian) characters take two."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _first_line(text: str) -> tuple[str, bool]:
    """Returns the first line of ``text`` with something on it, and whether there is more."""
    if text.isprintable():
        return text, False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            return line, i > 0 or any(rest.strip() for rest in lines[i + 1 :])
    return text, False  # Only blank lines: show them (escaped), they are short.


class _Clip:
    """A string on a line: escaped, and clipped when the line is short of room."""

    __slots__ = ("body", "close", "more", "natural", "open")

    def __init__(self, text: str, *, quoted: bool, full: bool) -> None:
        more = False
        if not full:
            text, more = _first_line(text)
        if quoted:
            # A repr, so quotes stay balanced and escapes unambiguous.
            text = str.__repr__(text)
            self.open, self.body, self.close = text[0], text[1:-1], text[-1]
        else:
            self.open, self.body, self.close = "", escape(text), ""
        self.more = more
        self.natural = _columns(self.render(None))

    def render(self, budget: int | None) -> str:
        """Returns the text in at most ``budget`` columns (when it can), whole for None."""
        if budget is None or self.natural <= budget:
            return self.open + self.body + (_MORE if self.more else "") + self.close
        room = budget - len(self.open) - len(self.close) - len(_MORE)
        body = self.body
        if body.isascii() and "\\" not in body:
            end = max(room, 0)  # One column per character, and no escape to keep whole.
        else:
            used = end = 0
            for token in _TOKEN.finditer(body):
                used += _columns(token[0])
                if used > room:
                    break
                end = token.end()
        return self.open + body[:end] + _MORE + self.close


def _fit(pieces: list[str | _Clip], width: int | None) -> str:
    """Joins a line's pieces, clipping its strings so that it fits ``width`` columns."""
    clips = [piece for piece in pieces if isinstance(piece, _Clip)]
    budgets: dict[int, int] = {}
    if width is not None and clips:
        room = width - sum(_columns(piece) for piece in pieces if isinstance(piece, str))
        if room < sum(clip.natural for clip in clips):
            # Shortest first: each takes what it needs up to an equal share of what is left.
            clips.sort(key=lambda clip: clip.natural)
            for k, clip in enumerate(clips):
                share = room // (len(clips) - k)
                budget = max(min(clip.natural, share), min(clip.natural, MIN_CLIP))
                budgets[id(clip)] = budget
                room -= budget
    line = "".join(
        piece if isinstance(piece, str) else piece.render(budgets.get(id(piece)))
        for piece in pieces
    )
    return escape(line)  # Names and counts are printable already; this is a safety net.


def _read(ref: Ref[Any]) -> Any:
    """The resource a ref names; its stored form (a ResourceDict) if its class is missing.

    The stored form is also what is shown when the class cannot take the
    stored fields (another version of it), so a tree always prints.
    """
    data = Store.current().load(ref)
    rtype = data.type
    if issubclass(rtype, StoredResource) and rtype.target() is None:
        return data
    try:
        return data.to_resource()
    except (TypeNotRegisteredError, SchemaMismatchError):
        return data  # A type inside it is missing, or another version.


#: Stored names of the types shown as stored (``[raw]``) since last cleared.
RAW_SHOWN: set[str] = set()


def _stored_name(data: ResourceDict) -> str:
    rtype = data.type
    if issubclass(rtype, StoredResource) and rtype.target() is None:
        RAW_SHOWN.add(rtype.stored_name)
        return f"{rtype.__name__}[raw]"
    return rtype.__name__


def _value(value: Any, out: list[str | _Clip], *, nested: bool, full: bool) -> None:
    """Appends the pieces that describe a field value or resource to ``out``."""
    if isinstance(value, ResourceDict):
        _fields(_stored_name(value), list(value.items()), out, nested=nested, full=full)
    elif isinstance(value, Ref):
        out.append(short(value))
    elif value is None or isinstance(value, bool):
        out.append(repr(value))
    elif isinstance(value, bytes):
        out.append(f"<{len(value)} bytes>")
    elif isinstance(value, str):
        out.append(_Clip(str.__str__(value), quoted=True, full=full))
    elif isinstance(value, int):
        try:
            out.append(int.__repr__(value))
        except ValueError:  # More digits than int-to-text allows.
            out.append(f"<int of {value.bit_length()} bits>")
    elif isinstance(value, float):
        out.append(float.__repr__(value))
    elif isinstance(value, type):
        if issubclass(value, StoredResource) and value.target() is None:
            RAW_SHOWN.add(value.stored_name)
            out.append(f"{value.__name__}[raw]")
        else:
            out.append(value.__name__)
    elif isinstance(value, NoneResource):
        out.append("None")
    elif isinstance(value, list | tuple):
        if full and value:
            out.append("[")
            for i, item in enumerate(value):
                if i:
                    out.append(", ")
                _value(item, out, nested=True, full=full)
            out.append("]")
        else:
            out.append(_count(len(value), "[", "]"))
    elif isinstance(value, Mapping):
        if full and value:
            out.append("{")
            for i, (key, item) in enumerate(value.items()):
                out.append(", " if i else "")
                out.append(_Clip(str(key), quoted=True, full=full))
                out.append(": ")
                _value(item, out, nested=True, full=full)
            out.append("}")
        else:
            out.append(_count(len(value), "{", "}"))
    elif isinstance(value, ExceptionResource):
        _exception(value, out, full=full)
    elif isinstance(value, RequestInput) and value.requested_type is not None:
        # Its question shows in the InputRequest it raises.
        out.append(f"RequestInput({value.requested_type.__name__})")
    elif isinstance(value, ResourceBase):
        _fields(type(value).__name__, list(value.field_items()), out, nested=nested, full=full)
    else:
        out.append(_Clip(repr(value), quoted=False, full=full))


def _fields(
    name: str, items: list[tuple[str, Any]], out: list[str | _Clip], *, nested: bool, full: bool
) -> None:
    """Appends ``Name(field=value, ...)`` (``Name(...)`` when nested and not full)."""
    if not items:
        out.append(f"{name}()")
    elif nested and not full:
        out.append(f"{name}(...)")
    else:
        for i, (field, item) in enumerate(items):
            out.append(f"{', ' if i else name + '('}{field}=")
            _value(item, out, nested=True, full=full)
        out.append(")")


def _count(n: int, open_: str, close: str) -> str:
    if n == 0:
        return open_ + close
    return f"{open_}{n} item{'s' if n != 1 else ''}{close}"


def _exception(
    error: ExceptionResource | ResourceDict, out: list[str | _Clip], *, full: bool
) -> None:
    """Appends ``Name: message`` for a recorded exception."""
    if isinstance(error, ResourceDict):  # An exception class this process lacks.
        out.append(f"{_stored_name(error)}: ")
        _value(dict(error), out, nested=True, full=full)
        return
    name = type(error).__name__
    if isinstance(error, InputRequest):
        out.append(f"{name}: ")
        if isinstance(error.context, str):
            out.append(_Clip(error.context, quoted=False, full=full))
        else:
            _value(error.context, out, nested=True, full=full)
        return
    if isinstance(error, WrappedException):
        # The traceback text: its last line names the original exception.
        text = str(error.args[0]) if error.args else ""
        if not full:
            lines = [line for line in text.splitlines() if line.strip()]
            text = lines[-1].strip() if lines else ""
    else:
        text = str(error) if full else " ".join(str(error).split())
    out.append(f"{name}: " if text else name)
    if text:
        out.append(_Clip(text, quoted=False, full=full))


def _line(ref: Ref[Any], depth: int, width: int | None) -> tuple[str, list[Ref[Any]]]:
    """Returns the line of one call and the refs of its children."""
    invocation = _read(ref)
    if not isinstance(invocation, Invocation):
        name = (
            _stored_name(invocation)
            if isinstance(invocation, ResourceDict)
            else type(invocation).__name__
        )
        raise NotAnInvocation(f"{short(ref)} is a {name}, not an Invocation")
    full = width is None
    pieces: list[str | _Clip] = [f"{short(ref)} {'  ' * depth}"]
    request = invocation.request()
    _value(_read(request.invokable), pieces, nested=False, full=full)
    pieces.append("(")
    given = _read(request.input)
    if not isinstance(given, NoneResource):
        _value(given, pieces, nested=False, full=full)
    pieces.append(")")
    response = invocation.response()
    if response.output is not None:
        pieces.append(" -> ")
        _value(_read(response.output), pieces, nested=False, full=full)
    elif response.raised is None:
        pieces.append(" (no output recorded)")
    else:
        raised = _read(response.raised)
        if not response.raised_here:
            name = (
                _stored_name(raised) if isinstance(raised, ResourceDict) else type(raised).__name__
            )
            pieces.append(f" raised {name} (from a child)")
        else:
            pieces.append(" raised ")
            _exception(raised, pieces, full=full)
    return _fit(pieces, width), response.children


def tree_lines(root: Ref[Invocation[Any, Any]], width: int | None = DEFAULT_WIDTH) -> Iterator[str]:
    """Yields the call tree of an invocation, one line per call, children indented.

    Reads from the active store. Works from an explicit stack, so deep trees
    do not hit the recursion limit, and yields each line as soon as it is
    known.

    Args:
        root: the invocation.
        width: the columns a line may take: strings are clipped to fit (see the
            module docstring). None shows every value whole.

    Raises:
        NotAnInvocation: the root or a child is not an invocation.
    """
    stack: list[tuple[Ref[Any], int]] = [(root, 0)]
    while stack:
        ref, depth = stack.pop()
        line, children = _line(ref, depth, width)
        yield line
        stack.extend((child, depth + 1) for child in reversed(children))
