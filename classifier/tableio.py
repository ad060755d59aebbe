"""Reading tables of listings: CSV, TSV and JSON Lines, plain or gzip, from a file or stdin.
(.xlsx workbooks and Parquet files are read by classifier.excel, into the same Table.)

Rows are streamed, so memory does not grow with the file. The encoding (UTF-8, UTF-8 or UTF-16
with a byte-order mark, cp1258, cp1252) and the CSV delimiter are chosen from a sample of the
start of the file. A file that cannot be read at all raises BadInput saying what to do; a single
row that cannot be read (bytes in another encoding, bad JSON, too many fields) is still yielded,
with its `error` set, so one bad row never stops a run.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import BadInput
from .textio import encoding_name, utf16_without_bom

INPUT_FORMATS = ("csv", "tsv", "jsonl", "xlsx", "parquet")
SAMPLE_BYTES = 1 << 20
# A quoted field may legitimately span lines, but one left open swallows the rest of the file;
# this bounds what that can cost (a field this long is reported, not read on).
MAX_FIELD_CHARS = 64 << 20
_HEADER_CELL_MAX = 200
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".json": "jsonl",
}  # fmt: skip
_DELIMITERS = (",", ";", "\t", "|")
_SURROGATE = re.compile("[\udc80-\udcff]")
_QUOTED = re.compile(r'"[^"]*"')
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f]")
_CONTROL_TEXT = re.compile("[\x00-\x08\x0e-\x1f]")
# The bytes where cp1258 and cp1252 differ. Read as cp1258, Vietnamese shows tone marks after
# vowels, the letters ư and đ, ă before a final consonant (năm); Western text shows marks after
# consonants (così, però: ì, ò), ă and ơ where Portuguese has ã and õ (não, informações), and
# characters cp1258 lacks (š, ž).
_VI_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VI_LETTERS = frozenset("ưđƯĐ")
_BREVE_O_HORN = frozenset("ăĂơƠ")
_FINALS = frozenset("cmnptCMNPT")
_VOWELS = frozenset("aeiouyAEIOUYâêôơưăÂÊÔƠƯĂ")


@dataclass(frozen=True)
class Row:
    """One input row: its cells in column order, the JSON record it came from, any read error.

    `fields` is how many cells a short CSV row really had (the rest are padded with ''), else None.
    """

    cells: list[Any]
    line: int
    error: str | None = None
    record: dict[str, Any] | None = None
    fields: int | None = None


class Table:
    """An open table: its columns, how it is read, and its rows as a stream (use `with`)."""

    def __init__(
        self,
        name: str,
        path: Path | None,
        fmt: str,
        encoding: str,
        encoding_how: str,
        raw: IO[bytes],
        text: IO[str],
        size: int | None,
    ) -> None:
        self.name = name
        self.path = path
        self.format = fmt
        self.encoding = encoding
        self.encoding_how = encoding_how
        self.delimiter = "\t" if fmt == "tsv" else ","
        self.columns: list[str] = []
        self._raw = raw
        self._text = text
        self._size = size
        self._peeked: list[Row] = []
        self._rows: Iterator[Row] = iter(())
        self._pushback = ""
        self._legacy = not encoding.startswith("utf")

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_stdin(self) -> bool:
        """Return True when the table is read from standard input."""
        return self._raw is sys.stdin.buffer

    def close(self) -> None:
        """Close the file (never standard input itself)."""
        if self._raw is not sys.stdin.buffer:
            self._raw.close()

    @property
    def encoding_label(self) -> str:
        """Return the encoding as a user would name it, e.g. 'UTF-8 with BOM'."""
        names = {
            "utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16",
            "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE",
        }  # fmt: skip
        return names.get(self.encoding, self.encoding)

    def fraction(self) -> float | None:
        """Return how far through the (compressed) file the reading is, if its size is known."""
        if not self._size:
            return None
        try:
            return min(1.0, self._raw.tell() / self._size)
        except (OSError, ValueError):
            return None

    def peek(self, n: int) -> list[Row]:
        """Return the first n rows without consuming them."""
        while len(self._peeked) < n:
            row = next(self._rows, None)
            if row is None:
                break
            self._peeked.append(row)
        return self._peeked[:n]

    def rows(self) -> Iterator[Row]:
        """Yield every row once, in file order."""
        while self._peeked:
            yield self._peeked.pop(0)
        yield from self._rows

    # -- reading -------------------------------------------------------------------------------

    def _start(self, delimiter: str | None) -> None:
        if self.format == "jsonl":
            self._rows = self._jsonl_rows()
            first = self.peek(100)
            self.columns = _record_keys(first)
            # cells can only be lined up once the columns are known
            self._peeked = [self._with_cells(row) for row in first]
            self._rows = map(self._with_cells, self._rows)
            return
        if delimiter is None:
            delimiter = self.delimiter if self.format == "tsv" else _sniff_delimiter(self._head())
        self.delimiter = delimiter
        self._rows = self._csv_rows()
        # the header is read by the same reader, first
        header = next(self._rows, None)
        if header is None:
            raise BadInput(f"{self.name} is empty; it needs a header row naming the columns")
        if header.error:
            raise BadInput(f"{self.name}: the header row {header.error}")
        self.columns = [str(c) for c in header.cells]
        self.columns[0] = self.columns[0].lstrip("\ufeff")
        longest = max(len(c) for c in self.columns)
        if longest > _HEADER_CELL_MAX:
            raise BadInput(
                f"{self.name}: the first row looks like data, not a header (a cell of "
                f"{longest:,} characters); add a header row naming the columns"
            )

    def _head(self) -> str:
        # The first line, to pick the delimiter; it is pushed back for the reader.
        line = self._text.readline()
        self._pushback = line
        return line

    def _lines(self, record: list[str]) -> Iterator[str]:
        if self._pushback:
            record.append(self._pushback)
            yield self._pushback
        for line in self._text:
            record.append(line)
            yield line

    def _csv_rows(self) -> Iterator[Row]:
        if csv.field_size_limit() < MAX_FIELD_CHARS:
            csv.field_size_limit(MAX_FIELD_CHARS)
        consumed: list[str] = []  # the physical lines of the row being read
        reader = csv.reader(self._lines(consumed), delimiter=self.delimiter)
        ncols = 0
        line = start = 1
        record = 0  # the header is record 0, the first data row is record 1
        last_raw = ""
        while True:
            consumed.clear()
            try:
                cells = next(reader, None)
            except csv.Error as e:
                raise BadInput(self._csv_error(e, record, line)) from None
            except UnicodeDecodeError as e:
                raise BadInput(
                    f"{self.name} is not valid {self.encoding_label} near row {record} "
                    f"(line {line}); pass --encoding with the file's encoding"
                ) from e
            except (OSError, EOFError, zlib.error) as e:
                raise BadInput(self._damaged(e, line)) from None
            if cells is None:
                break
            if not cells:
                line = reader.line_num + 1
                continue  # a blank line is not a row
            start, line = line, reader.line_num + 1
            last_raw = "".join(consumed)
            record += 1
            error = self._check_text(cells)
            if error:
                cells = [_SURROGATE.sub("\ufffd", c) for c in cells]
            if not ncols:
                ncols = len(cells)
            elif len(cells) > ncols:
                error = error or (
                    f"row has {len(cells)} fields but the header has {ncols} "
                    "(a stray delimiter or quote?); not scored"
                )
                cells = cells[:ncols]
            elif len(cells) < ncols:
                fields = len(cells)
                yield Row(cells + [""] * (ncols - fields), start, error, fields=fields)
                continue
            yield Row(cells, start, error)
        if last_raw and _open_quote(last_raw, self.delimiter):
            raise BadInput(
                f"{self.name}: a quote opened in row {record - 1} (line {start}) is never closed, "
                "so the rest of the file became one field; fix the quote and run again"
            )

    def _csv_error(self, e: csv.Error, record: int, line: int) -> str:
        where = f"row {record} (line {line})"
        if "field limit" in str(e):
            return (
                f"{self.name}: {where} has a field longer than {MAX_FIELD_CHARS:,} characters; "
                "is a quote left open there?"
            )
        return f"{self.name}: {where} is not valid CSV ({e}); check its quotes"

    def _damaged(self, e: BaseException, line: int) -> str:
        if isinstance(e, EOFError | zlib.error | gzip.BadGzipFile):
            return (
                f"{self.name} is a damaged or truncated gzip file (it breaks near line {line}); "
                "compress it again or pass the uncompressed file"
            )
        return f"cannot read {self.name} near line {line}: {getattr(e, 'strerror', None) or e}"

    def _check_text(self, cells: list[str]) -> str | None:
        """Return why a row's text cannot be trusted (bytes in another encoding), else None."""
        joined = "".join(cells)
        if joined.isascii():
            return None
        if _SURROGATE.search(joined):
            if self._legacy:
                return f"row has bytes that are not {self.encoding_label}; not scored"
            return (
                "row has bytes that are not UTF-8 (saved in another encoding?); not scored. "
                "If the whole file is in one, pass --encoding (e.g. cp1258, cp1252)"
            )
        if self._legacy and _looks_utf8(joined, self.encoding):
            return (
                f"row is UTF-8 inside a {self.encoding} file (mixed encodings); not scored. "
                "Save the file in one encoding"
            )
        return None

    def _with_cells(self, row: Row) -> Row:
        record = row.record or {}
        return Row([record.get(c) for c in self.columns], row.line, row.error, row.record)

    def _jsonl_rows(self) -> Iterator[Row]:
        n = 0
        try:
            for n, text in enumerate(self._text, start=1):
                if not text.strip():
                    continue
                error = self._check_text([text])
                if error:
                    text = _SURROGATE.sub("\ufffd", text)
                try:
                    record = json.loads(text)
                except ValueError as e:
                    yield Row([], n, error or f"not valid JSON ({e}); not scored", {})
                    continue
                if not isinstance(record, dict):
                    yield Row([], n, f"not a JSON object ({type(record).__name__}); not scored", {})
                    continue
                yield Row([], n, error, record)
        except UnicodeDecodeError as e:
            raise BadInput(
                f"{self.name} is not valid {self.encoding_label} near line {n + 1}; "
                "pass --encoding with the file's encoding"
            ) from e
        except (OSError, EOFError, zlib.error) as e:
            raise BadInput(self._damaged(e, n + 1)) from None


