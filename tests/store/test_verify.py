"""store.verify(): finds corrupt and unreadable objects and dangling refs, on every backend."""

from __future__ import annotations

import pytest
from _store_testlib import (
    BackendFactory,
    Box,
    Node,
    commit_elsewhere,
    fresh_ref,
    read_raw,
    write_raw,
)

import enact_resource as er
import enact_store as es

VALUE = "the value verify must find changed"


def _flip_a_byte(backend: es.StorageBackend, digest: str) -> None:
    """Flips one bit inside the stored value, behind the backend's back (file or row)."""
    raw = read_raw(backend, digest)
    assert raw is not None
    position = raw.index(VALUE.encode()) + 4
    write_raw(backend, digest, raw[:position] + bytes([raw[position] ^ 0x01]) + raw[position + 1 :])


def test_verify_of_a_sound_store_is_ok(store: es.Store) -> None:
    leaf = store.commit(Node("leaf", []))
    store.tags["main"] = store.commit(Node("root", [leaf, leaf]))
    store.commit(Box("loose"))

    report = store.verify()

    assert report.ok
    assert report.checked == 3
    assert (report.corrupt, report.unreadable, report.dangling) == ([], [], [])


def test_verify_reports_progress(store: es.Store) -> None:
    for i in range(4):
        store.commit(Box(i))
    calls: list[tuple[int, int | None]] = []

    store.verify(progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_verify_finds_an_object_corrupted_in_the_file_or_database(
    persistent_factory: BackendFactory,
) -> None:
    store = es.Store(persistent_factory())
    sound = store.commit(Box("sound"))
    corrupt = store.commit(Box(VALUE))
    store.tags["main"] = store.commit(Node("root", []))

    _flip_a_byte(store.backend, corrupt.digest)
    report = es.Store(persistent_factory()).verify()

    assert not report.ok
    [problem] = report.corrupt
    assert (problem.kind, problem.digest) == ("corrupt", corrupt.digest)
    assert "hashes to" in problem.detail
    assert problem.location == store.backend.location(corrupt.digest)
    assert report.checked == 2
    assert report.unreadable == []
    assert report.dangling == []
    assert store.has(sound)


def test_verify_checks_objects_of_unregistered_types_from_their_stored_form(
    persistent_factory: BackendFactory,
) -> None:
    store = es.Store(persistent_factory())
    child = store.commit(Box(VALUE))
    unknown = commit_elsewhere(persistent_factory.url, "made elsewhere", [child.digest])

    report = store.verify()

    assert report.ok, report
    assert report.checked == 2
    store.backend.delete([child.digest])
    assert [(p.referrer, p.digest) for p in store.verify().dangling] == [(unknown, child.digest)]


def test_verify_reports_an_object_whose_type_id_does_not_fit_its_fields_as_corrupt(
    persistent_factory: BackendFactory,
) -> None:
    store = es.Store(persistent_factory())
    ref = store.commit(Box(VALUE))
    raw = read_raw(store.backend, ref.digest) or b""
    write_raw(store.backend, ref.digest, raw.replace(b"Box", b"Bux"))

    report = store.verify()

    assert [(p.kind, p.digest) for p in report.corrupt] == [("corrupt", ref.digest)]
    assert not report.ok


def test_verify_reports_refs_to_a_deleted_child_and_a_tag_to_a_deleted_object(
    store: es.Store,
) -> None:
    child = store.commit(Node("child", []))
    parent = store.commit(Node("parent", [child]))
    grandparent = store.commit(Node("grandparent", [parent, child]))
    lonely = store.commit(Box("tagged, then deleted"))
    store.tags["main"] = grandparent
    store.tags["gone"] = lonely

    assert sorted(store.backend.delete([child.digest, lonely.digest])) == sorted(
        [child.digest, lonely.digest]
    )
    report = store.verify()

    assert not report.ok
    assert sorted((p.referrer, p.digest) for p in report.dangling) == sorted(
        [
            (parent.digest, child.digest),
            (grandparent.digest, child.digest),
            ("tag:gone", lonely.digest),
        ]
    )
    assert {p.kind for p in report.dangling} == {"dangling"}
    assert report.corrupt == []
    assert report.checked == 2


@pytest.mark.parametrize("garbage", [b"", b"\x00\xff not json", b'{"#res": 5}'])
def test_verify_reports_undecodable_bytes_as_corrupt(
    persistent_factory: BackendFactory, garbage: bytes
) -> None:
    store = es.Store(persistent_factory())
    ref = store.commit(Box(VALUE))
    write_raw(store.backend, ref.digest, garbage)

    report = store.verify()

    assert [(p.kind, p.digest) for p in report.corrupt] == [("corrupt", ref.digest)]


def test_objects_written_with_full_type_ids_read_and_verify(
    persistent_factory: BackendFactory,
) -> None:
    # Stores written before compact type ids (#r) hold the full "#res" form.
    store = es.Store(persistent_factory())
    inner = store.commit(Box(VALUE))
    outer = store.commit(Box([inner, {"k": Box(2.5)}]))
    for ref in (inner, outer):
        full = er.JsonSerializer(compact=True).deserialize(
            read_raw(store.backend, ref.digest) or b""
        )
        write_raw(store.backend, ref.digest, er.JsonSerializer().serialize(full))
        assert b'"#res"' in (read_raw(store.backend, ref.digest) or b"")

    with store:
        assert fresh_ref(outer)() == Box([inner, {"k": Box(2.5)}])
        assert fresh_ref(inner)() == Box(VALUE)
    assert store.verify().ok
