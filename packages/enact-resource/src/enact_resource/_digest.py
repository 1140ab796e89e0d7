"""Content digests: the sha256 of the byte stream defined in SPEC 3.2.

The stream is built in one pass over the value. Its pieces are collected in a
list and hashed at the end: text pieces joined and encoded at once, raw
``bytes`` values fed to the hash as they are, so a large blob is never copied
into a bigger string.

Two walkers share the per-type stream pieces: :func:`digest` (any value,
resources and ResourceDicts alike) and :func:`pack_resource`, which builds a
resource's ResourceDict and its digest in the same pass (what a commit needs).
Neither tracks the path for cycles: a cycle recurses until the interpreter's
recursion limit, and only then is the value searched for the cycle, so the
common case pays nothing for the check.
"""

from __future__ import annotations

import decimal
import operator
import re
from collections.abc import Callable, Mapping
from hashlib import sha256
from itertools import repeat
from typing import Any

from enact_resource._annotations import field_error, field_rules
from enact_resource._errors import FieldTypeError
from enact_resource._resource import (
    _INFOS,
    ResourceBase,
    ResourceDict,
    TypeInfo,
    checked_values,
    find_cycle,
    to_dict_value,
    type_info,
)

__all__ = ["digest", "pack_resource"]

_new_dict = dict.__new__

#: The most levels of lists, tuples, dicts and resources that the fields of a
#: committed resource may nest. Deeper values are refused when committed, so
#: that whatever is stored can be read back (reading recurses, a few frames
#: per level, within the interpreter's recursion limit).
MAX_DEPTH = 100

# Ints below this size can always be written as text (the interpreter limits
# int-to-text conversion to sys.get_int_max_str_digits() digits, at least 640).
_BIG = 10**600


def digest(value: Any) -> str:
    """Returns the lowercase hex sha256 digest of a resource or field value.

    Equal content gives equal digests: a resource and its ``ResourceDict``,
    a list and a tuple, and mappings with the same items in any insertion
    order all digest alike.

    Raises:
        FieldTypeError: the value holds something resources cannot hold (a
            string with a lone surrogate, say), contains itself, or (for a
            resource) nests deeper than :data:`MAX_DEPTH` levels.
    """
    if isinstance(value, ResourceBase):
        # The packer (generated per dataclass type) is the faster walk, even
        # with the ResourceDict it builds along the way.
        return pack_resource(value)[1]
    out: list[Any] = []
    try:
        if type(value) is ResourceDict:
            _stream_resource_dict(value, out)  # Stored data being verified.
        else:
            _stream(value, out)
    except RecursionError:
        raise _too_deep(value) from None
    return _hash(out, value)


def pack_resource(resource: ResourceBase, context: Any = None) -> tuple[ResourceDict, str]:
    """Returns ``(resource.to_resource_dict(), digest(resource))``, computed in one pass.

    ``context`` is handed to the ``_enact_pack_`` of every atomic value packed
    (for extensions: a store passes what identifies it, so that refs can
    check that it holds their targets); None when only digesting.

    Raises:
        FieldTypeError: as :func:`digest`.
    """
    cls = type(resource)
    # A dataclass: its generated packer does it all (see _dataclass_packers).
    entry = _PACKERS.get(cls)
    if entry is not None:
        # _current(entry, cls), inlined: this runs for every object committed,
        # four times per tracked call.
        info = entry[0]
        if _infos.get(cls) is info and info.key is cls.__dataclass_fields__:  # type: ignore[attr-defined]
            return entry[2](resource, context)
    stream = cls._enact_stream_
    if stream is not None:
        # A value type with its own stream (Str, Int, ...): one field, no walk.
        text = stream(resource)
        if "\\" in text and "\\ud" in text:
            check_text(resource)
        return resource.to_resource_dict(), sha256(text.encode()).hexdigest()
    entry = _dataclass_packers(cls)
    if entry is not None:
        return entry[2](resource, context)
    out: list[Any] = []
    try:
        data = _pack_resource(resource, out, 0, context)
    except RecursionError:
        raise _too_deep(resource) from None
    return data, _hash(out, data)


