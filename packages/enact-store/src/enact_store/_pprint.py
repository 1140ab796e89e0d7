"""pprint and pformat: the indented, ref-following format of the tutorial.

Every value prints either on one line or as a block of lines. Blocks indent
their contents by two spaces.

One-line values:

- ``int``, ``float``, ``bool``, ``str`` and ``None`` print as their Python
  repr, ``bytes`` as ``<N bytes>``. The value resources ``Str``, ``Int``,
  ``Float`` and ``Bytes`` print like the plain value (``'World'``, ``42``).
- A resource whose field values are all of the types above prints as
  ``Name(field=value, ...)``; one without fields as ``Name()``. ``Name`` is
  the class ``__name__``.
- A resource whose class sets ``_enact_pformat_`` (a function of the
  instance returning one line) prints as that text: the media resources
  print as ``<Image 64x64 RGB>`` and ``<NPArray float32[3, 4]>``.
- A resource type prints as ``<type Name>``; an empty list as ``[]`` and an
  empty mapping as ``{}``.
- A ref is followed in the active store and prints as ``-> X#abcdef`` when
  its target prints on one line as ``X``; ``abcdef`` is the first six hex
  digits of the digest.

Blocks:

- Any other resource prints ``Name:`` followed by its fields.
- A ref to such a resource prints ``-> Name#abcdef:`` followed by the fields.
- A list prints ``[`` followed by its items; a mapping prints ``{`` followed
  by its items as ``'key': value``. The closing ``]`` or ``}`` is appended to
  the last line of the last item.

A field (or mapping item) prints as ``name: value`` when its value fits on one
line; otherwise as ``name:`` followed by the value's block, indented by two
more spaces::

    Invocation:
      request:
        -> Request#33f761:
          invokable: -> HelloEnact(greeting='Hello')#b408cb
          input: -> 'World'#ae44ee
      response:
        -> Response#1f41be:
          ...
          children:
            [
              -> Invocation#486f38:
                ...
                    children: []]

``max_ref_depth=N`` follows refs only up to ``N`` hops from the printed value;
refs beyond print as ``-> #abcdef`` without being loaded (so
``max_ref_depth=0`` needs no active store). ``skip_repeated_refs=True`` prints
a ref whose digest was already followed earlier in the output as
``-> X#abcdef (repeated)`` (one-line targets) or ``-> Name#abcdef (repeated)``
(block targets) instead of expanding it again.

A ref target that is itself a :class:`Ref` prints as an ordinary one-line
resource, ``Ref(digest='...')``, rather than being followed in turn. Values
that resources cannot hold print as their ``repr``.

Refs are followed with :meth:`Store.load`, so objects whose class this
process does not have print too: as their stored fields, the name marked
``[raw]`` (``Point[raw](x=1, y=2)``). A :class:`ResourceDict` prints as the
resource it describes.

The printer works from an explicit stack, so deep nesting does not hit the
recursion limit, and visits every value once: whether a value fits on one
line is decided from the types of its fields, without rendering them, which
keeps the work linear in the size of the output.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NamedTuple, TextIO

from enact_resource import FieldValue, ResourceBase, ResourceDict, StoredResource
from enact_store._context import current_store
from enact_store._ref import Ref

__all__ = ["PPValue", "PPrinter", "pformat", "pprint"]

#: What :func:`pprint`, :func:`pformat` and :class:`PPrinter` print: a
#: resource, a ref, a resource type, or anything a resource field can hold.
PPValue = FieldValue

_ATOM_TYPES = (str, int, float, bytes)  # bool is an int; Str, Int, ... subclass these.


class _Block(NamedTuple):
    """A value that prints on several lines: a header line, then its items."""

    header: str
    #: (label, value) pairs; an empty label prints the value alone.
    items: list[tuple[str, Any]]
    close: str
    #: The ref depth of the items (one more than the block's inside a ref).
    depth: int


class _Task(NamedTuple):
    """A value still to print, at an indentation, after ``label: ``."""

    value: Any
    indent: int
    label: str
    depth: int


def _is_atom(value: object) -> bool:
    return value is None or isinstance(value, _ATOM_TYPES)


def _atom(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    # The base type's repr, so that Str('x') prints as 'x' whatever a subclass does.
    if isinstance(value, str):
        return str.__repr__(value)
    if isinstance(value, int):
        return int.__repr__(value)
    return float.__repr__(value)


class _Printer:
    def __init__(self, max_ref_depth: int | None, skip_repeated_refs: bool) -> None:
        self._max_ref_depth = max_ref_depth
        # Digest -> how the target was shown (its one-line form or class name).
        self._seen: dict[str, str] | None = {} if skip_repeated_refs else None

    def format(self, value: Any) -> str:
        lines: list[str] = []
        # Closing brackets are pushed as plain strings, below a block's items.
        stack: list[_Task | str] = [_Task(value, 0, "", 0)]
        while stack:
            task = stack.pop()
            if isinstance(task, str):
                lines[-1] += task
                continue
            node = self._node(task.value, task.depth)
            indent = " " * task.indent
            if isinstance(node, str):
                if task.label:
                    lines.append(f"{indent}{task.label}: {node}")
                else:
                    lines.append(indent + node)
                continue
            inner = task.indent
            if task.label:
                lines.append(f"{indent}{task.label}:")
                inner += 2
                indent += "  "
            lines.append(indent + node.header)
            if node.close:
                stack.append(node.close)
            stack.extend(
                _Task(item, inner + 2, label, node.depth) for label, item in reversed(node.items)
            )
        return "\n".join(lines)

    def _node(self, value: Any, depth: int) -> str | _Block:
        """Returns the one-line text of ``value`` or its block."""
        if isinstance(value, Ref):
            return self._ref(value, depth)
        if _is_atom(value):
            return _atom(value)
        if isinstance(value, ResourceBase | ResourceDict):
            return _resource(value, depth)
        if isinstance(value, type) and issubclass(value, ResourceBase):
            return f"<type {_type_name(value)}>"
        if isinstance(value, list | tuple):
            if not value:
                return "[]"
            return _Block("[", [("", item) for item in value], "]", depth)
        if isinstance(value, Mapping):
            if not value:
                return "{}"
            items = [(_key(key), item) for key, item in value.items()]
            return _Block("{", items, "}", depth)
        return repr(value)

    def _ref(self, ref: Ref[Any], depth: int) -> str | _Block:
        short = ref.digest[:6]
        if self._max_ref_depth is not None and depth >= self._max_ref_depth:
            return f"-> #{short}"
        if self._seen is not None:
            shown = self._seen.get(ref.digest)
            if shown is not None:
                return f"-> {shown}#{short} (repeated)"
        target = current_store().load(ref)
        node = _resource(target, depth + 1)
        if isinstance(node, str):
            shown = node
            result: str | _Block = f"-> {node}#{short}"
        else:
            shown = _type_name(target.type)
            result = node._replace(header=f"-> {shown}#{short}:")
        if self._seen is not None:
            self._seen[ref.digest] = shown
        return result


def _type_name(cls: type[ResourceBase]) -> str:
    """The class name; a type known only from stored data is marked ``[raw]``."""
    if issubclass(cls, StoredResource) and cls.target() is None:
        return f"{cls.__name__}[raw]"
    return cls.__name__


def _resource(resource: ResourceBase | ResourceDict, depth: int) -> str | _Block:
    """Returns the one-line text of a resource (or ResourceDict) or its ``Name:`` block."""
    if isinstance(resource, _ATOM_TYPES):
        return _atom(resource)
    if isinstance(resource, ResourceDict):
        rtype = resource.type
        custom = rtype._enact_pformat_
        if custom is not None:
            return custom(resource.to_resource())
        name = _type_name(rtype)
        if rtype._enact_atomic_ and len(resource) == 1 and "value" in resource:
            # A Str, Int, ... read as its ResourceDict prints like the value.
            value = resource["value"]
            if _is_atom(value):
                return _atom(value)
        items = list(resource.items())
    else:
        custom = type(resource)._enact_pformat_
        if custom is not None:
            return custom(resource)
        name = type(resource).__name__
        items = list(resource.field_items())
    if all(_is_atom(value) for _, value in items):
        fields = ", ".join(f"{field}={_atom(value)}" for field, value in items)
        return f"{name}({fields})"
    return _Block(f"{name}:", items, "", depth)


def _key(key: object) -> str:
    return _atom(key) if _is_atom(key) else repr(key)


class PPrinter:
    """A pretty printer with fixed options; :func:`pformat` and :func:`pprint` as methods.

    Each call formats its value afresh (``skip_repeated_refs`` looks back only
    within one value).

    Args:
        max_ref_depth: how many ref hops to follow (see :func:`pformat`).
        skip_repeated_refs: abbreviate refs already followed (see :func:`pformat`).
    """

    def __init__(self, max_ref_depth: int | None = None, skip_repeated_refs: bool = False) -> None:
        self.max_ref_depth = max_ref_depth
        self.skip_repeated_refs = skip_repeated_refs

    def pformat(self, value: PPValue) -> str:
        """Returns the pretty-printed text of ``value``, as :func:`pformat` does."""
        return _Printer(self.max_ref_depth, self.skip_repeated_refs).format(value)

    def pprint(self, value: PPValue, file: TextIO | None = None) -> None:
        """Prints :meth:`pformat` of ``value`` and a newline to ``file`` (stdout by default)."""
        print(self.pformat(value), file=sys.stdout if file is None else file)

    def __repr__(self) -> str:
        return (
            f"PPrinter(max_ref_depth={self.max_ref_depth!r}, "
            f"skip_repeated_refs={self.skip_repeated_refs!r})"
        )


def pformat(value: Any, max_ref_depth: int | None = None, skip_repeated_refs: bool = False) -> str:
    """Returns the pretty-printed text of a resource, ref or field value.

    Refs are followed in the active store; see the module docstring for the
    format.

    Args:
        value: a resource, a ref, or anything a resource field can hold.
        max_ref_depth: how many ref hops to follow from ``value``; refs beyond
            print as ``-> #abcdef`` without being loaded. ``None`` follows all.
        skip_repeated_refs: print a ref already followed earlier in the output
            as ``-> X#abcdef (repeated)`` instead of expanding it again.

    Returns:
        The text, without a trailing newline.

    Raises:
        NoActiveStoreError: a ref must be followed and no store is active.
        NotFound: the active store does not hold a ref's target.
    """
    return _Printer(max_ref_depth, skip_repeated_refs).format(value)


def pprint(
    value: Any,
    max_ref_depth: int | None = None,
    skip_repeated_refs: bool = False,
    file: TextIO | None = None,
) -> None:
    """Prints :func:`pformat` of ``value``, followed by a newline.

    Args:
        value: a resource, a ref, or anything a resource field can hold.
        max_ref_depth: how many ref hops to follow (see :func:`pformat`).
        skip_repeated_refs: abbreviate refs already followed (see :func:`pformat`).
        file: where to write; ``sys.stdout`` by default.

    Raises:
        NoActiveStoreError: a ref must be followed and no store is active.
        NotFound: the active store does not hold a ref's target.
    """
    print(
        pformat(value, max_ref_depth, skip_repeated_refs), file=sys.stdout if file is None else file
    )
