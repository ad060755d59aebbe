"""The page in a real browser: `ciocto serve` in a subprocess, driven in Debian's Chromium.

Skipped (with the reason) when Chromium or Playwright is missing, except under `make test`,
which installs Chromium first and sets CIOCTO_REQUIRE_BROWSER=1 so that a skip cannot hide.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from classifier import Model, classify

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root on a machine without a network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARTICLE = ROOT / "data" / "article" / "cto-vs-cio.vi.txt"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `make browser` (apt-get install chromium) installs it"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is missing: pip install 'ciocto[browser]'"
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return "the web extra is missing: pip install 'ciocto[web]'"
    return None


_REASON = _missing()
if _REASON and os.environ.get("CIOCTO_REQUIRE_BROWSER"):
    raise RuntimeError(f"CIOCTO_REQUIRE_BROWSER is set but {_REASON}")
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


class Server:
    """`ciocto serve --port 0` in a subprocess; its log is kept for failure messages."""

    def __init__(
        self, model_dir: Path | None, *options: str, env: dict[str, str] | None = None
    ) -> None:
        exe = Path(sys.executable).with_name("ciocto")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", _CLI]
        model = ["--model", str(model_dir)] if model_dir else []
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--port", "0", *model, *options],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self.url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # read to the end so the pipe never fills
            self.log.append(line)
            found = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            if found and self.url is None:
                self.url = found.group(1)
            if "Application startup complete" in line:
                self._ready.set()
        self._ready.set()

    def wait(self, timeout: float = 60) -> str:
        if not self._ready.wait(timeout) or self.url is None or self.proc.poll() is not None:
            raise RuntimeError("ciocto serve did not start:\n" + "".join(self.log))
        return self.url

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_CLI = "from classifier.cli import main; main()"


@pytest.fixture(scope="module")
def server(models_root: Path) -> Iterator[str]:
    srv = Server(models_root / "default")
    try:
        yield srv.wait()
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def problems() -> list[str]:
    """Script errors, console errors and dialogs the page produced: each test expects none."""
    return []


@pytest.fixture(scope="module")
def page(server: str, problems: list[str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Debian's Chromium only: Playwright never downloads a browser here.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True
        )
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        pg.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        pg.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        pg.goto(server)
        yield pg
        context.close()
        browser.close()


def lines_shown(pg: Any) -> list[dict[str, str]]:
    return pg.locator("#lines > li").evaluate_all(
        """els => els.map(e => ({
            cls: e.className, n: e.dataset.n,
            text: e.querySelector('.line-text').textContent,
            badge: e.querySelector('.line-tag').textContent}))"""
    )


def paste_and_classify(pg: Any, text: str) -> None:
    from playwright.sync_api import expect

    pg.fill("#posting", text)
    pg.click("#classify")  # its handler sets the status to "Classifying…" before it returns
    expect(pg.locator("#status")).to_have_text(re.compile(r"\d+"))


def check_result(pg: Any, text: str, model: Model) -> dict[str, Any]:
    """Assert the page shows the library's result for `text` line by line; return it."""
    from playwright.sync_api import expect

    want = classify(text, model).to_dict()
    shown = lines_shown(pg)
    assert len(shown) == len(want["lines"])
    for got, line in zip(shown, want["lines"], strict=True):
        assert f"tint-{line['tag'].lower()}" in got["cls"].split(), (got, line)
        assert got["n"] == str(line["n"])
        assert got["text"] == line["text"]
    gauge = pg.locator("#gauge")
    expect(gauge).to_have_attribute("data-leaning", want["leaning"])
    expect(gauge).to_have_class(re.compile(rf"\blean-{want['leaning'].lower()}\b"))
    expect(gauge).to_have_attribute("aria-valuenow", str(round(want["p_cto"] * 100)))
    for tag in ("CIO", "CTO", "neutral"):
        expect(pg.locator(f"#count-{tag.lower()}")).to_have_text(str(want["counts"][tag]))
    return want