# Strings are streamed as their repr, which writes a lone surrogate (a code
# point of U+D800-U+DFFF: not Unicode text, and no UTF-8 encoder takes it) as
# an escape: a backslash, "ud" and three hex digits. So a stream without a
# backslash (found at memchr speed) or without "\ud" holds no lone surrogate,
# and only a hit costs the precise search of check_text.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(value: Any) -> None:
    """Raises FieldTypeError if a string in ``value`` holds a lone surrogate.

    Looks through resources, ResourceDicts, lists and dicts: at strings,
    mapping keys and field names; the error names where the string is.
    """
    # (path to the item, what the item is: a "value", a "key" or a field "name")
    stack: list[tuple[str, str, Any]] = [("", "value", value)]
    while stack:
        path, role, item = stack.pop()
        if isinstance(item, str):  # Also a Str, whose one field is the string.
            found = _SURROGATE.search(item)
            if found is not None:
                raise _surrogate_error(value, path, role, item, found.start())
        elif isinstance(item, ResourceDict | ResourceBase):
            fields = item.items() if isinstance(item, ResourceDict) else item.field_items()
            for name, field in fields:
                stack.append((path, "name", name))
                stack.append((f"{path}.{name}", "value", field))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{index}]", "value", entry) for index, entry in enumerate(item))
        elif isinstance(item, Mapping):
            for key, entry in item.items():
                stack.append((path, "key", key))
                stack.append((f"{path}[{key!r}]", "value", entry))


def _surrogate_error(value: Any, path: str, role: str, text: str, index: int) -> FieldTypeError:
    kind = value.type if isinstance(value, ResourceDict) else type(value)
    if not path:
        where = f"the {kind.__qualname__} value"
    elif path.startswith("."):
        where = f"field {path[1:]} of {kind.__qualname__}"
    else:
        where = f"the {kind.__qualname__} value at {path}"
    what = {
        "value": f"The string in {where}",
        "key": f"A key of the mapping in {where}",
        "name": f"A field name of the resource in {where}",
    }[role]
    return FieldTypeError(
        f"{what} holds a lone surrogate ({text[index]!r} at index {index}): "
        "not Unicode text, so no store can keep it (UTF-8 cannot encode it). Text decoded "
        "with errors='surrogateescape' holds them: decode with errors='replace' instead"
    )


def _hash(out: list[Any], value: Any) -> str:
    """Hashes the collected stream: text pieces, and raw bytes values as they are.

    Raises:
        FieldTypeError: a string in ``value`` (whose stream ``out`` is) holds a
            lone surrogate.
    """
    try:
        text = "".join(out)
    except TypeError:
        # The stream holds bytes values: hash piece by piece (blobs uncopied).
        return _hash_pieces(out, value)
    if "\\" in text and "\\ud" in text:
        check_text(value)
    return sha256(text.encode()).hexdigest()


def _hash_pieces(out: list[Any], value: Any) -> str:
    hasher = sha256()
    text: list[str] = []
    for piece in out:
        if type(piece) is str:
            text.append(piece)
        else:
            _hash_text(hasher, "".join(text), value)
            text.clear()
            hasher.update(piece)
    _hash_text(hasher, "".join(text), value)
    return hasher.hexdigest()


def _hash_text(hasher: Any, text: str, value: Any) -> None:
    if "\\" in text and "\\ud" in text:
        check_text(value)
    hasher.update(text.encode())


_infos = _INFOS
# The _enact_pack_ function of each atomic type met so far, by exact type.
_FAST_PACK: dict[type, Callable[[Any, Any], tuple[str, Any]]] = {}
# The _enact_stream_ function of each type with one met so far, by exact type.
_FAST_STREAM: dict[type, Callable[[Any], str]] = {}


