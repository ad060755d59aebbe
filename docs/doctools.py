"""Run the code blocks of README.md and docs/*.md, and write docs/cli.md from `--help`.

    python docs/doctools.py cli          # rewrite docs/cli.md from every command's --help
    python docs/doctools.py check        # run every block, print what differs from the page
    python docs/doctools.py refresh      # re-paste every shown output from a real run
    python docs/doctools.py refresh README.md docs/batch.md   # only these pages

tests/test_docs.py runs the same checks. What a page may hold:

- ```python blocks are run, in page order, in a temporary folder that has data/examples/ and a
  copy of the model registry. A full-line `# ...` comment right under a `print(...)` line is
  what that print shows (numbers with a decimal point are not compared).
- ```console blocks whose first line is `$ ciocto ...` are run the same way. Each `$ ciocto`
  command must exit 0, or with the code a following `$ echo $?` shows, or non-zero when the
  output shown is an `Error:` line. What it shows is compared by structure, not probabilities:
  for `classify`, each shown line's tag and the leaning; for JSON, the keys and the tags; for
  the rest, every shown line in order with the numbers left out (a line `…` stands for lines
  not shown). `$ head -n N FILE` and `$ cat FILE` show a file the commands wrote (its first
  line is compared).
- `<!-- file: NAME -->` right before a block writes the block to NAME in that folder first.
- `<!-- not run: REASON -->` right before a block skips it (a server, a minute of training).
  `refresh` still runs those, except `ciocto serve`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CLI_MD = DOCS / "cli.md"
WIDTH = 88

FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"^<!--\s*(not run|file):\s*(.+?)\s*-->$")
ROW = re.compile(r"^ {0,3}(\d+)  (CIO|CTO|neutral) +[\d.]+ +[\d.]+  (.*)$")
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
DECIMAL = re.compile(r"-?\d+\.\d+")
ELLIPSIS = ("…", "...")
PROGRESS = re.compile(r"^ +cross-validating\b.*fold \d+/\d+$")  # progress, left out when shown


def pages() -> list[Path]:
    """Return README.md and every docs/*.md page, README first."""
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page, where it sits, its language, text and marker."""

    page: Path
    start: int  # index of the first line inside the fence
    end: int  # index of the closing fence
    lang: str
    text: str
    mark: str | None = None  # "not run" or "file"
    arg: str = ""  # the reason, or the file name

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.start}"

    @property
    def runs_ciocto(self) -> bool:
        return self.lang == "console" and self.text.startswith("$ ciocto")


def read_blocks(page: Path) -> list[Block]:
    """Return the fenced blocks of a page (fences at the start of a line), in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        before = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
        mark = MARK.match(before)
        text = "".join(line + "\n" for line in lines[i + 1 : j])
        blocks.append(
            Block(
                page,
                i + 1,
                j,
                fence.group(1),
                text,
                mark.group(1) if mark else None,
                mark.group(2) if mark else "",
            )
        )
        i = j + 1
    return blocks


# --- running -------------------------------------------------------------------------------


@contextlib.contextmanager
def workspace(models: Path) -> Iterator[Path]:
    """Yield a temporary working folder with data/examples and a copy of the registry."""
    saved_cwd, saved_env = os.getcwd(), os.environ.get("CIOCTO_MODELS")
    with tempfile.TemporaryDirectory(prefix="ciocto-docs-") as name:
        folder = Path(name).resolve()
        (folder / "data").mkdir()
        (folder / "data" / "examples").symlink_to(ROOT / "data" / "examples")
        shutil.copytree(models, folder / "models", symlinks=True)
        os.chdir(folder)
        os.environ["CIOCTO_MODELS"] = str(folder / "models")
        try:
            yield folder
        finally:
            os.chdir(saved_cwd)
            if saved_env is None:
                os.environ.pop("CIOCTO_MODELS", None)
            else:
                os.environ["CIOCTO_MODELS"] = saved_env


def run_command(command: str) -> tuple[int, str]:
    """Return the exit code and the terminal output (stdout and stderr) of one `$` line."""
    argv = shlex.split(command)
    if argv[0] == "ciocto":
        from click.testing import CliRunner

        from classifier.cli import main

        result = CliRunner().invoke(main, argv[1:], prog_name="ciocto")
        output = result.output
        if result.exception and not isinstance(result.exception, SystemExit):
            output += "".join(traceback.format_exception(result.exception))
        return result.exit_code, output.replace(os.getcwd() + os.sep, "")
    if argv[0] in ("head", "cat") and len(argv) >= 2:
        path = Path(argv[-1])
        if not path.is_file():
            return 1, f"{argv[0]}: {argv[-1]}: No such file or directory\n"
        lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
        count = len(lines)
        if argv[0] == "head":
            count = int(argv[2] if argv[1] == "-n" else argv[1].lstrip("-") or 10)
        return 0, "".join(lines[:count])
    raise ValueError(f"unsupported command in a console block: $ {command}")


@dataclass
class Step:
    """One `$` line of a console block and the output shown under it."""

    command: str
    shown: list[str]


def steps(text: str) -> list[Step]:
    """Return the `$` commands of a console block with their shown output."""
    found: list[Step] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            found.append(Step(line[2:], []))
        elif found:
            found[-1].shown.append(line)
    return found


def _expected_code(step: Step, following: Step | None) -> int | None:
    """Return the exit code the page promises, or None for "not zero"."""
    if following is not None and following.command == "echo $?":
        return int(following.shown[0])
    if any(line.startswith("Error:") for line in step.shown):
        return None
    return 0


def _norm(line: str) -> str:
    return " ".join(NUMBER.sub("#", line).split())


def _rows(output: str) -> dict[str, tuple[str, str]]:
    return {
        m.group(1): (m.group(2), m.group(3))
        for line in output.splitlines()
        if (m := ROW.match(line))
    }


def _leaning(output: str) -> str | None:
    found = re.search(r"^Leaning: (\w+)", output, re.M)
    return found.group(1) if found else None


def _json_shape(shown: object, actual: object, where: str) -> list[str]:
    """Return how two JSON values differ in structure (keys, tags, text), numbers aside."""
    if isinstance(shown, dict) and isinstance(actual, dict):
        problems = [f"{where}: key {k!r} shown, not printed" for k in shown if k not in actual]
        problems += [f"{where}: key {k!r} printed, not shown" for k in actual if k not in shown]
        for key in shown.keys() & actual.keys():
            if key != "created":
                problems += _json_shape(shown[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(shown, list) and isinstance(actual, list):
        if where.endswith(".evidence"):
            return []
        if len(shown) != len(actual):
            return [f"{where}: {len(shown)} items shown, {len(actual)} printed"]
        return [
            p
            for i, (s, a) in enumerate(zip(shown, actual, strict=True))
            for p in _json_shape(s, a, f"{where}[{i}]")
        ]
    number = (int, float)
    if isinstance(shown, number) and isinstance(actual, number):
        return []
    if shown != actual:
        return [f"{where}: shown {shown!r}, printed {actual!r}"]
    return []


def compare(command: str, shown: list[str], output: str) -> list[str]:
    """Return how the output shown under a command differs in structure from the real one."""
    text = "\n".join(shown)
    argv = shlex.split(command)
    if argv[:2] == ["ciocto", "classify"] and text.lstrip().startswith("{"):
        try:
            shown_json = json.loads(text)
        except json.JSONDecodeError as e:
            return [f"the JSON shown does not parse: {e}"]
        return _json_shape(shown_json, json.loads(output), "json")
    if argv[:2] == ["ciocto", "classify"] and _rows(text):
        actual = _rows(output)
        problems = []
        for n, (tag, line) in _rows(text).items():
            real_tag, real_line = actual.get(n, (None, ""))
            if real_tag != tag:
                problems.append(f"line {n} is shown as {tag}, the model says {real_tag}")
            if real_line.rstrip("…")[:30] != line.rstrip("…")[:30]:
                problems.append(f"line {n} is shown as {line!r}, printed {real_line!r}")
        if _leaning(text) != _leaning(output):
            problems.append(f"shows Leaning: {_leaning(text)}, prints Leaning: {_leaning(output)}")
        return problems
    if argv[0] in ("head", "cat"):
        real = output.splitlines()[:1]
        return [] if real == shown[:1] else [f"first line shown {shown[:1]}, real {real}"]
    real = [_norm(line) for line in output.splitlines()]
    at = 0
    for line in shown:
        if line.strip() in ELLIPSIS:
            continue
        want = _norm(line.rstrip("…"))
        cut = line.rstrip().endswith("…")
        while at < len(real) and not (real[at].startswith(want) if cut else real[at] == want):
            at += 1
        if at == len(real):
            return [f"shown line not printed (in this order): {line!r}"]
        at += 1
    return []


def check_console(block: Block) -> list[str]:
    """Return the problems of one console block, after running its commands."""
    problems = []
    found = steps(block.text)
    for i, step in enumerate(found):
        if step.command == "echo $?":
            continue
        following = found[i + 1] if i + 1 < len(found) else None
        code, output = run_command(step.command)
        want = _expected_code(step, following)
        if (want is None and code == 0) or (want is not None and code != want):
            expected = "non-zero" if want is None else want
            problems.append(f"$ {step.command}: exit {code}, expected {expected}\n{output}")
            continue
        problems += [f"$ {step.command}: {p}" for p in compare(step.command, step.shown, output)]
    return [f"{block.where}: {p}" for p in problems]


def expected_prints(code: str) -> list[tuple[int, str]]:
    """Return (line index, text) of the output comments: `# ` lines right under a print."""
    found, lines = [], code.splitlines()
    for i, line in enumerate(lines):
        if (
            line.startswith("# ")
            and i
            and (lines[i - 1].lstrip().startswith("print(") or found and found[-1][0] == i - 1)
        ):
            found.append((i, line[2:]))
    return found


def run_python(block: Block) -> tuple[str, str | None]:
    """Return what a python block prints, and its traceback if it raised."""
    # a real stdout has .buffer, and the library writes "-" to it
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    error = None
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block.text, block.where, "exec"), {"__name__": "__docs__"})
    except Exception:
        error = traceback.format_exc()
    return out.buffer.getvalue().decode("utf-8"), error


def check_python(block: Block) -> list[str]:
    """Return the problems of one python block: it raises, or prints other than it shows."""
    printed, error = run_python(block)
    if error:
        return [f"{block.where}: raised\n{error}"]
    shown = [DECIMAL.sub("#.#", text) for _, text in expected_prints(block.text)]
    real = [DECIMAL.sub("#.#", line) for line in printed.splitlines()]
    if shown and shown != real:
        return [f"{block.where}: shows {shown}, prints {real}"]
    return []


def write_file(block: Block) -> None:
    Path(block.arg).write_text(block.text, encoding="utf-8")


def check_page(page: Path, models: Path) -> list[str]:
    """Return every problem of one page, running its blocks in order in one workspace."""
    problems: list[str] = []
    with workspace(models):
        for block in read_blocks(page):
            if block.mark == "file":
                write_file(block)
            elif block.mark == "not run":
                continue
            elif block.lang == "python":
                problems += check_python(block)
            elif block.runs_ciocto:
                problems += check_console(block)
    return problems


# --- the command reference -----------------------------------------------------------------


def commands() -> Iterator[tuple[str, object]]:
    """Yield ("ciocto models use", command) for the group and every command under it."""
    import click

    from classifier.cli import main

    def walk(command: click.Command, ctx: click.Context) -> Iterator[tuple[str, object]]:
        yield ctx.command_path, (command, ctx)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from walk(
                        sub, click.Context(sub, info_name=name, parent=ctx, **sub.context_settings)
                    )

    settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **main.context_settings}
    root = click.Context(main, info_name="ciocto", **settings)
    yield from walk(main, root)


def cli_reference() -> str:
    """Return docs/cli.md: every command's --help, as `ciocto ... --help` prints it."""
    parts = [
        "# Command reference",
        "",
        "<!-- generated by `python docs/doctools.py cli` from each command's --help;",
        "     tests/test_docs.py fails when it is out of date -->",
        "",
        "Every command and option, as `--help` prints it. The pages that explain them:",
        "[classify](classify.md), [batch](batch.md), [retraining](retraining.md),",
        "[evaluation](evaluation.md), [the registry](registry.md), [the web page](web.md).",
        "",
    ]
    for path, (command, ctx) in commands():  # type: ignore[misc]
        parts += [f"## {path}", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts)


# --- refreshing the shown outputs ----------------------------------------------------------


def _render_classify(shown: list[str], output: str) -> list[str]:
    real = output.rstrip("\n").split("\n")
    if not any(line.strip() in ELLIPSIS for line in shown):
        return real
    keep = len(_rows("\n".join(shown)))
    head, rows = [], 0
    for line in real:
        if ROW.match(line):
            rows += 1
            if rows > keep:
                break
        head.append(line)
    tail_from = max(i for i, line in enumerate(real) if not line.strip())
    return [*head, "   …", *real[tail_from:]]


def compact_json(value: dict) -> list[str]:
    """Return a classify JSON result on a few lines: one per key, one per posting line."""

    def dump(v: object) -> str:
        return json.dumps(v, ensure_ascii=False)

    out: list[str] = []
    scalars: list[str] = []  # leaning, p_cto, confidence: one line
    for key, v in value.items():
        if not isinstance(v, (dict, list)):
            scalars.append(f"{dump(key)}: {dump(v)}")
            continue
        if scalars:
            out.append(" " + ", ".join(scalars))
            scalars = []
        if key == "lines" and isinstance(v, list):
            items = [f"   {dump(item)}" for item in v]
            out.append(' "lines": [\n' + ",\n".join(items) + "\n ]")
        else:
            out.append(f" {dump(key)}: {dump(v)}")
    if scalars:
        out.append(" " + ", ".join(scalars))
    return ["{", *",\n".join(out).split("\n"), "}"]


def render(command: str, shown: list[str], output: str) -> list[str]:
    """Return the output to show under a command, cut the way the page cuts it now."""
    argv = shlex.split(command)
    text = "\n".join(shown)
    if argv[:2] == ["ciocto", "classify"] and text.lstrip().startswith("{"):
        return compact_json(json.loads(output))
    if argv[:2] == ["ciocto", "classify"] and _rows(text):
        return _render_classify(shown, output)
    real = [line for line in output.rstrip("\n").split("\n") if not PROGRESS.match(line)]
    real = real if output.strip() else []
    cut = [i for i, line in enumerate(shown) if line.strip() in ELLIPSIS]
    if cut and len(real) > len(shown):
        head, tail = cut[0], len(shown) - cut[0] - 1
        return (
            [*real[:head], shown[cut[0]], *real[len(real) - tail :]]
            if tail
            else [*real[:head], shown[cut[0]]]
        )
    return real


def refresh_console(block: Block) -> str:
    found, out = steps(block.text), []
    last_code = 0
    for step in found:
        out.append(f"$ {step.command}")
        if step.command == "echo $?":
            out.append(str(last_code))
            continue
        if shlex.split(step.command)[:2] == ["ciocto", "serve"]:
            out += step.shown
            continue
        last_code, output = run_command(step.command)
        out += render(step.command, step.shown, output)
    return "\n".join(out) + "\n"


def refresh_python(block: Block) -> str:
    printed, error = run_python(block)
    if error:
        print(f"{block.where}: raised, left as it is\n{error}", file=sys.stderr)
        return block.text
    lines = block.text.splitlines()
    shown, real = expected_prints(block.text), printed.splitlines()
    if not shown:
        return block.text
    if len(shown) != len(real):
        print(
            f"{block.where}: shows {len(shown)} lines, prints {len(real)}; left as it is",
            file=sys.stderr,
        )
        return block.text
    for (i, _), line in zip(shown, real, strict=True):
        lines[i] = f"# {line}"
    return "\n".join(lines) + "\n"


def refresh_page(page: Path, models: Path) -> bool:
    """Re-paste every shown output of a page from a real run; return whether it changed."""
    original = page.read_text(encoding="utf-8")
    lines = original.splitlines()
    replacements = []
    with workspace(models):
        for block in read_blocks(page):
            if block.mark == "file":
                write_file(block)
            elif block.lang == "python" and block.mark is None:
                replacements.append((block, refresh_python(block)))
            elif block.runs_ciocto:
                replacements.append((block, refresh_console(block)))
    for block, text in reversed(replacements):
        lines[block.start : block.end] = text.splitlines()
    updated = "\n".join(lines) + "\n"
    if updated != original:
        page.write_text(updated, encoding="utf-8")
    return updated != original


@contextlib.contextmanager
def fresh_registry() -> Iterator[Path]:
    """Yield a registry holding `default` trained on data/, as the tests' fixture makes it."""
    from classifier import load_samples, save_model, train

    with tempfile.TemporaryDirectory(prefix="ciocto-docs-models-") as name:
        save_model(train(load_samples(), name="default"), "default", Path(name))
        yield Path(name)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    what = argv[0] if argv else ""
    if what == "cli":
        CLI_MD.write_text(cli_reference(), encoding="utf-8")
        print(f"wrote {CLI_MD.relative_to(ROOT)}")
        return 0
    if what in ("check", "refresh"):
        chosen = [Path(a).resolve() for a in argv[1:]] or pages()
        with fresh_registry() as models:
            if what == "refresh":
                for page in chosen:
                    if page != CLI_MD and refresh_page(page, models):
                        print(f"refreshed {page.relative_to(ROOT)}")
                CLI_MD.write_text(cli_reference(), encoding="utf-8")
            problems = [p for page in chosen for p in check_page(page, models)]
        print("\n".join(problems) or "every block matches")
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
