"""Errors raised by enact-resource.

The tree, under one root shared by every enact package::

    EnactError
    ├── FieldTypeError (TypeError)        a field holds a value resources cannot hold
    ├── SerializationError (ValueError)   a legal value cannot be written in a format
    ├── DeserializationError (ValueError) bytes that are not a valid encoded resource
    │   └── TypeNotRegisteredError        a type id that no registered class has
    │                                     (also a RegistryError; alias ResourceNotFound)
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


#: The original enact's name for :class:`TypeNotRegisteredError` (the same class).
ResourceNotFound = TypeNotRegisteredError
