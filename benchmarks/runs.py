"""Durable runs (enact.run): the cost of a checkpoint per call, and of a resume.

    uv run python benchmarks/runs.py [--reps R] [--postgres URL]

- a tracked child inside ``enact.run`` on an SQLite store (a file on disk),
  against a tracked child of plain ``invoke()`` on the same kind of store,
  with the floor (one small SQLite transaction, WAL, on disk) measured in the
  same run; fan-outs of 100 and 1,000 children (a checkpoint logs the call
  that finished, whatever the number of its siblings; the run's head moves
  only now and then);
- the resume of a 10,000-child run whose children all finished (the top-level
  call was in flight), against a full replay of the same record;
- the same on PostgreSQL with ``--postgres URL`` (or $ENACT_TEST_POSTGRES_URL):
  each run uses a schema of its own, dropped afterwards.

Medians of R repetitions. Not part of benchmarks/run.py (it writes its own
output only): the figures are quoted in the enact-invoke CHANGELOG.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import enact

perf = time.perf_counter


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Child(enact.Invokable):
    def call(self, i: enact.Int) -> enact.Int:
        return enact.Int(int(i) + 1)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class FanOut(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Int:
        child = Child()
        return enact.Int(sum(int(child(enact.Int(i))) for i in range(int(n))))


def median_of(reps: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(reps))


@contextmanager
def sqlite_store() -> Iterator[enact.Store]:
    d = tempfile.mkdtemp(prefix="enact-bench-runs-")
    store = enact.Store(enact.SqliteBackend(os.path.join(d, "s.db")))
    try:
        yield store
    finally:
        store.close()
        shutil.rmtree(d, ignore_errors=True)


@contextmanager
def postgres_store(url: str) -> Iterator[enact.Store]:
    import psycopg

    schema = f"bench_runs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    store = enact.Store(enact.PostgresBackend(f"{url}{sep}options=-csearch_path%3D{schema}"))
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def floor_sqlite_transaction(reps: int, n: int = 200) -> float:
    """One small SQLite transaction (insert one 100-byte row, WAL, on disk), in µs."""
    d = tempfile.mkdtemp(prefix="enact-bench-runs-")
    try:
        conn = sqlite3.connect(os.path.join(d, "kv.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        counter = iter(range(10**9))

        def run() -> float:
            start = perf()
            for _ in range(n):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO kv VALUES (?, ?)", (str(next(counter)), b"x" * 100))
                conn.execute("COMMIT")
            return (perf() - start) / n * 1e6

        result = median_of(reps, run)
        conn.close()
        return result
    finally:
        shutil.rmtree(d, ignore_errors=True)


def floor_postgres_transaction(reps: int, url: str, n: int = 200) -> float:
    """One small PostgreSQL transaction (insert one 100-byte row, committed), in µs."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        table = f"bench_floor_{uuid.uuid4().hex[:8]}"
        conn.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v BYTEA NOT NULL)")
        counter = iter(range(10**9))
        try:

            def run() -> float:
                start = perf()
                for _ in range(n):
                    with conn.transaction():
                        conn.execute(
                            f"INSERT INTO {table} VALUES (%s, %s)", (str(next(counter)), b"x" * 100)
                        )
                return (perf() - start) / n * 1e6

            return median_of(reps, run)
        finally:
            conn.execute(f"DROP TABLE {table}")


def per_child(reps: int, n: int, make_store: Callable[[], Any], durable: bool) -> float:
    """µs per tracked child of a fan-out of n, in enact.run (durable) or invoke()."""

    def run() -> float:
        with make_store() as store, store:
            start = perf()
            if durable:
                enact.run(f"bench-{uuid.uuid4().hex[:8]}", FanOut(), enact.Int(n))
            else:
                FanOut().invoke(enact.Int(n))
            return (perf() - start) / n * 1e6

    return median_of(reps, run)


def resume_vs_replay(reps: int, n: int, make_store: Callable[[], Any]) -> tuple[float, float]:
    """ms to resume a run of n finished children (top in flight), and to replay the record."""
    with make_store() as store, store:
        record = FanOut().invoke(enact.Int(n))
        response = record.response()
        partial = enact.Invocation(
            record.request,
            store.commit(enact.Response(response.invokable, None, None, False, response.children)),
        )
        partial_ref = store.commit(partial)

        def resume() -> float:
            name = f"bench-{uuid.uuid4().hex[:8]}"
            store.runs.create(
                name, request=record.request.digest, head=partial_ref, state="interrupted"
            )
            start = perf()
            done = enact.resume(name)
            elapsed = perf() - start
            assert done == record
            return elapsed * 1e3

        def replay() -> float:
            fresh = type(partial_ref)(partial_ref.digest)()
            start = perf()
            done = fresh.replay()
            elapsed = perf() - start
            assert done == record
            return elapsed * 1e3

        return median_of(reps, resume), median_of(reps, replay)


def report(label: str, reps: int, make_store: Callable[[], Any]) -> None:
    for n in (100, 1000):
        plain = per_child(reps, n, make_store, durable=False)
        durable = per_child(reps, n, make_store, durable=True)
        print(
            f"{label}: tracked child, fan-out {n:>5}: invoke {plain:8.1f} µs, "
            f"enact.run {durable:8.1f} µs  ({durable / plain:.2f}x)"
        )
    resume, replay = resume_vs_replay(max(3, reps // 2), 10_000, make_store)
    print(
        f"{label}: 10,000 finished children: resume {resume:8.1f} ms, "
        f"replay {replay:8.1f} ms  ({resume / replay:.2f}x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("ENACT_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    print(
        f"floor: one small SQLite transaction (WAL, on disk): "
        f"{floor_sqlite_transaction(args.reps):.1f} µs"
    )
    report("sqlite", args.reps, sqlite_store)
    if args.postgres:
        url = args.postgres
        print(
            "floor: one small PostgreSQL transaction (127.0.0.1): "
            f"{floor_postgres_transaction(args.reps, url):.1f} µs"
        )
        report("postgres", args.reps, lambda: postgres_store(url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
