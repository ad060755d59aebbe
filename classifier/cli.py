"""The `ciocto` command: thin adapters over the library; errors become one `Error:` line."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import (
    BadInput,
    ClassifierError,
    Posting,
    check_text,
    classify,
    cross_validate,
    decode,
    evaluate_lines,
    evaluate_postings,
    load_model,
    load_samples,
    read_line_rows,
    read_postings,
)
from .errors import OutputError
from .staging import failure

TAG_COLOURS = {"CIO": "cyan", "CTO": "magenta", "neutral": None}


# A write that failed because of the disk, not the program: one Error line, never a traceback.
_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS})
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away


class CioctoGroup(click.Group):
    """A click group that turns ClassifierError (and Ctrl-C, a full disk, a closed pipe) into
    a one-line error or a quiet exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OutputError as e:
            _drop_stdout()
            raise click.ClickException(str(e)) from None
        except ClassifierError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except MemoryError:
            raise click.ClickException("out of memory; try a smaller input") from None
        except BrokenPipeError:
            # the reader (`| head`) has what it wanted: stop quietly
            _drop_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
        except OSError as e:
            if e.errno not in _DISK_ERRORS:
                raise
            _drop_stdout()
            raise click.ClickException(str(failure(e.filename or "the output", e, False))) from None


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so what it still holds is not flushed at exit
    into the full disk or closed pipe that failed (which would print a traceback)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests): nothing is flushed at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def model_options(f: Any) -> Any:
    """The --model / --trust-model pair every scoring command takes."""
    f = click.option(
        "--trust-model",
        is_flag=True,
        help="Load a model whose card or checksum does not match (only files you made).",
    )(f)
    return click.option(
        "--model",
        "model_ref",
        metavar="NAME|PATH",
        help="Model name or directory (default: active)",
    )(f)


def version_text() -> str:
    """Return what `ciocto --version` says: versions, the active model and where it lives."""
    from importlib.metadata import version

    from .store import active_name, models_dir, read_card

    root = models_dir()
    try:
        name = active_name(root)
        if not (root / name).is_dir():
            raise ClassifierError(f"{name!r} is not trained yet")
        card = read_card(root / name)
        trained = card.get("versions", {}).get("scikit-learn", "?")
        model = f"{name} (created {str(card.get('created', '?'))[:19]}, scikit-learn {trained})"
    except ClassifierError as e:
        model = f"none ({e})"
    return (
        f"ciocto {version('ciocto')} (scikit-learn {version('scikit-learn')}, "
        f"Python {sys.version.split()[0]})\nmodel: {model}\nregistry: {root}"
    )


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()


@click.group(cls=CioctoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the versions, the active model and the registry folder, then exit.",
)
def main() -> None:
    """Tag every line of a job posting as CIO-like, CTO-like or neutral, and say which way the
    posting leans. English and Vietnamese, with or without diacritics."""


def _read_input(source: str | None, text: str | None, encoding: str | None) -> str:
    if text is not None:
        if source is not None:
            raise BadInput("give either a FILE or --text, not both")
        return check_text(text, "--text")
    if source is None:
        if sys.stdin.isatty():
            click.echo("Paste a job description, then press Ctrl-D", err=True)
        source = "-"
    if source == "-":
        data = sys.stdin.buffer.read()
        return check_text(decode(data, "standard input", encoding or _legacy(data)), "input")
    path = Path(source)
    if path.is_dir():
        raise BadInput(f"{source} is a directory; give a text or HTML file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{source}: no such file") from None
    except OSError as e:
        raise BadInput(f"cannot read {source}: {e.strerror}") from None
    return check_text(decode(data, source, encoding or _legacy(data)), source)


def _legacy(data: bytes) -> str | None:
    """Return cp1258 or cp1252 when `score` would read these bytes so, else None (UTF-8/16).

    Bytes that are binary or not valid in that codec either get None, so `decode` says why.
    """
    from .tableio import SAMPLE_BYTES, detect_encoding

    codec, _ = detect_encoding(data[:SAMPLE_BYTES])
    if codec not in ("cp1258", "cp1252") or b"\x00" in data[:8192]:
        return None
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return None
    return codec


