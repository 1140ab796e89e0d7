"""The byte encoding that persistent backends store, shared by all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from enact_resource import (
    DeserializationError,
    JsonSerializer,
    ResourceDict,
    TypeNotRegisteredError,
)
from enact_store._errors import CorruptionError
from enact_store._ref import _DECODING, PackedResource, home_token

__all__ = ["decode_object", "encode_object"]

# Compact JSON (no spaces, base64 for bytes, fields in declared order). Types
# must be registered, so a resource that could not be read back is refused
# when it is written; a record of a type this process lacks (or has in
# another version) is read with a stored type, so that it can be verified,
# copied and collected without its class.
_SERIALIZER = JsonSerializer(compact=True, require_registered=True, stored_types=True)


def encode_object(packed: PackedResource[Any]) -> bytes:
    """Returns the bytes a persistent backend stores for a packed resource."""
    return _SERIALIZER.serialize(packed.data)


def decode_object(
    digest: str, data: bytes, location: str | Callable[[], str], home: object = None
) -> ResourceDict:
    """Decodes stored bytes; errors name the digest and where the object lives.

    ``location`` may be a function, called only to report an error (building
    the text on every read costs more than the rest of a small decode).
    ``home`` is the backend the data comes from: refs read from it name it
    as the backend that holds their targets (see Store.commit).

    Raises:
        CorruptionError: the bytes are not a valid encoded resource.
        TypeNotRegisteredError: the data names a type that is not registered.
    """
    token = _DECODING.set(None if home is None else home_token(home))
    try:
        return _SERIALIZER.deserialize(data)
    except DeserializationError as e:
        where = location if isinstance(location, str) else location()
        if isinstance(e, TypeNotRegisteredError):
            raise TypeNotRegisteredError(e.type_id, f"reading object {digest} from {where}") from e
        raise CorruptionError(digest, where, f"cannot be decoded: {e}") from e
    finally:
        _DECODING.reset(token)
