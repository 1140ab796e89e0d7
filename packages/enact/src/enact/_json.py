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

The output is ASCII (other characters as ``\\uXXXX`` escapes), so it is safe
on any terminal, and it is written from explicit stacks, so a call tree of any
depth is written without hitting the recursion limit.
"""

from __future__ import annotations

import base64
import decimal
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from enact._tree import NotAnInvocation, short
from enact_invoke import Invocation
from enact_resource import EnactError, ResourceBase, ResourceDict
from enact_store import Ref, Store

__all__ = ["object_json", "tree_json", "write_json"]

_SPECIAL_FLOATS = {math.inf: "inf", -math.inf: "-inf"}


class JsonValueError(EnactError, TypeError):
    """A value that a stored object cannot hold, so that has no JSON form."""


def _type(cls: type[ResourceBase]) -> dict[str, str]:
    return {"name": cls.type_name(), "id": cls.type_id()}


def _body(store: Store, data: ResourceDict, depth: int) -> dict[str, Any]:
    """``{"type": T, "fields": {...}}`` of a loaded object; refs followed ``depth`` hops."""
    cls = data.type
    # Fields in declared order (stored data may keep them sorted).
    names = [name for name in cls.field_names() if name in data]
    names += [name for name in data if name not in names]
    return {
        "type": _type(cls),
        "fields": {name: _value(store, data[name], depth) for name in names},
    }


def _ref(store: Store, ref: Ref[Any], depth: int) -> dict[str, Any]:
    if depth <= 0:
        return {"ref": ref.digest}
    return {"ref": ref.digest, **_body(store, store.load(ref), depth - 1)}


def _value(store: Store, value: Any, depth: int) -> Any:
    """The JSON form of a value of a loaded object (see the module docstring)."""
    if isinstance(value, Ref):
        return _ref(store, value, depth)
    if isinstance(value, ResourceDict):
        return _body(store, value, depth)
    if isinstance(value, ResourceBase):
        # Value resources (Str, Int, ...) stay whole in a loaded object.
        return {
            "type": _type(type(value)),
            "fields": {name: _value(store, item, depth) for name, item in value.field_items()},
        }
    if value is None or isinstance(value, bool | str):
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
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [_value(store, item, depth) for item in value]
    if isinstance(value, Mapping):
        return {"map": {str(key): _value(store, item, depth) for key, item in value.items()}}
    if isinstance(value, type) and issubclass(value, ResourceBase):
        return {"resource_type": _type(value)}
    raise JsonValueError(f"a stored object holds a {type(value).__name__}, which has no JSON form")


def _decimal(value: int) -> str:
    with decimal.localcontext() as context:
        context.prec = decimal.MAX_PREC
        return str(decimal.Decimal(value))


def object_json(store: Store, ref: Ref[Any], depth: int = 0) -> dict[str, Any]:
    """Returns ``{"digest", "type", "fields"}`` of an object, refs followed ``depth`` hops."""
    return {"digest": ref.digest, **_body(store, store.load(ref), depth)}


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
        "invokable": _ref(store, request.invokable, 1),
        "input": _ref(store, request.input, 1),
        "output": None if response.output is None else _ref(store, response.output, 1),
        "raised": None if response.raised is None else _ref(store, response.raised, 1),
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
