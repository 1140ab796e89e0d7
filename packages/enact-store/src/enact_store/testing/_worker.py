"""The child processes of the conformance suite (``python -m enact_store.testing._worker``).

    crash URL NONCE
        commits forever, printing each digest once commit has returned
    concurrent URL PROCESS_INDEX THREADS SHARED OWN
        commits overlapping sets of resources from several threads, sets tags,
        then prints "done"
    ping URL ROUNDS / pong URL ROUNDS
        two processes taking turns through tags: ping commits message i and
        points the tag "ping" at it; pong waits for it, reads it, commits a
        reply that refers to it and points "pong" at that; ping waits for the
        reply before the next round. Each prints "done" at the end.
    cas URL ATTEMPTS
        reads the Int the tag "counter" names and tries to move the tag to
        the next Int by compare-and-set, ATTEMPTS times; prints how many
        moves succeeded
    elsewhere URL LABEL [DIGEST...]
        commits an object of a type only this process registers, holding refs
        to the digests; prints its digest

Run only as a script: the test modules of the suite never import it.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import enact_resource as er
import enact_store as es
from enact_store.testing._resources import Box, Node, own_resource, shared_resource


def elsewhere(url: str, label: str, links: Sequence[str]) -> None:
    @er.register(name="enact_store.testing.Elsewhere")
    @dataclasses.dataclass
    class Elsewhere(er.Resource):
        label: str
        links: list[Any]

    store = es.open_store(url)
    print(store.commit(Elsewhere(label, [es.Ref(digest) for digest in links])).digest)
    store.close()


def cas(url: str, attempts: int) -> None:
    store = es.open_store(url)
    won = 0
    for _ in range(attempts):
        current = store.tags["counter"]
        with store:
            value = current.get()
        if store.tags.compare_and_set("counter", current, store.commit(er.Int(value + 1))):
            won += 1
    store.close()
    print(won, flush=True)


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
        if ref is not None and es.Ref[Node](ref.digest).get().label == label:
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


def main(argv: Sequence[str]) -> None:
    mode, url, *args = argv
    if mode == "crash":
        crash(url, *args)
    elif mode == "concurrent":
        concurrent(url, *map(int, args))
    elif mode == "ping":
        ping(url, int(args[0]))
    elif mode == "pong":
        pong(url, int(args[0]))
    elif mode == "cas":
        cas(url, int(args[0]))
    elif mode == "elsewhere":
        elsewhere(url, args[0], args[1:])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
