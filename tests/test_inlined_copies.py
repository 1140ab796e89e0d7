"""Each deliberate inline copy of a function on a hot path matches its original.

A copy is marked in the source with one comment line,
``# INLINED COPY of <module>.<name> (tests/test_inlined_copies.py)``, just
before it. Every marked original has a check here (same results on the same
inputs), and every check here has a marked copy: adding a copy without a
check, or leaving a check behind a removed copy, fails.
(A unit test of private modules: the copies are not public.)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import enact_resource as er
import enact_store as es
from enact_resource import _digest
from enact_store import _ref

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"#\s*INLINED COPY of (\S+) \(tests/test_inlined_copies\.py\)")


def _marked() -> dict[str, list[str]]:
    """Every marked copy in the packages' sources: original -> where the copies are."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "packages").glob("*/src/**/*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "INLINED COPY" in line:
                match = MARKER.search(line)
                assert match, f"{path.relative_to(ROOT)}:{number}: malformed marker {line!r}"
                found.setdefault(match[1], []).append(f"{path.name}:{number}")
    return found


@er.register(name="tests.test_inlined_copies.Item")
@dataclasses.dataclass
class Item(er.Resource):
    name: str
    parts: list[Any]


class OtherRef(es.Ref[Any]):
    """A ref subclass: copies must keep the type."""


DIGEST = er.digest(er.Str("x"))
DIGEST_INPUTS: list[Any] = [
    DIGEST,
    "a" * 64,
    DIGEST.upper(),
    DIGEST[:63],
    DIGEST + "0",
    DIGEST[:63] + "\n",
    "../" + DIGEST[3:],
    "g" * 64,
    "",
    None,
    42,
    DIGEST.encode(),
    "\u0661" * 64,  # Digits, to str.isdigit, in another script.
]


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as e:
        return type(e).__name__, str(e)


def _check_digest_copies() -> None:
    for value in DIGEST_INPUTS:
        expected = _outcome(lambda value=value: _ref.check_digest(value))
        made = _outcome(lambda value=value: es.Ref(value).digest)
        read = _outcome(lambda value=value: _read_ref(value).digest)
        assert made == expected, value
        assert read == expected, value


def _read_ref(digest: Any) -> es.Ref[Any]:
    return es.Ref.from_resource_dict(er.ResourceDict(es.Ref, {"digest": digest}))


def _prefix_copies() -> None:
    for cls in (es.Ref, OtherRef):
        ref = cls(DIGEST)
        expected = f"{_ref._prefix(cls)}'digest's'{DIGEST}']"
        assert ref._enact_stream_() == expected
        stream, copy = ref._enact_pack_()
        assert stream == expected
        assert type(copy) is cls


def _deep_copy_copies() -> None:
    store = es.Store()
    stored = store.commit(er.Str("stored"))  # a ref with a home and no cache
    with store:
        loaded = es.Ref(stored.digest)
        loaded.get()  # a ref with a cache
    for refs in ([], [es.Ref(DIGEST)], [stored, loaded, es.Ref(DIGEST)]):
        copies = es.Ref._enact_copy_list_(refs)
        assert copies is not None
        expected = [ref.deep_copy_resource() for ref in refs]
        assert [_state(copy) for copy in copies] == [_state(copy) for copy in expected]
        assert all(copy is not ref for copy, ref in zip(copies, refs, strict=True))
    # Not every item a ref of this very type: the caller copies them one by one.
    assert es.Ref._enact_copy_list_([OtherRef(DIGEST)]) is None
    assert es.Ref._enact_copy_list_([es.Ref(DIGEST), "text"]) is None


def _state(ref: es.Ref[Any]) -> tuple[Any, ...]:
    return (type(ref), ref.digest, ref._cached, ref._home)


def _pack_copy() -> None:
    child = es.Ref.pack(er.Str("child"))
    resources = [
        er.Str("s"),
        er.Int(3),
        Item("a", [1, 2.5, None, "x", b"y", {"k": [True]}]),
        Item("b", []),
        Item("with a ref", [child.ref]),
    ]
    for resource in resources:
        store = es.Store()
        store.backend.commit(child)
        expected = es.Ref.pack(resource)

        ref = store.commit(resource)

        assert type(ref) is type(expected.ref)
        assert ref.digest == expected.ref.digest
        assert ref._cached == expected.data
        assert store.backend.get(ref) == expected.data


def _current_copy() -> None:
    # pack_resource reuses a type's generated packers only while _current
    # says they were made for its TypeInfo; the inline check must agree.
    @dataclasses.dataclass
    class Changing(er.Resource):
        value: int

    resource = Changing(1)
    states = []
    for step in range(3):
        data, value = _digest.pack_resource(resource)
        entry = _digest._PACKERS[Changing]
        states.append((_digest._current(entry, Changing), value))
        assert value == er.digest(resource)
        assert data == resource.to_resource_dict()
        # Each step changes the TypeInfo: a new registered name.
        er.register(Changing, name=f"tests.test_inlined_copies.Changing{step}")
        stale = _digest._current(entry, Changing)
        data, value = _digest.pack_resource(resource)
        assert not stale
        assert value == er.digest(resource)
        assert data.type.type_id() == Changing.type_id()
    assert [current for current, _ in states] == [True, True, True]
    assert len({value for _, value in states}) == 3


#: Each original that is copied inline, and its check.
CHECKS: dict[str, Callable[[], None]] = {
    "enact_store._ref.check_digest": _check_digest_copies,
    "enact_store._ref._prefix": _prefix_copies,
    "enact_store.Ref.deep_copy_resource": _deep_copy_copies,
    "enact_store.Ref.pack": _pack_copy,
    "enact_resource._digest._current": _current_copy,
}


def test_every_marked_copy_has_a_check_and_every_check_a_copy() -> None:
    marked = _marked()

    assert sorted(marked) == sorted(CHECKS), marked


@pytest.mark.parametrize("original", sorted(CHECKS))
def test_the_inline_copy_gives_the_results_of_its_original(original: str) -> None:
    CHECKS[original]()
