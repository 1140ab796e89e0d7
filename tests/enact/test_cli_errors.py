"""Every error of the enact command: one line on stderr, no traceback, a non-zero status.

The table (ERRORS) lists each error case the command has, as (command line,
setup, exit status, first line of stderr), and runs each in a subprocess
(``python -m enact``), so that the status and the absence of a traceback are
real. Exit status 2 is a wrong command line, 1 anything else.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from _cli_testlib import (
    DEFAULT_DB,
    assert_one_line_error,
    no_otel_env,
    no_psycopg_env,
    open_default,
    run_enact,
    two_ints_sharing_a_prefix,
)

import enact

#: In an expected line, stands for any text (argparse's wording varies by Python version).
ANY = "…"

USAGE = "(see 'enact --help')"
NO_DEFAULT_STORE = (
    "enact: error: no store at sqlite:///.enact/store.db ({cwd}/.enact/store.db does not "
    "exist); run `enact demo` to create one, or name another with --store URL or ENACT_STORE"
)
URLS = (
    ": use memory://, file:///abs/path, file:rel/path, sqlite:///rel/path.db (relative to "
    "the current directory), sqlite:////abs/path.db or postgresql://user:password@host:port/dbname"
)
STDOUT_CLOSED = (
    "enact: error: standard output is closed, so nothing could be printed; redirect it "
    "instead (for example >/dev/null)"
)
STDOUT_FULL = "enact: error: cannot write to standard output: No space left on device"
NOT_REGISTERED = (
    "enact: error: cannot read an object of type points.Point: the type is not registered in "
    "this process (pass --import MODULE, or --import path/to/file.py, to import the module "
    "that defines it)"
)
DEFINED_IN_MAIN = (
    "enact: error: cannot read an object of type __main__.Point: the type was defined in a "
    "script run as __main__ (python script.py); pass --import path/to/that_script.py, the "
    "script that defines Point"
)
NO_OTEL = "enact: error: export --otel needs OpenTelemetry: pip install 'enact[otel]'"
NO_PSYCOPG = (
    "enact: error: cannot open the store: PostgresBackend needs psycopg 3 and psycopg-pool: "
    "pip install 'enact-store[postgres]'"
)

# (command line, setup, exit status, first line of stderr). The setup is a space-separated
# list of what to prepare (see _prepare); {placeholders} are filled from it.
ERRORS: list[tuple[str, str, int, str]] = [
    # --- A wrong command line: status 2 ---
    ("", "empty", 2, f"enact: error: the following arguments are required: COMMAND {USAGE}"),
    ("frobnicate", "empty", 2, f"enact: error: argument COMMAND: invalid choice: {ANY}{USAGE}"),
    ("ls --frob", "empty", 2, f"enact: error: unrecognized arguments: --frob {USAGE}"),
    (
        "ls '--fr\nob\x1b[2J'",
        "empty",
        2,
        f"enact: error: unrecognized arguments: --fr\\nob\\x1b[2J {USAGE}",
    ),
    ("--store", "empty", 2, f"enact: error: argument --store: expected one argument {USAGE}"),
    (
        "show",
        "empty",
        2,
        "enact: error: the following arguments are required: REF|TAG (see 'enact show --help')",
    ),
    (
        "show x --depth -1",
        "empty",
        2,
        "enact: error: argument --depth: expected a number >= 0, got '-1' "
        "(see 'enact show --help')",
    ),
    (
        "tag name",
        "empty",
        2,
        "enact: error: tag needs NAME and REF|TAG (or --delete NAME) (see 'enact tag --help')",
    ),
    (
        "tag --delete a b",
        "empty",
        2,
        "enact: error: tag --delete takes only the tag NAME (see 'enact tag --help')",
    ),
    (
        "gc --grace soon",
        "empty",
        2,
        "enact: error: argument --grace: expected seconds >= 0, got 'soon' (see 'enact gc --help')",
    ),
    (
        "gc --grace -1",
        "empty",
        2,
        "enact: error: argument --grace: expected seconds >= 0, got '-1' (see 'enact gc --help')",
    ),
    (
        "gc --grace inf",
        "empty",
        2,
        "enact: error: argument --grace: expected seconds >= 0, got 'inf' (see 'enact gc --help')",
    ),
    (
        "copy memory://",
        "empty",
        2,
        # Python 3.11 lists the optional REF|TAG too.
        f"enact: error: the following arguments are required: DST_URL{ANY} "
        "(see 'enact copy --help')",
    ),
    (
        "demo --seed x",
        "empty",
        2,
        "enact: error: argument --seed: invalid int value: 'x' (see 'enact demo --help')",
    ),
    # --- No store where one is needed ---
    ("ls", "empty", 1, NO_DEFAULT_STORE),
    ("show demo/latest", "empty", 1, NO_DEFAULT_STORE),
    ("tree demo/latest", "empty", 1, NO_DEFAULT_STORE),
    ("tag x demo/latest", "empty", 1, NO_DEFAULT_STORE),
    ("tag --delete x", "empty", 1, NO_DEFAULT_STORE),
    ("verify", "empty", 1, NO_DEFAULT_STORE),
    ("gc", "empty", 1, NO_DEFAULT_STORE),
    ("stats", "empty", 1, NO_DEFAULT_STORE),
    ("migrate", "empty", 1, NO_DEFAULT_STORE),
    ("cache ls", "empty", 1, NO_DEFAULT_STORE),
    ("cache clear", "empty", 1, NO_DEFAULT_STORE),
    (
        "cache clear --invokable nope",
        "demo",
        1,
        "enact: error: no cache entries of nope (see `enact cache ls`)",
    ),
    (
        "cache",
        "demo",
        2,
        "enact: error: the following arguments are required: ACTION (see 'enact cache --help')",
    ),
    (
        "--store file:nothere ls",
        "empty",
        1,
        "enact: error: no store at file:nothere ({cwd}/nothere does not exist); run `enact "
        "demo` to create one, or name another with --store URL or ENACT_STORE",
    ),
    (
        "copy sqlite:///src.db sqlite:///dst.db",
        "empty",
        1,
        "enact: error: no store at sqlite:///src.db ({cwd}/src.db does not exist)",
    ),
    # --- Bad store URLs, and a backend whose optional dependency is missing ---
    (
        "tree demo/latest --store bogus://x",
        "demo",
        1,
        f"enact: error: Unsupported store URL 'bogus://x'{URLS}",
    ),
    (
        "--store sqlite:/x.db ls",
        "empty",
        1,
        "enact: error: Unsupported store URL 'sqlite:/x.db' (SQLite URLs need three slashes: "
        f"sqlite:///path){URLS}",
    ),
    (
        "copy sqlite:///.enact/store.db nope://",
        "demo",
        1,
        f"enact: error: Unsupported store URL 'nope://'{URLS}",
    ),
    ("--store postgresql://enact:s3cret@127.0.0.1:9/db ls", "no-psycopg", 1, NO_PSYCOPG),
    ("copy sqlite:///.enact/store.db postgresql://h/db", "demo no-psycopg", 1, NO_PSYCOPG),
    # --- Naming objects: tags, digests, prefixes ---
    ("show no/such/tag", "demo", 1, "enact: error: unknown tag 'no/such/tag' (see `enact ls`)"),
    ("tree nope", "demo", 1, "enact: error: unknown tag 'nope' (see `enact ls`)"),
    ("tag --delete nope", "demo", 1, "enact: error: unknown tag 'nope' (see `enact ls`)"),
    ("tag x nope", "demo", 1, "enact: error: unknown tag 'nope' (see `enact ls`)"),
    (
        "show ../../etc/passwd",
        "demo",
        1,
        "enact: error: unknown tag '../../etc/passwd' (see `enact ls`)",
    ),
    (
        "show abc",
        "demo",
        1,
        "enact: error: unknown tag 'abc', and a digest prefix needs at least 6 hex digits",
    ),
    ("show 000000", "demo", 1, "enact: error: no tag or object matches '000000'"),
    ("show {zeros}", "demo", 1, "enact: error: no object {zeros} in the store"),
    ("tag x {zeros}", "demo", 1, "enact: error: no object {zeros} in the store"),
    (
        "show {prefix}",
        "prefix",
        1,
        "enact: error: ambiguous digest prefix '{prefix}': 2 objects match ({first}, {second}); "
        "give more digits",
    ),
    (
        "tag ..bad demo/latest",
        "demo",
        1,
        f"enact: error: Invalid tag name '..bad': use 1-200 characters {ANY}",
    ),
    (
        "tree {output}",
        "demo",
        1,
        "enact: error: {output} is a Haiku, not an Invocation (try `enact show {output}`)",
    ),
    (
        "tree {output} --json",
        "demo",
        1,
        "enact: error: {output} is a Haiku, not an Invocation (try `enact show {output}`)",
    ),
    # --- Types this process does not know ---
    # (show prints them as stored; a tree needs an invocation.)
    (
        "tree p",
        "points",
        1,
        "enact: error: p is a Point[raw], not an Invocation (try `enact show p`)",
    ),
    # --- --import ---
    (
        "--import no_such_module_xyz ls",
        "demo",
        1,
        "enact: error: cannot import 'no_such_module_xyz' (from --import): "
        "No module named 'no_such_module_xyz'",
    ),
    (
        "--import missing.py ls",
        "demo",
        1,
        "enact: error: cannot import 'missing.py' (from --import): missing.py does not exist",
    ),
    (
        "--import mods/ ls",
        "demo modules",
        1,
        "enact: error: cannot import 'mods/' (from --import): mods is not a file",
    ),
    (
        "--import broken.py ls",
        "demo modules",
        1,
        "enact: error: cannot import 'broken.py' (from --import): RuntimeError: broken on "
        "purpose (at {cwd}/broken.py:2)",
    ),
    (
        "--import broken ls",
        "demo modules",
        1,
        "enact: error: cannot import 'broken' (from --import): RuntimeError: broken on "
        "purpose (at {cwd}/broken.py:2)",
    ),
    (
        "--import mods/bad_syntax.py ls",
        "demo modules",
        1,
        f"enact: error: cannot import 'mods/bad_syntax.py' (from --import): SyntaxError: {ANY} "
        "(at {cwd}/mods/bad_syntax.py:1)",
    ),
    (
        "--import mods/exits.py ls",
        "demo modules",
        1,
        "enact: error: cannot import 'mods/exits.py' (from --import): SystemExit: 3 "
        "(at {cwd}/mods/exits.py:3)",
    ),
    (
        "--import mods/json.py ls",
        "demo modules",
        1,
        "enact: error: cannot import 'mods/json.py' (from --import): a module named 'json' is "
        f"already imported from {ANY}; rename the file",
    ),
    # --- Standard output closed, or not writable ---
    *(
        (command, "demo stdout-closed", 1, STDOUT_CLOSED)
        for command in (
            "ls",
            "show demo/latest",
            "show demo/latest --json",
            "tree demo/latest",
            "tree demo/latest --json",
            "tag x demo/latest",
            "tag --delete demo/run-1",
            "verify",
            "gc --grace 0",
            "copy sqlite:///.enact/store.db sqlite:///copy.db",
            "stats",
            "cache ls",
            "cache clear",
            "--help",
        )
    ),
    ("demo --answer x", "empty stdout-closed", 1, STDOUT_CLOSED),
    ("serve", "demo stdout-closed", 1, STDOUT_CLOSED),
    ("export --otel demo/latest", "demo stdout-closed", 1, STDOUT_CLOSED),
    ("export --otel demo/latest", "demo stdout-full", 1, STDOUT_FULL),
    # --- serve ---
    ("serve", "empty", 1, NO_DEFAULT_STORE),
    (
        "serve --port 99999",
        "empty",
        2,
        "enact: error: argument --port: expected a port number 0-65535, got '99999' "
        "(see 'enact serve --help')",
    ),
    (
        "serve --token ''",
        "demo",
        2,
        "enact: error: --token must not be empty (see 'enact serve --help')",
    ),
    (
        "serve --host 0.0.0.0 --writable",
        "demo",
        1,
        "enact: error: --writable on 0.0.0.0, which is not a loopback address, needs a token: "
        "pass --token TOKEN or set ENACT_SERVE_TOKEN (or serve read-only)",
    ),
    (
        "serve --port {busy}",
        "demo port-busy",
        1,
        "enact: error: cannot listen on 127.0.0.1:{busy}: Address already in use (pick another "
        "with --port N, or --port 0 for any free port)",
    ),
    # --- export ---
    ("export", "empty", 2, f"enact: error: the following arguments are required: REF|TAG {ANY}"),
    (
        "export demo/latest",
        "demo",
        2,
        "enact: error: export needs a format: --otel (OpenTelemetry spans) "
        "(see 'enact export --help')",
    ),
    ("export --otel demo/latest", "empty", 1, NO_DEFAULT_STORE),
    ("export --otel nope", "demo", 1, "enact: error: unknown tag 'nope' (see `enact ls`)"),
    (
        "export --otel {output}",
        "demo",
        1,
        "enact: error: {output} is a Haiku, not an Invocation (try `enact show {output}`)",
    ),
    ("export --otel demo/latest", "demo no-otel", 1, NO_OTEL),
    (
        "export --otel demo/latest --endpoint ftp://x",
        "demo",
        2,
        "enact: error: --endpoint must be an http:// or https:// URL, got 'ftp://x' "
        "(see 'enact export --help')",
    ),
    (
        "export --otel demo/latest --endpoint http://127.0.0.1:{closed}/v1/traces",
        "demo closed-port",
        1,
        "enact: error: cannot send the spans to http://127.0.0.1:{closed}/v1/traces: "
        "[Errno 111] Connection refused",
    ),
    (
        "export --otel demo/latest --endpoint http://127.0.0.1:{collector}/v1/traces",
        "demo collector-refuses",
        1,
        "enact: error: the collector at http://127.0.0.1:{collector}/v1/traces refused "
        "the spans: HTTP 400 Bad Request",
    ),
    ("ls", "demo stdout-full", 1, STDOUT_FULL),
    ("tree demo/latest", "demo stdout-full", 1, STDOUT_FULL),
    ("show demo/latest --json", "demo stdout-full", 1, STDOUT_FULL),
]

POINT = """\
import dataclasses
import enact

