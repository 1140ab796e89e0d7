"""Where the shipped backends say a corrupt object is (the contract's corruption tests
are in enact_store.testing, run by test_conformance.py)."""

from __future__ import annotations

import pytest
from _store_testlib import BackendFactory, Box, fresh_ref, read_raw, write_raw

import enact_store as es


def test_corruption_error_names_the_file_or_row(persistent_factory: BackendFactory) -> None:
    backend = persistent_factory()
    ref = es.Store(backend).commit(Box("hello, this is the stored value"))
    write_raw(
        backend, ref.digest, (read_raw(backend, ref.digest) or b"").replace(b"hello", b"HELLO")
    )

    with pytest.raises(es.CorruptionError) as caught, es.Store(persistent_factory()):
        fresh_ref(ref).get()
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
