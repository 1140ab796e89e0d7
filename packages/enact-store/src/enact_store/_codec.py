"""The byte encoding that persistent backends store, shared by all of them (docs/format.md).

Public for backends: a backend that keeps objects as bytes stores what
:func:`encode_object` returns and reads it back with :func:`decode_object`;
its ``read_raw`` returns those bytes.
"""

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
    """Returns the bytes a persistent backend stores for a packed resource.

    Compact JSON, the same for equal data (see docs/format.md).

    Raises:
        SerializationError: the data holds a type that is not registered
            (it could not be read back), or a value JSON cannot hold.
    """
    return _SERIALIZER.serialize(packed.data)


def decode_object(
    digest: str, data: bytes, location: str | Callable[[], str], home: object = None
) -> ResourceDict:
    """Decodes the bytes of :func:`encode_object`; errors name the digest and where they are.

    Args:
        digest: the object's digest (for messages: the store verifies it).
        data: the stored bytes.
        location: where the object is kept (the backend's ``location``), or
            a function returning it, called only to report an error
            (building the text on every read costs more than a small decode).
        home: the backend the bytes were read from (pass ``self``): refs
            read from it are known to name objects it holds, so committing
            them back to it needs no lookup (see Store.commit). None: no
            backend vouches for them, and they are checked when committed.

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
