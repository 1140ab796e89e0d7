"""JSON forms of stored objects and call trees (``enact show --json``, ``enact tree --json``).

The format is documented in the package README ("JSON output"). In short, an
object is ``{"digest": D, "type": T, "fields": {...}}`` with ``T`` =
``{"name": N, "id": TYPE_ID}``, and a field value is written as itself when
JSON has it (string, integer, finite float, true/false, null, array) and
otherwise as an object with one key that names its kind:

=========================================  =====================================
``{"ref": D}``                             a ref, not followed
``{"ref": D, "type": T, "fields": {...}}``  a ref followed to its target
``{"type": T, "fields": {...}}``           a resource held in the field itself
``{"map": {...}}``                         a mapping (str keys)
``{"bytes": B}``                           bytes, base64 (RFC 4648, with padding)
``{"float": "nan" | "inf" | "-inf"}``      a float JSON cannot write
``{"int": S}``                             an integer with more decimal digits
                                           than Python reads from JSON (4300)
``{"resource_type": T}``                   a resource type
=========================================  =====================================

``enact serve`` uses the same forms with a :class:`Style`: types of stored
objects whose class this process lacks (or has in another version) carry
``"raw": true``, and long values may be clipped to
``{"clipped": KIND, "shown": PART, "length": N}`` (KIND ``"str"``, ``"bytes"``,
``"list"`` or ``"map"``; PART the first characters, the first bytes in
base64, the first items or a ``{"map": ...}`` of the first entries; N the
whole value's length in characters, bytes, items or entries).

The output is ASCII (other characters as ``\\uXXXX`` escapes), so it is safe
on any terminal, and it is written from explicit stacks, so a call tree of any
depth is written without hitting the recursion limit.
"""

from __future__ import annotations

import base64
import dataclasses
import decimal
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from enact._tree import NotAnInvocation, short
from enact_invoke import Invocation
from enact_resource import EnactError, ResourceBase, ResourceDict, StoredResource
from enact_store import Ref, Store

__all__ = ["Style", "object_json", "ref_json", "tree_json", "type_json", "value_json", "write_json"]

_SPECIAL_FLOATS = {math.inf: "inf", -math.inf: "-inf"}


class JsonValueError(EnactError, TypeError):
    """A value that a stored object cannot hold, so that has no JSON form."""


@dataclasses.dataclass(frozen=True)
class Style:
    """Options of the JSON forms beyond the command's: raw marks and clipping.

    Attributes:
        raw: mark the types of objects read without their class
            (``"raw": true`` in the type).
        max_str: clip strings longer than this many characters.
        max_items: clip lists and mappings longer than this many items.
        max_bytes: clip bytes longer than this many bytes.
    """

    raw: bool = False
    max_str: int | None = None
    max_items: int | None = None
    max_bytes: int | None = None


#: The command's forms: every value whole, no marks.
PLAIN = Style()


def type_json(cls: type[ResourceBase], style: Style = PLAIN) -> dict[str, Any]:
    """``{"name": N, "id": TYPE_ID}`` of a resource type (``"raw": true`` added, see Style)."""
    found: dict[str, Any] = {"name": cls.type_name(), "id": cls.type_id()}
    if style.raw and issubclass(cls, StoredResource):
        found["raw"] = True
    return found


def _body(store: Store, data: ResourceDict, depth: int, style: Style) -> dict[str, Any]:
    """``{"type": T, "fields": {...}}`` of a loaded object; refs followed ``depth`` hops."""
    cls = data.type
    # Fields in declared order (stored data may keep them sorted).
    names = [name for name in cls.field_names() if name in data]
    names += [name for name in data if name not in names]
    return {
        "type": type_json(cls, style),
        "fields": {name: value_json(store, data[name], depth, style) for name in names},
    }


def ref_json(store: Store, ref: Ref[Any], depth: int, style: Style = PLAIN) -> dict[str, Any]:
    """``{"ref": D}``, or with ``depth`` > 0 the target's type and fields too."""
    if depth <= 0:
        return {"ref": ref.digest}
    return {"ref": ref.digest, **_body(store, store.load(ref), depth - 1, style)}


