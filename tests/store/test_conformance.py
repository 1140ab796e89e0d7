"""The conformance suite (enact_store.testing) on every backend the repo ships.

The tests are enact_store.testing.BackendTests, run on each kind in
_store_testlib.BACKEND_KINDS (memory, file, sqlite, and postgres where a
server is configured, always in CI) through the repo's BackendFactory, which
provides every optional hook of the suite's factory. Adding a backend adds
its line to _store_testlib.KINDS.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from _store_testlib import BACKEND_KINDS, PERSISTENT_KINDS, POSTGRES_URL_VAR, BackendFactory

from enact_store.testing import BackendTests


class TestShippedBackends(BackendTests):
    @pytest.fixture(params=BACKEND_KINDS)
    def backend_factory(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Iterator[BackendFactory]:
        with BackendFactory(request.param, tmp_path) as factory:
            yield factory


def test_postgres_backend_joins_the_suite_when_a_server_is_configured(
    unavailable: Callable[[str], NoReturn],
) -> None:
    if not os.environ.get(POSTGRES_URL_VAR):
        unavailable(f"{POSTGRES_URL_VAR} is not set: PostgreSQL conformance not run")
    assert "postgres" in BACKEND_KINDS
    assert "postgres" in PERSISTENT_KINDS
