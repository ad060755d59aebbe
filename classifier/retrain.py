"""Training with a user's labels: the training set, new vs active on the same folds, promotion.

A model is what it was fitted on (its recipe: config, built-in data or not, the user's extra
rows, their weight), so the active model is compared with the new one by refitting both recipes
on the same grouped folds and scoring both on the same held-out rows. Each model directory keeps
its extra rows (training_labels.csv) so that it can be refitted later as the active model.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import Config
from .data import LABELS, Sample, load_samples, samples_sha256
from .errors import BadInput, ClassifierError, DataError
from .evaluate import GROUP_JACCARD, metrics, near_duplicate_groups
from .labels import POSTING, LabelFile, LabelledRow, text_key
from .model import LineScore, Model, fitted_config, train, training_docs
from .posting import leaning_of
from .segment import segment
from .store import (
    LOCK_WAIT_S,
    active_directory,
    active_name,
    check_name,
    load_model,
    models_dir,
    read_card,
    registry_lock,
    save_model,
    set_active,
)
from .textio import check_text

TOLERANCE = 0.005
EXPANSIONS = ("signal", "signal-neutral", "all", "agree")
DEFAULT_EXPANSION = "signal"  # measured best: README "Posting-level labels"
LABELS_FILE = "training_labels.csv"
BUILTIN_SLICE = "data/ rows"
Progress = Callable[[str], None]


class PromotionRefused(ClassifierError):
    """The new model would replace the active one by name although it is not better."""


@dataclass(frozen=True)
class Recipe:
    """What a model is fitted on, so that it can be refitted fold by fold."""

    config: Config
    base: bool = True
    extra: tuple[Sample, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class ExpandedPosting:
    """A labelled posting and the texts of all its lines (for posting-level scores)."""

    where: str
    label: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class TrainingSet:
    """The rows a new model is fitted on, with their weights and where the extra ones came from."""

    samples: tuple[Sample, ...]
    weights: tuple[float, ...]
    extra: tuple[Sample, ...]
    postings: tuple[ExpandedPosting, ...] = ()
    base_overridden: int = 0
    base_duplicates: int = 0
    posting_line_conflicts: int = 0


@dataclass
class RetrainResult:
    """What a training run did: the saved model, the comparison and the promotion decision."""

    model: Model
    path: Path
    promoted: bool
    reason: str
    active: str | None
    table: list[dict[str, Any]]
    training: TrainingSet
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- posting labels -> lines


def expand_postings(
    rows: Sequence[LabelledRow], model: Model, strategy: str = DEFAULT_EXPANSION
) -> tuple[list[Sample], list[ExpandedPosting]]:
    """Return line samples for posting-labelled rows, and each posting's lines.

    Strategies (measured in README "Posting-level labels", bench/posting_labels.py):
    signal: lines the model tags CIO or CTO take the posting's label, the others are left out;
    signal-neutral: the same, but the others become neutral; all: every line takes the
    posting's label; agree: lines the model tags with the posting's label keep it, lines it
    tags neutral are neutral, the rest are left out.
    A posting labelled neutral makes all its lines neutral whatever the strategy.
    """
    if strategy not in EXPANSIONS:
        raise ClassifierError(f"unknown expansion {strategy!r}; use one of {', '.join(EXPANSIONS)}")
    segmented = []
    for row in rows:
        try:
            lines = [line.text for line in segment(check_text(row.text, row.where))]
        except BadInput as e:
            raise DataError(f"{row.where}: {e}") from None
        if not lines:
            raise DataError(f"{row.where}: the posting has no text lines")
        segmented.append(lines)
    flat = [text for lines in segmented for text in lines]
    tags = iter(s.tag for s in model.score_lines(flat, evidence=0))
    samples: list[Sample] = []
    postings = []
    for row, lines in zip(rows, segmented, strict=True):
        postings.append(ExpandedPosting(row.where, row.label, tuple(lines)))
        for text in lines:
            label = _line_label(row.label, next(tags), strategy)
            if label is not None:
                samples.append(Sample(text, label, row.lang, "postings"))
    return samples, postings


def _line_label(posting: str, tag: str, strategy: str) -> str | None:
    if posting == "neutral" or strategy == "all":
        return posting
    if strategy == "signal-neutral":
        return posting if tag != "neutral" else "neutral"
    if strategy == "signal":
        return posting if tag != "neutral" else None
    # agree
    return {posting: posting, "neutral": "neutral"}.get(tag)


# ---------------------------------------------------------------- the training set


def build_training_set(
    files: Sequence[LabelFile],
    base: bool = True,
    weight: float = 1.0,
    expander: Model | None = None,
    expansion: str = DEFAULT_EXPANSION,
    base_samples: Sequence[Sample] | None = None,
) -> TrainingSet:
    """Return the built-in rows (unless base=False) plus the files' rows, deduplicated.

    A user's row replaces a built-in row with the same text (that is how a built-in label is
    corrected). The same text labelled differently in two line files is an error; lines of
    postings that disagree take the majority label (ties are left out), and line labels win
    over labels inferred from postings.
    """
    if weight <= 0:
        raise DataError(f"--weight must be positive, not {weight}")
    line_rows: dict[str, tuple[Sample, str]] = {}
    from_postings: dict[str, list[Sample]] = defaultdict(list)
    postings: list[ExpandedPosting] = []
    for f in files:
        if f.kind == POSTING:
            if expander is None:
                raise ClassifierError("posting labels need a model to split them into lines")
            samples, expanded = expand_postings(f.rows, expander, expansion)
            postings.extend(expanded)
            for s in samples:
                from_postings[text_key(s.text)].append(s)
            continue
        for row, s in zip(f.rows, f.samples(), strict=True):
            key = text_key(s.text)
            if key in line_rows and line_rows[key][0].label != s.label:
                other = line_rows[key]
                raise DataError(
                    f"{row.where} labels {s.text[:60]!r} {s.label}, but {other[1]} says "
                    f"{other[0].label}; fix one of them"
                )
            line_rows.setdefault(key, (s, row.where))
    extra = [s for s, _ in line_rows.values()]
    conflicts = 0
    for key, group in from_postings.items():
        if key in line_rows:
            continue
        votes = Counter(s.label for s in group).most_common()
        if len(votes) > 1 and votes[0][1] == votes[1][1]:
            conflicts += len(group)
            continue
        extra.append(next(s for s in group if s.label == votes[0][0]))
    keys = {text_key(s.text) for s in extra}
    kept_base, overridden, duplicates = [], 0, 0
    if base:
        by_key = {text_key(s.text): s for s in extra}
        for s in base_samples if base_samples is not None else load_samples():
            mine = by_key.get(text_key(s.text))
            if mine is None:
                kept_base.append(s)
            elif mine.label == s.label:
                duplicates += 1
            else:
                overridden += 1
    if not keys and not kept_base:
        raise DataError("nothing to train on: no built-in data (--no-base) and no labels")
    everything = tuple(kept_base) + tuple(extra)
    weights = (1.0,) * len(kept_base) + (float(weight),) * len(extra)
    return TrainingSet(
        everything, weights, tuple(extra), tuple(postings), overridden, duplicates, conflicts
    )


def recipe_rows(recipe: Recipe, base_samples: Sequence[Sample]) -> tuple[list[Sample], list[float]]:
    """Return the rows and weights a recipe is fitted on (the user's rows replace built-ins)."""
    extra = list(recipe.extra)
    mine = {text_key(s.text) for s in extra}
    base = [s for s in base_samples if text_key(s.text) not in mine] if recipe.base else []
    return base + extra, [1.0] * len(base) + [recipe.weight] * len(extra)


def recipe_of(directory: Path) -> tuple[Recipe, list[str]]:
    """Return the recipe a saved model was fitted on (read from its card, never unpickled)."""
    card = read_card(directory)
    config = Config.from_dict(card.get("config", {}))
    training = card.get("training")
    if not isinstance(training, dict):
        return Recipe(config), []
    notes = []
    extra: tuple[Sample, ...] = ()
    path = directory / LABELS_FILE
    if training.get("extra_rows"):
        import hashlib

        want = card.get("files", {}).get(LABELS_FILE)
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        if not data or hashlib.sha256(data).hexdigest() != want:
            notes.append(
                f"{path} is missing or changed; the active model is refitted without its labels"
            )
        else:
            extra = tuple(_read_rows(data))
    return Recipe(
        config, bool(training.get("base", True)), extra, float(training.get("weight", 1.0))
    ), notes


def _rows_csv(samples: Sequence[Sample]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "label", "lang", "source"])
    for s in samples:
        writer.writerow([s.text, s.label, s.lang, s.source])
    return out.getvalue().encode("utf-8")


