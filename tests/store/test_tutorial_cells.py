"""Tutorial cells In [7]-[10] (stores, refs, modify, FileBackend) print the expected output.

The cells are read from the project's copy of the tutorial
(tests/enact/data/tutorial.py) and run unchanged in a child process, as its
__main__ module (so type names match the tutorial's), against an ``enact``
namespace assembled from enact_resource and enact_store alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "enact" / "data"

# Stands in for `import enact`: the store package must work on its own.
NAMESPACE = """\
import types

import enact_resource
import enact_store

enact = types.SimpleNamespace(
    **{name: getattr(module, name) for module in (enact_resource, enact_store)
       for name in module.__all__}
)
"""


def _cells() -> dict[int, str]:
    parts = re.split(r"^# In \[(\d+)\]:\n", (DATA / "tutorial.py").read_text(), flags=re.M)
    return {int(number): source for number, source in zip(parts[1::2], parts[2::2], strict=True)}


def test_tutorial_cells_7_to_10_print_the_expected_output() -> None:
    cells = _cells()
    # In [1] defines MyResource; its prints belong to tests/resource.
    cell_1 = "\n".join(
        line
        for line in cells[1].splitlines()
        if line != "import enact" and not line.startswith("print(")
    )
    script = "\n".join([NAMESPACE, cell_1, *(cells[n] for n in range(7, 11))])
    # The output of In [7] to In [10]: lines 13-28 of the expected output.
    expected = (DATA / "tutorial.expected.txt").read_text().splitlines(keepends=True)[12:28]

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "".join(expected)
    assert "import enact\n" not in script
