"""Opening a store: read-only instances never write, format versions are recorded and checked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import enact_store as es
from enact_store.testing._factory import BackendFactory, needs, require
from enact_store.testing._resources import Box

__all__ = ["OpeningTests"]


class OpeningTests:
    """A read-only backend refuses every write; a store of a newer format is refused."""

    def test_every_write_to_a_read_only_backend_raises(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "open_read_only")
        writer = es.Store(backend_factory())
        kept = writer.commit(Box("kept"))
        needs(writer.backend, "tags")
        writer.tags["t"] = kept
        reader = es.Store(backend_factory.open_read_only())
        assert reader.backend.read_only

        writes: dict[str, Callable[[], object]] = {
            "commit": lambda: reader.commit(Box("new")),
            "commit_many": lambda: reader.backend.commit_many([es.Ref.pack(Box("new"))]),
            "set tag": lambda: reader.tags.__setitem__("u", kept),
            "delete tag": lambda: reader.tags.__delitem__("t"),
            "compare and set": lambda: reader.tags.compare_and_set("t", kept, None),
            "delete": lambda: reader.backend.delete([kept.digest]),
            "refresh": lambda: reader.backend.refresh([kept.digest]),
            "gc": lambda: reader.gc(grace_period=0),
            "migrate": lambda: reader.backend.migrate(),
        }
        outcomes = {}
        for what, write in writes.items():
            try:
                write()
            except es.ReadOnlyStoreError as e:
                outcomes[what] = "read-only" in str(e)
            except es.UnsupportedOperation:
                outcomes[what] = True  # An optional capability the backend lacks.
            else:
                outcomes[what] = False
        reader.close()

        assert [what for what, refused in outcomes.items() if not refused] == []
        assert writer.tags["t"] == kept
        assert writer.has(kept)
        with es.Store(backend_factory()) as fresh:
            assert not fresh.has(es.Ref.pack(Box("new")).ref)
            assert fresh.tags["t"]() == Box("kept")

    def test_a_read_only_backend_reads_what_was_written(
        self, backend_factory: BackendFactory
    ) -> None:
        require(backend_factory, "open_read_only")
        writer = es.Store(backend_factory())
        ref = writer.commit(Box([writer.commit(Box("child"))]))

        with es.Store(backend_factory.open_read_only()) as reader:
            assert reader.has(ref)
            assert es.Ref(ref.digest).get().value[0]() == Box("child")
        reader.close()

    def test_a_new_store_records_the_current_format_version(
        self, backend_factory: BackendFactory
    ) -> None:
        backend = backend_factory()
        if backend.format_version is None:
            pytest.skip(f"{type(backend).__name__} has no format versions")

        assert backend.format_version == es.FORMAT_VERSION
        assert backend.migrate() == (es.FORMAT_VERSION, es.FORMAT_VERSION)
        if backend_factory.persistent:
            assert backend_factory().format_version == es.FORMAT_VERSION

    @pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "write"])
    def test_a_store_of_a_newer_format_is_refused_naming_both_versions(
        self, backend_factory: BackendFactory, read_only: bool
    ) -> None:
        require(backend_factory, "set_format_version", "persistent")
        if read_only:
            require(backend_factory, "open_read_only")
        backend_factory().close()
        backend_factory.set_format_version(99)

        with pytest.raises(es.StoreFormatError, match="format 99") as caught:
            backend_factory.open_read_only() if read_only else backend_factory()

        assert caught.value.found == 99
        assert caught.value.supported == es.FORMAT_VERSION
        assert f"format {es.FORMAT_VERSION}" in str(caught.value)
