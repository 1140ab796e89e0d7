"""BackendTests: every contract test, for a test class of your own to inherit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import enact_store as es
from enact_store.testing._damage import DamageTests
from enact_store.testing._factory import BackendFactory
from enact_store.testing._maintenance import CopyTests, GcTests, VerifyTests
from enact_store.testing._objects import ObjectTests
from enact_store.testing._opening import OpeningTests
from enact_store.testing._processes import ProcessTests
from enact_store.testing._tags import TagTests

__all__ = ["BackendTests"]


class BackendTests(
    ObjectTests,
    TagTests,
    VerifyTests,
    GcTests,
    CopyTests,
    DamageTests,
    OpeningTests,
    ProcessTests,
):
    """The conformance tests of the StorageBackend contract: inherit them in a test class.

    Set :attr:`factory_class` to your :class:`BackendFactory` subclass (or
    override the :meth:`backend_factory` fixture, for instance to
    parametrise it over several kinds of backend), and pytest runs every
    test on the backend it opens. Tests of an optional capability the
    backend lacks (tags, listing, deleting: it raises UnsupportedOperation),
    or that need an optional hook the factory does not provide, are skipped
    with the reason.
    """

    #: The factory of the backend under test (made per test with ``tmp_path``).
    factory_class: ClassVar[type[BackendFactory] | None] = None

    @pytest.fixture
    def backend_factory(self, tmp_path: Path) -> Iterator[BackendFactory]:
        """A factory over a location private to the test; its backends are closed after."""
        if self.factory_class is None:
            raise TypeError(
                f"{type(self).__name__}: set factory_class to a BackendFactory subclass, "
                "or override the backend_factory fixture"
            )
        with self.factory_class(tmp_path) as factory:
            yield factory

    @pytest.fixture
    def store(self, backend_factory: BackendFactory) -> es.Store:
        """A store over a backend of the factory."""
        return es.Store(backend_factory())

    @pytest.fixture
    def reopen(self, backend_factory: BackendFactory) -> Callable[[], es.Store]:
        """Returns a new store over a new backend over the same location (if persistent)."""
        return lambda: es.Store(backend_factory())