def _too_deep(value: Any) -> FieldTypeError:
    cycle = find_cycle(value)
    if cycle is not None:
        return FieldTypeError(
            f"Encountered a cycle: a {type(cycle).__qualname__} value contains itself"
        )
    return FieldTypeError(
        "Value is nested too deeply to digest (deeper than the interpreter's recursion limit)"
    )


def _too_deep_to_commit(value: Any, depth: int) -> FieldTypeError:
    cycle = find_cycle(value)
    if cycle is not None:
        return FieldTypeError(
            f"Encountered a cycle: a {type(cycle).__qualname__} value contains itself"
        )
    return FieldTypeError(
        f"Value is nested too deeply: the fields of a resource may nest at most {MAX_DEPTH} "
        f"levels of lists, tuples, dicts and resources (a {type(value).__qualname__} is at "
        f"level {depth}); keep deeper structures as resources of their own, behind refs"
    )


def _pack_resource(resource: ResourceBase, out: list[Any], depth: int, ctx: Any) -> ResourceDict:
    """Appends the stream of a resource nested in a value and returns its ResourceDict.

    ``depth`` is the resource's level (0 for the top); its fields are one deeper.
    """
    cls = type(resource)
    entry = _PACKERS.get(cls)
    if entry is None or not _current(entry, cls):
        entry = _dataclass_packers(cls)
    if entry is not None:
        return entry[1](resource, out, depth, ctx)
    info = type_info(cls)
    values = checked_values(resource, info)
    out.append(info.stream_prefix)
    data: ResourceDict = _new_dict(ResourceDict)
    data.type = cls
    for name, name_repr, value in zip(info.field_names, info.name_reprs, values):  # noqa: B905 - lengths checked
        out.append(name_repr)
        data[name] = _pack_value(value, out, depth + 1, ctx)
    out.append("]")
    return data


# pack(resource, out, depth, context) and pack_top(resource, context); see _make_packers.
Packer = Callable[[Any, list[Any], int, Any], ResourceDict]
TopPacker = Callable[[Any, Any], tuple[ResourceDict, str]]

# Per dataclass type: (the TypeInfo they were made for, its generated packer
# of nested values, its generated top-level packer).
_PACKERS: dict[type, tuple[TypeInfo, Packer, TopPacker]] = {}


def _current(entry: tuple[TypeInfo, Packer, TopPacker], cls: type) -> bool:
    """Whether the packers were made for the type's current TypeInfo (type_info's check)."""
    info = entry[0]
    return _infos.get(cls) is info and info.key is cls.__dataclass_fields__  # type: ignore[attr-defined]


def _dataclass_packers(cls: type) -> tuple[TypeInfo, Packer, TopPacker] | None:
    """The generated packers of a dataclass resource type (made on first use), else None.

    Only for types whose field values are their dataclass fields (the default
    ``field_values``); others are walked generically.
    """
    info = type_info(cls)
    if info.plain_values is None:
        return None
    entry = _PACKERS.get(cls)
    if entry is None or entry[0] is not info:
        entry = _PACKERS[cls] = (info, *_make_packers(cls, info))
    return entry


