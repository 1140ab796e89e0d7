"""The byte encoding that persistent backends store, shared by all of them."""

from __future__ import annotations

from typing import Any

from enact_resource import (
    DeserializationError,
    JsonSerializer,
    ResourceDict,
    TypeNotRegisteredError,
)
from enact_store._errors import CorruptionError
from enact_store._ref import PackedResource

__all__ = ["decode_object", "encode_object"]

# Compact JSON (no spaces, base64 for bytes). Types must be registered, so a
# resource that could not be read back is refused when it is written.
_SERIALIZER = JsonSerializer(compact=True, require_registered=True)


def encode_object(packed: PackedResource[Any]) -> bytes:
    """Returns the bytes a persistent backend stores for a packed resource."""
    return _SERIALIZER.serialize(packed.data)


def decode_object(digest: str, data: bytes, location: str) -> ResourceDict:
    """Decodes stored bytes; errors name the digest and where the object lives.

    Raises:
        CorruptionError: the bytes are not a valid encoded resource.
        TypeNotRegisteredError: the data names a type that is not registered.
    """
    try:
        return _SERIALIZER.deserialize(data)
    except TypeNotRegisteredError as e:
        raise TypeNotRegisteredError(e.type_id, f"reading object {digest} from {location}") from e
    except DeserializationError as e:
        raise CorruptionError(digest, location, f"cannot be decoded: {e}") from e
