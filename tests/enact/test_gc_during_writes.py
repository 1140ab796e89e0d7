"""gc in another process never deletes what a running write refers to (issue 11 item 6).

A replay of an old, untagged invocation reuses recorded calls without writing
them again, and ``Ref.modify`` writes a new version that refers to an old
object's children. A gc that runs meanwhile, in another process, with the
default grace period, sees those old objects as unreachable; before the
writer's record is written it would delete them and leave the new record
dangling. The writer stamps what it will refer to as just written before it
starts, and gc keeps recent objects and all they reach.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from typing import Any

from _store_testlib import BackendFactory, age_objects

import enact

#: Older than gc's grace period below (and the backends' refresh interval).
OLD = 7200.0
GRACE = 3600.0

_GC = """
import sys, enact
with enact.open_store(sys.argv[1]) as store:
    report = store.gc(grace_period=float(sys.argv[2]))
print(len(report.deleted))
"""


def gc_in_another_process(url: str) -> int:
    """Runs gc in a child process; returns how many objects it deleted."""
    result = subprocess.run(
        [sys.executable, "-c", _GC, url, str(GRACE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


_gate: dict[str, threading.Event] = {}


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Square(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(x * x)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class SumOfSquares(enact.Invokable):
    n: int = 5

    def call(self) -> enact.Int:
        if "started" in _gate:
            _gate["started"].set()
            assert _gate["proceed"].wait(120)
        return enact.Int(sum(Square()(enact.Int(i)) for i in range(self.n)))


def _age_all(store: enact.Store) -> None:
    age_objects(store.backend, list(store.backend.iter_digests()), OLD)


def test_a_replay_of_an_old_record_survives_gc_in_another_process(
    persistent_factory: BackendFactory,
) -> None:
    store = enact.Store(persistent_factory())
    with store:
        recorded = SumOfSquares().invoke()
        # The parent re-runs on replay; its five recorded children are reused.
        with recorded.response.modify() as response:
            response.output = None
        old = store.commit(recorded)
    _age_all(store)
    _gate.update(started=threading.Event(), proceed=threading.Event())
    result: dict[str, Any] = {}

    def replay() -> None:
        with store:
            result["new"] = store.commit(old().replay())

    thread = threading.Thread(target=replay)
    thread.start()
    try:
        assert _gate["started"].wait(120)
        deleted = gc_in_another_process(persistent_factory.url)
    finally:
        _gate["proceed"].set()
        thread.join(120)
        _gate.clear()

    assert deleted > 0  # The record's replaced parts: true garbage, and gone.
    store.tags["replayed"] = result["new"]
    reader = enact.Store(persistent_factory())
    with reader:
        replayed = reader.tags["replayed"]()
        assert replayed.get_output() == sum(i * i for i in range(5))
        assert [child.get_output() for child in replayed.get_children()] == [0, 1, 4, 9, 16]
    assert reader.verify().ok


def test_a_new_version_made_with_modify_survives_gc_in_another_process(
    persistent_factory: BackendFactory,
) -> None:
    store = enact.Store(persistent_factory())
    with store:
        children = [store.commit(enact.Str(f"old child {i}")) for i in range(3)]
        parent = store.commit(Holder(children, "draft"))
    _age_all(store)

    with store, parent.modify() as changed:
        gc_in_another_process(persistent_factory.url)
        changed.label = "final"
    store.tags["final"] = parent

    reader = enact.Store(persistent_factory())
    with reader:
        final = reader.tags["final"]()
        assert final.label == "final"
        assert [child() for child in final.items] == [f"old child {i}" for i in range(3)]
    assert reader.verify().ok


@enact.register
@dataclasses.dataclass
class Holder(enact.Resource):
    items: list[enact.Ref[enact.Str]]
    label: str
