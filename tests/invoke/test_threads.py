"""Tracked calls whose children run in threads lose nothing: threads that carry the
context (asyncio.to_thread, copy_context().run) are recorded; plain ones warn."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from _store_testlib import BackendFactory

import enact

CHILDREN = 640
RUNS = 4


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class ThreadedChild(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Str:
        return enact.Str(f"child {x}")


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class ThreadedFanOut(enact.Invokable):
    """Runs its children in parallel threads, the usual way to run LLM calls at once."""

    children: int

    def call(self, run: enact.Int) -> enact.Int:
        child = ThreadedChild()

        async def fan_out() -> list[enact.Str]:
            # to_thread runs each child in a copy of this context: the
            # children record themselves in this call's frame and batch.
            return await asyncio.gather(
                *(
                    asyncio.to_thread(child, enact.Int(run * self.children + i))
                    for i in range(self.children)
                )
            )

        return enact.Int(len(asyncio.run(fan_out())))


def test_children_run_in_threads_are_all_recorded_and_written(
    backend_factory: BackendFactory,
) -> None:
    store = enact.Store(backend_factory())
    # The races are in the batch of the SQL backends; on the others (each
    # commit written at once) one run checks the same promise.
    runs = RUNS if store.backend.batches_commits else 1
    with store:
        for run in range(runs):
            invocation = ThreadedFanOut(CHILDREN).invoke(enact.Int(run))
            assert invocation.get_output() == CHILDREN
            store.tags[f"run/{run}"] = enact.commit(invocation)

    fresh = enact.Store(backend_factory())  # a new process's view of the same location
    with fresh:
        for run in range(runs):
            children = fresh.tags[f"run/{run}"]().response().children
            assert len(set(children)) == CHILDREN  # none lost, none recorded twice
    report = fresh.verify()  # reads every object back: no ref dangles, none is corrupt
    assert report.ok, report
    assert report.checked >= runs * CHILDREN * 4  # each child's input, output, request, record


# --- Threads that do not carry the context (issue 13): a warning, once per place. ---


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class PlainPoolFanOut(enact.Invokable):
    """Runs children in a plain concurrent.futures pool: they lose the tracked call."""

    def call(self, n: enact.Int) -> enact.Int:
        with concurrent.futures.ThreadPoolExecutor(2) as executor:
            return enact.Int(sum(executor.map(Inc(), range(n))))


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class PlainThreadFanOut(enact.Invokable):
    """Runs a child in a plain threading.Thread, or in one given a copy of the context."""

    copy_context: bool

    def call(self, n: enact.Int) -> enact.Int:
        results: list[enact.Int] = []

        def work() -> None:
            results.append(Inc()(n))

        target = contextvars.copy_context().run if self.copy_context else work
        thread = threading.Thread(target=target, args=(work,) if self.copy_context else ())
        thread.start()
        thread.join()
        return results[0]


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class RunInExecutor(enact.AsyncInvokable):
    """loop.run_in_executor(None, ...) does not copy the context either."""

    async def call(self, n: enact.Int) -> enact.Int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, Inc(), n)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Inc(enact.Invokable):
    def call(self, x: enact.Int) -> enact.Int:
        return enact.Int(x + 1)


ADVICE = "enact.ThreadPoolExecutor, invokable.submit(...), asyncio.to_thread or contextvars"


def test_calls_in_a_plain_thread_pool_are_not_recorded_and_say_how_to_fix_it() -> None:
    with enact.Store():
        with pytest.warns(enact.UntrackedCallWarning) as warned:
            invocation = PlainPoolFanOut().invoke(enact.Int(4))
        assert invocation.get_output() == 1 + 2 + 3 + 4
        assert invocation.get_children() == []  # not recorded: the warning says so
    message = str(warned[0].message)
    assert message.startswith("Inc was called outside any tracked call, in a thread other ")
    assert "so it is not recorded" in message
    assert ADVICE in message


def test_a_call_in_a_plain_thread_warns_and_one_in_a_copied_context_is_recorded() -> None:
    with enact.Store():
        with pytest.warns(enact.UntrackedCallWarning, match="contextvars.copy_context"):
            lost = PlainThreadFanOut(copy_context=False).invoke(enact.Int(1))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # none here
            kept = PlainThreadFanOut(copy_context=True).invoke(enact.Int(1))
        assert lost.get_children() == []
        (child,) = kept.get_children()
        assert child.get_output() == 2


def test_run_in_executor_without_the_context_warns() -> None:
    with enact.Store():
        with pytest.warns(enact.UntrackedCallWarning):
            invocation = asyncio.run(RunInExecutor().invoke_async(enact.Int(1)))
        assert invocation.get_output() == 2
        assert invocation.get_children() == []


def test_untracked_calls_in_threads_warn_only_while_an_invocation_runs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with concurrent.futures.ThreadPoolExecutor(2) as executor:
            assert list(executor.map(Inc(), range(3))) == [1, 2, 3]
        with enact.Store():
            Inc().invoke(enact.Int(1))
            with concurrent.futures.ThreadPoolExecutor(2) as executor:
                assert list(executor.map(Inc(), range(3))) == [1, 2, 3]


def test_enact_pool_used_outside_any_tracked_call_does_not_warn() -> None:
    # Its calls are untracked on purpose, even while an invocation runs elsewhere.
    started, release = threading.Event(), threading.Event()

    @enact.typed_invokable(enact.NoneResource, enact.Int)
    @dataclasses.dataclass
    class Waits(enact.Invokable):
        def call(self) -> enact.Int:
            started.set()
            release.wait(10)
            return enact.Int(0)

    with enact.Store():
        running = threading.Thread(target=contextvars.copy_context().run, args=(Waits().invoke,))
        running.start()
        started.wait(10)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with enact.ThreadPoolExecutor(2) as executor:
                    assert list(executor.map(Inc(), range(3))) == [1, 2, 3]
            plain = concurrent.futures.ThreadPoolExecutor(2)
            with pytest.warns(enact.UntrackedCallWarning), plain:  # a plain pool still warns
                assert list(plain.map(Inc(), range(3))) == [1, 2, 3]
        finally:
            release.set()
            running.join()


LOST_CALLS = """
import concurrent.futures, dataclasses, enact

