"""The README and docs/ are checked: every block runs, and every command and option is documented.

The machinery (reading blocks, running them, comparing what a page shows with a real run, and
writing docs/cli.md) is docs/doctools.py, which `python docs/doctools.py refresh` also uses.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import click
import pytest

from classifier.cli import main

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("doctools", ROOT / "docs" / "doctools.py")
assert _spec and _spec.loader
doctools = importlib.util.module_from_spec(_spec)
sys.modules["doctools"] = doctools  # dataclasses look their module up there
_spec.loader.exec_module(doctools)

PAGES = doctools.pages()
README = ROOT / "README.md"
# Blocks skipped with `<!-- not run: ... -->`: a server, or minutes of cross-validation. Keep it
# small; anything else runs.
MOST_NOT_RUN = 6
# Options that have no help text yet, owned by the engineers of those commands. This list may
# only shrink: the test below fails when one of them gains its help, so it is taken off.
WITHOUT_HELP = {
    "ciocto classify --format",
    "ciocto evaluate --folds",
    "ciocto models list --format",
    "ciocto models show --format",
    "ciocto evaluate --format",
    "ciocto review-labels --text-column",
    "ciocto review-labels --label-column",
    "ciocto review-labels --lang-column",
    "ciocto review-labels --folds",
    "ciocto review-labels --format",
    "ciocto suggest --text-column",
    "ciocto suggest --limit",
    "ciocto train --text-column",
    "ciocto train --label-column",
    "ciocto train --lang-column",
}


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_block_of_the_page_runs_and_shows_what_it_prints(models_root, page) -> None:
    problems = doctools.check_page(page, models_root)
    assert not problems, "\n\n".join(problems)


def test_the_readme_shows_an_english_and_a_vietnamese_classify_run() -> None:
    runs = [
        b
        for b in doctools.read_blocks(README)
        if b.runs_ciocto and b.mark is None and b.text.startswith("$ ciocto classify data/")
    ]
    shown = " ".join(b.text.splitlines()[0] for b in runs)
    assert "data/examples/en_" in shown and "data/examples/vi_" in shown
    for block in runs:
        assert re.search(r"^Leaning: (CIO|CTO|neutral)", block.text, re.M), block.where
        assert len(doctools._rows(block.text)) >= 3, block.where


def test_the_readme_python_example_shows_its_output() -> None:
    blocks = [b for b in doctools.read_blocks(README) if b.lang == "python" and b.mark is None]
    assert blocks and all(doctools.expected_prints(b.text) for b in blocks)


def test_the_readme_starts_with_the_two_commands_and_pip() -> None:
    text = README.read_text(encoding="utf-8")
    first = doctools.read_blocks(README)[0].text
    assert first.startswith("make demo ") and "\nmake test " in first
    assert text.index("pip install") < text.index("## ")
    figures = text[text.index("| measure | before | after |") :].split("\n\n", 1)[0]
    assert figures.count("\n") >= 7 and "?" not in figures  # the table holds measured figures


def test_few_blocks_are_skipped_and_each_says_why() -> None:
    skipped = [b for page in PAGES for b in doctools.read_blocks(page) if b.mark == "not run"]
    assert len(skipped) <= MOST_NOT_RUN, [b.where for b in skipped]
    assert all(len(b.arg) > 10 for b in skipped)


def test_a_block_that_differs_from_the_real_run_fails() -> None:
    """The comparison can fail: a wrong tag, leaning, line, key or exit status is caught."""
    run = "$ ciocto classify x"
    shown = [
        "   1  CTO       0.98   0.00  Lead the engineering team",
        "",
        "Leaning: CTO  (p_cto 0.99",
    ]
    real = "   1  CIO       0.10   0.90  Lead the engineering team\n\nLeaning: CIO  (p_cto 0.10\n"
    assert len(doctools.compare(run[2:], shown, real)) == 2
    assert (
        doctools.compare(run[2:], shown, real.replace("CIO ", "CTO ").replace("CIO", "CTO")) == []
    )
    assert doctools.compare(
        "ciocto models", ["Active model: a (was b)"], "Active model: b (was a)\n"
    )
    assert (
        doctools.compare("ciocto models", ["Scored 3 rows in 0.1 s"], "Scored 12 rows in 2.5 s\n")
        == []
    )
    assert doctools.compare(
        "ciocto classify --format json", ['{"leaning": "CTO"}'], '{"leaning": "CIO"}'
    )


def _code_lines() -> list[tuple[str, str]]:
    """Return (where, command line) for every `ciocto ...` line in any block of any page."""
    found = []
    for page in PAGES:
        for block in doctools.read_blocks(page):
            for line in block.text.splitlines():
                line = line.removeprefix("$ ").strip()
                if line.startswith("ciocto ") and block.lang not in ("text",):
                    found.append((block.where, line.split(" #")[0].split(" |")[0]))
    return found


def test_every_ciocto_line_in_the_docs_names_real_commands_and_options() -> None:
    """Even the blocks that are not run name commands and options that exist."""
    problems = []
    for where, line in _code_lines():
        command, ctx = main, click.Context(main, info_name="ciocto")
        words = shlex.split(line.rstrip("\\"))[1:]
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            sub = command.get_command(ctx, words[0])
            if sub is None:
                problems.append(f"{where}: no command {words[0]!r} in {line!r}")
                break
            command, ctx = sub, click.Context(sub, info_name=words.pop(0), parent=ctx)
        names = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"-h", "--help"}
        for word in words:
            option = word.split("=")[0]
            if option.startswith("--") and option not in names:
                problems.append(f"{where}: {ctx.command_path} has no option {option} ({line!r})")
    assert not problems, "\n".join(problems)


def test_the_command_reference_is_up_to_date() -> None:
    """docs/cli.md is what `python docs/doctools.py cli` writes from today's --help."""
    assert doctools.CLI_MD.read_text(encoding="utf-8") == doctools.cli_reference(), (
        "docs/cli.md is out of date: run `.venv/bin/python docs/doctools.py cli`"
    )


