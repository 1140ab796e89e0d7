"""The active store: entered with `with store:`, per thread, nested blocks restore."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from _store_testlib import Box

import enact_resource as er
import enact_store as es


def test_commit_without_an_active_store_says_how_to_enter_one() -> None:
    with pytest.raises(es.NoActiveStoreError, match=r"with enact\.Store"):
        es.commit(Box(1))


def test_ref_get_without_an_active_store_raises() -> None:
    with pytest.raises(es.NoActiveStoreError):
        es.Ref(er.digest(Box(1))).get()


def test_nested_stores_restore_the_outer_one() -> None:
    outer, inner = es.Store(), es.Store()

    with outer:
        with inner:
            assert es.Store.current() is inner
            ref = es.commit(Box("inner"))
        assert es.Store.current() is outer
        assert not outer.has(ref)
    assert inner.has(ref)


def test_the_active_store_is_per_thread() -> None:
    seen: list[BaseException] = []

    def other_thread() -> None:
        try:
            es.Store.current()
        except es.NoActiveStoreError as e:
            seen.append(e)

    with es.Store():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()

    assert len(seen) == 1


def test_a_dropped_store_is_freed_at_once_without_the_cycle_collector() -> None:
    store = es.Store()
    store.commit(er.Str("kept only by the store"))
    assert len(store.tags) == 0
    alive = weakref.ref(store)
    gc.disable()
    try:
        del store
        assert alive() is None
    finally:
        gc.enable()
