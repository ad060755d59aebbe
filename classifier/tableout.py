"""Writing tables of scored listings: CSV and TSV (Excel-safe), JSON Lines and Parquet.

A writer is handed chunks of rows and can say where it is (bytes written, or parts for
Parquet), so a run can be checkpointed after each chunk and resumed from there. An `Output`
ties a writer to its target: standard output, a file staged beside its final name, or an
existing device or FIFO written through directly (see classifier.staging).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from .columns import unique_names
from .errors import BadInput
from .staging import Staged, Target, drop_parts, refuse_inputs, resolve_target, sync, writing

OUTPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet", "xlsx")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx",
}  # fmt: skip
# Cells a spreadsheet would run as a formula; a leading ' makes it show them as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|[.,]\d+)(?:[eE][+-]?\d+)?")


def output_format(target: str, given: str | None, fallback: str) -> str:
    """Return the format to write: the one given, else from the file name, else `fallback`."""
    if given:
        if given not in OUTPUT_FORMATS:
            raise BadInput(f"unknown format {given!r}; use one of {', '.join(OUTPUT_FORMATS)}")
        return given
    if target == "-":
        return "csv" if fallback in ("xlsx", "parquet") else fallback  # binary: show a CSV
    lower = target.lower()
    if lower.endswith(".gz"):
        raise BadInput(
            f"{target}: compressed output is not supported; write to -o - and pipe it "
            "through gzip instead"
        )
    return _EXTENSIONS.get(Path(lower).suffix, fallback)


def guard_formula(value: str) -> str:
    """Return the cell prefixed with ' when a spreadsheet would run it as a formula."""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def cell_text(value: Any) -> str:
    """Return a value as the text of one cell ('' for None, JSON for lists and objects)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class Writer:
    """Base of the writers: `columns` are all output names, the first `n_input` from the input.

    `kinds` gives each column's type for Parquet: str, float or int.
    """

    def __init__(self, columns: list[str], n_input: int, kinds: list[str]) -> None:
        self.columns = columns
        self.n_input = n_input
        self.kinds = kinds

    def write(self, rows: list[list[Any]], records: list[dict[str, Any] | None] | None) -> None:
        """Write rows (input cells then added values); records are JSON input rows, if any."""
        raise NotImplementedError

    def position(self) -> int:
        """Return how much is safely written: bytes, or parts for Parquet."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and let go of the stream (it is not closed: the caller owns it)."""


class _Borrowed(io.BufferedIOBase):
    """The caller's byte stream lent to a text wrapper, which must never close it.

    A wrapper left behind by a failed write (a full disk, a closed pipe) is closed when it is
    garbage-collected; through this it cannot close standard output with it.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream

    @property
    def name(self) -> Any:
        return getattr(self._stream, "name", "<stream>")

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return self._stream.write(b)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        pass


class _TextWriter(Writer):
    """A writer of UTF-8 text over the caller's byte stream."""

    _stream: IO[bytes]
    _text: io.TextIOWrapper

    def position(self) -> int:
        self._text.flush()
        return self._stream.tell()

    def close(self) -> None:
        self._text.flush()
        self._text.detach()


class DelimitedWriter(_TextWriter):
    """CSV or TSV, UTF-8, optionally with a byte-order mark and formula guarding."""

    def __init__(
        self,
        stream: IO[bytes],
        columns: list[str],
        n_input: int,
        kinds: list[str],
        delimiter: str = ",",
        header: bool = True,
        bom: bool = False,
        guard: bool = True,
    ) -> None:
        super().__init__(columns, n_input, kinds)
        self._stream = stream
        self._text = io.TextIOWrapper(_Borrowed(stream), "utf-8", errors="replace", newline="")
        self._csv = csv.writer(self._text, delimiter=delimiter)
        self._guard = guard
        if header:
            if bom:
                self._text.write("\ufeff")
            self._csv.writerow(self._cells(columns))

    def _cells(self, values: list[Any]) -> list[str]:
        cells = [cell_text(v) for v in values]
        if self._guard:
            cells = [guard_formula(c) if c else c for c in cells]
        return cells

    def write(self, rows: list[list[Any]], records: list[dict[str, Any] | None] | None) -> None:
        self._csv.writerows(self._cells(row) for row in rows)