def _commands() -> list[tuple[str, click.Command]]:
    return [(path, command) for path, (command, _) in doctools.commands()]


def test_every_command_and_option_has_help_and_is_in_the_reference() -> None:
    reference = doctools.CLI_MD.read_text(encoding="utf-8")
    missing, without_help = [], set()
    for path, command in _commands():
        if not (command.help or command.short_help):
            missing.append(f"{path} has no help text")
        if f"## {path}\n" not in reference:
            missing.append(f"{path} is not in docs/cli.md")
        for param in command.params:
            if not isinstance(param, click.Option) or "--help" in param.opts or param.hidden:
                continue
            if not (param.help or "").strip():
                without_help.add(f"{path} {max(param.opts, key=len)}")
            for opt in param.opts:
                if not re.search(rf"(^|[\s,/]){re.escape(opt)}\b", reference, re.M):
                    missing.append(f"{path} {opt} is not in docs/cli.md")
    assert not missing, "\n".join(missing)
    assert without_help <= WITHOUT_HELP, f"options without help text: {without_help - WITHOUT_HELP}"
    assert without_help >= WITHOUT_HELP, (
        f"these have help now; take them off: {WITHOUT_HELP - without_help}"
    )


def test_every_command_is_explained_in_a_page() -> None:
    """Each command is named in the README or a hand-written docs page, not only in cli.md."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES if p != doctools.CLI_MD)
    absent = [p for p, _ in _commands() if p != "ciocto" and not re.search(rf"{p}(?![\w-])", text)]
    assert not absent, absent


# Pages other engineers were still writing when the links to them were made; take a page off
# once it exists (the test says so).
BEING_WRITTEN: set[str] = set()


def test_every_link_between_pages_leads_to_a_file() -> None:
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            path = (page.parent / target).resolve()
            if "://" in target or path.exists():
                continue
            if str(path.relative_to(ROOT)) not in BEING_WRITTEN:
                broken.append(f"{_name(page)}: {target}")
    assert not broken, broken
    written = [name for name in BEING_WRITTEN if (ROOT / name).exists()]
    assert not written, f"these exist now; take them off BEING_WRITTEN: {written}"


def test_every_docs_page_is_in_the_index() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    unlisted = [p.name for p in PAGES if p.parent.name == "docs" and p.name != "README.md"]
    assert not [name for name in unlisted if f"({name})" not in index]


def test_every_module_the_docs_name_exists() -> None:
    """A page naming `classifier/x.py` (the module map) follows the code when it moves."""
    named = {
        (page, path)
        for page in PAGES
        for path in re.findall(r"`(classifier/[\w/.]+)`", page.read_text(encoding="utf-8"))
    }
    missing = [
        f"{_name(page)}: {path}" for page, path in sorted(named) if not (ROOT / path).exists()
    ]
    assert not missing, missing
