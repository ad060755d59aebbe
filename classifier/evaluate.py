"""Honest numbers: grouped cross-validation on the labelled lines, and scoring real postings."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import Config
from .data import LABELS, Sample
from .errors import BadInput
from .normalize import fold

GROUP_JACCARD = 0.5  # lines this alike always fall in the same fold


def token_set(text: str) -> frozenset[str]:
    """Return the folded word set of a line (what near-duplicate checks compare)."""
    return frozenset(re.findall(r"\w+", fold(text)))


def similar_pairs(texts: Sequence[str], threshold: float) -> list[tuple[int, int, float]]:
    """Return (i, j, jaccard) for every pair of texts whose token sets overlap >= threshold."""
    import numpy as np
    from scipy import sparse

    sets = [token_set(t) for t in texts]
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for tok in s:
            rows.append(i)
            cols.append(vocab.setdefault(tok, len(vocab)))
    X = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(sets), max(1, len(vocab)))
    )
    inter = sparse.triu(X @ X.T, k=1).tocoo()
    sizes = np.asarray(X.sum(axis=1)).ravel()
    union = sizes[inter.row] + sizes[inter.col] - inter.data
    jac = inter.data / np.maximum(union, 1)
    keep = jac >= threshold
    return [
        (int(i), int(j), float(v))
        for i, j, v in zip(inter.row[keep], inter.col[keep], jac[keep], strict=True)
    ]


def near_duplicate_groups(
    texts: Sequence[str],
    threshold: float = GROUP_JACCARD,
    together: Sequence[str] | None = None,
) -> list[int]:
    """Return a group id per text so that lines with Jaccard >= threshold share a group, and so
    do lines with the same non-empty `together` key (the lines of one written posting: a line
    read in its posting must not be scored by a model that read its posting)."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in similar_pairs(texts, threshold):
        a, b = find(i), find(j)
        # the smaller index is the root, so group ids do not depend on set iteration order
        # (string hashing is randomised per process) and the folds are the same every run
        parent[max(a, b)] = min(a, b)
    first: dict[str, int] = {}
    for i, key in enumerate(together or ()):
        if key:
            a, b = find(first.setdefault(key, i)), find(i)
            parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(len(texts))]


