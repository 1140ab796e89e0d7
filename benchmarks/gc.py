"""gc on an SQLite store of about 20,000 objects: seconds per run (median of several).

    uv run python benchmarks/gc.py [--objects N] [--reps R]

The store holds tagged trees of Nodes and as many unreachable ones, in chains
and trees, written long ago (so gc deletes them). Each repetition rebuilds the
store (a copy of a template file) and times one ``store.gc(grace_period=0)``:

- ``registered``: this process has registered the types (an application's gc);
- ``unregistered``: it has not (``enact gc`` without ``--import``), so every
  object is read with its stored type;
- ``nothing to delete``: every object is reachable;
- ``dry run``: as ``registered``, with ``dry_run=True``.

Prints the median wall time, its spread and the median CPU time of the
process (steadier on a busy machine). Not part of benchmarks/run.py (no target:
gc is not a hot path); quoted in the enact-store CHANGELOG.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import enact_store as es

# The types live in a module of their own, written next to the store: the
# builder (a child process) imports it; this process imports it only for the
# "registered" cases.
TYPES = """
import dataclasses
import enact_resource as er
import enact_store as es

@er.register
@dataclasses.dataclass
class Node(er.Resource):
    label: str
    payload: str
    children: list[es.Ref["Node"]]
"""

BUILDER = """
import sqlite3, sys
import enact_store as es
from bench_types import Node

path, objects, garbage_share = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
store = es.open_store(f"sqlite:///{path}")
made = 0

def tree(label, depth):
    global made
    made += 1
    kids = [] if depth == 0 else [tree(f"{label}.{i}", depth - 1) for i in range(3)]
    return store.commit(Node(label, "x" * 200, kids))

def chain(label, length):
    global made
    ref = None
    for i in range(length):
        made += 1
        ref = store.commit(Node(f"{label}.{i}", "y" * 200, [] if ref is None else [ref]))
    return ref

with store.batch():
    t = 0
    while made < objects * (1 - garbage_share):
        store.tags[f"kept/{t}"] = tree(f"kept {t}", 5)
        t += 1
    g = 0
    while made < objects:
        tree(f"garbage {g}", 5)
        chain(f"chain {g}", 100)
        g += 1
store.close()
with sqlite3.connect(path) as db:
    db.execute("UPDATE objects SET written = written - 100000")
db.close()
"""


@dataclasses.dataclass
class Case:
    name: str
    garbage_share: float
    registered: bool
    dry_run: bool = False


CASES = [
    Case("registered", 0.5, True),
    Case("unregistered", 0.5, False),
    Case("nothing to delete", 0.0, True),
    Case("dry run", 0.5, True, dry_run=True),
]


def build(directory: Path, objects: int, garbage_share: float) -> Path:
    path = directory / f"template-{garbage_share}.db"
    if not path.exists():
        (directory / "bench_types.py").write_text(TYPES)
        script = directory / "build_store.py"
        script.write_text(BUILDER)
        subprocess.run(
            [sys.executable, str(script), str(path), str(objects), str(garbage_share)],
            check=True,
            cwd=directory,
            stdout=subprocess.DEVNULL,
        )
    return path


def register_types(directory: Path) -> None:
    """Imports the types' module, so they are registered in this process."""
    sys.path.insert(0, str(directory))
    import bench_types  # noqa: F401  # type: ignore[import-not-found]


def run(case: Case, template: Path, reps: int) -> tuple[list[float], list[float]]:
    """Times ``reps`` runs of gc on copies of the template: (wall seconds, CPU seconds)."""
    times = []
    cpu = []
    for _ in range(reps):
        path = template.with_name("store.db")
        shutil.copyfile(template, path)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        store = es.open_store(f"sqlite:///{path}")
        start, start_cpu = time.perf_counter(), time.process_time()
        report = store.gc(grace_period=0, dry_run=case.dry_run)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        store.close()
        assert case.garbage_share == 0 or report.deleted
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        templates = {
            c.garbage_share: build(directory, args.objects, c.garbage_share) for c in CASES
        }
        with sqlite3.connect(templates[0.5]) as db:
            (count,) = db.execute("SELECT count(*) FROM objects").fetchone()
        db.close()
        print(f"gc of an SQLite store of {count} objects (median of {args.reps}, seconds)")
        for registered in (False, True):
            if registered:
                register_types(directory)
            for case in CASES:
                if case.registered != registered:
                    continue
                times, cpu = run(case, templates[case.garbage_share], args.reps)
                print(
                    f"  {case.name:<18} {statistics.median(times):7.3f}"
                    f"  (min {min(times):.3f}, max {max(times):.3f};"
                    f" CPU median {statistics.median(cpu):.3f})"
                )


if __name__ == "__main__":
    main()
