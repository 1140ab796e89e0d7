"""Stored data is forever: stores written by earlier releases read, verify and replay.

tests/fixtures/stores/NAME/ holds what release NAME wrote with
tests/fixtures/make_stores.py (an SQLite store, a file store with the same
objects, and objects.json with every object's stored bytes and canonical
JSON). These tests run on copies and never regenerate the fixtures.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import enact

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

import fixture_types as ft  # noqa: E402

#: Every release whose stores must stay readable.
RELEASES = ["0.1"]
KINDS = ["sqlite", "file"]


def open_copy(release: str, kind: str, tmp_path: Path) -> enact.Store:
    """Opens a copy of a fixture store (tests must never change the fixtures)."""
    source = FIXTURES / "stores" / release
    if kind == "sqlite":
        shutil.copy(source / "store.db", tmp_path / "store.db")
        return enact.Store(enact.SqliteBackend(tmp_path / "store.db"))
    shutil.copytree(source / "file-store", tmp_path / "file-store")
    return enact.Store(enact.FileBackend(tmp_path / "file-store"))


def objects_json(release: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "stores" / release / "objects.json").read_text())
    return data


@pytest.fixture(params=[(r, k) for r in RELEASES for k in KINDS], ids=lambda p: f"{p[0]}-{p[1]}")
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    release, kind = request.param
    store = open_copy(release, kind, tmp_path)
    with store:
        yield store
    store.close()


def test_every_object_of_an_old_store_verifies(old_store: enact.Store) -> None:
    report = old_store.verify()

    assert report.ok, report
    assert report.checked == len(objects_json("0.1")["objects"])


def test_old_records_read_as_the_current_classes(old_store: enact.Store) -> None:
    tags = old_store.tags

    assert tags["doc"]() == ft.Doc("precious", 7)
    holder = tags["holder"]()
    assert holder.doc() == ft.Doc("precious", 7)
    assert holder.note == {"why": "a ref inside"}
    got = tags["values"]().items
    want = ft.values().items
    assert set(got) == set(want)
    assert [repr(x) for x in got["floats"]] == [repr(x) for x in want["floats"]]
    assert math.isnan(got["floats"][0])
    assert {k: v for k, v in got.items() if k != "floats"} == {
        k: v for k, v in want.items() if k != "floats"
    }


def test_old_exception_records_read_as_the_current_exception_classes(
    old_store: enact.Store,
) -> None:
    # Releases before 0.2 gave plain exception resources a fields digest in
    # their type id; they are read as the classes, whose ids are name-only now.
    run = old_store.tags["pipeline"]()
    children = run.get_children()

    assert run.get_output() == "HELLO! ValueError Oops BYE!"
    assert [child.successful() for child in children] == [True, False, False, True]
    wrapped = children[1].get_raised()
    assert isinstance(wrapped, enact.WrappedException)
    assert "ValueError: cannot shout that" in wrapped.args[0]
    assert children[2].get_raised() == ft.Oops("plain", 42)


def test_old_invocations_replay(old_store: enact.Store) -> None:
    run = old_store.tags["pipeline"]()

    again = run.replay()

    assert again.get_output() == run.get_output()
    # The calls that had an output are reused as they are, records included.
    assert again.response().children[0] == run.response().children[0]
    assert again.response().children[3] == run.response().children[3]


def test_an_old_paused_invocation_can_be_answered(old_store: enact.Store) -> None:
    paused = old_store.tags["paused"]()
    request = paused.get_raised()
    assert isinstance(request, enact.InputRequest)

    answered = request.continue_invocation(paused, enact.Str("Grace"))

    assert answered.get_output() == "Hello Grace"
    assert old_store.tags["answered"]().get_output() == "Hello Ada"


@pytest.mark.parametrize("release", RELEASES)
def test_stored_and_canonical_json_of_old_objects_decode_to_their_digests(release: str) -> None:
    stored = enact.JsonSerializer(compact=True, stored_types=True)
    canonical = enact.JsonSerializer(stored_types=True)
    for digest, forms in objects_json(release)["objects"].items():
        from_stored = stored.deserialize(base64.b64decode(forms["stored"]))
        from_canonical = canonical.deserialize(forms["canonical"].encode())

        assert enact.digest(from_stored) == digest
        assert enact.digest(from_canonical) == digest


_WITHOUT_CLASSES = """
import sys, enact
url, dst = sys.argv[1], sys.argv[2]
assert "fixture_types" not in sys.modules
with enact.open_store(url) as store:
    report = store.verify()
    assert report.ok, report
    doc = store.load(store.tags["doc"])
    print("doc", doc.type.type_name(), dict(doc))
    try:
        store.tags["doc"]()
    except enact.TypeNotRegisteredError as e:
        print("get", type(e).__name__)
    target = enact.open_store(dst)
    copied = enact.copy(store, target, [], tags=list(store.tags))
    print("copied", copied.copied, target.verify().ok)
    gc = store.gc(grace_period=0, dry_run=True)
    print("gc", gc.reachable, len(gc.deleted))
"""


@pytest.mark.parametrize("kind", KINDS)
def test_old_stores_verify_copy_and_collect_without_their_classes(
    kind: str, tmp_path: Path
) -> None:
    open_copy("0.1", kind, tmp_path).close()
    url = f"sqlite:///{tmp_path}/store.db" if kind == "sqlite" else f"file://{tmp_path}/file-store"
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_CLASSES, url, f"sqlite:///{tmp_path}/copy.db"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "doc fixture_types.Doc {'zeta': 'precious', 'alpha': 7}"
    assert lines[1] == "get TypeNotRegisteredError"
    total = len(objects_json("0.1")["objects"])
    assert lines[2] == f"copied {total} True"
    assert lines[3] == f"gc {total} 0"