def value_json(store: Store, value: Any, depth: int, style: Style = PLAIN) -> Any:
    """The JSON form of a value of a loaded object (see the module docstring)."""
    if isinstance(value, Ref):
        return ref_json(store, value, depth, style)
    if isinstance(value, ResourceDict):
        return _body(store, value, depth, style)
    if isinstance(value, ResourceBase):
        # Value resources (Str, Int, ...) stay whole in a loaded object.
        return {
            "type": type_json(type(value), style),
            "fields": {
                name: value_json(store, item, depth, style) for name, item in value.field_items()
            },
        }
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        limit = style.max_str
        if limit is not None and len(value) > limit:
            return {"clipped": "str", "shown": value[:limit], "length": len(value)}
        return value
    if isinstance(value, int):
        try:
            int.__repr__(value)
        except ValueError:  # Past the int-to-text digit limit, which json.loads has too.
            return {"int": _decimal(value)}
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {"float": "nan"}
        special = _SPECIAL_FLOATS.get(value)
        return value if special is None else {"float": special}
    if isinstance(value, bytes):
        limit = style.max_bytes
        if limit is not None and len(value) > limit:
            part = base64.b64encode(value[:limit]).decode("ascii")
            return {"clipped": "bytes", "shown": part, "length": len(value)}
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        limit = style.max_items
        if limit is not None and len(value) > limit:
            shown = [value_json(store, item, depth, style) for item in value[:limit]]
            return {"clipped": "list", "shown": shown, "length": len(value)}
        return [value_json(store, item, depth, style) for item in value]
    if isinstance(value, Mapping):
        limit = style.max_items
        items = list(value.items())
        entries = {str(key): value_json(store, item, depth, style) for key, item in items[:limit]}
        if limit is not None and len(items) > limit:
            return {"clipped": "map", "shown": {"map": entries}, "length": len(items)}
        return {"map": entries}
    if isinstance(value, type) and issubclass(value, ResourceBase):
        return {"resource_type": type_json(value, style)}
    raise JsonValueError(f"a stored object holds a {type(value).__name__}, which has no JSON form")


def _decimal(value: int) -> str:
    with decimal.localcontext() as context:
        context.prec = decimal.MAX_PREC
        return str(decimal.Decimal(value))


def object_json(store: Store, ref: Ref[Any], depth: int = 0) -> dict[str, Any]:
    """Returns ``{"digest", "type", "fields"}`` of an object, refs followed ``depth`` hops."""
    return {"digest": ref.digest, **_body(store, store.load(ref), depth, PLAIN)}


def _call(store: Store, ref: Ref[Any]) -> tuple[dict[str, Any], list[Ref[Any]]]:
    """The JSON of one call (its children still empty) and the refs of its children."""
    invocation = ref()
    if not isinstance(invocation, Invocation):
        raise NotAnInvocation(f"{short(ref)} is a {type(invocation).__name__}, not an Invocation")
    request_ref, response_ref = invocation.request, invocation.response
    request, response = request_ref(), response_ref()
    node: dict[str, Any] = {
        "digest": ref.digest,
        "request": request_ref.digest,
        "response": response_ref.digest,
        "invokable": ref_json(store, request.invokable, 1),
        "input": ref_json(store, request.input, 1),
        "output": None if response.output is None else ref_json(store, response.output, 1),
        "raised": None if response.raised is None else ref_json(store, response.raised, 1),
        "raised_here": response.raised_here,
        "children": [],
    }
    return node, response.children


def tree_json(store: Store, root: Ref[Any]) -> dict[str, Any]:
    """Returns the call tree of an invocation as nested objects (see the README).

    Raises:
        NotAnInvocation: the root or a child is not an invocation.
    """
    tree, children = _call(store, root)
    stack = [(child, tree["children"]) for child in reversed(children)]
    while stack:
        ref, siblings = stack.pop()
        node, children = _call(store, ref)
        siblings.append(node)
        stack.extend((child, node["children"]) for child in reversed(children))
    return tree


def _chunks(value: Any, indent: str = "  ") -> Iterator[str]:
    """Yields the indented JSON text of ``value`` (dicts, lists, JSON scalars) in pieces."""
    # Items are values still to write (with their nesting level) or literal text.
    stack: list[tuple[Any, int] | str] = [(value, 0)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
            continue
        value, level = item
        if isinstance(value, dict) and value:
            entries: list[tuple[str, Any]] = list(value.items())
            open_, close = "{", "}"
        elif isinstance(value, list) and value:
            entries = [("", element) for element in value]
            open_, close = "[", "]"
        else:
            yield json.dumps(value, allow_nan=False)
            continue
        pad = "\n" + indent * (level + 1)
        yield open_
        stack.append("\n" + indent * level + close)
        for i in range(len(entries) - 1, -1, -1):
            key, element = entries[i]
            stack.append((element, level + 1))
            label = f"{json.dumps(key)}: " if open_ == "{" else ""
            stack.append(("," if i else "") + pad + label)


def write_json(value: Any, out: TextIO) -> None:
    """Writes ``value`` as indented JSON text and a newline to ``out``."""
    batch: list[str] = []
    for chunk in _chunks(value):
        batch.append(chunk)
        if len(batch) >= 4096:
            out.write("".join(batch))
            batch.clear()
    batch.append("\n")
    out.write("".join(batch))