def _read_rows(data: bytes) -> list[Sample]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    return [
        Sample(r["text"], r["label"], r.get("lang", ""), r.get("source", "labels")) for r in reader
    ]


# ---------------------------------------------------------------- same-fold comparison


class _CachedAnalyzer:
    """The word analyzer of a config, memoised: every fold and recipe tokenises a line once."""

    def __init__(self, config: Config) -> None:
        from .features import word_analyzer

        self._fn = word_analyzer(config)
        self._memo: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str]:
        out = self._memo.get(text)
        if out is None:
            out = self._memo[text] = self._fn(text)
        return out


@dataclass
class FoldScores:
    """Out-of-fold class probabilities (CIO, CTO, neutral) per distinct text, per recipe."""

    texts: list[str]
    index: dict[str, int]
    proba: list[Any]
    folds: int

    def of(self, recipe_no: int, texts: Sequence[str]) -> Any:
        """Return the out-of-fold probabilities of these texts under one recipe."""
        return self.proba[recipe_no][[self.index[text_key(t)] for t in texts]]


def same_fold_probabilities(
    training: TrainingSet,
    recipes: Sequence[Recipe],
    base_samples: Sequence[Sample],
    folds: int = 5,
    progress: Progress | None = None,
) -> FoldScores:
    """Return out-of-fold probabilities of every recipe on the same grouped folds.

    Folds are drawn once over every text any recipe trains on; lines that share most words
    (and all lines of one posting) stay in one fold. Each recipe is fitted on its own rows
    outside fold k and scores the new training rows (and postings' lines) inside fold k.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    rows_of = [recipe_rows(r, base_samples) for r in recipes]
    index: dict[str, int] = {}
    texts: list[str] = []
    strata: list[str] = []
    written_in: list[str] = []  # the data/ posting a text was written in, if any
    posting_of: dict[int, int] = {}

    def add(text: str, label: str, posting: str = "") -> int:
        key = text_key(text)
        if key not in index:
            index[key] = len(texts)
            texts.append(text)
            strata.append(label)
            written_in.append(posting)
        return index[key]

    wanted = {add(s.text, s.label, s.posting) for s in training.samples}
    for p_no, posting in enumerate(training.postings):
        for line in posting.lines:
            i = add(line, posting.label)
            wanted.add(i)
            posting_of.setdefault(i, p_no)
    for samples, _ in rows_of:
        for s in samples:
            add(s.text, s.label, s.posting)
    groups = near_duplicate_groups(texts, GROUP_JACCARD, together=written_in)
    offset = len(texts)
    for i, p_no in posting_of.items():
        groups[i] = offset + p_no
    if len(set(groups)) < folds:
        raise DataError(
            f"only {len(set(groups))} distinct groups of lines for {folds} folds; "
            "add labels or pass a smaller --folds"
        )
    fold_of = np.empty(len(texts), dtype=int)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)
    for k, (_, test) in enumerate(cv.split(texts, strata, groups)):
        fold_of[test] = k
    wanted_idx = np.array(sorted(wanted))
    probas: list[Any] = []
    for r_no, (recipe, (samples, weights)) in enumerate(zip(recipes, rows_of, strict=True)):
        same = next((j for j in range(r_no) if recipes[j] == recipe), None)
        if same is not None:
            probas.append(probas[same])
            continue
        analyzer = _CachedAnalyzer(recipe.config)
        docs = training_docs(samples, recipe.config)  # exactly what `train` fits on
        doc_of: dict[str, str] = {}
        for s, d in zip(samples, docs, strict=True):
            doc_of.setdefault(text_key(s.text), d)
        row_fold = np.array([fold_of[index[text_key(s.text)]] for s in samples])
        proba = np.zeros((len(texts), len(LABELS)))
        for k in range(folds):
            if progress:
                who = (
                    "" if len(recipes) == 1 else (" the new model" if r_no == 0 else " the active")
                )
                progress(f"cross-validating{who}: fold {k + 1}/{folds}")
            train_idx = np.flatnonzero(row_fold != k)
            test_idx = wanted_idx[fold_of[wanted_idx] == k]
            if len(test_idx) == 0:
                continue
            proba[test_idx] = _fit_predict(
                recipe.config,
                analyzer,
                [docs[i] for i in train_idx],
                [samples[i].label for i in train_idx],
                [weights[i] for i in train_idx],
                [doc_of.get(text_key(texts[i]), texts[i]) for i in test_idx],
            )
        probas.append(proba)
    return FoldScores(texts, index, probas, folds)


def _fit_predict(
    config: Config,
    analyzer: _CachedAnalyzer,
    docs: Sequence[str],
    labels: Sequence[str],
    weights: Sequence[float],
    test_docs: Sequence[str],
) -> Any:
    """Return CIO/CTO/neutral probabilities for test_docs from a pipeline fitted on docs, read
    by the product's own predictor (`Model.score_lines`, empty-line rule included)."""
    from .features import build_pipeline

    if len(set(labels)) < 2:
        raise DataError("a cross-validation fold has only one label; add labels or use fewer folds")
    config = fitted_config(config, docs)
    pipe = build_pipeline(config)
    pipe.set_params(features__word__analyzer=analyzer)
    pipe.fit(list(docs), list(labels), clf__sample_weight=list(weights))
    scores = Model(pipe, {"config": config.to_dict()}).score_lines(list(test_docs), evidence=0)
    return [[s.p_cio, s.p_cto, s.p_neutral] for s in scores]


