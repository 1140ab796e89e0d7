"""The resource model: ResourceBase, Resource, ResourceDict and type ids."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from enact_resource._errors import DeserializationError, FieldTypeError

__all__ = [
    "FieldValue",
    "Resource",
    "ResourceBase",
    "ResourceDict",
    "ResourceDictValue",
    "TypeInfo",
    "from_dict_value",
    "to_dict_value",
    "type_info",
]

#: A legal field value: int, float, bool, str, bytes, None, a resource, a
#: resource type, or a list/tuple/str-keyed mapping of these.
FieldValue = Any

#: A value inside a :class:`ResourceDict`: a field value with each nested
#: resource given as its own ResourceDict (except atomic value types such as
#: Str, Int and Ref, which are kept whole). The same JSON-like shapes as
#: :data:`FieldValue`.
ResourceDictValue = Any

R = TypeVar("R", bound="ResourceBase")

# Attribute holding a fixed type name, read from the class's own __dict__.
_NAME_ATTR = "_enact_type_name_"


class TypeInfo:
    """What enact derives once per resource class: type id and field layout.

    Cached in the class's own ``__dict__`` and keyed on the class's
    ``__dataclass_fields__`` object, so that it is recomputed if
    ``@dataclasses.dataclass`` processes the class after a decorator (such as
    ``@register``) has already asked for its type id.
    """

    __slots__ = (
        "field_names",
        "get_values",
        "key",
        "name_reprs",
        "plain_values",
        "stream_prefix",
        "type_id",
    )

    def __init__(self, key: object, type_id: str, field_names: tuple[str, ...]) -> None:
        self.key = key
        self.type_id = type_id
        self.field_names = field_names
        # Pieces of the digest stream (docs/format.md §2) that depend only on the type.
        self.stream_prefix = "res[" + type_id
        self.name_reprs = tuple(repr(name) for name in field_names)
        # Reads the field values off a dataclass instance in one C call.
        self.get_values = _values_getter(field_names)
        # get_values, for types whose field_values() is exactly that (set by
        # type_info): walkers then skip the method call and the length check.
        self.plain_values: Callable[[Any], tuple[Any, ...]] | None = None


def _values_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    getter: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)
    return getter


# TypeInfo per class. A dict rather than a class attribute, because class
# attributes are inherited and reading the class's own __dict__ is slow; the
# classes it holds are never freed, which only matters for classes created in
# a loop.
_INFOS: dict[type, TypeInfo] = {}


def type_info(cls: type[ResourceBase]) -> TypeInfo:
    """Returns the cached :class:`TypeInfo` of a resource class."""
    info = _INFOS.get(cls)
    if info is not None and (info.key is None or info.key is cls.__dataclass_fields__):  # type: ignore[attr-defined]
        return info
    key = getattr(cls, "__dataclass_fields__", None)
    type_id, names = cls._describe_type()
    info = TypeInfo(key, type_id, names)
    if cls.field_values is Resource.field_values:
        info.plain_values = info.get_values
    _INFOS[cls] = info
    return info


def set_type_name(cls: type[ResourceBase], name: str) -> None:
    """Fixes the name used in ``cls``'s type id (not inherited by subclasses).

    The built-in types use the names of the original enact so that stored
    data and digests stay compatible with it, whichever module defines them.
    """
    setattr(cls, _NAME_ATTR, name)
    _INFOS.pop(cls, None)


def fields_type_id(name: str, field_names: tuple[str, ...]) -> str:
    """Returns the type id of a type with fields: name plus a digest of name and fields."""
    fields_digest = hashlib.sha256((name + "".join(map(repr, field_names))).encode()).hexdigest()
    return json.dumps({"digest": fields_digest, "name": name}, sort_keys=True)


class ResourceBase:
    """The resource protocol: a typed record of named, JSON-like field values.

    Subclasses provide ``field_names``, ``field_values`` and ``from_fields``;
    everything else is derived. :class:`Resource` implements the protocol for
    dataclasses, which is what most code should use.
    """

    __slots__ = ()

    #: Whether instances stay whole inside a ResourceDict (as a private copy
    #: made with :meth:`deep_copy_resource`) rather than being expanded into a
    #: nested ResourceDict. True for small value types (Str, Int, Ref, ...):
    #: converting and copying them then costs one object, not a dict.
    _enact_atomic_: ClassVar[bool] = False

    #: Optionally, a function returning an instance's whole digest stream
    #: (docs/format.md §2) as text, for types that can produce it faster than the
    #: generic walk (Str, Int, Ref, ...). It must equal the generic stream.
    _enact_stream_: ClassVar[Callable[[Any], str] | None] = None

    #: Optionally, for atomic types: a function of (instance, context)
    #: returning (the instance's digest stream, the copy to keep in a
    #: ResourceDict) in one call. ``context`` is what the caller of
    #: :func:`pack_resource` passed (None when only digesting); it may raise
    #: to stop the packing (a store uses it to check refs).
    _enact_pack_: ClassVar[Callable[[Any, Any], tuple[str, Any]] | None] = None

    #: Optionally, for atomic types: a function returning copies (as
    #: :meth:`deep_copy_resource` makes them) of a list of instances, or None
    #: if an item is not exactly of this type. Lists of refs are common, and
    #: one loop costs less than a call per item.
    _enact_copy_list_: ClassVar[Callable[..., list[Any] | None] | None] = None

    #: Optionally, a function returning the one-line text that ``pprint`` and
    #: ``pformat`` show for an instance in place of its fields (media types
    #: print as ``<Image 64x64 RGB>`` rather than thousands of bytes).
    _enact_pformat_: ClassVar[Callable[[Any], str] | None] = None

    @classmethod
    def type_name(cls) -> str:
        """Returns the name used in the type id: ``module.qualname`` by default."""
        fixed: str | None = cls.__dict__.get(_NAME_ATTR)
        if fixed is not None:
            return fixed
        return f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def _describe_type(cls) -> tuple[str, tuple[str, ...]]:
        """Computes (type id, field names); cached by :func:`type_info`."""
        type_id = json.dumps({"name": cls.type_name()}, sort_keys=True)
        return type_id, tuple(cls.field_names())

    @classmethod
    def type_id(cls) -> str:
        """Returns the type id: the JSON text identifying this type (docs/format.md §1)."""
        return type_info(cls).type_id

    @classmethod
    def field_names(cls) -> Iterable[str]:
        """Returns the names of the fields, in declared order."""
        raise NotImplementedError(f"{cls.__qualname__} must implement field_names()")

    def field_values(self) -> Iterable[FieldValue]:
        """Returns the field values, in the order of :meth:`field_names`."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement field_values()")

    @classmethod
    def from_fields(cls: type[R], field_dict: Mapping[str, FieldValue]) -> R:
        """Constructs an instance from a mapping of field name to value."""
        raise NotImplementedError(f"{cls.__qualname__} must implement from_fields()")

    def field_items(self) -> Iterator[tuple[str, FieldValue]]:
        """Returns (name, value) pairs in field order."""
        return zip(type_info(type(self)).field_names, self.field_values(), strict=True)

    def to_resource_dict(self) -> ResourceDict:
        """Returns the resource as a :class:`ResourceDict` tree.

        Nested resources become nested ``ResourceDict`` objects and containers
        are copied, so the result shares nothing mutable with ``self``.

        Raises:
            FieldTypeError: a field holds a value that resources cannot hold,
                or a value contains itself.
        """
        try:
            return _resource_to_dict(self)
        except RecursionError:
            if find_cycle(self) is not None:
                raise FieldTypeError(
                    f"Encountered a cycle: {type(self).__qualname__} contains itself"
                ) from None
            raise FieldTypeError(
                f"{type(self).__qualname__} is nested too deeply to convert "
                "(deeper than the interpreter's recursion limit)"
            ) from None

    @classmethod
    def from_resource_dict(cls: type[R], resource_dict: ResourceDict) -> R:
        """Builds a resource from a :class:`ResourceDict` (deeply converted)."""
        return cls.from_fields(
            {name: from_dict_value(value) for name, value in resource_dict.items()}
        )

    def deep_copy_resource(self: R) -> R:
        """Returns a deep copy that shares nothing mutable with ``self``.

        Raises:
            FieldTypeError: the resource holds a value resources cannot hold,
                or is nested too deeply to copy.
        """
        data = self.to_resource_dict()
        try:
            return type(self).from_resource_dict(data)
        except RecursionError:
            raise FieldTypeError(
                f"{type(self).__qualname__} is nested too deeply to copy "
                "(deeper than the interpreter's recursion limit allows here)"
            ) from None

    def set_from(self, other: ResourceBase) -> None:
        """Makes ``self`` equal to ``other`` (a resource of the same type).

        Only mutable resources support this; the base implementation accepts
        an equal value and rejects any other.
        """
        _check_same_type(self, other)
        if self != other:
            raise TypeError(
                f"{type(self).__qualname__} is immutable and cannot be set from {other!r}"
            )


