"""The enact command's store tools: ls, show, tree, tag, verify, gc, copy, stats.

Successful runs call ``enact._cli.main`` in-process (fast); error cases run
``python -m enact`` in a subprocess (see test_cli_errors.py for the table of
every error).
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _cli_testlib import (
    DEFAULT_DB,
    assert_one_line_error,
    latest_digest,
    open_default,
    run_enact,
)

import enact
from enact._cli import main


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory is a fresh temp dir, ENACT_STORE is unset and COLUMNS is 100."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENACT_STORE", raising=False)
    monkeypatch.setenv("COLUMNS", "100")  # The width of `enact tree`, whatever runs the tests.
    return tmp_path


@pytest.fixture
def demo_store(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The default store in the current directory, holding one demo run."""
    assert main(["demo", "--answer", "Rain on the roof"]) == 0
    capsys.readouterr()
    return in_tmp / DEFAULT_DB


# --- ls, show, tree ---


def test_ls_lists_tags_with_target_type_and_short_digest_and_counts_objects(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    digest = latest_digest()
    assert lines[0].split() == ["demo/latest", "Invocation", f"#{digest[:8]}"]
    assert lines[1].split() == ["demo/run-1", "Invocation", f"#{digest[:8]}"]
    store = open_default()
    objects = sum(1 for _ in store.backend.iter_digests())
    answered = store.tags["demo/run-1/answered"].digest
    store.close()
    assert lines[2].split() == ["demo/run-1/answered", "Invocation", f"#{answered[:8]}"]
    assert lines[3] == f"3 tags, {objects} objects in sqlite:///.enact/store.db"


def test_ls_on_an_empty_store_says_so(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", "memory://", "ls"]) == 0
    assert capsys.readouterr().out == "0 tags, 0 objects in memory://\n"


def test_commands_show_a_store_url_without_its_credentials(
    in_tmp: Path, postgres_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The URL as given names the user and password (user:password@host).
    url = postgres_factory.url
    postgres_factory()  # creates the store
    user_info = url.split("://", 1)[1].rsplit("@", 1)[0]
    assert ":" in user_info
    shown = f"postgresql://***@{url.rsplit('@', 1)[1]}"

    for command in (["ls"], ["verify"], ["stats"], ["migrate"]):
        assert main(["--store", url, *command]) == 0, command
        out = capsys.readouterr().out
        assert shown in out, command
        assert user_info not in out, command


def test_show_pretty_prints_the_object_a_tag_names(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "demo/latest"]) == 0
    out = capsys.readouterr().out
    store = open_default()
    with store:
        expected = enact.pformat(store.tags["demo/latest"]())
    store.close()
    assert out == expected + "\n"
    assert out.startswith("Invocation:\n  request:\n    -> Request#")
    assert "output:\n        -> Haiku#" in out


def test_show_depth_limits_how_many_refs_are_followed(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "demo/latest", "--depth", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Invocation:"
    assert out[1].startswith("  request: -> #")
    assert out[2].startswith("  response: -> #")
    assert len(out) == 3
    assert main(["show", "demo/latest", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "-> Request#" in out
    assert "invokable: -> #" in out  # Two hops away: not followed.


def test_show_accepts_a_full_digest_or_a_unique_prefix_with_or_without_hash(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = latest_digest()
    outputs = []
    for name in ("demo/latest", digest, digest[:6], "#" + digest[:10], digest[:8].upper()):
        assert main(["show", name, "--depth", "1"]) == 0, name
        outputs.append(capsys.readouterr().out)
    assert all(out == outputs[0] for out in outputs)


def test_tree_prints_one_line_per_call_indented_by_depth(
    demo_store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # Room for the whole first line.
    assert main(["tree", "demo/latest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    store = open_default()
    with store:
        invocation = store.tags["demo/latest"]()
        haiku = invocation.get_output()
        children = invocation.response().children
    store.close()
    assert len(lines) == 1 + len(children) == 5
    assert lines[0] == (
        f"#{latest_digest()[:8]} WriteHaiku()('spring') -> "
        f"Haiku(title='Rain on the roof', season='spring', lines=[3 items])"
    )
    for line, child, text in zip(lines[1:4], children, haiku.lines, strict=False):
        assert line.startswith(f"#{child.digest[:8]}   PickLine(options=[")
        assert line.endswith(f")() -> {text!r}")
    assert lines[4].endswith("   RequestInput(Str)() -> 'Rain on the roof'")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Shout(enact.Invokable[enact.Str, enact.Str]):
    """Fails on empty input, else shouts."""

    def call(self, text: enact.Str) -> enact.Str:
        if not text:
            raise ValueError("nothing to shout")
        return enact.Str(text.upper() + "!")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class ShoutAll(enact.Invokable[enact.Str, enact.Str]):
    """Shouts each word; fails if a word is empty."""

    def call(self, text: enact.Str) -> enact.Str:
        return enact.Str(" ".join(Shout()(enact.Str(w)) for w in text.split(" ")))


def test_tree_shows_where_an_exception_was_raised_and_where_it_passed_through(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_default()
    with store:
        invocation = ShoutAll().invoke(enact.Str("hi  there"))
        store.tags["failed"] = store.commit(invocation)
    store.close()
    assert main(["tree", "failed"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "ShoutAll()('hi  there') raised WrappedException (from a child)",
        "  Shout()('hi') -> 'HI!'",
        "  Shout()('') raised WrappedException: ValueError: nothing to shout",
    ]


def test_tree_shows_a_paused_input_request(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from enact._demo import WriteHaiku

    store = open_default()
    with store:
        paused = WriteHaiku().invoke(enact.Str("winter"))
        store.tags["paused"] = store.commit(paused)
    store.close()
    assert main(["tree", "paused"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("WriteHaiku()('winter') raised InputRequest (from a child)")
    assert lines[-1].endswith(
        "RequestInput(Str)() raised InputRequest: Give this winter haiku a title"
    )


# --- tag ---


def test_tag_creates_moves_and_deletes_a_tag(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = latest_digest()
    assert main(["tag", "keep/this", "demo/latest"]) == 0
    assert capsys.readouterr().out == f"tagged keep/this -> Invocation #{digest[:8]}\n"

    store = open_default()
    with store:
        other = store.commit(enact.Str("another"))
    store.close()
    assert main(["tag", "keep/this", other.digest[:12]]) == 0
    assert capsys.readouterr().out == (
        f"moved tag keep/this: #{digest[:8]} -> Str #{other.digest[:8]}\n"
    )
    assert main(["tag", "--delete", "keep/this"]) == 0
    assert capsys.readouterr().out == f"deleted tag keep/this (was #{other.digest[:8]})\n"

    store = open_default()
    assert "keep/this" not in store.tags
    assert set(store.tags) == {"demo/latest", "demo/run-1", "demo/run-1/answered"}
    store.close()


# --- verify, gc ---


def test_verify_reports_a_clean_store(demo_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ok: ")
    assert captured.out.rstrip().endswith("verified in sqlite:///.enact/store.db, no problems")


def test_verify_exits_1_and_names_a_corrupt_object(demo_store: Path) -> None:
    digest = latest_digest()
    store = open_default()
    with store:
        output = store.tags["demo/latest"]().response().output
    store.close()
    assert output is not None
    with sqlite3.connect(demo_store) as db:
        (data,) = db.execute(
            "SELECT data FROM objects WHERE digest = ?", (output.digest,)
        ).fetchone()
        tampered = bytes(data).replace(b"Rain on the roof", b"Rain on the moon")
        assert tampered != bytes(data)
        db.execute("UPDATE objects SET data = ? WHERE digest = ?", (tampered, output.digest))
    db.close()

    result = run_enact(demo_store.parents[1], "verify")

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"corrupt     {output.digest}" in result.stdout
    assert "1 problem in sqlite:///.enact/store.db" in result.stdout
    assert "Traceback" not in result.stderr
    assert digest  # the tags still point at the run


def test_verify_and_gc_write_a_final_count_line_when_stderr_is_not_a_terminal(
    demo_store: Path,
) -> None:
    verify = run_enact(demo_store.parents[1], "verify")
    assert verify.returncode == 0
    assert verify.stderr.startswith("verify: ")
    assert "objects read" in verify.stderr
    assert "\r" not in verify.stderr
    assert len(verify.stderr.splitlines()) == 1
    gc = run_enact(demo_store.parents[1], "gc", "--dry-run")
    assert gc.returncode == 0
    assert gc.stderr.startswith("gc: ")
    assert "reachable" in gc.stderr
    assert len(gc.stderr.splitlines()) == 1


def test_progress_redraws_one_line_on_a_terminal() -> None:
    import io

    from enact._cli import _Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = _Progress("verify", stream)
    progress(1, 3)
    progress(3, 3)
    progress.finish("3 objects")
    text = stream.getvalue()
    assert "verify: 3/3" in text
    assert "\n" not in text  # Redrawn in place, then cleared.
    assert text.endswith("\r\x1b[K")


def test_gc_dry_run_deletes_nothing(demo_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_default()
    before = sorted(store.backend.iter_digests())
    store.close()
    assert main(["gc", "--grace", "0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete" in out
    store = open_default()
    assert sorted(store.backend.iter_digests()) == before
    store.close()


def test_gc_deletes_unreachable_objects_and_keeps_what_tags_reach(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo leaves unreachable records behind (the paused run, the records
    # edited for the replay); the default grace period keeps them for now.
    assert main(["gc"]) == 0
    out = capsys.readouterr().out
    assert "deleted 0 unreachable objects" in out
    assert "younger than the grace period" in out

    assert main(["gc", "--grace", "0"]) == 0
    out = capsys.readouterr().out
    deleted = int(out.split("deleted ")[1].split()[0])
    assert deleted > 0
    store = open_default()
    remaining = sum(1 for _ in store.backend.iter_digests())
    store.close()
    assert out.startswith(f"{remaining} objects reachable from tags")

    assert main(["verify"]) == 0
    assert main(["tree", "demo/latest"]) == 0
    assert "RequestInput(Str)() -> 'Rain on the roof'" in capsys.readouterr().out


# --- copy, stats ---


def test_copy_copies_every_tag_and_its_closure_by_default(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gc", "--grace", "0"]) == 0  # Only reachable objects are copied.
    capsys.readouterr()
    assert main(["copy", "sqlite:///.enact/store.db", "sqlite:///copy/store.db"]) == 0
    out = capsys.readouterr().out
    store = open_default()
    objects = sum(1 for _ in store.backend.iter_digests())
    store.close()
    assert out == (
        f"copied {objects} objects to sqlite:///copy/store.db (0 already there); "
        "tags: demo/latest, demo/run-1, demo/run-1/answered\n"
    )
    assert main(["--store", "sqlite:///copy/store.db", "verify"]) == 0
    assert main(["--store", "sqlite:///copy/store.db", "tree", "demo/latest"]) == 0

    # Copying again finds everything there.
    capsys.readouterr()
    assert main(["copy", "sqlite:///.enact/store.db", "sqlite:///copy/store.db"]) == 0
    assert "copied 0 objects" in capsys.readouterr().out


def test_copy_of_a_named_ref_copies_its_closure_without_tags(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_default()
    with store:
        output = store.tags["demo/latest"]().response().output
    store.close()
    assert output is not None
    assert main(["copy", "sqlite:///.enact/store.db", "file:copied", output.digest[:10]]) == 0
    assert capsys.readouterr().out == "copied 1 object to file:copied (0 already there)\n"
    assert main(["--store", "file:copied", "ls"]) == 0
    assert capsys.readouterr().out == "0 tags, 1 object in file:copied\n"
    assert main(["--store", "file:copied", "show", output.digest]) == 0
    assert "title: 'Rain on the roof'" in capsys.readouterr().out


def test_stats_reports_counts_backend_and_size_on_disk(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    store = open_default()
    objects = sum(1 for _ in store.backend.iter_digests())
    store.close()
    assert lines["store"].strip() == "sqlite:///.enact/store.db"
    assert lines["backend"].strip() == f"SqliteBackend({str(demo_store)!r})"
    assert int(lines["objects"]) == objects
    assert int(lines["tags"]) == 3
    assert int(lines["format"]) == enact.FORMAT_VERSION
    assert lines["size"].strip().endswith("KiB on disk")


def test_migrate_upgrades_an_old_store_only_when_asked(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = Path(__file__).parents[1] / "fixtures" / "stores" / "0.1" / "store.db"
    shutil.copy(fixture, in_tmp / "old.db")
    before = (in_tmp / "old.db").read_bytes()

    for command in (["ls"], ["verify"], ["stats"]):
        assert main(["--store", "sqlite:///old.db", *command]) == 0
    assert "format:   0 (run `enact migrate`)" in capsys.readouterr().out
    assert (in_tmp / "old.db").read_bytes() == before  # Reading changed nothing.

    assert main(["--store", "sqlite:///old.db", "migrate"]) == 0
    assert capsys.readouterr().out == (
        f"migrated sqlite:///old.db from storage format 0 to {enact.FORMAT_VERSION}\n"
    )
    assert main(["--store", "sqlite:///old.db", "migrate"]) == 0
    assert capsys.readouterr().out == (
        f"sqlite:///old.db is at storage format {enact.FORMAT_VERSION}: nothing to do\n"
    )
    assert main(["--store", "sqlite:///old.db", "verify"]) == 0


def test_stats_of_a_memory_store_has_no_size(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--store", "memory://"]) == 0
    out = capsys.readouterr().out
    assert "objects:  0" in out
    assert "size" not in out


# --- Which store ---


def test_store_option_wins_over_environment_which_wins_over_the_default(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENACT_STORE", "sqlite:///env.db")
    assert main(["demo", "--answer", "env"]) == 0
    assert (in_tmp / "env.db").exists()
    assert not (in_tmp / DEFAULT_DB).exists()
    assert main(["--store", "sqlite:///option.db", "demo", "--answer", "opt"]) == 0
    assert main(["demo", "--answer", "opt", "--store", "sqlite:///option2.db"]) == 0
    assert (in_tmp / "option.db").exists()
    assert (in_tmp / "option2.db").exists()
    capsys.readouterr()
    assert main(["ls"]) == 0
    assert capsys.readouterr().out.endswith("in sqlite:///env.db\n")
    monkeypatch.delenv("ENACT_STORE")
    assert main(["demo", "--answer", "default"]) == 0
    assert (in_tmp / DEFAULT_DB).exists()


def test_python_dash_m_and_the_console_script_both_run_the_command(tmp_path: Path) -> None:
    result = run_enact(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("demo", "ls", "show", "tree", "tag", "verify", "gc", "copy", "stats"):
        assert command in result.stdout
    script = Path(sys.executable).with_name("enact")
    if not script.exists():
        pytest.skip("no enact console script beside this interpreter")
    result = subprocess.run(
        [str(script), "ls", "--store", "memory://"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 tags, 0 objects in memory://\n"


# --- gc and verify on a damaged store (nothing deleted, every problem one line) ---

HOLDERS = """\
import dataclasses
import enact

@enact.register
@dataclasses.dataclass
class Doc(enact.Resource):
    text: str

@enact.register
@dataclasses.dataclass
class Holder(enact.Resource):
    note: str
    doc: enact.Ref[Doc]
"""

MAKE_HOLDER_STORE = """\
import sqlite3, enact, holders
with enact.open_store('sqlite:///.enact/store.db') as s:
    doc = enact.commit(holders.Doc('precious'))
    holder = enact.commit(holders.Holder('the holder', doc))
    s.tags['main'] = holder
    garbage = enact.commit(holders.Doc('garbage'))
    s.tags['other'] = enact.commit(holders.Doc('other'))
s.close()
with sqlite3.connect('.enact/store.db') as db:
    db.execute('UPDATE objects SET written = written - 10000')
db.close()
print(doc.digest, holder.digest, garbage.digest)
"""


def _holder_store(tmp_path: Path) -> tuple[str, str, str]:
    """A store where tag main names a Holder of a precious Doc; returns their digests and
    an old garbage Doc's."""
    (tmp_path / "holders.py").write_text(HOLDERS)
    made = subprocess.run(
        [sys.executable, "-c", MAKE_HOLDER_STORE],
        cwd=tmp_path,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    doc, holder, garbage = made.stdout.split()
    return doc, holder, garbage


def _stored(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / DEFAULT_DB) as db:
        digests = {row[0] for row in db.execute("SELECT digest FROM objects")}
    db.close()
    return digests


def _damage(tmp_path: Path, digest: str, damage: bytes | None) -> None:
    """Replaces an object's stored bytes (None: flips a bit inside its note)."""
    with sqlite3.connect(tmp_path / DEFAULT_DB) as db:
        (data,) = db.execute("SELECT data FROM objects WHERE digest = ?", (digest,)).fetchone()
        db.execute(
            "UPDATE objects SET data = ? WHERE digest = ?",
            (
                bytes(data).replace(b"the holder", b"the hold\x65s") if damage is None else damage,
                digest,
            ),
        )
    db.close()


@pytest.mark.parametrize(
    ("damage", "imports"),
    [(None, ["--import", "holders"]), (b"\x00\xff not an object", [])],
    ids=["flipped-byte", "undecodable"],
)
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["run", "dry-run"])
def test_gc_deletes_nothing_behind_a_damaged_object_and_names_it(
    tmp_path: Path, damage: bytes | None, imports: list[str], dry_run: list[str]
) -> None:
    doc, holder, garbage = _holder_store(tmp_path)
    _damage(tmp_path, holder, damage)
    before = _stored(tmp_path)
    assert {doc, holder, garbage} <= before

    result = run_enact(tmp_path, *imports, "gc", "--grace", "0", *dry_run)

    assert_one_line_error(result, 1, "gc deleted nothing: 1 problem in sqlite:///.enact/store.db")
    [line] = result.stdout.splitlines()
    assert line.startswith(f"corrupt     {holder}: ")
    assert ("hashes to" if damage is None else "cannot be decoded") in line
    assert line.endswith(f"(sqlite {tmp_path / DEFAULT_DB} objects row {holder})")
    assert _stored(tmp_path) == before


def test_verify_ls_and_gc_get_past_a_malformed_tag_row_and_report_it(tmp_path: Path) -> None:
    doc, holder, garbage = _holder_store(tmp_path)
    with sqlite3.connect(tmp_path / DEFAULT_DB) as db:
        db.execute("INSERT INTO tags (name, digest) VALUES ('broken', 'not a digest')")
    db.close()
    before = _stored(tmp_path)
    where = f"sqlite {tmp_path / DEFAULT_DB} tags row 'broken'"

    ls = run_enact(tmp_path, "ls")
    verify = run_enact(tmp_path, "--import", "holders", "verify")
    gc = run_enact(tmp_path, "--import", "holders", "gc", "--grace", "0")

    assert ls.returncode == 0, ls.stderr
    assert [line.split()[0] for line in ls.stdout.splitlines()[:-1]] == ["main", "other"]
    assert verify.returncode == 1, verify.stderr
    assert verify.stdout.splitlines() == [
        f"malformed   {where}: the tag names 'not a digest', not a digest (64 lowercase hex "
        "digits)",
        "1 problem in sqlite:///.enact/store.db (4 objects verified)",
    ]
    assert_one_line_error(gc, 1, "gc deleted nothing: 1 problem")
    assert gc.stdout.startswith(f"malformed   {where}: ")
    assert _stored(tmp_path) == before
    assert {doc, holder, garbage} <= before


def test_gc_reports_refs_the_store_already_lost_and_still_collects(tmp_path: Path) -> None:
    doc, holder, garbage = _holder_store(tmp_path)
    with sqlite3.connect(tmp_path / DEFAULT_DB) as db:
        db.execute("DELETE FROM objects WHERE digest = ?", (doc,))
    db.close()

    # (Without --import: the holder is read with its stored type.)
    result = run_enact(tmp_path, "gc", "--grace", "0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        f"dangling    {holder} -> {doc} (missing)",
        "1 ref from the tags' trees to objects the store lacks (already lost; see `enact verify`)",
    ]
    assert "deleted 1 unreachable object" in result.stdout
    assert garbage not in _stored(tmp_path)


def test_gc_grace_defaults_to_default_grace_period(monkeypatch: pytest.MonkeyPatch) -> None:
    import enact_store
    from enact import _cli

    assert enact.DEFAULT_GRACE_PERIOD == enact_store.DEFAULT_GRACE_PERIOD
    monkeypatch.setattr(_cli, "DEFAULT_GRACE_PERIOD", 7.5)
    parser = _cli._build_parser()

    assert parser.parse_args(["gc"]).grace == 7.5
