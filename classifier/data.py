"""Labelled lines: where they live, how they are read and checked, and their fingerprint."""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError

LABELS = ("CIO", "CTO", "neutral")
_ALIASES = {
    "cio": "CIO", "cio-like": "CIO", "cio_like": "CIO", "cio like": "CIO",
    "cto": "CTO", "cto-like": "CTO", "cto_like": "CTO", "cto like": "CTO",
    "neutral": "neutral", "none": "neutral", "-": "neutral", "n": "neutral", "neutre": "neutral",
    "trung lập": "neutral", "trung lap": "neutral",
}  # fmt: skip
DATA_COLUMNS = ("text", "label", "lang", "source", "variant")


@dataclass(frozen=True)
class Sample:
    """One labelled line."""

    text: str
    label: str
    lang: str = ""
    source: str = "authored"
    variant: str = ""
    posting: str = ""  # lines of one written posting share an id, in reading order


def canonical_label(raw: str) -> str | None:
    """Return CIO, CTO or neutral for a label or one of its aliases, else None."""
    return _ALIASES.get(" ".join(raw.strip().casefold().split()))


def checkout_root() -> Path | None:
    """Return the source checkout this package runs from, or None when it is installed."""
    root = Path(__file__).resolve().parent.parent
    # both, since an installed package's parent (site-packages) may hold some other data/
    if (root / "pyproject.toml").is_file() and (root / "data").is_dir():
        return root
    return None


def user_home() -> Path:
    """Return the user's ciocto folder: $CIOCTO_HOME, else the platform's user data folder."""
    env = os.environ.get("CIOCTO_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("ciocto", appauthor=False)


def project_root() -> Path:
    """Return the folder that holds models/: $CIOCTO_HOME, the checkout, else the user's folder."""
    if os.environ.get("CIOCTO_HOME"):
        return user_home()
    return checkout_root() or user_home()


def data_dir() -> Path:
    """Return the folder of the built-in training data.

    That is data/ in $CIOCTO_HOME or the checkout when there is one, else the copy inside the
    installed package (classifier/_data, which is data/ itself in a checkout), read only.
    """
    root = user_home() if os.environ.get("CIOCTO_HOME") else checkout_root()
    if root is not None and (root / "data").is_dir():
        return root / "data"
    return Path(__file__).resolve().parent / "_data"


def data_files(directory: Path | None = None) -> list[Path]:
    """Return the built-in labelled CSV files, in a stable order."""
    directory = directory or data_dir()
    files = sorted(directory.glob("article_sentences.csv")) + sorted(
        directory.glob("authored_*.csv")
    )
    if not files:
        raise DataError(
            f"no training data in {directory}; expected article_sentences.csv and authored_*.csv"
        )
    return files


def read_samples(path: Path) -> list[Sample]:
    """Return the rows of one data CSV, checking columns and labels as it goes."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("text", "label") if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: column {missing[0]!r} not found")
            out = []
            for row_no, row in enumerate(reader, start=2):
                label = canonical_label(row.get("label") or "")
                text = (row.get("text") or "").strip()
                if label is None:
                    raise DataError(f"{path}:{row_no}: unknown label {row.get('label')!r}")
                if not text:
                    raise DataError(f"{path}:{row_no}: empty text")
                out.append(
                    Sample(
                        text,
                        label,
                        (row.get("lang") or "").strip(),
                        (row.get("source") or "authored").strip(),
                        (row.get("variant") or "").strip(),
                        _posting_id(path, row),
                    )
                )
            return out
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read {path}: {e}") from e


def _posting_id(path: Path, row: dict[str, str | None]) -> str:
    """Return the row's posting id, qualified by its file so two files never share one."""
    pid = (row.get("posting") or "").strip()
    return f"{path.name}:{pid}" if pid else ""


def load_samples(paths: Iterable[Path] | None = None) -> list[Sample]:
    """Return all built-in labelled lines (or those of the given files)."""
    samples: list[Sample] = []
    for path in paths if paths is not None else data_files():
        samples.extend(read_samples(Path(path)))
    return samples


def samples_sha256(samples: Iterable[Sample]) -> str:
    """Return a fingerprint of the training rows (text and label, in order)."""
    h = hashlib.sha256()
    for s in samples:
        h.update(s.text.encode("utf-8") + b"\x1f" + s.label.encode() + b"\x1e")
    return h.hexdigest()
