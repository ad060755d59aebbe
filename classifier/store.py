"""Models on disk: one directory per model (model.joblib + card.json), a registry, safe loading.

Unpickling runs code, so a model file is only unpickled when its sha256 matches the card that
sits beside it in a registry this user controls (or when the user says --trust-model), and
what it unpickles to must be a ciocto pipeline. ACTIVE is read as a model name, never as a
path: a model it names must sit in the registry. Directories are written beside their final
place and renamed in, so a failed or interrupted save never leaves a half-written model, and an
existing model stays as it was. Whatever changes the registry holds its lock (.lock), so two
runs never both compare against, replace or activate the same model (docs/registry.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .data import LABELS, project_root
from .errors import (
    ClassifierError,
    ModelIntegrityError,
    ModelNotFound,
    RegistryBusy,
    RegistryError,
)
from .model import Model

FORMAT = "ciocto-model/1"
MODEL_FILE = "model.joblib"
CARD_FILE = "card.json"
ACTIVE_FILE = "ACTIVE"
DEFAULT_NAME = "default"
LOCK_FILE = ".lock"
LOCK_WAIT_S = 600.0  # a training run with the comparison takes minutes, not hours
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HELD = threading.local()  # registries whose lock this thread holds (the lock is re-entrant)
Progress = Callable[[str], None]


def models_dir() -> Path:
    """Return the registry folder: $CIOCTO_MODELS, else models/ in the checkout or user folder."""
    env = os.environ.get("CIOCTO_MODELS")
    return Path(env) if env else project_root() / "models"


def check_name(name: str) -> str:
    """Return the name if it is a safe directory name for a model, else raise."""
    if not _NAME.match(name) or name in {".", ".."}:
        raise ClassifierError(
            f"bad model name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )
    return name


@contextmanager
def registry_lock(
    root: Path | None = None,
    wait: float = LOCK_WAIT_S,
    progress: Progress | None = None,
) -> Iterator[None]:
    """Hold the registry's lock (flock on the ROOT folder itself) for the block.

    While another process or thread holds it, `progress` is told once that this one waits;
    after `wait` seconds RegistryBusy is raised. The kernel drops the lock when its holder
    exits, so a killed run never leaves the registry locked, and locking the folder leaves no
    file behind. Re-entrant within one thread.
    """
    root = root or models_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        key = str(root.resolve())
    except OSError as e:
        raise ClassifierError(f"cannot use the registry {root}: {e.strerror or e}") from None
    held: set[str] = _HELD.__dict__.setdefault("roots", set())
    if key in held or sys.platform == "win32":  # Windows has no flock: no lock to take
        yield
        return
    import fcntl

    try:
        fd = _lockable(root)
    except OSError as e:
        raise ClassifierError(f"cannot lock the registry {root}: {e.strerror or e}") from None
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                raise RegistryBusy(
                    f"another `ciocto train` or `ciocto models use/remove` is changing {root}; "
                    f"gave up waiting after {wait:g} s: run again when it has finished"
                )
            if not told and progress is not None:
                progress(
                    f"waiting for another train (or `models use/remove`) to finish with {root} "
                    f"(up to {wait:g} s)..."
                )
                told = True
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # closing drops the lock


def _lockable(root: Path) -> int:
    """Return a descriptor to flock for ROOT: the folder itself, else ROOT/.lock."""
    import fcntl

    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # can this file system lock a folder?
        fcntl.flock(fd, fcntl.LOCK_UN)
        return fd
    except BlockingIOError:
        return fd  # it can: someone holds it
    except OSError:  # some network file systems lock only files opened for writing
        os.close(fd)
    return os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)


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
    root = root or models_dir()
    name = check_name(name or model.name)
    extra = dict(extra_files or {})
    for file in extra:
        if file in {MODEL_FILE, CARD_FILE} or not _NAME.match(file):
            raise ClassifierError(f"bad extra file name {file!r} for a model directory")
    root.mkdir(parents=True, exist_ok=True)
    with registry_lock(root):
        return _save_locked(model, name, root, extra)


def _save_locked(model: Model, name: str, root: Path, extra: dict[str, bytes]) -> Path:
    import joblib

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
    """Return the name of the active model (the ACTIVE file, else 'default').

    ACTIVE must hold a model name: anything else (not UTF-8, a path, too long) raises
    RegistryError, so it can never point outside the registry.
    """
    path = (root or models_dir()) / ACTIVE_FILE
    fix = "`ciocto models use NAME` rewrites it (`ciocto models` lists the names)"
    try:
        with open(path, "rb") as f:
            raw = f.read(1024)
    except FileNotFoundError:
        return DEFAULT_NAME
    except OSError as e:
        raise RegistryError(f"cannot read {path}: {e.strerror or e}; {fix}") from None
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise RegistryError(f"{path} is not text (not UTF-8); {fix}") from None
    if not name:
        return DEFAULT_NAME
    if not _NAME.match(name):
        shown = name if len(name) <= 80 else name[:79] + "…"
        raise RegistryError(f"{path} holds {shown!r}, which is not a model name; {fix}")
    return name


def active_directory(root: Path | None = None) -> Path | None:
    """Return the active model's directory, None if it does not exist; raise if it is elsewhere."""
    root = root or models_dir()
    directory = in_registry(active_name(root), root)
    return directory if directory.is_dir() else None


