"""--import: reading objects of the user's own types, from a module or a script file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from _cli_testlib import run_enact

POINT = """\
import dataclasses
import enact

@enact.register
@dataclasses.dataclass
class Point(enact.Resource):
    x: int
    y: int
"""

#: A script: its types at the top, and a main block that must not run on --import.
SCRIPT = (
    POINT
    + """
from pathlib import Path

Path("imports.log").open("a").write(__name__ + "\\n")

if __name__ == "__main__":
    Path("main-block-ran").write_text("yes")
    with enact.open_store("sqlite:///.enact/store.db") as store:
        store.tags["point"] = enact.commit(Point(100, 200))
"""
)


def _store_a_point(cwd: Path, module: str) -> None:
    """Tags ``point`` -> Point(1, 2), Point imported from ``module`` (named module.Point)."""
    script = (
        f"import enact, {module}\n"
        "with enact.open_store('sqlite:///.enact/store.db') as s:\n"
        f"    s.tags['point'] = enact.commit({module}.Point(1, 2))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=cwd, check=True, timeout=60)


def _tagged(cwd: Path) -> str:
    result = run_enact(cwd, "ls")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[0]


def test_objects_of_unregistered_types_show_as_stored_and_verify_without_import(
    tmp_path: Path,
) -> None:
    (tmp_path / "points.py").write_text(POINT)
    _store_a_point(tmp_path, "points")

    ls = run_enact(tmp_path, "ls")
    assert ls.returncode == 0
    assert ls.stdout.splitlines()[0].split()[:4] == ["point", "Point", "(not", "registered)"]
    raw = run_enact(tmp_path, "show", "point")
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == "Point[raw](x=1, y=2)\n"
    assert raw.stderr == (
        "enact: note: shown as stored ([raw]), without their classes: points.Point; pass "
        "--import MODULE (or --import path/to/file.py) to read them as their classes\n"
    )
    verify = run_enact(tmp_path, "verify")
    assert verify.returncode == 0, verify.stdout
    assert verify.stdout.startswith("ok: 1 object verified")

    shown = run_enact(tmp_path, "show", "point", "--import", "points")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "Point(x=1, y=2)\n"


def test_import_of_a_script_file_never_runs_its_main_block(tmp_path: Path) -> None:
    (tmp_path / "greeters.py").write_text(SCRIPT)
    _store_a_point(tmp_path, "greeters")  # Imports it: logs "greeters", no main block.
    before = _tagged(tmp_path)

    for path in ("greeters.py", str(tmp_path / "greeters.py"), "./greeters.py"):
        shown = run_enact(tmp_path, "--import", path, "show", "point")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == "Point(x=1, y=2)\n"

    assert not (tmp_path / "main-block-ran").exists()
    assert _tagged(tmp_path) == before
    assert (tmp_path / "imports.log").read_text().splitlines() == ["greeters"] * 4


def test_import_of_a_file_in_another_directory_puts_that_directory_on_the_path(
    tmp_path: Path,
) -> None:
    # The script imports a sibling module, as scripts run with `python path/script.py` may.
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "shapes.py").write_text(POINT)
    (lib / "script.py").write_text("from shapes import Point\nprint('imported', __name__)\n")
    _store_a_point(lib, "shapes")
    (lib / ".enact").rename(tmp_path / ".enact")

    shown = run_enact(tmp_path, "--import", "lib/script.py", "show", "point")

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "imported script\nPoint(x=1, y=2)\n"


def test_a_module_imported_twice_runs_once(tmp_path: Path) -> None:
    (tmp_path / "greeters.py").write_text(SCRIPT)
    _store_a_point(tmp_path, "greeters")
    args = ["--import", "greeters", "--import", "greeters.py", "--import", "./greeters.py"]

    shown = run_enact(tmp_path, *args, "show", "point")

    assert shown.returncode == 0, shown.stderr
    assert (tmp_path / "imports.log").read_text().splitlines() == ["greeters"] * 2


def test_types_of_a_script_run_as_main_read_with_import_of_the_script(tmp_path: Path) -> None:
    # `python make_point.py` stores __main__.Point; importing the script by
    # path defines make_point.Point, which reads those records (an alias).
    (tmp_path / "make_point.py").write_text(SCRIPT)
    subprocess.run([sys.executable, "make_point.py"], cwd=tmp_path, check=True, timeout=60)
    (tmp_path / "main-block-ran").unlink()

    raw = run_enact(tmp_path, "show", "point")
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == "Point[raw](x=100, y=200)\n"
    assert (
        "__main__.Point; they were defined in a script run as __main__: pass --import "
        "path/to/that_script.py" in raw.stderr
    )
    assert run_enact(tmp_path, "verify").returncode == 0

    for module in ("make_point.py", str(tmp_path / "make_point.py"), "make_point"):
        shown = run_enact(tmp_path, "--import", module, "show", "point")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == "Point(x=100, y=200)\n"
        assert shown.stderr == ""
    assert not (tmp_path / "main-block-ran").exists()


def test_the_readme_recipe_works(tmp_path: Path) -> None:
    readme = Path(__file__).parents[2] / "packages" / "enact" / "README.md"
    blocks = re.findall(r"^```python\n(.*?)^```", readme.read_text(), re.DOTALL | re.MULTILINE)
    files = {re.match(r"# (\w+\.py)", block)[1]: block for block in blocks}  # type: ignore[index]
    assert set(files) == {"greeters.py", "hello.py"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    subprocess.run([sys.executable, "hello.py"], cwd=tmp_path, check=True, timeout=60)
    assert _tagged(tmp_path).split()[:2] == ["hello/latest", "Invocation"]

    for module in ("greeters", "greeters.py", str(tmp_path / "greeters.py")):
        tree = run_enact(tmp_path, "--import", module, "tree", "hello/latest")
        assert tree.returncode == 0, tree.stderr
        assert tree.stdout.endswith(" HelloEnact(greeting='Hello')('World') -> 'Hello World!'\n")