def posting_leanings(
    postings: Sequence[ExpandedPosting], proba_of: Any, margin: float
) -> list[str]:
    """Return each posting's leaning from its lines' probabilities (as `classify` would)."""
    out = []
    for p in postings:
        proba = proba_of(p.lines)
        scores = [
            LineScore(
                tag=LABELS[int(row.argmax())],
                p_cto=float(row[LABELS.index("CTO")]),
                p_cio=float(row[LABELS.index("CIO")]),
                p_neutral=float(row[LABELS.index("neutral")]),
            )
            for row in proba
        ]
        out.append(leaning_of(scores, margin)[0])
    return out


def leaning_metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Return accuracy and macro-F1 of posting leanings."""
    from sklearn.metrics import f1_score

    present = sorted(set(truth) | set(predicted))
    return {
        "n": len(truth),
        "accuracy": sum(t == p for t, p in zip(truth, predicted, strict=True)) / max(1, len(truth)),
        "macro_f1": float(
            f1_score(list(truth), list(predicted), labels=present, average="macro", zero_division=0)
        ),
    }


# ---------------------------------------------------------------- the whole run


def train_with_labels(
    labels: Sequence[LabelFile] = (),
    *,
    name: str | None = None,
    base: bool = True,
    weight: float = 1.0,
    folds: int = 5,
    holdout: LabelFile | None = None,
    force: bool = False,
    promote: bool = True,
    tolerance: float = TOLERANCE,
    config: Config | None = None,
    expansion: str = DEFAULT_EXPANSION,
    root: Path | None = None,
    progress: Progress | None = None,
    wait: float = LOCK_WAIT_S,
) -> RetrainResult:
    """Return the result of training on data/ plus the labels, compared with the active model.

    The new model is saved under NAME (never damaging an existing model) and becomes the
    active one when its macro-F1 on the same folds (and on the holdout) is within `tolerance`
    of the active model's, or with force=True; promote=False keeps it inactive.
    The registry's lock is held from reading which model is active to writing ACTIVE: a
    second run waits up to `wait` seconds (saying so through `progress`), then compares with
    whatever the first one made active, so what each run reports stays true.
    """
    say = progress or (lambda _msg: None)
    root = root or models_dir()
    config = config or Config()
    name = check_name(name or _default_name(labels))
    if folds == 1 or folds < 0:
        raise ClassifierError("--folds must be 0 (no comparison) or at least 2")
    with registry_lock(root, wait, say):
        return _train_locked(
            labels,
            name,
            base,
            weight,
            folds,
            holdout,
            force,
            promote,
            tolerance,
            config,
            expansion,
            root,
            say,
        )


def _train_locked(
    labels: Sequence[LabelFile],
    name: str,
    base: bool,
    weight: float,
    folds: int,
    holdout: LabelFile | None,
    force: bool,
    promote: bool,
    tolerance: float,
    config: Config,
    expansion: str,
    root: Path,
    say: Progress,
) -> RetrainResult:
    current = active_name(root)
    has_active = active_directory(root) is not None
    notes: list[str] = []
    base_samples = load_samples() if base or has_active else []

    expander = None
    if any(f.kind == POSTING for f in labels):
        if has_active:
            expander = load_model(str(root / current))
        else:
            say("no active model: fitting one on data/ to split the postings into lines")
            expander = train(base_samples or load_samples(), config)
    training = build_training_set(labels, base, weight, expander, expansion, base_samples)
    if training.base_overridden:
        notes.append(f"{training.base_overridden} built-in rows relabelled by your labels")
    new_recipe = Recipe(config, base, training.extra, float(weight))

    recipes = [new_recipe]
    if has_active:
        active_recipe, recipe_notes = recipe_of(root / current)
        notes.extend(recipe_notes)
        if _stale(read_card(root / current), active_recipe, base_samples):
            notes.append(f"{current!r} was trained on an older data/; refitted on today's")
        recipes.append(active_recipe)

    table: list[dict[str, Any]] = []
    fold_scores = None
    if folds:
        say(f"comparing on {folds} folds ({len(training.samples)} rows)")
        fold_scores = same_fold_probabilities(training, recipes, base_samples, folds, say)
        table = _cv_table(training, recipes, fold_scores)

    if holdout is not None:
        _check_holdout(holdout, training, labels)
    say(f"fitting the new model on {len(training.samples)} rows")
    model = train(training.samples, config, name=name, weights=training.weights)
    if holdout is not None:
        active_model = load_model(str(root / current)) if has_active else None
        table.extend(_holdout_rows(holdout, model, active_model))

    promoted, reason = _decide(table, has_active, current, folds, force, promote, tolerance)
    if name == current and has_active and not promoted:
        raise PromotionRefused(
            f"{name!r} is the active model and the new one would not replace it ({reason}); "
            "train under another --name, or pass --force"
        )
    model.card.update(
        metrics=_card_metrics(training, fold_scores) if fold_scores else {},
        training={
            "base": base,
            "base_sha256": samples_sha256(base_samples) if base else None,
            "labels": [f.summary() for f in labels],
            "weight": float(weight),
            "expansion": expansion if any(f.kind == POSTING for f in labels) else None,
            "extra_rows": len(training.extra),
            "base_rows_relabelled": training.base_overridden,
        },
        comparison={
            "against": current if has_active else None,
            "folds": folds,
            "tolerance": tolerance,
            "rows": [{k: _round(v) for k, v in row.items()} for row in table],
            "promoted": promoted,
            "reason": reason,
        },
    )
    extra_files = {LABELS_FILE: _rows_csv(training.extra)} if training.extra else None
    say(f"saving {name!r}")
    try:
        path = save_model(model, name, root, extra_files=extra_files)
    except OSError as e:
        raise ClassifierError(f"cannot save the model in {root}: {e.strerror or e}") from None
    if promoted:
        set_active(name, root)
    return RetrainResult(
        model, path, promoted, reason, current if has_active else None, table, training, notes
    )


def _stale(card: dict[str, Any], recipe: Recipe, base_samples: Sequence[Sample]) -> bool:
    """Return True when a plain data/ model was trained on other rows than today's data/."""
    trained_on = card.get("data_sha256")
    plain = recipe.base and not card.get("training")
    return bool(plain and trained_on and trained_on != samples_sha256(base_samples))


