"""`enact serve` through its HTTP API: every view, bad digests, unknown types, the inbox.

The server runs in a thread of this process over a copy of a store holding the
demo's run (tags demo/latest, demo/run-1 and demo/run-1/answered) and a run of
the demo's program paused on its input request (inbox/winter); tests add what
they need. One test runs the command itself.
"""

from __future__ import annotations

import datetime
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from _cli_testlib import run_enact
from _serve_testlib import (
    CONSTRUCTED,
    STORE,
    AskNumber,
    AskWatched,
    DrawAll,
    Echo,
    FanOut,
    ServeProcess,
    Summarize,
    Watched,
    make_faraway_run,
    paused_demo_run,
    record,
    serving,
)

import enact


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose store holds the demo's run and a paused run (copied by each test)."""
    path = tmp_path_factory.mktemp("serve")
    result = run_enact(path, "demo", "--answer", "Rain on the roof")
    assert result.returncode == 0, result.stderr
    paused_demo_run(path)
    return path


@pytest.fixture
def cwd(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "store", dirs_exist_ok=True)
    return tmp_path / "store"


def _tags(cwd: Path) -> dict[str, str]:
    store = enact.open_store(f"sqlite:///{cwd / STORE}", read_only=True)
    try:
        return dict(store.backend.list_tags())
    finally:
        store.close()


def _objects(cwd: Path) -> set[str]:
    store = enact.open_store(f"sqlite:///{cwd / STORE}", read_only=True)
    try:
        return set(store.backend.iter_digests())
    finally:
        store.close()


def _value(form: Any) -> Any:
    """The value of a Str/Int form."""
    return form["fields"]["value"]


# --- Runs ---


def test_runs_are_the_tags_that_name_invocations_one_entry_per_invocation(cwd: Path) -> None:
    record(cwd, "not/a/run", Summarize(texts=["x"]))
    store = enact.open_store(f"sqlite:///{cwd / STORE}")
    with store:
        store.tags["a/string"] = store.commit(enact.Str("just text"))
    store.close()
    tags = _tags(cwd)

    with serving(cwd) as (client, _):
        runs = client.api("/api/runs")

    by_name = {run["name"]: run for run in runs["runs"]}
    assert set(by_name) == {"demo/run-1", "demo/run-1/answered", "inbox/winter", "not/a/run"}
    latest = by_name["demo/run-1"]
    assert latest["tags"] == ["demo/run-1", "demo/latest"]
    assert latest["digest"] == tags["demo/latest"]
    assert latest["state"] == "done"
    assert latest["invokable"]["type"]["name"] == "enact._demo.WriteHaiku"
    assert _value(latest["input"]) == "spring"
    assert latest["output"]["fields"]["title"] == "Rain on the roof"
    assert by_name["inbox/winter"]["state"] == "paused"
    assert by_name["inbox/winter"]["raised_message"] == "Give this winter haiku a title"
    # Plain tags have no times (records hold none): the fields are empty.
    for run in runs["runs"]:
        assert run["started_at"] is None
        assert run["duration"] is None
    assert "named runs" in runs["timing"]


def test_a_named_run_comes_first_with_its_start_time_duration_and_progress(cwd: Path) -> None:
    store = enact.open_store(f"sqlite:///{cwd / STORE}")
    before = time.time()
    with store:
        enact.run("nightly", Summarize(texts=["a", "b"]))
    after = time.time()
    store.close()

    with serving(cwd) as (client, _):
        runs = client.api("/api/runs")["runs"]

    first = runs[0]
    assert first["tags"] == ["runs/nightly"]
    assert first["state"] == "done"
    assert first["run"]["state"] == "done"
    assert first["run"]["calls_done"] == 3  # the run and its two calls
    started = datetime.datetime.fromisoformat(first["started_at"].replace("Z", "+00:00"))
    assert before - 1 <= started.timestamp() <= after
    assert 0 <= first["duration"] <= after - before + 1
    assert all(run["started_at"] is None for run in runs[1:])


