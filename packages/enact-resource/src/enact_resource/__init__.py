"""Typed, content-addressed resources: the data model of enact.

A resource is a typed record of named fields holding JSON-like values, other
resources and resource types. Every resource type has a type id and every
value a sha256 digest over an exactly specified byte stream, so equal content
has equal digests everywhere.
"""

from importlib.metadata import PackageNotFoundError, version

from enact_resource._builtins import Bytes, Float, Int, NoneResource, Str
from enact_resource._digest import MAX_DEPTH, digest, pack_resource
from enact_resource._errors import (
    DeserializationError,
    EnactError,
    FieldTypeError,
    SerializationError,
    TypeNotRegisteredError,
)
from enact_resource._registry import Registry, register
from enact_resource._resource import (
    FieldValue,
    Resource,
    ResourceBase,
    ResourceDict,
    TypeInfo,
    fields_type_id,
    set_type_name,
    type_info,
)
from enact_resource._serialization import JsonSerializer, Serializer

try:
    __version__ = version("enact-resource")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

for _builtin in (Str, Int, Float, Bytes, NoneResource):
    register(_builtin)

__all__ = [
    "MAX_DEPTH",
    "Bytes",
    "DeserializationError",
    "EnactError",
    "FieldTypeError",
    "FieldValue",
    "Float",
    "Int",
    "JsonSerializer",
    "NoneResource",
    "Registry",
    "Resource",
    "ResourceBase",
    "ResourceDict",
    "SerializationError",
    "Serializer",
    "Str",
    "TypeInfo",
    "TypeNotRegisteredError",
    "__version__",
    "digest",
    "fields_type_id",
    "pack_resource",
    "register",
    "set_type_name",
    "type_info",
]
