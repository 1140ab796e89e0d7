"""Store(ref_type=...): a Ref subclass that packs resources compressed (zlib)."""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from _store_testlib import BackendFactory, Box, fresh_ref, read_raw, write_raw

import enact_resource as er
import enact_store as es

_SERIALIZER = er.JsonSerializer(compact=True)
PLAINTEXT = "the quick brown fox jumps over the lazy dog " * 20


@er.register
@dataclasses.dataclass
class Compressed(er.Resource):
    """What ZlibRef stores: the zlib-compressed JSON of the original resource."""

    payload: bytes


class ZlibRef(es.Ref[Any]):
    """Packs every resource as a Compressed wrapper; the digest stays the original's."""

    @classmethod
    def pack(cls, resource: er.ResourceBase) -> es.PackedResource[Any]:
        data = resource.to_resource_dict()
        wrapper = Compressed(zlib.compress(_SERIALIZER.serialize(data)))
        return es.PackedResource(wrapper.to_resource_dict(), cls.from_digest(er.digest(data)))

    @classmethod
    def unpack(cls, packed: es.PackedResource[Any]) -> er.ResourceDict:
        return _SERIALIZER.deserialize(zlib.decompress(packed.data["payload"]))


@pytest.fixture
def zlib_store(backend_factory: BackendFactory) -> Callable[[], es.Store]:
    """Opens ZlibRef stores over one location of each backend kind."""
    return lambda: es.Store(backend_factory(), ref_type=ZlibRef)


def test_compressed_resource_round_trips(zlib_store: Callable[[], es.Store]) -> None:
    with zlib_store():
        ref = es.commit(Box(PLAINTEXT))
    assert type(ref) is ZlibRef

    with zlib_store():
        assert fresh_ref(ref).get() == Box(PLAINTEXT)


def test_compressed_ref_digest_is_the_digest_of_the_original(
    zlib_store: Callable[[], es.Store],
) -> None:
    ref = zlib_store().commit(Box(PLAINTEXT))

    assert ref.digest == er.digest(Box(PLAINTEXT))
    assert ref == es.Ref(er.digest(Box(PLAINTEXT)))


def test_compressed_store_tags_return_compressed_refs(
    zlib_store: Callable[[], es.Store],
) -> None:
    store = zlib_store()
    store.tags["main"] = store.commit(Box(PLAINTEXT))

    tagged = zlib_store().tags["main"]
    assert type(tagged) is ZlibRef
    with zlib_store():
        assert tagged.get() == Box(PLAINTEXT)


def test_in_memory_backend_holds_the_compressed_wrapper() -> None:
    store = es.Store(ref_type=ZlibRef)
    ref = store.commit(Box(PLAINTEXT))

    stored = store.backend.get(fresh_ref(ref))
    assert stored is not None
    assert stored.type is Compressed
    assert len(stored["payload"]) < len(PLAINTEXT) // 4


def test_persistent_backend_stores_no_plaintext(persistent_factory: BackendFactory) -> None:
    backend = persistent_factory()
    ref = es.Store(backend, ref_type=ZlibRef).commit(Box(PLAINTEXT))

    raw = read_raw(backend, ref.digest)
    assert raw is not None
    assert b"quick brown fox" not in raw
    assert er.JsonSerializer().deserialize(raw).type is Compressed


def test_sqlite_row_holds_no_plaintext(tmp_path: Any) -> None:
    backend = es.SqliteBackend(tmp_path / "store.db")
    es.Store(backend, ref_type=ZlibRef).commit(Box(PLAINTEXT))
    backend.close()

    conn = sqlite3.connect(tmp_path / "store.db")
    rows = conn.execute("SELECT data FROM objects").fetchall()
    conn.close()
    assert len(rows) == 1
    assert b"quick brown fox" not in rows[0][0]


def test_corrupt_compressed_object_raises_corruption_error(
    persistent_factory: BackendFactory,
) -> None:
    backend = persistent_factory()
    ref = es.Store(backend, ref_type=ZlibRef).commit(Box(PLAINTEXT))
    other = es.Store(backend, ref_type=ZlibRef).commit(Box(PLAINTEXT + "!"))
    # A valid compressed object, but of another resource, under ref's digest.
    write_raw(backend, ref.digest, read_raw(backend, other.digest) or b"")

    with (
        es.Store(persistent_factory(), ref_type=ZlibRef),
        pytest.raises(es.CorruptionError, match=ref.digest),
    ):
        fresh_ref(ref).get()


def test_damaged_compressed_payload_raises_corruption_error(
    persistent_factory: BackendFactory,
) -> None:
    backend = persistent_factory()
    ref = es.Store(backend, ref_type=ZlibRef).commit(Box(PLAINTEXT))
    wrapper = Compressed(zlib.compress(b"not the JSON of a resource"))
    write_raw(backend, ref.digest, _SERIALIZER.serialize(wrapper.to_resource_dict()))

    with (
        es.Store(persistent_factory(), ref_type=ZlibRef),
        pytest.raises(es.CorruptionError, match=ref.digest),
    ):
        fresh_ref(ref).get()


def test_ref_digest_stream_is_the_generic_resource_stream() -> None:
    ref = es.Ref("ab" * 32)
    generic = "res[" + es.Ref.type_id() + "'digest's" + repr(ref.digest) + "]"
    assert er.digest(ref) == hashlib.sha256(generic.encode()).hexdigest()
    assert er.digest([ref] * 20) == er.digest([ref.to_resource_dict()] * 20)


def test_a_ref_type_whose_pack_is_a_staticmethod_is_used_by_the_store() -> None:
    packed_by: list[str] = []

    class StaticPackRef(es.Ref[Any]):
        @staticmethod
        def pack(resource: er.ResourceBase) -> es.PackedResource[Any]:
            packed_by.append(type(resource).__name__)
            return es.Ref.pack.__func__(StaticPackRef, resource)  # type: ignore[attr-defined]

    store = es.Store(ref_type=StaticPackRef)
    ref = store.commit(Box("x"))

    assert packed_by == ["Box"]
    assert type(ref) is StaticPackRef
    with store:
        assert ref() == Box("x")