def test_the_calls_of_a_named_run_come_with_their_durations(cwd: Path) -> None:
    store = enact.open_store(f"sqlite:///{cwd / STORE}")
    with store:
        digest = enact.Ref.pack(enact.run("nightly", Summarize(texts=["a", "b"]))).ref.digest
    store.close()

    with serving(cwd) as (client, _):
        timed = client.api(f"/api/calls/{digest}?run=nightly&path=")
        untimed = client.api(f"/api/calls/{digest}")
        elsewhere = client.api(f"/api/calls/{digest}?run=no-such-run&path=")

    whole = timed["duration"]
    parts = [child["duration"] for child in timed["children"]["items"]]
    assert len(parts) == 2
    assert all(0 <= part <= whole for part in parts)
    assert untimed["duration"] is None
    assert all(child["duration"] is None for child in untimed["children"]["items"])
    assert elsewhere["duration"] is None


def test_runs_come_newest_number_first(cwd: Path) -> None:
    for n in (2, 10, 9):
        record(cwd, f"exp/run-{n}", Summarize(texts=[str(n)]))
    with serving(cwd) as (client, _):
        names = [run["name"] for run in client.api("/api/runs")["runs"]]
    assert [n for n in names if n.startswith("exp/")] == ["exp/run-10", "exp/run-9", "exp/run-2"]


def test_count_is_every_call_of_a_run(cwd: Path) -> None:
    digest = _tags(cwd)["demo/latest"]
    with serving(cwd) as (client, _):
        assert client.api(f"/api/count/{digest}") == {"digest": digest, "calls": 5}
        # Remembered: the runs list now has it.
        runs = client.api("/api/runs")["runs"]
    assert next(r for r in runs if r["digest"] == digest)["calls"] == 5


# --- Calls ---


def test_a_call_comes_with_one_page_of_its_children(cwd: Path) -> None:
    digest = record(cwd, "fan", FanOut(n=250))
    with serving(cwd) as (client, _):
        first = client.api(f"/api/calls/{digest}")
        last = client.api(f"/api/calls/{digest}?offset=200&limit=100")
        count = client.api(f"/api/count/{digest}")

    assert first["digest"] == digest
    assert first["invokable"]["fields"] == {"n": 250}
    assert first["state"] == "done"
    assert first["children_count"] == 250
    assert first["duration"] is None
    assert first["children"]["total"] == 250
    assert [c["position"] for c in first["children"]["items"]] == list(range(100))
    child = first["children"]["items"][7]
    assert child["invokable"]["type"]["name"].endswith("Complete")
    assert _value(child["input"]) == "7"
    assert _value(child["output"]) == "small:7"
    assert child["children_count"] == 0
    assert [c["position"] for c in last["children"]["items"]] == list(range(200, 250))
    assert count["calls"] == 251


def test_the_demo_run_has_its_lines_and_answered_request(cwd: Path) -> None:
    digest = _tags(cwd)["demo/latest"]
    with serving(cwd) as (client, _):
        root = client.api(f"/api/calls/{digest}")
    children = root["children"]["items"]
    assert [c["invokable"]["type"]["name"].rsplit(".", 1)[1] for c in children] == [
        "PickLine",
        "PickLine",
        "PickLine",
        "RequestInput",
    ]
    assert [_value(c["output"]) for c in children[:3]] == root["output"]["fields"]["lines"]
    assert _value(children[3]["output"]) == "Rain on the roof"


