"""Tags: named pointers to objects, set, moved, deleted and compared-and-set atomically."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable

import pytest

import enact_resource as er
import enact_store as es
from enact_store.testing._children import WORKER
from enact_store.testing._factory import BackendFactory, needs, require
from enact_store.testing._resources import Box

__all__ = ["TagTests", "tag_name"]


def tag_name(length: int, slashes: int) -> str:
    """A valid tag name of ``length`` characters with ``slashes`` '/' in it."""
    parts = slashes + 1
    size, extra = divmod(length - slashes, parts)
    return "/".join(chr(ord("a") + i % 26) * (size + (i < extra)) for i in range(parts))


# The longest names (200 characters), with as many parts as fit, and names at
# the file store's limit of 255 bytes for the name with '%2F' for '/' (see
# FileBackend): 199 + 2 * 28 = 255, 200 + 2 * 28 = 256.
LONG_TAG_NAMES = [
    tag_name(200, 99),
    tag_name(200, 0),
    tag_name(199, 28),
    tag_name(200, 28),
    tag_name(200, 60),
]
INVALID_TAG_NAMES = ["", "../x", "/abs", "a..b", "-x", "x y", "a//b", "x/", ".x"]


class TagTests:
    """Tags point at objects the store holds; moves are atomic, compare-and-set loses nothing."""

    def test_tag_set_and_get(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        ref = store.commit(Box("tagged"))

        store.tags["main"] = ref

        assert store.tags["main"] == ref
        assert store.backend.get_tag("main") == ref.digest
        with store:
            assert store.tags["main"].get() == Box("tagged")

    def test_tag_overwrite_moves_the_tag(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        first = store.commit(Box(1))
        second = store.commit(Box(2))
        store.tags["main"] = first

        store.tags["main"] = second

        assert store.tags["main"] == second
        assert len(store.tags) == 1

    def test_tag_delete_removes_only_that_tag(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        ref = store.commit(Box(1))
        store.tags["keep"] = ref
        store.tags["drop"] = ref

        del store.tags["drop"]

        assert "drop" not in store.tags
        assert "keep" in store.tags
        assert store.has(ref)
        with pytest.raises(KeyError):
            del store.tags["drop"]

    def test_tags_iterate_sorted_with_len_and_contains(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        ref = store.commit(Box(1))
        for name in ["zeta", "alpha", "dir/sub/leaf", "v1.0", "under_score-dash"]:
            store.tags[name] = ref

        assert list(store.tags) == ["alpha", "dir/sub/leaf", "under_score-dash", "v1.0", "zeta"]
        assert len(store.tags) == 5
        assert "dir/sub/leaf" in store.tags
        assert "missing" not in store.tags

    def test_tags_can_name_both_a_path_and_its_prefix(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        ref = store.commit(Box("nested"))
        store.tags["runs"] = ref
        store.tags["runs/today"] = ref
        store.tags["runs/today/1"] = ref

        assert list(store.tags) == ["runs", "runs/today", "runs/today/1"]
        del store.tags["runs/today"]
        assert list(store.tags) == ["runs", "runs/today/1"]

    def test_missing_tag_raises_key_error(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        with pytest.raises(KeyError):
            store.tags["missing"]
        assert store.tags.get("missing") is None
        assert len(store.tags) == 0

    def test_tagging_a_missing_object_raises_not_found(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

        with pytest.raises(es.NotFound, match=missing.digest):
            store.tags["main"] = missing
        assert "main" not in store.tags

    def test_every_valid_tag_name_up_to_200_characters_round_trips(
        self, store: es.Store, reopen: Callable[[], es.Store]
    ) -> None:
        needs(store.backend, "tags")
        refs = {name: store.commit(Box(name)) for name in LONG_TAG_NAMES}
        for name, ref in refs.items():
            store.tags[name] = ref

        fresh = reopen()
        assert sorted(fresh.tags) == sorted(store.tags)
        for name, ref in refs.items():
            assert fresh.tags[name] == ref
            del fresh.tags[name]
            assert name not in fresh.tags
        assert not set(reopen().tags) & set(LONG_TAG_NAMES)

    @pytest.mark.parametrize("name", INVALID_TAG_NAMES)
    def test_invalid_tag_names_raise_value_error(self, store: es.Store, name: str) -> None:
        needs(store.backend, "tags")
        ref = store.commit(Box(1))

        with pytest.raises(ValueError, match="Invalid tag name"):
            store.tags[name] = ref
        with pytest.raises(ValueError, match="Invalid tag name"):
            store.tags[name]
        with pytest.raises(ValueError, match="Invalid tag name"):
            del store.tags[name]
        assert len(store.tags) == 0

    def test_an_invalid_tag_name_is_simply_not_in_the_tags(self, store: es.Store) -> None:
        needs(store.backend, "tags")
        assert "x y" not in store.tags
        assert "../x" not in store.tags
        number: object = 3
        assert number not in store.tags

    def test_a_tag_holding_a_malformed_digest_raises_ref_error(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "write_raw_tag")
        backend = backend_factory()
        needs(backend, "tags")
        es.Store(backend).tags["main"] = es.Store(backend).commit(Box(1))
        backend_factory.write_raw_tag(backend, "main", "../../etc/passwd")

        with pytest.raises(es.RefError):
            es.Store(backend_factory()).tags["main"]

    # --- compare and set ---

    def test_compare_and_set_creates_moves_and_deletes_only_from_the_expected_value(
        self, store: es.Store
    ) -> None:
        needs(store.backend, "tags")
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
        self, store: es.Store
    ) -> None:
        needs(store.backend, "tags")
        missing: es.Ref[Box] = es.Ref(er.digest(Box("never committed")))

        with pytest.raises(es.NotFound, match=missing.digest):
            store.tags.compare_and_set("t", None, missing)
        with pytest.raises(ValueError, match="Invalid tag name"):
            store.tags.compare_and_set("../t", None, store.commit(Box(1)))
        assert "t" not in store.tags

    def test_compare_and_set_loses_no_update_under_contention(
        self, backend_factory: BackendFactory
    ) -> None:
        # Each attempt reads the counter and tries to move the tag to counter
        # + 1: the final count must equal the number of attempts that
        # succeeded. Between processes where the factory has a URL, else
        # between threads.
        workers, attempts = 8, 200
        store = es.Store(backend_factory())
        needs(store.backend, "tags")
        store.tags["counter"] = store.commit(er.Int(0))

        url = backend_factory.url
        if url is not None:
            processes = [
                subprocess.Popen(
                    [*WORKER, "cas", url, str(attempts)],
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
                mine = es.Store(backend_factory())  # An instance per thread, if persistent.
                for _ in range(attempts):
                    current = mine.tags["counter"]
                    with mine:
                        value = current.get()
                    new = mine.commit(er.Int(value + 1))
                    if mine.tags.compare_and_set("counter", current, new):
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
