"""Invokables run by workers in the remote-execution tests (tests/invoke/test_remote.py).

A module of its own, importable by the same name in the test process and in
every worker (Ray, Dask, process pools): the tests put this folder on
``sys.path`` and ``PYTHONPATH`` before any worker starts.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from pathlib import Path

import enact


def set_environment(variables: dict[str, str]) -> None:
    """A process pool's initializer: the environment its workers run in."""
    os.environ.update(variables)


def note(log: str, line: str) -> None:
    """Appends a line to a log file, flushed and fsynced (counts what ran)."""
    with open(log, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Square(enact.Invokable):
    """A trivial child: its input squared; logs its pid to ``log`` if set."""

    log: str = ""

    def call(self, x: enact.Int) -> enact.Int:
        if self.log:
            note(self.log, f"{int(x)} {os.getpid()}")
        return enact.Int(int(x) * int(x))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Sample(enact.Invokable):
    """A random child: two calls with one request are two samples."""

    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(random.randrange(1 << 60))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Nested(enact.Invokable):
    """A child with children of its own (run by the worker, recorded in its subtree)."""

    log: str = ""

    def call(self, x: enact.Int) -> enact.Int:
        if self.log:
            note(self.log, f"nested {int(x)} {os.getpid()}")
        square = Square(log=self.log)
        return enact.Int(square(x) + square(enact.Int(int(x) + 1)))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Fails(enact.Invokable):
    """A child that raises ValueError on odd inputs."""

    def call(self, x: enact.Int) -> enact.Int:
        if int(x) % 2:
            raise ValueError(f"odd input {int(x)}")
        return x


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Sleepy(enact.Invokable):
    """Sleeps ``seconds``; input ``hang`` writes its pid to ``pid_file`` and sleeps long
    (until a test kills its worker)."""

    seconds: float = 0.05
    hang: int = -1
    pid_file: str = ""
    log: str = ""

    def call(self, x: enact.Int) -> enact.Int:
        if self.log:
            note(self.log, f"{int(x)} {os.getpid()}")
        if int(x) == self.hang and not Path(self.pid_file).exists():
            Path(self.pid_file + ".tmp").write_text(str(os.getpid()))
            os.replace(self.pid_file + ".tmp", self.pid_file)
            time.sleep(600)
        time.sleep(self.seconds)
        return x


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class FanOut(enact.Invokable):
    """The parent: ``enact.map(child, range(n))``, summed (children on the ambient executor)."""

    child: enact.Invokable = dataclasses.field(default_factory=Square)

    def call(self, n: enact.Int) -> enact.Int:
        return enact.Int(sum(int(y) for y in enact.map(self.child, range(int(n)))))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class SubmitEach(enact.Invokable):
    """The parent: ``child.submit(i)`` for each i, then waits for all, summed."""

    child: enact.Invokable = dataclasses.field(default_factory=Square)

    def call(self, n: enact.Int) -> enact.Int:
        futures = [self.child.submit(i) for i in range(int(n))]
        return enact.Int(sum(int(f.result()) for f in futures))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class CatchEach(enact.Invokable):
    """The parent: maps the child, counting the children that raised."""

    child: enact.Invokable = dataclasses.field(default_factory=Fails)

    def call(self, n: enact.Int) -> enact.Int:
        futures = [self.child.submit(i) for i in range(int(n))]
        failed = 0
        for future in futures:
            try:
                future.result()
            except Exception:
                failed += 1
        return enact.Int(failed)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class CatchValueError(enact.Invokable):
    """The parent: maps Fails over [2, n]; 1 if that raised a ValueError (the
    original exception's type, from a worker), else 0."""

    def call(self, n: enact.Int) -> enact.Int:
        try:
            enact.map(Fails(), [2, int(n)])
        except ValueError:
            return enact.Int(1)
        return enact.Int(0)
