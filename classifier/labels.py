"""A user's label files: CSV or JSON Lines of lines or whole postings, checked row by row.

Files are read by the reader `score` uses (classifier.tableio): the same encodings, gzip,
delimiters and messages.

Every problem is reported as a DataError that names the file, the row (its line in the file,
as an editor shows it) and what to do next. Exact duplicates are dropped and counted; the same
text with two different labels is an error, or dropped with `drop_conflicts`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .columns import find_column
from .data import Sample, canonical_label
from .errors import BadInput, DataError
from .normalize import nfc
from .tableio import open_table

LINE = "line"
POSTING = "posting"
MAX_CONFLICTS_SHOWN = 5


@dataclass(frozen=True)
class LabelledRow:
    """One labelled text from a user's file; `where` is "file:line" for messages."""

    text: str
    label: str
    lang: str
    where: str


@dataclass(frozen=True)
class LabelFile:
    """The checked rows of one label file and what was dropped on the way."""

    path: Path
    kind: str
    rows: tuple[LabelledRow, ...]
    duplicates: int = 0
    conflicts: int = 0
    sha256: str = ""

    def samples(self, source: str = "labels") -> list[Sample]:
        """Return the rows as training samples (only meaningful for line labels)."""
        return [Sample(r.text, r.label, r.lang, source) for r in self.rows]

    def summary(self) -> dict[str, Any]:
        """Return what the model card records about this file."""
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "kind": self.kind,
            "rows": len(self.rows),
            "duplicates_dropped": self.duplicates,
            "conflicts_dropped": self.conflicts,
        }


def text_key(text: str) -> str:
    """Return the form two texts are compared in: NFC, case-folded, spacing collapsed."""
    return " ".join(nfc(text).casefold().split())


def read_labels(
    path: Path | str,
    *,
    posting: bool = False,
    text_column: str = "text",
    label_column: str = "label",
    lang_column: str = "lang",
    drop_conflicts: bool = False,
) -> LabelFile:
    """Return the checked rows of a label file (CSV, TSV or JSON Lines), or raise DataError."""
    path = Path(path)
    rows: list[LabelledRow] = []
    records = _records(path, required=(text_column, label_column), optional=(lang_column,))
    for where, record in records:
        text = _field(record, text_column, where)
        label_raw = _field(record, label_column, where)
        if not text.strip():
            raise DataError(f"{where}: empty text")
        if not label_raw.strip():
            raise DataError(f"{where}: no label; fill in CIO, CTO or neutral, or delete the row")
        label = canonical_label(label_raw)
        if label is None:
            raise DataError(
                f"{where}: unknown label {label_raw!r}; use CIO, CTO or neutral "
                "(also accepted: cio, cto, CIO-like, CTO-like, none, -)"
            )
        lang = _field(record, lang_column, where).strip() if lang_column in record else ""
        rows.append(LabelledRow(text.strip(), label, lang, where))
    if not rows:
        raise DataError(f"{path} holds no labelled rows")
    kept, duplicates, conflicts = _dedupe(path, rows, drop_conflicts)
    if not kept:
        raise DataError(f"{path}: every row was dropped as a conflict; nothing left to train on")
    return LabelFile(
        path,
        POSTING if posting else LINE,
        tuple(kept),
        duplicates,
        conflicts,
        _sha256(path),
    )


def read_texts(path: Path | str, text_column: str = "text") -> list[tuple[str, str]]:
    """Return (where, text) for every non-empty text of an unlabelled table, read as by `score`."""
    path = Path(path)
    out = []
    for where, record in _records(path, required=(text_column,)):
        text = _field(record, text_column, where)
        if text.strip():
            out.append((where, text))
    if not out:
        raise DataError(f"{path} holds no text in column {text_column!r}")
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from None
    return digest.hexdigest()


def _records(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[tuple[str, dict[str, Any]]]:
    """Return ("file:line", record) for every row, read by the reader `score` uses.

    The whole file is read before any row is checked, so a quote left open is reported as
    such, not as the empty label of the row it swallowed.
    """
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a CSV or JSON Lines file")
    try:
        with open_table(path) as table:
            rows = list(table.rows())
            columns = table.columns
            jsonl = table.format == "jsonl"
    except BadInput as e:
        raise DataError(str(e)) from None
    out = []
    index: dict[str, int] = {}
    if not jsonl:
        for n in required:
            option = "--text-column" if n == required[0] else "--label-column"
            try:
                index[n] = find_column(columns, n, option)
            except BadInput as e:
                raise DataError(f"{path}: {e}") from None
        index.update({n: columns.index(n) for n in optional if columns.count(n) == 1})
    for row in rows:
        where = f"{path}:{row.line}"
        if row.error:
            raise DataError(f"{where}: {row.error.replace('; not scored', '')}; fix the row")
        if row.fields is not None and max(index.values()) >= row.fields:
            raise DataError(
                f"{where}: row has {row.fields} field(s) but the header has {len(columns)} "
                "(a lost delimiter or quote?); fix the row"
            )
        if jsonl:
            record = row.record or {}
            _check_columns(Path(where), list(record), required, "field")
            out.append((where, record))
        else:
            out.append((where, {n: row.cells[i] for n, i in index.items()}))
    return out


def _check_columns(path: Path, columns: list[str], required: tuple[str, ...], what: str) -> None:
    for name in required:
        if name not in columns:
            option = "--text-column" if name == required[0] else "--label-column"
            have = ", ".join(columns) if columns else "none"
            raise DataError(
                f"{path}: {what} {name!r} not found; {what}s are: {have} — pass {option}"
            )


def _field(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise DataError(f"{where}: {name!r} must be text, not {type(value).__name__}")


def _dedupe(
    path: Path, rows: list[LabelledRow], drop_conflicts: bool
) -> tuple[list[LabelledRow], int, int]:
    by_key: dict[str, list[LabelledRow]] = {}
    for row in rows:
        by_key.setdefault(text_key(row.text), []).append(row)
    clashes = [group for group in by_key.values() if len({r.label for r in group}) > 1]
    if clashes and not drop_conflicts:
        shown = "; ".join(_describe(group) for group in clashes[:MAX_CONFLICTS_SHOWN])
        more = len(clashes) - MAX_CONFLICTS_SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        raise DataError(
            f"{path}: {len(clashes)} text(s) have two different labels: {shown}{tail} — "
            "fix them, or pass --drop-conflicts to leave them out"
        )
    # dicts keep insertion order, so the kept rows stay in file order
    kept, duplicates, conflicts = [], 0, 0
    for group in by_key.values():
        if len({r.label for r in group}) > 1:
            conflicts += len(group)
        else:
            kept.append(group[0])
            duplicates += len(group) - 1
    return kept, duplicates, conflicts


def _describe(group: list[LabelledRow]) -> str:
    rows = ", ".join(f"row {r.where.rsplit(':', 1)[1]} {r.label}" for r in group)
    text = group[0].text if len(group[0].text) <= 60 else group[0].text[:59] + "…"
    return f"{text!r} ({rows})"
