"""Batch scoring: every listing in a table scored, written beside its columns, resumable.

    >>> from classifier.batch import ScoreOptions, score_table
    >>> summary = score_table("listings.csv", "scored.csv", ScoreOptions(text_columns=("body",)))
    ... # doctest: +SKIP

`score_texts` is the unit of work: a chunk of texts in, one `Scored` per text out, computed
with `classify_many`, so the numbers are exactly those `classify` gives. `score_table` streams a
table through it in chunks (in this process, a process pool or a Dask cluster) and writes the
result atomically; `score_frame` does the same for a pandas or Dask DataFrame.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from .columns import check_header, find_column, guess_text_column, unique_names
from .engines import Engine, in_order, make_engine
from .errors import BadInput, OutputError
from .model import Model
from .posting import Posting, classify_many
from .staging import Checkpoint, mismatch
from .tableio import Row, Table, open_table
from .tableout import Output, check_targets, output_format
from .textio import MAX_POSTING_CHARS

RESULT_COLUMNS = (
    "leaning", "p_cto", "confidence", "cio_lines", "cto_lines", "neutral_lines",
    "top_cio_line", "top_cto_line", "model", "error",
)  # fmt: skip
RESULT_KINDS = ("str", "float", "float", "int", "int", "int", "str", "str", "str", "str")
LINE_COLUMNS = ("id", "n", "text", "tag", "p_cto", "p_cio", "evidence")
LINE_KINDS = ["str", "int", "str", "str", "float", "float", "str"]
CHUNK_ROWS = 500
CHECKPOINT_SECONDS = 1.0


class Scored(NamedTuple):
    """One listing's result: the added columns (but `model`), and its lines for --lines-out."""

    leaning: str | None
    p_cto: float | None
    confidence: float | None
    cio_lines: int | None
    cto_lines: int | None
    neutral_lines: int | None
    top_cio_line: str | None
    top_cto_line: str | None
    error: str | None
    lines: tuple[tuple[Any, ...], ...] = ()


def failed(message: str | None) -> Scored:
    """Return the result of a listing that could not be scored."""
    return Scored(None, None, None, None, None, None, None, None, message)


def score_texts(
    texts: Sequence[str | None],
    model: Model,
    evidence: int = 0,
    lines: bool = False,
    what: str = "the text",
) -> list[Scored]:
    """Return one Scored per text (None texts are skipped: their rows failed to read).

    All valid texts go through one `classify_many` call, so the numbers are the ones `classify`
    gives. `evidence` terms are kept only with `lines`; `what` names the text in error messages.
    """
    out: list[Scored] = [failed(None)] * len(texts)
    todo: list[int] = []
    for i, text in enumerate(texts):
        if text is None:
            continue
        problem = _problem(text, what)
        if problem:
            out[i] = failed(problem)
        else:
            todo.append(i)
    results = classify_many([texts[i] or "" for i in todo], model, evidence if lines else 0)
    for i, result in zip(todo, results, strict=True):
        if isinstance(result, BadInput):
            out[i] = failed(_reason(result, what))
        else:
            out[i] = _scored(result, lines)
    return out


def _problem(text: str, what: str) -> str | None:
    if not text.strip():
        return f"{what} is empty"
    if len(text) > MAX_POSTING_CHARS:
        return (
            f"{what} has {len(text):,} characters, more than a listing has "
            f"(at most {MAX_POSTING_CHARS:,})"
        )
    return None  # the rest of `check_text` runs inside classify_many


def _reason(error: BadInput, what: str) -> str:
    # classify_many checks each text as "input"; name the column instead
    message = str(error)
    return what + message[5:] if message.startswith("input ") else message


def _scored(posting: Posting, with_lines: bool) -> Scored:
    d = posting.to_dict()
    counts, top = d["counts"], d["strongest_text"]
    lines: tuple[tuple[Any, ...], ...] = ()
    if with_lines:
        lines = tuple(
            (t["n"], t["text"], t["tag"], t["p_cto"], t["p_cio"], t["evidence"]) for t in d["lines"]
        )
    return Scored(
        d["leaning"], d["p_cto"], d["confidence"], counts["CIO"], counts["CTO"],
        counts["neutral"], top.get("CIO"), top.get("CTO"), None, lines,
    )  # fmt: skip


