"""Compare model configurations by grouped cross-validation (and optionally on real postings).

    python bench/compare_configs.py [--postings labelled.jsonl]

Prints one row per configuration: line macro-F1 overall, per language and variant, ECE, and,
with --postings, posting-level balanced accuracy per language of a model trained on all data.
This is how the defaults in classifier/config.py were chosen (see README).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from classifier import Config, cross_validate, evaluate_postings, load_samples, read_postings, train
from classifier.features import build_pipeline

BASE = Config()
CANDIDATES = {
    "word 1-gram": replace(BASE, word_ngrams=(1, 1)),
    "word 1-2, C=30 (default)": BASE,
    "word 1-3": replace(BASE, word_ngrams=(1, 3)),
    "word 1-2 + accented view": replace(BASE, accents="both"),
    "word 1-2 + char 2-5": replace(BASE, char_ngrams=(2, 5)),
    "word 1-2, no stop words": replace(BASE, stop_words=True),
    "word 1-2, no short-line feature": replace(BASE, short_lines=False),
    "word 1-2, C=1": replace(BASE, C=1.0),
    "word 1-2, C=10": replace(BASE, C=10.0),
    "word 1-2, C=100": replace(BASE, C=100.0),
    "word 1-2, unweighted classes": replace(BASE, class_weight=None),
}


class TwoStage(ClassifierMixin, BaseEstimator):
    """A neutral-vs-signal gate, then CIO-vs-CTO on signal lines: the other class set."""

    def __init__(self, C: float = 30.0) -> None:
        self.C = C

    def fit(self, X, y):
        y = np.asarray(y)
        lr = dict(C=self.C, class_weight="balanced", max_iter=5000, random_state=0)
        self.gate_ = LogisticRegression(**lr).fit(X, y == "neutral")
        signal = y != "neutral"
        self.side_ = LogisticRegression(**lr).fit(X[signal], y[signal])
        self.classes_ = np.array(["CIO", "CTO", "neutral"])
        return self

    def predict_proba(self, X):
        p_neutral = self.gate_.predict_proba(X)[:, list(self.gate_.classes_).index(True)]
        p_cto = self.side_.predict_proba(X)[:, list(self.side_.classes_).index("CTO")]
        return np.column_stack([(1 - p_neutral) * (1 - p_cto), (1 - p_neutral) * p_cto, p_neutral])


def with_classifier(make_clf):
    """Return a pipeline factory: the product's features, another classifier on top."""

    def make(config: Config) -> Pipeline:
        features = build_pipeline(config).named_steps["features"]
        return Pipeline([("features", features), ("clf", make_clf(config))])

    return make


ALTERNATIVES = {
    "two-stage: neutral gate, then CIO vs CTO": with_classifier(lambda c: TwoStage(C=c.C)),
    "3-class, sigmoid-calibrated (3-fold)": with_classifier(
        lambda c: CalibratedClassifierCV(
            LogisticRegression(C=c.C, class_weight="balanced", max_iter=5000, random_state=0),
            method="sigmoid",
            cv=3,
        )
    ),
}


def run(name: str, config: Config, samples, postings) -> dict:
    t = time.perf_counter()
    report = cross_validate(samples, config, folds=5, make_pipeline=ALTERNATIVES.get(name))
    row = {"name": name, "cv_s": time.perf_counter() - t, "overall": report["overall"]}
    row.update(report["slices"])
    if postings and name not in ALTERNATIVES:
        row["postings"] = evaluate_postings(postings, train(samples, config))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=Path)
    parser.add_argument("--only", nargs="*", help="names of candidates to run")
    args = parser.parse_args()
    samples = load_samples()
    postings = read_postings(args.postings) if args.postings else None
    candidates = {**CANDIDATES, **{name: BASE for name in ALTERNATIVES}}
    chosen = {k: v for k, v in candidates.items() if not args.only or k in args.only}
    rows = Parallel(n_jobs=2)(delayed(run)(k, v, samples, postings) for k, v in chosen.items())
    head = f"{'config':42}{'F1 all':>7}{'en':>7}{'vi':>7}{'unacc':>7}{'mixed':>7}{'ECE':>7}"
    if postings:
        head += f"{'post en':>9}{'post vi':>9}"
    print(f"{len(samples)} lines, grouped 5-fold CV (line macro-F1)")
    print(head)
    for r in rows:
        line = f"{r['name']:42}{r['overall']['macro_f1']:7.3f}"
        for key in ("lang=en", "lang=vi", "variant=unaccented", "variant=mixed"):
            line += f"{r[key]['macro_f1']:7.3f}" if key in r else f"{'-':>7}"
        line += f"{r['overall']['ece']:7.3f}"
        if postings:
            for lang in ("en", "vi"):
                m = r.get("postings", {}).get(lang)
                line += f"{m['balanced_accuracy']:9.3f}" if m else f"{'-':>9}"
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
