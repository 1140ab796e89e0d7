"""Built-in value resources: Str, Int, Float, Bytes and NoneResource."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import Any, TypeVar

from enact_resource._resource import (
    _INFOS,
    FieldValue,
    ResourceBase,
    ResourceDict,
    set_type_name,
    type_info,
)

__all__ = ["Bytes", "Float", "Int", "NoneResource", "Str"]

_V = TypeVar("_V")
_new_dict = dict.__new__


def _prefix(cls: type[ResourceBase], _infos: Any = _INFOS) -> str:
    # The type's stream prefix; value types are not dataclasses, so a cached
    # TypeInfo never goes stale.
    return (_infos.get(cls) or type_info(cls)).stream_prefix


class _ValueResource(ResourceBase):
    """Shared behaviour of resources that subclass an immutable Python type."""

    __slots__ = ()
    _enact_atomic_ = True

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return ("value",)

    @classmethod
    def from_fields(cls, field_dict: Mapping[str, FieldValue]) -> Any:
        return cls(field_dict["value"])  # type: ignore[call-arg]

    def deep_copy_resource(self: _V) -> _V:
        return self  # Immutable: a copy would be indistinguishable.

    def to_resource_dict(self) -> ResourceDict:
        data: ResourceDict = _new_dict(ResourceDict)
        data.type = type(self)
        data["value"] = self._enact_plain_(self)  # type: ignore[attr-defined]
        return data

    def _enact_pack_(self, context: Any = None) -> tuple[str, Any]:
        stream = self._enact_stream_()  # type: ignore[misc]
        return stream, self


class Str(_ValueResource, str):
    """A ``str`` that is a resource (one field, ``value``)."""

    __slots__ = ()
    # The plain value: field_values()[0] in one C call.
    _enact_plain_ = staticmethod(str.__str__)

    def _enact_stream_(self) -> str:
        return _prefix(type(self)) + "'value's" + str.__repr__(self) + "]"

    def field_values(self) -> tuple[str]:
        return (self._enact_plain_(self),)


class Int(_ValueResource, int):
    """An ``int`` that is a resource (one field, ``value``)."""

    __slots__ = ()
    # The plain value: field_values()[0] in one C call.
    _enact_plain_ = staticmethod(int)

    def _enact_stream_(self) -> str:
        try:
            text = int.__repr__(self)
        except ValueError:  # Past the int-to-text digit limit: Decimal has none.
            text = str(decimal.Decimal(int(self)))
        return _prefix(type(self)) + "'value'i" + text + "]"

    def field_values(self) -> tuple[int]:
        return (self._enact_plain_(self),)


class Float(_ValueResource, float):
    """A ``float`` that is a resource (one field, ``value``)."""

    __slots__ = ()
    # The plain value: field_values()[0] in one C call.
    _enact_plain_ = staticmethod(float)

    def _enact_stream_(self) -> str:
        return _prefix(type(self)) + "'value'f" + float.__repr__(self) + "]"

    def field_values(self) -> tuple[float]:
        return (self._enact_plain_(self),)


class Bytes(_ValueResource, bytes):
    """A ``bytes`` that is a resource (one field, ``value``)."""

    __slots__ = ()
    # The plain value: field_values()[0] in one C call.
    _enact_plain_ = staticmethod(bytes)
    # Raw bytes go to the hash directly, not through a text stream.
    _enact_pack_ = None  # type: ignore[assignment]

    def field_values(self) -> tuple[bytes]:
        return (self._enact_plain_(self),)


class NoneResource(ResourceBase):
    """The empty resource: the input of invokables that take no argument."""

    __slots__ = ()
    _enact_atomic_ = True

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return ()

    def field_values(self) -> tuple[()]:
        return ()

    def _enact_stream_(self) -> str:
        return _prefix(type(self)) + "]"

    @classmethod
    def from_fields(cls, field_dict: Mapping[str, FieldValue]) -> NoneResource:
        return cls()

    def deep_copy_resource(self) -> NoneResource:
        return self

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}()"


# Names fixed by the format (docs/format.md §1), shared with data written by the original enact.
for _cls, _name in (
    (Str, "enact.resource_types.Str"),
    (Int, "enact.resource_types.Int"),
    (Float, "enact.resource_types.Float"),
    (Bytes, "enact.resource_types.Bytes"),
    (NoneResource, "enact.interfaces.NoneResource"),
):
    set_type_name(_cls, _name)