@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Inc(enact.Invokable):
    def call(self, x):
        return enact.Int(x + 1)

@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class PlainPoolFanOut(enact.Invokable):
    def call(self, n):
        with concurrent.futures.ThreadPoolExecutor(2) as executor:
            return enact.Int(sum(executor.map(Inc(), range(n))))

with enact.Store():
    for _ in range(3):
        PlainPoolFanOut().invoke(enact.Int(8))
print("done")
"""


def test_the_warning_is_shown_once_under_the_default_filter(tmp_path: Path) -> None:
    script = tmp_path / "lost.py"
    script.write_text(LOST_CALLS)
    result = subprocess.run(
        [sys.executable, "-W", "default", str(script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    assert result.stderr.count(": UntrackedCallWarning: ") == 1  # 24 calls lost, one warning


# --- Many threads running invocations on one store (issue 13 rule 6). ---


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class SmallFanOut(enact.Invokable):
    def call(self, n: enact.Int) -> enact.Int:
        return enact.Int(sum(Inc()(enact.Int(n * 100 + i)) for i in range(25)))


def test_four_threads_running_invocations_on_one_store_record_them_all(
    backend_factory: BackendFactory,
) -> None:
    store = enact.Store(backend_factory())
    refs: dict[int, enact.Ref[Any]] = {}
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            with store:
                for run in range(10):
                    n = thread * 10 + run
                    refs[n] = enact.commit(SmallFanOut().invoke(enact.Int(n)))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    fresh = enact.Store(backend_factory())
    assert fresh.verify().ok
    with fresh:
        for n, ref in refs.items():
            invocation = enact.Ref(ref.digest)()
            inputs = [child.request().input() for child in invocation.get_children()]
            assert inputs == [n * 100 + i for i in range(25)]
            assert invocation.get_output() == sum(n * 100 + i + 1 for i in range(25))


FORKED = """
import asyncio, dataclasses, os, signal, sys, enact

@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Inc(enact.Invokable):
    def call(self, x):
        return enact.Int(x + 1)

@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Submits(enact.Invokable):
    def call(self, n):
        return enact.Int(sum(f.result() for f in [Inc().submit(i) for i in range(n)]))

@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Many(enact.AsyncInvokable):
    async def call(self, n):
        return enact.Int(sum(await asyncio.gather(*(Lift()(enact.Int(i)) for i in range(n)))))

@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class Lift(enact.AsyncInvokable):
    async def call(self, x):
        return enact.Int(x + 1)

def run(tag):
    with enact.open_store(sys.argv[1]) as store:
        assert Submits().invoke(enact.Int(4)).get_output() == 10
        invocation = asyncio.run(Many().invoke_async(enact.Int(800)))  # > 2 full batches
        store.tags[tag] = enact.commit(invocation)

run("parent")  # starts the shared executor and the store's writer thread
pid = os.fork()
if pid == 0:
    signal.alarm(20)  # a hang (work given to a thread that was not forked) kills the child
    run("child")  # neither thread exists here: each is made again
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert status == 0, status
print("done")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_gets_its_own_executor_and_store_writer(tmp_path: Path) -> None:
    script = tmp_path / "forked.py"
    script.write_text(FORKED)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    result = subprocess.run(
        [sys.executable, str(script), url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    with enact.open_store(url) as store:
        assert store.tags["child"]().get_output() == store.tags["parent"]().get_output()
