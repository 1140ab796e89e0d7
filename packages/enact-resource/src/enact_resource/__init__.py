"""Typed, content-addressed resources: the data model of enact.

A resource is a typed record of named fields holding JSON-like values, other
resources and resource types. Every resource type has a type id and every
value a sha256 digest over an exactly specified byte stream, so equal content
has equal digests everywhere.

``Image`` (Pillow) and ``NPArray`` (numpy) are optional extras,
``enact-resource[image]`` and ``enact-resource[numpy]``: importing this
package never imports Pillow or numpy.
"""

from importlib.metadata import PackageNotFoundError, version

from enact_resource._annotations import check_fields
from enact_resource._builtins import Bytes, Float, Int, NoneResource, Str
from enact_resource._digest import MAX_DEPTH, digest, pack_resource
from enact_resource._errors import (
    DeserializationError,
    EnactError,
    FieldTypeError,
    RegistryError,
    ResourceNotFound,
    SchemaMismatchError,
    SerializationError,
    TypeNotRegisteredError,
)
from enact_resource._media import Image, NPArray
from enact_resource._registry import Registry, register
from enact_resource._resource import (
    FieldValue,
    Resource,
    ResourceBase,
    ResourceDict,
    ResourceDictValue,
    TypeInfo,
    fields_type_id,
    set_type_name,
    type_info,
)
from enact_resource._serialization import JsonSerializer, Serializer
from enact_resource._stored import StoredResource

try:
    __version__ = version("enact-resource")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

for _builtin in (Str, Int, Float, Bytes, NoneResource, Image, NPArray):
    register(_builtin)

__all__ = [
    "MAX_DEPTH",
    "Bytes",
    "DeserializationError",
    "EnactError",
    "FieldTypeError",
    "FieldValue",
    "Float",
    "Image",
    "Int",
    "JsonSerializer",
    "NPArray",
    "NoneResource",
    "Registry",
    "RegistryError",
    "Resource",
    "ResourceBase",
    "ResourceDict",
    "ResourceDictValue",
    "ResourceNotFound",
    "SchemaMismatchError",
    "SerializationError",
    "Serializer",
    "StoredResource",
    "Str",
    "TypeInfo",
    "TypeNotRegisteredError",
    "__version__",
    "check_fields",
    "digest",
    "fields_type_id",
    "pack_resource",
    "register",
    "set_type_name",
    "type_info",
]
