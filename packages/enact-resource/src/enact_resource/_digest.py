"""Content digests: the sha256 of the byte stream defined in SPEC 3.2.

The stream is built in one pass over the value. Text pieces are collected in
a list and encoded once; raw ``bytes`` values are fed to the hash directly
(after flushing the text collected so far), so a large blob is never copied
into a bigger string.
"""

from __future__ import annotations

import decimal
import hashlib
from collections.abc import Mapping
from typing import Any

from enact_resource._errors import FieldTypeError
from enact_resource._resource import ResourceBase, ResourceDict, type_info

__all__ = ["digest"]


def digest(value: Any) -> str:
    """Returns the lowercase hex sha256 digest of a resource or field value.

    Equal content gives equal digests: a resource and its ``ResourceDict``,
    a list and a tuple, and mappings with the same items in any insertion
    order all digest alike.

    Raises:
        FieldTypeError: the value holds something resources cannot hold, or
            contains itself.
    """
    hasher = hashlib.sha256()
    out: list[str] = []
    try:
        _stream(value, out, hasher, set())
    except RecursionError:
        raise FieldTypeError(
            "Value is nested too deeply to digest (deeper than the interpreter's recursion limit)"
        ) from None
    hasher.update("".join(out).encode())
    return hasher.hexdigest()


def _stream(value: Any, out: list[str], hasher: Any, active: set[int]) -> None:
    cls = type(value)
    if cls is str:
        out.append("s" + repr(value))
    elif cls is int:
        out.append("i" + _int_text(value))
    elif cls is float:
        out.append("f" + repr(value))
    elif value is None:
        out.append("n")
    elif cls is bool:
        out.append("i1" if value else "i0")
    elif cls is list or cls is tuple:
        _enter(value, active)
        out.append("seq[")
        for item in value:
            _stream(item, out, hasher, active)
        out.append("]")
        active.discard(id(value))
    elif cls is ResourceDict:
        _stream_resource_dict(value, out, hasher, active)
    elif cls is dict:
        _stream_map(value, out, hasher, active)
    elif cls is bytes:
        _stream_bytes(value, out, hasher)
    elif isinstance(value, ResourceBase):
        _enter(value, active)
        info = type_info(cls)
        out.append(info.stream_prefix)
        values = tuple(value.field_values())
        if len(values) != len(info.name_reprs):
            raise FieldTypeError(
                f"{cls.__qualname__} has fields {list(info.field_names)} "
                f"but returned {len(values)} field values"
            )
        for name_repr, item in zip(info.name_reprs, values, strict=True):
            out.append(name_repr)
            _stream(item, out, hasher, active)
        out.append("]")
        active.discard(id(value))
    elif isinstance(value, type) and issubclass(value, ResourceBase):
        out.append("type[" + type_info(value).type_id + "]")
    # Subclasses of the primitive types digest as the primitive.
    elif isinstance(value, bool):
        out.append("i1" if value else "i0")
    elif isinstance(value, int):
        out.append("i" + _int_text(int(value)))
    elif isinstance(value, float):
        out.append("f" + float.__repr__(value))
    elif isinstance(value, str):
        out.append("s" + str.__repr__(value))
    elif isinstance(value, bytes):
        _stream_bytes(bytes(value), out, hasher)
    elif isinstance(value, ResourceDict):
        _stream_resource_dict(value, out, hasher, active)
    elif isinstance(value, list | tuple):
        _stream(list(value), out, hasher, active)
    elif isinstance(value, Mapping):
        _stream_map(value, out, hasher, active)
    else:
        raise FieldTypeError(f"Encountered unsupported field type {cls}: {value!r}")


def _int_text(value: int) -> str:
    try:
        return int.__repr__(value)
    except ValueError:
        # Past the interpreter's int-to-text digit limit (sys.set_int_max_str_digits);
        # Decimal converts exactly and has no such limit.
        return str(decimal.Decimal(value))


def _enter(value: object, active: set[int]) -> None:
    key = id(value)
    if key in active:
        raise FieldTypeError(
            f"Encountered a cycle: a {type(value).__qualname__} value contains itself"
        )
    active.add(key)


def _stream_bytes(value: bytes, out: list[str], hasher: Any) -> None:
    out.append(f"b{len(value)}:")
    hasher.update("".join(out).encode())
    out.clear()
    hasher.update(value)


def _stream_map(value: Mapping[Any, Any], out: list[str], hasher: Any, active: set[int]) -> None:
    _enter(value, active)
    for key in value:
        if not isinstance(key, str):
            raise FieldTypeError(
                f"Encountered a mapping key of unsupported type {type(key)}: {key!r} "
                "(mapping keys must be str)"
            )
    out.append("map[")
    for key in sorted(value):
        out.append(repr(str(key)))
        _stream(value[key], out, hasher, active)
    out.append("]")
    active.discard(id(value))


def _stream_resource_dict(
    value: ResourceDict, out: list[str], hasher: Any, active: set[int]
) -> None:
    # Fields are taken in the type's declared order, whatever order the keys
    # of the dict arrived in.
    _enter(value, active)
    info = type_info(value.type)
    if len(value) != len(info.field_names):
        raise FieldTypeError(
            f"ResourceDict of {value.type.__qualname__} has keys {sorted(value)} "
            f"but the type has fields {list(info.field_names)}"
        )
    out.append(info.stream_prefix)
    for name, name_repr in zip(info.field_names, info.name_reprs, strict=True):
        try:
            item = value[name]
        except KeyError:
            raise FieldTypeError(
                f"ResourceDict of {value.type.__qualname__} lacks field {name!r}"
            ) from None
        out.append(name_repr)
        _stream(item, out, hasher, active)
    out.append("]")
    active.discard(id(value))
