"""Help with labelling: rows that look mislabelled, and the unlabelled lines worth labelling next.

`review_labels` is confident learning (Northcutt et al., 2021), written here: with out-of-fold
probabilities, each class gets a threshold (the mean probability the model gives that class on
rows labelled with it); a row is suspect when another class clears its threshold and the model's
top class is not the given label. The most suspicious rows (largest margin of the suggested class
over the given one) come first.

`suggest_lines` reads unlabelled postings and returns the lines the model is least sure about
(smallest gap between its two most likely tags), skipping lines that nearly repeat one already
chosen or one already in the training data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .data import LABELS, Sample, data_files, read_samples
from .errors import BadInput, DataError
from .evaluate import GROUP_JACCARD, similar_pairs, token_set
from .labels import POSTING, LabelFile, text_key
from .model import Model
from .retrain import Progress, Recipe, TrainingSet, same_fold_probabilities
from .segment import segment
from .staging import write_file
from .textio import check_text


@dataclass(frozen=True)
class Suspect:
    """A labelled row the out-of-fold model confidently disagrees with."""

    where: str
    text: str
    label: str
    suggested: str
    p_label: float
    p_suggested: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Suggestion:
    """An unlabelled line worth labelling: where it came from and what the model thinks."""

    where: str
    text: str
    model_tag: str
    p_cio: float
    p_cto: float
    p_neutral: float
    margin: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def confident_issues(labels: Sequence[str], proba: Any) -> list[tuple[int, str, float]]:
    """Return (row, suggested label, margin) for rows whose label looks wrong, worst first.

    proba holds out-of-fold probabilities with columns in LABELS order.
    """
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    given = np.array([LABELS.index(lab) for lab in labels])
    thresholds = np.array(
        [proba[given == j, j].mean() if (given == j).any() else np.inf for j in range(len(LABELS))]
    )
    out = []
    for i, g in enumerate(given):
        above = np.flatnonzero(proba[i] >= thresholds)
        if len(above) == 0:
            continue
        confident = int(above[proba[i, above].argmax()])
        if confident != g and int(proba[i].argmax()) != g:
            out.append((i, LABELS[confident], float(proba[i, confident] - proba[i, g])))
    return sorted(out, key=lambda t: -t[2])


def builtin_rows() -> list[tuple[str, Sample]]:
    """Return (where, sample) for every row of the built-in data, "data/FILE:ROW"."""
    out = []
    for path in data_files():
        for row_no, s in enumerate(read_samples(path), start=2):
            out.append((f"data/{path.name}:{row_no}", s))
    return out


def review_labels(
    files: Sequence[LabelFile] = (),
    *,
    base: bool = True,
    config: Config | None = None,
    folds: int = 5,
    progress: Progress | None = None,
) -> list[Suspect]:
    """Return the rows that look mislabelled: those of `files`, or of data/ when none are given.

    With files, the built-in data (unless base=False) still trains every fold, but only the
    files' rows are reviewed; a file's row replaces a built-in row with the same text.
    """
    for f in files:
        if f.kind == POSTING:
            raise DataError(f"{f.path}: review-labels checks line labels, not posting labels")
    mine: dict[str, tuple[str, Sample]] = {}
    for f in files:
        for row, s in zip(f.rows, f.samples(), strict=True):
            mine.setdefault(text_key(s.text), (row.where, s))
    base_rows = builtin_rows() if base or not files else []
    rows = [(w, s) for w, s in base_rows if text_key(s.text) not in mine] + list(mine.values())
    if not rows:
        raise DataError("nothing to review")
    samples = tuple(s for _, s in rows)
    training = TrainingSet(samples, (1.0,) * len(samples), samples)
    recipe = Recipe(config or Config(), base=False, extra=samples)
    scores = same_fold_probabilities(training, [recipe], (), folds, progress)
    proba = scores.of(0, [s.text for s in samples])
    reviewed = set(range(len(rows) - len(mine), len(rows))) if files else set(range(len(rows)))
    out = []
    for i, suggested, _ in confident_issues([s.label for s in samples], proba):
        if i in reviewed:
            where, s = rows[i]
            p = proba[i]
            out.append(
                Suspect(
                    where,
                    s.text,
                    s.label,
                    suggested,
                    round(float(p[LABELS.index(s.label)]), 4),
                    round(float(p[LABELS.index(suggested)]), 4),
                )
            )
    return out


def suggest_lines(
    listings: Sequence[tuple[str, str]],
    model: Model,
    n: int = 50,
    known: Sequence[str] = (),
    min_words: int = 3,
    similarity: float = GROUP_JACCARD,
) -> list[Suggestion]:
    """Return up to n lines of the listings the model is least sure about, without near repeats.

    listings: (where, posting text) pairs. known: texts already labelled (e.g. data/), which
    are never suggested again, nor lines that nearly repeat them. Lines with fewer than
    `min_words` words, or with no word the model knows, are skipped.
    """
    candidates: list[tuple[str, str]] = []
    seen = {text_key(t) for t in known}
    for where, text in listings:
        try:
            lines = segment(check_text(text, where))
        except BadInput:
            continue
        for line in lines:
            key = text_key(line.text)
            if key in seen or len(token_set(line.text)) < min_words:
                continue
            seen.add(key)
            candidates.append((f"{where} line {line.n}", line.text))
    if not candidates:
        return []
    scores = model.score_lines([t for _, t in candidates], evidence=0)
    ranked = []
    for (where, text), s in zip(candidates, scores, strict=True):
        if s.p_neutral == 1.0:
            continue  # no known word: the model says nothing, not "unsure"
        top = sorted((s.p_cio, s.p_cto, s.p_neutral), reverse=True)
        ranked.append(
            Suggestion(where, text, s.tag, s.p_cio, s.p_cto, s.p_neutral, top[0] - top[1])
        )
    ranked.sort(key=lambda g: g.margin)
    texts = [g.text for g in ranked]
    blocked: set[int] = set()
    neighbours: dict[int, list[int]] = {}
    n_known = len(known)
    for i, j, _ in similar_pairs([*known, *texts], similarity):
        if i < n_known and j >= n_known:
            blocked.add(j - n_known)
        elif i >= n_known:
            neighbours.setdefault(i - n_known, []).append(j - n_known)
            neighbours.setdefault(j - n_known, []).append(i - n_known)
    out: list[Suggestion] = []
    for i, g in enumerate(ranked):
        if len(out) >= n:
            break
        if i in blocked:
            continue
        out.append(g)
        blocked.update(neighbours.get(i, ()))
    return out


def suspects_csv(suspects: Sequence[Suspect]) -> str:
    """Return suspects as CSV (text,label,...) to correct and pass back with --labels."""
    return _csv(
        ["text", "label", "suggested", "p_label", "p_suggested", "where"],
        [[s.text, s.label, s.suggested, s.p_label, s.p_suggested, s.where] for s in suspects],
    )


def suggestions_csv(suggestions: Sequence[Suggestion]) -> str:
    """Return suggestions as CSV with an empty label column to fill in for `ciocto train`."""
    return _csv(
        ["text", "label", "model_tag", "p_cio", "p_cto", "p_neutral", "where"],
        [
            [g.text, "", g.model_tag, round(g.p_cio, 4), round(g.p_cto, 4), round(g.p_neutral, 4)]
            + [g.where]
            for g in suggestions
        ],
    )


def write_text(path: Path, text: str, inputs: Sequence[Path] = ()) -> None:
    """Write an output file whole or not at all, never over one of the `inputs`.

    The one staged writer (classifier.staging) does it: a symlink's target is replaced, a
    device or FIFO written through, a full disk a clear error with nothing left behind.
    """
    write_file(path, text.encode("utf-8"), inputs)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