def open_table(
    source: str | Path | IO[bytes],
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Table:
    """Return an open Table for a path, '-' (standard input) or a binary file object.

    fmt is csv, tsv, jsonl, xlsx or parquet (default: from the file name, else from the
    content); encoding is detected when not given; sheet picks an .xlsx sheet (default: the
    first). Raises BadInput for anything that is not a readable table.
    """
    from .excel import BINARY_FORMATS, format_of, open_cells

    cells = fmt if fmt in BINARY_FORMATS else None if fmt else format_of(source)
    if cells or sheet is not None:
        return open_cells(source, cells, sheet, encoding)
    name, path, raw, size = _open_bytes(source)
    try:
        stream, sample = _decompress(raw, name)
        if not sample.strip():
            raise BadInput(f"{name} is empty; it needs a header row naming the columns")
        if encoding:
            # the bytes are checked as the given encoding reads them (UTF-16 is full of NULs)
            encoding, how = _given_encoding(encoding, sample), "given"
            _refuse_binary_text(sample.decode(encoding, "replace"), name)
        else:
            encoding, how = detect_encoding(sample, name)
            if not encoding.startswith("utf-16"):
                _refuse_binary(sample, name)
        # UTF-16 cannot carry undecodable bytes through; it stops at them instead
        errors = "strict" if encoding.startswith(("utf-16", "utf-32")) else "surrogateescape"
        text = io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline="")
        fmt = fmt or _format_from_name(name) or _sniff_format(sample, encoding)
        if fmt not in INPUT_FORMATS:
            raise BadInput(f"unknown input format {fmt!r}; use one of {', '.join(INPUT_FORMATS)}")
        if fmt == "jsonl" and sample.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            raise BadInput(
                f"{name} is a JSON array; ciocto reads JSON Lines (one object per line): "
                "convert it with  jq -c '.[]'"
            )
        table = Table(name, path, fmt, encoding, how, raw, text, size)
        table._start(delimiter)
        return table
    except BaseException:
        if raw is not sys.stdin.buffer:
            raw.close()
        raise