class JsonlWriter(_TextWriter):
    """JSON Lines: a JSON input row keeps all its keys; a CSV row becomes an object."""

    def __init__(self, stream: IO[bytes], columns: list[str], n_input: int, kinds: list[str]):
        super().__init__(columns, n_input, kinds)
        self._stream = stream
        self._text = io.TextIOWrapper(_Borrowed(stream), "utf-8", errors="replace", newline="\n")
        self._keys = unique_names(columns[:n_input])
        self._added = columns[n_input:]

    def write(self, rows: list[list[Any]], records: list[dict[str, Any] | None] | None) -> None:
        out = []
        for i, row in enumerate(rows):
            record = records[i] if records else None
            obj = dict(record) if record is not None else dict(zip(self._keys, row, strict=False))
            obj.update(zip(self._added, row[self.n_input :], strict=True))
            out.append(json.dumps(obj, ensure_ascii=False))
        if out:
            self._text.write("\n".join(out) + "\n")


class ParquetWriter(Writer):
    """Parquet: each chunk becomes one part file in a folder; `merge` makes the single file.

    Input columns are written as text (a CSV has no types, and JSON values vary by row).
    """

    def __init__(
        self, folder: Path, columns: list[str], n_input: int, kinds: list[str], start: int
    ):
        super().__init__(columns, n_input, kinds)
        pa = _pyarrow()
        types = {"str": pa.string(), "float": pa.float64(), "int": pa.int64()}
        self._names = unique_names(columns)
        self._schema = pa.schema([(n, types[k]) for n, k in zip(self._names, kinds, strict=True)])
        self._folder = folder
        self._parts = start

    def write(self, rows: list[list[Any]], records: list[dict[str, Any] | None] | None) -> None:
        import pyarrow.parquet as pq

        pa = _pyarrow()
        arrays = []
        for j, kind in enumerate(self.kinds):
            values = [row[j] for row in rows]
            if kind == "str":
                values = [None if v is None else cell_text(v) for v in values]
            arrays.append(pa.array(values, type=self._schema.field(j).type))
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        path = self._folder / f"part-{self._parts:06d}.parquet"
        pq.write_table(table, path)
        self._parts += 1

    def position(self) -> int:
        return self._parts

    def merge(self, target: Path) -> None:
        """Write all parts, in order, into one Parquet file at `target`."""
        import pyarrow.parquet as pq

        with pq.ParquetWriter(target, self._schema) as out:
            for i in range(self._parts):
                out.write_table(pq.read_table(self._folder / f"part-{i:06d}.parquet"))


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise BadInput("Parquet output needs pyarrow: pip install 'ciocto[parquet]'") from None
    return pyarrow


class Output:
    """One output of a run (the scored rows, or the lines): its target, writer and staging.

    A regular (or new) file is staged and renamed into place; standard output and an existing
    device or FIFO (`direct`) are written straight through, and cannot be checkpointed.
    """

    def __init__(self, target: str, fmt: str, columns: list[str], n_input: int, kinds: list[str]):
        self.target = target
        self.format = fmt
        self.columns = columns
        self.n_input = n_input
        self.kinds = kinds
        self.resolved: Target | None = None if target == "-" else resolve_target(target)
        self.direct = self.resolved is None or self.resolved.direct
        self.staged = None if self.direct or self.resolved is None else Staged(self.resolved.path)
        self.stream: IO[bytes] | None = None
        self._borrowed = False  # standard output: flushed at the end, never closed
        self.writer: Writer | None = None

    def open(self, position: int | None, bom: bool = False, guard: bool = True) -> None:
        """Start writing: afresh (position None) or from a checkpointed position."""
        with writing(self.target, removed=self.staged is not None):
            self._open(position, bom, guard)

    def _open(self, position: int | None, bom: bool, guard: bool) -> None:
        if self.format == "parquet":
            assert self.staged is not None  # refused for direct targets by check_targets
            self.staged.parts.mkdir(exist_ok=True)
            drop_parts(self.staged.parts, position or 0)
            self.writer = ParquetWriter(
                self.staged.parts, self.columns, self.n_input, self.kinds, position or 0
            )
            return
        if self.staged is not None:
            self.stream = self.staged.open(position)
        elif self.resolved is not None:
            self.stream = open(self.resolved.path, "wb")  # noqa: SIM115 - closed by close()
        else:
            self.stream = _stdout_bytes()
            self._borrowed = True
        if self.format == "jsonl":
            self.writer = JsonlWriter(self.stream, self.columns, self.n_input, self.kinds)
        elif self.format == "xlsx":
            from .excel import XlsxWriter

            self.writer = XlsxWriter(self.stream, self.columns, self.n_input, self.kinds, guard)
        else:
            delimiter = "\t" if self.format == "tsv" else ","
            self.writer = DelimitedWriter(
                self.stream, self.columns, self.n_input, self.kinds, delimiter,
                header=position is None, bom=bom, guard=guard,
            )  # fmt: skip

    def write(self, rows: list[list[Any]], records: list[dict[str, Any] | None] | None) -> None:
        """Write a chunk of rows."""
        assert self.writer is not None, "open() first"
        with writing(self.target, removed=self.staged is not None):
            self.writer.write(rows, records)

    def sync(self) -> int:
        """Push what is written to disk; return the position a checkpoint may record."""
        assert self.writer is not None, "open() first"
        with writing(self.target, removed=self.staged is not None):
            position = self.writer.position()
            if self.stream is not None and self.staged is not None:
                sync(self.stream)
        return position

    def close(self) -> None:
        """Stop writing (the partial file stays until commit or discard)."""
        stream, self.stream = self.stream, None
        try:
            if self.writer is not None:
                self.writer.close()
            if stream is not None:
                stream.flush()
        finally:
            if stream is not None and not self._borrowed:
                stream.close()

    def commit(self) -> None:
        """Finish: put the complete file under its final name."""
        writer = self.writer
        with writing(self.target, removed=self.staged is not None):
            self.close()
            self.writer = None
            if self.staged is None:
                return
            if isinstance(writer, ParquetWriter):
                writer.merge(self.staged.part)
                self.staged.commit()
                self.staged.discard()
            elif self.format == "xlsx":
                from .excel import XlsxWriter

                assert isinstance(writer, XlsxWriter)
                writer.finish(self.staged)
            else:
                self.staged.commit()

    def discard(self) -> None:
        """Stop and remove everything written (what cannot be flushed any more is dropped)."""
        with suppress(OSError, ValueError):
            self.close()
        self.writer = None
        if self.staged is not None:
            self.staged.discard()


