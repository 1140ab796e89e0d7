"""Child process of the gc crash test (run as a script, not a test).

    python _store_worker.py gc URL GRACE [layered]
        prints "start", runs gc with that grace period, printing "deleted N TOTAL"
        after each deletion step, then "done N"; with "layered", as on a
        backend that cannot delete a batch atomically (layer after layer)

(The conformance suite's children, enact_store.testing's worker, commit,
race and get killed; this one collects.) Running the script puts its folder
first on sys.path, so _store_testlib is imported by the same name as in the
tests and its types keep their type ids.
"""

from __future__ import annotations

import sys

import _store_testlib  # noqa: F401 - registers the types the store holds

import enact_store as es


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
    if mode != "gc":
        raise SystemExit(f"unknown mode {mode!r}")
    gc(url, float(args[0]), args[1:] == ["layered"])