@dataclass(frozen=True)
class ScoringTask:
    """`score_texts` with its settings bound, as engines send it to workers."""

    evidence: int = 0
    lines: bool = False
    what: str = "the text"

    def __call__(self, texts: list[str | None], model: Model) -> list[Scored]:
        return score_texts(texts, model, self.evidence, self.lines, self.what)


@dataclass(frozen=True)
class ScoreOptions:
    """What to read and how to write it; everything here shapes the output.

    text_columns: columns joined (one per line) into the listing text; empty: guessed.
    id_column: identifies a listing in the lines output (default: its row number).
    input_format / output_format: csv, tsv, jsonl, xlsx, parquet; default from names.
    sheet: the .xlsx input's sheet, by name or number from 1 (default: the first).
    encoding: of the input; default detected. bom: start CSV output with a UTF-8 BOM (Excel).
    escape_formulas: prefix cells that start with = + - @ with ' in CSV output.
    prefix: put before the added column names (when the input already has such columns).
    evidence: terms per line in the lines output.
    """

    text_columns: tuple[str, ...] = ()
    id_column: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    encoding: str | None = None
    bom: bool = False
    sheet: str | None = None
    escape_formulas: bool = True
    prefix: str = ""
    evidence: int = 5


@dataclass(frozen=True)
class ScoreSummary:
    """What a run did: rows, leanings, errors, time, where it wrote, how it read the input."""

    rows: int
    errors: int
    leanings: dict[str, int]
    lines: int
    seconds: float
    output: str
    lines_output: str | None
    encoding: str
    text_columns: tuple[str, ...]
    resumed_from: int = 0
    notes: tuple[str, ...] = ()


class Observer:
    """Receives notes (how the input is read) and progress; the default ignores both."""

    def note(self, message: str) -> None:
        """Called with a one-line message worth showing the user."""

    def progress(self, rows: int, fraction: float | None) -> None:
        """Called after each chunk with rows done and how far through the input, if known."""


@dataclass(frozen=True)
class _Layout:
    """Which cells make a row's text and id, and the column names of the outputs."""

    text: tuple[int, ...]
    id: int | None
    text_names: tuple[str, ...]
    guessed: str
    columns: list[str]
    added: list[str]

    def problem(self, row: Row) -> str | None:
        """Return why a row that was read has no text to score: it is too short, else None."""
        if row.fields is not None and max(self.text) >= row.fields:
            return (
                f"row has {row.fields} field(s) but the header has {len(self.columns)}, so "
                f"{_what(self)} is missing (a lost delimiter or quote?); not scored"
            )
        return None

    def text_of(self, row: Row) -> str | None:
        if row.error or self.problem(row):
            return None
        parts = (row.cells[i] for i in self.text)
        return "\n".join(
            p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)
            for p in parts
            if p is not None and p != ""
        )


def score_table(
    source: str | Path | IO[bytes],
    output: str | Path = "-",
    options: ScoreOptions | None = None,
    *,
    model: Model | str | None = None,
    lines_out: str | Path | None = None,
    jobs: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    resume: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    observer: Observer | None = None,
) -> ScoreSummary:
    """Return the summary of scoring every row of a table into `output` ('-': stdout).

    The source is a CSV, TSV or JSON Lines file (plain or gzip), '-' for standard input, or a
    binary file object. Rows keep their order and columns; the result columns are added. A
    row that cannot be scored gets its reason in `error` and does not stop the run. Output is
    written atomically, with a checkpoint that `resume=True` continues from.
    """
    from .store import load_model

    options = options or ScoreOptions()
    observer = observer or Observer()
    if chunk_rows < 1:
        raise BadInput("chunk_rows must be at least 1")
    if not isinstance(model, Model):
        model = load_model(model)
    started = time.monotonic()
    with open_table(source, options.input_format, options.encoding, sheet=options.sheet) as table:
        layout = _layout(table, options)
        run = _Run(table, layout, options, model, str(output), lines_out, observer)
        run.open(resume)
        try:
            small = len(table.peek(chunk_rows + 1)) <= chunk_rows
            task = ScoringTask(max(0, options.evidence), lines_out is not None, _what(layout))
            with make_engine(engine, model, task, jobs, scheduler, small) as scorer:
                run.score(scorer, chunk_rows)
            run.commit()
        except BaseException as e:
            run.abandon(e)
            raise
    return run.summary(time.monotonic() - started)


