"""Serialisation of ResourceDicts to JSON bytes, on msgspec.

Encoding (SPEC 3.3). JSON objects whose keys begin with ``#`` are escapes:

=====================  =============================================
``{"#res": T, ...}``   a resource of type id ``T`` with its fields
``{"#type": T}``       the resource type with type id ``T``
``{"#b85": S}``        bytes, base85 text (``#b64``: base64, read too)
``{"#float": S}``      a float JSON cannot write: ``nan``, ``inf``, ``-inf``
``{"#int": S}``        an integer too long for the interpreter's int-to-text
                       limit (``sys.get_int_max_str_digits``), in decimal
=====================  =============================================

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
import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from enact_resource._errors import DeserializationError, SerializationError
from enact_resource._registry import Registry
from enact_resource._resource import ResourceBase, ResourceDict, to_dict_value, type_info

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
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_ATOMS: frozenset[type] = frozenset({str, int, bool, type(None)})
# Values written as they are whatever the mode (ints may need an escape).
_PLAIN: frozenset[type] = frozenset({str, bool, type(None)})
_new_dict = dict.__new__
# Ints longer than this are escaped when the JSON encoder cannot write them
# (its limit is the interpreter's int-to-text digit limit, 4300 by default).
_BIG_INT_BITS = 2000
_INT_TEXT = re.compile(r"-?[0-9]+")


class JsonSerializer(Serializer):
    """JSON with sorted keys, built on msgspec.

    Args:
        registry: where type ids are resolved on reading; the process
            registry by default.
        compact: write without spaces and with base64 instead of base85 for
            bytes (much faster in Python). The default writes the canonical
            form shown in the tutorial (``", "`` and ``": "`` separators).
        require_registered: refuse to write a resource whose type could not
            be read back through ``registry``, so that the mistake shows at
            write time rather than when the data is read.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        compact: bool = False,
        require_registered: bool = False,
    ) -> None:
        self._registry = registry
        self._compact = compact
        self._require_registered = require_registered
        self._encoder = msgspec.json.Encoder(order="sorted")
        self._decoder = msgspec.json.Decoder()
        self._layouts: dict[type, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}

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

    def _layout(self, rtype: type[ResourceBase]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        """Returns (type id, field names, their JSON keys) of a type, cached per serializer.

        Also checks, once per type, that the type is registered when the
        serializer requires it.
        """
        info = type_info(rtype)
        layout = self._layouts.get(rtype)
        if layout is None or layout[0] != info.type_id:
            self._check_registered(rtype)
            names = info.field_names
            layout = (info.type_id, names, tuple(_escape_key(name) for name in names))
            self._layouts[rtype] = layout
        return layout

    def _encode(self, value: Any, big_ints: bool) -> Any:
        cls = type(value)
        if cls in _ATOMS:
            if big_ints and cls is int and value.bit_length() > _BIG_INT_BITS:
                return {_INT: str(decimal.Decimal(value))}
            return value
        if cls is float:
            if math.isfinite(value):
                return value
            return {_FLOAT: repr(value)}
        if cls is list or cls is tuple:
            return [
                item if type(item) in _PLAIN else self._encode(item, big_ints) for item in value
            ]
        if cls is ResourceDict:
            return self._encode_fields(value.type, value, big_ints)
        if cls is dict:
            return {
                _escape_key(k): v if type(v) in _PLAIN else self._encode(v, big_ints)
                for k, v in value.items()
            }
        if cls is bytes:
            if self._compact:
                return {_B64: binascii.b2a_base64(value, newline=False).decode("ascii")}
            return {_B85: base64.b85encode(value).decode("ascii")}
        if isinstance(value, type) and issubclass(value, ResourceBase):
            return {_TYPE: self._layout(value)[0]}
        if isinstance(value, ResourceBase):
            # Resources kept whole in a ResourceDict (Str, Ref, ...).
            type_id, _, keys = self._layout(cls)
            values = tuple(value.field_values())
            if len(values) != len(keys):
                raise SerializationError(
                    f"{cls.__qualname__} returned {len(values)} values for fields {list(keys)}"
                )
            out = {_RES: type_id}
            for key, item in zip(keys, values, strict=True):
                out[key] = item if type(item) in _PLAIN else self._encode(item, big_ints)
            return out
        # Subclasses of primitives and other mappings: normalise first.
        normal = to_dict_value(value)
        if type(normal) is cls:
            raise SerializationError(f"Cannot serialize value of type {cls}: {value!r}")
        return self._encode(normal, big_ints)

    def _encode_fields(
        self, rtype: type[ResourceBase], fields: Mapping[str, Any], big_ints: bool
    ) -> dict[str, Any]:
        type_id, names, keys = self._layout(rtype)
        if len(fields) != len(names):
            raise SerializationError(
                f"Fields {sorted(fields)} do not match {rtype.__qualname__}'s {list(names)}"
            )
        out = {_RES: type_id}
        for name, key in zip(names, keys, strict=True):
            try:
                item = fields[name]
            except KeyError:
                raise SerializationError(
                    f"Fields {sorted(fields)} lack {rtype.__qualname__}'s field {name!r}"
                ) from None
            out[key] = item if type(item) in _PLAIN else self._encode(item, big_ints)
        return out

    def _check_registered(self, rtype: type[ResourceBase]) -> None:
        if self._require_registered and not self.registry.is_registered(rtype):
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
        if not (isinstance(tree, dict) and _RES in tree):
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
        if escape == _RES or _RES in value:
            return self._decode_resource(value)
        if len(value) != 1:
            raise DeserializationError(
                f"Escape object must have exactly one key, got {sorted(value)}"
            )
        payload = value[escape]
        if escape == _TYPE:
            return self.registry.lookup(_expect_str(payload, escape))
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

    def _decode_resource(self, value: dict[str, Any], top: bool = False) -> Any:
        type_id = _expect_str(value[_RES], _RES)
        rtype = self.registry.lookup(type_id)
        _, names, keys = self._layout(rtype)
        if len(value) != len(names) + 1:
            raise self._mismatch(rtype, type_id, value)
        data: ResourceDict = _new_dict(ResourceDict)
        data.type = rtype
        for name, key in zip(names, keys, strict=True):
            try:
                item = value[key]
            except KeyError:
                raise self._mismatch(rtype, type_id, value) from None
            kind = type(item)
            if kind is dict or kind is list:
                try:
                    item = self._decode(item)
                except (_Located, DeserializationError) as e:
                    raise _Located.add(e, name) from None
            data[name] = item
        if top or not rtype._enact_atomic_:
            return data
        # Nested resources of atomic types are kept whole, as in to_resource_dict().
        try:
            return rtype.from_resource_dict(data)
        except Exception as e:
            raise DeserializationError(
                f"Invalid {rtype.__qualname__}: {type(e).__name__}: {e}"
            ) from e

    @staticmethod
    def _mismatch(
        rtype: type[ResourceBase], type_id: str, value: dict[str, Any]
    ) -> DeserializationError:
        names = type_info(rtype).field_names
        fields = {_unescape_key(k) for k in value if k != _RES}
        missing = [n for n in names if n not in fields]
        extra = sorted(k for k in fields if k not in names)
        return DeserializationError(
            f"Resource of type {type_id} does not match the registered class "
            f"{rtype.__module__}.{rtype.__qualname__}: missing fields {missing}, "
            f"unexpected fields {extra}"
        )


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
