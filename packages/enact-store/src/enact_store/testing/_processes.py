"""Many threads and processes at once, and processes killed: nothing committed is lost."""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import threading
import uuid

import pytest

import enact_resource as er
import enact_store as es
from enact_store import _store as store_module
from enact_store.testing._children import WORKER
from enact_store.testing._factory import BackendFactory, needs, require
from enact_store.testing._resources import Box, own_resource, shared_resource

__all__ = ["ProcessTests"]

PROCESSES = 4
THREADS = 8
SHARED = 100  # resources every thread of every process commits
OWN = 5  # resources each thread alone commits (in one commit_many)
ROUNDS = 20
BATCH_THREADS = 8
BATCH_OWN = 120  # objects each thread alone commits
BATCH_SHARED = 30  # objects every thread commits too
BATCH_LIMIT = 64  # a batch is written every 64 objects: 15 times a run
BATCH_RUNS = 10
STRESS_THREADS = 4
STRESS_COMMITS = 1000
STRESS_SHARED = 100  # of each thread's commits, objects every thread commits too
PRINTED = 200  # digests to collect before the kill
TIMEOUT = 60  # seconds before a stuck child is killed and the test fails


def _run_workers(commands: list[list[str]]) -> list[str]:
    """Runs worker processes at once; returns what each printed (each must succeed)."""
    children = [
        subprocess.Popen(
            [*WORKER, *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for command in commands
    ]
    try:
        outputs = [child.communicate(timeout=TIMEOUT) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
    return [stdout for stdout, _ in outputs]


def _commit_until_killed(url: str, nonce: str) -> tuple[list[str], int, str]:
    """Runs a child that commits in a loop; SIGKILLs it after PRINTED digests."""
    child = subprocess.Popen(
        [*WORKER, "crash", url, nonce],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    watchdog = threading.Timer(TIMEOUT, child.kill)
    watchdog.start()
    digests: list[str] = []
    try:
        assert child.stdout is not None
        while len(digests) < PRINTED:
            line = child.stdout.readline()
            if not line:
                break
            digests.append(line.strip())
        # Without waiting for the child: it is killed mid-stride, most
        # likely in the middle of another commit.
        child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=TIMEOUT)
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    return digests, child.returncode, stderr


class ProcessTests:
    """Threads and processes share a store; a killed process loses nothing it committed."""

    def test_concurrent_processes_and_threads_lose_no_object_or_tag(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "url")
        url = backend_factory.url or ""
        # The workers also race to create the store: nothing exists yet.
        outputs = _run_workers(
            [
                ["concurrent", url, *(str(n) for n in (process, THREADS, SHARED, OWN))]
                for process in range(PROCESSES)
            ]
        )
        assert [output.strip() for output in outputs] == ["done"] * PROCESSES

        expected = {er.digest(shared_resource(i)) for i in range(SHARED)} | {
            er.digest(own_resource(p, t, j))
            for p in range(PROCESSES)
            for t in range(THREADS)
            for j in range(OWN)
        }
        store = es.Store(backend_factory())
        assert all(store.has(es.Ref(digest)) for digest in expected)
        with store:
            for digest in expected:
                es.Ref(digest).get()  # read and verified through a fresh ref
        needs(store.backend, "listing")
        assert set(store.backend.iter_digests()) == expected
        tags = dict(store.tags)
        assert set(tags) == (
            {"shared"}
            | {f"p{p}/t{t}" for p in range(PROCESSES) for t in range(THREADS)}
            | {f"own/p{p}-t{t}" for p in range(PROCESSES) for t in range(THREADS)}
        )
        assert {ref.digest for ref in tags.values()} <= expected
        for p in range(PROCESSES):
            for t in range(THREADS):
                assert tags[f"own/p{p}-t{t}"].digest == er.digest(own_resource(p, t, OWN - 1))

    def test_two_processes_see_each_others_work_through_tags(
        self, backend_factory: BackendFactory
    ) -> None:
        # One process writes and tags a message, the other reads it by tag and
        # answers with an object that refers to it, twenty times in turn.
        require(backend_factory, "url")
        url = backend_factory.url or ""
        outputs = _run_workers([["pong", url, str(ROUNDS)], ["ping", url, str(ROUNDS)]])
        assert [output.strip() for output in outputs] == ["done", "done"]

        store = es.Store(backend_factory())
        with store:
            last = store.tags["pong"].get()
            assert last.label == f"pong {ROUNDS - 1}"
            assert last.children == [store.tags["ping"]]
        needs(store.backend, "listing")
        assert len(list(store.backend.iter_digests())) == 2 * ROUNDS

    @pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
    def test_committed_objects_survive_sigkill_of_the_committing_process(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "url")
        nonce = uuid.uuid4().hex

        digests, returncode, stderr = _commit_until_killed(backend_factory.url or "", nonce)

        assert len(digests) == PRINTED, f"child stopped early (exit {returncode}):\n{stderr}"
        assert returncode == -signal.SIGKILL
        store = es.Store(backend_factory())
        with store:
            for i, digest in enumerate(digests):
                resource: Box = es.Ref(digest).get()  # a fresh ref: read and verified
                assert resource.value["nonce"] == nonce
                assert resource.value["i"] == i
            # No partially written object is visible either: every object
            # the store lists (including any being written at the kill) verifies.
            needs(store.backend, "listing")
            listed = list(store.backend.iter_digests())
            assert set(digests) <= set(listed)
            for digest in listed:
                store.load(es.Ref(digest))

    def test_threads_sharing_a_batch_lose_no_object(
        self, backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Threads started with a copy of the context (as asyncio.to_thread
        # does) share the batch of the thread that opened it: whichever
        # thread makes it reach its size limit writes it while the others
        # keep adding to it. A small limit makes those writes frequent
        # without many objects.
        monkeypatch.setattr(store_module, "BATCH_LIMIT", BATCH_LIMIT)
        store = es.Store(backend_factory())
        committed: set[str] = set()
        unseen: list[str] = []  # refs a thread could not read back at once

        def work(run: int, thread: int, start: threading.Barrier) -> None:
            start.wait()
            for i in range(BATCH_OWN):
                ref = store.commit(own_resource(run, thread, i))
                committed.add(ref.digest)
                if i % 50 == 0 and not store.has(ref):
                    unseen.append(ref.digest)
                if i < BATCH_SHARED:
                    committed.add(store.commit(shared_resource(run * BATCH_SHARED + i)).digest)

        # On backends that do not batch (each commit is written at once) one
        # run checks the same promise; the batching ones get the many runs
        # races need.
        runs = BATCH_RUNS if store.backend.batches_commits else 1
        for run in range(runs):
            with store.batch():
                start = threading.Barrier(BATCH_THREADS)
                threads = [
                    threading.Thread(
                        target=contextvars.copy_context().run, args=(work, run, t, start)
                    )
                    for t in range(BATCH_THREADS)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

        assert not unseen
        assert len(committed) == runs * (BATCH_THREADS * BATCH_OWN + BATCH_SHARED)
        fresh = es.Store(backend_factory())  # a new process's view of the same location
        assert all(fresh.has(es.Ref(digest)) for digest in committed)
        needs(fresh.backend, "listing", "tags")
        assert set(fresh.backend.iter_digests()) == committed
        report = fresh.verify()  # reads every object back and checks its digest
        assert report.ok, report
        assert report.checked == len(committed)

    def test_a_thread_committing_after_its_batch_ended_writes_its_objects(
        self, backend_factory: BackendFactory
    ) -> None:
        store = es.Store(backend_factory())
        go = threading.Event()
        refs: list[es.Ref[er.ResourceBase]] = []

        def late() -> None:
            go.wait()
            refs.extend(store.commit(own_resource(0, 0, i)) for i in range(3))

        with store.batch():
            thread = threading.Thread(target=contextvars.copy_context().run, args=(late,))
            thread.start()
        go.set()  # the batch has ended: the thread commits into its copy of the context
        thread.join()

        fresh = es.Store(backend_factory())
        assert all(fresh.has(ref) for ref in refs)
        assert len(refs) == 3

    def test_one_store_used_by_four_threads_at_once_loses_and_confuses_nothing(
        self, backend_factory: BackendFactory
    ) -> None:
        # commit, get and tags from many threads at once, on one Store object
        # (no batch: each commit is written, or kept, at once).
        store = es.Store(backend_factory())
        needs(store.backend, "tags")
        errors: list[BaseException] = []
        committed: list[set[str]] = [set() for _ in range(STRESS_THREADS)]

        def work(thread: int, start: threading.Barrier) -> None:
            try:
                start.wait()
                for j in range(STRESS_COMMITS):
                    resource = (
                        shared_resource(j)
                        if j < STRESS_SHARED
                        else own_resource(STRESS_THREADS, thread, j)
                    )
                    ref = store.commit(resource)
                    committed[thread].add(ref.digest)
                    if j % 10 == 0:
                        # Read back through a fresh ref (no cached data): the stored object.
                        assert store.get(es.Ref[Box](ref.digest)) == resource
                        store.tags[f"t{thread}/latest"] = ref
                        assert store.tags[f"t{thread}/latest"] == ref
            except BaseException as e:
                errors.append(e)

        start = threading.Barrier(STRESS_THREADS)
        workers = [threading.Thread(target=work, args=(t, start)) for t in range(STRESS_THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        assert not errors, errors
        expected = set().union(*committed)
        assert len(expected) == STRESS_SHARED + STRESS_THREADS * (STRESS_COMMITS - STRESS_SHARED)
        fresh = es.Store(backend_factory())  # a new process's view of the same location
        assert all(fresh.has(es.Ref(digest)) for digest in expected)
        with fresh:
            for thread in range(STRESS_THREADS):
                last = own_resource(STRESS_THREADS, thread, STRESS_COMMITS - 10)
                assert fresh.tags[f"t{thread}/latest"].get() == last
        needs(fresh.backend, "listing")
        assert set(fresh.backend.iter_digests()) == expected
        report = fresh.verify()  # reads every object back and checks its digest
        assert report.ok, report

    def test_a_background_batch_writes_every_object_and_each_stays_readable(
        self, backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Store.batch(background=True): the writes of a full batch are done by
        # a writer thread while commits go on; nothing is lost, every object
        # is readable at every instant, and the end of the block writes the rest.
        monkeypatch.setattr(store_module, "BATCH_LIMIT", BATCH_LIMIT)
        store = es.Store(backend_factory())
        refs: list[es.Ref[Box]] = []
        with store.batch(background=True):
            for i in range(20 * BATCH_LIMIT):
                ref = store.commit(own_resource(0, 0, i))
                refs.append(ref)
                if i % 7 == 0:
                    assert store.has(refs[i // 2])  # pending, being written, or written
        assert len({ref.digest for ref in refs}) == len(refs)
        fresh = es.Store(backend_factory())
        assert all(fresh.has(ref) for ref in refs)
        needs(fresh.backend, "listing")
        assert set(fresh.backend.iter_digests()) == {ref.digest for ref in refs}
