"""enact-store works installed on its own: only enact-store, enact-resource and msgspec."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent
PACKAGES = HERE.parents[1] / "packages"
ALLOWED = {"enact_store", "enact_resource"}
ENACT_PACKAGES = {"enact", "enact_invoke", *ALLOWED}

# Runs in a fresh environment holding just the two packages (and msgspec).
CHECK = """\
import tempfile
from pathlib import Path

try:
    import enact_invoke  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("enact_invoke is importable: the environment is not isolated")
try:
    import enact  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("enact is importable: the environment is not isolated")

import enact_resource as er
import enact_store as es

with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{Path(tmp) / 'store.db'}"
    with es.open_store(url) as store:
        ref = es.commit(er.Str("standalone"))
        store.tags["main"] = ref
    store.close()
    with es.open_store(url) as store:
        assert es.Ref(ref.digest).get() == "standalone"
        assert store.tags["main"] == ref
    store.close()
print("ok", es.__file__)
"""


def test_store_tests_import_only_enact_store_and_enact_resource() -> None:
    for module in sorted(HERE.glob("*.py")):
        tree = ast.parse(module.read_text(), str(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = {node.module.split(".")[0]}
            else:
                continue
            wrong = (names & ENACT_PACKAGES) - ALLOWED
            assert not wrong, f"{module.name} imports {sorted(wrong)}"


def test_store_works_installed_without_the_other_enact_packages(
    tmp_path: Path, unavailable: Callable[[str], NoReturn]
) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` sets UV to itself
    if uv is None:
        unavailable("uv is not on PATH")
    # uv reuses its build of a local directory until its pyproject.toml
    # changes; copies at a new path are always built from the current source.
    sources = tmp_path / "sources"
    for name in ("enact-resource", "enact-store"):
        shutil.copytree(
            PACKAGES / name,
            sources / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "dist", "build", ".venv"),
        )
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}

    result = subprocess.run(
        [
            *(uv, "run", "--isolated", "--no-project", "--python", python),
            *("--with", str(sources / "enact-resource"), "--with", str(sources / "enact-store")),
            *("python", "-c", CHECK),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok ")
    assert str(tmp_path) not in result.stdout  # an installed copy, not the source tree
