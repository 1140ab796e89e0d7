"""A killed run between two moves of its head: what it finished is in its steps alone.

A checkpoint logs each finished call as a step (and, on SQL stores, its
objects in the step's row) and moves the run's head only now and then. These
tests kill real processes (SIGKILL, sent by the run's own child at a chosen
point, so that the test knows what had finished) and check that gc, fork,
resume and the viewer's reads all see the calls finished since the head last
moved, on every persistent backend. Each child appends its name to an
fsynced log before it works, so the log counts how often each one ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _store_testlib import BackendFactory

import enact
import enact_store as es

pytestmark = pytest.mark.slow

_PROGRAM = textwrap.dedent(
    """
    import dataclasses
    import os
    import signal
    import sys
    import time

    import enact

    URL, LOG, MODE, NAME = sys.argv[1:5]
    KILL_AT = os.environ.get("KILL_AT")


    def note(text):
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (text + "\\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Slow(enact.Invokable):
        def call(self, i):
            note(str(int(i)))
            if str(int(i)) == KILL_AT:
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.3)
            return enact.Int(int(i) * int(i))


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Waits(enact.Invokable):
        def call(self, i):
            note(str(int(i)))
            if str(int(i)) == KILL_AT:
                # Killed once the seven other children (in the other threads)
                # finished, each with its two children: 21 calls checkpointed.
                while enact.run_status(NAME).calls_done < 7 * 3:
                    time.sleep(0.01)
                os.kill(os.getpid(), signal.SIGKILL)
            return enact.Int(int(i) * int(i))


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Finished(enact.Invokable):
        def call(self, i):
            note(f"done {int(i)}")
            return i


    @enact.typed_invokable(enact.Int, enact.Str)
    @dataclasses.dataclass
    class Sequential(enact.Invokable):
        def call(self, n):
            return enact.Str(",".join(str(int(Slow()(enact.Int(i)))) for i in range(int(n))))


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Pair(enact.Invokable):
        def call(self, i):
            out = Waits()(i)
            Finished()(i)
            return out


    @enact.typed_invokable(enact.Int, enact.Str)
    @dataclasses.dataclass
    class Parallel(enact.Invokable):
        def call(self, n):
            with enact.ThreadPoolExecutor(8) as pool:
                futures = [pool.submit(Pair(), enact.Int(i)) for i in range(int(n))]
                return enact.Str(",".join(str(int(f.result())) for f in futures))


    with enact.open_store(URL) as store:
        if MODE == "resume":
            record = enact.resume(NAME, force=True)
        else:
            top = Sequential() if MODE == "sequential" else Parallel()
            record = enact.run(NAME, top, enact.Int(6 if MODE == "sequential" else 8))
        print(record.get_output(), flush=True)
    """
)


def _run(script: Path, factory: BackendFactory, log: Path, *args: str, kill_at: str = "") -> str:
    env = {**os.environ, "KILL_AT": kill_at}
    done = subprocess.run(
        [sys.executable, str(script), factory.url, str(log), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    if kill_at:
        assert done.returncode == -9, (done.stdout, done.stderr)
        return ""
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _counts(log: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in log.read_text().splitlines():
        counts[line] = counts.get(line, 0) + 1
    return counts


@pytest.fixture
def program(tmp_path: Path) -> tuple[Path, Path]:
    """The program under test, written out, and the log its children write."""
    script = tmp_path / "program.py"
    script.write_text(_PROGRAM)
    return script, tmp_path / "calls.log"


def test_a_run_killed_after_its_head_moved_loses_nothing_to_gc_and_forks_and_resumes(
    persistent_factory: BackendFactory, program: tuple[Path, Path]
) -> None:
    script, log = program
    # Six children of 0.3 s: the head moves once at least a second passed, so
    # it holds the first few children, and the steps those after; child 5
    # kills the process.
    _run(script, persistent_factory, log, "sequential", "job", kill_at="5")

    store = es.Store(persistent_factory())
    with store:
        entry = store.runs.get("job")
        assert entry is not None
        assert entry.calls_done == 5  # Children 0 to 4 finished, each durable.
        head = store.load(store.runs.head("job"))
        in_head = store.load(head["response"])["children"]
        assert 1 <= len(in_head) <= 5  # The head moved, once or more...
        logged = {step.path for step in store.runs.steps("job", entry.head_seq)}
        assert "4" in logged  # ...before the last calls finished: they are steps.
        assert [call.path for call in store.runs.calls("job")] == ["0", "1", "2", "3", "4"]
        # gc without a grace period keeps what the run finished since.
        store.gc(grace_period=0)
        report = store.verify()
        assert report.ok, report.problems
        # A fork sees those calls too: it drops the last top-level child of
        # the run's latest record, 4 (5 started after the last checkpoint).
        enact.fork("job", "job2", rewind=1)
    store.close()

    assert _run(script, persistent_factory, log, "resume", "job2") == "0,1,4,9,16,25"
    assert _run(script, persistent_factory, log, "resume", "job") == "0,1,4,9,16,25"

    # 0-3: ran once (kept by both runs); 4: once more, for the fork; 5: in
    # flight at the kill, then once in each run.
    assert _counts(log) == {"0": 1, "1": 1, "2": 1, "3": 1, "4": 2, "5": 3}


def test_a_run_of_threads_killed_in_one_reuses_every_other_child_on_resume(
    persistent_factory: BackendFactory, program: tuple[Path, Path]
) -> None:
    script, log = program
    # Eight children in eight threads, each with two children of its own:
    # child 3's first kills the process once the seven other children
    # finished (in whatever order they started and finished).
    _run(script, persistent_factory, log, "parallel", "job", kill_at="3")

    output = _run(script, persistent_factory, log, "resume", "job")

    assert output == ",".join(str(i * i) for i in range(8))
    counts = _counts(log)
    assert counts.pop("3") == 2  # In flight at the kill: ran again.
    assert counts.pop("done 3") == 1
    assert counts == {str(i): 1 for i in range(8) if i != 3} | {
        f"done {i}": 1 for i in range(8) if i != 3
    }
