"""Errors raised by enact-resource.

The tree, under one root shared by every enact package::

    EnactError
    ├── FieldTypeError (TypeError)        a field holds a value resources cannot hold
    ├── SerializationError (ValueError)   a legal value cannot be written in a format
    ├── DeserializationError (ValueError) bytes that are not a valid encoded resource
    │   ├── TypeNotRegisteredError        a type id that no registered class has
    │   │                                 (also a RegistryError; alias ResourceNotFound)
    │   └── SchemaMismatchError           a stored record whose fields the current
    │                                     class cannot take (no default, no migration)
    └── RegistryError (LookupError)       a lookup in the type registry failed
        └── TypeNotRegisteredError

``RegistryError`` and ``ResourceNotFound`` are the names the original enact
used; ``ResourceNotFound`` is the very class ``TypeNotRegisteredError``.

Each error also subclasses the built-in exception it resembles, so code that
catches ``TypeError`` or ``ValueError`` keeps working.
"""


class EnactError(Exception):
    """Root of every error that enact raises on purpose."""


class FieldTypeError(EnactError, TypeError):
    """A resource field holds a value of a type that resources cannot hold."""


class SerializationError(EnactError, ValueError):
    """A value cannot be represented in the serialisation format."""


class DeserializationError(EnactError, ValueError):
    """The data is not a valid serialised resource."""


class RegistryError(EnactError, LookupError):
    """A lookup in the resource type registry failed."""


class TypeNotRegisteredError(DeserializationError, RegistryError):
    """No registered resource class has the requested type id.

    Also available as ``ResourceNotFound`` (the original enact's name).
    """

    def __init__(self, type_id: str, context: str = "") -> None:
        where = f" ({context})" if context else ""
        super().__init__(
            f"No resource type is registered under type id {type_id!r}{where}. Decorate the "
            "class with @enact.register (or @enact.typed_invokable) and import its module "
            "before reading data of this type."
        )
        self.type_id = type_id


class SchemaMismatchError(DeserializationError):
    """A stored record's fields do not fit the current version of its class.

    Raised when a record stored under an older version of a class (other
    fields) is read as the class, and the class neither gives the missing
    fields defaults nor defines a ``migrate_fields`` classmethod.
    """

    def __init__(
        self,
        type_name: str,
        stored_fields: tuple[str, ...],
        target: type,
        target_fields: tuple[str, ...],
        missing: list[str],
        unexpected: list[str],
    ) -> None:
        parts = []
        if missing:
            parts.append(f"the class's fields {missing} are not stored and have no default")
        if unexpected:
            parts.append(f"the stored fields {unexpected} are not fields of the class")
        super().__init__(
            f"A stored {type_name} has fields {list(stored_fields)}, but "
            f"{target.__module__}.{target.__qualname__} has fields {list(target_fields)}: "
            + "; ".join(parts)
            + ". Give the new fields defaults, or define a classmethod "
            "migrate_fields(cls, fields, stored_name) that returns the new fields."
        )
        self.type_name = type_name
        self.missing = missing
        self.unexpected = unexpected


#: The original enact's name for :class:`TypeNotRegisteredError` (the same class).
ResourceNotFound = TypeNotRegisteredError
