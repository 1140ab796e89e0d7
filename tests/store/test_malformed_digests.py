"""Malformed digests are rejected with RefError before any file or query is touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _store_testlib import BackendFactory, Box

import enact_resource as er
import enact_store as es
from enact_store.testing._objects import MALFORMED_DIGESTS as MALFORMED


def forged_ref(digest: str) -> es.Ref[Any]:
    """A Ref whose digest skipped validation, as a buggy or hostile caller could make."""
    ref: es.Ref[Any] = object.__new__(es.Ref)
    object.__setattr__(ref, "_digest", digest)
    object.__setattr__(ref, "_cached", None)
    return ref


@pytest.mark.parametrize("digest", MALFORMED, ids=repr)
def test_ref_rejects_a_malformed_digest(digest: str) -> None:
    with pytest.raises(es.RefError, match="Invalid digest"):
        es.Ref(digest)


@pytest.mark.parametrize("value", [None, 123, b"a" * 64])
def test_ref_rejects_a_digest_that_is_not_a_str(value: Any) -> None:
    with pytest.raises(es.RefError):
        es.Ref(value)


def _sentinel(tmp_path: Path) -> tuple[Path, bytes]:
    """A file outside the store holding a valid encoded object."""
    data = er.JsonSerializer(compact=True).serialize(Box(1).to_resource_dict())
    sentinel = tmp_path / "outside" / "sentinel"
    sentinel.parent.mkdir()
    sentinel.write_bytes(data)
    return sentinel, data


def test_file_backend_never_reads_or_writes_outside_its_root(tmp_path: Path) -> None:
    sentinel, data = _sentinel(tmp_path)
    backend = es.FileBackend(tmp_path / "store")
    relative = "../outside/sentinel"  # objects/../../outside/sentinel if taken as a path
    for digest in [str(sentinel), relative]:
        ref = forged_ref(digest)

        with pytest.raises(es.RefError):
            backend.get(ref)
        with pytest.raises(es.RefError):
            backend.has(ref)
        with pytest.raises(es.RefError):
            backend.commit(es.PackedResource(Box(2).to_resource_dict(), ref))
        with pytest.raises(es.RefError):
            backend.read_raw(digest)
        with pytest.raises(es.RefError):
            backend.delete([digest])
        with pytest.raises(es.RefError):
            backend.set_tag("main", digest)
    assert sentinel.read_bytes() == data
    assert sorted(p.name for p in sentinel.parent.iterdir()) == ["sentinel"]


def test_sql_backends_run_no_query_for_a_malformed_digest(sql_factory: BackendFactory) -> None:
    backend = sql_factory()
    assert isinstance(backend, es.SqliteBackend | es.PostgresBackend)
    digest = "../../x"
    # A row under the malformed key: a backend that queried it would return it.
    data = er.JsonSerializer(compact=True).serialize(Box(1).to_resource_dict())
    sql_factory.sql("INSERT INTO objects (digest, data, written) VALUES (?, ?, 0)", [digest, data])
    ref = forged_ref(digest)
    box = Box(2).to_resource_dict()

    for attempt in (
        lambda: backend.get(ref),
        lambda: backend.has(ref),
        lambda: backend.read_raw(digest),
        lambda: backend.location(digest),
        lambda: backend.commit(es.PackedResource(box, ref)),
        lambda: backend.commit(es.PackedResource(box, forged_ref("A" * 64))),
        lambda: backend.commit_many([es.PackedResource(box, forged_ref("b" * 63))]),
        lambda: backend.delete([digest]),
        lambda: backend.set_tag("main", digest),
    ):
        with pytest.raises(es.RefError):
            attempt()
    assert sql_factory.sql("SELECT digest FROM objects") == [(digest,)]
    assert sql_factory.sql("SELECT count(*) FROM tags") == [(0,)]