def _what(layout: _Layout) -> str:
    names = " + ".join(repr(n) for n in layout.text_names)
    return f"column {names}" if len(layout.text_names) == 1 else f"columns {names}"


def _layout(table: Table, options: ScoreOptions) -> _Layout:
    columns = table.columns
    if not columns:
        raise BadInput(f"{table.name} has no rows; nothing to score")
    guessed = ""
    if options.text_columns:
        text = tuple(find_column(columns, c, "--text-column") for c in options.text_columns)
    else:
        index, guessed = guess_text_column(columns, table.peek(200), table.name)
        text = (index,)
    check_header(table.name, columns, list(text))
    id_ = find_column(columns, options.id_column, "--id-column") if options.id_column else None
    added = [options.prefix + c for c in RESULT_COLUMNS]
    clash = [c for c in added if c in columns]
    if clash:
        raise BadInput(
            f"the input already has column(s) {', '.join(clash)} (was it scored before?); "
            "pass --prefix, e.g. --prefix new_, to name the added columns differently"
        )
    names = tuple(unique_names(columns)[i] for i in text)
    return _Layout(text, id_, names, guessed, list(columns), added)


@dataclass
class _Tally:
    rows: int = 0
    errors: int = 0
    lines: int = 0
    leanings: Counter[str] = field(default_factory=Counter)


