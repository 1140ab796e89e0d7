"""Each package builds and installs on its own, as a user would get it (marker ``packaging``).

Inside the workspace uv resolves the siblings from source and ignores their
declared version ranges, so these tests build every package with
``uv build --package NAME --no-sources`` and install the wheels into clean
venvs outside the workspace: installing resolves the declared ranges (a stale
range fails to install), and the code runs from the installed copies.

They are slower than the rest (a few seconds: four builds, a few venvs) and
need uv; they are skipped without uv only outside CI (with ``CI`` set, a
missing uv fails them). Deselect locally with ``-m "not packaging"``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

# One xdist worker runs the module: the wheels and the full venv (module
# fixtures) are made once, not once per worker.
pytestmark = [pytest.mark.packaging, pytest.mark.xdist_group("packaging")]

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["enact-resource", "enact-store", "enact-invoke", "enact"]
TUTORIAL = ROOT / "tests" / "enact" / "data"


@pytest.fixture(scope="module")
def uv(unavailable: Callable[[str], NoReturn]) -> str:
    """The uv executable (`uv run` sets UV to itself)."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        unavailable("uv is not on PATH: the packaging tests need it")
    return found


def _env() -> dict[str, str]:
    """The environment without the workspace's venv, so nothing leaks into the checks."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "ENACT_STORE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["UV_NO_PROGRESS"] = "1"
    return env


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _project(name: str) -> dict[str, object]:
    project: dict[str, object] = tomllib.loads(
        (ROOT / "packages" / name / "pyproject.toml").read_text()
    )["project"]
    return project


def _wheel_name(name: str) -> str:
    return f"{name.replace('-', '_')}-{_project(name)['version']}-py3-none-any.whl"


@dataclass
class Built:
    out: Path
    results: dict[str, subprocess.CompletedProcess[str]]

    def wheel(self, name: str) -> Path:
        return self.out / name / _wheel_name(name)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv: str) -> Built:
    """Every package built on its own, each into its own directory."""
    out = tmp_path_factory.mktemp("dist")
    results = {
        name: _run(
            [uv, "build", "--package", name, "--no-sources", "--out-dir", str(out / name)],
            cwd=ROOT,
        )
        for name in PACKAGES
    }
    return Built(out, results)


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _venv(uv: str, where: Path, wheels: list[Path]) -> Path:
    """A clean venv (this interpreter's version) holding ``wheels`` and their dependencies."""
    created = _run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(where)], cwd=where.parent
    )
    assert created.returncode == 0, created.stderr
    python = _python(where)
    installed = _run(
        [uv, "pip", "install", "--quiet", "--python", str(python), *map(str, wheels)],
        cwd=where.parent,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python


def _readme_programs(path: Path, where: Path) -> list[Path]:
    """Writes a README's python blocks into ``where``; returns them in order, to run.

    A block whose first line is ``# NAME.py`` is written as that file (other
    blocks may import it, or run after it on what it stored); the others as
    ``example_N.py``. Every block runs, in order, in ``where``.
    """
    blocks = re.findall(r"^```python\n(.*?)^```", path.read_text(), re.DOTALL | re.MULTILINE)
    assert blocks, f"{path} should hold a python example"
    programs = []
    for number, block in enumerate(blocks):
        named = re.match(r"# (\w+\.py)\b", block)
        program = where / (named[1] if named else f"example_{number}.py")
        program.write_text(block)
        programs.append(program)
    return programs


# --- Building ---


@pytest.mark.parametrize("name", PACKAGES)
def test_each_package_builds_on_its_own(built: Built, name: str) -> None:
    result = built.results[name]
    assert result.returncode == 0, result.stdout + result.stderr
    version = _project(name)["version"]
    artefacts = [p for p in (built.out / name).iterdir() if p.name != ".gitignore"]
    assert sorted(p.name for p in artefacts) == [
        _wheel_name(name),
        f"{name.replace('-', '_')}-{version}.tar.gz",
    ]
    with zipfile.ZipFile(built.wheel(name)) as wheel:
        files = wheel.namelist()
        metadata = wheel.read(f"{name.replace('-', '_')}-{version}.dist-info/METADATA").decode()
    assert f"{name.replace('-', '_')}/py.typed" in files
    # Built without workspace sources: the metadata holds the declared ranges.
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata, re.MULTILINE)
    dependencies = _project(name)["dependencies"]
    assert isinstance(dependencies, list)
    for dependency in dependencies:
        assert dependency.replace(" ", "") in [r.replace(" ", "") for r in requires]
    assert not any("file:" in r or "packages/" in r for r in requires)


