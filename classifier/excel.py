"""Tables that are not text: Excel workbooks (.xlsx) in and out, and Parquet files in.

Each is read as a `Table` of rows like a CSV, streamed (openpyxl's read-only mode, Parquet
record batches), so `score` treats them the same way. Cells become text as a CSV would hold it
(numbers as written, dates in ISO form), except that an empty Parquet value stays None.

An .xlsx output is staged as JSON Lines in the partial file, so checkpoints and --resume work
as for CSV, and is turned into the workbook only when the run is complete. Text cells are
written as text, so a cell starting with = is never run as a formula (unless --keep-formulas).

openpyxl (the `excel` extra) and pyarrow (the `parquet` extra) are imported only when needed;
without them the error names the install command.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import BadInput
from .staging import Staged
from .tableio import Row, Table
from .tableout import _TextWriter, cell_text

BINARY_FORMATS = ("xlsx", "parquet")
_EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".parquet": "parquet", ".pq": "parquet"}
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters an .xlsx cannot hold
_BATCH_ROWS = 1000


def format_of(source: object) -> str | None:
    """Return xlsx or parquet when a path's name says so, else None."""
    if not isinstance(source, str | Path) or str(source) == "-":
        return None
    return _EXTENSIONS.get(Path(str(source).lower()).suffix)


def open_cells(
    source: str | Path | IO[bytes], fmt: str | None, sheet: str | None, encoding: str | None
) -> Table:
    """Return an open Table over an .xlsx workbook (its first sheet, or `sheet`) or Parquet file."""
    if sheet is not None and fmt != "xlsx":
        raise BadInput("--sheet is for .xlsx workbooks; this input is not one")
    what = "an .xlsx workbook" if fmt == "xlsx" else "a Parquet file"
    if encoding:
        raise BadInput(f"--encoding is for text files; {what} says its own")
    if not isinstance(source, str | Path) or str(source) == "-":
        raise BadInput(f"{what} cannot be read from standard input; give its file name")
    path = Path(source)
    if path.is_dir():
        raise BadInput(f"{source} is a directory; give a file")
    if not path.is_file():
        raise BadInput(f"{source}: no such file")
    if fmt == "xlsx":
        return _open_workbook(path, str(source), sheet)
    return _open_parquet(path, str(source))


class CellTable(Table):
    """A Table whose rows come from a workbook or a Parquet file rather than from text."""

    def __init__(
        self,
        name: str,
        path: Path,
        fmt: str,
        columns: list[str],
        rows: Iterator[Row],
        total: int | None,
        where: tuple[str, str],
        close: Callable[[], None],
    ) -> None:
        # the text machinery of Table is unused: empty streams stand in for it
        super().__init__(name, path, fmt, "utf-8", where[1], io.BytesIO(), io.StringIO(), None)
        self.columns = columns
        self._rows = self._counted(rows)
        self._total = total
        self._at = 0
        self._where = where[0]
        self._close = close

    @property
    def encoding_label(self) -> str:
        """Return where the rows come from, e.g. "sheet 'Listings'" (no text encoding here)."""
        return self._where

    def _counted(self, rows: Iterator[Row]) -> Iterator[Row]:
        for row in rows:
            self._at = row.line
            yield row

    def fraction(self) -> float | None:
        """Return how far through the rows the reading is, when the file says how many."""
        return min(1.0, self._at / self._total) if self._total else None

    def close(self) -> None:
        """Let go of the file."""
        self._close()


# -- Excel in ----------------------------------------------------------------------------------


def require_openpyxl() -> Any:
    """Return the openpyxl module, or raise BadInput naming the install command."""
    try:
        import openpyxl
    except ImportError:
        raise BadInput(".xlsx files need openpyxl: pip install 'ciocto[excel]'") from None
    return openpyxl


def _open_workbook(path: Path, name: str, sheet: str | None) -> Table:
    openpyxl = require_openpyxl()
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # a damaged or foreign zip can raise almost anything in openpyxl
        raise BadInput(
            f"{name} is not a readable .xlsx workbook ({type(e).__name__}: {e}); open it in "
            "Excel and save it again, or save it as CSV UTF-8"
        ) from None
    try:
        sheet_ = _pick_sheet(book, name, sheet)
        rows = (tuple(r) for r in sheet_.iter_rows(values_only=True))
        header, start = _header(rows, name, sheet_.title)
        columns = [_cell(v).strip() for v in header]
        while columns and not columns[-1]:
            columns.pop()
        if not columns:
            raise BadInput(f"{name}: sheet {sheet_.title!r} is empty; nothing to score")
        how = "given" if sheet is not None else "the first sheet"
        total = sheet_.max_row if isinstance(sheet_.max_row, int) else None
        return CellTable(
            name, path, "xlsx", columns, _sheet_rows(rows, start, len(columns)), total,
            (f"sheet {sheet_.title!r}", how), book.close,
        )  # fmt: skip
    except BaseException:
        book.close()
        raise


def _pick_sheet(book: Any, name: str, sheet: str | None) -> Any:
    sheets = book.worksheets
    if not sheets:
        raise BadInput(f"{name} has no worksheet; nothing to score")
    if sheet is None:
        return sheets[0]
    if sheet in book.sheetnames:
        return book[sheet]
    if sheet.isdigit() and 1 <= int(sheet) <= len(sheets):
        return sheets[int(sheet) - 1]
    raise BadInput(
        f"{name} has no sheet {sheet!r}; its sheets are: {', '.join(book.sheetnames)} "
        "(--sheet takes a name or a number from 1)"
    )


