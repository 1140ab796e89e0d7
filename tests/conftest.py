"""Fixtures shared by every test folder: one backend factory per backend kind.

Backend behaviour is tested once, on every kind in
_store_testlib.BACKEND_KINDS (memory, file, sqlite, and postgres where a
server is configured, always in CI). To add a backend, add its line to
_store_testlib.KINDS: the conformance suite (tests/store/test_conformance.py)
and every test taking these fixtures then run on it too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

# Detailed assertion messages in the conformance suite's tests too (before
# anything imports it).
pytest.register_assert_rewrite("enact_store.testing")

import enact_store as es  # noqa: E402

# One import rule for every test folder: what a folder's tests share lives
# in a module beside them named _<folder>_testlib.py (tests/store/
# _store_testlib.py, tests/enact/_cli_testlib.py...), imported by that bare
# name, here, in the tests and in child processes, whatever pytest's import
# mode; fixtures live in conftest files. Each such folder goes on sys.path.
TESTS = Path(__file__).resolve().parent
for _helpers in sorted(TESTS.glob("*/_*_testlib.py")):
    if str(_helpers.parent) not in sys.path:
        sys.path.insert(0, str(_helpers.parent))

from _store_testlib import (  # noqa: E402
    BACKEND_KINDS,
    IN_CI,
    PERSISTENT_KINDS,
    POSTGRES_URL_VAR,
    SQL_KINDS,
    BackendFactory,
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Orders the long tests first, and keeps each ``xdist_group`` on one worker.

    Order: the tests marked ``slow`` or ``packaging`` first, keeping the order
    otherwise (each module is all-long or all-short, so modules stay whole).
    pytest-xdist hands tests out in this order (groups of several tests, such
    as the Ray and Dask clusters', first): a long test started last keeps one
    worker busy while the other has nothing left to do.

    Groups: under ``--dist loadgroup`` pytest-xdist (3.8) puts a grouped test
    in its group by appending ``@GROUP`` to its node id through
    ``item._nodeid``, which pytest 9.2's structured node ids no longer read:
    the mark was silently ignored, so each worker started its own Ray and Dask
    clusters and built the wheels (pytest-dev/pytest-xdist#1386). This sets
    the id the way pytest 9.2 keeps it; where xdist's way works, the id already
    ends with the group and is left alone.
    """
    items.sort(
        key=lambda item: (
            not any(item.iter_markers("slow")) and not any(item.iter_markers("packaging"))
        )
    )
    if not config.getoption("loadgroup", default=False):  # set on xdist's workers
        return
    from _pytest.nodeid import NodeId

    for item in items:
        names = sorted(
            {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
        )
        suffix = f"@{'_'.join(names)}"
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(f"{item.nodeid}{suffix}")  # type: ignore[attr-defined]


def _unavailable(why: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{why}: in CI (CI set) this test must run, never be skipped")
    pytest.skip(why)


@pytest.fixture(scope="session")
def unavailable() -> Callable[[str], NoReturn]:
    """Says a test cannot run here and why: skips it locally, fails it in CI.

    For tests that need something a developer's machine may lack (a
    PostgreSQL server, uv, Chromium, the right to mount) but CI always has.
    """
    return _unavailable


@pytest.fixture(params=BACKEND_KINDS)
def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Opens backends of each kind in turn, over a location private to the test."""
    factory = BackendFactory(request.param, tmp_path)
    yield factory
    factory.close_all()


@pytest.fixture(params=PERSISTENT_KINDS)
def persistent_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Like backend_factory, for the kinds that keep data outside the process."""
    factory = BackendFactory(request.param, tmp_path)
    yield factory
    factory.close_all()


def _sql_factory(kind: str, tmp_path: Path) -> Iterator[BackendFactory]:
    if kind == "postgres" and "postgres" not in PERSISTENT_KINDS:
        _unavailable(f"{POSTGRES_URL_VAR} is not set: no PostgreSQL server to test against")
    factory = BackendFactory(kind, tmp_path)
    yield factory
    factory.close_all()


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[BackendFactory]:
    """A PostgreSQL location of its own (a schema); skipped only outside CI with no server."""
    yield from _sql_factory("postgres", tmp_path)


@pytest.fixture(params=SQL_KINDS)
def sql_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Each SQL backend kind in turn (SQLite, PostgreSQL), as postgres_factory for PostgreSQL."""
    yield from _sql_factory(request.param, tmp_path)


@pytest.fixture
def store(backend_factory: BackendFactory) -> es.Store:
    """A store over a fresh backend of each kind."""
    return es.Store(backend_factory())


@pytest.fixture
def reopen(backend_factory: BackendFactory) -> Callable[[], es.Store]:
    """Returns a new Store over a new backend instance at the same location."""
    return lambda: es.Store(backend_factory())


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """Mounts a tmpfs of ``size`` KiB (a real file system that fills up) and returns its path.

    Needs the right to mount (root, as in the test containers); skipped where
    mounting is not allowed. Unmounted after the test.
    """
    mounted: list[Path] = []

    def mount(size_kib: int) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command here to make a small file system")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0777", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)
