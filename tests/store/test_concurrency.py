"""Many processes and threads writing to one persistent store lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _store_testlib import BackendFactory, own_resource, shared_resource

import enact_resource as er
import enact_store as es

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
