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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _store_testlib import BackendFactory

import enact
import enact_store as es

pytestmark = pytest.mark.slow

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

    LOG = None


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
            time.sleep(0.2 if (self.mid, int(j)) == (1, 2) else 0.01)  # (Killed in it.)
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


    def main(url, log, mode, n=None):
        global LOG
        LOG = log
        store = enact.open_store(url)
        with store:
            if mode == "resume":
                record = enact.resume("job", force=True)
            else:
                record = enact.run("job", Top(mode == "nested"), enact.Int(int(n)), force=True)
            print(enact.commit(record).digest, flush=True)
        store.close()


    if __name__ == "__main__":
        try:  # Imported once here too, not in each process forked.
            import psycopg, psycopg_pool  # noqa: F401, E401
        except ImportError:
            pass
        # One process imports enact once, then forks a process per command
        # read from stdin: the process the test kills. Prints its pid, then
        # its exit status (what it printed comes between).
        for line in sys.stdin:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    main(*line.split())
                    code = 0
                finally:
                    os._exit(code)
            print(f"pid {pid}", flush=True)
            _, status = os.waitpid(pid, 0)
            print(f"status {status}", flush=True)
    """
)

CHILDREN = 50
KILLS = 20


def _lines(log: Path) -> list[str]:
    try:
        return log.read_text().splitlines()
    except FileNotFoundError:
        return []


class _Forker:
    """A process that imports the program once and forks a process per run (see _PROGRAM)."""

    def __init__(self, tmp_path: Path) -> None:
        script = tmp_path / "program.py"
        script.write_text(_PROGRAM)
        self.process = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self, *args: str) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(" ".join(args) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line.startswith("pid "), line
        return int(line.split()[1])

    def wait(self) -> tuple[list[str], int]:
        """What the forked process printed, and its wait status."""
        assert self.process.stdout is not None
        printed = []
        while not (line := self.process.stdout.readline()).startswith("status "):
            assert line, "the forking process died"
            printed.append(line.strip())
        return printed, int(line.split()[1])

    def finish(self, *args: str) -> str:
        self.start(*args)
        printed, status = self.wait()
        assert status == 0, printed
        assert printed
        return printed[-1]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture
def forker(tmp_path: Path) -> Iterator[_Forker]:
    forker = _Forker(tmp_path)
    yield forker
    forker.close()


def _kill_when(forker: _Forker, pid: int, ready: Callable[[], bool], delay: float) -> None:
    """SIGKILLs the forked process ``delay`` seconds after ``ready()``."""
    deadline = time.monotonic() + 120
    while not ready():
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.001)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    printed, status = forker.wait()
    assert os.WIFSIGNALED(status), f"the run ended before it was killed: {printed}"
    assert os.WTERMSIG(status) == signal.SIGKILL


def _verify(factory: BackendFactory) -> None:
    store = es.Store(factory())
    report = store.verify()
    store.close()
    assert report.ok, report.problems


def test_a_run_killed_at_20_random_points_resumes_and_runs_each_child_once(
    persistent_factory: BackendFactory, forker: _Forker, tmp_path: Path
) -> None:
    factory = persistent_factory
    rng = random.Random(os.urandom(8))
    log = tmp_path / "children.log"
    reference = forker.finish("memory://", str(tmp_path / "reference.log"), "flat", str(CHILDREN))
    in_flight: set[int] = set()
    for kill in range(KILLS):
        # Each process must first re-run the child in flight at the last kill
        # (one line) and start another (a second line): so no child can be
        # in flight at two kills, and each runs at most twice.
        ready = len(_lines(log)) + 2 + rng.randrange(2)
        # A new process each time, enact.run and enact.resume in turn; both
        # force the take-over (the killed owner's lease would hold the run
        # for 30 s; test_runs.py covers a lease that lapses).
        mode = ("flat", str(CHILDREN)) if kill % 2 == 0 else ("resume",)
        pid = forker.start(factory.url, str(log), *mode)
        # A random moment: in a child, in a checkpoint, between them.
        _kill_when(forker, pid, lambda n=ready: len(_lines(log)) >= n, rng.uniform(0, 0.015))
        in_flight.add(int(_lines(log)[-1]))
        _verify(factory)

    digest = forker.finish(factory.url, str(log), "flat", str(CHILDREN))

    assert digest == reference  # The same record as a run never killed.
    counts = dict.fromkeys(range(CHILDREN), 0)
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
    assert status.invocation is not None
    assert status.invocation.digest == digest


def test_a_kill_inside_a_grandchild_reuses_the_finished_grandchildren(
    persistent_factory: BackendFactory, forker: _Forker, tmp_path: Path
) -> None:
    factory = persistent_factory
    log = tmp_path / "calls.log"
    reference = forker.finish("memory://", str(tmp_path / "reference.log"), "nested", "4")
    # Killed in the third grandchild of the second child: its first two
    # grandchildren finished (and are durable), the child is in flight.
    pid = forker.start(factory.url, str(log), "nested", "4")
    _kill_when(forker, pid, lambda: "1.2" in _lines(log), 0.0)
    _verify(factory)

    digest = forker.finish(factory.url, str(log), "resume")

    assert digest == reference
    lines = _lines(log)
    assert lines.count("mid 1") == 2  # The child in flight re-ran...
    assert lines.count("1.0") == lines.count("1.1") == 1  # ...reusing what it finished.
    assert lines.count("1.2") == 2  # The grandchild in flight re-ran.
    assert lines.count("mid 0") == lines.count("0.0") == 1  # Finished: reused.
    assert lines.count("mid 3") == lines.count("3.2") == 1
    _verify(factory)
