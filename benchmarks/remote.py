"""Children on Ray and Dask workers: wall time of a fan-out, start-up, per-child overhead.

Run from the repository root (prints a table; writes nothing):

    uv run python benchmarks/remote.py                  # Ray and Dask, SQLite store
    uv run python benchmarks/remote.py --engine dask --postgres "$ENACT_TEST_POSTGRES_URL"

For each engine, on 2 workers (Ray: ``ray.init(num_cpus=2)``; Dask: a
LocalCluster of 2 worker processes of one thread):

- start-up: the engine started and one task run on each worker (reported
  apart, not in the figures below);
- sleep fan-out: a tracked parent maps 200 children that each sleep 50 ms;
  wall time against the ideal 200 x 50 ms / 2 = 5 s, and the engine's own
  200 tasks that sleep 50 ms (through the same executor);
- per-child overhead: 200 trivial children (sleep 0) per run, per child,
  against 200 of the engine's own no-op tasks submitted through the same
  executor in the same run (the ratio is what enact adds: the request
  written, the task sent, the worker's tracked call and commit, the record
  read back).

Medians of ``--repeat`` runs. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # workers as plain processes

from remote_children import Fan, Nap, nap, noop  # noqa: E402

import enact  # noqa: E402

perf = time.perf_counter
CHILDREN = 200
NAP = 0.05
WORKERS = 2


@contextmanager
def ray_engine() -> Iterator[concurrent.futures.Executor]:
    import ray

    from enact_invoke.ray import RayExecutor

    ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    try:
        yield RayExecutor()
    finally:
        ray.shutdown()


@contextmanager
def dask_engine() -> Iterator[concurrent.futures.Executor]:
    import distributed

    from enact_invoke.dask import DaskExecutor

    cluster = distributed.LocalCluster(
        n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield DaskExecutor(client)
    finally:
        client.close()
        cluster.close()


def timed(fn: Callable[[], object]) -> float:
    start = perf()
    fn()
    return perf() - start


def engine_tasks(
    executor: concurrent.futures.Executor, fn: Callable[[float], object], arg: float
) -> None:
    futures = [executor.submit(fn, arg) for _ in range(CHILDREN)]
    for future in futures:
        future.result()


def bench(engine: str, store_url: str, repeat: int) -> dict[str, float]:
    factory = {"ray": ray_engine, "dask": dask_engine}[engine]
    start = perf()
    with factory() as executor:
        # Start-up: the engine, and a task on each worker (workers start lazily).
        for _ in range(3):
            list(concurrent.futures.as_completed([executor.submit(noop, i) for i in range(4)]))
        startup = perf() - start
        with enact.open_store(store_url), enact.executor(executor):
            Fan(Nap(0.0)).invoke(enact.Int(WORKERS * 2))  # Workers open the store.
            sleeps, engine_sleeps, trivial, engine_noop = [], [], [], []
            # (invoke never reuses an earlier run's calls: each run runs all.)
            for _ in range(repeat):
                sleeps.append(timed(lambda: Fan(Nap(NAP)).invoke(enact.Int(CHILDREN))))
                engine_sleeps.append(timed(lambda: engine_tasks(executor, nap, NAP)))
                trivial.append(timed(lambda: Fan(Nap(0.0)).invoke(enact.Int(CHILDREN))))
                engine_noop.append(timed(lambda: engine_tasks(executor, noop, 0)))
    return {
        "startup_s": startup,
        "sleep_s": statistics.median(sleeps),
        "engine_sleep_s": statistics.median(engine_sleeps),
        "child_ms": statistics.median(trivial) / CHILDREN * 1e3,
        "noop_ms": statistics.median(engine_noop) / CHILDREN * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["ray", "dask", "both"], default="both")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL store (default: SQLite)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engines = ["ray", "dask"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            os.environ["ENACT_STORE"] = args.postgres  # The workers' password.
            store_url = args.postgres
        else:
            store_url = f"sqlite:///{tmp}/remote.db"
        ideal = CHILDREN * NAP / WORKERS
        print(f"{CHILDREN} children, {WORKERS} workers, store {store_url.split(':')[0]}")
        print(
            f"{'engine':<6} {'start-up':>9} {'200x50ms':>9} {'/ideal':>7} {'engine':>8} "
            f"{'/ideal':>7} {'child':>9} {'no-op':>9} {'ratio':>6}"
        )
        for engine in engines:
            r = bench(engine, store_url, args.repeat)
            print(
                f"{engine:<6} {r['startup_s']:>8.1f}s {r['sleep_s']:>8.2f}s "
                f"{r['sleep_s'] / ideal:>6.2f}x {r['engine_sleep_s']:>7.2f}s "
                f"{r['engine_sleep_s'] / ideal:>6.2f}x {r['child_ms']:>7.2f}ms "
                f"{r['noop_ms']:>7.2f}ms {r['child_ms'] / r['noop_ms']:>5.1f}x",
                flush=True,
            )
        print(f"ideal 200x50ms on {WORKERS} workers: {ideal:.1f}s")


if __name__ == "__main__":
    main()
