"""Tracked calls whose children run in threads (asyncio.to_thread) lose nothing."""

from __future__ import annotations

import asyncio
import dataclasses

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