@main.command("classify")
@click.argument("source", required=False, metavar="[FILE|-]")
@click.option("--text", "text", help="Classify this text instead of a file.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--evidence",
    default=5,
    show_default=True,
    type=click.IntRange(0, 50),
    help="Evidence terms per line.",
)
@click.option("--encoding", help="Input encoding (default: UTF-8, UTF-16 with BOM).")
@model_options
def classify_cmd(
    source: str | None,
    text: str | None,
    fmt: str,
    evidence: int,
    encoding: str | None,
    model_ref: str | None,
    trust_model: bool,
) -> None:
    """Tag each line of a posting (FILE, - for stdin, or --text) and report its leaning."""
    posting_text = _read_input(source, text, encoding)
    model = load_model(model_ref, trust=trust_model)
    result = classify(posting_text, model, evidence=max(0, evidence))
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(render(result, colour=sys.stdout.isatty()))


def render(result: Posting, colour: bool = False, width: int = 72) -> str:
    """Return the human-readable report of a classified posting."""

    def style(s: str, tag: str) -> str:
        fg = TAG_COLOURS.get(tag)
        return click.style(s, fg=fg) if colour and fg else s

    out = ["   n  tag      p_cto  p_cio  line"]
    for t in result.lines:
        s = t.score
        text = t.text if len(t.text) <= width else t.text[: width - 1] + "…"
        out.append(style(f"{t.n:4}  {s.tag:7} {s.p_cto:6.2f} {s.p_cio:6.2f}  {text}", s.tag))
        if s.tag != "neutral" and s.evidence:
            terms = ", ".join(f"{term} {w:+.2f}" for term, w in s.evidence[:4])
            out.append(f"{'':27}↳ {terms}")
    c = result.counts
    out.append("")
    out.append(
        style(f"Leaning: {result.leaning}", result.leaning)
        + f"  (p_cto {result.p_cto:.2f}, confidence {result.confidence:.2f}; "
        f"{c['CTO']} CTO, {c['CIO']} CIO, {c['neutral']} neutral lines)"
    )
    texts = result.to_dict()["strongest_text"]
    for side in ("CTO", "CIO"):
        n = result.strongest.get(side)
        if n is not None:
            out.append(f"Strongest {side} line ({n}): {texts[side]}")
    out.append(f"Model: {result.model.get('name')} ({result.model.get('created')})")
    return "\n".join(out)


