"""Label review (confident learning) and suggestions of what to label next."""

from __future__ import annotations

import csv
import random
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from classifier import DataError, Model, load_samples, read_labels, review_labels, suggest_lines
from classifier.cli import main
from classifier.evaluate import token_set
from classifier.labels import text_key
from classifier.review import confident_issues, suggestions_csv

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
FLIP = {"CIO": "CTO", "CTO": "neutral", "neutral": "CIO"}


def test_confident_issues_flags_only_confident_disagreement() -> None:
    labels = ["CIO", "CIO", "CTO", "CTO", "neutral", "neutral", "CIO"]
    proba = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.7, 0.2, 0.1],
            [0.1, 0.8, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.1, 0.8],
            [0.2, 0.1, 0.7],
            [0.05, 0.9, 0.05],  # labelled CIO, the model is sure it is CTO
        ]
    )
    assert confident_issues(labels, proba) == [(6, "CTO", pytest.approx(0.85))]
    unsure = proba.copy()
    unsure[6] = [0.3, 0.4, 0.3]  # disagrees, but below the CTO threshold: not flagged
    assert confident_issues(labels, unsure) == []


def test_review_labels_finds_labels_flipped_on_purpose(tmp_path: Path) -> None:
    rows = load_samples()
    random.Random(0).shuffle(rows)
    chosen = [s for lab in FLIP for s in [r for r in rows if r.label == lab][:60]]
    flipped = set(random.Random(1).sample(range(len(chosen)), 9))
    path = tmp_path / "mine.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i, s in enumerate(chosen):
            writer.writerow([s.text, FLIP[s.label] if i in flipped else s.label])
    suspects = review_labels([read_labels(path)], folds=3)
    rows_found = [int(s.where.rsplit(":", 1)[1]) - 2 for s in suspects]
    hits = [i in flipped for i in rows_found]
    assert sum(hits) >= 6, f"found {sum(hits)} of 9 flipped labels"
    assert sum(hits) / len(hits) >= 0.7, f"{len(hits) - sum(hits)} false alarms"
    for s in suspects:
        assert s.where.startswith(str(path)) and s.p_suggested > s.p_label
        i = int(s.where.rsplit(":", 1)[1]) - 2
        if i in flipped:
            assert s.suggested == chosen[i].label  # it also says what the label should be

    # without data/ the folds are small and weaker, but the CLI writes what the library finds
    alone = review_labels([read_labels(path)], base=False, folds=3)
    out = tmp_path / "suspects.csv"
    result = CliRunner().invoke(
        main, ["review-labels", "--labels", str(path), "--no-base", "--folds", "3", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    back = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["text"], r["label"], r["suggested"]) for r in back] == [
        (s.text, s.label, s.suggested) for s in alone
    ]
    assert list(back[0]) == ["text", "label", "suggested", "p_label", "p_suggested", "where"]
    table = CliRunner().invoke(
        main, ["review-labels", "--labels", str(path), "--no-base", "--folds", "3", "-n", "2"]
    )
    assert table.stdout.startswith(f"{len(alone)} rows look mislabelled (showing 2)\n")
    assert len(table.stdout.splitlines()) == 4


def test_review_refuses_posting_labels(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("text,label\nA whole posting,CIO\n")
    with pytest.raises(DataError, match="checks line labels"):
        review_labels([read_labels(path, posting=True)])


def listings_csv(tmp_path: Path) -> Path:
    path = tmp_path / "listings.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "description"])
        for example in sorted(EXAMPLES.glob("*_*_*.*")):
            writer.writerow([example.stem, example.read_text(encoding="utf-8")])
        writer.writerow(["copy", (EXAMPLES / "en_cto_saas.txt").read_text(encoding="utf-8")])
    return path


def test_suggest_returns_uncertain_lines_without_near_duplicates(
    tmp_path: Path, model: Model
) -> None:
    from classifier.labels import read_texts

    listings = read_texts(listings_csv(tmp_path), "description")
    known = [s.text for s in load_samples()]
    chosen = suggest_lines(listings, model, n=12, known=known)
    assert len(chosen) == 12
    margins = [g.margin for g in chosen]
    assert margins == sorted(margins)
    everything = suggest_lines(listings, model, n=10_000, known=known)
    assert len(everything) > 12  # so there was a choice to make
    assert max(margins) <= np.median([g.margin for g in everything])
    for a, b in combinations(chosen, 2):
        ta, tb = token_set(a.text), token_set(b.text)
        assert len(ta & tb) / len(ta | tb) < 0.5, (a.text, b.text)
    known_keys = {text_key(t) for t in known}
    assert not [g for g in everything if text_key(g.text) in known_keys]
    assert len({text_key(g.text) for g in everything}) == len(everything)  # the copy adds none


def test_suggestions_go_back_into_train_once_labelled(tmp_path: Path, model: Model) -> None:
    out = tmp_path / "to_label.csv"
    result = CliRunner().invoke(
        main, ["suggest", str(listings_csv(tmp_path)), "--text-column", "description",
               "-n", "5", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 5 lines to" in result.output
    with pytest.raises(DataError, match="to_label.csv:2: no label; fill in"):
        read_labels(out)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["label"] for r in rows] == [""] * 5
    for r in rows:
        r["label"] = "neutral"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert len(read_labels(out).rows) == 5
    assert suggestions_csv([]).startswith("text,label,")