def _check_same_type(target: ResourceBase, other: ResourceBase) -> None:
    if type(other) is not type(target):
        raise TypeError(
            f"set_from expects a {type(target).__qualname__}, got {type(other).__qualname__}"
        )


@dataclasses.dataclass
class Resource(ResourceBase):
    """A resource defined as a dataclass (subclass it and add ``@dataclass``).

    Field names and their order come from the dataclass fields; the type id
    carries a digest of them, so changing a class's fields changes its type id.
    """

    # No instance dict of its own: subclasses decide (an ordinary dataclass
    # gets one; a dataclass(slots=True) does not).
    __slots__ = ()

    @classmethod
    def _describe_type(cls) -> tuple[str, tuple[str, ...]]:
        names = tuple(field.name for field in dataclasses.fields(cls))
        return fields_type_id(cls.type_name(), names), names

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return type_info(cls).field_names

    def field_values(self) -> tuple[FieldValue, ...]:
        return type_info(type(self)).get_values(self)

    @classmethod
    def from_fields(cls: type[R], field_dict: Mapping[str, FieldValue]) -> R:
        # Fields annotated tuple[...] are read back as tuples (stored as lists).
        restore = _RESTORERS.get(cls, _UNKNOWN)
        if restore is _UNKNOWN:
            from enact_resource._annotations import restorer

            restore = _RESTORERS[cls] = restorer(cls)
        if restore is None:
            return cls(**field_dict)
        return cls(**restore(field_dict))

    def set_from(self, other: ResourceBase) -> None:
        _check_same_type(self, other)
        copy = other.deep_copy_resource()
        for name in type_info(type(self)).field_names:
            # object.__setattr__ also works for frozen dataclasses.
            object.__setattr__(self, name, getattr(copy, name))