def out_of_fold(
    samples: Sequence[Sample],
    config: Config | None = None,
    folds: int = 5,
    make_pipeline: Callable[[Config], Any] | None = None,
) -> tuple[Any, list[str]]:
    """Return (probabilities, classes) for each sample from a model that never saw its group.

    `make_pipeline` builds the estimator to cross-validate (default: the product's pipeline);
    the benchmark passes alternatives through the very same folds.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    from .features import build_pipeline
    from .model import Model, fitted_config, training_docs

    make_pipeline = make_pipeline or build_pipeline
    config = config or Config()
    texts = [s.text for s in samples]
    docs = training_docs(samples, config)
    y = np.array([s.label for s in samples])
    groups = near_duplicate_groups(texts, together=[s.posting for s in samples])
    proba = np.zeros((len(samples), len(LABELS)))
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_idx, test_idx in cv.split(texts, y, groups):
        fold_config = fitted_config(config, [docs[i] for i in train_idx])
        pipe = make_pipeline(fold_config)
        pipe.fit([docs[i] for i in train_idx], y[train_idx])
        if make_pipeline is build_pipeline:  # the product's predictor, empty-line rule included
            scores = Model(pipe, {"config": fold_config.to_dict()}).score_lines(
                [docs[i] for i in test_idx], evidence=0
            )
            proba[test_idx] = [[s.p_cio, s.p_cto, s.p_neutral] for s in scores]
        else:
            order = [list(pipe.classes_).index(c) for c in LABELS]
            proba[test_idx] = pipe.predict_proba([docs[i] for i in test_idx])[:, order]
    return proba, list(LABELS)


def metrics(y_true: Sequence[str], proba: Any, labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """Return per-class precision/recall/F1, macro-F1, accuracy, confusion matrix and ECE."""
    import numpy as np
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    pred = [labels[i] for i in np.asarray(proba).argmax(axis=1)]
    p, r, f, n = precision_recall_fscore_support(y_true, pred, labels=list(labels), zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(np.mean([a == b for a, b in zip(y_true, pred, strict=True)])),
        "macro_f1": float(np.mean(f)),
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "n": int(c)}
            for i, (lab, c) in enumerate(zip(labels, n, strict=True))
        },
        "confusion": confusion_matrix(y_true, pred, labels=list(labels)).tolist(),
        "ece": expected_calibration_error(y_true, proba, labels),
    }


def expected_calibration_error(
    y_true: Sequence[str], proba: Any, labels: Sequence[str] = LABELS, bins: int = 10
) -> float:
    """Return the ECE of the top-class probability over equal-width bins."""
    import numpy as np

    proba = np.asarray(proba)
    conf = proba.max(axis=1)
    correct = np.array([labels[i] == t for i, t in zip(proba.argmax(axis=1), y_true, strict=True)])
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(conf[mask].mean() - correct[mask].mean())
    return float(ece)


def cross_validate(
    samples: Sequence[Sample],
    config: Config | None = None,
    folds: int = 5,
    make_pipeline: Callable[[Config], Any] | None = None,
) -> dict[str, Any]:
    """Return grouped cross-validated metrics overall, per language and per variant."""
    import numpy as np

    proba, labels = out_of_fold(samples, config, folds, make_pipeline)
    y = [s.label for s in samples]
    report: dict[str, Any] = {"overall": metrics(y, proba, labels), "folds": folds}
    slices: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        slices[f"lang={s.lang or '?'}"].append(i)
        if s.variant:
            slices[f"variant={s.variant}"].append(i)
        if s.source == "article":
            slices["source=article"].append(i)
    report["slices"] = {
        key: metrics([y[i] for i in idx], proba[np.array(idx)], labels)
        for key, idx in sorted(slices.items())
    }
    return report


def read_postings(path: Path) -> list[dict[str, Any]]:
    """Return labelled postings from a JSON Lines file with at least text, label and lang."""
    return _json_rows(path, ("text", "label"), "postings")


def evaluate_postings(rows: Sequence[dict[str, Any]], model: Any) -> dict[str, Any]:
    """Return posting-level accuracy and balanced accuracy per language for labelled postings."""
    from .posting import classify

    by_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        try:
            leaning = classify(str(row["text"]), model, evidence=0).leaning
        except BadInput:
            leaning = "neutral"
        pair = (str(row["label"]), leaning)
        by_lang[str(row.get("lang", "?"))].append(pair)
        by_lang["all"].append(pair)
    out = {}
    for lang, pairs in sorted(by_lang.items()):
        per_class: dict[str, list[bool]] = defaultdict(list)
        for truth, pred in pairs:
            per_class[truth].append(truth == pred)
        out[lang] = {
            "n": len(pairs),
            "accuracy": sum(t == p for t, p in pairs) / len(pairs),
            "balanced_accuracy": sum(sum(v) / len(v) for v in per_class.values()) / len(per_class),
            "recall": {k: sum(v) / len(v) for k, v in sorted(per_class.items())},
            "predicted": dict(Counter(p for _, p in pairs)),
        }
    return out


def read_line_rows(path: Path) -> list[dict[str, Any]]:
    """Return hand-labelled posting lines from JSON Lines (posting_id, n, text, label, lang).

    `names_role` rows (lines that name the job title) are kept here and dropped by
    `evaluate_lines`, which is where the rule that the duties must decide lives.
    """
    from .data import canonical_label

    def canonical(row: dict[str, Any], where: str) -> dict[str, Any]:
        label = canonical_label(str(row["label"]))
        if label is None:
            raise BadInput(f"{where}: label {row['label']!r} is not CIO, CTO or neutral")
        return {**row, "label": label}

    return _json_rows(path, ("posting_id", "text", "label"), "labelled lines", canonical)


def _json_rows(
    path: Path,
    need: tuple[str, ...],
    what: str,
    check: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Return the objects of a JSON Lines file, each with the fields `need` (and passed
    through `check`, which may refuse one), with one-line errors that say where."""
    quoted = [f"'{k}'" for k in need]
    fields = ", ".join(quoted[:-1]) + " and " + quoted[-1] if len(quoted) > 1 else quoted[0]
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                where = f"{path}, line {no}"
                try:
                    row = json.loads(raw)
                except ValueError as e:
                    raise BadInput(f"{where}: not a JSON object ({e})") from e
                if not isinstance(row, dict) or any(k not in row for k in need):
                    raise BadInput(f"{where}: needs the fields {fields}")
                out.append(check(row, where) if check else row)
    except UnicodeDecodeError as e:
        raise BadInput(f"cannot read {path}: not UTF-8 text") from e
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from e
    if not out:
        raise BadInput(f"{path} holds no {what}")
    return out


def evaluate_lines(rows: Sequence[dict[str, Any]], model: Any, worst: int = 10) -> dict[str, Any]:
    """Return line macro-F1, per-class F1, confusion and the most confident mistakes per language.

    Each posting's lines are classified together, in their order, as a user would paste them;
    lines that name the role are left out (the measure is whether the duties decide). "mixed"
    lines count with Vietnamese.
    """
    import numpy as np

    from .posting import classify_lines
    from .segment import line_of

    postings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if not row.get("names_role"):
            postings[str(row["posting_id"])].append(row)
    by_lang: dict[str, list[tuple[dict[str, Any], Any]]] = defaultdict(list)
    for pid in sorted(postings):
        prows = sorted(postings[pid], key=lambda r: int(r.get("n", 0)))
        lines = [line_of(i, str(r["text"])) for i, r in enumerate(prows)]
        result = classify_lines(lines, model, evidence=0)
        for r, tagged in zip(prows, result.lines, strict=True):
            lang = "vi" if r.get("lang") in ("vi", "mixed") else str(r.get("lang") or "?")
            by_lang[lang].append((r, tagged.score))
    report: dict[str, Any] = {}
    for lang, pairs in sorted(by_lang.items()):
        y = [r["label"] for r, _ in pairs]
        proba = np.array([[s.p_cio, s.p_cto, s.p_neutral] for _, s in pairs])
        m = metrics(y, proba)
        mistakes = [
            (max(s.p_cio, s.p_cto, s.p_neutral), r, s) for r, s in pairs if s.tag != r["label"]
        ]
        mistakes.sort(key=lambda t: -t[0])
        m["worst"] = [
            {"posting_id": r["posting_id"], "n": r.get("n"), "text": str(r["text"]),
             "label": r["label"], "tag": s.tag, "p": round(p, 3)}
            for p, r, s in mistakes[:worst]
        ]  # fmt: skip
        report[lang] = m
    return report