def test_a_paused_call_shows_the_request_it_raised(cwd: Path) -> None:
    digest = _tags(cwd)["inbox/winter"]
    with serving(cwd) as (client, _):
        root = client.api(f"/api/calls/{digest}")
    assert root["state"] == "paused"
    assert root["output"] is None
    assert root["raised_here"] is False
    asked = root["children"]["items"][3]
    assert asked["state"] == "paused"
    assert asked["raised_here"] is True
    assert asked["raised"]["type"]["name"] == "enact.invocations.InputRequest"
    assert asked["raised"]["fields"]["context"] == "Give this winter haiku a title"


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/calls/xyz", 400, "'xyz' is not a digest or a digest prefix"),
        ("/api/calls/abc", 400, "a digest prefix needs at least 6 hex digits, got 'abc'"),
        ("/api/calls/" + "0" * 64, 404, f"no object {'0' * 64} in the store"),
        ("/api/objects/000000", 404, "no object matches '000000'"),
        ("/api/objects/../../etc/passwd", 404, "no API at /api/objects/../../etc/passwd"),
        ("/api/calls/{output}", 400, "is a Haiku, not an Invocation"),
        ("/api/calls/{latest}?limit=0", 400, "offset must be >= 0 and limit 1..1000"),
        ("/api/calls/{latest}?offset=x", 400, "offset must be a number, got 'x'"),
        ("/api/diff?a=demo/latest", 400, "missing the query parameter 'b'"),
        ("/api/diff?a=demo/latest&b={output}", 400, "is a Haiku, not an Invocation"),
        ("/api/lookup?name=no/such/tag", 404, "no tag 'no/such/tag'"),
        ("/api/nothing", 404, "no API at /api/nothing"),
        ("/nothing", 404, "nothing at /nothing"),
    ],
)
def test_bad_digests_and_paths_get_a_json_error_that_says_what_was_wrong(
    cwd: Path, path: str, status: int, error: str
) -> None:
    tags = _tags(cwd)
    store = enact.open_store(f"sqlite:///{cwd / STORE}", read_only=True)
    with store:
        output = store.tags["demo/latest"]().response().output
    store.close()
    assert output is not None
    values = {"latest": tags["demo/latest"], "output": output.digest}
    with serving(cwd) as (client, _):
        response = client.get(path.format(**values))
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert error.format(**values) in response.json()["error"]


def test_an_ambiguous_prefix_names_the_candidates(cwd: Path) -> None:
    store = enact.open_store(f"sqlite:///{cwd / STORE}")
    seen: dict[str, str] = {}
    with store:
        for i in range(100_000):
            digest = store.commit(enact.Int(i)).digest
            if digest[:6] in seen:
                prefix, pair = digest[:6], sorted([seen[digest[:6]], digest])
                break
            seen[digest[:6]] = digest
    store.close()
    with serving(cwd) as (client, _):
        response = client.get(f"/api/objects/{prefix}")
    assert response.status == 400
    assert response.json()["error"] == (
        f"ambiguous digest prefix '{prefix}': 2 objects match ({pair[0][:12]}, {pair[1][:12]})"
    )


# --- Objects ---


def test_an_object_by_prefix_has_its_fields_with_refs_as_links(cwd: Path) -> None:
    digest = _tags(cwd)["demo/latest"]
    with serving(cwd) as (client, _):
        shown = client.api(f"/api/objects/{digest[:10]}")
        request = client.api(f"/api/objects/{shown['fields']['request']['ref']}")
        found = client.api("/api/lookup?name=demo/latest")
    assert shown["digest"] == digest
    assert shown["type"]["name"] == "enact.invocations.Invocation"
    assert shown["is_invocation"] is True
    assert set(shown["fields"]) == {"request", "response"}
    assert shown["fields"]["request"] == {"ref": shown["fields"]["request"]["ref"]}
    assert request["type"]["name"] == "enact.invocations.Request"
    assert set(request["fields"]) == {"invokable", "input"}
    assert found == {"digest": digest, "type": shown["type"], "is_invocation": True}


def test_long_values_are_clipped_and_shown_whole_on_request(cwd: Path) -> None:
    text = "word " * 10_000  # 50,000 characters
    digest = record(cwd, "long", Summarize(texts=[text]))
    with serving(cwd) as (client, _):
        row = client.api(f"/api/calls/{digest}")
        invokable = row["invokable"]["ref"]
        clipped = client.api(f"/api/objects/{invokable}")
        whole = client.api(f"/api/objects/{invokable}?whole=1")

    in_row = row["invokable"]["fields"]["texts"][0]
    assert in_row == {"clipped": "str", "shown": text[:300], "length": 50_000}
    in_object = clipped["fields"]["texts"][0]
    assert in_object == {"clipped": "str", "shown": text[:20_000], "length": 50_000}
    assert clipped["whole"] is False
    assert whole["fields"]["texts"] == [text]
    assert whole["whole"] is True


# --- Types this process lacks, and user code ---


