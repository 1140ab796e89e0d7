"""Opening a 10,000-child run in `enact serve`, measured through its HTTP API.

    uv run python benchmarks/serve_tree.py            # 10,000 children, 10 repetitions
    uv run python benchmarks/serve_tree.py --children 2000 --reps 5

Records a run of N tracked child calls in an SQLite store on disk, starts
``python -m enact serve --port 0`` on it (a separate process that has not
imported the run's types, as a user's server would not), and times what the
page asks for to paint each view, over loopback:

- the runs list (``/api/runs``): the first paint of the start page;
- the call tree's top level (``/api/calls/D``): the run and its first page
  of 100 children, what the tree view paints first;
- the next page of children (``/api/calls/D?offset=100``);
- the run's call count (``/api/count/D``), which the runs list fills in
  afterwards: the whole tree walked once (cold), then remembered (warm);
- the diff of the run with a replay of it that re-ran one child.

Each is reported as time to first byte (request sent to status line and
headers received: the server writes a response only once it is complete, so
this is the server's work) and total time (body read), median and worst of
the repetitions, and payload size. The first request after the server starts
is reported separately (cold: nothing read yet), as the median over
``--cold`` fresh servers. Prints only; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import enact


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Square(enact.Invokable[enact.Int, enact.Int]):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(x * x)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class SumOfSquares(enact.Invokable[enact.Int, enact.Int]):
    def call(self, n: enact.Int) -> enact.Int:
        return enact.Int(sum(Square()(enact.Int(i)) for i in range(int(n))))


def record(path: Path, children: int) -> tuple[str, str]:
    """Records the run and a replay that re-ran one child; (run, replay) digests."""
    with enact.open_store(f"sqlite:///{path}", create=True) as store:
        run = SumOfSquares().invoke(enact.Int(children))
        ref = store.commit(run)
        store.tags["bench/run"] = ref
        partial = ref()
        with partial.response.modify() as response:
            response.output = None
            with (
                response.children[children // 2].modify() as child,
                child.response.modify() as child_response,
            ):
                child_response.output = None
        replay = store.commit(partial.replay())
        store.tags["bench/replay"] = replay
    store.close()
    return ref.digest, replay.digest


def timed(port: int, path: str) -> tuple[float, float, int]:
    """(seconds to first byte, seconds in all, body bytes) of one GET."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    first = time.perf_counter() - start
    body = response.read()
    total = time.perf_counter() - start
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return first, total, len(body)


def serve(cwd: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "enact", "serve", "--port", "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ENACT_STORE"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.match(r"enact serve: http://127\.0\.0\.1:(\d+)/", line)
    if found is None:
        process.kill()
        raise RuntimeError(f"enact serve did not start: {line!r}")
    return process, int(found[1])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=10, help="requests per server")
    parser.add_argument("--cold", type=int, default=3, help="fresh servers per view")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        started = time.perf_counter()
        run, replay = record(cwd / ".enact" / "store.db", args.children)
        print(
            f"recorded a run of {args.children:,} children and a replay of it "
            f"in {time.perf_counter() - started:.1f} s"
        )
        views = [
            ("runs list", "/api/runs"),
            ("tree: top level (run + 100 children)", f"/api/calls/{run}"),
            ("tree: next 100 children", f"/api/calls/{run}?offset=100&limit=100"),
            ("call count of the run", f"/api/count/{run}"),
            ("diff of the run and its replay", f"/api/diff?a={run}&b={replay}"),
            ("the page (index.html)", "/"),
        ]
        rows = []
        for label, path in views:
            # Fresh servers: the first request of each is a cold one.
            colds = []
            for _ in range(args.cold):
                process, port = serve(cwd)
                try:
                    colds.append(timed(port, path))
                    warm = [timed(port, path) for _ in range(args.reps)]
                finally:
                    process.send_signal(signal.SIGINT)
                    process.wait(timeout=60)
            cold = (
                statistics.median(c[0] for c in colds),
                statistics.median(c[1] for c in colds),
                colds[0][2],
            )
            rows.append((label, cold, warm))

    print()
    print(
        f"| view ({args.children:,} children) | first request (median of {args.cold}): "
        "TTFB / total | "
        f"then: median TTFB | worst TTFB | payload |"
    )
    print("|---|---|---|---|---|")
    for label, cold, warm in rows:
        print(
            f"| {label} | {ms(cold[0])} / {ms(cold[1])} | "
            f"{ms(statistics.median(w[0] for w in warm))} | {ms(max(w[0] for w in warm))} | "
            f"{size(cold[2])} |"
        )
    print()
    print("TTFB: request sent to headers received (the server sends a response once complete).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
