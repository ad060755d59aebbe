"""The page's corrections: line and posting labels kept as CSV files in the registry.

Each kind has one file under `<registry>/.labels/` (`web-lines.csv`, `web-postings.csv`) in
the format `ciocto train --labels` / `--posting-labels` reads (text,label,lang), plus the
posting's id, the line number, the time and a row id. Every change rewrites the file
atomically (a temporary file in the same folder, fsync, rename) under an exclusive `flock`,
so two tabs or two servers never lose each other's corrections. The last correction of a text
wins: correcting a line again replaces its row. Nothing is stored unless the user corrects it.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .data import canonical_label
from .errors import BadInput
from .labels import LINE, POSTING, text_key

FILES = {LINE: "web-lines.csv", POSTING: "web-postings.csv"}
COLUMNS = ["text", "label", "lang", "posting_id", "line", "time", "id"]
MAX_LABELS = 10_000  # rows per kind
MAX_LINE_CHARS = 5_000
MAX_POSTING_CHARS = 100_000


@dataclass(frozen=True)
class Correction:
    """One stored correction: the text, the user's label, where it came from, and when."""

    text: str
    label: str
    lang: str
    posting_id: str
    line: int | None
    time: str
    id: str
    kind: str = LINE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def posting_id(text: str) -> str:
    """Return a short stable id for a posting's text (the page never stores the posting)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:12]


class LabelStore:
    """The corrections files of one registry; every method takes the lock for its own work."""

    def __init__(self, root: Path, max_labels: int = MAX_LABELS) -> None:
        self.folder = Path(root) / ".labels"  # a dot: the registry lists no model here
        self.max_labels = max_labels

    def path(self, kind: str = LINE) -> Path:
        return self.folder / FILES[_kind(kind)]

    def add(
        self,
        text: str,
        label: str,
        *,
        kind: str = LINE,
        posting: str = "",
        line: int | None = None,
        lang: str = "",
    ) -> Correction:
        """Store a correction (replacing an earlier one of the same text) and return it."""
        kind = _kind(kind)
        text = text.strip()
        limit = MAX_LINE_CHARS if kind == LINE else MAX_POSTING_CHARS
        if not text:
            raise BadInput('"text" is empty: send the text of the line or posting you label')
        if len(text) > limit:
            raise BadInput(f'"text" is {len(text):,} characters; a {kind} label takes {limit:,}')
        tag = canonical_label(label) if isinstance(label, str) else None
        if tag is None:
            raise BadInput(f'"label" must be CIO, CTO or neutral, not {label!r}')
        if len(lang) > 10 or len(posting) > 64:
            raise BadInput('"lang" takes a short language code and "posting_id" an id')
        key = text_key(text)
        row = Correction(
            text=text,
            label=tag,
            lang=lang,
            posting_id=posting,
            line=line,
            time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            id=hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()[:16],
            kind=kind,
        )
        with self._locked():
            rows = [r for r in self._read(kind) if r.id != row.id]
            if len(rows) >= self.max_labels:
                raise BadInput(
                    f"there are already {self.max_labels:,} {kind} corrections: download them "
                    "(GET /api/labels), train, and delete some before adding more"
                )
            self._write(kind, [*rows, row])
        return row

    def rows(self, kind: str = LINE) -> list[Correction]:
        """Return the stored corrections of one kind, oldest first."""
        if not self.folder.exists():
            return []  # nothing is created until the first correction
        with self._locked():
            return self._read(_kind(kind))

    def delete(self, row_id: str) -> bool:
        """Remove the correction with this id (of either kind); return whether there was one."""
        with self._locked():
            for kind in FILES:
                rows = self._read(kind)
                kept = [r for r in rows if r.id != row_id]
                if len(kept) != len(rows):
                    self._write(kind, kept)
                    return True
        return False

    def csv_text(self, kind: str = LINE) -> str:
        """Return the corrections of one kind as the CSV `ciocto train` reads."""
        return _to_csv(self.rows(kind))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self, kind: str) -> list[Correction]:
        path = self.path(kind)
        if not path.exists():
            return []
        with path.open(encoding="utf-8", newline="") as f:
            out = []
            for record in csv.DictReader(f):
                line = record.get("line") or ""
                out.append(
                    Correction(
                        text=record.get("text") or "",
                        label=record.get("label") or "",
                        lang=record.get("lang") or "",
                        posting_id=record.get("posting_id") or "",
                        line=int(line) if line.isdigit() else None,
                        time=record.get("time") or "",
                        id=record.get("id") or "",
                        kind=kind,
                    )
                )
            return out

    def _write(self, kind: str, rows: list[Correction]) -> None:
        path = self.path(kind)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(_to_csv(rows))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # the rename itself survives a power cut
            folder = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


def _kind(kind: str) -> str:
    if kind not in FILES:
        raise BadInput(f'"kind" must be "{LINE}" or "{POSTING}", not {kind!r}')
    return kind


def _to_csv(rows: list[Correction]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in rows:
        line = "" if r.line is None else str(r.line)
        writer.writerow([r.text, r.label, r.lang, r.posting_id, line, r.time, r.id])
    return out.getvalue()


@dataclass
class TrainJob:
    """A training run started from the page, in a thread; its state is read by polling."""

    state: str = "idle"  # idle, running, done, failed
    progress: list[str] | None = None
    result: dict[str, Any] | None = None
    error: str = ""
    started: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "progress": list(self.progress or [])[-50:],
            "result": self.result,
            "error": self.error,
            "seconds": round(time.time() - self.started, 1) if self.started else 0,
        }


def training_files(store: LabelStore) -> list[Any]:
    """Return the store's files as `train` reads them (LabelFile), skipping an empty kind."""
    from .labels import read_labels

    files = []
    for kind in FILES:
        if store.rows(kind):
            files.append(read_labels(store.path(kind), posting=kind == POSTING))
    if not files:
        raise BadInput("there are no corrections yet: correct a line or a posting first")
    return files
