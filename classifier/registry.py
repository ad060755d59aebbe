"""The model registry (models/): list the models, show one, switch the active one, remove one.

Switching is writing one small file (ACTIVE) atomically, so `use` is also the rollback; a model
is only made active after its file matches the checksum in its card. `use` and `remove` hold
the registry's lock, so they wait for a training run that is comparing or promoting. An ACTIVE
that is not a model name marks no model active here, so listing and `use` still work to fix it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ClassifierError, ModelIntegrityError, ModelNotFound, RegistryError
from .store import (
    CARD_FILE,
    LOCK_WAIT_S,
    MODEL_FILE,
    Progress,
    active_name,
    check_name,
    in_registry,
    models_dir,
    read_card,
    registry_lock,
    set_active,
    sha256_file,
)


@dataclass(frozen=True)
class ModelEntry:
    """One row of `ciocto models`: a model directory and what its card says."""

    name: str
    path: Path
    active: bool
    created: str = ""
    trained_on: str = ""
    macro_f1: float | None = None
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "active": self.active,
            "created": self.created,
            "trained_on": self.trained_on,
            "macro_f1": self.macro_f1,
            "problem": self.problem,
        }


class ActiveModelRemoval(ClassifierError):
    """The active model cannot be removed."""


def list_models(root: Path | None = None) -> list[ModelEntry]:
    """Return every model in the registry, newest first (unreadable ones say why)."""
    root = root or models_dir()
    if not root.is_dir():
        return []
    current = _active_or_none(root)
    out = []
    for path in root.iterdir():
        if path.name.startswith(".") or not path.is_dir():
            continue  # temporary folders of a save in progress, ACTIVE, README
        try:
            card = read_card(path)
        except ModelIntegrityError as e:
            out.append(ModelEntry(path.name, path, path.name == current, problem=str(e)))
            continue
        overall = card.get("metrics", {}).get("overall", {})
        out.append(
            ModelEntry(
                path.name,
                path,
                path.name == current,
                str(card.get("created", "")),
                describe_training(card),
                overall.get("macro_f1"),
            )
        )
    return sorted(out, key=lambda e: (e.created, e.name), reverse=True)


def _active_or_none(root: Path) -> str | None:
    """Return the active model's name, or None when ACTIVE is not a usable name."""
    try:
        return active_name(root)
    except RegistryError:
        return None


def describe_training(card: dict[str, Any]) -> str:
    """Return a short account of what a model was trained on ("data/ + bank.csv (40 rows)")."""
    training = card.get("training")
    if not isinstance(training, dict):
        return f"data/ ({card.get('n_samples', '?')} rows)"
    parts = ["data/"] if training.get("base", True) else []
    for f in training.get("labels", []):
        kind = " postings" if f.get("kind") == "posting" else ""
        parts.append(f"{f.get('file')} ({f.get('rows')}{kind})")
    weight = training.get("weight", 1.0)
    tail = f", weight {weight:g}" if weight != 1.0 and training.get("labels") else ""
    return " + ".join(parts) + tail


def find_model(name: str, root: Path | None = None) -> Path:
    """Return the directory of the registry model NAME, or raise ModelNotFound listing names."""
    root = root or models_dir()
    check_name(name)
    path = root / name
    if not path.is_dir():
        names = [e.name for e in list_models(root)]
        have = ", ".join(names) if names else "none; run `ciocto train`"
        raise ModelNotFound(f"no model named {name!r} in {root}; models: {have}")
    return path


def verify_model(directory: Path) -> dict[str, Any]:
    """Return the card of a model directory whose file matches its checksum, else raise."""
    card = read_card(directory)
    file = directory / MODEL_FILE
    if not file.is_file():
        raise ModelIntegrityError(f"{directory} has no {MODEL_FILE}")
    if card.get("model_sha256") != sha256_file(file):
        raise ModelIntegrityError(
            f"{file} does not match the checksum in its card: it was changed or replaced"
        )
    return card


def show_model(name: str, root: Path | None = None) -> dict[str, Any]:
    """Return a model's card with its path, whether it is active and whether its file checks."""
    root = root or models_dir()
    path = find_model(name, root)
    card = dict(read_card(path))
    try:
        verify_model(path)
        card["checksum"] = "ok"
    except ModelIntegrityError as e:
        card["checksum"] = str(e)
    card["path"] = str(path)
    card["active"] = name == _active_or_none(root)
    card["trained_on"] = describe_training(card)
    return card


def use_model(
    name: str,
    root: Path | None = None,
    *,
    wait: float = LOCK_WAIT_S,
    progress: Progress | None = None,
) -> str:
    """Make NAME the active model after checking its file; return the previously active name
    ("none" when ACTIVE was not a usable name)."""
    root = root or models_dir()
    with registry_lock(root, wait, progress):
        path = find_model(name, root)
        in_registry(name, root)
        verify_model(path)
        before = _active_or_none(root) or "none"
        set_active(name, root)
    return before


def remove_model(
    name: str,
    root: Path | None = None,
    *,
    wait: float = LOCK_WAIT_S,
    progress: Progress | None = None,
) -> Path:
    """Delete the model NAME (never the active one) and return where it was."""
    root = root or models_dir()
    with registry_lock(root, wait, progress):
        return _remove_locked(name, root)


def _remove_locked(name: str, root: Path) -> Path:
    path = find_model(name, root)
    if name == _active_or_none(root):
        raise ActiveModelRemoval(
            f"{name!r} is the active model; switch first (`ciocto models use OTHER`), then remove"
        )
    if not (path / CARD_FILE).exists() and not (path / MODEL_FILE).exists():
        raise ModelNotFound(f"{path} is not a model directory; remove it by hand if you meant to")
    # rename first, so the model disappears at once even if deleting the files is slow or fails
    trash = Path(tempfile.mkdtemp(dir=root, prefix=f".trash-{name}-"))
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return path