def _default_name(labels: Sequence[LabelFile]) -> str:
    if not labels:
        return "default"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", labels[0].path.stem).strip("-._")[:40] or "labels"
    return f"{stem}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def _cv_table(
    training: TrainingSet, recipes: Sequence[Recipe], scores: FoldScores
) -> list[dict[str, Any]]:
    """Return one row per slice: n, macro-F1 and accuracy of the new and active recipes."""
    slices: dict[str, list[Sample]] = {"all rows": list(training.samples)}
    if training.extra and len(training.extra) < len(training.samples):
        n_base = len(training.samples) - len(training.extra)
        slices[BUILTIN_SLICE] = list(training.samples[:n_base])
        slices["your labels"] = list(training.extra)
    by_lang: dict[str, list[Sample]] = defaultdict(list)
    for s in training.samples:
        by_lang[f"lang={s.lang or '?'}"].append(s)
    mine = {id(s) for s in training.extra}
    for key, rows in sorted(by_lang.items()):
        # a language slice that is exactly your rows would repeat "your labels"
        if len(by_lang) > 1 and not (len(rows) == len(mine) and all(id(s) in mine for s in rows)):
            slices[key] = rows
    table = []
    for key, samples in slices.items():
        texts = [s.text for s in samples]
        y = [s.label for s in samples]
        row: dict[str, Any] = {"slice": key, "n": len(samples), "kind": "cv"}
        for r_no, who in enumerate(["new", "active"][: len(recipes)]):
            m = metrics(y, scores.of(r_no, texts))
            row[f"{who}_f1"], row[f"{who}_acc"] = m["macro_f1"], m["accuracy"]
        table.append(row)
    if training.postings:
        truth = [p.label for p in training.postings]
        row = {"slice": "your postings", "n": len(truth), "kind": "cv"}
        for r_no, who in enumerate(["new", "active"][: len(recipes)]):
            predicted = posting_leanings(
                training.postings,
                lambda lines, r_no=r_no: scores.of(r_no, lines),
                recipes[r_no].config.margin,
            )
            m = leaning_metrics(truth, predicted)
            row[f"{who}_f1"], row[f"{who}_acc"] = m["macro_f1"], m["accuracy"]
        table.append(row)
    return table