def _make_packers(cls: type, info: TypeInfo) -> tuple[Packer, TopPacker]:
    """Generates the packers of a dataclass resource type (as dataclasses generates __init__).

    ``pack(resource, out, depth)`` appends the stream of a resource nested at
    level ``depth`` and returns its ResourceDict; ``pack_top(resource)``
    returns the ResourceDict and the digest. Both read attributes directly,
    merge constant stream pieces and handle the common field values inline,
    so a small record costs a few Python calls. A type without fields gets a
    constant ``pack_top``: its ResourceDict is shared, as none is ever mutated.
    """
    body = ["data = new_dict(ResourceDict)", "data.type = cls"]
    head = info.stream_prefix
    # Field annotations are checked here, when committed (or digested): see _annotations.
    rules = dict(field_rules(cls))
    checks: dict[str, Any] = {}
    for name, name_repr in zip(info.field_names, info.name_reprs, strict=True):
        body += [f"value = resource.{name}", "kind = type(value)"]
        checked = rules.get(name)
        if checked is not None:
            checks[f"rule_{name}"] = checked
            test = checked.expr or f"rule_{name}.check(value)"
            body += [
                f"if not ({test}):",
                f"    raise field_error(cls, {name!r}, rule_{name}.text, value)",
            ]
        body += [
            f"append({head + name_repr!r})",
            "if kind is str:",
            "    append('s' + repr(value))",
            f"    data[{name!r}] = value",
            "elif kind is int and -BIG < value < BIG:",
            "    append(f'i{value}')",
            f"    data[{name!r}] = value",
            "elif value is None:",
            "    append('n')",
            f"    data[{name!r}] = None",
            "elif kind is bool:",
            "    append('i1' if value else 'i0')",
            f"    data[{name!r}] = value",
            "elif kind is list and not value:",
            "    append('seq[]')",
            f"    data[{name!r}] = []",
            "else:",
            "    fast_pack = FAST_PACK.get(kind)",
            "    if fast_pack is not None:",
            "        text, packed = fast_pack(value, ctx)",
            "        append(text)",
            f"        data[{name!r}] = packed",
            "    else:",
            f"        data[{name!r}] = pack_value(value, out, depth + 1, ctx)",
        ]
        head = ""
    body.append(f"append({head + ']'!r})")
    lines = ["def pack(resource, out, depth, ctx):", "    append = out.append"]
    lines += [f"    {line}" for line in body]
    lines += ["    return data", "", "def pack_top(resource, ctx=None):"]
    lines += ["    out = []", "    append = out.append", "    depth = 0"]
    lines += ["    try:"] + [f"        {line}" for line in body]
    lines += [
        "    except RecursionError:",
        "        raise too_deep(resource) from None",
        "    try:",
        "        text = ''.join(out)",
        "    except TypeError:  # Raw bytes values in the stream.",
        "        return data, hash_pieces(out, data)",
        "    if '\\\\' in text and '\\\\ud' in text:  # A lone surrogate? (see check_text)",
        "        check_text(data)",
        "    return data, sha256(text.encode()).hexdigest()",
    ]
    namespace: dict[str, Any] = {
        "new_dict": _new_dict,
        "ResourceDict": ResourceDict,
        "cls": cls,
        "BIG": _BIG,
        "FAST_PACK": _FAST_PACK,
        "pack_value": _pack_value,
        "sha256": sha256,
        "too_deep": _too_deep,
        "hash_pieces": _hash_pieces,
        "check_text": check_text,
        "field_error": field_error,
        "ResourceBase": ResourceBase,
        **checks,
    }
    # The source holds only field names (identifiers) and reprs of constants.
    exec("\n".join(lines), namespace)
    pack: Packer = namespace["pack"]
    pack_top: TopPacker = namespace["pack_top"]
    if not info.field_names:
        data, value = pack_top(None, None)

        def pack_top(_resource: Any, _ctx: Any = None) -> tuple[ResourceDict, str]:
            return data, value

    return pack, pack_top