def test_objects_of_types_the_server_lacks_show_their_stored_fields(cwd: Path) -> None:
    make_faraway_run(cwd)
    tags = _tags(cwd)
    with serving(cwd) as (client, _):
        runs = {run["name"]: run for run in client.api("/api/runs")["runs"]}
        call = client.api(f"/api/calls/{tags['far/guard']}")
        secret = client.api(f"/api/objects/{tags['far/secret']}")
        assert client.get(f"/api/count/{tags['far/guard']}").status == 200
        assert client.get("/api/diff?a=far/guard&b=far/guard").status == 200

    assert runs["far/guard"]["state"] == "paused"
    invokable = call["invokable"]
    assert invokable["type"] == {
        "name": "faraway_types.Guard",
        "id": invokable["type"]["id"],
        "raw": True,
    }
    assert invokable["fields"] == {"motto": "none shall pass"}
    assert call["input"]["fields"] == {"code": "vault", "level": 3}
    assert secret["type"]["raw"] is True
    assert secret["fields"] == {"code": "vault", "level": 3}


def test_reading_never_builds_objects_of_user_classes(cwd: Path) -> None:
    digest = record(cwd, "echo", Echo(), Watched("hello"))
    CONSTRUCTED.clear()
    with serving(cwd) as (client, _):
        client.api("/api/runs")
        client.api("/api/inbox")
        client.api(f"/api/count/{digest}")
        call = client.api(f"/api/calls/{digest}")
        client.api(f"/api/objects/{call['input']['ref']}")
        client.api(f"/api/objects/{call['output']['ref']}?whole=1")
        client.api("/api/diff?a=echo&b=echo")
    assert CONSTRUCTED == []  # Watched.__post_init__ never ran.
    assert call["input"]["fields"] == {"value": "hello"}
    assert call["output"]["fields"] == {"value": "hello!"}


# --- Diff ---


def test_the_diff_of_the_demo_replay_shows_what_was_reused_and_what_ran_again(
    cwd: Path,
) -> None:
    tags = _tags(cwd)
    with serving(cwd) as (client, _):
        diff = client.api("/api/diff?a=demo/run-1/answered&b=demo/latest")

    assert diff["a"] == tags["demo/run-1/answered"]
    assert diff["b"] == tags["demo/latest"]
    root = diff["root"]
    assert root["status"] == "rerun"
    assert root["changes"] == []  # The same request: it ran again.
    statuses = [child["status"] for child in root["children"]]
    assert sorted(statuses) == ["rerun", "reused", "reused", "reused"]
    assert diff["counts"] == {"reused": 3, "rerun": 2, "added": 0, "removed": 0}
    rerun = next(child for child in root["children"] if child["status"] == "rerun")
    assert rerun["changes"] == []
    assert rerun["a_position"] == rerun["b_position"]
    # The resampled line: a new output for the same request.
    assert rerun["was"]["output"]["ref"] != rerun["call"]["output"]["ref"]
    lines = root["call"]["output"]["fields"]["lines"]
    assert _value(rerun["call"]["output"]) == lines[rerun["b_position"]]


def test_the_diff_names_changed_request_fields_added_and_removed_calls(cwd: Path) -> None:
    record(cwd, "a", Summarize(model="m1", texts=["x", "y"]))
    record(cwd, "b", Summarize(model="m2", texts=["x", "y", "z"]))
    record(cwd, "c", Summarize(model="m1", texts=["y"]))
    with serving(cwd) as (client, _):
        changed = client.api("/api/diff?a=a&b=b")
        dropped = client.api("/api/diff?a=a&b=c")

    root = changed["root"]
    assert root["status"] == "rerun"
    paths = {change["path"]: change for change in root["changes"]}
    assert set(paths) == {"invokable.model", "invokable.texts[2]"}
    assert (paths["invokable.model"]["a"], paths["invokable.model"]["b"]) == ("m1", "m2")
    assert paths["invokable.texts[2]"]["missing"] == "a"
    children = root["children"]
    assert [c["status"] for c in children] == ["rerun", "rerun", "added"]
    assert [c["changes"][0]["path"] for c in children[:2]] == ["invokable.model"] * 2
    assert children[2]["a"] is None
    assert _value(children[2]["call"]["input"]) == "z"
    assert changed["counts"] == {"reused": 0, "rerun": 3, "added": 1, "removed": 0}

    # c kept only the call on "y", matched by its request digest; the one on "x" went.
    children = dropped["root"]["children"]
    assert [(c["status"], c["a_position"], c["b_position"]) for c in children] == [
        ("removed", 0, None),
        ("reused", 1, 0),
    ]
    assert _value(children[0]["call"]["input"]) == "x"