def _check_holdout(holdout: LabelFile, training: TrainingSet, files: Sequence[LabelFile]) -> None:
    seen = {text_key(s.text) for s in training.samples}
    seen.update(text_key(line) for p in training.postings for line in p.lines)
    seen.update(text_key(r.text) for f in files for r in f.rows)
    clash = [r for r in holdout.rows if text_key(r.text) in seen]
    if clash:
        raise DataError(
            f"{len(clash)} holdout row(s) are also training rows (first: {clash[0].where}); "
            "a holdout must hold rows the model never sees"
        )


def _holdout_rows(holdout: LabelFile, new: Model, active: Model | None) -> list[dict[str, Any]]:
    import numpy as np

    row: dict[str, Any] = {"slice": f"holdout {holdout.path.name}", "n": len(holdout.rows)}
    row["kind"] = "holdout"
    truth = [r.label for r in holdout.rows]
    for who, model in (("new", new), ("active", active)):
        if model is None:
            continue
        if holdout.kind == POSTING:
            from .posting import classify_many

            results = classify_many([r.text for r in holdout.rows], model, evidence=0)
            predicted = [p.leaning if not isinstance(p, BadInput) else "neutral" for p in results]
            m = leaning_metrics(truth, predicted)
        else:
            scores = model.score_lines([r.text for r in holdout.rows], evidence=0)
            proba = np.array([[s.p_cio, s.p_cto, s.p_neutral] for s in scores])
            m = metrics(truth, proba)
        row[f"{who}_f1"], row[f"{who}_acc"] = m["macro_f1"], m["accuracy"]
    return [row]