def _pack_value(value: Any, out: list[Any], depth: int, ctx: Any) -> Any:
    """Appends the stream of a field value and returns its ResourceDict form.

    ``depth`` is the value's level: 1 for a field of the committed resource.

    Raises:
        FieldTypeError: a container or resource deeper than MAX_DEPTH.
    """
    cls = type(value)
    if cls is str:
        out.append("s" + repr(value))
        return value
    if cls is int:
        out.append("i" + _int_text(value))
        return value
    if cls is float:
        out.append("f" + repr(value))
        return value
    if value is None:
        out.append("n")
        return value
    if cls is bool:
        out.append("i1" if value else "i0")
        return value
    if cls is list or cls is tuple:
        if depth > MAX_DEPTH:
            raise _too_deep_to_commit(value, depth)
        out.append("seq[")
        result = _pack_uniform(value, out, ctx) if len(value) >= 16 else None
        if result is None:
            result = []
            append = result.append
            for item in value:
                # Atomic resources (refs: a Response's children) without the
                # dispatch below; everything else through it.
                fast_pack = _FAST_PACK.get(type(item))
                if fast_pack is not None:
                    text, copy = fast_pack(item, ctx)
                    out.append(text)
                    append(copy)
                else:
                    append(_pack_value(item, out, depth + 1, ctx))
        out.append("]")
        return result
    if cls is dict:
        if depth > MAX_DEPTH:
            raise _too_deep_to_commit(value, depth)
        value = _str_keys(value)
        out.append("map[")
        packed = {}
        for key in sorted(value):
            out.append(repr(key))
            packed[key] = _pack_value(value[key], out, depth + 1, ctx)
        out.append("]")
        return packed
    if cls is bytes:
        _stream_bytes(value, out)
        return value
    if isinstance(value, ResourceBase):
        if value._enact_atomic_:
            fast_pack = cls._enact_pack_
            if fast_pack is not None:
                _FAST_PACK[cls] = fast_pack
                text, copy = fast_pack(value, ctx)
                out.append(text)
                return copy
            _stream_resource(value, out)
            return value.deep_copy_resource()
        if depth > MAX_DEPTH:
            raise _too_deep_to_commit(value, depth)
        return _pack_resource(value, out, depth, ctx)
    if isinstance(value, type) and issubclass(value, ResourceBase):
        out.append("type[" + type_info(value).type_id + "]")
        return value
    # Subclasses of primitives and other mappings: normalise, then pack.
    normal = to_dict_value(value)
    if type(normal) is cls:  # pragma: no cover - to_dict_value rejects what it cannot convert
        raise FieldTypeError(f"Encountered unsupported field type {cls}: {value!r}")
    return _pack_value(normal, out, depth, ctx)


def _stream(value: Any, out: list[Any]) -> None:
    """Appends the stream of any value: resources, ResourceDicts and plain values."""
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
    elif (fast_stream := _FAST_STREAM.get(cls)) is not None:
        out.append(fast_stream(value))  # A type met before with its own stream: a ref, say.
    elif cls is list or cls is tuple:
        out.append("seq[")
        uniform = _uniform_stream(value)
        if uniform is not None:
            out.append(uniform)
        else:
            for item in value:
                _stream(item, out)
        out.append("]")
    elif cls is ResourceDict:
        _stream_resource_dict(value, out)
    elif cls is dict:
        value = _str_keys(value)
        out.append("map[")
        for key in sorted(value):
            out.append(repr(key))
            _stream(value[key], out)
        out.append("]")
    elif cls is bytes:
        _stream_bytes(value, out)
    elif isinstance(value, ResourceBase):
        fast = cls._enact_stream_
        if fast is not None:
            _FAST_STREAM[cls] = fast
            out.append(fast(value))
        else:
            _stream_resource(value, out)
    elif isinstance(value, type) and issubclass(value, ResourceBase):
        out.append("type[" + type_info(value).type_id + "]")
    elif isinstance(value, ResourceDict):
        _stream_resource_dict(value, out)
    elif isinstance(value, Mapping):
        _stream({_key(k): v for k, v in value.items()}, out)
    else:
        # Subclasses of primitives digest as the primitive.
        normal = to_dict_value(value)
        if type(normal) is cls:  # pragma: no cover - to_dict_value rejects what it cannot convert
            raise FieldTypeError(f"Encountered unsupported field type {cls}: {value!r}")
        _stream(normal, out)


