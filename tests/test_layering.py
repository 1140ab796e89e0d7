"""Dependencies point one way: resource <- store <- invoke <- enact.

Checked on the source of every module, lazy imports inside functions included,
and on each package's declared dependencies.
"""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["enact_resource", "enact_store", "enact_invoke", "enact"]
DISTRIBUTION = {name: name.replace("_", "-") for name in ORDER}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ORDER)


@pytest.mark.parametrize("package", ORDER)
def test_package_imports_only_packages_to_its_left(package: str) -> None:
    allowed = set(ORDER[: ORDER.index(package) + 1])
    src = ROOT / "packages" / DISTRIBUTION[package] / "src" / package
    modules = sorted(src.rglob("*.py"))
    assert modules
    for module in modules:
        wrong = _imported_packages(module) - allowed
        assert not wrong, f"{module.relative_to(ROOT)} imports {sorted(wrong)}"


def _private_imports_of_siblings(path: Path, package: str) -> list[str]:
    """Imports of another enact package's underscored modules or names, as text."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            names = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            top, *rest = module.split(".")
            if top not in ORDER or top == package:
                continue
            if any(part.startswith("_") for part in rest) or any(
                name.startswith("_") for name in names
            ):
                found.append(f"line {node.lineno}: {module} {names}")
    return found


@pytest.mark.parametrize("package", ORDER)
def test_package_uses_only_the_public_api_of_its_siblings(package: str) -> None:
    # A sibling's private modules and names may change in any release; only
    # what its __init__ exports is covered by the declared version range.
    src = ROOT / "packages" / DISTRIBUTION[package] / "src" / package
    for module in sorted(src.rglob("*.py")):
        wrong = _private_imports_of_siblings(module, package)
        assert not wrong, f"{module.relative_to(ROOT)} imports private names: {wrong}"


@pytest.mark.parametrize("package", ORDER)
def test_package_declares_only_its_left_neighbours_with_ranges(package: str) -> None:
    meta = tomllib.loads((ROOT / "packages" / DISTRIBUTION[package] / "pyproject.toml").read_text())
    deps = meta["project"]["dependencies"]
    siblings = {DISTRIBUTION[name] for name in ORDER}
    declared = {}
    for dep in deps:
        name = dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        if name in siblings:
            declared[name] = dep
    allowed = {DISTRIBUTION[name] for name in ORDER[: ORDER.index(package)]}
    assert set(declared) <= allowed
    for dep in declared.values():
        assert ">=" in dep, f"{package}: sibling dependency {dep!r} needs a lower bound"
        assert "<" in dep, f"{package}: sibling dependency {dep!r} needs an upper bound"


def test_every_package_ships_py_typed_readme_and_changelog() -> None:
    for package in ORDER:
        base = ROOT / "packages" / DISTRIBUTION[package]
        assert (base / "src" / package / "py.typed").exists()
        assert (base / "README.md").exists()
        assert (base / "CHANGELOG.md").exists()


# --- The shipped conformance suite (enact_store.testing) ---

TESTING = ROOT / "packages" / "enact-store" / "src" / "enact_store" / "testing"
TEST_ONLY = {"pytest", "_pytest", "hypothesis"}


def _all_imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative ones with a leading '.')."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_the_conformance_suite_depends_on_nothing_in_the_repo_tests() -> None:
    # enact_store.testing ships in the wheel: it may use enact_store,
    # enact_resource, the standard library and its test-only extra, never a
    # helper of the repo's tests/ (which is not installed).
    modules = sorted(TESTING.glob("*.py"))
    assert modules
    for module in modules:
        for name in _all_imports(module):
            top = name.split(".")[0]
            from_tests = top in {"tests", "conftest"} or top.startswith("_store_")
            assert not from_tests, f"{module.relative_to(ROOT)} imports {name} from tests/"
            assert top in {"enact_store", "enact_resource"} | TEST_ONLY or (
                top in sys.stdlib_module_names
            ), f"{module.relative_to(ROOT)} imports {name}"


def test_nothing_else_in_enact_store_imports_the_suite_or_test_libraries() -> None:
    src = ROOT / "packages" / "enact-store" / "src" / "enact_store"
    for module in sorted(src.rglob("*.py")):
        if TESTING in module.parents:
            continue
        for name in _all_imports(module):
            assert not name.startswith("enact_store.testing"), f"{module} imports {name}"
            assert name.split(".")[0] not in TEST_ONLY, f"{module} imports {name}"


def test_importing_enact_store_loads_no_test_library() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, enact_store; print(sorted(m for m in sys.modules"
            " if m.split('.')[0] in ('pytest', '_pytest', 'hypothesis')"
            " or m.startswith('enact_store.testing')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_test_libraries_are_only_an_optional_extra_of_enact_store() -> None:
    meta = tomllib.loads((ROOT / "packages" / "enact-store" / "pyproject.toml").read_text())
    names = {dep.split(">")[0].split("[")[0].strip() for dep in meta["project"]["dependencies"]}
    assert not names & TEST_ONLY
    testing = meta["project"]["optional-dependencies"]["testing"]
    assert {dep.split(">")[0].strip() for dep in testing} == {"pytest", "hypothesis"}
