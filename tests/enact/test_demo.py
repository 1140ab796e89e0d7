"""``enact demo``: a tracked run, its call tree, a paused-then-answered input
request and a partial replay, in the embedded SQLite store; a second run builds
on the first. Runs ``python -m enact demo`` as a user would, with no stdin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import enact
from enact._demo import FIRST, LAST, MIDDLE, Haiku, WriteHaiku

STORE = "sqlite:///.enact/store.db"


def run_demo(cwd: Path, *args: str, stdin: Any = subprocess.DEVNULL) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "ENACT_STORE"}
    result = subprocess.run(
        [sys.executable, "-m", "enact", "demo", *args],
        cwd=cwd,
        env=environ,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    return result.stdout


def sections(out: str) -> dict[str, str]:
    """The demo's output by section heading (``== 1. A tracked run`` -> ``1``)."""
    parts = re.split(r"^== (\S+)[^\n]*\n", out, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def sampled_lines(tree_section: str) -> list[str]:
    """The lines PickLine returned in the call tree of section 1."""
    return re.findall(r"PickLine\(options=\[\d+ items\]\)\(\) -> '([^']*)'", tree_section)


def stored(cwd: Path, tag: str) -> tuple[str, enact.InvokableBase[Any, Any], Haiku]:
    """(digest, invokable, output) of the invocation a tag names in the demo's store."""
    store = enact.open_store(f"sqlite:///{cwd / '.enact' / 'store.db'}")
    try:
        with store:
            ref = store.tags[tag]
            invocation = ref()
            invokable = invocation.request().invokable()
            haiku = invocation.get_output()
    finally:
        store.close()
    assert isinstance(haiku, Haiku)
    return ref.digest, invokable, haiku


def test_first_run_shows_the_trace_the_answered_request_and_a_partial_replay(
    tmp_path: Path,
) -> None:
    out = run_demo(tmp_path, "--answer", "Rain on the roof")
    parts = sections(out)
    assert list(parts) == ["1.", "2.", "3.", "Saved"]
    assert f"store: {STORE} (run 1)" in out

    # 1. The tracked run paused on the input request: its call tree.
    tree = parts["1."]
    assert "WriteHaiku()('spring') raised InputRequest (from a child)" in tree
    assert "RequestInput(Str)() raised InputRequest: Give this spring haiku a title" in tree
    first, middle, last = sampled_lines(tree)
    assert first in FIRST["spring"]
    assert middle in MIDDLE["spring"]
    assert last in LAST

    # 2. The answer came from --answer; continuing kept the sampled lines.
    answered = parts["2."]
    assert "question: Give this spring haiku a title" in answered
    assert "answer:   'Rain on the roof' (from --answer)" in answered
    assert re.search(rf"Rain on the roof\n +{first}\n +{middle}\n +{last}\n", answered)

    # 3. Line 2 was resampled, the rest kept, and the stored record agrees.
    replay = parts["3."]
    _, _, haiku = stored(tmp_path, "demo/latest")
    assert haiku.title == "Rain on the roof"
    assert haiku.lines[0] == first
    assert haiku.lines[2] == last
    assert haiku.lines[1] != middle
    assert haiku.lines[1] in MIDDLE["spring"]
    assert f"kept       {first}\n" in replay
    assert f"resampled  {haiku.lines[1]}   (was: {middle})\n" in replay
    assert f"kept       {last}\n" in replay
    assert "kept       title 'Rain on the roof' (the recorded answer)" in replay
    assert replay.count("resampled") == 1
    assert "CHANGED" not in replay

    digest, invokable, _ = stored(tmp_path, "demo/run-1")
    assert digest == stored(tmp_path, "demo/latest")[0]
    assert f"tags demo/latest and demo/run-1 -> Invocation #{digest[:8]}" in parts["Saved"]
    assert isinstance(invokable, WriteHaiku)

    # The run as answered, before the partial replay, is kept for `enact serve`'s diff.
    answered, _, before = stored(tmp_path, "demo/run-1/answered")
    assert answered != digest
    assert (
        f"tag demo/run-1/answered -> #{answered[:8]}, the run before the replay" in (parts["Saved"])
    )
    assert before.lines == [first, middle, last]
    assert before.title == "Rain on the roof"


def test_second_run_finds_the_first_by_tag_replays_it_and_continues_the_sequence(
    tmp_path: Path,
) -> None:
    run_demo(tmp_path, "--answer", "Rain on the roof")
    first_digest, _, first_haiku = stored(tmp_path, "demo/latest")

    out = run_demo(tmp_path, "--answer", "Heat")
    parts = sections(out)
    assert list(parts) == ["0.", "1.", "2.", "3.", "Saved"]
    assert f"store: {STORE} (run 2)" in out

    previous = parts["0."]
    assert out.splitlines()[3] == (
        f"== 0. Your previous run (run 1, tag demo/latest -> #{first_digest[:8]})"
    )
    assert "Rain on the roof" in previous
    for line in first_haiku.lines:
        assert line in previous
    assert f"gave the identical record #{first_digest[:8]}." in previous
    assert "summer follows spring" in previous

    assert "WriteHaiku()('summer')" in parts["1."]
    assert "answer:   'Heat' (from --answer)" in parts["2."]
    assert "resampled" in parts["3."]
    assert "tags demo/latest and demo/run-2" in parts["Saved"]

    # Both runs are kept; the first is unchanged.
    assert stored(tmp_path, "demo/run-1")[0] == first_digest
    second_digest, _, second_haiku = stored(tmp_path, "demo/latest")
    assert stored(tmp_path, "demo/run-2")[0] == second_digest != first_digest
    assert (second_haiku.season, second_haiku.title) == ("summer", "Heat")


def test_without_answer_and_without_stdin_the_default_answer_is_used(tmp_path: Path) -> None:
    out = run_demo(tmp_path, stdin=subprocess.DEVNULL)
    assert (
        "answer:   'Untitled' (the default: no --answer given and stdin is not a terminal)" in out
    )
    assert stored(tmp_path, "demo/latest")[2].title == "Untitled"


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_on_a_terminal_the_answer_is_typed_in(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    try:
        os.write(controller, b"Frost at noon\n")
        out = run_demo(tmp_path, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    assert "your answer (Enter for the default):" in out
    assert "answer:   'Frost at noon' (typed at the terminal)" in out
    assert stored(tmp_path, "demo/latest")[2].title == "Frost at noon"


def test_runs_with_the_same_seed_and_answer_print_the_same_output(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = run_demo(tmp_path / "a", "--seed", "7", "--answer", "Same")
    second = run_demo(tmp_path / "b", "--seed", "7", "--answer", "Same")
    assert first == second  # Content-addressed: even the digests agree.


def test_the_demo_store_verifies_and_later_runs_survive_gc(tmp_path: Path) -> None:
    run_demo(tmp_path, "--answer", "One")
    run_demo(tmp_path, "--answer", "Two")
    environ = {k: v for k, v in os.environ.items() if k != "ENACT_STORE"}

    def enact_cmd(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "enact", *args],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert enact_cmd("verify").startswith("ok: ")
    enact_cmd("gc", "--grace", "0")
    assert enact_cmd("verify").startswith("ok: ")
    out = run_demo(tmp_path, "--answer", "Three")
    assert "(run 3)" in out
    assert "autumn follows summer" in out
    assert stored(tmp_path, "demo/run-1")[2].title == "One"