def _header(rows: Iterator[tuple[Any, ...]], name: str, title: str) -> tuple[tuple[Any, ...], int]:
    """Return the first row with anything in it (the header) and its row number."""
    for n, row in enumerate(rows, start=1):
        if any(v is not None and str(v).strip() for v in row):
            return row, n
    raise BadInput(f"{name}: sheet {title!r} is empty; nothing to score")


def _sheet_rows(rows: Iterator[tuple[Any, ...]], start: int, ncols: int) -> Iterator[Row]:
    for n, values in enumerate(rows, start=start + 1):
        cells = [_cell(v) for v in values]
        if not any(c.strip() for c in cells):
            continue  # an empty row is not a listing
        error = None
        if any(c.strip() for c in cells[ncols:]):
            error = (
                f"row has cells beyond the {ncols} named columns (is a header missing?); not scored"
            )
        cells = cells[:ncols] + [""] * (ncols - len(cells))
        yield Row(cells, n, error)


def _cell(value: Any) -> str:
    """Return a workbook value as the text a CSV of the sheet would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# -- Parquet in --------------------------------------------------------------------------------


def _parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BadInput("Parquet input needs pyarrow: pip install 'ciocto[parquet]'") from None
    return pq


def _open_parquet(path: Path, name: str) -> Table:
    pq = _parquet()
    try:
        file = pq.ParquetFile(path)
        columns = [str(c) for c in file.schema_arrow.names]
        total = file.metadata.num_rows
    except Exception as e:  # pyarrow raises its own errors (ArrowInvalid, OSError, ...)
        raise BadInput(f"{name} is not a readable Parquet file ({e})") from None
    if not columns:
        raise BadInput(f"{name} has no columns; nothing to score")
    return CellTable(
        name, path, "parquet", columns, _parquet_rows(file, name), total,
        ("UTF-8", "as Parquet stores text"), file.close,
    )  # fmt: skip


def _parquet_rows(file: Any, name: str) -> Iterator[Row]:
    line = 0
    try:
        for batch in file.iter_batches(batch_size=_BATCH_ROWS):
            columns = [column.to_pylist() for column in batch.columns]
            for values in zip(*columns, strict=True):
                line += 1
                yield Row([_value(v) for v in values], line)
    except BadInput:
        raise
    except Exception as e:  # a damaged page surfaces only when it is read
        raise BadInput(f"{name}: cannot read past row {line} ({e}); is the file complete?") from e


def _value(value: Any) -> Any:
    """Return a Parquet value as a cell: text stays text, None stays None, the rest as text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return cell_text(value)


# -- Excel out ---------------------------------------------------------------------------------


class XlsxWriter(_TextWriter):
    """An .xlsx output: rows are staged as JSON Lines (resumable), `finish` builds the book."""

    def __init__(
        self, stream: IO[bytes], columns: list[str], n_input: int, kinds: list[str], guard: bool
    ) -> None:
        super().__init__(columns, n_input, kinds)
        require_openpyxl()
        self._stream = stream
        self._text = io.TextIOWrapper(stream, "utf-8", errors="replace", newline="\n")
        self.guard = guard

    def write(self, rows: list[list[Any]], records: list[dict[str, Any] | None] | None) -> None:
        out = []
        for row in rows:
            cells = [
                v if kind != "str" or v is None else cell_text(v)
                for v, kind in zip(row, self.kinds, strict=True)
            ]
            out.append(json.dumps(cells, ensure_ascii=False))
        if out:
            self._text.write("\n".join(out) + "\n")

    def finish(self, staged: Staged) -> None:
        """Build the workbook from what is staged, under the final name."""
        finish_xlsx(staged, self.columns, self.guard)


def finish_xlsx(staged: Staged, columns: list[str], guard: bool = True) -> None:
    """Turn the staged JSON Lines into the workbook under the final name (atomically)."""
    openpyxl = require_openpyxl()
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("scored")
    sheet.append([_text_cell(sheet, WriteOnlyCell, c, True) for c in columns])
    n = 1
    with open(staged.part, encoding="utf-8") as f:
        for line in f:
            n += 1
            if n > EXCEL_MAX_ROWS:
                raise BadInput(
                    f"{staged.final} would have more than {EXCEL_MAX_ROWS:,} rows, the most an "
                    "Excel sheet holds; write CSV or Parquet instead"
                )
            sheet.append(
                [
                    _text_cell(sheet, WriteOnlyCell, v, guard) if isinstance(v, str) else v
                    for v in json.loads(line)
                ]
            )
    tmp = staged.final.with_name(f".{staged.final.name}.ciocto-xlsx")
    try:
        book.save(tmp)
        os.replace(tmp, staged.final)
    finally:
        tmp.unlink(missing_ok=True)
    staged.part.unlink(missing_ok=True)


def _text_cell(sheet: Any, cell_type: Any, value: str, guard: bool) -> Any:
    """Return a cell that Excel can hold: no control characters, at most 32,767 characters."""
    value = _ILLEGAL.sub("", value)
    if len(value) > EXCEL_MAX_CELL_CHARS:
        value = value[: EXCEL_MAX_CELL_CHARS - 1] + "…"
    if not guard or not value.startswith("="):
        return value
    cell = cell_type(sheet, value=value)
    cell.data_type = "s"  # text, not a formula to run
    return cell
