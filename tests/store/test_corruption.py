"""Corrupt stored data is detected on read, named by its digest, and never returned."""

from __future__ import annotations

import pytest
from _store_testlib import BackendFactory, Box, commit_elsewhere, fresh_ref, read_raw, write_raw

import enact_resource as er
import enact_store as es

VALUE = "hello world, this is the stored value"


def _commit(factory: BackendFactory) -> tuple[es.StorageBackend, es.Ref[Box]]:
    backend = factory()
    return backend, es.Store(backend).commit(Box(VALUE))


def _read_fresh(factory: BackendFactory, ref: es.Ref[Box]) -> Box:
    """Reads through a fresh ref in a fresh store, as a later process would."""
    with es.Store(factory()):
        return fresh_ref(ref).get()


def test_flipped_byte_in_a_field_value_raises_corruption_error(
    persistent_factory: BackendFactory,
) -> None:
    backend, ref = _commit(persistent_factory)
    raw = read_raw(backend, ref.digest)
    assert raw is not None
    position = raw.index(VALUE.encode()) + 4  # inside the value, not in a type id
    flipped = raw[:position] + bytes([raw[position] ^ 0x01]) + raw[position + 1 :]
    write_raw(backend, ref.digest, flipped)

    with pytest.raises(es.CorruptionError, match=ref.digest) as caught:
        _read_fresh(persistent_factory, ref)
    assert caught.value.digest == ref.digest
    assert "hashes to" in str(caught.value)


def test_corruption_error_names_the_file_or_row(persistent_factory: BackendFactory) -> None:
    backend, ref = _commit(persistent_factory)
    write_raw(
        backend, ref.digest, (read_raw(backend, ref.digest) or b"").replace(b"hello", b"HELLO")
    )

    with pytest.raises(es.CorruptionError) as caught:
        _read_fresh(persistent_factory, ref)
    where = caught.value.location
    if isinstance(backend, es.FileBackend):
        assert str(backend.root_dir) in where
        assert where.endswith(ref.digest)
    elif isinstance(backend, es.SqliteBackend):
        assert where == f"sqlite {backend.path} objects row {ref.digest}"
    else:
        assert isinstance(backend, es.PostgresBackend)
        assert where == f"postgresql {backend.dsn} objects row {ref.digest}"
    assert where in str(caught.value)


def test_truncated_object_raises_corruption_error(persistent_factory: BackendFactory) -> None:
    backend, ref = _commit(persistent_factory)
    raw = read_raw(backend, ref.digest) or b""
    write_raw(backend, ref.digest, raw[: len(raw) // 2])

    with pytest.raises(es.CorruptionError, match=ref.digest):
        _read_fresh(persistent_factory, ref)


def test_empty_object_raises_corruption_error(persistent_factory: BackendFactory) -> None:
    backend, ref = _commit(persistent_factory)
    write_raw(backend, ref.digest, b"")

    with pytest.raises(es.CorruptionError, match=ref.digest):
        _read_fresh(persistent_factory, ref)


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xff\xfe garbage", b"[1, 2, 3]", b'{"value": 1}', b'{"#res": 5}', b"\xc3\x28"],
)
def test_garbage_object_raises_corruption_error(
    persistent_factory: BackendFactory, garbage: bytes
) -> None:
    backend, ref = _commit(persistent_factory)
    write_raw(backend, ref.digest, garbage)

    with pytest.raises(es.CorruptionError, match=ref.digest):
        _read_fresh(persistent_factory, ref)


def test_another_valid_object_under_the_digest_raises_corruption_error(
    persistent_factory: BackendFactory,
) -> None:
    backend, ref = _commit(persistent_factory)
    other = es.Store(backend).commit(Box("another resource"))
    write_raw(backend, ref.digest, read_raw(backend, other.digest) or b"")

    with pytest.raises(es.CorruptionError, match=ref.digest):
        _read_fresh(persistent_factory, ref)


def test_getting_an_object_of_an_unregistered_type_raises_an_error_naming_the_digest(
    persistent_factory: BackendFactory,
) -> None:
    digest = commit_elsewhere(persistent_factory.url, "made elsewhere")

    with pytest.raises(er.TypeNotRegisteredError, match=digest):
        _read_fresh(persistent_factory, es.Ref(digest))


def test_an_object_whose_type_id_does_not_fit_its_fields_is_corrupt(
    persistent_factory: BackendFactory,
) -> None:
    # Renaming the type in the stored bytes leaves a fields digest that no
    # order of the fields matches: damaged data, not an unknown type.
    backend, ref = _commit(persistent_factory)
    raw = read_raw(backend, ref.digest) or b""
    write_raw(backend, ref.digest, raw.replace(b"Box", b"Bux"))

    with pytest.raises(es.CorruptionError, match=ref.digest):
        _read_fresh(persistent_factory, ref)


def test_corrupt_object_is_not_cached_as_valid(persistent_factory: BackendFactory) -> None:
    backend, ref = _commit(persistent_factory)
    raw = read_raw(backend, ref.digest) or b""
    write_raw(backend, ref.digest, raw.replace(b"hello", b"HELLO"))
    corrupt = fresh_ref(ref)

    with es.Store(persistent_factory()):
        for _ in range(2):
            with pytest.raises(es.CorruptionError):
                corrupt.get()
        write_raw(backend, ref.digest, raw)  # repaired
        assert corrupt.get() == Box(VALUE)
