"""Helpers shared by the tests of the enact command (not a test module).

Successful runs call ``enact._cli.main`` in-process (fast); error cases run
``python -m enact`` in a subprocess, to prove the exit status and that the
user sees one line and no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import enact

DEFAULT_DB = Path(".enact") / "store.db"

#: Environment variables that change what the command does: removed for every run.
_AMBIENT = ("ENACT_STORE", "COLUMNS")


def run_enact(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    close_stdout: bool = False,
    stdout_path: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m enact ARGS`` in ``cwd`` with ENACT_STORE and COLUMNS unset, no stdin.

    Args:
        cwd: the working directory.
        args: the command line.
        env: variables to set on top of this process's environment.
        close_stdout: start the command with its stdout closed (as ``>&-`` does).
        stdout_path: write the command's stdout to this file (``/dev/full``, say)
            instead of capturing it.
    """
    environ = {k: v for k, v in os.environ.items() if k not in _AMBIENT}
    environ.update(env or {})
    stdout_file = open(stdout_path, "w") if stdout_path else None  # noqa: SIM115
    try:
        return subprocess.run(
            [sys.executable, "-m", "enact", *args],
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=stdout_file if stdout_file else subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Closing fd 1 in the child, just before it runs Python.
            preexec_fn=(lambda: os.close(1)) if close_stdout else None,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        if stdout_file:
            stdout_file.close()


def assert_one_line_error(result: subprocess.CompletedProcess[str], status: int, text: str) -> None:
    """Asserts the exit status, and one line on stderr, ``enact: error: ...`` holding ``text``."""
    assert result.returncode == status, f"{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("enact: error: ")
    assert text in lines[0]


def no_psycopg_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import psycopg`` fails as if it were not installed.

    A ``psycopg`` package first on PYTHONPATH raises ModuleNotFoundError when imported.
    """
    shim = tmp_path / "no-psycopg"
    (shim / "psycopg").mkdir(parents=True, exist_ok=True)
    (shim / "psycopg" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path}


def no_otel_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import opentelemetry`` fails as if it were not installed."""
    shim = tmp_path / "no-otel"
    (shim / "opentelemetry").mkdir(parents=True, exist_ok=True)
    (shim / "opentelemetry" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'opentelemetry'\", name='opentelemetry')\n"
    )
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path}


def open_default(cwd: Path | None = None) -> enact.Store:
    """Opens the default store of ``cwd`` (else of the current directory)."""
    path = DEFAULT_DB if cwd is None else cwd / DEFAULT_DB
    return enact.open_store(f"sqlite:///{path}")


def latest_digest(cwd: Path | None = None) -> str:
    """The digest demo/latest points at in the default store."""
    store = open_default(cwd)
    try:
        return store.tags["demo/latest"].digest
    finally:
        store.close()


def two_ints_sharing_a_prefix() -> tuple[int, int, str]:
    """Two ints whose Int resources' digests share their first 6 hex digits, and that prefix."""
    seen: dict[str, int] = {}
    for i in range(100_000):
        prefix = enact.digest(enact.Int(i))[:6]
        if prefix in seen:
            return seen[prefix], i, prefix
        seen[prefix] = i
    raise AssertionError("no shared prefix found")
