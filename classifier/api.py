"""The functions a notebook user calls: train the default model, load it, classify text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Config
from .data import Sample, load_samples
from .evaluate import cross_validate
from .model import Model, train
from .store import save_model


def train_default(
    name: str = "default",
    config: Config | None = None,
    samples: Sequence[Sample] | None = None,
    folds: int = 5,
    root: Path | None = None,
) -> tuple[Model, Path]:
    """Return a model trained on the built-in data (cross-validated into its card) and its path."""
    samples = list(samples) if samples is not None else load_samples()
    config = config or Config()
    report = cross_validate(samples, config, folds) if folds > 1 else {}
    model = train(samples, config, name=name)
    model.card["metrics"] = _summary(report)
    return model, save_model(model, name, root)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    if not report:
        return {}
    out = {"cv_folds": report["folds"], "overall": _short(report["overall"])}
    out.update({k: _short(v) for k, v in report["slices"].items()})
    return out


def _short(m: dict[str, Any]) -> dict[str, float]:
    return {
        "n": m["n"],
        "accuracy": round(m["accuracy"], 4),
        "macro_f1": round(m["macro_f1"], 4),
        "ece": round(m["ece"], 4),
    }
