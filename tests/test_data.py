"""The training data: enough lines per language and label, labelled, sourced, no near duplicates."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from classifier import load_samples
from classifier.data import DATA_COLUMNS, data_files
from classifier.evaluate import similar_pairs

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def samples():
    return load_samples()


def test_every_file_has_the_columns() -> None:
    for path in data_files(DATA):
        with open(path, encoding="utf-8", newline="") as f:
            assert tuple(csv.DictReader(f).fieldnames or ())[:5] == DATA_COLUMNS, path


def test_every_row_has_language_and_source(samples) -> None:
    assert {s.lang for s in samples} == {"en", "vi"}
    assert {s.source for s in samples} == {"article", "authored"}
    assert {s.variant for s in samples} <= {"", "mixed", "unaccented"}


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_each_language_has_enough_of_every_label(samples, lang: str) -> None:
    authored = [s for s in samples if s.lang == lang and s.source == "authored"]
    assert len(authored) >= 1500
    counts = Counter(s.label for s in authored)
    for label in ("CIO", "CTO", "neutral"):
        assert counts[label] / len(authored) >= 0.25, (lang, counts)


def test_mixed_and_unaccented_vietnamese(samples) -> None:
    variants = Counter(s.variant for s in samples if s.lang == "vi")
    assert variants["mixed"] >= 200
    assert variants["unaccented"] >= 200
    unaccented = [s.text for s in samples if s.variant == "unaccented"]
    assert sum(t.isascii() for t in unaccented) / len(unaccented) > 0.95


def test_no_near_duplicates(samples) -> None:
    texts = [s.text for s in samples]
    pairs = similar_pairs(texts, 0.8)
    shown = [f"{texts[i]!r} ~ {texts[j]!r} ({v:.2f})" for i, j, v in pairs[:5]]
    assert not pairs, "near-duplicate rows:\n" + "\n".join(shown)


def test_near_duplicate_check_can_fail() -> None:
    pairs = similar_pairs(["Manage the IT helpdesk team", "manage the IT Helpdesk team!", "x"], 0.8)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]


def test_article_sentences_cover_the_whole_article(samples) -> None:
    article = (DATA / "article" / "cto-vs-cio.vi.txt").read_text(encoding="utf-8")
    rows = [s.text for s in samples if s.source == "article"]
    assert re.sub(r"\s+", "", "".join(rows)) == re.sub(r"\s+", "", article)
    labels = Counter(s.label for s in samples if s.source == "article")
    assert labels["CIO"] >= 5 and labels["CTO"] >= 5
