"""Shared fixtures: one model trained on data/ per test session, in a private registry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from classifier import Model, load_samples, save_model, train

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models/ folder holding `default`, trained once on the built-in data."""
    root = tmp_path_factory.mktemp("models")
    save_model(train(load_samples(), name="default"), "default", root)
    os.environ["CIOCTO_MODELS"] = str(root)
    return root


@pytest.fixture(scope="session")
def model(models_root: Path) -> Model:
    from classifier import load_model

    return load_model(str(models_root / "default"))


@pytest.fixture
def example() -> object:
    """Return the text of a built-in example posting by file name."""

    def read(name: str) -> str:
        return (EXAMPLES / name).read_text(encoding="utf-8")

    return read