def detect_encoding(sample: bytes, name: str = "input") -> tuple[str, str]:
    """Return (codec, how it was chosen) for the first bytes of a file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "byte-order mark"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "byte-order mark"
    utf16 = utf16_without_bom(sample)
    if utf16:
        return utf16, "detected, without a byte-order mark"
    text = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode(sample, final=False)
    if text.isascii() and not _SURROGATE.search(text):
        return "utf-8", "detected"
    bad = len(_SURROGATE.findall(text))
    good = sum(1 for c in text if c > "\x7f") - bad
    if good > bad:
        # valid UTF-8 with a few rows in something else: those rows get an error each
        return "utf-8", "detected"
    return _legacy_encoding(sample), "detected"


def _refuse_binary_text(text: str, name: str) -> None:
    head = text[:8192]
    if len(_CONTROL_TEXT.findall(head)) > 0.05 * len(head):
        raise BadInput(
            f"{name} looks like a binary file even read as the given encoding; "
            "is it really a table?"
        )


def _legacy_encoding(sample: bytes) -> str:
    """Return cp1258 when the bytes read as Vietnamese in it, else cp1252."""
    text = sample.decode("cp1258", "replace")
    vi = west = 0
    for i, c in enumerate(text):
        if c in _VI_MARKS:
            if i and text[i - 1] in _VOWELS:
                vi += 1
            else:
                west += 1
        elif c in _VI_LETTERS:
            vi += 1
        elif c in _BREVE_O_HORN:
            after = text[i + 1 : i + 3].lstrip("".join(_VI_MARKS))[:1]
            if c in "ăĂ":
                vi, west = (vi + 1, west) if after in _FINALS and after else (vi, west + 1)
            else:
                vi, west = (vi, west + 1) if after in ("e", "E") else (vi + 1, west)
        elif c == "\ufffd":
            west += 1
    return "cp1258" if vi and vi >= 2 * west else "cp1252"


def _looks_utf8(text: str, encoding: str) -> bool:
    try:
        raw = text.encode(encoding, "surrogateescape")
        raw.decode("utf-8")
    except UnicodeError:
        return False
    return not raw.isascii()


def _open_quote(raw: str, delimiter: str) -> bool:
    """Return True when a CSV record ends inside an open quoted field."""
    try:
        list(csv.reader(io.StringIO(raw), delimiter=delimiter, strict=True))
    except csv.Error as e:
        return "unexpected end of data" in str(e)
    return False


def _given_encoding(encoding: str, sample: bytes) -> str:
    """Return the codec name for a user's --encoding (UTF-8 also skips a byte-order mark)."""
    name = encoding_name(encoding)
    if name == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return name