class _Run:
    """One scoring run: its outputs, checkpoint and counts."""

    def __init__(
        self,
        table: Table,
        layout: _Layout,
        options: ScoreOptions,
        model: Model,
        output: str,
        lines_out: str | Path | None,
        observer: Observer,
    ) -> None:
        self.table, self.layout, self.options, self.model = table, layout, options, model
        self.observer = observer
        fmt = output_format(output, options.output_format, table.format)
        lines_target = str(lines_out) if lines_out is not None else None
        targets = [(output, fmt, "-o")]
        if lines_target:
            targets.append((lines_target, output_format(lines_target, None, fmt), "--lines-out"))
        check_targets(targets, [table.path or ("-" if table.is_stdin else None)], options.bom)
        n = len(layout.columns)
        self.outputs = [Output(output, fmt, layout.columns + layout.added, n, _kinds(n))]
        if lines_target:
            lines_fmt = targets[1][1]
            self.outputs.append(Output(lines_target, lines_fmt, list(LINE_COLUMNS), 0, LINE_KINDS))
        # a checkpoint needs every output in a file it can cut back
        to_files = all(output.staged is not None for output in self.outputs)
        self.checkpoint = Checkpoint(Path(output)) if to_files else None
        self.tally = _Tally()
        self.skip = 0
        self.saved = False
        self.notes: list[str] = []
        self._last_save = time.monotonic()  # the first checkpoint comes after CHECKPOINT_SECONDS

    def _note(self, message: str) -> None:
        self.notes.append(message)
        self.observer.note(message)

    def job(self) -> dict[str, Any]:
        """Return everything that shapes the output, to check a checkpoint against."""
        t = self.table
        stat = t.path.stat() if t.path else None
        card = self.model.card
        job = {
            "input": str(t.path.resolve()) if t.path else t.name,
            "input_size": stat.st_size if stat else None,
            "input_mtime_ns": stat.st_mtime_ns if stat else None,
            "encoding": t.encoding,
            "delimiter": t.delimiter,
            "options": asdict(self.options),
            "text_columns": list(self.layout.text_names),
            "outputs": [[s.target, s.format] for s in self.outputs],
            "model": [card.get("name"), card.get("model_sha256"), card.get("created")],
        }
        return dict(json.loads(json.dumps(job)))

    def open(self, resume: bool) -> None:
        t, layout = self.table, self.layout
        how = "given"
        if layout.guessed:
            how = f"guessed {layout.guessed}; pass --text-column to choose"
        self._note(
            f"reading {t.name} as {t.format.upper()} in {t.encoding_label} ({t.encoding_how}); "
            f"listing text from {_what(layout)} ({how})"
        )
        if not t.peek(1):
            raise BadInput(f"{t.name} has a header but no rows; nothing to score")
        positions: list[int | None] = [None] * len(self.outputs)
        state = self._resumable() if resume else None
        if state is not None:
            self.skip = int(state["rows"])
            positions = list(state["positions"])
            self.tally = _Tally(
                state["rows"], state["errors"], state["lines"], Counter(state["leanings"])
            )
            self.saved = True
            self._note(f"resuming after row {self.skip:,} from the checkpoint")
        elif self.checkpoint is not None:
            if not resume and self.checkpoint.path.exists():
                self._note(
                    "an interrupted run's checkpoint was discarded; pass --resume to continue one"
                )
            self.checkpoint.remove()
        try:
            for output, position in zip(self.outputs, positions, strict=True):
                output.open(position, self.options.bom, self.options.escape_formulas)
        except BaseException:
            for output in self.outputs:
                if state is None:
                    output.discard()
                else:  # a resumed run's files stay as its checkpoint left them
                    output.close()
            raise

    def _resumable(self) -> dict[str, Any] | None:
        if self.checkpoint is None:
            where = next(o for o in self.outputs if o.staged is None)
            what = (
                "standard output cannot be resumed"
                if where.resolved is None
                else f"{where.target} is a {where.resolved.kind}, written straight through"
            )
            raise BadInput(f"--resume needs -o FILE (and --lines-out FILE); {what}")
        if self.table.path is None:
            raise BadInput("--resume needs the input as a file; standard input cannot be checked")
        state = self.checkpoint.load()
        if state is None:
            self._note(f"no checkpoint for {self.outputs[0].target}; starting from the beginning")
            return None
        saved, now = state.get("job", {}), self.job()
        differ = mismatch(saved, now)
        if {"input_size", "input_mtime_ns"} & set(differ) and "input" not in differ:
            raise BadInput(
                f"{self.table.name} changed since the interrupted run (its size or time); "
                "run again without --resume to start over"
            )
        if differ:
            raise BadInput(
                f"the checkpoint for {self.outputs[0].target} was made with other settings "
                f"({', '.join(_setting_names(differ, saved, now))}); "
                "run again without --resume to start over"
            )
        for output, position in zip(self.outputs, state["positions"], strict=True):
            if output.staged and output.format != "parquet" and not output.staged.exists(position):
                raise BadInput(
                    f"the partial output of the interrupted run ({output.staged.part}) is gone; "
                    "run again without --resume to start over"
                )
        return state

    def score(self, scorer: Engine, chunk_rows: int) -> None:
        rows = itertools.islice(self.table.rows(), self.skip, None)
        chunks = _chunks(rows, chunk_rows)
        for chunk, results in in_order(scorer, chunks, self._texts):
            self._write(chunk, results)
            self.observer.progress(self.tally.rows, self.table.fraction())
            if self.checkpoint and time.monotonic() - self._last_save >= CHECKPOINT_SECONDS:
                self._save()

    def _texts(self, chunk: list[Row]) -> list[str | None]:
        return [self.layout.text_of(row) for row in chunk]

    def _write(self, chunk: list[Row], results: list[Scored]) -> None:
        name = self.model.name
        layout, tally = self.layout, self.tally
        rows: list[list[Any]] = []
        lines: list[list[Any]] = []
        start = tally.rows
        for k, (row, s) in enumerate(zip(chunk, results, strict=True)):
            error = row.error or layout.problem(row) or s.error
            rows.append([*row.cells, *s[:8], name, error])
            if error:
                tally.errors += 1
            else:
                tally.leanings[str(s.leaning)] += 1
                tally.lines += (s.cio_lines or 0) + (s.cto_lines or 0) + (s.neutral_lines or 0)
            if s.lines:
                ident = row.cells[layout.id] if layout.id is not None else start + k + 1
                lines.extend([ident, *line[:5], line[5]] for line in s.lines)
        tally.rows += len(chunk)
        records = [row.record for row in chunk] if self.table.format == "jsonl" else None
        self.outputs[0].write(rows, records)
        if len(self.outputs) > 1:
            self.outputs[1].write(lines, None)

    def _save(self) -> None:
        assert self.checkpoint is not None
        positions = [output.sync() for output in self.outputs]
        t = self.tally
        self.checkpoint.save(
            {
                "job": self.job(),
                "rows": t.rows,
                "positions": positions,
                "errors": t.errors,
                "lines": t.lines,
                "leanings": dict(t.leanings),
            }
        )
        self.saved = True
        self._last_save = time.monotonic()

    def commit(self) -> None:
        for output in self.outputs:
            output.commit()
        if self.checkpoint is not None:
            self.checkpoint.remove()

    def abandon(self, error: BaseException) -> None:
        """Clean up after a failed run, keeping what a checkpoint covers for --resume.

        Bad input would fail the same way again, so nothing is kept for it; nor after a write
        failed (a full disk): the partial file would only keep the disk full.
        """
        if isinstance(error, BadInput | OutputError) or not self.saved:
            self.discard()
        else:
            for output in self.outputs:
                output.close()

    def discard(self) -> None:
        for output in self.outputs:
            output.discard()
        if self.checkpoint is not None:
            self.checkpoint.remove()

    def summary(self, seconds: float) -> ScoreSummary:
        t = self.tally
        return ScoreSummary(
            rows=t.rows,
            errors=t.errors,
            leanings={k: t.leanings.get(k, 0) for k in ("CTO", "CIO", "neutral")},
            lines=t.lines,
            seconds=seconds,
            output=self.outputs[0].target,
            lines_output=self.outputs[1].target if len(self.outputs) > 1 else None,
            encoding=self.table.encoding_label,
            text_columns=self.layout.text_names,
            resumed_from=self.skip,
            notes=tuple(self.notes),
        )


