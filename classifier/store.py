"""Models on disk: one directory per model (model.joblib + card.json), a registry, safe loading.

Unpickling runs code, so a model file is only unpickled when its sha256 matches the card that
sits beside it in a registry this user controls (or when the user says --trust-model).
Directories are written beside their final place and renamed in, so a failed or interrupted
save never leaves a half-written model, and an existing model stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .data import project_root
from .errors import ClassifierError, ModelIntegrityError, ModelNotFound
from .model import Model

FORMAT = "ciocto-model/1"
MODEL_FILE = "model.joblib"
CARD_FILE = "card.json"
ACTIVE_FILE = "ACTIVE"
DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def models_dir() -> Path:
    """Return the registry folder: $CIOCTO_MODELS or models/ beside data/."""
    env = os.environ.get("CIOCTO_MODELS")
    return Path(env) if env else project_root() / "models"


def check_name(name: str) -> str:
    """Return the name if it is a safe directory name for a model, else raise."""
    if not _NAME.match(name) or name in {".", ".."}:
        raise ClassifierError(
            f"bad model name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )
    return name


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(
    model: Model,
    name: str | None = None,
    root: Path | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write the model under root/NAME atomically and return its directory.

    `extra_files` ({file name: bytes}) are written beside the model, and their sha256 go into
    the card under "files". Until the final rename nothing outside a temporary folder changes,
    and if anything fails after it an existing model of that name is put back.
    """
    import joblib

    root = root or models_dir()
    name = check_name(name or model.name)
    extra = dict(extra_files or {})
    for file in extra:
        if file in {MODEL_FILE, CARD_FILE} or not _NAME.match(file):
            raise ClassifierError(f"bad extra file name {file!r} for a model directory")
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{name}-"))
    old: Path | None = None
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a model is not a secret
        joblib.dump(model.pipeline, tmp / MODEL_FILE, compress=3)
        for file, data in extra.items():
            (tmp / file).write_bytes(data)
        digest = sha256_file(tmp / MODEL_FILE)
        card = dict(model.card, name=name, format=FORMAT, model_sha256=digest)
        if extra:
            card["files"] = {file: hashlib.sha256(data).hexdigest() for file, data in extra.items()}
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
        _fsync_tree(tmp)
        if final.exists():
            # renaming over an empty directory is allowed; the unique name never collides
            old = Path(tempfile.mkdtemp(dir=root, prefix=f".old-{name}-"))
            os.replace(final, old)
        os.replace(tmp, final)
    except BaseException:
        if old is not None:
            if not final.exists():  # stopped between the two renames: put the old model back
                os.replace(old, final)
            else:  # stopped before the first: old is still the empty placeholder
                shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    model.card = card
    return final


def _fsync_tree(directory: Path) -> None:
    """Flush a folder's files to disk, so a power cut cannot leave a renamed-in empty file."""
    for path in directory.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def read_card(directory: Path) -> dict[str, Any]:
    """Return a model directory's card, or raise if it is missing or not ours."""
    path = directory / CARD_FILE
    if not path.is_file():
        raise ModelIntegrityError(f"{directory} has no {CARD_FILE}; it is not a ciocto model")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelIntegrityError(f"{path} is not a readable model card: {e}") from e
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelIntegrityError(f"{path} is not a ciocto model card (format {FORMAT})")
    return card


def active_name(root: Path | None = None) -> str:
    """Return the name of the active model (the ACTIVE file, else 'default')."""
    path = (root or models_dir()) / ACTIVE_FILE
    try:
        name = path.read_text(encoding="utf-8").strip()
    except OSError:
        return DEFAULT_NAME
    return name or DEFAULT_NAME


def set_active(name: str, root: Path | None = None) -> None:
    """Make NAME the active model; the ACTIVE file is replaced atomically."""
    root = root or models_dir()
    check_name(name)
    read_card(root / name)
    _write_atomic(root / ACTIVE_FILE, (name + "\n").encode())


def resolve(model: str | Path | None = None, root: Path | None = None) -> Path:
    """Return the directory of a model given by name or path (None: the active model)."""
    root = root or models_dir()
    if model is None:
        directory = root / active_name(root)
        if not directory.exists():
            raise ModelNotFound(
                f"no trained model in {directory}; run `ciocto train` (or `make demo`) first"
            )
        return directory
    path = Path(model)
    if isinstance(model, str) and _NAME.match(model) and (root / model).is_dir():
        return root / model
    if path.is_file():
        return path.parent
    if path.is_dir():
        return path
    raise ModelNotFound(f"no model named or at {str(model)!r}; `ciocto models` lists them")


_WARNED: set[str] = set()


def load_model(model: str | Path | None = None, trust: bool = False) -> Model:
    """Return the model by name, path or the active one, after checking it against its card.

    With trust=True a model without a valid card is unpickled anyway: only do that for files
    you made yourself, since unpickling can run arbitrary code.
    """
    import joblib

    directory = resolve(model)
    file = directory / MODEL_FILE
    if not file.is_file():
        raise ModelNotFound(f"{directory} has no {MODEL_FILE}")
    try:
        card = read_card(directory)
        if card.get("model_sha256") != sha256_file(file):
            raise ModelIntegrityError(
                f"{file} does not match the checksum in its card: it was changed or "
                "replaced; retrain it, or pass --trust-model if you made it yourself"
            )
    except ModelIntegrityError:
        if not trust:
            raise
        card = {"name": directory.name, "config": {}}
    try:
        pipeline = joblib.load(file)
    except Exception as e:  # a corrupt or foreign pickle can raise almost anything
        raise ModelIntegrityError(f"cannot load {file}: {e}") from e
    _warn_versions(card)
    return Model(pipeline, card)


def _warn_versions(card: dict[str, Any]) -> None:
    from importlib.metadata import version

    trained = card.get("versions", {}).get("scikit-learn")
    now = version("scikit-learn")
    if trained and trained != now and trained not in _WARNED:
        _WARNED.add(trained)
        warnings.warn(
            f"model {card.get('name')!r} was trained with scikit-learn {trained}, this is {now}; "
            "retrain it (`ciocto train`) if its results look off",
            stacklevel=3,
        )
