"""Running the suite's child processes (the script _worker)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

__all__ = ["WORKER", "commit_elsewhere"]

#: The command that runs the worker script (see _worker's docstring).
WORKER = [sys.executable, "-m", "enact_store.testing._worker"]


def commit_elsewhere(url: str, label: str, links: Sequence[str] = ()) -> str:
    """Commits, in a child process, an object of a type this process does not have.

    The object holds ``label`` and refs to ``links`` (digests); returns its digest.
    """
    result = subprocess.run(
        [*WORKER, "elsewhere", url, label, *links],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
