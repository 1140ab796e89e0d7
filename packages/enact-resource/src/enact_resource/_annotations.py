"""Field annotations of dataclass resources: checked when committed, tuples restored when read.

A dataclass resource's field annotations are checked when the resource is
packed (committed, or digested), not at construction (which would cost every
resource made, stored or not). The annotations checked:

============================  ===============================================
annotation                    accepts
============================  ===============================================
``str``                       a str (a Str too)
``int``                       an int, not a bool
``float``                     a float, or an int (not a bool)
``bool``                      a bool
``bytes``                     bytes
``None``                      None
``list[T]``                   a list of T
``dict[str, T]``              a dict with str keys and T values
``tuple[T, ...]``/``[A, B]``  a tuple of T (of A then B)
``X | Y``, ``Optional[X]``    what either accepts
a resource class              a resource (of any type: fields holding
                              invokables are duck-typed)
============================  ===============================================

Anything else (``Any``, ``FieldValue``, ``Ref[T]``, ``type[...]``, a type
variable, an annotation that cannot be resolved) is not checked, and neither
is a container whose items' annotation is not: such fields hold any legal
field value as before.

Tuples: the stored format has one sequence type (a list and a tuple digest
alike), so a field annotated ``tuple[...]`` is read back as a tuple (its
items too, where their annotations are tuples); a tuple in a field annotated
otherwise is read back as a list.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

from enact_resource._errors import FieldTypeError

__all__ = ["check_fields", "field_error", "field_rules", "restorer"]


class Rule:
    """How one annotation is checked: ``check(value)``, ``text`` and, for the
    generated packers, ``expr`` (a Python expression of ``value`` and ``kind``,
    the value's exact type), or None to call ``check``."""

    __slots__ = ("check", "expr", "restore", "text")

    def __init__(
        self,
        text: str,
        check: Callable[[Any], bool],
        expr: str | None = None,
        restore: Callable[[Any], Any] | None = None,
    ) -> None:
        self.text = text
        self.check = check
        self.expr = expr
        #: Turns a value read back (lists for tuples) into the annotated shape.
        self.restore = restore


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)


_SIMPLE: dict[Any, Rule] = {
    str: Rule("str", lambda v: isinstance(v, str), "kind is str or isinstance(value, str)"),
    int: Rule("int", _is_int, "kind is int or (isinstance(value, int) and kind is not bool)"),
    float: Rule(
        "float",
        _is_float,
        "kind is float or kind is int or (isinstance(value, (int, float)) and kind is not bool)",
    ),
    bool: Rule("bool", lambda v: type(v) is bool, "kind is bool"),
    bytes: Rule(
        "bytes", lambda v: isinstance(v, bytes), "kind is bytes or isinstance(value, bytes)"
    ),
    type(None): Rule("None", lambda v: v is None, "value is None"),
}
_SIMPLE[None] = _SIMPLE[type(None)]


def rule(annotation: Any) -> Rule | None:
    """The rule of an annotation, or None if it is not checked."""
    try:
        simple = _SIMPLE.get(annotation)
    except TypeError:  # Unhashable: not a type.
        simple = None
    if simple is not None:
        return simple
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        item = rule(args[0])
        if item is None:
            return None
        check_item, restore_item = item.check, item.restore
        restore_list = None
        if restore_item is not None:
            one = restore_item

            def restore_list(v: Any) -> Any:
                return [one(x) for x in v]

        return Rule(
            f"list[{item.text}]",
            lambda v: isinstance(v, list) and all(map(check_item, v)),
            restore=restore_list,
        )
    if origin is dict and len(args) == 2 and args[0] is str:
        item = rule(args[1])
        if item is None:
            return None
        check_item, restore_item = item.check, item.restore
        return Rule(
            f"dict[str, {item.text}]",
            lambda v: (
                isinstance(v, dict)
                and all(isinstance(k, str) for k in v)
                and all(map(check_item, v.values()))
            ),
            restore=None
            if restore_item is None
            else lambda v: {k: restore_item(x) for k, x in v.items()},
        )
    if origin is tuple:
        return _tuple_rule(args)
    if origin in (typing.Union, types.UnionType):
        rules = [rule(arg) for arg in args]
        if any(r is None for r in rules):
            return None
        known = typing.cast(list[Rule], rules)
        checks = [r.check for r in known]
        text = " | ".join(r.text for r in known)
        exprs = [r.expr for r in known]
        expr = None if None in exprs else " or ".join(f"({e})" for e in exprs)
        restores = [(r.check, r.restore) for r in known if r.restore is not None]
        restore = None
        if restores:

            def restore(v: Any) -> Any:
                if v is None:
                    return None
                for _, restore_one in restores:
                    try:
                        return restore_one(v)
                    except (TypeError, ValueError):
                        continue
                return v

        return Rule(text, lambda v: any(check(v) for check in checks), expr, restore)
    if isinstance(annotation, type):
        from enact_resource._resource import ResourceBase

        if issubclass(annotation, ResourceBase):
            # Any resource: invokable fields are duck-typed (the tutorial's
            # `greeting_sampler: Sampler` holds an AskUser), so only a value that
            # is no resource at all is refused.
            return Rule(
                f"{annotation.__qualname__} (a resource)",
                lambda v: isinstance(v, ResourceBase),
                "isinstance(value, ResourceBase)",
            )
    return None