# Per dataclass resource type: what restores its tuple fields, or None (see from_fields).
_RESTORERS: dict[type, Any] = {}
_UNKNOWN = object()


class ResourceDict(dict[str, ResourceDictValue]):
    """A resource as a dict of field name to value, with the resource class in ``.type``.

    Values are the field values with nested resources as nested
    ``ResourceDict`` objects; it is what storage backends read and write.
    """

    __slots__ = ("type",)

    def __init__(
        self,
        type: type[ResourceBase],
        fields: Mapping[str, FieldValue] | Iterable[tuple[str, FieldValue]] = (),
        /,
        **kwargs: FieldValue,
    ) -> None:
        super().__init__(fields, **kwargs)
        self.type = type

    def to_resource(self) -> ResourceBase:
        """Builds the resource this dict describes.

        Raises:
            DeserializationError: the data is nested too deeply to build here
                (deeper than the interpreter's recursion limit allows).
        """
        try:
            return self.type.from_resource_dict(self)
        except RecursionError:
            raise DeserializationError(
                f"{self.type.__qualname__} data is nested too deeply to build here (deeper "
                "than the interpreter's recursion limit allows; commits refuse values nested "
                "more than enact_resource.MAX_DEPTH levels)"
            ) from None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResourceDict) and other.type is not self.type:
            return False
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (ResourceDict, (self.type, dict(self)))


# --- Conversion between field values and ResourceDict values -----------------

_ATOMS: frozenset[type] = frozenset({str, int, float, bool, bytes, type(None)})
_new_dict = dict.__new__


def _unsupported(value: object) -> FieldTypeError:
    return FieldTypeError(f"Encountered unsupported field type {type(value)}: {value!r}")