def test_the_diff_matches_calls_made_in_another_order_by_their_request(cwd: Path) -> None:
    # Samplers: the same request gives another record on every run, so only the
    # request digest can match them, and here not in order.
    record(cwd, "a", DrawAll(items=["x", "y"]))
    record(cwd, "b", DrawAll(items=["y", "x"]))
    with serving(cwd) as (client, _):
        diff = client.api("/api/diff?a=a&b=b")
    children = diff["root"]["children"]
    assert [(c["status"], c["a_position"], c["b_position"]) for c in children] == [
        ("rerun", 1, 0),
        ("rerun", 0, 1),
    ]
    assert [c["changes"] for c in children] == [[], []]
    assert [_value(c["call"]["input"]) for c in children] == ["y", "x"]
    assert [change["path"] for change in diff["root"]["changes"]] == [
        "invokable.items[0]",
        "invokable.items[1]",
    ]


def test_a_call_inserted_before_others_of_its_type_is_added_not_a_changed_rerun(
    cwd: Path,
) -> None:
    record(cwd, "a", DrawAll(items=["1", "2"]))
    record(cwd, "b", DrawAll(items=["0", "1", "2"]))
    with serving(cwd) as (client, _):
        diff = client.api("/api/diff?a=a&b=b")
    children = diff["root"]["children"]
    assert [(c["status"], c["a_position"], c["b_position"]) for c in children] == [
        ("added", None, 0),
        ("rerun", 0, 1),
        ("rerun", 1, 2),
    ]
    assert [c.get("changes") for c in children[1:]] == [[], []]


def test_the_diff_of_a_run_with_itself_is_one_reused_call(cwd: Path) -> None:
    with serving(cwd) as (client, _):
        diff = client.api("/api/diff?a=demo/latest&b=demo/run-1")
    assert diff["root"]["status"] == "reused"
    assert diff["root"]["children"] == []
    assert diff["counts"] == {"reused": 1, "rerun": 0, "added": 0, "removed": 0}


# --- The inbox ---


def _answer(request: dict[str, Any], answer: str) -> dict[str, str]:
    return {
        "run": request["run"],
        "invocation": request["invocation"],
        "request": request["request"],
        "answer": answer,
    }


def test_the_inbox_lists_paused_runs_with_their_question(cwd: Path) -> None:
    tags = _tags(cwd)
    with serving(cwd) as (client, _):
        inbox = client.api("/api/inbox")
    assert inbox["writable"] is False
    (request,) = inbox["requests"]
    assert request["run"] == "inbox/winter"
    assert request["invocation"] == tags["inbox/winter"]
    assert request["question"] == "Give this winter haiku a title"
    assert request["requested_type"]["name"] == "enact.resource_types.Str"
    assert request["answer_kind"] == "text"
    assert request["path"] == [3]
    assert request["missing_types"] == []
    assert request["can_answer"] is False
    assert "restart it with --writable" in request["why_not"]


def test_answering_on_a_read_only_server_is_refused_and_writes_nothing(cwd: Path) -> None:
    before = (_tags(cwd), _objects(cwd))
    with serving(cwd) as (client, _):
        (request,) = client.api("/api/inbox")["requests"]
        response = client.post("/api/answer", _answer(request, "Snow"))
    assert response.status == 403
    assert "read-only" in response.json()["error"]
    assert (_tags(cwd), _objects(cwd)) == before