def _decide(
    table: Sequence[dict[str, Any]],
    has_active: bool,
    current: str,
    folds: int,
    force: bool,
    promote: bool,
    tolerance: float,
) -> tuple[bool, str]:
    """Return (promote?, why): not worse than the active model on every compared slice."""
    if not promote:
        return False, "--no-promote: kept, not active"
    if not has_active:
        return True, "there was no active model"
    # Your own rows are judged by your own labels, which favours the model trained on them; the
    # built-in rows (when there are both) and a holdout are truth both models share.
    judged = BUILTIN_SLICE if any(r["slice"] == BUILTIN_SLICE for r in table) else "all rows"
    checked = [
        r for r in table if r["slice"] in {judged, "your postings"} or r["kind"] == "holdout"
    ]
    worse = [
        f"{r['slice']} macro-F1 {r['new_f1']:.3f} vs {r['active_f1']:.3f}"
        for r in checked
        if "active_f1" in r and r["new_f1"] < r["active_f1"] - tolerance
    ]
    if force:
        why = f"; worse on {', '.join(worse)}" if worse else ""
        return True, f"--force{why}"
    if not checked:
        return False, f"not compared with {current!r} (--folds 0); pass --force to make it active"
    if worse:
        return False, (
            f"worse than {current!r} by more than {tolerance}: {', '.join(worse)}; "
            f"kept, not active (`ciocto models use NAME` or --force to make it active)"
        )
    delta = checked[0]["new_f1"] - checked[0]["active_f1"]
    return True, f"not worse than {current!r} (macro-F1 {delta:+.3f} on {checked[0]['slice']})"


def _card_metrics(training: TrainingSet, scores: FoldScores) -> dict[str, Any]:
    def short(samples: Sequence[Sample]) -> dict[str, Any]:
        m = metrics([s.label for s in samples], scores.of(0, [s.text for s in samples]))
        return {
            k: round(m[k], 4) if k != "n" else m[k] for k in ("n", "accuracy", "macro_f1", "ece")
        }

    out: dict[str, Any] = {"cv_folds": scores.folds, "overall": short(training.samples)}
    if training.extra:
        out["your labels"] = short(training.extra)
    by_lang: dict[str, list[Sample]] = defaultdict(list)
    for s in training.samples:
        by_lang[f"lang={s.lang or '?'}"].append(s)
    out.update({k: short(v) for k, v in sorted(by_lang.items())})
    return out


def _round(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v