def _open_bytes(source: str | Path | IO[bytes]) -> tuple[str, Path | None, IO[bytes], int | None]:
    if not isinstance(source, str | Path):
        return str(getattr(source, "name", "input")), None, source, None
    if str(source) == "-":
        return "standard input", None, sys.stdin.buffer, None
    path = Path(source)
    if path.is_dir():
        raise BadInput(f"{source} is a directory; give a CSV, TSV or JSON Lines file")
    try:
        raw = open(path, "rb")  # noqa: SIM115 - the Table owns it and closes it
    except FileNotFoundError:
        raise BadInput(f"{source}: no such file") from None
    except OSError as e:
        raise BadInput(f"cannot read {source}: {e.strerror}") from None
    return str(source), path, raw, path.stat().st_size


class _Chain(io.RawIOBase):
    """A raw stream that gives `head` first, then the rest of `tail`."""

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(b))
        b[: len(data)] = data
        return len(data)


def _decompress(raw: IO[bytes], name: str) -> tuple[IO[bytes], bytes]:
    """Return the (decompressed) byte stream and a sample of its start."""
    magic = _read_some(raw, 4, name)
    stream: IO[bytes] = io.BufferedReader(_Chain(magic, raw))
    if magic.startswith(b"\x1f\x8b"):
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    elif magic.startswith(b"PK\x03\x04"):
        raise BadInput(
            f"{name} is a spreadsheet workbook (or another zip file), not a CSV; to read a "
            "workbook, give it as a file named .xlsx (or pass --input-format xlsx)"
        )
    elif magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise BadInput(
            f"{name} is an old Excel workbook (.xls), not a CSV; in Excel use "
            "File > Save As > 'Excel Workbook (.xlsx)' or 'CSV UTF-8', then score that file"
        )
    sample = _read_some(stream, SAMPLE_BYTES, name)
    if magic.startswith(b"\x1f\x8b") and sample.startswith(b"\x1f\x8b"):
        raise BadInput(f"{name} is compressed twice; decompress it once first")
    return io.BufferedReader(_Chain(sample, stream), buffer_size=1 << 16), sample


def _read_some(stream: IO[bytes], n: int, name: str) -> bytes:
    parts = []
    try:
        while n > 0:
            data = stream.read(n)
            if not data:
                break
            parts.append(data)
            n -= len(data)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise BadInput(
            f"{name} is a damaged or truncated gzip file ({e}); compress it again "
            "or pass the uncompressed file"
        ) from None
    except OSError as e:
        raise BadInput(f"cannot read {name}: {e.strerror or e}") from None
    return b"".join(parts)


def _refuse_binary(sample: bytes, name: str) -> None:
    """Refuse a file whose start is mostly control bytes (one odd row does not count)."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    head = sample[:8192]
    if len(_CONTROL.findall(head)) > 0.05 * len(head):
        raise BadInput(
            f"{name} looks like a binary file, not a table (if it is UTF-16 without a "
            "byte-order mark, pass --encoding utf-16-le)"
        )


def _format_from_name(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    if lower.endswith((".xls", ".ods")):
        raise BadInput(
            f"{name} is a spreadsheet workbook ciocto does not read; save it as "
            "'Excel Workbook (.xlsx)' or 'CSV UTF-8', then score that file"
        )
    return _EXTENSIONS.get(Path(lower).suffix)


def _sniff_format(sample: bytes, encoding: str) -> str:
    start = sample[:4096].decode(encoding, "replace").lstrip("\ufeff \t\r\n")
    return "jsonl" if start.startswith(("{", "[")) else "csv"


def _sniff_delimiter(header: str) -> str:
    """Return the delimiter the header line uses most (outside quotes); ',' when none does."""
    bare = _QUOTED.sub("", header)
    counts = {d: bare.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _record_keys(rows: list[Row]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows:
        for key in row.record or {}:
            keys.setdefault(str(key), None)
    return list(keys)
