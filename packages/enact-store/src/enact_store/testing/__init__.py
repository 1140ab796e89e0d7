"""The conformance suite of the StorageBackend contract, for pytest.

Every behaviour a backend must have, as tests any backend can be run
through: objects round-trip whole and under their digest, tags move
atomically, compare-and-set loses no update, verify and gc find what is
damaged and lose nothing a writer commits, and committed objects survive the
committing process being killed. To run them on your backend, subclass
:class:`BackendFactory` (it opens your backend over a location of its own)
and :class:`BackendTests`::

    import enact_store.testing as est

    class MyFactory(est.BackendFactory):
        def open(self):
            return MyBackend(self.tmp_path / "store")

    class TestMyBackend(est.BackendTests):
        factory_class = MyFactory

Optional hooks of the factory (raw access to stored bytes, aging objects, a
URL for other processes, a read-only instance) unlock the tests that need
them; the others are skipped, naming the hook. The enact-store README shows
a whole example.

Needs pytest and hypothesis: install ``enact-store[testing]``. Nothing else
in enact-store imports this module. For pytest's detailed assertion
messages, call ``pytest.register_assert_rewrite("enact_store.testing")`` in
your ``conftest.py`` before importing it.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from enact_store.testing._factory import BackendFactory
from enact_store.testing._resources import Box, Node, Pair

# Checked without importing them: the suite's child processes (the worker
# script, ``python -m enact_store.testing._worker``) import this package but
# need neither, and importing both costs each child a second or two of CPU.
_missing = [name for name in ("pytest", "hypothesis") if importlib.util.find_spec(name) is None]
if _missing:  # pragma: no cover - only without the extra
    raise ImportError(
        f"enact_store.testing needs pytest and hypothesis (no module named {_missing[0]!r}): "
        "pip install 'enact-store[testing]'"
    )

if TYPE_CHECKING:
    from enact_store.testing._suite import BackendTests

__all__ = ["BackendFactory", "BackendTests", "Box", "Node", "Pair"]


def __getattr__(name: str) -> Any:
    # The test classes import pytest and hypothesis: loaded when first asked for.
    if name == "BackendTests":
        return importlib.import_module("enact_store.testing._suite").BackendTests
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