def test_the_enact_wheel_declares_the_console_script(built: Built) -> None:
    version = _project("enact")["version"]
    with zipfile.ZipFile(built.wheel("enact")) as wheel:
        entry_points = wheel.read(f"enact-{version}.dist-info/entry_points.txt").decode()
    assert "[console_scripts]\nenact = enact._cli:main" in entry_points


# --- The store on its own ---

STORE_ONLY = """\
import importlib.metadata
import sys
import tempfile
from pathlib import Path

for name in ("enact_invoke", "enact"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        sys.exit(f"{name} is importable: the environment is not isolated")
installed = sorted(d.metadata["Name"] for d in importlib.metadata.distributions())
assert installed == ["enact-resource", "enact-store", "msgspec"], installed

import dataclasses

import enact_resource as er
import enact_store as es

assert Path(es.__file__).is_relative_to(sys.prefix), es.__file__


@er.register
@dataclasses.dataclass
class Doc(er.Resource):
    title: str
    parts: list[es.Ref[er.Str]]


with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{Path(tmp) / 'store.db'}"
    with es.open_store(url) as store:
        doc = es.commit(Doc("report", [es.commit(er.Str("intro")), es.commit(er.Str("end"))]))
        store.tags["docs/report"] = doc
        assert es.commit(Doc("report", doc().parts)) == doc  # content-addressed
    store.close()

    with es.open_store(url) as store:  # reopened: everything comes from the file
        fresh = es.Ref(doc.digest)
        assert fresh.get() == Doc("report", doc().parts)
        assert [part() for part in fresh().parts] == ["intro", "end"]
        assert dict(store.tags) == {"docs/report": doc}
        with fresh.modify() as edited:
            edited.title = "final report"
        store.tags["docs/report"] = fresh
        del store.tags["docs/report"]
        store.tags["docs/final"] = fresh
        assert store.verify().ok
        deleted = store.gc(grace_period=0).deleted
        assert deleted == [doc.digest], deleted
        assert "title: 'final report'" in es.pformat(fresh)
    store.close()

    # Media resources are stored, read, verified and printed without their
    # extras; only unpacking them asks for numpy or Pillow.
    url = f"sqlite:///{Path(tmp) / 'media.db'}"
    with es.open_store(url) as store:
        array = es.commit(er.NPArray.from_fields({"dtype": "<f4", "shape": [2], "data": bytes(8)}))
    store.close()
    with es.open_store(url) as store:
        assert es.pformat(es.Ref(array.digest)).startswith("-> <NPArray float32[2]>#")
        assert store.verify().ok
        try:
            array().array
        except ImportError as e:
            assert "pip install 'enact-resource[numpy]'" in str(e), e
        else:
            sys.exit("NPArray.array worked without numpy")
    store.close()
assert not {"numpy", "PIL"} & {name.split(".")[0] for name in sys.modules}, "numpy/PIL imported"

# The conformance suite ships, and says what it needs (pytest is no dependency).
try:
    import enact_store.testing  # noqa: F401
except ImportError as e:
    assert "pip install 'enact-store[testing]'" in str(e), e
else:
    sys.exit("enact_store.testing imported without pytest")
print("store ok", es.__version__)
"""


