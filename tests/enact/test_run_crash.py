"""Durable runs survive SIGKILL: finished calls are kept, the run resumes in a new process.

Real processes, killed with SIGKILL at random points, on every persistent
backend (file, SQLite, PostgreSQL). Each child appends its index to an
fsynced log before it works, so the log counts how often each one ran.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _store_testlib import BackendFactory

import enact
import enact_store as es

# The program under test: a run of CHILDREN children (or of MIDS children of
# GRANDS grandchildren each), run with enact.run, or resumed from the store
# alone with enact.resume.
_PROGRAM = textwrap.dedent(
    """
    import dataclasses
    import os
    import sys
    import time

    import enact

    LOG = sys.argv[2]


    def note(text):
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (text + "\\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Child(enact.Invokable):
        def call(self, i):
            note(str(int(i)))
            time.sleep(0.01)
            return enact.Int(int(i) * int(i))


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Grand(enact.Invokable):
        mid: int = 0

        def call(self, j):
            note(f"{self.mid}.{int(j)}")
            time.sleep(0.01)
            return enact.Int(self.mid * 10 + int(j))


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Mid(enact.Invokable):
        def call(self, i):
            note(f"mid {int(i)}")
            return enact.Int(sum(int(Grand(int(i))(enact.Int(j))) for j in range(3)))


    @enact.typed_invokable(enact.Int, enact.Str)
    @dataclasses.dataclass
    class Top(enact.Invokable):
        nested: bool = False

        def call(self, n):
            child = Mid() if self.nested else Child()
            return enact.Str(",".join(str(int(child(enact.Int(i)))) for i in range(int(n))))


    if __name__ == "__main__":
        store = enact.open_store(sys.argv[1])
        with store:
            if sys.argv[3] == "resume":
                record = enact.resume("job", force=True)
            else:
                top = Top(sys.argv[3] == "nested")
                record = enact.run("job", top, enact.Int(int(sys.argv[4])), force=True)
            print(enact.commit(record).digest)
    """
)

CHILDREN = 50
KILLS = 20


def _lines(log: Path) -> list[str]:
    try:
        return log.read_text().splitlines()
    except FileNotFoundError:
        return []


def _start(script: Path, url: str, log: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), url, str(log), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(process: subprocess.Popen[str], log: Path, ready: int, rng: random.Random) -> None:
    """SIGKILLs the process at a random moment once the log has ``ready`` lines."""
    deadline = time.monotonic() + 120
    while len(_lines(log)) < ready:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the run ended before it was killed:\n{err}")
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.015))  # In a child, in a checkpoint, between them.
    process.send_signal(signal.SIGKILL)
    process.communicate()


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out.strip()


def _uninterrupted(nested: bool, n: int, tmp_path: Path) -> str:
    """The digest of the record of the same run, never killed (in memory)."""
    script = tmp_path / "reference.py"
    script.write_text(_PROGRAM)
    log = tmp_path / "reference.log"
    return _finish(_start(script, "memory://", log, "nested" if nested else "flat", str(n)))


def _verify(factory: BackendFactory) -> None:
    store = es.Store(factory())
    report = store.verify()
    assert report.ok, report.problems
    store.close()


def test_a_run_killed_at_20_random_points_resumes_and_runs_each_child_once(
    persistent_factory: BackendFactory, tmp_path: Path
) -> None:
    factory = persistent_factory
    rng = random.Random(os.urandom(8))
    script = tmp_path / "program.py"
    script.write_text(_PROGRAM)
    log = tmp_path / "children.log"
    in_flight: set[int] = set()
    for kill in range(KILLS):
        # Each process must first re-run the child in flight at the last kill
        # (one line) and start another (a second line): so no child can be
        # in flight at two kills, and each runs at most twice.
        ready = len(_lines(log)) + 2 + rng.randrange(2)
        # A fresh process each time, run() and resume() in turn; both force
        # the take-over (the killed owner's lease would hold the run for
        # 30 s; tests/enact/test_runs.py covers a lease that lapses).
        args = ("flat", str(CHILDREN)) if kill % 2 == 0 else ("resume",)
        process = _start(script, factory.url, log, *args)
        _kill_when(process, log, ready, rng)
        in_flight.add(int(_lines(log)[-1]))
        _verify(factory)

    digest = _finish(_start(script, factory.url, log, "flat", str(CHILDREN)))

    assert digest == _uninterrupted(False, CHILDREN, tmp_path)
    counts = {i: 0 for i in range(CHILDREN)}
    for line in _lines(log):
        counts[int(line)] += 1
    for i, count in counts.items():
        if i in in_flight:
            assert 1 <= count <= 2, (i, count)
        else:
            assert count == 1, (i, count)
    _verify(factory)
    store = es.Store(factory())
    with store:
        status = enact.run_status("job")
    store.close()
    assert status.state == "done"
    assert status.invocation is not None and status.invocation.digest == digest


def test_a_kill_inside_a_grandchild_reuses_the_finished_grandchildren(
    persistent_factory: BackendFactory, tmp_path: Path
) -> None:
    factory = persistent_factory
    script = tmp_path / "program.py"
    script.write_text(_PROGRAM)
    log = tmp_path / "calls.log"
    process = _start(script, factory.url, log, "nested", "4")
    # Killed in the third grandchild of the second child: its first two
    # grandchildren finished (and are durable), the child is in flight.
    deadline = time.monotonic() + 120
    while "1.2" not in _lines(log):
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    _verify(factory)

    digest = _finish(_start(script, factory.url, log, "resume"))

    assert digest == _uninterrupted(True, 4, tmp_path)
    lines = _lines(log)
    assert lines.count("mid 1") == 2  # The child in flight re-ran...
    assert lines.count("1.0") == lines.count("1.1") == 1  # ...reusing what it finished.
    assert lines.count("1.2") == 2  # The grandchild in flight re-ran.
    assert lines.count("mid 0") == lines.count("0.0") == 1  # Finished: reused.
    assert lines.count("mid 3") == lines.count("3.2") == 1
    _verify(factory)
