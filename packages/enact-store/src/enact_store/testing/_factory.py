"""BackendFactory: what the conformance suite needs from the backend under test."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from enact_store import StorageBackend, UnsupportedOperation

__all__ = ["HOOKS", "BackendFactory", "has", "needs", "require"]

#: A function that plants one malformed entry in a store and returns text
#: that the entry's location (as ``problems()`` reports it) contains.
Plant = Callable[[StorageBackend], str]


class BackendFactory:
    """Opens the backend under test over a location of its own; subclass it for yours.

    The suite makes one factory per test (see ``BackendTests.factory_class``)
    and calls it (``factory()``) for each backend it needs: each call is
    :meth:`open`, and every backend opened is closed after the test. Only
    :meth:`open` is required. The other methods are optional hooks that
    give the tests what the backend's public methods cannot: raw access to
    the stored bytes (to damage them), a way to age objects (for gc), a URL
    for other processes, a read-only instance. A test that needs a hook the
    factory does not provide is skipped, naming the hook.

    Args:
        tmp_path: a directory private to this factory, for the location
            (pytest's ``tmp_path``).
    """

    #: Whether the backend keeps its data outside the backend object, so
    #: that each :meth:`open` returns a new instance over the same data (as
    #: another process would see it). False for a backend that keeps its
    #: data in the object (as :class:`~enact_store.InMemoryBackend`): then
    #: :meth:`open` returns the same instance every time.
    persistent: bool = True

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._opened: list[StorageBackend] = []
        self._others: list[BackendFactory] = []

    # --- Required. ---

    def open(self) -> StorageBackend:
        """Returns a backend over this factory's location (creating the store if needed)."""
        raise NotImplementedError(f"{type(self).__name__} must implement open()")

    # --- Optional hooks (see provides()). ---

    def open_read_only(self) -> StorageBackend:
        """Returns a backend over this location opened read-only (``read_only`` true)."""
        raise NotImplementedError

    @property
    def url(self) -> str | None:
        """An :func:`~enact_store.open_store` URL of this location, or None.

        Tests that run other processes (concurrency, crash safety) open the
        store there by this URL; without one they are skipped.
        """
        return None

    def another(self) -> BackendFactory:
        """Returns a factory of the same kind over another, empty location.

        Its backends are closed with this factory's. The default makes
        ``type(self)(self.tmp_path / "another-N")``; override it if your
        factory's constructor takes other arguments.
        """
        other = type(self)(self.tmp_path / f"another-{len(self._others)}")
        self._others.append(other)
        return other

    def read_raw(self, backend: StorageBackend, digest: str) -> bytes | None:
        """Returns the stored bytes of an object (as ``encode_object`` wrote them), or None.

        Read behind the backend's back (from its file or row), not through
        it. For a backend that stores something else (compressed bytes, say),
        return what ``encode_object`` would have written.
        """
        raise NotImplementedError

    def write_raw(self, backend: StorageBackend, digest: str, data: bytes) -> None:
        """Replaces the stored bytes of an object behind the backend's back (damaging it).

        ``data`` is in the form :meth:`read_raw` returns; it may be anything
        (truncated, garbage, empty), and the backend must then report the
        object as corrupt when read, never return other content.
        """
        raise NotImplementedError

    def write_raw_tag(self, backend: StorageBackend, name: str, value: str) -> None:
        """Replaces what an existing tag holds behind the backend's back (``value`` may be
        anything, such as a path: the backend must refuse it when read)."""
        raise NotImplementedError

    def age(self, backend: StorageBackend, digests: Iterable[str], seconds: float) -> None:
        """Makes objects look last written ``seconds`` earlier (later, if negative).

        As ``iter_objects`` reports it: what gc's grace period is measured on.
        """
        raise NotImplementedError

    def set_format_version(self, version: int) -> None:
        """Stamps the store at this location with another storage format version."""
        raise NotImplementedError

    def malformed_entries(self) -> Mapping[str, Plant]:
        """Ways to plant one malformed entry (a row or file that is neither object nor tag).

        By name; each plants its entry in the store of the backend it is
        given and returns text that the location ``problems()`` reports for
        the entry contains. Empty (the default): those tests are skipped.
        """
        return {}

    def provides(self, hook: str) -> bool:
        """Whether this factory provides the optional hook named ``hook``.

        The default: whether the subclass overrides it (``url``: whether it
        is not None). Override it if which hooks work depends on the instance.
        """
        if hook == "url":
            return self.url is not None
        if hook == "malformed_entries":
            return bool(self.malformed_entries())
        return getattr(type(self), hook) is not getattr(BackendFactory, hook)

    # --- Lifetime. ---

    def __call__(self) -> StorageBackend:
        backend = self.open()
        if not any(backend is opened for opened in self._opened):
            self._opened.append(backend)
        return backend

    def close_all(self) -> None:
        """Closes every backend opened (here and by :meth:`another`'s factories)."""
        for other in self._others:
            other.close_all()
        for backend in self._opened:
            backend.close()
        self._opened.clear()

    def __repr__(self) -> str:
        return type(self).__name__

    def __enter__(self) -> BackendFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()


#: The optional hooks, and what a test that needs one says when skipped.
HOOKS = {
    "open_read_only": "a read-only instance",
    "url": "an open_store URL, for other processes",
    "read_raw": "raw access to stored bytes",
    "write_raw": "raw access to stored bytes",
    "write_raw_tag": "raw access to stored tags",
    "age": "a way to age objects",
    "set_format_version": "a way to stamp the format version",
    "malformed_entries": "malformed entries to plant",
}


def require(factory: BackendFactory, *hooks: str) -> None:
    """Skips the test unless the factory provides every hook named, or is persistent."""
    import pytest  # Here, not above: the suite's child processes import this module.

    for hook in hooks:
        if hook == "persistent":
            if not factory.persistent:
                pytest.skip(f"{factory!r}: the backend keeps its data in the process")
        elif not factory.provides(hook):
            pytest.skip(
                f"{factory!r} does not provide {hook} ({HOOKS[hook]}; an optional "
                "hook of enact_store.testing.BackendFactory)"
            )


def has(backend: StorageBackend, *capabilities: str) -> bool:
    """Whether the backend has each optional capability named.

    ``"tags"`` (the tag methods), ``"listing"`` (``iter_objects``) or
    ``"deleting"`` (``delete``): a backend without one raises
    :class:`~enact_store.UnsupportedOperation`, as the contract says.
    """
    probes: dict[str, Callable[[], object]] = {
        "tags": backend.list_tags,
        "listing": lambda: next(iter(backend.iter_objects()), None),
        "deleting": lambda: backend.delete([]),
    }
    for capability in capabilities:
        try:
            probes[capability]()
        except UnsupportedOperation:
            return False
    return True


def needs(backend: StorageBackend, *capabilities: str) -> None:
    """Skips the test unless the backend has each optional capability named (see :func:`has`)."""
    import pytest

    for capability in capabilities:
        if not has(backend, capability):
            pytest.skip(f"{type(backend).__name__} has no {capability} (optional)")