def test_the_store_works_installed_with_only_enact_resource(
    built: Built, tmp_path: Path, uv: str
) -> None:
    python = _venv(
        uv, tmp_path / "venv", [built.wheel("enact-resource"), built.wheel("enact-store")]
    )
    result = _run([str(python), "-c", STORE_ONLY], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"store ok {_project('enact-store')['version']}\n"

    no_invoke = _run([str(python), "-c", "import enact_invoke"], cwd=tmp_path)
    assert no_invoke.returncode != 0
    assert "ModuleNotFoundError: No module named 'enact_invoke'" in no_invoke.stderr

    # The store's README example uses only enact_store and enact_resource.
    outputs = []
    for program in _readme_programs(ROOT / "packages" / "enact-store" / "README.md", tmp_path):
        result = _run([str(python), str(program)], cwd=tmp_path)
        assert result.returncode == 0, f"{program.name}: {result.stdout}{result.stderr}"
        outputs.append(result.stdout)
    assert "1 object deleted" in "".join(outputs)


# --- Everything together ---


@pytest.fixture(scope="module")
def full_venv(built: Built, tmp_path_factory: pytest.TempPathFactory, uv: str) -> Path:
    where = tmp_path_factory.mktemp("full")
    return _venv(uv, where / "venv", [built.wheel(name) for name in PACKAGES])


def test_the_tutorial_runs_against_the_four_installed_wheels(
    full_venv: Path, tmp_path: Path
) -> None:
    located = _run(
        [str(full_venv), "-c", "import enact, sys; print(enact.__file__.startswith(sys.prefix))"],
        cwd=tmp_path,
    )
    assert located.stdout == "True\n", located.stdout + located.stderr
    result = _run(
        [
            str(full_venv),
            str(TUTORIAL / "check_tutorial.py"),
            str(TUTORIAL / "tutorial.py"),
            str(TUTORIAL / "tutorial.expected.txt"),
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "tutorial output matches: 118 lines\n"


def test_the_installed_enact_command_runs_the_demo(full_venv: Path, tmp_path: Path) -> None:
    script = full_venv.with_name("enact.exe" if os.name == "nt" else "enact")
    result = _run([str(script), "demo", "--answer", "Installed"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "answer:   'Installed' (from --answer)" in result.stdout
    assert (tmp_path / ".enact" / "store.db").exists()
    listed = _run([str(script), "ls"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert re.match(r"demo/latest +Invocation +#[0-9a-f]{8}\n", listed.stdout), listed.stdout
    assert "demo/run-1/answered" in listed.stdout


def test_the_enact_wheel_holds_the_page_of_enact_serve_and_the_otel_extra(built: Built) -> None:
    version = _project("enact")["version"]
    with zipfile.ZipFile(built.wheel("enact")) as wheel:
        files = wheel.namelist()
        metadata = wheel.read(f"enact-{version}.dist-info/METADATA").decode()
    for name in ("index.html", "app.js", "app.css"):
        assert f"enact/_static/{name}" in files
    assert "enact/otel.py" in files
    assert "Provides-Extra: otel" in metadata
    assert re.search(r"^Requires-Dist: opentelemetry-sdk.*extra == .otel.", metadata, re.MULTILINE)


def test_the_installed_enact_serve_serves_its_page(full_venv: Path, tmp_path: Path) -> None:
    script = full_venv.with_name("enact.exe" if os.name == "nt" else "enact")
    demo = _run([str(script), "demo", "--answer", "Installed"], cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    server = subprocess.Popen(
        [str(script), "serve", "--port", "0"],
        cwd=tmp_path,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        found = re.match(r"enact serve: (http://127\.0\.0\.1:\d+/)\n", server.stdout.readline())
        assert found, server.stderr.read() if server.stderr else ""
        with urllib.request.urlopen(found[1], timeout=30) as page:
            assert b'<script src="/static/app.js"' in page.read()
        with urllib.request.urlopen(found[1] + "static/app.js", timeout=30) as script_file:
            assert b"/api/runs" in script_file.read()
        with urllib.request.urlopen(found[1] + "api/runs", timeout=30) as runs:
            assert b"demo/latest" in runs.read()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0


def test_export_without_the_otel_extra_says_what_to_install(
    full_venv: Path, tmp_path: Path
) -> None:
    script = full_venv.with_name("enact.exe" if os.name == "nt" else "enact")
    assert _run([str(script), "demo", "--answer", "x"], cwd=tmp_path).returncode == 0
    result = _run([str(script), "export", "--otel", "demo/latest"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "enact: error: export --otel needs OpenTelemetry: pip install 'enact[otel]'\n"
    )


@pytest.mark.parametrize(
    "readme",
    [
        "README.md",
        "packages/enact-resource/README.md",
        "packages/enact-invoke/README.md",
        "packages/enact/README.md",
    ],
)
def test_the_readme_examples_run_against_the_installed_wheels(
    full_venv: Path, tmp_path: Path, readme: str
) -> None:
    for program in _readme_programs(ROOT / readme, tmp_path):
        result = _run([str(full_venv), str(program)], cwd=tmp_path)
        assert result.returncode == 0, f"{program.name}: {result.stdout}{result.stderr}"


# --- Sibling ranges ---


def test_a_stale_sibling_range_fails_to_install(built: Built, tmp_path: Path, uv: str) -> None:
    """The check above has teeth: a package requiring a store release that the
    built wheels do not provide cannot be installed next to them."""
    source = tmp_path / "enact-invoke"
    shutil.copytree(
        ROOT / "packages" / "enact-invoke",
        source,
        ignore=shutil.ignore_patterns("__pycache__", "dist", "build"),
    )
    pyproject = source / "pyproject.toml"
    text = pyproject.read_text()
    store_range = re.search(r'"enact-store>=[^"]+"', text)
    assert store_range is not None
    pyproject.write_text(text.replace(store_range[0], '"enact-store>=99.0,<100"'))
    stale = _run(
        [uv, "build", "--no-sources", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source)],
        cwd=tmp_path,
    )
    assert stale.returncode == 0, stale.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")

    venv = tmp_path / "venv"
    created = _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    result = _run(
        [
            *(uv, "pip", "install", "--python", str(_python(venv))),
            *(str(built.wheel("enact-resource")), str(built.wheel("enact-store")), str(wheel)),
        ],
        cwd=tmp_path,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "enact-store>=99.0" in result.stderr.replace(" ", "")
