"""Stored types: resources read as they were stored, apart from their classes.

A stored record names its type by type id (a name and, for dataclass
resources, a digest of the field names) and holds its fields. When no
registered class has that exact type id (the class is not imported, was
renamed, or has gained or lost fields since), the record is still read: its
ResourceDict's ``.type`` is then a *stored type*, a class made from the type
id and the stored field names alone (:func:`stored_type`). A stored type
digests, serialises and copies exactly as the original type did, so such
records can be verified, copied and garbage-collected without their classes.

Converting such a ResourceDict to a resource (``to_resource()``, what
``Ref.get()`` does) looks up the class registered under the stored name (or
an alias, see :meth:`Registry.register`) and builds it from the stored fields:
fields added since with a default get the default, a ``migrate_fields``
classmethod on the class may rename, drop or convert fields; otherwise the
error says which fields differ (:class:`SchemaMismatchError`). With no class
for the name at all, it raises :class:`TypeNotRegisteredError`, as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from enact_resource._errors import (
    DeserializationError,
    SchemaMismatchError,
    TypeNotRegisteredError,
)
from enact_resource._registry import Registry
from enact_resource._resource import (
    FieldValue,
    ResourceBase,
    ResourceDict,
    fields_type_id,
    from_dict_value,
    type_info,
)

__all__ = ["StoredResource", "parse_type_id", "stored_type", "stored_type_for"]

#: The most fields whose declared order is searched for, where a record was
#: stored with its fields in another order (see :func:`stored_type_for`).
MAX_ORDER_SEARCH = 9


class _StoredMeta(type):
    """Metaclass of stored types: their repr says what they are."""

    def __repr__(cls) -> str:
        name = getattr(cls, "stored_name", "")
        return f"<stored type {name}>" if name else super().__repr__()


class StoredResource(ResourceBase, metaclass=_StoredMeta):
    """Base of stored types: a resource type known only from stored data.

    Subclasses are made by :func:`stored_type`, one per type id and field
    list; they have no instances. ``stored_name`` is the type's name as
    stored, ``stored_type_id`` its full type id and ``stored_fields`` the
    field names in declared order (None for a type only referred to, as a
    field value of a resource type, whose fields were never seen).
    """

    __slots__ = ()

    stored_name: ClassVar[str] = ""
    stored_type_id: ClassVar[str] = ""
    stored_fields: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def type_name(cls) -> str:
        return cls.stored_name

    @classmethod
    def _describe_type(cls) -> tuple[str, tuple[str, ...]]:
        return cls.stored_type_id, cls.stored_fields or ()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return cls.stored_fields or ()

    @classmethod
    def target(cls) -> type[ResourceBase] | None:
        """The registered class that records of this type are read as, or None.

        The class registered under the stored name (or with it as an alias).
        """
        found = Registry.get().lookup_name(cls.stored_name)
        if found is None or issubclass(found, StoredResource):
            return None
        return found

    @classmethod
    def resolved(cls) -> type[ResourceBase]:
        """The target class if there is one, else this stored type."""
        return cls.target() or cls

    @classmethod
    def from_resource_dict(cls, resource_dict: ResourceDict) -> Any:
        return cls.from_fields(
            {name: from_dict_value(value) for name, value in resource_dict.items()}
        )

    @classmethod
    def from_fields(cls, field_dict: Mapping[str, FieldValue]) -> Any:
        """Builds the target class from stored fields (upgrading them).

        Raises:
            TypeNotRegisteredError: no class is registered under the name.
            SchemaMismatchError: the fields do not fit the class, and it has
                no ``migrate_fields`` classmethod.
        """
        target = cls.target()
        if target is None:
            raise TypeNotRegisteredError(cls.stored_type_id)
        fields = {name: _resolve_types(value) for name, value in field_dict.items()}
        migrate = getattr(target, "migrate_fields", None)
        if migrate is not None:
            fields = migrate(fields, cls.stored_name)
            if not isinstance(fields, Mapping):
                raise DeserializationError(
                    f"{target.__qualname__}.migrate_fields returned "
                    f"{type(fields).__qualname__}, not a mapping of field names to values"
                )
        else:
            _check_fits(cls, target, fields)
        try:
            return target.from_fields(fields)
        except (TypeError, ValueError) as e:
            raise DeserializationError(
                f"Cannot build {target.__qualname__} from a stored {cls.stored_name}: {e}"
            ) from e

    def field_values(self) -> tuple[FieldValue, ...]:  # pragma: no cover - no instances
        raise TypeError("stored types have no instances")


def _check_fits(
    stored: type[StoredResource], target: type[ResourceBase], fields: Mapping[str, Any]
) -> None:
    target_fields = type_info(target).field_names
    unexpected = [name for name in fields if name not in target_fields]
    defaults = _fields_with_defaults(target)
    missing = [name for name in target_fields if name not in fields and name not in defaults]
    if missing or unexpected:
        raise SchemaMismatchError(
            stored.stored_name, tuple(fields), target, target_fields, missing, unexpected
        )


def _fields_with_defaults(cls: type[ResourceBase]) -> set[str]:
    if not hasattr(cls, "__dataclass_fields__"):
        return set()
    return {
        field.name
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if field.default is not dataclasses.MISSING
        or field.default_factory is not dataclasses.MISSING
    }


def _resolve_types(value: Any) -> Any:
    """Replaces stored types held as field values (resource types) by their classes."""
    if isinstance(value, type) and issubclass(value, StoredResource):
        return value.resolved()
    if type(value) is list:
        return [_resolve_types(item) for item in value]
    if type(value) is dict:
        return {key: _resolve_types(item) for key, item in value.items()}
    return value


_LOCK = threading.Lock()
_TYPES: dict[tuple[str, tuple[str, ...] | None], type[StoredResource]] = {}


def stored_type(type_id: str, field_names: tuple[str, ...] | None) -> type[StoredResource]:
    """Returns the stored type of a type id and its fields in declared order (cached).

    ``field_names`` is None for a type known only by its id.

    Raises:
        DeserializationError: ``type_id`` is not a type id.
    """
    key = (type_id, field_names)
    found = _TYPES.get(key)
    if found is not None:
        return found
    name, _ = parse_type_id(type_id)
    short = name.rsplit(".", 1)[-1]
    made: type[StoredResource] = _StoredMeta(  # type: ignore[assignment]
        short,
        (StoredResource,),
        {
            "__slots__": (),
            "__qualname__": short,
            "__module__": name.rsplit(".", 1)[0] if "." in name else "",
            "stored_name": name,
            "stored_type_id": type_id,
            "stored_fields": field_names,
        },
    )
    with _LOCK:
        return _TYPES.setdefault(key, made)


def parse_type_id(type_id: str) -> tuple[str, str | None]:
    """Returns (name, fields digest or None) of a type id (docs/format.md §1).

    Raises:
        DeserializationError: the text is not a type id.
    """
    try:
        parsed = json.loads(type_id)
    except (TypeError, ValueError):
        parsed = None
    if (
        isinstance(parsed, dict)
        and isinstance(parsed.get("name"), str)
        and parsed["name"]
        and set(parsed) <= {"name", "digest"}
        and isinstance(parsed.get("digest", ""), str)
    ):
        return parsed["name"], parsed.get("digest")
    raise DeserializationError(f"Invalid type id {type_id!r:.200}")


def stored_type_for(
    name: str, digest: str | None, stored_names: tuple[str, ...]
) -> type[StoredResource]:
    """The stored type of a record: its type name, fields digest (or a prefix), field names.

    ``stored_names`` are the field names in the order the record holds them.
    The declared order, which the digest stream needs, is the stored order
    for records written by this release; records written before were stored
    with their fields sorted, so other orders are tried against the fields
    digest of the type id (for types of at most :data:`MAX_ORDER_SEARCH`
    fields). ``digest`` may be the 16-digit prefix that compact records keep.

    Raises:
        DeserializationError: no order of the fields matches the digest.
    """
    if digest is None:
        return stored_type(json.dumps({"name": name}, sort_keys=True), stored_names)
    for order in _orders(stored_names):
        full = hashlib.sha256((name + "".join(map(repr, order))).encode()).hexdigest()
        if full.startswith(digest):
            return stored_type(fields_type_id(name, order), order)
    why = (
        "no order of them matches"
        if len(stored_names) <= MAX_ORDER_SEARCH
        else f"the stored order does not match, and with more than {MAX_ORDER_SEARCH} "
        "fields the declared order cannot be searched for (import the class to read it)"
    )
    raise DeserializationError(
        f"The fields {sorted(stored_names)} of a stored {name} do not fit its type id "
        f"(fields digest {digest}...): {why}"
    )


def _orders(names: tuple[str, ...]) -> Any:
    yield names
    alphabetical = tuple(sorted(names))
    if alphabetical != names:
        yield alphabetical
    if len(names) <= MAX_ORDER_SEARCH:
        for order in itertools.permutations(names):
            if order != names and order != alphabetical:
                yield order
