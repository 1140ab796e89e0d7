"""A gc killed at any moment leaves a store where every object has everything it refers to.

A child process runs gc over a store holding a few thousand unreachable
objects in chains and trees (sharing children with each other and with what
is tagged); the test kills it with SIGKILL (and a few times with SIGINT, a
Ctrl-C) at random points of its run, most of them between or during its
deletion steps: atomic batches on SQL stores, and every other run (and
always on a file store) layer after layer, as on a backend without atomic
batches. After each kill: verify finds no dangling ref, nothing
tagged was deleted, the tagged trees copy into a new store and read back
whole, and unreachable trees copied back into the killed store (copy skips
what a store has, with everything it reaches) read back whole. Then the
deleted objects are put back and the next round kills gc again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _store_testlib import BackendFactory, Node, age_objects, object_file

import enact_store as es

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("_store_worker.py")
SIGKILLS = 20  # per backend
SIGINTS = 3
TIMEOUT = 120  # seconds before a stuck child is killed and the test fails
GRACE = 1_000.0
OLD = 10_000.0
CHAIN = 40  # objects per chain: gc needs at least this many deletion batches


def _build(store: es.Store) -> tuple[dict[str, es.Ref[Node]], list[es.Ref[Node]]]:
    """Tagged trees and unreachable chains and trees; returns (tags, unreachable roots)."""
    leaves = [store.commit(Node(f"leaf {i}", [])) for i in range(60)]

    def tree(label: str, fanout: int, depth: int, first_leaf: int) -> es.Ref[Node]:
        if depth == 0:
            return leaves[first_leaf % len(leaves)]
        return store.commit(
            Node(
                label,
                [
                    tree(f"{label}.{i}", fanout, depth - 1, first_leaf * fanout + i)
                    for i in range(fanout)
                ],
            )
        )

    tags = {f"kept/{t}": tree(f"kept {t}", 2, 4, t) for t in range(3)}
    garbage = [tree(f"garbage tree {t}", 3, 5, t) for t in range(12)]
    for c in range(24):
        ref = leaves[c]  # shared with the trees, tagged or not
        for i in range(CHAIN):
            ref = store.commit(Node(f"chain {c}.{i}", [ref]))
        garbage.append(ref)
    garbage.append(store.commit(Node("over a tagged tree", [tags["kept/0"]])))
    return tags, garbage


def _closure(store: es.Store, roots: list[es.Ref[Node]]) -> dict[str, Node]:
    """Reads every object the roots reach (through fresh refs, from the store)."""
    found: dict[str, Node] = {}
    stack = [root.digest for root in roots]
    with store:
        while stack:
            digest = stack.pop()
            if digest not in found:
                found[digest] = node = es.Ref[Node](digest).get()
                stack.extend(child.digest for child in node.children)
    return found


def _run_gc_and_kill(
    url: str, layered: bool, after: int | None, sig: int, delay: float
) -> tuple[int, bool, str]:
    """Runs gc in a child; sends ``sig`` once it reports ``after`` deletion steps (None: never).

    Returns (deletion steps it reported, whether it finished first, its stderr).
    """
    child = subprocess.Popen(
        [sys.executable, str(WORKER), "gc", url, str(GRACE), *(["layered"] if layered else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    watchdog = threading.Timer(TIMEOUT, child.kill)
    watchdog.start()
    batches = 0
    finished = False
    try:
        assert child.stdout is not None
        while True:
            line = child.stdout.readline()
            if not line or line.startswith("done"):
                finished = bool(line)
                break
            if line.startswith("deleted"):
                batches += 1
            if after is not None and line.startswith(("start", "deleted")) and batches >= after:
                threading.Event().wait(delay)  # into the next batch, maybe mid-transaction
                child.send_signal(sig)
                break
        _, stderr = child.communicate(timeout=TIMEOUT)
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    return batches, finished, stderr


class _Restorer:
    """Puts deleted objects back quickly, between kills (copy checks the store's state).

    SQL stores get them in one transaction; a file store gets hard links to
    a snapshot of its object files (no writing, no fsync).
    """

    def __init__(self, factory: BackendFactory, originals: dict[str, Node]) -> None:
        # No fsync per file: only gc is killed, never the test.
        self.backend = (
            es.FileBackend(factory.tmp_path / "file-store", durable=False)
            if factory.kind == "file"
            else factory()
        )
        self.originals = originals
        self.snapshot: Path | None = None
        if isinstance(self.backend, es.FileBackend):
            self.snapshot = factory.tmp_path / "snapshot"
            es.Store(es.FileBackend(self.snapshot, durable=False)).backend.commit_many(
                es.Ref.pack(node) for node in originals.values()
            )

    def restore(self) -> None:
        missing = set(self.originals) - set(self.backend.iter_digests())
        if isinstance(self.backend, es.FileBackend):
            assert self.snapshot is not None
            for digest in missing:
                target = object_file(self.backend.root_dir, digest)
                target.parent.mkdir(exist_ok=True)
                os.link(object_file(self.snapshot, digest), target)
        else:
            self.backend.commit_many(es.Ref.pack(self.originals[d]) for d in missing)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_gc_killed_at_random_points_never_leaves_a_dangling_ref(
    persistent_factory: BackendFactory,
) -> None:
    rng = random.Random(f"gc-kill-{persistent_factory.kind}")
    pristine = es.Store()
    tags, garbage_roots = _build(pristine)
    originals = _closure(pristine, [*tags.values(), *garbage_roots])
    kept = set(_closure(pristine, list(tags.values())))
    garbage = set(originals) - kept
    assert len(garbage) > 2000
    restorer = _Restorer(persistent_factory, originals)
    restorer.restore()
    store = es.Store(persistent_factory())
    for name, ref in tags.items():
        store.tags[name] = ref
    signals = [signal.SIGKILL] * SIGKILLS + [signal.SIGINT] * SIGINTS
    rng.shuffle(signals)
    # How many deletion steps a whole run reports: in batches of up to 500
    # objects deleted atomically, or (as on a backend that cannot, and on a
    # file store) in layers, parents first.
    steps = {}
    for layered in (False, True):
        age_objects(store.backend, set(originals), OLD)
        steps[layered], finished, stderr = _run_gc_and_kill(
            persistent_factory.url, layered, None, signal.SIGKILL, 0
        )
        assert finished, stderr
        assert set(store.backend.iter_digests()) == kept
        restorer.restore()
    assert steps[False] >= 2
    assert steps[True] >= CHAIN
    outcomes: list[tuple[str, bool, int, int]] = []  # (signal, layered, steps, deleted)

    for i, sig in enumerate(signals):
        # Whatever is there was written long ago: gc may delete the garbage.
        before = set(store.backend.iter_digests())
        age_objects(store.backend, before, OLD)
        layered = i % 2 == 1  # Every other run as on a backend without atomic deletes.
        if rng.random() < 0.2:  # While it reads the store, before deleting anything.
            after_steps, delay = 0, rng.uniform(0, 0.3)
        else:  # After some deletion steps, maybe in the middle of the next.
            after_steps, delay = rng.randint(1, steps[layered] - 1), rng.uniform(0, 0.01)

        reported, finished, stderr = _run_gc_and_kill(
            persistent_factory.url, layered, after_steps, sig, delay
        )

        assert "Traceback" not in stderr or sig == signal.SIGINT, stderr
        after = es.Store(persistent_factory())
        survivors = set(after.backend.iter_digests())
        deleted = before - survivors
        assert survivors <= before
        assert deleted <= garbage  # nothing reachable from a tag
        if finished:
            assert survivors == kept
        report = after.verify()
        assert report.ok, report.problems[:5]  # no ref from a survivor dangles
        copied = es.Store()
        es.copy(after, copied, [], tags=sorted(tags))
        assert _closure(copied, list(tags.values())) == {d: originals[d] for d in kept}
        # Copying unreachable trees back skips what the store has with what it
        # reaches: sound only if every survivor has everything it refers to.
        sample = rng.sample(garbage_roots, 2)
        es.copy(pristine, es.Store(restorer.backend), sample)
        assert _closure(after, sample) == _closure(pristine, sample)
        outcomes.append((signal.Signals(sig).name, layered, reported, len(deleted)))
        restorer.restore()  # for the next kill

    # Most SIGKILLs land in the sweep: after some objects are deleted, before
    # the last is.
    mid_sweep = [o for o in outcomes if o[0] == "SIGKILL" and 0 < o[3] < len(garbage)]
    assert len(mid_sweep) >= SIGKILLS // 2, outcomes
    assert {layered for _, layered, _, _ in mid_sweep} == {False, True}, outcomes