def checked_values(resource: ResourceBase, info: TypeInfo) -> tuple[Any, ...]:
    """Returns ``resource.field_values()`` as a tuple, checked against the type's fields."""
    values = resource.field_values()
    if type(values) is not tuple:
        values = tuple(values)
    if len(values) != len(info.field_names):
        raise FieldTypeError(
            f"{type(resource).__qualname__} has fields {list(info.field_names)} "
            f"but returned {len(values)} field values"
        )
    return values


def _resource_to_dict(resource: ResourceBase) -> ResourceDict:
    info = type_info(type(resource))
    values = checked_values(resource, info)
    data: ResourceDict = _new_dict(ResourceDict)
    data.type = type(resource)
    for name, value in zip(info.field_names, values):  # noqa: B905 - lengths checked
        data[name] = value if type(value) in _ATOMS else to_dict_value(value)
    return data


def to_dict_value(value: FieldValue) -> FieldValue:
    """Converts a field value to its ResourceDict form (resources become dicts)."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    if cls is list or cls is tuple:
        return [item if type(item) in _ATOMS else to_dict_value(item) for item in value]
    if cls is dict:
        return _map_to_value(value)
    if isinstance(value, ResourceBase):
        if value._enact_atomic_:
            return value.deep_copy_resource()
        return _resource_to_dict(value)
    if isinstance(value, type):
        if issubclass(value, ResourceBase):
            return value
        raise _unsupported(value)
    # Subclasses of the primitive types are stored as the primitive.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, list | tuple):
        return to_dict_value(list(value))
    if isinstance(value, Mapping):
        return _map_to_value(value)
    raise _unsupported(value)


def _map_to_value(value: Mapping[Any, Any]) -> dict[str, FieldValue]:
    result = {}
    for k, v in value.items():
        if type(k) is not str:
            if not isinstance(k, str):
                raise FieldTypeError(
                    f"Encountered a mapping key of unsupported type {type(k)}: {k!r} "
                    "(mapping keys must be str)"
                )
            k = str.__str__(k)
        result[k] = v if type(v) in _ATOMS else to_dict_value(v)
    return result


def find_cycle(value: Any) -> Any:
    """Returns a container or resource inside ``value`` that contains itself, or None.

    Iterative, so it works where a recursive walk hit the recursion limit;
    the walkers call it only then, to tell a cycle from deep nesting.
    """
    on_path: set[int] = set()
    # (value, entering?) pairs: a value is left once all its children are done.
    stack: list[tuple[Any, bool]] = [(value, True)]
    while stack:
        item, entering = stack.pop()
        if not entering:
            on_path.discard(id(item))
            continue
        if isinstance(item, list | tuple):
            children = list(item)
        elif isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, ResourceBase) and not isinstance(item, str | int | float | bytes):
            try:
                children = list(item.field_values())
            except Exception:  # pragma: no cover - reported by the walker itself
                continue
        else:
            continue
        if id(item) in on_path:
            return item
        on_path.add(id(item))
        stack.append((item, False))
        stack.extend((child, True) for child in children)
    return None


def from_dict_value(value: FieldValue) -> FieldValue:
    """Converts a ResourceDict value back to a field value (dicts become resources)."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    if cls is list:
        if not value:
            return []
        first = type(value[0])
        if first not in _ATOMS and issubclass(first, ResourceBase):
            copy_list = first._enact_copy_list_
            if copy_list is not None:
                # All refs, say: copied in one loop (None if the kinds are mixed).
                copied = copy_list(value)
                if copied is not None:
                    return copied
        kinds = set(map(type, value))
        if len(kinds) == 1:
            # One kind of item (all ints, all Str, ...): copy in one C-level map.
            kind = kinds.pop()
            if kind in _ATOMS:
                return list(value)
            if issubclass(kind, ResourceBase) and kind._enact_atomic_:
                return list(map(kind.deep_copy_resource, value))
        return [item if type(item) in _ATOMS else from_dict_value(item) for item in value]
    if cls is ResourceDict:
        return value.type.from_resource_dict(value)
    if cls is dict:
        return {k: from_dict_value(v) for k, v in value.items()}
    if isinstance(value, ResourceBase):
        return value.deep_copy_resource()
    if isinstance(value, ResourceDict):
        return value.type.from_resource_dict(value)
    if isinstance(value, list | tuple):
        return [from_dict_value(item) for item in value]
    if isinstance(value, Mapping):
        return {k: from_dict_value(v) for k, v in value.items()}
    return value
