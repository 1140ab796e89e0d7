"""A malformed row or a stray file never stops listing, verify or gc: reported, then carried past.

Listing (iter_objects, list_tags, store.tags) skips an entry that is neither
an object nor a tag; StorageBackend.problems() reports it; verify lists it
with the rest of its report; gc deletes nothing while one exists (a
malformed tag might have named a root).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _store_testlib import PERSISTENT_KINDS, BackendFactory, Box, Node, age_objects, object_file

import enact_resource as er
import enact_store as es

OLD = 10_000.0
GRACE = 1_000.0
DIGEST = er.digest(Box("not stored"))
DATA = er.JsonSerializer(compact=True).serialize(Box(1).to_resource_dict())

# Each plants one malformed entry in a store and returns text its location contains.
Plant = Callable[[BackendFactory, es.StorageBackend], str]


def _sql_object(digest: object, written: object = 0) -> Plant:
    def plant(factory: BackendFactory, backend: es.StorageBackend) -> str:
        factory.sql(
            "INSERT INTO objects (digest, data, written) VALUES (?, ?, ?)", [digest, DATA, written]
        )
        return f"objects row {digest!r:.40}"

    return plant


def _sql_tag(name: str, digest: str) -> Plant:
    def plant(factory: BackendFactory, backend: es.StorageBackend) -> str:
        factory.sql("INSERT INTO tags (name, digest) VALUES (?, ?)", [name, digest])
        return f"tags row {name!r}"

    return plant


SQL_ENTRIES: dict[str, Plant] = {
    "object-not-a-digest": _sql_object("notadigest"),
    "object-uppercase-digest": _sql_object(DIGEST.upper()),
    "object-digest-with-a-newline": _sql_object(DIGEST[:63] + "\n"),
    "object-empty-digest": _sql_object(""),
    "tag-naming-no-digest": _sql_tag("broken", "../../etc/passwd"),
    "tag-naming-a-short-digest": _sql_tag("short", DIGEST[:12]),
    "tag-with-an-invalid-name": _sql_tag("../evil", DIGEST),
}
SQLITE_ENTRIES: dict[str, Plant] = {  # SQLite keeps any value in any column.
    "object-time-not-a-number": _sql_object(DIGEST, "yesterday"),
    "object-blob-digest": _sql_object(DIGEST.encode()),
}
POSTGRES_ENTRIES: dict[str, Plant] = {"object-time-nan": _sql_object(DIGEST, float("nan"))}


def _file(
    relative: str, content: bytes = DATA, *, directory: bool = False, reported: str = ""
) -> Plant:
    """Plants a file (or directory); the problem is reported at ``reported`` (default: it)."""

    def plant(factory: BackendFactory, backend: es.StorageBackend) -> str:
        assert isinstance(backend, es.FileBackend)
        path = backend.root_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            path.mkdir()
        else:
            path.write_bytes(content)
        return f"file {backend.root_dir / (reported or relative)}"

    return plant


FILE_ENTRIES: dict[str, Plant] = {
    "file-in-a-stray-shard": _file("objects/zz/notadigest", reported="objects/zz"),
    "stray-shard-with-a-digest-like-file": _file(
        f"objects/zz/zz{DIGEST[2:]}", reported="objects/zz"
    ),
    "file-not-named-by-a-digest": _file(f"objects/{DIGEST[:2]}/notadigest"),
    "digest-in-the-wrong-shard": _file(f"objects/00/{DIGEST.replace('0', '1')}"),
    "uppercase-digest-file": _file(f"objects/{DIGEST[:2]}/{DIGEST.upper()}"),
    "directory-named-like-an-object": _file(f"objects/{DIGEST[:2]}/{DIGEST}", directory=True),
    "file-at-the-top-of-objects": _file("objects/README"),
    "empty-directory-in-objects": _file("objects/backup", directory=True),
    "directory-in-tags": _file("tags/main-old", directory=True),
    "tag-file-naming-no-digest": _file("tags/broken", b"../../etc/passwd\n"),
    "tag-file-not-utf8": _file("tags/binary", b"\xff\xfe\x00"),
    "tag-file-with-an-invalid-name": _file("tags/.hidden", DIGEST.encode()),
}


def _entries(kind: str) -> dict[str, Plant]:
    if kind == "file":
        return FILE_ENTRIES
    if kind == "sqlite":
        return {**SQL_ENTRIES, **SQLITE_ENTRIES}
    return {**SQL_ENTRIES, **POSTGRES_ENTRIES}


@pytest.fixture(
    params=[(kind, name) for kind in PERSISTENT_KINDS for name in _entries(kind)],
    ids=lambda param: "-".join(param),
)
def planted(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[BackendFactory, es.Store, Plant]]:
    """A store of each persistent kind and, in turn, each malformed entry it can hold."""
    kind, name = request.param
    with BackendFactory(kind, tmp_path) as factory:
        yield factory, es.Store(factory()), _entries(kind)[name]


def _sound_store(store: es.Store) -> tuple[set[str], set[str], dict[str, es.Ref[Node]]]:
    """Tagged trees and old garbage; returns (every digest, the garbage, the tags)."""
    leaf = store.commit(Node("leaf", []))
    tags = {"main": store.commit(Node("root", [leaf])), "other": leaf}
    for name, ref in tags.items():
        store.tags[name] = ref
    garbage = {store.commit(Node(f"garbage {i}", [leaf])).digest for i in range(3)}
    digests = set(store.backend.iter_digests())
    age_objects(store.backend, digests, OLD)
    return digests, garbage, tags


def test_listing_skips_a_malformed_entry_and_problems_reports_it(
    planted: tuple[BackendFactory, es.Store, Plant],
) -> None:
    persistent_factory, store, plant = planted
    digests, _, tags = _sound_store(store)

    where = plant(persistent_factory, store.backend)

    fresh = es.Store(persistent_factory())
    assert set(fresh.backend.iter_digests()) == digests
    assert {digest for digest, _ in fresh.backend.iter_objects()} == digests
    assert dict(fresh.tags) == tags
    assert fresh.backend.list_tags() == {name: ref.digest for name, ref in tags.items()}
    [(location, detail)] = list(fresh.backend.problems())
    assert where in location
    assert detail
    assert "\n" not in detail
    assert "\n" not in location


def test_verify_reports_a_malformed_entry_and_checks_everything_else(
    planted: tuple[BackendFactory, es.Store, Plant],
) -> None:
    persistent_factory, store, plant = planted
    digests, _, _ = _sound_store(store)
    where = plant(persistent_factory, store.backend)

    report = es.Store(persistent_factory()).verify()

    assert not report.ok
    assert report.checked == len(digests)
    assert (report.corrupt, report.unreadable, report.dangling) == ([], [], [])
    [problem] = report.malformed
    assert problem.kind == "malformed"
    assert problem.digest is None
    assert where in (problem.location or "")
    assert report.problems == [problem]


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_gc_deletes_nothing_while_a_malformed_entry_exists(
    planted: tuple[BackendFactory, es.Store, Plant], dry_run: bool
) -> None:
    persistent_factory, store, plant = planted
    digests, garbage, _ = _sound_store(store)
    where = plant(persistent_factory, store.backend)
    fresh = es.Store(persistent_factory())

    with pytest.raises(es.GcRefused, match="gc deleted nothing") as refused:
        fresh.gc(grace_period=GRACE, dry_run=dry_run)

    assert set(fresh.backend.iter_digests()) == digests
    [problem] = refused.value.problems
    assert (problem.kind, problem.digest) == ("malformed", None)
    assert where in (problem.location or "")
    assert garbage <= digests


def test_a_sound_store_has_no_problems(store: es.Store) -> None:
    _sound_store(store)

    assert list(store.backend.problems()) == []
    assert store.verify().malformed == []


def test_files_in_the_tmp_folder_of_a_file_store_are_no_problem(tmp_path: Path) -> None:
    # tmp/ is where writers stage files: it holds neither objects nor tags.
    backend = es.FileBackend(tmp_path / "store")
    ref = es.Store(backend).commit(Box(1))
    (backend.root_dir / "tmp" / "left-by-a-crashed-writer.tmp").write_bytes(b"partial")

    assert list(backend.problems()) == []
    assert object_file(backend.root_dir, ref.digest).exists()
