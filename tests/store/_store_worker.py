"""Child process of the crash-safety and concurrency tests (run as a script, not a test).

    python _store_worker.py crash URL NONCE
        commits forever, printing each digest once commit has returned
    python _store_worker.py concurrent URL PROCESS_INDEX THREADS SHARED OWN
        commits overlapping sets of resources from several threads, sets tags,
        then prints "done"
    python _store_worker.py ping URL ROUNDS
    python _store_worker.py pong URL ROUNDS
        two processes taking turns through tags: ping commits message i and
        points the tag "ping" at it; pong waits for it, reads it, commits a
        reply that refers to it and points "pong" at that; ping waits for the
        reply before the next round. Each prints "done" at the end.
    python _store_worker.py gc URL GRACE [layered]
        prints "start", runs gc with that grace period, printing "deleted N TOTAL"
        after each deletion step, then "done N"; with "layered", as on a
        backend that cannot delete a batch atomically (layer after layer)

Running the script puts its folder first on sys.path, so _store_testlib is
imported by the same name as in the tests and its types keep their type ids.
"""

from __future__ import annotations

import sys
import threading
import time

from _store_testlib import Box, Node, own_resource, shared_resource

import enact_store as es


def crash(url: str, nonce: str) -> None:
    store = es.open_store(url)
    i = 0
    while True:
        ref = store.commit(Box({"nonce": nonce, "i": i, "blob": bytes(range(256)) * 4}))
        print(ref.digest, flush=True)
        i += 1


def concurrent(url: str, process: int, threads: int, shared: int, own: int) -> None:
    store = es.open_store(url)
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            barrier.wait()
            # Every thread of every process commits the shared set, each in
            # its own order, interleaved with resources of its own.
            order = sorted(range(shared), key=lambda i: (i * (7 + process + thread)) % shared)
            for n, i in enumerate(order):
                ref = store.commit(shared_resource(i))
                if n % 10 == 0:
                    store.tags["shared"] = ref
                    store.tags[f"p{process}/t{thread}"] = ref
            packed = [es.Ref.pack(own_resource(process, thread, j)) for j in range(own)]
            store.backend.commit_many(packed)
            store.tags[f"own/p{process}-t{thread}"] = packed[-1].ref
        except BaseException as e:  # reported by the main thread
            errors.append(e)
            raise

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise SystemExit(f"{len(errors)} thread(s) failed: {errors[0]!r}")
    print("done", flush=True)


def _wait_for_tag(store: es.Store, name: str, label: str) -> es.Ref[Node]:
    """Polls a tag until it names a Node with ``label``; gives up after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ref = store.tags.get(name)
        if ref is not None and es.Ref(ref.digest).get().label == label:
            return ref
        time.sleep(0.002)
    raise SystemExit(f"timed out waiting for tag {name!r} to name {label!r}")


def ping(url: str, rounds: int) -> None:
    store = es.open_store(url)
    with store:
        for i in range(rounds):
            message = store.commit(Node(f"ping {i}", []))
            store.tags["ping"] = message
            reply = _wait_for_tag(store, "pong", f"pong {i}")
            # The reply refers to what this process wrote: read back through it.
            assert reply.get().children == [message], reply.get()
            assert reply.get().children[0].get().label == f"ping {i}"
    store.close()
    print("done", flush=True)


def pong(url: str, rounds: int) -> None:
    store = es.open_store(url)
    with store:
        for i in range(rounds):
            message = _wait_for_tag(store, "ping", f"ping {i}")
            store.tags["pong"] = store.commit(Node(f"pong {i}", [message]))
    store.close()
    print("done", flush=True)


def gc(url: str, grace: float, layered: bool) -> None:
    store = es.open_store(url)
    if layered:
        store.backend.delete_all_or_none = lambda digests, older_than: False  # type: ignore[method-assign]
    print("start", flush=True)

    def progress(done: int, total: int | None) -> None:
        if total is not None:
            print(f"deleted {done} {total}", flush=True)

    report = store.gc(grace_period=grace, progress=progress)
    store.close()
    print(f"done {len(report.deleted)}", flush=True)


if __name__ == "__main__":
    mode, url, *args = sys.argv[1:]
    if mode == "crash":
        crash(url, *args)
    elif mode == "concurrent":
        concurrent(url, *map(int, args))
    elif mode == "ping":
        ping(url, int(args[0]))
    elif mode == "pong":
        pong(url, int(args[0]))
    elif mode == "gc":
        gc(url, float(args[0]), args[1:] == ["layered"])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