@main.command("evaluate")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20))
@click.option(
    "--postings",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Score labelled postings (JSON Lines: text, label, lang) with the model.",
)
@click.option(
    "--lines",
    "lines_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Score hand-labelled posting lines (JSON Lines: posting_id, n, text, label, lang).",
)
@click.option(
    "--worst",
    default=10,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="With --lines: how many of the most confident mistakes to list per language.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@model_options
def evaluate_cmd(
    folds: int,
    postings: Path | None,
    lines_path: Path | None,
    worst: int,
    fmt: str,
    model_ref: str | None,
    trust_model: bool,
) -> None:
    """Cross-validate the line model on data/ (grouped folds); --lines / --postings score real
    labelled lines or postings with the model instead."""
    report: dict[str, Any] = {}
    if postings is not None or lines_path is not None:
        line_rows = read_line_rows(lines_path) if lines_path is not None else None
        posting_rows = read_postings(postings) if postings is not None else None
        model = load_model(model_ref, trust=trust_model)
        report["model"] = model.name
        if line_rows is not None:
            report["lines"] = evaluate_lines(line_rows, model, worst=worst)
        if posting_rows is not None:
            report["postings"] = evaluate_postings(posting_rows, model)
    else:
        samples = load_samples()
        model_config = None
        if model_ref is not None:
            model_config = load_model(model_ref, trust=trust_model).config
        report = cross_validate(samples, model_config, folds)
    if fmt == "json":
        click.echo(json.dumps(report, indent=1, ensure_ascii=False))
        return
    if "lines" in report:
        click.echo(render_lines_report(report["lines"], report["model"]))
    if "postings" in report:
        click.echo(render_postings_report(report["postings"]))
    if "overall" in report:
        click.echo(render_cv_report(report))


def render_lines_report(by_lang: dict[str, Any], model_name: str) -> str:
    """Return per-language line macro-F1, per-class F1, confusion and worst mistakes."""
    out = [f"Real labelled lines, model {model_name} (role-naming lines left out)", ""]
    out.append(f"{'lang':6}{'n':>6}{'macro-F1':>10}{'CIO F1':>8}{'CTO F1':>8}{'neutral F1':>12}")
    for lang, m in by_lang.items():
        f1 = {k: v["f1"] for k, v in m["per_class"].items()}
        out.append(
            f"{lang:6}{m['n']:6d}{m['macro_f1']:10.3f}{f1['CIO']:8.3f}{f1['CTO']:8.3f}"
            f"{f1['neutral']:12.3f}"
        )
    for lang, m in by_lang.items():
        out.append("")
        out.append(f"{lang}: confusion (rows: true CIO, CTO, neutral; columns: predicted)")
        for lab, row in zip(("CIO", "CTO", "neutral"), m["confusion"], strict=True):
            out.append(f"  {lab:8}" + "".join(f"{v:7d}" for v in row))
        if m["worst"]:
            out.append(f"{lang}: most confident mistakes (true -> tagged, probability)")
            for w in m["worst"]:
                text = w["text"] if len(w["text"]) <= 90 else w["text"][:89] + "…"
                out.append(f"  {w['label']:>7} -> {w['tag']:<7} {w['p']:.2f}  {text}")
    return "\n".join(out)


def render_cv_report(report: dict[str, Any]) -> str:
    """Return the cross-validation report as a table."""
    o = report["overall"]
    out = [f"Grouped {report['folds']}-fold cross-validation on {o['n']} labelled lines", ""]
    out.append(f"{'class':10}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>7}")
    for lab, m in o["per_class"].items():
        out.append(f"{lab:10}{m['precision']:10.3f}{m['recall']:8.3f}{m['f1']:8.3f}{m['n']:7d}")
    out.append(f"{'macro':10}{'':10}{'':8}{o['macro_f1']:8.3f}{o['n']:7d}")
    out.append(f"accuracy {o['accuracy']:.3f}   ECE {o['ece']:.3f}")
    out.append("")
    out.append("confusion (rows: true CIO, CTO, neutral; columns: predicted)")
    for lab, row in zip(("CIO", "CTO", "neutral"), o["confusion"], strict=True):
        out.append(f"  {lab:8}" + "".join(f"{v:7d}" for v in row))
    out.append("")
    out.append(f"{'slice':22}{'n':>6}{'acc':>8}{'macro-F1':>10}{'ECE':>8}")
    for key, m in report["slices"].items():
        out.append(f"{key:22}{m['n']:6d}{m['accuracy']:8.3f}{m['macro_f1']:10.3f}{m['ece']:8.3f}")
    return "\n".join(out)


def render_postings_report(by_lang: dict[str, Any]) -> str:
    """Return posting-level accuracy per language as a table."""
    out = [f"{'lang':6}{'n':>5}{'accuracy':>10}{'balanced':>10}  recall by label   predicted"]
    for lang, m in by_lang.items():
        recall = ", ".join(f"{k} {v:.2f}" for k, v in m["recall"].items())
        pred = ", ".join(f"{k} {v}" for k, v in sorted(m["predicted"].items()))
        out.append(
            f"{lang:6}{m['n']:5d}{m['accuracy']:10.3f}{m['balanced_accuracy']:10.3f}"
            f"  {recall:17} {pred}"
        )
    return "\n".join(out)


def _register_commands() -> None:
    """Attach the commands that live in their own modules (batch scoring, registry, web)."""
    from . import cli_models, cli_score, cli_serve

    for module in (cli_score, cli_models, cli_serve):
        module.register(main)


_register_commands()
