"""Serialisation of ResourceDicts to JSON bytes, on msgspec.

Encoding (docs/format.md §3-5). JSON objects whose keys begin with ``#`` are escapes:

=====================  =============================================
``{"#res": T, ...}``   a resource of type id ``T`` with its fields
``{"#type": T}``       the resource type with type id ``T``
``{"#b85": S}``        bytes, base85 text (``#b64``: base64, read too)
``{"#float": S}``      a float JSON cannot write: ``nan``, ``inf``, ``-inf``
``{"#int": S}``        an integer too long for the interpreter's int-to-text
                       limit (``sys.get_int_max_str_digits``), in decimal
``{"#r": S, ...}``     compact mode only: ``#res`` with the type id abbreviated
                       (see below)
=====================  =============================================

Compact mode (what the persistent backends store) abbreviates standard type
ids: ``{"name": N}`` is written ``"#r": N`` and ``{"digest": D, "name": N}``
is written ``"#r": [N, D[:16]]``. Reading resolves the abbreviation among the
registered types; a store reading an object re-hashes it with the resolved
type's full type id, so a wrong resolution could never pass unnoticed. Both
forms are always read. Compact mode writes a resource's fields in declared
order (the canonical form sorts them), so the full type id can be rebuilt
from the record alone.

A record whose type id no registered class has (the class is not imported,
or was renamed, or has other fields now) is read with a *stored type* as its
``.type`` (see :mod:`enact_resource._stored`): it digests and serialises as
the original, and converts to the current class where that is possible.

A mapping key or field name that itself begins with ``#`` is written with one
more ``#`` in front (``#x`` is written ``##x``), so user data can never be
mistaken for an escape. Integers of any size, ``-0.0`` and any Unicode text are
plain JSON.
"""

from __future__ import annotations

import abc
import base64
import binascii
import decimal
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from enact_resource._codegen import generate
from enact_resource._errors import (
    DeserializationError,
    SerializationError,
    TypeNotRegisteredError,
)
from enact_resource._registry import Registry
from enact_resource._resource import (
    _INFOS,
    ResourceBase,
    ResourceDict,
    TypeInfo,
    to_dict_value,
    type_info,
)
from enact_resource._stored import StoredResource, parse_type_id, stored_type, stored_type_for

__all__ = ["JsonSerializer", "Serializer"]


class Serializer(abc.ABC):
    """Turns ResourceDicts into bytes and back."""

    @abc.abstractmethod
    def serialize(self, resource_dict: ResourceDict) -> bytes:
        """Returns the encoded bytes of a resource dict.

        Raises:
            SerializationError: a value cannot be represented.
        """

    @abc.abstractmethod
    def deserialize(self, data: bytes) -> ResourceDict:
        """Decodes bytes written by :meth:`serialize`.

        Raises:
            DeserializationError: the data is not a valid encoded resource.
        """