def test_english_and_vietnamese_postings_are_shown_line_by_line(
    page: Any, problems: list[str], model: Model, example: Any
) -> None:
    from playwright.sync_api import expect

    pg = page
    expect(pg).to_have_title(re.compile("ciocto"))
    expect(pg.locator("#classify")).to_have_text("Classify")

    en = example("en_cto_saas.txt")
    paste_and_classify(pg, en)
    want = check_result(pg, en, model)
    assert want["leaning"] == "CTO"
    pct = round(want["p_cto"] * 100)
    expect(pg.locator("#gauge-text")).to_have_text(f"Leans CTO — {pct}% CTO")
    strongest = want["strongest_text"]["CTO"]
    expect(pg.locator("#strongest-cto")).to_contain_text(strongest)

    # hovering a CTO line shows the terms that decided it
    cto_line = next(line for line in want["lines"] if line["tag"] == "CTO" and line["evidence"])
    target = pg.locator(f'#lines > li[data-n="{cto_line["n"]}"]')
    target.hover()
    tip = target.locator(".evidence")
    expect(tip).to_be_visible()
    expect(tip.locator(".term-word").first).to_have_text(cto_line["evidence"][0][0])
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "web-en.png"), full_page=True)
    # the first screen, posting scrolled to its top: this is docs/screenshot.png in the README
    pg.locator("#posting").evaluate("e => { e.scrollTop = 0; }")
    pg.screenshot(path=str(ARTIFACTS / "web-en-top.png"))

    vi = example("vi_cio_hospital.txt")
    pg.mouse.move(0, 0)
    paste_and_classify(pg, vi)
    want = check_result(pg, vi, model)
    assert want["leaning"] == "CIO"
    pct_cio = 100 - round(want["p_cto"] * 100)
    expect(pg.locator("#gauge-text")).to_have_text(f"Leans CIO — {pct_cio}% CIO")

    # the language switch translates the labels and the result, and the legend quotes the article
    pg.click("#lang-vi")
    expect(pg.locator("html")).to_have_attribute("lang", "vi")
    expect(pg.locator("#classify")).to_have_text("Phân loại")
    expect(pg.locator("#lang-vi")).to_have_attribute("aria-pressed", "true")
    expect(pg.locator("#gauge-text")).to_have_text(f"Nghiêng về CIO — {pct_cio}% CIO")
    expect(pg.locator("#status")).to_have_text(f"Đã phân loại {len(want['lines'])} dòng.")
    neutral = pg.locator("#lines > li.tint-neutral .line-tag").first
    expect(neutral).to_contain_text("trung lập")
    article = " ".join(ARTICLE.read_text(encoding="utf-8").split())
    quotes = pg.locator("#legend q").all_text_contents()
    assert len(quotes) >= 4
    for quote in quotes:
        assert quote in article, f"legend quote not in the article: {quote}"
    assert {"CIO", "CTO", "neutral"} == set(
        pg.locator("#legend .legend-item").evaluate_all("els => els.map(e => e.dataset.tag)")
    )
    pg.screenshot(path=str(ARTIFACTS / "web-vi.png"), full_page=True)

    pg.click("#lang-en")
    expect(pg.locator("#classify")).to_have_text("Classify")
    expect(pg.locator("#legend q")).to_have_count(0)  # English paraphrases, not quotes
    assert not problems, problems


def test_markup_in_a_posting_shows_as_text(page: Any, problems: list[str]) -> None:
    from playwright.sync_api import expect

    pg = page
    hostile = (
        "Lead the engineering team\n"
        "<script>window.__pwned = 1; alert('script')</script>\n"
        "<img src=x onerror=\"window.__pwned = 2; alert('img')\">"
    )
    paste_and_classify(pg, hostile)
    texts = [line["text"] for line in lines_shown(pg)]
    assert "<script>window.__pwned = 1; alert('script')</script>" in texts
    assert "<img src=x onerror=\"window.__pwned = 2; alert('img')\">" in texts
    expect(pg.locator("#lines script")).to_have_count(0)
    expect(pg.locator("#lines img")).to_have_count(0)
    assert pg.evaluate("window.__pwned") is None
    assert not problems, problems


def test_an_error_from_the_server_is_shown_readably(page: Any, problems: list[str]) -> None:
    from playwright.sync_api import expect

    pg = page
    pg.fill("#posting", "\x00\x01\x02\x03\x04" * 40)
    pg.click("#classify")
    expect(pg.locator("#error")).to_be_visible()
    expect(pg.locator("#error")).to_contain_text("binary data")
    pg.fill("#posting", "   ")
    pg.click("#classify")
    expect(pg.locator("#error")).to_have_text("Paste a job description first.")
    # Chromium logs the expected 400 to the console; only that may be there
    assert [p for p in problems if "status of 400" not in p] == []
    problems.clear()


def test_a_csv_upload_comes_back_scored(page: Any, problems: list[str], model: Model) -> None:
    from playwright.sync_api import expect

    pg = page
    listings = (
        "id,title,description\n"
        "1,CTO,Lead the engineering team and own the product architecture.\n"
        '2,Trưởng phòng IT,"Quản lý hạ tầng CNTT nội bộ.\nĐiều hành helpdesk."\n'
    )
    pg.set_input_files(
        "#csv-file",
        files=[{"name": "listings.csv", "mimeType": "text/csv", "buffer": listings.encode()}],
    )
    select = pg.locator("#csv-column")
    expect(select).to_be_enabled()
    options = ["(let ciocto guess)", "id", "title", "description"]
    assert select.locator("option").all_text_contents() == options
    expect(select).to_have_value("description")
    with pg.expect_download() as info:
        pg.click("#score")
    download = info.value
    assert download.suggested_filename == "listings-scored.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == ["1", "2"]
    for row in rows:
        assert row["leaning"] == classify(row["description"], model).leaning
    assert [r["leaning"] for r in rows] == ["CTO", "CIO"]
    expect(pg.locator("#score-status")).to_have_text("Scored 2 rows.")
    assert not problems, problems
