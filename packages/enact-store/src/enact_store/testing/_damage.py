"""Damaged stores: corrupt objects, malformed entries. Needs the factory's raw access hooks.

What was stored is never silently returned changed: a read of a damaged
object raises CorruptionError naming its digest, verify reports it, and gc
deletes nothing while it cannot read everything.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import enact_resource as er
import enact_store as es
from enact_store.testing._children import commit_elsewhere
from enact_store.testing._factory import BackendFactory, needs, require
from enact_store.testing._resources import Box, Node, fresh_ref

__all__ = ["DamageTests"]

VALUE = "hello world, this is the stored value"
OLD = 10_000.0
GRACE = 1_000.0
PRECIOUS = "precious, and only reachable through the holder"


def _flip_in(raw: bytes, text: bytes) -> bytes:
    """Flips one bit inside ``text`` in the stored bytes: they still decode, but hash wrong."""
    position = raw.index(text) + 2
    return raw[:position] + bytes([raw[position] ^ 0x01]) + raw[position + 1 :]


#: Ways to damage the stored bytes of the holder object (see _holder_store).
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "flipped-bit": lambda raw: _flip_in(raw, b"holder"),
    "truncated": lambda raw: raw[: len(raw) // 2],
    "garbage": lambda raw: b"\x00\xff not an object",
    "empty": lambda raw: b"",
}

#: Ways to damage an object of a type this process lacks, holding a ref to ``doc``.
UNKNOWN_DAMAGE: dict[str, Callable[[bytes, str], bytes]] = {
    # A digest in a ref turned into another valid digest, or into a non-digest.
    "other-digest": lambda raw, doc: raw.replace(
        doc.encode(), (doc[:-1] + ("0" if doc[-1] != "0" else "1")).encode()
    ),
    "non-hex-digest": lambda raw, doc: raw.replace(doc.encode(), doc[:-1].encode() + b"x"),
    # The ref's type name: the dict is no longer a ref.
    "ref-marker": lambda raw, doc: raw.replace(b"references.Ref", b"references.Reg"),
    "flipped-label": lambda raw, doc: raw.replace(b"holder", b"holdes"),
}

GARBAGE = [b"\x00\xff\xfe garbage", b"[1, 2, 3]", b'{"value": 1}', b'{"#res": 5}', b"\xc3\x28", b""]


def _raw(factory: BackendFactory) -> tuple[es.StorageBackend, es.Ref[Box]]:
    """A backend (raw access required) holding Box(VALUE), and its ref."""
    require(factory, "read_raw", "write_raw")
    backend = factory()
    return backend, es.Store(backend).commit(Box(VALUE))


def _read_fresh(factory: BackendFactory, ref: es.Ref[Box]) -> Box:
    """Reads through a fresh ref in a fresh store, as a later process would."""
    with es.Store(factory()):
        return fresh_ref(ref).get()


def _holder_store(factory: BackendFactory) -> tuple[es.Store, es.Ref[Box], es.Ref[Node], str]:
    """A tagged holder whose only ref is to a precious Box, and an old garbage object."""
    require(factory, "read_raw", "write_raw", "age")
    store = es.Store(factory())
    needs(store.backend, "listing", "tags", "deleting")
    doc = store.commit(Box(PRECIOUS))
    holder = store.commit(Node("holder", [doc]))
    store.tags["main"] = holder
    garbage = store.commit(Box("garbage"))
    factory.age(store.backend, [doc.digest, holder.digest, garbage.digest], OLD)
    return store, doc, holder, garbage.digest


def _assert_all_still_there(store: es.Store, before: set[str], doc: es.Ref[Box]) -> None:
    assert set(store.backend.iter_digests()) == before
    with store:
        assert fresh_ref(doc).get() == Box(PRECIOUS)


def _sound_store(
    factory: BackendFactory,
) -> tuple[es.Store, set[str], set[str], dict[str, es.Ref[Node]]]:
    """Tagged trees and old garbage; returns (the store, every digest, the garbage, the tags)."""
    store = es.Store(factory())
    leaf = store.commit(Node("leaf", []))
    tags = {"main": store.commit(Node("root", [leaf])), "other": leaf}
    for name, ref in tags.items():
        store.tags[name] = ref
    garbage = {store.commit(Node(f"garbage {i}", [leaf])).digest for i in range(3)}
    digests = set(store.backend.iter_digests())
    factory.age(store.backend, digests, OLD)
    return store, digests, garbage, tags


class DamageTests:
    """Damaged objects are never returned, verify reports them, gc stops at them."""

    # --- reading a damaged object ---

    def test_flipped_byte_in_a_field_value_raises_corruption_error(
        self, backend_factory: BackendFactory
    ) -> None:
        backend, ref = _raw(backend_factory)
        raw = backend_factory.read_raw(backend, ref.digest)
        assert raw is not None
        backend_factory.write_raw(backend, ref.digest, _flip_in(raw, VALUE.encode()))

        with pytest.raises(es.CorruptionError, match=ref.digest) as caught:
            _read_fresh(backend_factory, ref)
        assert caught.value.digest == ref.digest
        assert "hashes to" in str(caught.value)

    def test_corruption_error_says_where_the_object_is(
        self, backend_factory: BackendFactory
    ) -> None:
        backend, ref = _raw(backend_factory)
        raw = backend_factory.read_raw(backend, ref.digest) or b""
        backend_factory.write_raw(backend, ref.digest, raw.replace(b"hello", b"HELLO"))

        with pytest.raises(es.CorruptionError) as caught:
            _read_fresh(backend_factory, ref)
        assert caught.value.location == backend.location(ref.digest)
        assert caught.value.location in str(caught.value)
        assert "\n" not in str(caught.value)

    def test_truncated_object_raises_corruption_error(
        self, backend_factory: BackendFactory
    ) -> None:
        backend, ref = _raw(backend_factory)
        raw = backend_factory.read_raw(backend, ref.digest) or b""
        backend_factory.write_raw(backend, ref.digest, raw[: len(raw) // 2])

        with pytest.raises(es.CorruptionError, match=ref.digest):
            _read_fresh(backend_factory, ref)

    @pytest.mark.parametrize("garbage", GARBAGE)
    def test_garbage_object_raises_corruption_error(
        self, backend_factory: BackendFactory, garbage: bytes
    ) -> None:
        backend, ref = _raw(backend_factory)
        backend_factory.write_raw(backend, ref.digest, garbage)

        with pytest.raises(es.CorruptionError, match=ref.digest):
            _read_fresh(backend_factory, ref)

    def test_another_valid_object_under_the_digest_raises_corruption_error(
        self, backend_factory: BackendFactory
    ) -> None:
        backend, ref = _raw(backend_factory)
        other = es.Store(backend).commit(Box("another resource"))
        backend_factory.write_raw(
            backend, ref.digest, backend_factory.read_raw(backend, other.digest) or b""
        )

        with pytest.raises(es.CorruptionError, match=ref.digest):
            _read_fresh(backend_factory, ref)

    def test_an_object_whose_type_id_does_not_fit_its_fields_is_corrupt(
        self, backend_factory: BackendFactory
    ) -> None:
        # Renaming the type in the stored bytes leaves a fields digest that no
        # order of the fields matches: damaged data, not an unknown type.
        backend, ref = _raw(backend_factory)
        raw = backend_factory.read_raw(backend, ref.digest) or b""
        backend_factory.write_raw(backend, ref.digest, raw.replace(b"Box", b"Bux"))

        with pytest.raises(es.CorruptionError, match=ref.digest):
            _read_fresh(backend_factory, ref)

    def test_corrupt_object_is_not_cached_as_valid(self, backend_factory: BackendFactory) -> None:
        backend, ref = _raw(backend_factory)
        raw = backend_factory.read_raw(backend, ref.digest) or b""
        backend_factory.write_raw(backend, ref.digest, raw.replace(b"hello", b"HELLO"))
        corrupt = fresh_ref(ref)

        with es.Store(backend_factory()):
            for _ in range(2):
                with pytest.raises(es.CorruptionError):
                    corrupt.get()
            backend_factory.write_raw(backend, ref.digest, raw)  # repaired
            assert corrupt.get() == Box(VALUE)

    def test_getting_an_object_of_an_unregistered_type_raises_an_error_naming_the_digest(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "url")
        digest = commit_elsewhere(backend_factory.url or "", "made elsewhere")

        with pytest.raises(er.TypeNotRegisteredError, match=digest):
            _read_fresh(backend_factory, es.Ref(digest))

    def test_objects_written_with_full_type_ids_read_and_verify(
        self, backend_factory: BackendFactory
    ) -> None:
        # Stores written before compact type ids (#r) hold the full "#res" form.
        backend, _ = _raw(backend_factory)
        store = es.Store(backend)
        needs(backend, "listing", "tags")
        inner = store.commit(Box(VALUE))
        outer = store.commit(Box([inner, {"k": Box(2.5)}]))
        for ref in (inner, outer):
            full = er.JsonSerializer(compact=True).deserialize(
                backend_factory.read_raw(backend, ref.digest) or b""
            )
            backend_factory.write_raw(backend, ref.digest, er.JsonSerializer().serialize(full))
            assert b'"#res"' in (backend_factory.read_raw(backend, ref.digest) or b"")

        with es.Store(backend_factory()) as fresh:
            assert fresh_ref(outer)() == Box([inner, {"k": Box(2.5)}])
            assert fresh_ref(inner)() == Box(VALUE)
            assert fresh.verify().ok

    # --- verify ---

    def test_verify_finds_an_object_corrupted_in_storage(
        self, backend_factory: BackendFactory
    ) -> None:
        backend, corrupt = _raw(backend_factory)
        store = es.Store(backend)
        needs(backend, "listing", "tags")
        sound = store.commit(Box("sound"))
        store.tags["main"] = store.commit(Node("root", []))
        raw = backend_factory.read_raw(backend, corrupt.digest) or b""
        backend_factory.write_raw(backend, corrupt.digest, _flip_in(raw, VALUE.encode()))

        report = es.Store(backend_factory()).verify()

        assert not report.ok
        [problem] = report.corrupt
        assert (problem.kind, problem.digest) == ("corrupt", corrupt.digest)
        assert "hashes to" in problem.detail
        assert problem.location == backend.location(corrupt.digest)
        assert report.checked == 2
        assert report.unreadable == []
        assert report.dangling == []
        assert store.has(sound)

    @pytest.mark.parametrize("garbage", [b"", b"\x00\xff not json", b'{"#res": 5}', b"{}"])
    def test_verify_reports_undecodable_bytes_as_corrupt(
        self, backend_factory: BackendFactory, garbage: bytes
    ) -> None:
        backend, ref = _raw(backend_factory)
        needs(backend, "listing", "tags")
        backend_factory.write_raw(backend, ref.digest, garbage)

        report = es.Store(backend_factory()).verify()

        assert [(p.kind, p.digest) for p in report.corrupt] == [("corrupt", ref.digest)]
        assert not report.ok

    # --- gc never deletes behind what it cannot read ---

    @pytest.mark.parametrize("damage", DAMAGE, ids=str)
    @pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
    def test_gc_deletes_nothing_behind_a_damaged_tagged_object(
        self, backend_factory: BackendFactory, damage: str, dry_run: bool
    ) -> None:
        store, doc, holder, _ = _holder_store(backend_factory)
        raw = backend_factory.read_raw(store.backend, holder.digest) or b""
        backend_factory.write_raw(store.backend, holder.digest, DAMAGE[damage](raw))
        before = set(store.backend.iter_digests())

        with pytest.raises(es.GcRefused, match=holder.digest) as refused:
            store.gc(grace_period=GRACE, dry_run=dry_run)

        _assert_all_still_there(store, before, doc)
        [problem] = refused.value.problems
        assert (problem.kind, problem.digest) == ("corrupt", holder.digest)
        assert problem.location == store.backend.location(holder.digest)
        assert refused.value.report.deleted == []
        assert isinstance(refused.value, es.StoreError)
        assert "gc deleted nothing" in str(refused.value)

    def test_gc_deletes_nothing_behind_a_damaged_object_kept_as_recent(
        self, backend_factory: BackendFactory
    ) -> None:
        # Untagged but young: the grace period keeps it, and what it refers to.
        store, doc, holder, _ = _holder_store(backend_factory)
        del store.tags["main"]
        raw = backend_factory.read_raw(store.backend, holder.digest) or b""
        backend_factory.write_raw(store.backend, holder.digest, DAMAGE["flipped-bit"](raw))
        backend_factory.age(store.backend, [holder.digest], -OLD)  # written just now
        before = set(store.backend.iter_digests())

        with pytest.raises(es.GcRefused) as refused:
            store.gc(grace_period=GRACE)

        _assert_all_still_there(store, before, doc)
        assert [(p.kind, p.digest) for p in refused.value.problems] == [("corrupt", holder.digest)]

    def test_gc_deletes_nothing_while_an_unreachable_object_is_damaged(
        self, backend_factory: BackendFactory
    ) -> None:
        # What a damaged object referred to is unknown: gc cannot order the
        # deletion of the garbage around it, so it deletes none of it.
        store, _, _, garbage = _holder_store(backend_factory)
        backend_factory.write_raw(store.backend, garbage, b"\x00\xff not an object")
        before = set(store.backend.iter_digests())

        with pytest.raises(es.GcRefused, match=garbage) as refused:
            store.gc(grace_period=GRACE)

        assert set(store.backend.iter_digests()) == before
        assert [(p.kind, p.digest) for p in refused.value.problems] == [("corrupt", garbage)]

    def test_gc_refused_lists_every_damaged_object(self, backend_factory: BackendFactory) -> None:
        store, doc, holder, garbage = _holder_store(backend_factory)
        for digest in (holder.digest, garbage, doc.digest):
            backend_factory.write_raw(store.backend, digest, b"{}")

        with pytest.raises(es.GcRefused) as refused:
            store.gc(grace_period=GRACE)

        # The doc is unreachable once its holder cannot be read, and damaged too.
        assert sorted(p.digest or "" for p in refused.value.problems) == sorted(
            [holder.digest, garbage, doc.digest]
        )
        assert {p.kind for p in refused.value.problems} == {"corrupt"}

    @pytest.mark.parametrize("damage", UNKNOWN_DAMAGE, ids=str)
    def test_gc_deletes_nothing_behind_a_damaged_object_of_an_unregistered_type(
        self, backend_factory: BackendFactory, damage: str
    ) -> None:
        # Its stored type still lets gc verify it: the damage is found, not guessed past.
        require(backend_factory, "url", "read_raw", "write_raw", "age")
        store = es.Store(backend_factory())
        needs(store.backend, "listing", "tags", "deleting")
        doc = store.commit(Box(PRECIOUS))
        holder = commit_elsewhere(backend_factory.url or "", "holder", [doc.digest])
        store.tags["main"] = es.Ref(holder)
        garbage = store.commit(Box("garbage"))
        backend_factory.age(store.backend, [doc.digest, holder, garbage.digest], OLD)
        raw = backend_factory.read_raw(store.backend, holder) or b""
        backend_factory.write_raw(store.backend, holder, UNKNOWN_DAMAGE[damage](raw, doc.digest))
        before = set(store.backend.iter_digests())

        with pytest.raises(es.GcRefused, match=holder) as refused:
            store.gc(grace_period=GRACE)

        _assert_all_still_there(store, before, doc)
        assert [(p.kind, p.digest) for p in refused.value.problems] == [("corrupt", holder)]

    # --- malformed entries: listing carries past them, verify reports them, gc stops ---

    def test_a_sound_store_has_no_problems(self, store: es.Store) -> None:
        needs(store.backend, "listing", "tags")
        store.tags["main"] = store.commit(Node("root", [store.commit(Node("leaf", []))]))

        assert list(store.backend.problems()) == []
        assert store.verify().malformed == []

    def test_listing_skips_each_malformed_entry_and_problems_reports_it(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "malformed_entries", "age")
        for name, plant in backend_factory.malformed_entries().items():
            factory = backend_factory.another()
            store, digests, _, tags = _sound_store(factory)

            where = plant(store.backend)

            fresh = es.Store(factory())
            assert set(fresh.backend.iter_digests()) == digests, name
            assert {digest for digest, _ in fresh.backend.iter_objects()} == digests, name
            assert dict(fresh.tags) == tags, name
            assert fresh.backend.list_tags() == {n: ref.digest for n, ref in tags.items()}, name
            [(location, detail)] = list(fresh.backend.problems())
            assert where in location, name
            assert detail, name
            assert "\n" not in detail, name
            assert "\n" not in location, name

    def test_verify_reports_each_malformed_entry_and_checks_everything_else(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "malformed_entries", "age")
        for name, plant in backend_factory.malformed_entries().items():
            factory = backend_factory.another()
            store, digests, _, _ = _sound_store(factory)
            where = plant(store.backend)

            report = es.Store(factory()).verify()

            assert not report.ok, name
            assert report.checked == len(digests), name
            assert (report.corrupt, report.unreadable, report.dangling) == ([], [], []), name
            [problem] = report.malformed
            assert problem.kind == "malformed", name
            assert problem.digest is None, name
            assert where in (problem.location or ""), name
            assert report.problems == [problem], name

    @pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
    def test_gc_deletes_nothing_while_a_malformed_entry_exists(
        self, backend_factory: BackendFactory, dry_run: bool
    ) -> None:
        require(backend_factory, "malformed_entries", "age")
        for name, plant in backend_factory.malformed_entries().items():
            factory = backend_factory.another()
            store, digests, garbage, _ = _sound_store(factory)
            where = plant(store.backend)
            fresh = es.Store(factory())

            with pytest.raises(es.GcRefused, match="gc deleted nothing") as refused:
                fresh.gc(grace_period=GRACE, dry_run=dry_run)

            assert set(fresh.backend.iter_digests()) == digests, name
            [problem] = refused.value.problems
            assert (problem.kind, problem.digest) == ("malformed", None), name
            assert where in (problem.location or ""), name
            assert garbage <= digests, name