@enact.register
@dataclasses.dataclass
class Point(enact.Resource):
    x: int
    y: int
"""

#: A script that stores a type defined in __main__ (as `python script.py` does).
SCRIPT = (
    POINT
    + """
if __name__ == "__main__":
    with enact.open_store("sqlite:///.enact/store.db") as store:
        store.tags["m"] = enact.commit(Point(1, 2))
"""
)

# In the current directory, or in mods/ (which is not on sys.path): a json.py in the
# current directory would shadow the standard library's as `python -m enact` starts.
MODULES = {
    "broken.py": "import enact\nraise RuntimeError('broken on purpose')\n",
    "mods/bad_syntax.py": "def (:\n",
    "mods/exits.py": "import sys\n\nsys.exit(3)\n",
    "mods/json.py": "raise AssertionError('must not run: the json module is imported already')\n",
}


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose default store holds a demo run; each case works on a copy."""
    path = tmp_path_factory.mktemp("demo")
    result = run_enact(path, "demo", "--answer", "Rain on the roof")
    assert result.returncode == 0, result.stderr
    return path


def _run_python(cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=cwd, check=True, timeout=60)


class _Refuses(BaseHTTPRequestHandler):
    """An OTLP collector that refuses everything."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_error(400)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _prepare(
    setup: str, cwd: Path, demo: Path, cleanup: list[Callable[[], None]]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Prepares ``cwd`` for a case; returns the placeholders and run_enact's options.

    What must be undone after the case (a listening socket, a server) goes in ``cleanup``.
    """
    values = {"cwd": str(cwd), "zeros": "0" * 64}
    options: dict[str, Any] = {}
    for part in setup.split():
        if part == "empty":
            pass
        elif part == "demo":
            shutil.copytree(demo, cwd, dirs_exist_ok=True)
            store = open_default(cwd)
            with store:
                output = store.tags["demo/latest"]().response().output
            store.close()
            assert output is not None
            values["output"] = output.digest[:8]
        elif part == "prefix":
            first, second, prefix = two_ints_sharing_a_prefix()
            store = open_default(cwd)
            with store:
                digests = sorted(store.commit(enact.Int(i)).digest for i in (first, second))
            store.close()
            values.update(prefix=prefix, first=digests[0][:12], second=digests[1][:12])
        elif part == "points":
            (cwd / "points.py").write_text(POINT)
            script = (
                "import enact, points\n"
                "with enact.open_store('sqlite:///.enact/store.db') as s:\n"
                "    s.tags['p'] = enact.commit(points.Point(1, 2))\n"
            )
            _run_python(cwd, "-c", script)
        elif part == "script":
            (cwd / "make_point.py").write_text(SCRIPT)
            _run_python(cwd, "make_point.py")
        elif part == "modules":
            (cwd / "mods").mkdir()
            for name, text in MODULES.items():
                (cwd / name).write_text(text)
        elif part == "no-psycopg":
            options["env"] = no_psycopg_env(cwd.parent / f"{cwd.name}-shim")
        elif part == "no-otel":
            options["env"] = no_otel_env(cwd.parent / f"{cwd.name}-shim")
        elif part == "port-busy":
            busy = socket.socket()
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            cleanup.append(busy.close)
            values["busy"] = str(busy.getsockname()[1])
        elif part == "closed-port":
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                values["closed"] = str(probe.getsockname()[1])
        elif part == "collector-refuses":
            collector = HTTPServer(("127.0.0.1", 0), _Refuses)
            thread = threading.Thread(target=collector.serve_forever, daemon=True)
            thread.start()
            cleanup.extend([collector.server_close, collector.shutdown])
            values["collector"] = str(collector.server_address[1])
        elif part == "stdout-closed":
            options["close_stdout"] = True
        elif part == "stdout-full":
            if not Path("/dev/full").exists():
                pytest.skip("no /dev/full on this system")
            options["stdout_path"] = "/dev/full"
        else:
            raise AssertionError(f"unknown setup {part!r}")
    return values, options


