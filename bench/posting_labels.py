"""Measure how posting-level labels should become line labels (README "Posting-level labels").

Synthetic postings are assembled from held-out data/ lines whose true labels are known: a CIO
or CTO posting has 6 lines of its role, 1 line of the other role and 6 neutral lines; a neutral
posting has 8 neutral lines. Only the posting's label is given to the expansion. Each strategy
trains on the seed lines + the expanded lines and is scored on untouched test lines (line
macro-F1) and on synthetic test postings (leaning accuracy). Two scenarios:

  same:     seed, pool and test are disjoint groups of all data/ lines (40/40/20)
  new-lang: the seed is the English lines only; pool and test are Vietnamese lines, so the
            postings bring vocabulary the seed model has never seen

Run: .venv/bin/python bench/posting_labels.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections import defaultdict

import numpy as np

from classifier import classify_many, load_samples, train
from classifier.evaluate import metrics, near_duplicate_groups
from classifier.labels import LabelledRow
from classifier.retrain import EXPANSIONS, expand_postings

SIGNAL, OTHER, NEUTRAL, NEUTRAL_POSTING = 6, 1, 6, 8


def split_groups(samples, fractions, rng):
    groups = near_duplicate_groups([s.text for s in samples])
    ids = sorted(set(groups))
    rng.shuffle(ids)
    cuts = np.cumsum([int(f * len(ids)) for f in fractions[:-1]])
    parts = np.split(np.array(ids), cuts)
    where = {g: k for k, part in enumerate(parts) for g in part}
    out = [[] for _ in fractions]
    for s, g in zip(samples, groups, strict=True):
        out[where[g]].append(s)
    return out


def make_postings(lines, rng):
    by = defaultdict(list)
    for s in lines:
        by[s.label].append(s)
    for v in by.values():
        rng.shuffle(v)
    postings = []
    other = {"CIO": "CTO", "CTO": "CIO"}
    while True:
        label = rng.choice(["CIO", "CTO", "CIO", "CTO", "neutral"])
        if label == "neutral":
            need = {"neutral": NEUTRAL_POSTING}
        else:
            need = {label: SIGNAL, other[label]: OTHER, "neutral": NEUTRAL}
        if any(len(by[k]) < n for k, n in need.items()):
            break
        chosen = [by[k].pop() for k, n in need.items() for _ in range(n)]
        rng.shuffle(chosen)
        postings.append((label, chosen))
    return postings


def posting_rows(postings):
    return [
        LabelledRow("\n".join(s.text for s in lines), label, lines[0].lang, f"synthetic:{i}")
        for i, (label, lines) in enumerate(postings)
    ]


def score(model, test_lines, test_postings):
    scores = model.score_lines([s.text for s in test_lines], evidence=0)
    proba = np.array([[x.p_cio, x.p_cto, x.p_neutral] for x in scores])
    line_f1 = metrics([s.label for s in test_lines], proba)["macro_f1"]
    rows = posting_rows(test_postings)
    leanings = [p.leaning for p in classify_many([r.text for r in rows], model, evidence=0)]
    acc = float(np.mean([r.label == p for r, p in zip(rows, leanings, strict=True)]))
    return line_f1, acc


def run(scenario, seed):
    rng = random.Random(seed)
    samples = load_samples()
    if scenario == "same":
        seed_lines, pool, test = split_groups(samples, [0.4, 0.4, 0.2], rng)
    else:
        seed_lines = [s for s in samples if s.lang == "en"]
        pool, test = split_groups([s for s in samples if s.lang == "vi"], [0.5, 0.5], rng)
    train_postings = make_postings(pool, rng)
    test_postings = make_postings(test, rng)
    seed_model = train(seed_lines)
    used = [s for _, lines in train_postings for s in lines]
    results = {
        "seed lines only": score(seed_model, test, test_postings),
        "oracle line labels": score(train(seed_lines + used), test, test_postings),
    }
    rows = posting_rows(train_postings)
    for strategy in EXPANSIONS:
        expanded, _ = expand_postings(rows, seed_model, strategy)
        results[strategy] = score(train(seed_lines + expanded), test, test_postings)
        if strategy == "signal":
            # one more round: re-split the postings with the model trained on the first round
            m1 = train(seed_lines + expanded)
            again, _ = expand_postings(rows, m1, strategy)
            results["signal, 2nd round"] = score(train(seed_lines + again), test, test_postings)
    return results, len(train_postings), len(test_postings), len(test)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    for scenario in ("same", "new-lang"):
        table = defaultdict(list)
        sizes = None
        for seed in range(args.seeds):
            results, n_train, n_test, n_lines = run(scenario, seed)
            sizes = (n_train, n_test, n_lines)
            for k, v in results.items():
                table[k].append(v)
        print(
            f"\nscenario {scenario}: {sizes[0]} training postings, {sizes[1]} test postings, "
            f"{sizes[2]} test lines; mean (min-max) over {args.seeds} seeds"
        )
        print(f"{'strategy':22}{'line macro-F1':>24}{'posting accuracy':>24}")
        for k, v in table.items():
            f1 = [a for a, _ in v]
            acc = [b for _, b in v]
            print(
                f"{k:22}{statistics.mean(f1):10.3f} ({min(f1):.3f}-{max(f1):.3f})"
                f"{statistics.mean(acc):10.3f} ({min(acc):.3f}-{max(acc):.3f})"
            )


if __name__ == "__main__":
    main()
