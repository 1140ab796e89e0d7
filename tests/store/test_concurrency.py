"""Many processes and threads writing to one persistent store lose nothing."""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _store_testlib import BackendFactory, own_resource, shared_resource

import enact_resource as er
import enact_store as es
import enact_store._store as es_store_module

WORKER = Path(__file__).with_name("_store_worker.py")
PROCESSES = 4
THREADS = 8
SHARED = 100  # resources every thread of every process commits
OWN = 5  # resources each thread alone commits (in one commit_many)


def test_concurrent_processes_and_threads_lose_no_object_or_tag(
    persistent_factory: BackendFactory,
) -> None:
    factory = persistent_factory
    # The workers also race to create the store: nothing exists yet.
    children = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "concurrent", factory.url]
            + [str(n) for n in (process, THREADS, SHARED, OWN)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for process in range(PROCESSES)
    ]
    try:
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
        assert stdout.strip() == "done"

    expected = {er.digest(shared_resource(i)) for i in range(SHARED)} | {
        er.digest(own_resource(p, t, j))
        for p in range(PROCESSES)
        for t in range(THREADS)
        for j in range(OWN)
    }
    store = es.Store(factory())
    assert set(store.backend.iter_digests()) == expected
    with store:
        for digest in expected:
            es.Ref(digest).get()  # read and verified through a fresh ref

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


ROUNDS = 20


def test_two_processes_see_each_others_work_through_tags(
    persistent_factory: BackendFactory,
) -> None:
    # One process writes and tags a message, the other reads it by tag and
    # answers with an object that refers to it, twenty times in turn.
    children = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, persistent_factory.url, str(ROUNDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for mode in ("pong", "ping")
    ]
    try:
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
        assert stdout.strip() == "done"

    store = es.Store(persistent_factory())
    with store:
        last = store.tags["pong"].get()
        assert last.label == f"pong {ROUNDS - 1}"
        assert last.children == [store.tags["ping"]]
    assert len(list(store.backend.iter_digests())) == 2 * ROUNDS


BATCH_THREADS = 8
BATCH_OWN = 120  # objects each thread alone commits
BATCH_SHARED = 30  # objects every thread commits too
BATCH_LIMIT = 64  # a batch is written every 64 objects: 15 times a run
BATCH_RUNS = 10


def test_threads_sharing_a_batch_lose_no_object(
    backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Threads started with a copy of the context (as asyncio.to_thread does)
    # share the batch of the thread that opened it: whichever thread makes it
    # reach its size limit writes it while the others keep adding to it. A
    # small limit makes those writes frequent without many objects (reading
    # them all back is slow on PostgreSQL).
    monkeypatch.setattr(es_store_module, "BATCH_LIMIT", BATCH_LIMIT)
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

    # On backends that do not batch (each commit is written at once) one run
    # checks the same promise; the batching ones get the many runs races need.
    for run in range(BATCH_RUNS if store.backend.batches_commits else 1):
        with store.batch():
            start = threading.Barrier(BATCH_THREADS)
            threads = [
                threading.Thread(target=contextvars.copy_context().run, args=(work, run, t, start))
                for t in range(BATCH_THREADS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    assert not unseen
    runs = BATCH_RUNS if store.backend.batches_commits else 1
    assert len(committed) == runs * (BATCH_THREADS * BATCH_OWN + BATCH_SHARED)
    fresh = es.Store(backend_factory())  # a new process's view of the same location
    assert set(fresh.backend.iter_digests()) == committed
    report = fresh.verify()  # reads every object back and checks its digest
    assert report.ok, report
    assert report.checked == len(committed)


def test_a_thread_committing_after_its_batch_ended_writes_its_objects(
    backend_factory: BackendFactory,
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


STRESS_THREADS = 4
STRESS_COMMITS = 1000
STRESS_SHARED = 100  # of each thread's commits, objects every thread commits too


def test_one_store_used_by_four_threads_at_once_loses_and_confuses_nothing(
    backend_factory: BackendFactory,
) -> None:
    # Issue 13 rule 6: commit, get and tags from many threads at once, on one
    # Store object (no batch: each commit is written, or kept, at once).
    store = es.Store(backend_factory())
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
                    assert store.get(es.Ref(ref.digest)) == resource
                    store.tags[f"t{thread}/latest"] = ref
                    assert store.tags[f"t{thread}/latest"] == ref
        except BaseException as e:
            errors.append(e)

    start = threading.Barrier(STRESS_THREADS)
    threads = [threading.Thread(target=work, args=(t, start)) for t in range(STRESS_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    expected = set().union(*committed)
    assert len(expected) == STRESS_SHARED + STRESS_THREADS * (STRESS_COMMITS - STRESS_SHARED)
    fresh = es.Store(backend_factory())  # a new process's view of the same location
    assert set(fresh.backend.iter_digests()) == expected
    report = fresh.verify()  # reads every object back and checks its digest
    assert report.ok, report
    with fresh:
        for thread in range(STRESS_THREADS):
            last = own_resource(STRESS_THREADS, thread, STRESS_COMMITS - 10)
            assert fresh.tags[f"t{thread}/latest"].get() == last


def test_a_background_batch_writes_every_object_and_each_stays_readable(
    backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Store.batch(background=True): the writes of a full batch are done by a
    # writer thread while commits go on; nothing is lost, every object is
    # readable at every instant, and the end of the block writes the rest.
    monkeypatch.setattr(es_store_module, "BATCH_LIMIT", BATCH_LIMIT)
    store = es.Store(backend_factory())
    refs: list[es.Ref[er.ResourceBase]] = []
    with store.batch(background=True):
        for i in range(20 * BATCH_LIMIT):
            ref = store.commit(own_resource(0, 0, i))
            refs.append(ref)
            if i % 7 == 0:
                assert store.has(refs[i // 2])  # pending, being written, or written
    assert len({ref.digest for ref in refs}) == len(refs)
    fresh = es.Store(backend_factory())
    assert set(fresh.backend.iter_digests()) == {ref.digest for ref in refs}