def in_registry(name: str, root: Path) -> Path:
    """Return ROOT/NAME, or raise RegistryError if it leads (by a symlink) out of ROOT."""
    directory = root / check_name(name)
    try:
        inside = directory.resolve().parent == root.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop, an unreadable folder
        raise RegistryError(f"cannot follow {directory}: {e}") from None
    if not inside:
        raise RegistryError(
            f"{directory} leads outside the registry (to {directory.resolve()}); a model in "
            f"{root} must be a folder there: replace the link, or pass --model PATH"
        )
    return directory


def set_active(name: str, root: Path | None = None) -> None:
    """Make NAME the active model; the ACTIVE file is replaced atomically."""
    root = root or models_dir()
    read_card(in_registry(name, root))
    with registry_lock(root):
        _write_atomic(root / ACTIVE_FILE, (name + "\n").encode())


def resolve(model: str | Path | None = None, root: Path | None = None) -> Path:
    """Return the directory of a model given by name or path (None: the active model)."""
    root = root or models_dir()
    if model is None:
        directory = active_directory(root)
        if directory is None:
            from .firstuse import train_default  # an installed ciocto's first use

            directory = train_default(root)
        if directory is None:
            raise ModelNotFound(_no_active(root))
        return directory
    path = Path(model)
    if isinstance(model, str) and _NAME.match(model) and (root / model).is_dir():
        return root / model
    if path.is_file():
        return path.parent
    if path.is_dir():
        return path
    raise ModelNotFound(f"no model named or at {str(model)!r}; `ciocto models` lists them")


def _no_active(root: Path) -> str:
    """Return what to say when the active model is missing, and how to get one back."""
    name = active_name(root)
    try:
        entries = sorted(root.iterdir()) if root.is_dir() else []
    except OSError:
        entries = []
    names = [p.name for p in entries if not p.name.startswith(".") and (p / CARD_FILE).is_file()]
    left = [p for p in entries if p.name.startswith(f".old-{name}-") and (p / CARD_FILE).is_file()]
    if names:
        message = (
            f"the active model {name!r} is not in {root}; `ciocto models use NAME` makes another "
            f"one active (models: {', '.join(names)}), or run `ciocto train`"
        )
    else:
        message = f"no trained model in {root / name}; run `ciocto train` (or `make demo`) first"
    if left:
        message += (
            f"; an interrupted save left the previous {name!r} in {left[-1]}: "
            f"`mv {left[-1]} {root / name}` puts it back"
        )
    return message


def _check_pipeline(pipeline: Any, file: Path) -> None:
    """Raise unless what a model file unpickled to can be scored as a ciocto model."""
    from sklearn.pipeline import Pipeline

    try:
        steps = pipeline.named_steps if isinstance(pipeline, Pipeline) else {}
        classes = [str(c) for c in getattr(steps.get("clf"), "classes_", [])]
        ok = "features" in steps and set(LABELS) <= set(classes)
    except Exception:  # an object of any type can raise anything from its attributes
        ok = False
    if not ok:
        raise ModelIntegrityError(
            f"{file} holds a {type(pipeline).__name__}, not a ciocto pipeline (features, then a "
            f"classifier of {', '.join(LABELS)}); retrain it with `ciocto train`"
        )


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
    _check_pipeline(pipeline, file)
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