def test_an_answer_continues_the_paused_run_and_moves_its_tag(cwd: Path) -> None:
    paused = _tags(cwd)["inbox/winter"]
    with serving(cwd, writable=True) as (client, _):
        inbox = client.api("/api/inbox")
        assert inbox["writable"] is True
        (request,) = inbox["requests"]
        assert request["can_answer"] is True
        response = client.post("/api/answer", _answer(request, "First Snow"))
        assert response.status == 200, response.body
        done = response.json()
        after = client.api("/api/inbox")
        diff = client.api(f"/api/diff?a={paused}&b=inbox/winter")
        again = client.post("/api/answer", _answer(request, "Second Snow"))

    assert done["run"] == "inbox/winter"
    assert done["was"] == paused
    assert done["state"] == "done"
    assert _tags(cwd)["inbox/winter"] == done["invocation"] != paused
    store = enact.open_store(f"sqlite:///{cwd / STORE}", read_only=True)
    with store:
        haiku = store.tags["inbox/winter"]().get_output()
    store.close()
    assert (haiku.title, haiku.season) == ("First Snow", "winter")
    assert after["requests"] == []
    # The three sampled lines were reused; the request got the answer.
    statuses = [child["status"] for child in diff["root"]["children"]]
    assert statuses == ["reused", "reused", "reused", "rerun"]
    # The run has moved on: the same answer again is refused.
    assert again.status == 409
    assert "has moved on" in again.json()["error"]


def test_an_answer_must_fit_the_requested_type(cwd: Path) -> None:
    record(cwd, "ask/number", AskNumber())
    with serving(cwd, writable=True) as (client, _):
        request = next(r for r in client.api("/api/inbox")["requests"] if r["run"] == "ask/number")
        assert request["answer_kind"] == "int"
        wrong = client.post("/api/answer", _answer(request, "many"))
        right = client.post("/api/answer", _answer(request, " 21 "))
    assert wrong.status == 400
    assert wrong.json()["error"].startswith("cannot make a Int of the answer: invalid literal")
    assert right.status == 200, right.body
    store = enact.open_store(f"sqlite:///{cwd / STORE}", read_only=True)
    with store:
        assert store.tags["ask/number"]().get_output() == enact.Int(42)
    store.close()


def test_an_answer_of_a_resource_type_is_a_json_object_of_its_fields(cwd: Path) -> None:
    record(cwd, "ask/watched", AskWatched())
    with serving(cwd, writable=True) as (client, _):
        request = next(r for r in client.api("/api/inbox")["requests"] if r["run"] == "ask/watched")
        assert request["answer_kind"] == "json"
        assert request["requested_type"]["name"].endswith("Watched")
        not_json = client.post("/api/answer", _answer(request, "the birds"))
        wrong_fields = client.post("/api/answer", _answer(request, '{"colour": "red"}'))
        right = client.post("/api/answer", _answer(request, '{"value": "the birds"}'))
    assert not_json.status == wrong_fields.status == 400
    assert not_json.json()["error"].startswith("cannot make a Watched of the answer: Expecting")
    assert wrong_fields.json()["error"].startswith("cannot make a Watched of the answer:")
    assert right.status == 200, right.body
    store = enact.open_store(f"sqlite:///{cwd / STORE}", read_only=True)
    with store:
        assert store.tags["ask/watched"]().get_output() == Watched("THE BIRDS")
    store.close()


def test_the_inbox_says_what_to_import_when_the_program_is_unknown(cwd: Path) -> None:
    make_faraway_run(cwd)
    before = (_tags(cwd), _objects(cwd))
    with serving(cwd, writable=True) as (client, _):
        request = next(r for r in client.api("/api/inbox")["requests"] if r["run"] == "far/guard")
        response = client.post("/api/answer", _answer(request, "open sesame"))
    assert request["question"] == "Password for vault?"
    assert request["missing_types"] == ["faraway_types.Guard", "faraway_types.Secret"]
    assert request["can_answer"] is False
    assert "--import MODULE" in request["why_not"]
    assert response.status == 409
    assert "faraway_types.Guard" in response.json()["error"]
    assert (_tags(cwd), _objects(cwd)) == before


