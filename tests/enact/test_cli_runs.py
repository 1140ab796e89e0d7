"""`enact runs` and `enact resume`: list, delete and resume durable runs from the command line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from _cli_testlib import run_enact

ASKER = """\
import dataclasses
import enact

@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class Ask(enact.Invokable):
    def call(self):
        n = enact.request_input(enact.Int, context="how many?")
        return enact.Str("x" * int(n))

"""

START = """\
import enact, asker
with enact.open_store("sqlite:///.enact/store.db", create=True):
    enact.run("ask", asker.Ask())
"""


def test_a_run_paused_for_input_is_listed_and_answered_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "asker.py").write_text(ASKER)
    done = subprocess.run(
        [sys.executable, "-c", START],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    listed = run_enact(tmp_path, "runs")
    assert listed.returncode == 0, listed.stderr
    header, row, total = listed.stdout.splitlines()
    assert header.split() == ["NAME", "STATE", "CALLS", "STARTED", "UPDATED", "OWNER"]
    assert row.split()[:3] == ["ask", "waiting_input", "2"]
    assert total == "1 run in sqlite:///.enact/store.db"

    # Without its types the run cannot be resumed: one line, and the run is untouched.
    missing = run_enact(tmp_path, "resume", "ask", "--answer", "3")
    assert missing.returncode == 1
    assert "--import" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
    assert "waiting_input" in run_enact(tmp_path, "runs").stdout

    bad = run_enact(tmp_path, "resume", "ask", "--import", "asker", "--answer", "three")
    assert bad.returncode == 1
    assert "asks for Int" in bad.stderr

    answered = run_enact(tmp_path, "resume", "ask", "--import", "asker", "--answer", "3")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.splitlines() == ["run ask: done, output:", "'xxx'"]
    assert run_enact(tmp_path, "runs").stdout.splitlines()[1].split()[:3] == ["ask", "done", "3"]

    deleted = run_enact(tmp_path, "runs", "--delete", "ask")
    assert deleted.returncode == 0, deleted.stderr
    assert run_enact(tmp_path, "runs").stdout == "0 runs in sqlite:///.enact/store.db\n"
    unknown = run_enact(tmp_path, "runs", "--delete", "ask")
    assert unknown.returncode == 1
    assert unknown.stderr == "enact: error: no run named 'ask' (see `enact runs`)\n"


def test_listing_runs_never_writes_the_store(tmp_path: Path) -> None:
    run_enact(tmp_path, "demo", "--answer", "yes")
    db = tmp_path / ".enact" / "store.db"
    before = db.stat().st_mtime_ns, db.stat().st_size

    listed = run_enact(tmp_path, "runs")

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "0 runs in sqlite:///.enact/store.db\n"
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "enact_runs" not in tables  # Made by the first run, never by a read.
