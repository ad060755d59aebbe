"""Teaching from the page in Chromium: correct lines by keyboard, train, compare, promote, undo.

A small registry in tmp (CIOCTO_HOME with one data file, a base model trained without the
comparison) keeps the training runs to seconds. Skipped like tests/test_browser.py when
Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import _CLI, _REASON, CHROMIUM, CHROMIUM_ARGS, ROOT, Server  # noqa: I001

from classifier import classify, load_model

pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

# screenshots go to tests/artifacts/; CIOCTO_DOCS_SCREENSHOTS=1 writes docs/'s own copies
DOCS = (
    Path(__file__).resolve().parent.parent / "docs"
    if os.environ.get("CIOCTO_DOCS_SCREENSHOTS")
    else Path(__file__).resolve().parent / "artifacts"
)
VI = ROOT / "data" / "examples" / "vi_cio_hospital.txt"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A CIOCTO_HOME with one small data file and a model `base` trained on it, active."""
    home = tmp_path_factory.mktemp("home")
    (home / "data").mkdir()
    shutil.copy(ROOT / "data" / "authored_vi.csv", home / "data")
    env = {k: v for k, v in os.environ.items() if k != "CIOCTO_MODELS"}
    env["CIOCTO_HOME"] = str(home)
    exe = Path(sys.executable).with_name("ciocto")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", _CLI]
    subprocess.run([*cmd, "train", "--name", "base", "--folds", "0"], env=env, check=True)
    return home, env


def start(home: tuple[Path, dict[str, str]]) -> tuple[Server, str]:
    srv = Server(None, "--allow-train", "--train-folds", "2", env=home[1])
    return srv, srv.wait()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser: Any, url: str, problems: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    pg.goto(url)
    return pg


def classify_on_page(pg: Any, text: str) -> None:
    from playwright.sync_api import expect

    pg.fill("#posting", text)
    pg.click("#classify")
    expect(pg.locator("#status")).to_have_text(re.compile(r"\d+ lines"))


def shown(pg: Any) -> list[dict[str, Any]]:
    return pg.locator("#lines > li").evaluate_all(
        """els => els.map(e => ({tag: e.dataset.tag, user: e.dataset.user || null,
            text: e.querySelector('.line-text').textContent,
            you: e.querySelector('.user-tag').textContent}))"""
    )


@contextlib.contextmanager
def hostile_site() -> Iterator[str]:
    """Serve an empty page on another loopback port: the origin a CSRF attempt comes from."""

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (the http.server API)
            body = b"<!doctype html><title>elsewhere</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def tags_of(model_dir: Path, text: str) -> list[str]:
    return [line["tag"] for line in classify(text, load_model(str(model_dir))).to_dict()["lines"]]


def test_correct_train_promote_roll_back_and_keep(
    home: tuple[Path, dict[str, str]], browser: Any
) -> None:
    import httpx
    from playwright.sync_api import expect

    root = home[0] / "models"
    text = VI.read_text(encoding="utf-8")
    problems: list[str] = []
    srv, url = start(home)
    try:
        pg = open_page(browser, url, problems)
        classify_on_page(pg, text)
        before = shown(pg)
        assert [x["tag"] for x in before] == tags_of(root / "base", text)

        # three lines corrected by keyboard: 1/2/3 set the tag, the arrow keys move on
        pg.locator("#lines > li").first.focus()
        wanted = []
        for i in range(3):
            tag = "CTO" if before[i]["tag"] != "CTO" else "CIO"
            wanted.append(tag)
            pg.keyboard.press({"CIO": "1", "CTO": "2"}[tag])
            expect(pg.locator("#lines > li").nth(i)).to_have_attribute("data-user", tag)
            pg.keyboard.press("ArrowDown")
        # a fourth one, undone with Esc
        pg.keyboard.press("3")
        fourth = pg.locator("#lines > li").nth(3)
        expect(fourth).to_have_attribute("data-user", "neutral")
        pg.keyboard.press("Escape")
        expect(fourth).not_to_have_attribute("data-user", "neutral")
        now = shown(pg)
        for i, tag in enumerate(wanted):  # the model's tag stays, the user's is shown beside it
            assert now[i]["tag"] == before[i]["tag"] and now[i]["user"] == tag
            assert now[i]["you"] == f"you: {tag}"
        stored = httpx.get(f"{url}api/labels?format=json").json()["labels"]
        assert [(r["text"], r["label"]) for r in stored] == [
            (before[i]["text"], tag) for i, tag in enumerate(wanted)
        ]
        expect(pg.locator("#label-count")).to_contain_text("3 line")
        pg.locator("#lines > li").first.scroll_into_view_if_needed()
        DOCS.mkdir(exist_ok=True)
        pg.locator("#result").screenshot(path=str(DOCS / "web-correct.png"))

        # train: progress, then the comparison and the decision
        pg.click("#train")
        expect(pg.locator("#compare")).to_be_visible(timeout=240_000)
        slices = pg.locator("#compare-table tbody tr td:first-child").all_text_contents()
        assert "all rows" in slices and "your labels" in slices
        expect(pg.locator("#decision")).not_to_be_empty()
        pg.locator("#teach").screenshot(path=str(DOCS / "web-compare.png"))

        # promote: the page's tags now come from the new model
        new = pg.locator("#promote").get_attribute("data-name")
        assert new and new != "base"
        pg.click("#promote")
        expect(pg.locator("#train-status")).to_have_text(f"Now classifying with {new}.")
        expect(pg.locator("#model")).to_contain_text(new)
        assert [x["tag"] for x in shown(pg)] == tags_of(root / new, text)
        assert (root / "ACTIVE").read_text().strip() == new

        # roll back from the models panel: the old tags again
        pg.locator('#models li[data-name="base"] button.use').click()
        expect(pg.locator("#train-status")).to_have_text("Now classifying with base.")
        expect(pg.locator("#model")).to_contain_text("base")
        assert [x["tag"] for x in shown(pg)] == tags_of(root / "base", text)
        assert not problems, problems
    finally:
        srv.stop()

    # a new server finds the corrections still there, shown on the same lines
    srv, url = start(home)
    try:
        pg = open_page(browser, url, problems)
        classify_on_page(pg, text)
        expect(pg.locator("#lines > li[data-user]")).to_have_count(3)
        assert [x["user"] for x in shown(pg)[:3]] == wanted

        # a page from another origin (another loopback port, no policy of ours) cannot write
        with hostile_site() as evil:
            other = open_page(browser, evil, [])
            other.evaluate(
                """async (target) => {
                    // a "simple" request, as a hostile page would send it: no preflight
                    await fetch(target, {method: "POST", mode: "no-cors",
                        headers: {"Content-Type": "text/plain"},
                        body: JSON.stringify({text: "planted by another site", label: "CIO"})});
                }""",
                f"{url}api/labels",
            )
        for _ in range(50):  # the server's log is read by a thread: give it a moment
            if any("POST /api/labels refused a cross-site" in line for line in srv.log):
                break
            time.sleep(0.1)
        assert any("POST /api/labels refused a cross-site" in line for line in srv.log), srv.log
        stored = httpx.get(f"{url}api/labels?format=json").json()["labels"]
        assert "planted by another site" not in [r["text"] for r in stored]
        forged = httpx.post(
            f"{url}api/labels",
            json={"text": "planted", "label": "CIO"},
            headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert forged.status_code == 403
    finally:
        srv.stop()