def test_with_import_the_server_can_continue_a_run_of_the_users_types(cwd: Path) -> None:
    make_faraway_run(cwd)
    server = ServeProcess(cwd, "--writable", "--import", "faraway_types.py")
    try:
        request = next(
            r for r in server.client.api("/api/inbox")["requests"] if r["run"] == "far/guard"
        )
        answered = server.client.post("/api/answer", _answer(request, "open sesame"))
        call = server.client.api(f"/api/calls/{answered.json()['invocation']}")
    finally:
        assert server.stop() == 0
    assert request["missing_types"] == []
    assert request["can_answer"] is True
    assert answered.status == 200, answered.body
    assert call["state"] == "done"
    assert _value(call["output"]) == "open sesame"
    assert "raw" not in call["invokable"]["type"]


@pytest.mark.parametrize(
    ("headers", "token", "status", "error"),
    [
        ({}, False, 403, "answering needs the token"),
        ({"X-Enact-Token": "wrong"}, False, 403, "answering needs the token"),
        ({"Content-Type": "text/plain"}, True, 415, "the body must be JSON"),
        ({"Origin": "http://evil.example"}, True, 403, "a POST from another origin"),
    ],
)
def test_an_answer_needs_the_token_a_json_body_and_the_same_origin(
    cwd: Path, headers: dict[str, str], token: bool, status: int, error: str
) -> None:
    before = (_tags(cwd), _objects(cwd))
    with serving(cwd, writable=True) as (client, _):
        (request,) = client.api("/api/inbox")["requests"]
        response = client.post("/api/answer", _answer(request, "x"), headers=headers, token=token)
    assert response.status == status
    assert error in response.json()["error"]
    assert (_tags(cwd), _objects(cwd)) == before


# --- Transport: hosts, tokens, the page ---


def test_a_request_for_another_host_is_refused(cwd: Path) -> None:
    # A page of another site that resolves its name to 127.0.0.1 (DNS rebinding).
    with serving(cwd) as (client, _):
        response = client.get("/api/runs", headers={"Host": f"evil.example:{client.port}"})
        page = client.get("/", headers={"Host": f"localhost:{client.port}"})
    assert response.status == 403
    assert page.status == 200


def test_with_a_token_every_api_request_needs_it(cwd: Path) -> None:
    with serving(cwd, token="s3cret") as (client, _):
        without = client.get("/api/runs", token=False)
        wrong = client.get("/api/runs", headers={"X-Enact-Token": "guess"}, token=False)
        right = client.get("/api/runs")
        page = client.get("/", token=False)
    assert (without.status, wrong.status, right.status, page.status) == (401, 401, 200, 200)


def test_the_page_is_served_by_the_package_and_loads_nothing_from_elsewhere(
    cwd: Path,
) -> None:
    with serving(cwd) as (client, _):
        page = client.get("/")
        script = client.get("/static/app.js")
        style = client.get("/static/app.css")
        posted = client.post("/", {})
    assert page.status == script.status == style.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for body in (page.body, script.body, style.body):
        # No CDN, no font service: nothing but this server's own paths.
        assert not re.search(rb"https?://", body)
    assert b'<script src="/static/app.js"' in page.body
    # The page builds its DOM from text only: no HTML parsing sink is used.
    assert not re.search(rb"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script.body)
    assert posted.status == 405


def test_the_serve_command_prints_its_address_serves_and_stops_on_ctrl_c(cwd: Path) -> None:
    server = ServeProcess(cwd)
    try:
        runs = server.client.api("/api/runs")
        info = server.client.api("/api/info")
    finally:
        status = server.stop()
    assert server.token is None
    assert {run["name"] for run in runs["runs"]} >= {"demo/run-1", "inbox/winter"}
    assert info["writable"] is False
    assert info["store"] == "sqlite:///.enact/store.db"
    assert status == 0
    assert "(read-only); Ctrl-C stops the server" in server.stdout
    assert server.stderr == "enact serve: stopped\n"


def test_the_writable_server_prints_an_address_with_its_token(cwd: Path) -> None:
    server = ServeProcess(cwd, "--writable")
    try:
        assert server.token is not None
        request = server.client.api("/api/inbox")["requests"][0]
        refused = server.client.post("/api/answer", _answer(request, "x"), token=False)
        answered = server.client.post("/api/answer", _answer(request, "Thaw"))
    finally:
        assert server.stop() == 0
    assert refused.status == 403
    assert answered.status == 200, answered.body
    assert answered.json()["state"] == "done"
