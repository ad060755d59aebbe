"""The README's example runs are real: each `$ ciocto classify` shown gives what is printed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
RUNS = re.findall(r"```console\n\$ (ciocto classify data/examples/\S+)\n(.*?)```", README, re.S)
ROW = re.compile(r"^ {0,3}(\d+)  (CIO|CTO|neutral) ", re.M)


def test_the_readme_shows_runs() -> None:
    assert len(RUNS) >= 2


@pytest.mark.parametrize(("command", "shown"), RUNS, ids=[c for c, _ in RUNS])
def test_readme_run_matches(models_root, command: str, shown: str, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    leaning = re.search(r"^Leaning: (\w+)", shown, re.M)
    assert leaning and f"Leaning: {leaning.group(1)}" in result.output
    actual = dict(ROW.findall(result.output))
    for n, tag in ROW.findall(shown):
        assert actual.get(n) == tag, (
            f"README shows line {n} as {tag}, the model says {actual.get(n)}"
        )


def test_readme_python_example_prints_what_it_shows(models_root, monkeypatch, capsys) -> None:
    """The notebook example runs, and prints the lines shown as comments under each print."""
    block = re.search(r"From Python \(a notebook\):\n\n```python\n(.*?)```", README, re.S)
    assert block
    code = block.group(1)
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines() == expected