def check_targets(
    outputs: list[tuple[str, str, str]], inputs: list[str | Path | None], bom: bool
) -> None:
    """Refuse outputs that cannot be written, before anything is: (target, format, option).

    `inputs` are the run's input files ('-' for standard input); no output may be one of them.
    """
    names = [t for t, _, _ in outputs]
    if len(set(names)) < len(names):
        raise BadInput("-o and --lines-out must be different files")
    seen: list[Path] = []
    for target, fmt, option in outputs:
        if target == "-":
            if fmt == "parquet":
                raise BadInput(f"Parquet cannot go to standard output; give {option} FILE.parquet")
            if fmt == "xlsx":
                raise BadInput(f"an .xlsx cannot go to standard output; give {option} FILE.xlsx")
            continue
        resolved = resolve_target(target, option)
        if resolved.path in seen or any(_same(resolved.path, p) for p in seen):
            raise BadInput("-o and --lines-out must be different files")
        seen.append(resolved.path)
        refuse_inputs(resolved, inputs, option)
        if resolved.direct:
            if fmt == "parquet":
                raise BadInput(
                    f"Parquet cannot be written to a {resolved.kind} ({target}); "
                    f"give {option} FILE.parquet"
                )
            if fmt == "xlsx":
                raise BadInput(
                    f"an .xlsx cannot be written to a {resolved.kind} ({target}); "
                    f"give {option} FILE.xlsx"
                )
            continue
        if not os.access(resolved.path.parent, os.W_OK):
            raise BadInput(f"cannot write {target}: the folder is not writable")
    formats = {fmt for _, fmt, _ in outputs}
    if bom and not formats & {"csv", "tsv"}:
        raise BadInput("--bom is for CSV output (Excel); it does not apply to this format")
    if "parquet" in formats:
        _pyarrow()
    if "xlsx" in formats:
        from .excel import require_openpyxl

        require_openpyxl()


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _stdout_bytes() -> IO[bytes]:
    """Return a binary stream onto standard output, also where sys.stdout is a text-only
    object (a notebook's, a test's capture): the output is then written through it."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        return buffer
    return io.BufferedWriter(_TextSink(sys.stdout))


class _TextSink(io.RawIOBase):
    """Raw bytes written as UTF-8 text to a text stream."""

    def __init__(self, text: Any) -> None:
        super().__init__()
        self._out = text

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._out.write(bytes(data).decode("utf-8", errors="replace"))
        return len(data)

    def flush(self) -> None:
        self._out.flush()
