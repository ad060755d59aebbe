"""Training with new labels: new phrasing is learnt, regressions wait, the registry survives."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier import DataError, Model, Sample, classify, load_model, load_samples, read_labels
from classifier.cli import main
from classifier.labels import LabelFile
from classifier.retrain import (
    PromotionRefused,
    build_training_set,
    expand_postings,
    recipe_of,
    train_with_labels,
)
from classifier.store import active_name

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
NEW_PHRASING = [
    ("Florp the zibbet quaddles for every branch office", "CIO"),
    ("Keep the zibbet quaddles florped and patched", "CIO"),
    ("Florp zibbet quaddles before the monthly audit", "CIO"),
    ("Wozzle grintak snarfs into the customer app", "CTO"),
    ("Ship wozzled grintak snarfs to paying users", "CTO"),
    ("Design the grintak snarf wozzling for our platform customers", "CTO"),
]

# enough for a model on its own (--no-base), so the tests about the registry stay fast
SMALL = [*NEW_PHRASING, ("Free lunch every Friday", "neutral"), ("Apply with your CV", "neutral")]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def registry(models_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the session registry (default, active)."""
    root = tmp_path / "models"
    shutil.copytree(models_root, root)
    monkeypatch.setenv("CIOCTO_MODELS", str(root))
    return root


def real_lines(per_class: int, skip: int = 0, seed: int = 0) -> list[Sample]:
    """Return per_class built-in lines of each label (shuffled, after `skip` of each)."""
    rows = load_samples()
    random.Random(seed).shuffle(rows)
    out = []
    for label in ("CIO", "CTO", "neutral"):
        out += [s for s in rows if s.label == label][skip : skip + per_class]
    return out


def test_new_phrasing_changes_the_tags_of_those_phrases(registry: Path, model: Model) -> None:
    # sentences: a line of up to six words with no sentence end carries the header marker
    unseen = ["Zibbet quaddles, florp zibbets!", "Grintak snarfs wozzle grintaks."]
    assert [s.tag for s in model.score_lines(unseen)] == ["neutral", "neutral"]
    labels = read_labels(write_csv(registry.parent / "mine.csv", NEW_PHRASING))
    result = train_with_labels([labels], name="zorb", folds=0, weight=3, root=registry)
    assert not result.promoted and "not compared" in result.reason
    assert active_name(registry) == "default"
    new = load_model(str(registry / "zorb"))
    assert [s.tag for s in new.score_lines(unseen)] == ["CIO", "CTO"]
    card = new.card
    assert card["training"]["labels"][0]["rows"] == 6 and card["training"]["weight"] == 3
    assert card["n_samples"] == len(load_samples()) + 6
    # the model keeps its own rows, so it can be refitted later as the active model
    recipe, notes = recipe_of(registry / "zorb")
    assert [s.text for s in recipe.extra] == [t for t, _ in NEW_PHRASING] and not notes
    (registry / "zorb" / "training_labels.csv").write_text("text,label\nx,CIO\n")
    assert "changed" in recipe_of(registry / "zorb")[1][0]