def _pack_uniform(items: list[Any] | tuple[Any, ...], out: list[Any], ctx: Any) -> list[Any] | None:
    """Packs a list of items of one kind in C-level maps; None if it is not one.

    Plain ints, strs and floats are streamed as one piece (a list of 100,000
    ints, say); atomic resources with a fast packer (refs: the children of a
    Response) are packed with one call per item instead of two. Worth it from
    16 items on (the caller checks the length).
    """
    kinds = set(map(type, items))
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    uniform = _uniform_text(kind, items)
    if uniform is not None:
        out.append(uniform)
        return list(items)
    fast_pack = _FAST_PACK.get(kind)
    if fast_pack is None:
        return None
    packed = list(map(fast_pack, items, repeat(ctx, len(items))))
    out.extend(map(_first, packed))
    return list(map(_second, packed))


_first = operator.itemgetter(0)
_second = operator.itemgetter(1)


def _uniform_stream(items: list[Any] | tuple[Any, ...]) -> str | None:
    """Returns the stream of a long list of items of one kind, if it has a fast one.

    Such lists (a list of 100,000 ints, say) are streamed by C-level map and
    join rather than item by item: several times faster. So are lists of an
    atomic type with its own stream (refs: the children of a Response).
    """
    if len(items) < 16:
        return None
    kinds = set(map(type, items))
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    text = _uniform_text(kind, items)
    if text is None:
        fast_stream = _FAST_STREAM.get(kind)
        if fast_stream is not None:
            return "".join(map(fast_stream, items))
    return text


def _uniform_text(kind: type, items: list[Any] | tuple[Any, ...]) -> str | None:
    """The stream of items that are all of type ``kind``, if it is int, str or float."""
    if kind is int:
        try:
            return "i" + "i".join(map(int.__repr__, items))
        except ValueError:
            # An int past the int-to-text digit limit: item by item (_int_text).
            return None
    if kind is str:
        return "s" + "s".join(map(repr, items))
    if kind is float:
        return "f" + "f".join(map(float.__repr__, items))
    return None


def _stream_resource(value: ResourceBase, out: list[Any]) -> None:
    info = type_info(type(value))
    values = checked_values(value, info)
    out.append(info.stream_prefix)
    for name_repr, item in zip(info.name_reprs, values):  # noqa: B905 - lengths checked
        out.append(name_repr)
        _stream(item, out)
    out.append("]")


def _stream_resource_dict(value: ResourceDict, out: list[Any]) -> None:
    # Fields are taken in the type's declared order, whatever order the keys
    # of the dict arrived in.
    info = type_info(value.type)
    if len(value) != len(info.field_names):
        raise FieldTypeError(
            f"ResourceDict of {value.type.__qualname__} has keys {sorted(value)} "
            f"but the type has fields {list(info.field_names)}"
        )
    out.append(info.stream_prefix)
    for name, name_repr in zip(info.field_names, info.name_reprs):  # noqa: B905 - same length
        try:
            item = value[name]
        except KeyError:
            raise FieldTypeError(
                f"ResourceDict of {value.type.__qualname__} lacks field {name!r}"
            ) from None
        out.append(name_repr)
        _stream(item, out)
    out.append("]")


def _stream_bytes(value: bytes, out: list[Any]) -> None:
    out.append(f"b{len(value)}:")
    out.append(value)  # Raw: _hash feeds it to the hash as it is.


def _str_keys(value: dict[Any, Any]) -> dict[str, Any]:
    """Returns the mapping with plain str keys (normalising str subclasses)."""
    for key in value:
        if type(key) is not str:
            return {_key(k): v for k, v in value.items()}
    return value


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise FieldTypeError(
            f"Encountered a mapping key of unsupported type {type(key)}: {key!r} "
            "(mapping keys must be str)"
        )
    return str.__str__(key)


def _int_text(value: int) -> str:
    try:
        return int.__repr__(value)
    except ValueError:
        # Past the interpreter's int-to-text digit limit (sys.set_int_max_str_digits);
        # Decimal converts exactly and has no such limit.
        return str(decimal.Decimal(value))
