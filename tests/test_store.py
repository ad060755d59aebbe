"""Models on disk: a model loads only when it matches its card; saving never damages a model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from classifier import ModelIntegrityError, ModelNotFound, load_model, save_model
from classifier.store import read_card


@pytest.fixture
def registry(models_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(models_root, root)
    return root


def test_the_card_says_what_the_model_is(registry: Path) -> None:
    card = read_card(registry / "default")
    assert card["labels"] == ["CIO", "CTO", "neutral"]
    assert len(card["data_sha256"]) == 64 and len(card["model_sha256"]) == 64
    assert {"scikit-learn", "spacy", "ciocto", "python"} <= set(card["versions"])
    assert card["config"]["word_ngrams"] == [1, 2]


def test_a_tampered_model_file_is_refused(registry: Path) -> None:
    path = registry / "default" / "model.joblib"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="checksum"):
        load_model(str(registry / "default"))


def test_a_model_without_card_is_refused_unless_trusted(registry: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    shutil.copy(registry / "default" / "model.joblib", foreign / "model.joblib")
    with pytest.raises(ModelIntegrityError, match="card"):
        load_model(str(foreign / "model.joblib"))
    assert load_model(str(foreign), trust=True).score_lines(["Lead engineers"])[0].tag


def test_a_card_from_elsewhere_is_refused(registry: Path) -> None:
    card = registry / "default" / "card.json"
    card.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelIntegrityError):
        load_model(str(registry / "default"))


def test_a_missing_model_says_how_to_make_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIOCTO_MODELS", str(tmp_path))
    with pytest.raises(ModelNotFound, match="ciocto train"):
        load_model()
    with pytest.raises(ModelNotFound):
        load_model("no-such-model")


def test_a_failed_save_leaves_the_existing_model_untouched(
    registry: Path, model, monkeypatch
) -> None:
    before = (registry / "default" / "model.joblib").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("joblib.dump", boom)
    with pytest.raises(OSError):
        save_model(model, "default", registry)
    assert (registry / "default" / "model.joblib").read_bytes() == before
    assert not [p for p in registry.iterdir() if p.name.startswith(".tmp")]
    assert load_model(str(registry / "default")).name == "default"
