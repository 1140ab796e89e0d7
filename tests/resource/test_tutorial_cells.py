"""Tutorial cells In [1] to In [6] print what the tutorial shows (SPEC section 8).

The cells are read from the project's copy of the tutorial
(tests/enact/data/tutorial.py, with the expression cells wrapped in print) and
their output from tutorial.expected.txt beside it. Each cell is run after the
cells before it, as the tutorial runs them, in a fresh interpreter as the
``__main__`` module.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "enact" / "data"

# How many lines of the expected output the cells up to In [N] print.
LINES_AFTER_CELL = {1: 2, 2: 6, 3: 7, 4: 8, 5: 9, 6: 12}


def _cells() -> dict[int, str]:
    parts = re.split(r"^# In \[(\d+)\]:\n", (DATA / "tutorial.py").read_text(), flags=re.M)
    return {int(number): source for number, source in zip(parts[1::2], parts[2::2], strict=True)}


def _mask_addresses(text: str) -> str:
    return re.sub(r" at 0x[0-9a-fA-F]+>", " at 0x...>", text)


@pytest.mark.parametrize("last", sorted(LINES_AFTER_CELL), ids=lambda n: f"In [{n}]")
def test_tutorial_cells_print_the_tutorial_output(last: int, tmp_path: Path) -> None:
    cells = _cells()
    script = "\n".join(cells[n] for n in range(1, last + 1))
    expected = (DATA / "tutorial.expected.txt").read_text().splitlines()

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert _mask_addresses(result.stdout).splitlines() == expected[: LINES_AFTER_CELL[last]]
