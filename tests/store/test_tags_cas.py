"""store.tags.compare_and_set: atomic on every backend, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from _store_testlib import BackendFactory, Box

import enact_resource as er
import enact_store as es


def test_compare_and_set_creates_moves_and_deletes_only_from_the_expected_value(
    store: es.Store,
) -> None:
    one, two, three = (store.commit(Box(i)) for i in (1, 2, 3))
    tags = store.tags

    assert tags.compare_and_set("t", None, one)  # Created: it did not exist.
    assert not tags.compare_and_set("t", None, two)  # It exists now.
    assert tags["t"] == one
    assert not tags.compare_and_set("t", two, three)  # Stale expectation.
    assert tags.compare_and_set("t", one, two)
    assert tags["t"] == two
    assert not tags.compare_and_set("t", one, None)
    assert tags.compare_and_set("t", two, None)  # Deleted.
    assert "t" not in tags
    assert tags.compare_and_set("t", None, None)  # Absent, as expected.


def test_compare_and_set_refuses_an_object_the_store_lacks_and_bad_names(
    store: es.Store,
) -> None:
    missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

    with pytest.raises(es.NotFound, match=missing.digest):
        store.tags.compare_and_set("t", None, missing)
    with pytest.raises(ValueError, match="Invalid tag name"):
        store.tags.compare_and_set("../t", None, store.commit(Box(1)))
    assert "t" not in store.tags


_WORKER = """
import sys
import enact_resource as er
import enact_store as es

store = es.open_store(sys.argv[1])
won = 0
for _ in range(int(sys.argv[2])):
    current = store.tags["counter"]
    with store:
        value = current.get()
    if store.tags.compare_and_set("counter", current, store.commit(er.Int(value + 1))):
        won += 1
print(won)
store.close()
"""


def test_compare_and_set_loses_no_update_under_contention(
    backend_factory: BackendFactory,
) -> None:
    # Each attempt reads the counter and tries to move the tag to counter + 1:
    # the final count must equal the number of attempts that succeeded.
    workers, attempts = 8, 200
    store = es.Store(backend_factory())
    store.tags["counter"] = store.commit(er.Int(0))

    if backend_factory.persistent:
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, backend_factory.url, str(attempts)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(workers)
        ]
        won = []
        for process in processes:
            out, _ = process.communicate(timeout=600)
            assert process.returncode == 0
            won.append(int(out))
    else:
        won = [0] * workers

        def attempt(worker: int) -> None:
            for _ in range(attempts):
                current = store.tags["counter"]
                with store:
                    value = current.get()
                if store.tags.compare_and_set("counter", current, store.commit(er.Int(value + 1))):
                    won[worker] += 1

        threads = [threading.Thread(target=attempt, args=(w,)) for w in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    with es.Store(backend_factory()) as reader:
        final = reader.tags["counter"].get()
    assert final == sum(won)
    assert 0 < sum(won) <= workers * attempts
