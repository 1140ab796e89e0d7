"""When the objects of a tracked invocation become durable on a transactional store.

SqliteBackend groups the commits made inside a tracked invocation and writes
them in one transaction when the invocation's record is written (before
``invoke`` returns or raises). These tests pin that down and check that a
process killed at any moment leaves every invocation it reported intact.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import enact


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT count(*) FROM objects").fetchone()
    return int(count)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Double(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(2 * x)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class CountRowsThenDouble(enact.Invokable):
    """Doubles through a child, noting how many rows another reader sees meanwhile."""

    path: str
    seen: list[int] = dataclasses.field(default_factory=list)

    def call(self, x: enact.Int) -> enact.Int:
        result = Double()(x)
        self.seen.append(_rows(Path(self.path)))
        return result


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class Fails(enact.Invokable):
    def call(self) -> enact.Int:
        Double()(enact.Int(21))
        raise ValueError("after one child")


def test_objects_of_an_invocation_are_written_when_invoke_returns(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with enact.Store(enact.SqliteBackend(path)):
        before = _rows(path)
        invocation = CountRowsThenDouble(str(path)).invoke(enact.Int(4))
        after = _rows(path)
        seen = invocation.response().invokable().seen
    assert seen == [before]  # nothing of the invocation, its input included, yet
    assert after > before
    with enact.Store(enact.SqliteBackend(path)):
        fresh = enact.Ref(invocation.response.digest)()
        assert fresh.output() == 8
        assert len(fresh.children) == 1


def test_objects_of_an_invocation_that_raised_are_written_too(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with enact.Store(enact.SqliteBackend(path)):
        invocation = Fails().invoke()
        digest = enact.commit(invocation).digest

    with enact.Store(enact.SqliteBackend(path)) as store:
        loaded = enact.Ref(digest)()
        assert not loaded.successful()
        assert "after one child" in str(loaded.get_raised())
        assert loaded.get_children()[0].get_output() == 42
        assert store.verify().ok


def test_commits_outside_invocations_are_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with enact.Store(enact.SqliteBackend(path)):
        before = _rows(path)
        enact.commit(enact.Str("now"))
        assert _rows(path) == before + 1


def test_tagging_inside_a_batch_writes_the_pending_objects_first(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = enact.Store(enact.SqliteBackend(path))
    with store, store.batch():
        ref = enact.commit(enact.Str("tagged"))
        assert _rows(path) == 0
        store.tags["t"] = ref
        assert _rows(path) == 1
    with enact.Store(enact.SqliteBackend(path)) as reopened:
        assert reopened.tags["t"]() == "tagged"


_CHILD = textwrap.dedent(
    """
    import dataclasses, sys
    import enact

    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Step(enact.Invokable):
        def call(self, x):
            return enact.Int(x + 1)

    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Chain(enact.Invokable):
        length: int

        def call(self, x):
            for _ in range(self.length):
                x = Step()(x)
            return x

    with enact.Store(enact.SqliteBackend(sys.argv[1])):
        i = 0
        while True:
            invocation = Chain(50).invoke(enact.Int(i))
            print(enact.commit(invocation).digest, flush=True)
            i += 1
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_invocations_reported_before_a_kill_survive_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    reported = []
    try:
        assert child.stdout is not None
        while len(reported) < 40:
            line = child.stdout.readline()
            assert line, "the child stopped early"
            reported.append(line.strip())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    # The child's types, registered here under the same type ids.
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(_CHILD.split("with enact.Store")[0], namespace)
    with enact.Store(enact.SqliteBackend(path)) as store:
        report = store.verify()
        assert report.ok, report
        for digest in reported:
            invocation = enact.Ref(digest)()
            assert len(invocation.get_children()) == 50
            assert invocation.get_output() == invocation.request().input() + 50
