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

from joblib import Parallel, delayed

from classifier import Config, cross_validate, evaluate_postings, load_samples, read_postings, train

BASE = Config()
CANDIDATES = {
    "word 1-gram": replace(BASE, word_ngrams=(1, 1)),
    "word 1-2, C=30 (default)": BASE,
    "word 1-3": replace(BASE, word_ngrams=(1, 3)),
    "word 1-2 + accented view": replace(BASE, accents="both"),
    "word 1-2 + char 2-5": replace(BASE, char_ngrams=(2, 5)),
    "word 1-2, no stop words": replace(BASE, stop_words=True),
    "word 1-2, C=1": replace(BASE, C=1.0),
    "word 1-2, C=10": replace(BASE, C=10.0),
    "word 1-2, C=100": replace(BASE, C=100.0),
    "word 1-2, unweighted classes": replace(BASE, class_weight=None),
}


def run(name: str, config: Config, samples, postings) -> dict:
    t = time.perf_counter()
    report = cross_validate(samples, config, folds=5)
    row = {"name": name, "cv_s": time.perf_counter() - t, "overall": report["overall"]}
    row.update(report["slices"])
    if postings:
        row["postings"] = evaluate_postings(postings, train(samples, config))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=Path)
    parser.add_argument("--only", nargs="*", help="names of candidates to run")
    args = parser.parse_args()
    samples = load_samples()
    postings = read_postings(args.postings) if args.postings else None
    chosen = {k: v for k, v in CANDIDATES.items() if not args.only or k in args.only}
    rows = Parallel(n_jobs=2)(delayed(run)(k, v, samples, postings) for k, v in chosen.items())
    head = f"{'config':28}{'F1 all':>7}{'en':>7}{'vi':>7}{'unacc':>7}{'mixed':>7}{'ECE':>7}"
    if postings:
        head += f"{'post en':>9}{'post vi':>9}"
    print(f"{len(samples)} lines, grouped 5-fold CV (line macro-F1)")
    print(head)
    for r in rows:
        line = f"{r['name']:28}{r['overall']['macro_f1']:7.3f}"
        for key in ("lang=en", "lang=vi", "variant=unaccented", "variant=mixed"):
            line += f"{r[key]['macro_f1']:7.3f}" if key in r else f"{'-':>7}"
        line += f"{r['overall']['ece']:7.3f}"
        if postings:
            for lang in ("en", "vi"):
                m = r["postings"].get(lang)
                line += f"{m['balanced_accuracy']:9.3f}" if m else f"{'-':>9}"
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
