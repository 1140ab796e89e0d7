"""`enact serve` in a real browser: Debian's Chromium, headless, driven by Playwright.

The browser opens the demo's run, expands the tree, opens a call, follows a
ref, views the diff of the demo's replay and answers an input request in the
inbox. Every assertion is on the DOM (text, links, counts); a screenshot of
each view is written as an artifact to a temporary directory (printed with
``-s``; set ENACT_TEST_ARTIFACTS to choose it).

Chromium is the system's (/usr/bin/chromium, or $ENACT_CHROMIUM): Playwright
never downloads a browser here. CI installs it (.ci/run) and these tests must
run there; elsewhere they are skipped when Chromium is not installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from _cli_testlib import run_enact
from _serve_testlib import (
    STORE,
    Complete,
    FanOut,
    Nest,
    ServeProcess,
    paused_demo_run,
    record,
)

import enact

CHROMIUM = os.environ.get("ENACT_CHROMIUM", "/usr/bin/chromium")
# As root in a container: no sandbox; and no background traffic, which this
# machine's closed network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


@pytest.fixture(scope="module")
def browser(unavailable: Callable[[str], NoReturn]) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (uv sync installs the test group)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("ENACT_TEST_ARTIFACTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of enact serve: {path}")
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's run, a run paused on its request, a deep run, a wide one, a hostile one."""
    path = tmp_path_factory.mktemp("browser")
    result = run_enact(path, "demo", "--answer", "Rain on the roof", "--seed", "7")
    assert result.returncode == 0, result.stderr
    paused_demo_run(path)
    record(path, "deep", Nest(), enact.Int(3))
    record(path, "wide", FanOut(n=250))
    record(path, "hostile", Complete(model=HOSTILE), enact.Str(HOSTILE))
    return path