_RES, _TYPE, _B85, _B64, _FLOAT, _INT = "#res", "#type", "#b85", "#b64", "#float", "#int"
_SHORT = "#r"
# Hex digits of a type's fields digest kept in its abbreviated type id.
_SHORT_DIGEST = 16
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_ATOMS: frozenset[type] = frozenset({str, int, bool, type(None)})
# Values written as they are whatever the mode (ints may need an escape).
_PLAIN: frozenset[type] = frozenset({str, bool, type(None)})
_new_dict = dict.__new__
# Ints longer than this are escaped when the JSON encoder cannot write them
# (its limit is the interpreter's int-to-text digit limit, 4300 by default).
_BIG_INT_BITS = 2000
_INT_TEXT = re.compile(r"-?[0-9]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_infos = _INFOS


def _first_item(item: tuple[str, Any]) -> str:
    return item[0]


class JsonSerializer(Serializer):
    """JSON with sorted keys, built on msgspec.

    Args:
        registry: where type ids are resolved on reading; the process
            registry by default.
        compact: write without spaces, with base64 instead of base85 for
            bytes (much faster in Python) and with abbreviated type ids
            (``#r``: a small record takes half the bytes). The default
            writes the canonical form shown in the tutorial (``", "`` and
            ``": "`` separators).
        require_registered: refuse to write a resource whose type could not
            be read back through ``registry``, so that the mistake shows at
            write time rather than when the data is read.
        stored_types: read a record whose type id no registered class has
            (not imported, renamed, or with other fields now) with a *stored
            type* as its ``.type`` instead of raising
            :class:`TypeNotRegisteredError` or a fields mismatch error; see
            :mod:`enact_resource._stored`. What stores read with.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        compact: bool = False,
        require_registered: bool = False,
        stored_types: bool = False,
    ) -> None:
        self._registry = registry
        self._compact = compact
        self._require_registered = require_registered
        self._stored_types = stored_types
        # Compact records keep their fields in declared order (the dicts are
        # built in that order), the canonical form sorts every key.
        self._encoder = msgspec.json.Encoder(order=None if compact else "sorted")
        self._decoder = msgspec.json.Decoder()
        self._layouts: dict[type, _Layout] = {}
        # Type id -> the class registered under it, for reading; valid while
        # the registry has not changed (see Registry.version).
        self._readers: dict[str, tuple[int, type[ResourceBase]]] = {}
        # The same for abbreviated type ids (N, or (N, digest prefix)).
        self._short_readers: dict[str | tuple[str, ...], tuple[int, type[ResourceBase]]] = {}
        self._short_index: tuple[int, dict[str | tuple[str, ...], type[ResourceBase]]] = (-1, {})
        # (type id or abbreviation, stored keys) -> stored type, for records
        # that no registered class reads (see _decode_stored).
        self._stored: dict[tuple[Any, tuple[str, ...]], type[StoredResource]] = {}

    @property
    def registry(self) -> Registry:
        """The registry used to resolve type ids."""
        return self._registry or Registry.get()

    def serialize(self, resource_dict: ResourceDict) -> bytes:
        value: object = resource_dict
        if isinstance(value, ResourceBase):
            resource_dict = value.to_resource_dict()
        elif not isinstance(value, ResourceDict):
            raise SerializationError(
                f"serialize expects a ResourceDict, got {type(value).__qualname__}"
            )
        try:
            tree = self._encode(resource_dict, False)
            try:
                data = self._encoder.encode(tree)
            except ValueError:
                # An int past the int-to-text digit limit: encode again, with
                # such ints escaped (rare, so the common path never checks).
                data = self._encoder.encode(self._encode(resource_dict, True))
        except RecursionError:
            raise SerializationError(
                "Resource is nested too deeply to serialize "
                "(deeper than the interpreter's recursion limit)"
            ) from None
        except (UnicodeEncodeError, msgspec.EncodeError, OverflowError) as e:
            raise SerializationError(f"Cannot encode resource as JSON: {e}") from e
        if self._compact:
            return data
        return msgspec.json.format(data, indent=0)

    def _layout(self, rtype: type[ResourceBase]) -> _Layout:
        """Returns the layout of a type (type id, field names, JSON keys, codecs), cached.

        Also checks, once per type, that the type is registered when the
        serializer requires it.
        """
        layout = self._layouts.get(rtype)
        if layout is not None:
            # What type_info checks, without the call: the TypeInfo is current.
            info = layout.info
            if _infos.get(rtype) is info and (
                info.key is None or info.key is getattr(rtype, "__dataclass_fields__", None)
            ):
                return layout
        info = type_info(rtype)
        if layout is None or layout.type_id != info.type_id:
            self._check_registered(rtype)
        layout = _Layout(info, rtype, self._compact)
        self._layouts[rtype] = layout
        return layout

    def _encode(self, value: Any, big_ints: bool) -> Any:
        cls = type(value)
        if cls in _ATOMS:
            if big_ints and cls is int and value.bit_length() > _BIG_INT_BITS:
                return {_INT: str(decimal.Decimal(value))}
            return value
        if cls is ResourceDict:
            return self._layout(value.type).encode_fields(self, value, big_ints)
        layout = self._layouts.get(cls)
        if layout is not None and layout.info.key is None and _infos.get(cls) is layout.info:
            # A resource kept whole (a Ref, a Str...) of a type met before: the
            # common case of the isinstance branch below, without the checks.
            return layout.encode_whole(self, value, big_ints)
        if cls is float:
            if math.isfinite(value):
                return value
            return {_FLOAT: repr(value)}
        if cls is list or cls is tuple:
            return [
                item if type(item) in _PLAIN else self._encode(item, big_ints) for item in value
            ]
        if cls is dict:
            # Sorted, so that equal mappings give equal bytes in both modes.
            return {
                _escape_key(k): v if type(v) in _PLAIN else self._encode(v, big_ints)
                for k, v in sorted(value.items(), key=_first_item)
            }
        if cls is bytes:
            if self._compact:
                return {_B64: binascii.b2a_base64(value, newline=False).decode("ascii")}
            return {_B85: base64.b85encode(value).decode("ascii")}
        if isinstance(value, type) and issubclass(value, ResourceBase):
            return {_TYPE: self._layout(value).type_id}
        if isinstance(value, ResourceBase):
            # Resources kept whole in a ResourceDict (Str, Ref, ...).
            return self._layout(cls).encode_whole(self, value, big_ints)
        # Subclasses of primitives and other mappings: normalise first.
        normal = to_dict_value(value)
        if type(normal) is cls:
            raise SerializationError(f"Cannot serialize value of type {cls}: {value!r}")
        return self._encode(normal, big_ints)

    def _check_registered(self, rtype: type[ResourceBase]) -> None:
        if (
            self._require_registered
            and not issubclass(rtype, StoredResource)  # Read back as the same stored type.
            and not self.registry.is_registered(rtype)
        ):
            raise SerializationError(
                f"Resource type {rtype.__module__}.{rtype.__qualname__} is not registered, "
                "so it could not be read back: decorate it with @enact.register"
            )

    def deserialize(self, data: bytes) -> ResourceDict:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DeserializationError(f"deserialize expects bytes, got {type(data).__qualname__}")
        if not data:
            raise DeserializationError("Cannot deserialize empty data")
        try:
            tree = self._decoder.decode(data)
        except RecursionError:
            raise DeserializationError("Data is nested too deeply to be read") from None
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            raise DeserializationError(f"Data is not valid JSON: {e}") from e
        if not (isinstance(tree, dict) and (_RES in tree or _SHORT in tree)):
            raise DeserializationError(
                "Expected a JSON object with a '#res' type id at the top level, "
                f"got {_describe(tree)}"
            )
        try:
            result = self._decode_resource(tree, top=True)
        except RecursionError:
            raise DeserializationError(
                "Data is nested too deeply to be read "
                "(deeper than the interpreter's recursion limit)"
            ) from None
        except _Located as e:
            # Say where in the data the problem is: $.field[index]...
            where = "$" + "".join(
                f"[{step}]" if isinstance(step, int) else f".{step}" for step in reversed(e.steps)
            )
            raise DeserializationError(f"{e.error} (at {where})") from e.error
        assert isinstance(result, ResourceDict)
        return result

    # Decoding keeps no path while it works (that would cost on every value);
    # an error is wrapped in _Located on its way up, collecting the steps.

    def _decode(self, value: Any) -> Any:
        if type(value) is list:
            out = []
            for index, item in enumerate(value):
                kind = type(item)
                if kind is dict or kind is list:
                    try:
                        item = self._decode(item)
                    except (_Located, DeserializationError) as e:
                        raise _Located.add(e, index) from None
                out.append(item)
            return out
        if _RES in value or _SHORT in value:
            return self._decode_resource(value)
        escape = None
        for key in value:
            if key[:1] == "#" and key[:2] != "##":
                escape = key
                break
        if escape is None:
            result = {}
            for key, item in value.items():
                kind = type(item)
                if kind is dict or kind is list:
                    try:
                        item = self._decode(item)
                    except (_Located, DeserializationError) as e:
                        raise _Located.add(e, key) from None
                result[_unescape_key(key)] = item
            return result
        if len(value) != 1:
            raise DeserializationError(
                f"Escape object must have exactly one key, got {sorted(value)}"
            )
        payload = value[escape]
        if escape == _TYPE:
            type_id = _expect_str(payload, escape)
            try:
                return self.registry.lookup(type_id)
            except TypeNotRegisteredError:
                if not self._stored_types:
                    raise
                # A type this process does not have: known by its id alone.
                return stored_type(type_id, None)
        if escape == _B85:
            try:
                return base64.b85decode(_expect_str(payload, escape))
            except ValueError as e:
                raise DeserializationError(f"Invalid base85 bytes: {e}") from e
        if escape == _B64:
            try:
                return binascii.a2b_base64(_expect_str(payload, escape), strict_mode=True)
            except (binascii.Error, ValueError) as e:
                raise DeserializationError(f"Invalid base64 bytes: {e}") from e
        if escape == _FLOAT:
            text = _expect_str(payload, escape)
            if text not in _SPECIAL_FLOATS:
                raise DeserializationError(
                    f"Invalid {_FLOAT} value {text!r} (expected nan, inf or -inf)"
                )
            return _SPECIAL_FLOATS[text]
        if escape == _INT:
            text = _expect_str(payload, escape)
            if not _INT_TEXT.fullmatch(text):
                raise DeserializationError(f"Invalid {_INT} value {text[:40]!r}")
            return int(decimal.Decimal(text))
        raise DeserializationError(f"Unknown escape {escape!r}")

    def _resolve(
        self, key: str | tuple[str, ...], short: bool, registry: Registry
    ) -> type[ResourceBase]:
        """Resolves a type id (or, if ``short``, an abbreviated one) and caches the class."""
        version = registry.version
        if not short:
            assert isinstance(key, str)
            rtype = registry.lookup(key)
            self._readers[key] = (version, rtype)
            return rtype
        index_version, index = self._short_index
        if index_version != version:
            index = {}
            for type_id, cls in registry.types().items():
                abbreviated = _short_type_id(type_id)
                if abbreviated is not None:
                    index[_short_key(abbreviated)] = cls
            self._short_index = (version, index)
        found = index.get(key)
        if found is None:
            raise TypeNotRegisteredError(_describe_short(key))
        self._short_readers[key] = (version, found)
        return found

    def _decode_resource(self, value: dict[str, Any], top: bool = False) -> Any:
        registry = self._registry or Registry._instance or Registry.get()
        key: str | tuple[str, ...]
        short = _RES not in value
        if short:
            key = value[_SHORT]
            if type(key) is not str:
                key = _short_key(key)
            cached = self._short_readers.get(key)
        else:
            key = _expect_str(value[_RES], _RES)
            cached = self._readers.get(key)
        if cached is not None and cached[0] == registry.version:
            rtype = cached[1]  # The same registered types: the same class.
        else:
            try:
                rtype = self._resolve(key, short, registry)
            except TypeNotRegisteredError:
                if not self._stored_types:
                    raise
                return self._decode_stored(value, key, short)
        layout = self._layout(rtype)
        try:
            data = layout.decode(self, value)
        except _FieldsMismatch:
            if not self._stored_types:
                raise
            # The type id's name is registered but the stored fields are
            # another version's (a type id without a fields digest).
            return self._decode_stored(value, key, short)
        if top or not layout.rtype._enact_atomic_:
            return data
        # Nested resources of atomic types are kept whole, as in to_resource_dict().
        try:
            return layout.rtype.from_resource_dict(data)
        except Exception as e:
            raise DeserializationError(
                f"Invalid {layout.rtype.__qualname__}: {type(e).__name__}: {e}"
            ) from e

    def _decode_stored(
        self, value: dict[str, Any], key: str | tuple[str, ...], short: bool
    ) -> ResourceDict:
        """Reads a record that no registered class has the type id of, as a stored type."""
        keys = tuple(k for k in value if k != _RES and k != _SHORT)
        rtype = self._stored.get((key, keys))
        if rtype is None:
            rtype = self._stored_type(key, short, keys)
            self._stored[(key, keys)] = rtype
        data = _new_dict(ResourceDict)
        data.type = rtype
        for name in rtype.field_names():
            item = value[_escape_key(name)]
            kind = type(item)
            if kind is dict or kind is list:
                try:
                    item = self._decode(item)
                except (_Located, DeserializationError) as e:
                    raise _Located.add(e, name) from None
            data[name] = item
        return data

    @staticmethod
    def _stored_type(
        key: str | tuple[str, ...], short: bool, keys: tuple[str, ...]
    ) -> type[StoredResource]:
        names = tuple(_unescape_key(k) for k in keys)
        name: str
        digest: str | None
        if not short:
            assert isinstance(key, str)
            name, digest = parse_type_id(key)
            if digest is not None and not _HEX64.fullmatch(digest):
                raise DeserializationError(f"Invalid fields digest in type id {key!r:.200}")
        elif isinstance(key, str):
            name, digest = key, None
        else:
            name, digest = key
            if not re.fullmatch(r"[0-9a-f]{1,64}", digest):
                raise DeserializationError(f"Invalid fields digest prefix {digest!r:.80}")
        if not name:
            raise DeserializationError("A stored type id has an empty name")
        return stored_type_for(name, digest, names)


class _Layout:
    """How a serializer writes and reads one resource type.

    Holds the type's TypeInfo (type id, field names), the JSON keys of its
    fields, and three functions generated for the type (as dataclasses
    generates ``__init__``), so that a small record costs a few calls:

    - ``encode_fields(serializer, fields, big_ints)``: the JSON object of a
      ResourceDict of the type;
    - ``encode_whole(serializer, resource, big_ints)``: the same for an
      instance kept whole inside a ResourceDict (a Ref, a Str...);
    - ``decode(serializer, obj)``: the ResourceDict of a decoded JSON object.
    """

    __slots__ = ("decode", "encode_fields", "encode_whole", "info", "keys", "rtype", "type_id")

    def __init__(self, info: TypeInfo, rtype: type[ResourceBase], compact: bool) -> None:
        self.info = info
        self.rtype = rtype
        self.type_id = info.type_id
        short = _short_type_id(info.type_id) if compact else None
        names = info.field_names
        self.keys = keys = tuple(_escape_key(name) for name in names)
        n = len(names)
        values = [f"v{i}" for i in range(n)]
        encoded = ", ".join(
            [f"{_RES!r}: {self.type_id!r}" if short is None else f"{_SHORT!r}: {short!r}"]
            + [
                f"{key!r}: {v} if type({v}) in PLAIN else ser._encode({v}, big)"
                for key, v in zip(keys, values, strict=True)
            ]
        )
        lines = [
            "def encode_fields(ser, fields, big):",
            f"    if len(fields) != {n}:",
            "        raise fields_mismatch(rtype, fields)",
            "    try:",
            *[f"        {v} = fields[{name!r}]" for v, name in zip(values, names, strict=True)],
            "        pass",
            "    except KeyError:",
            "        raise fields_mismatch(rtype, fields) from None",
            f"    return {{{encoded}}}",
            "",
            "def encode_whole(ser, resource, big):",
            "    values = tuple(resource.field_values())",
            f"    if len(values) != {n}:",
            "        raise count_mismatch(rtype, values)",
            f"    ({''.join(v + ', ' for v in values)}) = values",
            f"    return {{{encoded}}}",
            "",
            "def decode(ser, obj):",
            f"    if len(obj) != {n + 1}:",
            "        raise decode_mismatch(rtype, obj)",
            "    data = new_dict(ResourceDict)",
            "    data.type = rtype",
            "    try:",
            *[f"        {v} = obj[{key!r}]" for v, key in zip(values, keys, strict=True)],
            "        pass",
            "    except KeyError:",
            "        raise decode_mismatch(rtype, obj) from None",
        ]
        for v, name in zip(values, names, strict=True):
            lines += [
                f"    kind = type({v})",
                "    if kind is dict or kind is list:",
                "        try:",
                f"            if kind is dict and ({_RES!r} in {v} or {_SHORT!r} in {v}):",
                f"                {v} = ser._decode_resource({v})",
                "            else:",
                f"                {v} = ser._decode({v})",
                "        except (Located, DeserializationError) as e:",
                f"            raise Located.add(e, {name!r}) from None",
                f"    data[{name!r}] = {v}",
            ]
        lines.append("    return data")
        namespace: dict[str, Any] = {
            "rtype": rtype,
            "PLAIN": _PLAIN,
            "ResourceDict": ResourceDict,
            "new_dict": _new_dict,
            "Located": _Located,
            "DeserializationError": DeserializationError,
            "fields_mismatch": _fields_mismatch,
            "count_mismatch": _count_mismatch,
            "decode_mismatch": _decode_mismatch,
        }
        # The source holds only generated local names and reprs of strings.
        generate("codec", rtype, lines, namespace, identifiers=values)
        self.encode_fields: Callable[[JsonSerializer, Mapping[str, Any], bool], Any]
        self.encode_fields = namespace["encode_fields"]
        self.encode_whole: Callable[[JsonSerializer, ResourceBase, bool], Any]
        self.encode_whole = namespace["encode_whole"]
        self.decode: Callable[[JsonSerializer, dict[str, Any]], ResourceDict]
        self.decode = namespace["decode"]


def _fields_mismatch(rtype: type[ResourceBase], fields: Mapping[str, Any]) -> SerializationError:
    names = type_info(rtype).field_names
    missing = [name for name in names if name not in fields]
    if len(fields) == len(names) and missing:
        return SerializationError(
            f"Fields {sorted(fields)} lack {rtype.__qualname__}'s field {missing[0]!r}"
        )
    return SerializationError(
        f"Fields {sorted(fields)} do not match {rtype.__qualname__}'s {list(names)}"
    )


def _count_mismatch(rtype: type[ResourceBase], values: Any) -> SerializationError:
    names = list(type_info(rtype).field_names)
    return SerializationError(
        f"{rtype.__qualname__} returned {len(values)} values for fields {names}"
    )


class _FieldsMismatch(DeserializationError):
    """A record's fields are not those of the class its type id resolved to."""


def _decode_mismatch(rtype: type[ResourceBase], value: dict[str, Any]) -> DeserializationError:
    info = type_info(rtype)
    fields = {_unescape_key(k) for k in value if k not in (_RES, _SHORT)}
    missing = [n for n in info.field_names if n not in fields]
    extra = sorted(k for k in fields if k not in info.field_names)
    return _FieldsMismatch(
        f"Resource of type {info.type_id} does not match the registered class "
        f"{rtype.__module__}.{rtype.__qualname__}: missing fields {missing}, "
        f"unexpected fields {extra}"
    )


def _short_type_id(type_id: str) -> str | list[str] | None:
    """The abbreviation of a standard type id (see the module docstring), else None."""
    try:
        parsed = json.loads(type_id)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or not all(type(v) is str for v in parsed.values()):
        return None
    if parsed.keys() == {"name"}:
        return str(parsed["name"])
    if parsed.keys() == {"digest", "name"} and _HEX64.fullmatch(parsed["digest"]):
        return [parsed["name"], parsed["digest"][:_SHORT_DIGEST]]
    return None


def _short_key(short: Any) -> str | tuple[str, ...]:
    """The lookup key of an abbreviated type id as read (a str, or a list of two)."""
    if type(short) is str:
        return short
    if type(short) is list and len(short) == 2:
        name, prefix = short
        if type(name) is str and type(prefix) is str:
            return (name, prefix)
    raise DeserializationError(
        f"The value of {_SHORT!r} must be a type name or [name, digest prefix], "
        f"got {_describe(short)}"
    )


def _describe_short(key: str | tuple[str, ...]) -> str:
    if isinstance(key, str):
        return json.dumps({"name": key}, sort_keys=True)
    return json.dumps({"digest": key[1] + "...", "name": key[0]}, sort_keys=True)


class _Located(Exception):
    """A DeserializationError on its way up, with the steps to where it happened."""

    def __init__(self, error: DeserializationError) -> None:
        self.error = error
        self.steps: list[str | int] = []

    @staticmethod
    def add(error: Exception, step: str | int) -> _Located:
        located = error if isinstance(error, _Located) else _Located(error)  # type: ignore[arg-type]
        located.steps.append(step)
        return located


def _escape_key(key: str) -> str:
    if type(key) is not str:
        if not isinstance(key, str):
            raise SerializationError(f"Mapping keys must be str, got {type(key)}: {key!r}")
        key = str.__str__(key)
    return "#" + key if key[:1] == "#" else key


def _unescape_key(key: str) -> str:
    return key[1:] if key[:2] == "##" else key


def _expect_str(payload: Any, escape: str) -> str:
    if type(payload) is not str:
        raise DeserializationError(
            f"The value of {escape!r} must be a string, got {_describe(payload)}"
        )
    return payload


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"an object with keys {sorted(value)[:10]}"
    return f"a JSON {type(value).__name__}: {value!r:.80}"
