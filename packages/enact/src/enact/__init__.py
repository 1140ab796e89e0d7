"""enact: a framework for generative software.

The flat public API of enact-resource, enact-store and enact-invoke; each
name here is the very object defined in its home package.
"""

from importlib.metadata import PackageNotFoundError, version

from enact_resource import (
    Bytes,
    DeserializationError,
    EnactError,
    FieldTypeError,
    Float,
    Int,
    JsonSerializer,
    NoneResource,
    Registry,
    Resource,
    ResourceBase,
    ResourceDict,
    SerializationError,
    Serializer,
    Str,
    TypeNotRegisteredError,
    digest,
    register,
)
from enact_store import (
    CorruptionError,
    FileBackend,
    InMemoryBackend,
    NoActiveStoreError,
    NotFound,
    PackedResource,
    Ref,
    RefError,
    SqliteBackend,
    StorageBackend,
    Store,
    StoreConfigError,
    StoreError,
    Tags,
    UnsupportedOperation,
    commit,
    open_store,
    pformat,
    pprint,
)

try:
    __version__ = version("enact")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Bytes",
    "CorruptionError",
    "DeserializationError",
    "EnactError",
    "FieldTypeError",
    "FileBackend",
    "Float",
    "InMemoryBackend",
    "Int",
    "JsonSerializer",
    "NoActiveStoreError",
    "NoneResource",
    "NotFound",
    "PackedResource",
    "Ref",
    "RefError",
    "Registry",
    "Resource",
    "ResourceBase",
    "ResourceDict",
    "SerializationError",
    "Serializer",
    "SqliteBackend",
    "StorageBackend",
    "Store",
    "StoreConfigError",
    "StoreError",
    "Str",
    "Tags",
    "TypeNotRegisteredError",
    "UnsupportedOperation",
    "__version__",
    "commit",
    "digest",
    "open_store",
    "pformat",
    "pprint",
    "register",
]