# How a user names each setting a checkpoint records (the options by their command-line flag).
_SETTINGS = {
    "input": "the input file", "encoding": "the encoding", "delimiter": "the delimiter",
    "text_columns": "--text-column", "outputs": "-o / --lines-out or --format",
    "model": "the model", "id_column": "--id-column", "input_format": "--input-format",
    "output_format": "--format", "bom": "--bom", "escape_formulas": "--keep-formulas",
    "prefix": "--prefix", "evidence": "--evidence",
}  # fmt: skip


def _setting_names(differ: list[str], saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Return the differing settings of a checkpoint as a user knows them."""
    names: list[str] = []
    for key in differ:
        if key == "options":
            old, new = saved.get("options") or {}, now.get("options") or {}
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            names.extend(_SETTINGS.get(k, k) for k in keys)
        elif key not in ("input_size", "input_mtime_ns"):
            names.append(_SETTINGS.get(key, key))
    return list(dict.fromkeys(names)) or ["the input file"]


def _kinds(n_input: int) -> list[str]:
    return ["str"] * n_input + list(RESULT_KINDS)


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while True:
        chunk = list(itertools.islice(rows, size))
        if not chunk:
            return
        yield chunk


def score_frame(frame: Any, model: Model, text_columns: Sequence[str], evidence: int = 0) -> Any:
    """Return a copy of a pandas or Dask DataFrame with the result columns added.

    A Dask DataFrame is scored partition by partition with the same function, lazily; call
    `.compute()` or write it out to run it.
    """
    if hasattr(frame, "map_partitions"):
        meta = score_frame(frame._meta, model, text_columns, evidence)
        return frame.map_partitions(score_frame, model, list(text_columns), evidence, meta=meta)
    import pandas as pd

    columns = [c for c in text_columns if c not in frame.columns]
    if columns:
        raise BadInput(
            f"column {columns[0]!r} not found; columns are: {', '.join(map(str, frame.columns))}"
        )
    texts = [
        "\n".join(str(v) for v in values if isinstance(v, str) and v != "")
        for values in frame[list(text_columns)].itertuples(index=False, name=None)
    ]
    what = _what(_Layout((), None, tuple(text_columns), "", [], []))
    results = score_texts(texts, model, evidence, False, what)
    added = pd.DataFrame(
        [[*s[:8], model.name, s.error] for s in results],
        columns=list(RESULT_COLUMNS),
        index=frame.index,
    )
    added = added.astype(
        {"p_cto": "float64", "confidence": "float64", "cio_lines": "Int64",
         "cto_lines": "Int64", "neutral_lines": "Int64"}
    )  # fmt: skip
    for c in ("leaning", "top_cio_line", "top_cto_line", "model", "error"):
        added[c] = added[c].astype("string")  # missing stays missing (<NA>), never "None"
    return pd.concat([frame, added], axis=1)
