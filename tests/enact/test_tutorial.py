"""The tutorial runs unchanged against ``import enact`` and prints what it shows (SPEC §8).

``data/`` holds the project's own copies of the spec's ``tutorial.py``,
``tutorial.expected.txt`` and ``check_tutorial.py``; the check runs in a fresh
interpreter, as the conformance command does.
"""

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def test_tutorial_output_matches_the_expected_output() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(DATA / "check_tutorial.py"),
            str(DATA / "tutorial.py"),
            str(DATA / "tutorial.expected.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "tutorial output matches: 118 lines"


def test_tutorial_copies_are_complete() -> None:
    expected = (DATA / "tutorial.expected.txt").read_text().splitlines()
    assert len(expected) == 118
    assert "In [18]" in (DATA / "tutorial.py").read_text()