def _matches(line: str, expected: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split(ANY))
    return re.fullmatch(pattern, line) is not None


@pytest.mark.parametrize(
    ("command", "setup", "status", "first_line"),
    ERRORS,
    ids=[f"{command or '(none)'} [{setup}]" for command, setup, _, _ in ERRORS],
)
def test_every_error_is_one_line_on_stderr_with_a_non_zero_status(
    tmp_path: Path, demo_template: Path, command: str, setup: str, status: int, first_line: str
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cleanup: list[Callable[[], None]] = []
    try:
        values, options = _prepare(setup, cwd, demo_template, cleanup)
        args = [arg.format(**values) for arg in shlex.split(command)]
        result = run_enact(cwd, *args, **options)
    finally:
        for undo in reversed(cleanup):
            undo()

    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # One line, and only one.
    assert _matches(result.stderr.rstrip("\n"), first_line.format(**values)), result.stderr
    assert result.returncode == status, f"{result.stdout}{result.stderr}"


def test_the_table_names_every_command() -> None:
    from enact._cli import _build_parser

    parser = _build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    tested = {shlex.split(command)[0] for command, _, _, _ in ERRORS if command}
    tested |= {
        word for command, _, _, _ in ERRORS for word in shlex.split(command) if word in commands
    }
    assert commands <= tested


# --- What the table cannot show ---


@pytest.mark.parametrize(
    "command",
    [
        ["ls"],
        ["show", "demo/latest"],
        ["tree", "demo/latest"],
        ["tag", "x", "demo/latest"],
        ["tag", "--delete", "x"],
        ["verify"],
        ["gc"],
        ["stats"],
        ["cache", "ls"],
        ["cache", "clear"],
        ["--store", "file:nothere", "ls"],
        ["copy", "sqlite:///src.db", "sqlite:///dst.db"],
    ],
)
def test_commands_on_a_missing_store_create_nothing(tmp_path: Path, command: list[str]) -> None:
    result = run_enact(tmp_path, *command)
    assert_one_line_error(result, 1, "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_commands_with_stdout_closed_change_nothing(tmp_path: Path, demo_template: Path) -> None:
    shutil.copytree(demo_template, tmp_path / "demo")
    cwd = tmp_path / "demo"
    store = open_default(cwd)
    before = (dict(store.backend.list_tags()), sorted(store.backend.iter_digests()))
    store.close()
    for command in (
        ["tag", "x", "demo/latest"],
        ["tag", "--delete", "demo/run-1"],
        ["gc", "--grace", "0"],
        ["copy", "sqlite:///.enact/store.db", "sqlite:///copy.db"],
    ):
        assert_one_line_error(run_enact(cwd, *command, close_stdout=True), 1, "closed")
    store = open_default(cwd)
    after = (dict(store.backend.list_tags()), sorted(store.backend.iter_digests()))
    store.close()
    assert after == before
    assert not (cwd / "copy.db").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run_enact(empty, "demo", close_stdout=True), 1, "closed")
    assert list(empty.iterdir()) == []


def test_a_missing_psycopg_is_reported_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://enact:pa%23ss@127.0.0.1:9/enact"
    result = run_enact(tmp_path, "--store", url, "ls", env=no_psycopg_env(tmp_path))
    assert_one_line_error(result, 1, "pip install 'enact-store[postgres]'")
    assert "pa%23ss" not in result.stderr
    assert "pa#ss" not in result.stderr


def test_a_closed_pipe_ends_quietly(tmp_path: Path, demo_template: Path) -> None:
    # `enact ls | head -0`: the reader is gone; the status says so, stderr stays empty.
    shutil.copytree(demo_template, tmp_path, dirs_exist_ok=True)
    reader = subprocess.Popen(
        [sys.executable, "-m", "enact", "tree", "demo/latest", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    reader.stdout.close()
    _, stderr = reader.communicate(timeout=60)
    assert reader.returncode == 1
    assert stderr == b""


def test_stored_names_are_escaped_in_errors_and_listings(tmp_path: Path) -> None:
    # A hostile store: an object whose type name holds terminal control sequences.
    store = open_default(tmp_path)
    with store:
        store.commit(enact.Int(1))  # Creates the store.
    store.close()
    data = b'{"#r":"evil\\u001b]0;pwned\\u0007.Po\\u001b[2Jint","x":1}'
    digest = enact.digest(enact.JsonSerializer(compact=True, stored_types=True).deserialize(data))
    with sqlite3.connect(tmp_path / DEFAULT_DB) as db:
        db.execute("INSERT INTO objects VALUES (?, ?, 0)", (digest, data))
        db.execute("INSERT INTO tags VALUES ('evil', ?)", (digest,))
    db.close()

    shown = run_enact(tmp_path, "show", "evil")
    listed = run_enact(tmp_path, "ls")
    verified = run_enact(tmp_path, "verify")
    for output in (shown.stdout, shown.stderr, listed.stdout, verified.stdout):
        assert "\x1b" not in output
        assert "\x07" not in output
    assert shown.stdout == "Po\\x1b[2Jint[raw](x=1)\n"
    assert "evil\\x1b]0;pwned\\x07.Po\\x1b[2Jint" in shown.stderr
    assert listed.stdout.startswith("evil  Po\\x1b[2Jint (not registered)")


# --- Files that are not stores (issue 11 item 3): refused, and left as they were ---


def _another_programs_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    "make",
    [
        _another_programs_database,
        lambda path: path.write_bytes(b"x"),
        lambda path: path.write_text("notes\n"),
    ],
    ids=["another-programs-database", "one-byte-file", "text-file"],
)
@pytest.mark.parametrize("command", ["ls", "show x", "tree x", "stats", "verify", "gc", "demo"])
def test_a_file_that_is_not_a_store_is_refused_by_every_command_and_left_untouched(
    tmp_path: Path, make: Callable[[Path], None], command: str
) -> None:
    make(tmp_path / "other.db")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    result = run_enact(tmp_path, "--store", "sqlite:///other.db", *shlex.split(command))

    assert_one_line_error(result, 1, "Not an enact store: ")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