@pytest.fixture(scope="module")
def server(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A read-only `enact serve` of a copy of the template."""
    cwd = tmp_path_factory.mktemp("read-only")
    shutil.copytree(template, cwd, dirs_exist_ok=True)
    process = ServeProcess(cwd)
    yield process
    assert process.stop() == 0


@pytest.fixture
def page(browser: Any, server: ServeProcess) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield opened
    context.close()
    assert errors == []


def _tags(cwd: Path) -> dict[str, str]:
    store = enact.open_store(f"sqlite:///{cwd / STORE}", read_only=True)
    try:
        return dict(store.backend.list_tags())
    finally:
        store.close()


def test_the_runs_page_lists_the_runs(
    page: Any, server: ServeProcess, template: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(server.url)
    rows = page.locator("#runs tr.run")
    expect(rows).to_have_count(6)
    latest = rows.filter(has_text="demo/latest")
    expect(latest.locator(".badge")).to_have_text("done")
    expect(latest.locator("td.calls")).to_have_text("5")
    expect(latest.locator("td.started")).to_have_text("—")
    expect(rows.filter(has_text="inbox/winter").locator(".badge")).to_have_text("paused")
    expect(page.locator("p.note").first).to_contain_text("not recorded")
    expect(page.locator("#inbox-count")).to_have_text("(1)")
    page.screenshot(path=artifacts / "runs.png", full_page=True)


def test_the_call_tree_expands_level_by_level_and_a_call_opens_whole(
    page: Any, server: ServeProcess, template: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(server.url)
    page.locator("#runs a", has_text="demo/latest").click()
    tree = page.locator("#tree")
    expect(tree.locator("li.call")).to_have_count(5)  # The run and its first level.
    root = tree.locator(":scope > li.call")
    labels = root.locator(":scope > ul.children > li.call > .row .label")
    expect(labels).to_have_count(4)
    expect(labels.nth(0)).to_contain_text("PickLine(options=[5 items])() → '")
    expect(labels.nth(3)).to_contain_text("RequestInput(Str)() → 'Rain on the roof'")
    page.screenshot(path=artifacts / "tree.png", full_page=True)

    # Collapse and expand again.
    toggle = root.locator(":scope > .row .toggle")
    toggle.click()
    expect(labels.first).to_be_hidden()
    toggle.click()
    expect(labels.first).to_be_visible()

    # Open a call: the panel shows it whole.
    labels.nth(1).click()
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text(["Invokable", "Input", "Output"])
    expect(detail.locator("ol.items > li")).to_have_count(5)  # PickLine's options
    page.screenshot(path=artifacts / "call.png", full_page=True)

    # A deeper run: each level is fetched when it is opened.
    page.goto(server.url + "#/call/" + _tags(template)["deep"])
    expect(page.locator("#tree li.call")).to_have_count(3)
    level = page.locator("#tree > li > ul > li.call").first
    expect(level.locator(".label").first).to_contain_text("Nest[raw]()(2)")
    level.locator(":scope > .row .toggle").click()
    expect(page.locator("#tree li.call")).to_have_count(5)

    # A wide run: its children come a hundred at a time.
    page.goto(server.url + "#/call/" + _tags(template)["wide"])
    expect(page.locator("#tree li.call")).to_have_count(101)
    page.locator("button.more").click()
    expect(page.locator("#tree li.call")).to_have_count(201)
    expect(page.locator("button.more")).to_have_text("Show 50 more (200 of 250 shown)")


def test_a_ref_is_followed_to_the_object_it_names(
    page: Any, server: ServeProcess, template: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    digest = _tags(template)["demo/latest"]
    page.goto(server.url + "#/call/" + digest)
    invokable = page.locator("#detail .section", has_text="Invokable").locator("a.ref")
    invokable.click()
    expect(page.locator("h1 .typename")).to_have_text("WriteHaiku")
    expect(page).to_have_url(server.url + "#/object/" + invokable_digest(page))

    page.goto(server.url + "#/object/" + digest[:12])
    expect(page.locator("h1 .typename")).to_have_text("Invocation")
    expect(page.locator("#fields > dt")).to_have_text(["request", "response"])
    page.locator("#fields a.ref").first.click()
    expect(page.locator("h1 .typename")).to_have_text("Request")
    expect(page.locator("#fields > dt")).to_have_text(["invokable", "input"])
    page.screenshot(path=artifacts / "object.png", full_page=True)
    page.locator("#fields a.ref").nth(1).click()
    expect(page.locator("h1 .typename")).to_have_text("Str")
    expect(page.locator("#fields pre.str")).to_have_text("spring")


def invokable_digest(page: Any) -> str:
    return str(page.evaluate("location.hash").removeprefix("#/object/"))


def test_the_diff_of_the_demo_replay_shows_what_was_reused_and_re_run(
    page: Any, server: ServeProcess, template: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    tags = _tags(template)
    page.goto(server.url + "#/call/" + tags["demo/latest"])
    page.locator("#compare-with").select_option(label="demo/run-1/answered")
    page.locator("#compare").click()
    expect(page.locator("#diff-summary")).to_contain_text("3 reused, 2 re-run, 0 added, 0 removed")
    assert page.evaluate("location.hash") == "#/diff/demo%2Frun-1%2Fanswered/demo%2Frun-1"
    expect(page.locator("#diff-a")).to_have_value("demo/run-1/answered")
    summary = page.locator("#diff-summary a.ref")
    expect(summary).to_have_text(
        [f"#{tags['demo/run-1/answered'][:8]}", f"#{tags['demo/latest'][:8]}"]
    )
    diff = page.locator("#diff")
    expect(diff.locator("li[data-status=rerun]")).to_have_count(2)
    expect(diff.locator("li[data-status=reused]")).to_have_count(3)
    rerun_line = diff.locator("li[data-status=rerun] li[data-status=rerun]")
    expect(rerun_line.locator(".label")).to_contain_text("PickLine")
    expect(rerun_line.locator(".result")).to_contain_text("result: '")
    expect(rerun_line.locator(".same-request")).to_have_count(1)
    page.screenshot(path=artifacts / "diff.png", full_page=True)


def test_stored_markup_is_shown_as_text_and_never_run(
    page: Any, server: ServeProcess, template: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "#/call/" + _tags(template)["hostile"])
    label = page.locator("#tree li.call .label").first
    expect(label).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(page.locator("#detail pre.str").first).to_have_text(HOSTILE)
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    page.screenshot(path=artifacts / "hostile.png", full_page=True)


def test_an_input_request_is_answered_in_the_inbox_and_the_run_completes(
    browser: Any, template: Path, tmp_path: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    paused = _tags(tmp_path)["inbox/winter"]
    writable = ServeProcess(tmp_path, "--writable")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(writable.url)  # With ?token=: the page keeps it and drops it from the URL.
        expect(page.locator("#runs tr.run")).to_have_count(6)
        assert "token" not in page.url
        page.locator("#nav-inbox").click()
        request = page.locator(".request", has_text="inbox/winter")
        expect(request.locator(".question")).to_have_text("Give this winter haiku a title")
        request.locator("textarea.answer").fill("First Snow")
        page.screenshot(path=artifacts / "inbox.png", full_page=True)
        request.locator("button[type=submit]").click()
        result = request.locator(".result")
        expect(result).to_contain_text("Answered: run inbox/winter continued and is now done")
        expect(page.locator("#inbox-count")).to_have_text("")
        page.screenshot(path=artifacts / "answered.png", full_page=True)

        result.locator("a").click()
        expect(page.locator("#tree > li > .row .badge")).to_have_text("done")
        expect(page.locator("#tree > li > .row .label")).to_contain_text("title='First Snow'")
    finally:
        context.close()
        assert writable.stop() == 0
    assert _tags(tmp_path)["inbox/winter"] != paused
    store = enact.open_store(f"sqlite:///{tmp_path / STORE}", read_only=True)
    with store:
        assert store.tags["inbox/winter"]().get_output().title == "First Snow"
    store.close()
