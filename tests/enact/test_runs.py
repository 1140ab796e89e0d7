"""Durable named runs (enact.run, resume, run_status, runs, fork, delete_run), on every backend.

The crash tests (SIGKILL at random points) are in test_run_crash.py.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _store_testlib import BackendFactory

import enact
import enact_store as es

CALLS: list[int] = []


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Square(enact.Invokable):
    def call(self, i: enact.Int) -> enact.Int:
        CALLS.append(int(i))
        return enact.Int(int(i) * int(i))


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class Squares(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Str:
        return enact.Str(",".join(str(int(Square()(enact.Int(i)))) for i in range(int(n))))


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


def test_a_finished_run_returns_the_same_record_and_runs_nothing(
    backend_factory: BackendFactory,
) -> None:
    with es.Store(backend_factory()) as store:
        first = enact.run("squares", Squares(), enact.Int(4))
        assert CALLS == [0, 1, 2, 3]
        assert first.get_output() == enact.Str("0,1,4,9")
        # The record is the one plain invoke() makes: runs add nothing to records.
        assert store.commit(first) == store.commit(Squares().invoke(enact.Int(4)))
        CALLS.clear()

        again = enact.run("squares", Squares(), enact.Int(4))

        assert CALLS == []
        assert store.commit(again).digest == store.commit(first).digest
        status = enact.run_status("squares")
        assert status.state == "done"
        assert status.invocation == store.commit(first)
        assert status.calls_done == 5  # Four children and the top-level call.
        assert [call.path for call in store.runs.calls("squares")] == ["", "0", "1", "2", "3"]
        assert [s.name for s in enact.runs()] == ["squares"]


def test_another_request_under_an_existing_name_raises_RunConflict(
    backend_factory: BackendFactory,
) -> None:
    with es.Store(backend_factory()):
        enact.run("squares", Squares(), enact.Int(2))
        with pytest.raises(enact.RunConflict, match="'squares' exists for another request"):
            enact.run("squares", Squares(), enact.Int(3))
        assert isinstance(enact.RunConflict("x"), ValueError)
        assert enact.run_status("squares").state == "done"


def test_fork_then_run_reruns_only_the_dropped_children(backend_factory: BackendFactory) -> None:
    with es.Store(backend_factory()) as store:
        done = enact.run("squares", Squares(), enact.Int(5))
        CALLS.clear()

        forked = enact.fork("squares", "again", rewind=2)
        assert forked.state == "interrupted"
        rerun = enact.run("again", Squares(), enact.Int(5))

        assert CALLS == [3, 4]
        assert store.commit(rerun) == store.commit(done)
        assert enact.run_status("squares").invocation == store.commit(done)  # Unchanged.
        with pytest.raises(enact.RunConflict, match="'again' exists"):
            enact.fork("squares", "again")


def test_a_run_that_lost_its_lease_to_a_forced_claim_raises_RunOwnershipLost(
    backend_factory: BackendFactory,
) -> None:
    store = es.Store(backend_factory())
    started: list[int] = []

    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class TakenOver(enact.Invokable):
        def call(self, i: enact.Int) -> enact.Int:
            started.append(int(i))
            if int(i) == 1:  # Another process takes the run over, here.
                outcome, _ = store.runs.claim(
                    "taken", request=None, owner="other", lease=30, force=True
                )
                assert outcome == "claimed"
            return i

    @enact.typed_invokable(enact.NoneResource, enact.Int)
    @dataclasses.dataclass
    class Loop(enact.Invokable):
        def call(self) -> enact.Int:
            for i in range(5):
                TakenOver()(enact.Int(i))
            return enact.Int(0)

    with store, pytest.raises(enact.RunOwnershipLost, match="taken over"):
        enact.run("taken", Loop())
    assert started == [0, 1]  # It stopped before it started another call.
    with store:
        status = enact.run_status("taken")
    assert status.owner == "other"
    assert status.calls_done == 1  # Only what the first owner finished before.


def test_runs_lists_nothing_on_a_fresh_store_and_deleting_a_run_keeps_gc_honest(
    backend_factory: BackendFactory,
) -> None:
    with es.Store(backend_factory()) as store:
        assert enact.runs() == []
        with pytest.raises(es.NotFound, match="No run named 'nope'"):
            enact.run_status("nope")
        with pytest.raises(es.NotFound, match="No run named 'nope'"):
            enact.resume("nope")
        record = enact.run("squares", Squares(), enact.Int(2))
        ref = store.commit(record)
        if backend_factory.kind != "memory":
            store.gc(grace_period=0)
            assert store.has(ref)  # Reachable from the run's name.
        enact.delete_run("squares")
        assert enact.runs() == []
        assert "runs/squares" not in store.tags
        with pytest.raises(es.NotFound):
            enact.delete_run("squares")


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Sum(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Int:
        return enact.Int(sum(int(Square()(enact.Int(i))) for i in range(int(n))))


def test_checkpoints_do_not_rewrite_the_runs_record_as_it_grows(
    backend_factory: BackendFactory,
) -> None:
    # A checkpoint per child that rewrote the partial record of the top-level
    # call (a new Response listing every child so far) would leave two
    # objects per child beside the records, and bytes growing with the
    # square of the children: a run must store what invoke() stores, and at
    # most a few partial heads more (the head moves now and then).
    children = 300
    with es.Store(backend_factory()) as plain:
        Sum().invoke(enact.Int(children))
        plain.flush()
        stored_by_invoke = len(list(plain.backend.iter_digests()))
    with es.Store(backend_factory()) as store:
        record = enact.run("sum", Sum(), enact.Int(children))
        stored_by_run = len(list(store.backend.iter_digests()))
        assert enact.run_status("sum").calls_done == children + 1
        assert [call.path for call in store.runs.calls("sum")] == [""] + [
            str(i) for i in range(children)
        ]
        assert record.get_output() == enact.Int(sum(i * i for i in range(children)))
    assert stored_by_invoke <= stored_by_run <= stored_by_invoke + 10


def test_runs_stored_before_steps_were_logged_are_read_and_kept(
    sql_factory: BackendFactory,
) -> None:
    # A store whose run tables an earlier build made: enact_runs without
    # head_seq, call times in enact_run_calls.
    first = es.Store(sql_factory())
    with first:
        old = enact.run("old", Squares(), enact.Int(3))
    first.close()
    CALLS.clear()
    sql = sql_factory.sql
    times = sql("SELECT path, started, finished FROM enact_run_steps WHERE name = 'old'")
    sql("DROP TABLE enact_run_steps")
    sql("ALTER TABLE enact_runs DROP COLUMN head_seq")
    sql(
        "CREATE TABLE enact_run_calls (name TEXT NOT NULL, path TEXT NOT NULL,"
        " started DOUBLE PRECISION NOT NULL, finished DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (name, path))"
    )
    for path, started, finished in times:
        sql("INSERT INTO enact_run_calls VALUES ('old', ?, ?, ?)", [path, started, finished])

    with es.Store(sql_factory()) as store:
        # Read as they were, without writing anything.
        assert [(status.name, status.state) for status in enact.runs()] == [("old", "done")]
        assert [call.path for call in store.runs.calls("old")] == ["", "0", "1", "2"]
        assert enact.run("old", Squares(), enact.Int(3)) == old
        assert CALLS == []
        # A new run adds what it needs (a column, a table) and leaves the old one be.
        enact.run("new", Squares(), enact.Int(2))
        assert CALLS == [0, 1]
        assert [status.name for status in enact.runs()] == ["new", "old"]
        assert [call.path for call in store.runs.calls("old")] == ["", "0", "1", "2"]
        assert [call.path for call in store.runs.calls("new")] == ["", "0", "1"]
        enact.delete_run("old")
    assert sql("SELECT count(*) FROM enact_run_calls") == [(0,)]


def test_a_backend_without_a_run_index_raises_UnsupportedOperation() -> None:
    class Bare(es.StorageBackend):
        def __init__(self) -> None:
            self.objects: dict[str, object] = {}

        def commit(self, packed: es.PackedResource[object]) -> None:
            self.objects[packed.ref.digest] = packed.data

        def has(self, ref: es.Ref[object]) -> bool:
            return ref.digest in self.objects

        def get(self, ref: es.Ref[object]) -> object:
            return self.objects.get(ref.digest)

    with es.Store(Bare()), pytest.raises(es.UnsupportedOperation, match="keeps no run index"):
        enact.run("squares", Squares(), enact.Int(2))


def test_a_changed_program_is_detected_on_resume(backend_factory: BackendFactory) -> None:
    with es.Store(backend_factory()):
        enact.run("squares", Squares(), enact.Int(3))
        enact.fork("squares", "changed", rewind=0)
        # The same request, but its child now computes another call.
        original = Squares.call
        Squares.call = lambda self, n: enact.Str(str(int(Square()(enact.Int(7)))))  # type: ignore[method-assign]
        try:
            with pytest.raises(enact.ReplayError):
                enact.resume("changed")
            assert enact.resume("changed", strict=False).get_output() == enact.Str("49")
        finally:
            Squares.call = original  # type: ignore[method-assign]


def test_sqlite_runs_are_read_from_a_read_only_store_that_is_never_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    es.Store(es.SqliteBackend(path)).close()
    reader = es.Store(es.SqliteBackend(path, read_only=True))
    with reader:
        assert enact.runs() == []  # No table yet: none listed, none made.
    writer = es.Store(es.SqliteBackend(path))
    with writer:
        enact.run("squares", Squares(), enact.Int(2))
    with reader:
        assert [status.state for status in enact.runs()] == ["done"]
    reader.close()
    writer.close()


# --- Two processes (SQLite and PostgreSQL). ---

_PROGRAM = textwrap.dedent(
    """
    import dataclasses
    import os
    import sys
    import time

    import enact

    URL, DIR, MODE = sys.argv[1:4]


    def note(text):
        with open(os.path.join(DIR, "log"), "a") as f:
            f.write(text + "\\n")


    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Step(enact.Invokable):
        def call(self, i):
            note(f"{MODE} {int(i)}")
            if int(i) == 1:  # Waits for the test's go-ahead.
                while not os.path.exists(os.path.join(DIR, "go")):
                    time.sleep(0.005)
            return i


    @enact.typed_invokable(enact.NoneResource, enact.Str)
    @dataclasses.dataclass
    class Job(enact.Invokable):
        def call(self):
            total = sum(int(Step()(enact.Int(i))) for i in range(4))
            answer = enact.request_input(enact.Str, context="proceed?")
            return enact.Str(f"{total} {answer}")


    store = enact.open_store(URL)
    with store:
        try:
            if MODE == "answer":
                record = enact.resume("job", answer="yes")
            else:
                record = enact.run("job", Job(), lease=float(sys.argv[4]), force=MODE == "force")
            print(enact.run_status("job").state, record.get_output() if record.successful() else "")
        except enact.EnactError as e:
            print(type(e).__name__)
    """
)


def _spawn(
    script: Path, url: str, work: Path, mode: str, lease: str = "30"
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), url, str(work), mode, lease],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _output(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out.strip()


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_one_writer_per_run_across_processes_and_a_forced_takeover(
    sql_factory: BackendFactory, tmp_path: Path
) -> None:
    script = tmp_path / "job.py"
    script.write_text(_PROGRAM)
    log = tmp_path / "log"
    lines = lambda: log.read_text().splitlines() if log.exists() else []  # noqa: E731
    first = _spawn(script, sql_factory.url, tmp_path, "first")
    _wait_for(lambda: "first 1" in lines(), "the first owner never reached its second step")

    # While the first owner holds the lease, a second process cannot run it.
    assert _output(_spawn(script, sql_factory.url, tmp_path, "second")) == "RunInProgress"

    # A forced takeover runs the rest (reusing step 0) and pauses for input...
    forcing = _spawn(script, sql_factory.url, tmp_path, "force")
    store = es.Store(sql_factory())

    def taken_over() -> bool:
        with store:
            return f":{forcing.pid}:" in enact.run_status("job").owner

    _wait_for(taken_over, "the forced takeover never claimed the run")
    store.close()
    (tmp_path / "go").touch()
    forced = _output(forcing)
    # ...and the first owner stops at its next checkpoint, before step 2.
    assert _output(first) == "RunOwnershipLost"
    assert forced == "waiting_input"
    assert lines().count("first 2") == 0
    assert "force 0" not in lines()  # Finished by the first owner: reused.

    # Another process answers it; the run completes.
    assert _output(_spawn(script, sql_factory.url, tmp_path, "answer")) == "done 6 yes"
    assert _output(_spawn(script, sql_factory.url, tmp_path, "again")) == "done 6 yes"


def test_a_dead_owners_lease_lapses_and_another_process_takes_over(
    sql_factory: BackendFactory, tmp_path: Path
) -> None:
    script = tmp_path / "job.py"
    script.write_text(_PROGRAM)
    log = tmp_path / "log"
    first = _spawn(script, sql_factory.url, tmp_path, "first", lease="1")
    _wait_for(lambda: log.exists() and "first 1" in log.read_text(), "no progress")
    first.kill()
    first.communicate()
    (tmp_path / "go").touch()
    store = es.Store(sql_factory())

    def lapsed() -> bool:
        with store:
            return enact.run_status("job").state == "interrupted"

    _wait_for(lapsed, "the dead owner's lease never lapsed")
    store.close()
    assert _output(_spawn(script, sql_factory.url, tmp_path, "second")) == "waiting_input"
    assert "second 0" not in log.read_text()


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class Threaded(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Str:
        with enact.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(Square(), enact.Int(i)) for i in range(int(n))]
            return enact.Str(",".join(str(int(f.result())) for f in futures))


def test_calls_run_in_threads_are_checkpointed_and_recorded_as_invoke_records_them(
    backend_factory: BackendFactory,
) -> None:
    with es.Store(backend_factory()) as store:
        record = enact.run("threads", Threaded(), enact.Int(12))

        assert sorted(CALLS) == list(range(12))
        assert store.commit(record) == store.commit(Threaded().invoke(enact.Int(12)))
        status = enact.run_status("threads")
        assert status.state == "done"
        assert status.calls_done == 13
        paths = [call.path for call in store.runs.calls("threads")]
        assert paths == ["", *(str(i) for i in range(12))]


def test_a_run_stopped_by_keyboardinterrupt_is_interrupted_and_run_resumes_it(
    backend_factory: BackendFactory,
) -> None:
    stop = [True]

    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Stoppable(enact.Invokable):
        def call(self, i: enact.Int) -> enact.Int:
            CALLS.append(int(i))
            if int(i) == 2 and stop[0]:
                raise KeyboardInterrupt
            return i

    @enact.typed_invokable(enact.NoneResource, enact.Int)
    @dataclasses.dataclass
    class Loop(enact.Invokable):
        def call(self) -> enact.Int:
            return enact.Int(sum(int(Stoppable()(enact.Int(i))) for i in range(4)))

    with es.Store(backend_factory()):
        with pytest.raises(KeyboardInterrupt):
            enact.run("stoppable", Loop())
        status = enact.run_status("stoppable")
        assert status.state == "interrupted"
        assert status.calls_done == 2
        stop[0] = False
        CALLS.clear()

        record = enact.run("stoppable", Loop())  # No force needed: it was released.

        assert CALLS == [2, 3]
        assert record.get_output() == enact.Int(6)


def test_resume_reruns_only_the_calls_of_a_run_that_raised(
    backend_factory: BackendFactory,
) -> None:
    fail = [True]

    @enact.typed_invokable(enact.Int, enact.Int)
    @dataclasses.dataclass
    class Flaky(enact.Invokable):
        def call(self, i: enact.Int) -> enact.Int:
            CALLS.append(int(i))
            if int(i) == 1 and fail[0]:
                raise ConnectionError("the service is down")
            return i

    @enact.typed_invokable(enact.NoneResource, enact.Int)
    @dataclasses.dataclass
    class Calls(enact.Invokable):
        def call(self) -> enact.Int:
            return enact.Int(sum(int(Flaky()(enact.Int(i))) for i in range(3)))

    with es.Store(backend_factory()):
        raised = enact.run("flaky", Calls())
        assert not raised.successful()
        assert enact.run_status("flaky").state == "raised"
        assert enact.run("flaky", Calls()) == raised  # run() returns a finished run's record.
        fail[0] = False
        CALLS.clear()

        record = enact.resume("flaky")

        assert CALLS == [1, 2]  # Child 0 reused; the child that raised re-ran.
        assert record.get_output() == enact.Int(3)
        assert enact.run_status("flaky").state == "done"
