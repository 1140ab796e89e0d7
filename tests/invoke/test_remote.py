"""enact.executor and enact.map with children run in other processes (issue 18).

Real engines: a process pool (spawned workers), a local Ray instance
(``ray.init(num_cpus=2)``) and a Dask LocalCluster with 2 worker processes,
each against an SQLite file and PostgreSQL, each started once for the module
and stopped at its end. A test that needs an engine that is not installed
fails in CI and is skipped elsewhere. The module runs on one pytest-xdist
worker (its xdist group), so a session starts each engine once.

The workers import the children from ``_remote_children`` (this folder is put
on their PYTHONPATH). They get the PostgreSQL password from their own
environment (``ENACT_STORE``, set while the engines start), never from a task.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import enact

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _remote_children import (  # noqa: E402
    CatchEach,
    CatchValueError,
    Fails,
    FanOut,
    Nested,
    Sample,
    Sleepy,
    Square,
    SubmitEach,
    set_environment,
)
from _store_testlib import IN_CI, POSTGRES_URL_VAR, BackendFactory, postgres_url  # noqa: E402

# One xdist worker runs this module: one Ray instance and one Dask cluster in all.
pytestmark = [pytest.mark.xdist_group("engines"), pytest.mark.slow]

# Children per run on Ray and Dask (lean: the suite runs on three Pythons in CI).
N = 200


# --- Engines (one of each for the module). ---
#
# Module-scoped, not session-scoped: stopped when the module ends, so that
# their threads in this process (the Dask scheduler's event loop and its gc
# callbacks, Ray's driver threads) do not run during the worker's later tests,
# where they made cyclic garbage that tests/invoke/test_reference_cycles.py
# counted and calls that tests/invoke/test_replay_cost.py counted. (The
# engines' group runs first under xdist: it is the largest unit of work.)


# The workers' PostgreSQL sessions are named apart from the tests' own
# ("enact-store"), which tests/store count: a worker killed here, ending its
# sessions, must not look like a test's session ended (tests run in parallel).
WORKER_APPLICATION = "enact-test-worker"
WORKER_VARIABLES = ("PYTHONPATH", "ENACT_STORE", "PGAPPNAME")


@contextlib.contextmanager
def _worker_environment() -> Iterator[None]:
    """The environment workers are started with: this folder importable, and the
    PostgreSQL password in ENACT_STORE (restored afterwards: the CLI reads it)."""
    saved = {name: os.environ.get(name) for name in WORKER_VARIABLES}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [saved["PYTHONPATH"]])])
    if os.environ.get(POSTGRES_URL_VAR):
        os.environ["ENACT_STORE"] = os.environ[POSTGRES_URL_VAR]
    os.environ["PGAPPNAME"] = WORKER_APPLICATION
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _need(module: str, extra: str) -> Any:
    """Imports an engine: a failure in CI (it must be tested there), a skip elsewhere."""
    try:
        return __import__(module)
    except ImportError as e:
        message = (
            f"{module} is not installed for Python {sys.version_info.major}."
            f"{sys.version_info.minor} ({e}); install enact-invoke[{extra}]"
        )
        if IN_CI:
            pytest.fail(f"CI must run the {extra} tests: {message}")
        pytest.skip(message)


def _environment() -> dict[str, str]:
    return {name: os.environ[name] for name in WORKER_VARIABLES if name in os.environ}


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[concurrent.futures.Executor]:
    """A RayExecutor on a local Ray instance with 2 CPUs."""
    ray = _need("ray", "ray")
    from enact_invoke.ray import RayExecutor

    # Workers started as plain processes of this environment (not `uv run`).
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    with _worker_environment():
        # On a loaded machine Ray's raylet may miss its 30 s start-up deadline:
        # it is tried again (up to three tries), after cleaning up.
        for attempt in range(3):
            try:
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                break
            except Exception:
                ray.shutdown()
                if attempt == 2:
                    raise
    try:
        yield RayExecutor()
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[concurrent.futures.Executor]:
    """A DaskExecutor on a LocalCluster of 2 worker processes of one thread each."""
    distributed = _need("distributed", "dask")
    from enact_invoke.dask import DaskExecutor

    with _worker_environment():
        env = {
            name: os.environ[name] for name in ("PYTHONPATH", "ENACT_STORE") if name in os.environ
        }
        # The nannies (in this process) start a new worker after one is
        # killed: `env` gives it the same environment.
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env=env
        )
    client = distributed.Client(cluster)
    try:
        yield DaskExecutor(client)
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def process_pool() -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """A pool of 2 spawned processes (spawn: no fork of a threaded process)."""
    with _worker_environment():
        env = {
            name: os.environ[name] for name in ("PYTHONPATH", "ENACT_STORE") if name in os.environ
        }
    pool = concurrent.futures.ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=set_environment,
        initargs=(env,),
    )
    yield pool
    pool.shutdown()


ENGINES = ["process", "ray", "dask"]
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> concurrent.futures.Executor:
    """Each engine in turn."""
    name = {"process": "process_pool", "ray": "ray_executor", "dask": "dask_executor"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


@pytest.fixture(params=BACKENDS)
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[enact.Store]:
    """A store that workers can open: an SQLite file, a PostgreSQL schema."""
    if request.param == "postgres":
        _postgres_url()
    factory = BackendFactory(request.param, tmp_path)
    with enact.Store(factory()) as store:
        yield store
    factory.close_all()


def _postgres_url() -> str:
    """The test server's URL: a failure in CI without one, a skip elsewhere."""
    if not os.environ.get(POSTGRES_URL_VAR) and not IN_CI:
        pytest.skip(f"{POSTGRES_URL_VAR} is not set: no PostgreSQL server to test against")
    return postgres_url()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# --- The fan-out: same record as inline, replay sends nothing. ---