def _tuple_rule(args: tuple[Any, ...]) -> Rule | None:
    if len(args) == 2 and args[1] is Ellipsis:
        item = rule(args[0])
        if item is None:
            return None
        check_item, restore_item = item.check, item.restore
        if restore_item is None:
            restore: Callable[[Any], Any] = tuple
        else:

            def restore(v: Any) -> Any:
                return tuple(restore_item(x) for x in v)

        return Rule(
            f"tuple[{item.text}, ...]",
            lambda v: isinstance(v, tuple) and all(map(check_item, v)),
            restore=restore,
        )
    if args == ((),):  # tuple[()]
        return Rule("tuple[()]", lambda v: v == (), restore=tuple)
    rules = [rule(arg) for arg in args]
    if not args or any(r is None for r in rules):
        return None
    known = typing.cast(list[Rule], rules)
    checks = [r.check for r in known]
    restores = [r.restore for r in known]

    def restore_fixed(v: Any) -> Any:
        return tuple(x if f is None else f(x) for f, x in zip(restores, v, strict=False))

    return Rule(
        f"tuple[{', '.join(r.text for r in known)}]",
        lambda v: (
            isinstance(v, tuple)
            and len(v) == len(checks)
            and all(check(x) for check, x in zip(checks, v, strict=True))
        ),
        restore=restore_fixed,
    )


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a dataclass's fields (those that resolve)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:
        pass  # A forward reference that does not resolve: field by field.
    module = sys.modules.get(cls.__module__)
    namespace = dict(vars(module)) if module is not None else {}
    namespace.setdefault(cls.__name__, cls)
    hints: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        annotation = field.type
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)
            except Exception:
                continue
        hints[field.name] = annotation
    return hints


# Per class: the rules of its checked fields, in field order.
_RULES: dict[type, tuple[tuple[str, Rule], ...]] = {}


def field_rules(cls: type) -> tuple[tuple[str, Rule], ...]:
    """The (field name, rule) of each checked field of a dataclass resource (cached)."""
    found = _RULES.get(cls)
    if found is not None:
        return found
    rules: list[tuple[str, Rule]] = []
    if dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        for field in dataclasses.fields(cls):
            if field.name in hints:
                checked = rule(hints[field.name])
                if checked is not None:
                    rules.append((field.name, checked))
    result = _RULES[cls] = tuple(rules)
    return result


def field_error(cls: type, name: str, expected: str, value: Any) -> FieldTypeError:
    """The error for a field holding a value its annotation does not accept."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return FieldTypeError(
        f"Field {name!r} of {cls.__qualname__} must be {expected} (its annotation), "
        f"got {type(value).__qualname__}: {text}"
    )


def check_fields(resource: Any) -> None:
    """Checks a dataclass resource's field values against their annotations.

    Raises:
        FieldTypeError: a field holds a value its annotation does not accept
            (the message names the field and the expected type).
    """
    cls = type(resource)
    for name, checked in field_rules(cls):
        value = getattr(resource, name)
        if not checked.check(value):
            raise field_error(cls, name, checked.text, value)


# Per class: a function restoring tuples in a dict of field values, or None.
_RESTORERS: dict[type, Callable[[dict[str, Any]], dict[str, Any]] | None] = {}


def restorer(cls: type) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """A function that turns a read field dict's lists back into the tuples that
    the class's annotations say (None if no field needs it); cached per class."""
    if cls in _RESTORERS:
        return _RESTORERS[cls]
    restores = [(name, r.restore) for name, r in field_rules(cls) if r.restore is not None]
    result: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    if restores:

        def restore(fields: dict[str, Any]) -> dict[str, Any]:
            fields = dict(fields)
            for name, restore_one in restores:
                value = fields.get(name)
                if isinstance(value, list | tuple | dict):
                    fields[name] = restore_one(value)
            return fields

        result = restore
    _RESTORERS[cls] = result
    return result
