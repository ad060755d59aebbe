"""`ciocto score`: score every listing in a CSV, TSV or JSON Lines table (see classifier.batch).

Exit status: 0 every row scored; 3 the output is complete but some rows have an `error`;
1 nothing was written (the `Error:` line says why); 2 bad usage; 130 interrupted (the partial
output is kept beside the target: run the same command with --resume); 141 the reader of
standard output went away (`| head`). A full disk is exit 1 with the partial output removed;
docs/safety.md says what happens to devices, FIFOs and symlinks given as -o.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from .batch import CHUNK_ROWS, Observer, ScoreOptions, ScoreSummary, score_table
from .engines import ENGINES
from .staging import Checkpoint
from .store import load_model
from .tableio import INPUT_FORMATS
from .tableout import OUTPUT_FORMATS

EXIT_ROW_ERRORS = 3


class StderrObserver(Observer):
    """Notes on stderr, and a progress line there when it is a terminal."""

    def __init__(self, quiet: bool, bar: bool) -> None:
        self.quiet = quiet
        self.bar = bar and not quiet
        self.started = time.monotonic()
        self._shown = 0.0
        self._first: int | None = None

    def note(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def progress(self, rows: int, fraction: float | None) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = rows  # rows before the first chunk of a resumed run
            self.started = now
            return
        if not self.bar or now - self._shown < 0.25:
            return
        self._shown = now
        elapsed = now - self.started
        rate = (rows - self._first) / elapsed if elapsed > 0 else 0.0
        line = f"{rows:,} rows  {rate:,.0f} rows/s"
        if fraction:
            eta = elapsed * (1 - fraction) / fraction if fraction > 0.001 else 0.0
            line += f"  {fraction:4.0%}  ETA {_duration(eta)}"
        click.echo(f"\r{line:<60}", nl=False, err=True)

    def clear(self) -> None:
        if self.bar and self._shown:
            click.echo("\r" + " " * 60 + "\r", nl=False, err=True)


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def summary_line(s: ScoreSummary) -> str:
    """Return the one-line report of a run."""
    rate = s.rows / s.seconds if s.seconds > 0 else 0.0
    lean = ", ".join(f"{n:,} {k}" for k, n in s.leanings.items())
    where = "standard output" if s.output == "-" else s.output
    extra = f" and {s.lines_output}" if s.lines_output and s.lines_output != "-" else ""
    took = f"{s.seconds:.1f} s" if s.seconds < 60 else _duration(s.seconds)
    return (
        f"Scored {s.rows:,} rows ({s.lines:,} lines) in {took} "
        f"({rate:,.0f} rows/s): {lean}; {s.errors:,} with errors -> {where}{extra}"
    )


def _options(f: Any) -> Any:
    decorators = [
        click.argument("source", metavar="FILE|-"),
        click.option("-o", "--output", default="-", show_default=True, metavar="FILE|-",
                     help="Where to write the scored rows (- for standard output)."),
        click.option("--text-column", "text_columns", multiple=True, metavar="NAME",
                     help="Column with the listing text; repeat to join several "
                          "(default: guessed, and said which)."),
        click.option("--id-column", metavar="NAME",
                     help="Column naming a listing in --lines-out (default: its row number)."),
        click.option("--lines-out", metavar="FILE|-",
                     help="Also write one row per line: id, n, text, tag, p_cto, p_cio, evidence."),
        click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS),
                     help="Output format (default: from -o's extension, else the input's)."),
        click.option("--input-format", type=click.Choice(INPUT_FORMATS),
                     help="Input format (default: from the extension, else from the content)."),
        click.option("--sheet", metavar="NAME|N",
                     help="The .xlsx sheet to read, by name or number from 1 (default: the "
                          "first; pip install 'ciocto[excel]')."),
        click.option("--encoding",
                     help="Input encoding (default: detected among UTF-8, UTF-8/UTF-16 with a "
                          "byte-order mark, cp1258, cp1252)."),
        click.option("--bom", is_flag=True,
                     help="Start CSV output with a UTF-8 byte-order mark, for Excel."),
        click.option("--keep-formulas", is_flag=True,
                     help="Write cells starting with = + - @ as they are (default: prefix "
                          "them with ' so a spreadsheet shows them as text)."),
        click.option("--prefix", default="", metavar="TEXT",
                     help="Put TEXT before the added column names."),
        click.option("--evidence", default=5, show_default=True, type=click.IntRange(0, 50),
                     help="Evidence terms per line in --lines-out."),
        click.option("-j", "--jobs", type=click.IntRange(1, 512),
                     help="Worker processes (default: all cores)."),
        click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                     help="local: this machine; dask: a Dask cluster "
                          "(pip install 'ciocto[dask]')."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler, e.g. tcp://host:8786 (default: a local cluster)."),
        click.option("--resume", is_flag=True,
                     help="Continue an interrupted run from its checkpoint."),
        click.option("-q", "--quiet", is_flag=True, help="No notes, progress or summary."),
        click.option("--chunk-rows", default=CHUNK_ROWS, type=click.IntRange(1), hidden=True),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def score_cmd(
    source: str,
    output: str,
    text_columns: tuple[str, ...],
    id_column: str | None,
    lines_out: str | None,
    fmt: str | None,
    input_format: str | None,
    sheet: str | None,
    encoding: str | None,
    bom: bool,
    keep_formulas: bool,
    prefix: str,
    evidence: int,
    jobs: int | None,
    engine: str,
    scheduler: str | None,
    resume: bool,
    quiet: bool,
    chunk_rows: int,
    model_ref: str | None,
    trust_model: bool,
) -> None:
    """Score every listing in a CSV, TSV or JSON Lines table (plain or gzip; - for stdin), an
    .xlsx workbook or a Parquet file.

    Each row keeps its columns and gains leaning, p_cto, confidence, line counts, the
    strongest CIO and CTO lines, model and error. The output appears only when complete; an
    interrupted run continues with --resume.

    Exit status: 0 every row scored; 3 done, but some rows have an error; 1 nothing written;
    130 interrupted.
    """
    options = ScoreOptions(
        text_columns=text_columns,
        id_column=id_column,
        input_format=input_format,
        output_format=fmt,
        encoding=encoding,
        sheet=sheet,
        bom=bom,
        escape_formulas=not keep_formulas,
        prefix=prefix,
        evidence=evidence,
    )
    model = load_model(model_ref, trust=trust_model)
    observer = StderrObserver(quiet, bar=sys.stderr.isatty())
    # kill (SIGTERM) stops like Ctrl-C: workers are shut down, the checkpoint kept
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        summary = score_table(
            source,
            output,
            options,
            model=model,
            lines_out=lines_out,
            jobs=jobs,
            engine=engine,
            scheduler=scheduler,
            resume=resume,
            chunk_rows=chunk_rows,
            observer=observer,
        )
    except KeyboardInterrupt:
        observer.clear()
        if output != "-" and Checkpoint(Path(output)).path.exists():
            click.echo("Stopped; run the same command with --resume to continue.", err=True)
        raise
    finally:
        observer.clear()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    if not quiet:
        click.echo(summary_line(summary), err=True)
    if summary.errors:
        click.get_current_context().exit(EXIT_ROW_ERRORS)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def register(group: click.Group) -> None:
    """Add this module's commands to the `ciocto` group."""
    from .cli import model_options

    group.command("score")(model_options(_options(score_cmd)))