def synthetic_postings(path: Path, per_label: int) -> Path:
    """Write postings (JSON Lines: description, role) assembled from built-in lines."""
    rows = load_samples()
    random.Random(1).shuffle(rows)
    pools = {lab: [s.text for s in rows if s.label == lab] for lab in ("CIO", "CTO", "neutral")}
    other = {"CIO": "CTO", "CTO": "CIO"}
    with open(path, "w", encoding="utf-8") as f:
        for i in range(per_label * 2):
            role = "CIO" if i % 2 else "CTO"
            lines = [pools[role].pop() for _ in range(6)] + [pools[other[role]].pop()]
            lines += [pools["neutral"].pop() for _ in range(5)]
            random.Random(i).shuffle(lines)
            f.write(json.dumps({"description": "\n".join(lines), "role": role}) + "\n")
        for _ in range(per_label // 2):
            lines = [pools["neutral"].pop() for _ in range(8)]
            f.write(json.dumps({"description": "\n".join(lines), "role": "none"}) + "\n")
    return path


def test_posting_level_labels_train_a_usable_model(registry: Path) -> None:
    path = synthetic_postings(registry.parent / "postings.jsonl", per_label=25)
    labels = read_labels(path, posting=True, text_column="description", label_column="role")
    result = train_with_labels([labels], name="from-postings", base=False, folds=0, root=registry)
    training = result.model.card["training"]
    assert training["expansion"] == "signal" and training["labels"][0]["kind"] == "posting"
    n_lines = sum(len(p.lines) for p in result.training.postings)
    assert 0 < training["extra_rows"] < n_lines  # lines the old model calls neutral are left out
    expected = {"en_neutral_generic.txt": "neutral"}
    right = 0
    for example in sorted(EXAMPLES.glob("*_*_*.*")):
        want = expected.get(example.name, example.name.split("_")[1].upper())
        right += classify(example.read_text(encoding="utf-8"), result.model).leaning == want
    assert right >= 8, f"only {right}/10 example postings right"


def test_posting_expansion_strategies(model: Model) -> None:
    posting = "Requirements\nLead our engineering team and own the product architecture\n"
    row = read_labels_row(posting, "CTO")
    by = {s: expand_postings([row], model, s)[0] for s in ("signal", "signal-neutral", "all")}
    assert [(s.text, s.label) for s in by["signal"]] == [
        ("Lead our engineering team and own the product architecture", "CTO")
    ]
    assert [s.label for s in by["signal-neutral"]] == ["neutral", "CTO"]
    assert [s.label for s in by["all"]] == ["CTO", "CTO"]
    neutral = expand_postings([read_labels_row(posting, "neutral")], model, "signal")[0]
    assert [s.label for s in neutral] == ["neutral", "neutral"]
    with pytest.raises(DataError, match="p.csv:2: .*empty"):
        expand_postings([read_labels_row("   \n ", "CIO")], model)


def read_labels_row(text: str, label: str):  # type: ignore[no-untyped-def]
    from classifier.labels import LabelledRow

    return LabelledRow(text, label, "en", "p.csv:2")


def test_user_rows_replace_built_in_rows_and_files_must_agree(tmp_path: Path) -> None:
    base = [Sample("Run the helpdesk", "CIO"), Sample("Ship the app", "CTO")]
    mine = read_labels(write_csv(tmp_path / "a.csv", [("run the HELPDESK", "neutral")]))
    same = read_labels(write_csv(tmp_path / "b.csv", [("Ship the app", "CTO")]))
    t = build_training_set([mine, same], base=True, weight=2, base_samples=base)
    assert [(s.text, s.label) for s in t.samples] == [
        ("run the HELPDESK", "neutral"),
        ("Ship the app", "CTO"),
    ]
    assert t.weights == (2.0, 2.0) and t.base_overridden == 1 and t.base_duplicates == 1
    clash = read_labels(write_csv(tmp_path / "c.csv", [("Run the helpdesk", "CIO")]))
    with pytest.raises(DataError, match=r"c.csv:2 labels 'Run the helpdesk' CIO, but .*a.csv:2"):
        build_training_set([mine, clash], base_samples=base)
    with pytest.raises(DataError, match="--weight must be positive"):
        build_training_set([mine], weight=0, base_samples=base)
    with pytest.raises(DataError, match="nothing to train on"):
        build_training_set([], base=False)


def small_files(tmp_path: Path) -> tuple[LabelFile, LabelFile]:
    """Return good labels (real lines) and noise (other real lines, labels shuffled)."""
    good = [(s.text, s.label) for s in real_lines(60)]
    rng = random.Random(0)
    noise = [(s.text, rng.choice(["CIO", "CTO", "neutral"])) for s in real_lines(60, skip=60)]
    return (
        read_labels(write_csv(tmp_path / "good.csv", good)),
        read_labels(write_csv(tmp_path / "noise.csv", noise)),
    )


def test_a_regression_is_not_promoted_without_force(tmp_path: Path) -> None:
    root = tmp_path / "models"
    good, noise = small_files(tmp_path)
    first = train_with_labels([good], name="good", base=False, folds=0, root=root)
    assert first.promoted and first.reason == "there was no active model"

    worse = train_with_labels([good, noise], name="noisy", base=False, folds=3, weight=3, root=root)
    row = worse.table[0]
    assert row["slice"] == "all rows" and row["new_f1"] < row["active_f1"] - 0.005
    assert not worse.promoted and worse.reason.startswith("worse than 'good'")
    assert active_name(root) == "good" and (root / "noisy" / "card.json").exists()
    assert load_model(str(root / "noisy")).card["comparison"]["promoted"] is False

    before = snapshot(root / "good")
    with pytest.raises(PromotionRefused, match="'good' is the active model"):
        train_with_labels([good, noise], name="good", base=False, folds=3, weight=3, root=root)
    assert snapshot(root / "good") == before and active_name(root) == "good"

    forced = train_with_labels(
        [good, noise], name="noisy", base=False, folds=3, weight=3, force=True, root=root
    )
    assert forced.promoted and forced.reason.startswith("--force; worse on all rows")
    assert active_name(root) == "noisy"


def test_a_holdout_must_be_unseen_and_is_compared(tmp_path: Path) -> None:
    root = tmp_path / "models"
    good, _ = small_files(tmp_path)
    train_with_labels([good], name="good", base=False, folds=0, root=root)
    with pytest.raises(DataError, match="holdout row.* are also training rows"):
        train_with_labels([good], name="again", base=False, folds=0, holdout=good, root=root)
    holdout = read_labels(
        write_csv(tmp_path / "h.csv", [(s.text, s.label) for s in real_lines(10, skip=200)])
    )
    result = train_with_labels(
        [good], name="again", base=False, folds=0, holdout=holdout, root=root
    )
    (row,) = result.table
    assert row["slice"] == "holdout h.csv" and row["n"] == 30
    assert row["new_f1"] == pytest.approx(row["active_f1"])  # same recipe, same model
    assert result.promoted


@pytest.mark.parametrize("where", ["fit", "dump", "first-rename", "second-rename"])
def test_an_interrupted_training_leaves_the_registry_intact(
    registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    labels = read_labels(write_csv(tmp_path / "mine.csv", SMALL))
    before = snapshot(registry)

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    if where == "fit":
        monkeypatch.setattr("classifier.retrain.train", interrupt)
    elif where == "dump":
        monkeypatch.setattr("joblib.dump", interrupt)
    else:  # as the old model is moved aside, or after that, before the new one is moved in
        import os

        real, calls = os.replace, []
        stop_at = 1 if where == "first-rename" else 2

        def replace(src: object, dst: object) -> None:
            calls.append(dst)
            if len(calls) == stop_at:
                raise KeyboardInterrupt
            real(src, dst)  # type: ignore[arg-type]

        monkeypatch.setattr("classifier.store.os.replace", replace)
    with pytest.raises(KeyboardInterrupt):
        train_with_labels([labels], name="default", base=False, folds=0, force=True, root=registry)
    assert snapshot(registry) == before
    assert not [p for p in registry.iterdir() if p.name.startswith(".")]
    assert load_model().name == "default"


def test_the_cli_trains_default_without_arguments_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIOCTO_MODELS", str(tmp_path / "models"))
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--folds", "0"])
    assert result.exit_code == 0, result.output
    assert "Active model: default (there was no active model)" in result.output
    assert active_name(tmp_path / "models") == "default"

    labels = str(write_csv(tmp_path / "mine.csv", SMALL))
    small = ["train", "--labels", labels, "--no-base", "--folds", "0"]
    result = runner.invoke(main, [*small, "--no-promote"])
    assert result.exit_code == 0, result.output
    assert "Read 8 lines from" in result.output
    assert "Not made active: --no-promote" in result.output
    assert active_name(tmp_path / "models") == "default"

    monkeypatch.setattr("joblib.dump", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    result = runner.invoke(main, small)
    assert result.exit_code == 130 and "Interrupted." in result.output
    assert "Traceback" not in result.output


def test_two_concurrent_trains_take_turns_and_report_what_is_true(
    registry: Path, tmp_path: Path
) -> None:
    labels = str(tmp_path / "good.csv")
    small_files(tmp_path)  # real lines, enough for 2 folds without data/
    command = "from classifier.cli import main; main()"
    env = dict(os.environ, CIOCTO_MODELS=str(registry))
    runs = {
        name: subprocess.Popen(
            [sys.executable, "-c", command, "train", "--labels", labels, "--no-base"]
            + ["--folds", "2", "--force", "--name", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    }
    outputs = {name: run.communicate(timeout=300) for name, run in runs.items()}
    against = {}
    for name, (out, err) in outputs.items():
        assert runs[name].returncode == 0, err
        assert f"Active model: {name} (--force" in out
        (against[name],) = re.findall(r"New model vs the active model '([^']+)'", out)
    # one ran first against default; the other waited, then compared with what it left active
    earlier, later = sorted(against, key=lambda n: against[n] != "default")
    assert against == {earlier: "default", later: earlier}
    assert "waiting for another train" in outputs[later][1]
    assert active_name(registry) == later
    assert load_model(str(registry / earlier)).card["comparison"]["against"] == "default"
    assert load_model(str(registry / later)).card["comparison"]["against"] == earlier