def test_fan_out_records_what_inline_records_and_replay_runs_nothing_remotely(
    engine: concurrent.futures.Executor, shared_store: enact.Store, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    parent = FanOut(Square(log=str(log)))
    inline = parent.invoke(enact.Int(N))
    assert len(_lines(log)) == N
    with enact.executor(engine):
        remote = parent.invoke(enact.Int(N))
        ran = _lines(log)[N:]
        # Every child ran once, in a worker process; positions follow the inputs.
        assert sorted(int(line.split()[0]) for line in ran) == list(range(N))
        assert {int(line.split()[1]) for line in ran}.isdisjoint({os.getpid()})
        assert enact.digest(remote) == enact.digest(inline)
        assert [int(c.get_output()) for c in remote.get_children()] == [i * i for i in range(N)]
        replayed = remote.replay()
    assert enact.digest(replayed) == enact.digest(remote)
    assert len(_lines(log)) == 2 * N  # The replay sent nothing to a worker.
    assert shared_store.verify().ok


def test_submitted_children_take_positions_in_submit_order(
    process_pool: concurrent.futures.Executor, shared_store: enact.Store
) -> None:
    with enact.executor(process_pool):
        remote = SubmitEach(Square()).invoke(enact.Int(30))
    inline = SubmitEach(Square()).invoke(enact.Int(30))
    assert [int(c.request().input()) for c in remote.get_children()] == list(range(30))
    assert enact.digest(remote) == enact.digest(inline)


def test_partial_replay_sends_only_the_calls_without_output(
    process_pool: concurrent.futures.Executor, shared_store: enact.Store, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    with enact.executor(process_pool):
        first = FanOut(Nested(log=str(log))).invoke(enact.Int(6))
        assert len(_lines(log)) == 6 * 3
        # Forget the outputs of children 1 and 4 (not their own children's) and the sum.
        with first.response.modify() as response:
            response.output = None
            for position in (1, 4):
                with (
                    response.children[position].modify() as child,
                    child.response.modify() as recorded,
                ):
                    recorded.output = None
        replayed = first.replay()
    assert int(replayed.get_output()) == sum(i * i + (i + 1) * (i + 1) for i in range(6))
    # Only children 1 and 4 ran again, in workers, and reused their own children.
    again = _lines(log)[6 * 3 :]
    assert sorted(line.split()[:2] for line in again) == [["nested", "1"], ["nested", "4"]]
    assert {int(line.split()[2]) for line in again}.isdisjoint({os.getpid()})
    assert [c.response().children for c in replayed.get_children()] == [
        c.response().children for c in first.get_children()
    ]


def test_two_calls_with_one_request_are_two_samples(
    engine: concurrent.futures.Executor, shared_store: enact.Store
) -> None:
    with enact.executor(engine):
        invocation = FanOut(Sample()).invoke(enact.Int(0))
        outputs = enact.map(Sample(), [7] * 6)
    assert invocation.get_output() == 0
    assert len(set(outputs)) == 6  # Six samples, none merged by the engine.


def test_a_child_exception_is_recorded_in_that_child_and_raised_to_the_parent(
    process_pool: concurrent.futures.Executor, shared_store: enact.Store
) -> None:
    with enact.executor(process_pool):
        caught = CatchEach(Fails()).invoke(enact.Int(6))
        failed = FanOut(Fails()).invoke(enact.Int(4))
    assert int(caught.get_output()) == 3
    children = caught.get_children()
    assert [c.successful() for c in children] == [True, False] * 3
    assert "ValueError: odd input 1" in str(children[1].get_raised())
    # Not caught: the parent's record points at the child's exception.
    assert not failed.successful()
    assert not failed.get_raised_here()
    assert failed.response().raised == failed.get_children()[1].response().raised


def test_a_remote_child_raises_the_original_exception_in_the_parent(
    process_pool: concurrent.futures.Executor, shared_store: enact.Store
) -> None:
    with enact.executor(process_pool):
        assert CatchValueError().invoke(enact.Int(3)).get_output() == 1


def test_a_memory_store_is_refused_before_any_call_starts(
    process_pool: concurrent.futures.Executor, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    with enact.Store(), enact.executor(process_pool):
        with pytest.raises(enact.StoreNotShared, match="in-memory store"):
            FanOut(Square(log=str(log))).invoke(enact.Int(3))
        with pytest.raises(enact.StoreNotShared, match="in-memory store"):
            SubmitEach(Square(log=str(log))).invoke(enact.Int(2))
    assert not log.exists()


def test_thread_pools_and_untracked_calls_need_no_shared_store(
    process_pool: concurrent.futures.Executor,
) -> None:
    with enact.Store():
        with concurrent.futures.ThreadPoolExecutor(2) as threads, enact.executor(threads):
            recorded = FanOut(Square()).invoke(enact.Int(5))
        inline = FanOut(Square()).invoke(enact.Int(5))
        assert enact.digest(recorded) == enact.digest(inline)
        with enact.executor(process_pool):
            assert enact.map(Square(), [1, 2, 3]) == [1, 4, 9]  # Untracked: no store.


def test_executor_refuses_what_is_not_an_executor() -> None:
    with (
        pytest.raises(enact.InvokableTypeError, match=r"concurrent\.futures\.Executor"),
        enact.executor(object()),  # type: ignore[arg-type]
    ):
        pass


# --- Credentials stay out of tasks. ---


class _Recording(concurrent.futures.Executor):
    """Sends tasks to a process pool, keeping each task as pickled."""

    def __init__(self, pool: concurrent.futures.Executor) -> None:
        self.pool = pool
        self.sent: list[bytes] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.sent.append(pickle.dumps((fn, args, kwargs)))
        return self.pool.submit(fn, *args, **kwargs)


def test_tasks_carry_no_password_and_workers_take_it_from_their_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _postgres_url()
    password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert password
    factory = BackendFactory("postgres", tmp_path)
    spawn = multiprocessing.get_context("spawn")
    try:
        with enact.Store(factory()):
            monkeypatch.setenv("PYTHONPATH", str(HERE))
            monkeypatch.setenv("PGAPPNAME", WORKER_APPLICATION)
            monkeypatch.delenv("PGPASSWORD", raising=False)
            monkeypatch.setenv("ENACT_STORE", url)
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
                recording = _Recording(pool)
                with enact.executor(recording):
                    invocation = FanOut(Square()).invoke(enact.Int(3))
            assert invocation.get_output() == 5
            assert len(recording.sent) == 3
            # (The password alone may be a common word: its place in a URL is looked for.)
            for secret in (url, f":{password}@", f"password={password}"):
                assert not any(secret.encode() in task for task in recording.sent)
            # A worker without the password records the call as RemoteCallError.
            monkeypatch.delenv("ENACT_STORE")
            with (
                concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool,
                enact.executor(pool),
            ):
                failed = FanOut(Square()).invoke(enact.Int(1))
            raised = failed.get_children()[0].get_raised()
            assert isinstance(raised, enact.RemoteCallError)
            assert "ENACT_STORE" in str(raised)
            assert f":{password}@" not in str(raised)
    finally:
        factory.close_all()


# --- Workers killed mid-run. ---


def _kill_when_started(pid_file: Path) -> None:
    for _ in range(6000):
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
            return
        time.sleep(0.05)
    raise AssertionError("the hanging child never started")


def _run_and_kill(
    executor: concurrent.futures.Executor, tmp_path: Path, n: int
) -> tuple[enact.Invocation[Any, Any], Path]:
    pid_file = tmp_path / "hang.pid"
    log = tmp_path / "ran.log"
    child = Sleepy(seconds=0.01, hang=7, pid_file=str(pid_file), log=str(log))
    killer = threading.Thread(target=_kill_when_started, args=(pid_file,))
    killer.start()
    with enact.executor(executor):
        invocation = FanOut(child).invoke(enact.Int(n))
    killer.join()
    return invocation, log


@pytest.fixture
def cluster_store(tmp_path: Path) -> Iterator[enact.Store]:
    """The store of a cluster: PostgreSQL (SQLite where no server is configured, not in CI)."""
    kind = "postgres" if os.environ.get(POSTGRES_URL_VAR) or IN_CI else "sqlite"
    factory = BackendFactory(kind, tmp_path)
    with enact.Store(factory()) as store:
        yield store
    factory.close_all()


def test_ray_worker_killed_mid_child_records_that_child_as_failed(
    ray_executor: concurrent.futures.Executor, cluster_store: enact.Store, tmp_path: Path
) -> None:
    invocation, log = _run_and_kill(ray_executor, tmp_path, 20)
    children = invocation.get_children()
    assert [c.successful() for c in children] == [i != 7 for i in range(20)]
    raised = children[7].get_raised()
    assert isinstance(raised, enact.RemoteCallError)
    assert "returned no record" in str(raised)
    assert not invocation.successful()  # map raised the child's error.
    assert cluster_store.verify().ok
    # A replay re-runs only the lost child (its pid file exists: no hang now).
    before = len(_lines(log))
    with enact.executor(ray_executor):
        replayed = invocation.replay()
    assert replayed.get_output() == sum(range(20))
    assert [line.split()[0] for line in _lines(log)[before:]] == ["7"]
    assert cluster_store.verify().ok


def test_dask_worker_killed_mid_child_is_rerun_by_dask(
    dask_executor: concurrent.futures.Executor, cluster_store: enact.Store, tmp_path: Path
) -> None:
    invocation, log = _run_and_kill(dask_executor, tmp_path, 20)
    assert invocation.get_output() == sum(range(20))
    runs: dict[int, int] = {}
    for line in _lines(log):
        runs[int(line.split()[0])] = runs.get(int(line.split()[0]), 0) + 1
    assert sorted(runs) == list(range(20))
    assert runs[7] == 2  # Killed once, re-run once by Dask.
    assert cluster_store.verify().ok


def test_process_pool_worker_killed_mid_child_records_each_unfinished_call(
    tmp_path: Path,
) -> None:
    # A process pool whose worker dies is broken: every call it had not
    # finished is recorded as RemoteCallError; the finished ones keep their
    # records, and a replay on a new pool re-runs only the others.
    factory = BackendFactory("sqlite", tmp_path)
    spawn = multiprocessing.get_context("spawn")
    with enact.Store(factory()) as store:
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool:
            invocation, log = _run_and_kill(pool, tmp_path, 20)
        children = invocation.get_children()
        lost = [i for i, c in enumerate(children) if not c.successful()]
        assert 7 in lost
        for i in lost:
            assert isinstance(children[i].get_raised(), enact.RemoteCallError)
        assert [int(c.get_output()) for c in children if c.successful()] == [
            i for i in range(20) if i not in lost
        ]
        assert store.verify().ok
        before = len(_lines(log))
        with (
            concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool,
            enact.executor(pool),
        ):
            replayed = invocation.replay()
        assert replayed.get_output() == sum(range(20))
        assert sorted(int(line.split()[0]) for line in _lines(log)[before:]) == lost
    factory.close_all()


# --- Installation. ---


@pytest.mark.parametrize(
    ("module", "hides", "hint"),
    [
        ("enact_invoke.ray", "ray", "pip install 'enact-invoke[ray]'"),
        ("enact_invoke.dask", "distributed", "pip install 'enact-invoke[dask]'"),
    ],
)
def test_importing_an_engine_module_without_its_extra_says_what_to_install(
    module: str, hides: str, hint: str
) -> None:
    code = (
        f"import sys; sys.modules[{hides!r}] = None\n"
        f"try:\n    import {module}\n"
        "except ImportError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().endswith(hint)
    assert len(done.stdout.strip().splitlines()) == 1


SCRIPT = """
import concurrent.futures
import dataclasses
import multiprocessing

import enact


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Square(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(int(x) ** 2)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class SumOfSquares(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Int:
        return enact.Int(sum(enact.map(Square(), range(int(n)))))


if __name__ == "__main__":
    spawn = multiprocessing.get_context("spawn")
    with (
        enact.open_store("sqlite:///runs.db"),
        concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool,
        enact.executor(pool),
    ):
        print(SumOfSquares().invoke(enact.Int(10)).get_output())
"""


def test_a_script_sends_its_own_invokables_to_spawned_workers(tmp_path: Path) -> None:
    # A spawned worker imports the script as __mp_main__, not __main__: the
    # worker knows the classes by the script's names, so the records match.
    (tmp_path / "script.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "285\n"
