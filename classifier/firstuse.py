"""The default model of an installed ciocto: trained from the built-in data on first use.

The wheel carries the training data, not a model: fitting the default takes seconds (13 s of
CPU, 6-25 s on a shared 2-core machine, measured), gives the same pipeline byte for byte every
time, and is made with the scikit-learn the user has, which a shipped pickle (1.2 MB, tied to
the scikit-learn that built it) could not promise.
This only happens in the user's own registry ($CIOCTO_HOME or the platform's user data folder)
while it holds no model at all; a checkout keeps `make model`, and a registry named with
$CIOCTO_MODELS is left exactly as it is.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .data import checkout_root, user_home

log = logging.getLogger("ciocto")


def is_user_registry(root: Path) -> bool:
    """Return True when `root` is the user's own registry, where a first use may train."""
    if os.environ.get("CIOCTO_MODELS"):
        return False
    if checkout_root() is not None and not os.environ.get("CIOCTO_HOME"):
        return False
    return root.resolve() == (user_home() / "models").resolve()


def train_default(root: Path) -> Path | None:
    """Return the directory of a default model trained now, or None when this is no first use.

    A first use is the user's registry with no model in it yet, and `default` active. The note
    goes to the `ciocto` logger (shown on stderr when nothing else is set up).
    """
    from .retrain import train_with_labels
    from .store import CARD_FILE, DEFAULT_NAME, active_name

    if not is_user_registry(root) or active_name(root) != DEFAULT_NAME:
        return None
    if root.is_dir() and any((p / CARD_FILE).is_file() for p in root.iterdir()):
        return None
    log.warning(
        "No model yet: training the default model on the built-in data (once; under a minute) ..."
    )
    started = time.monotonic()
    result = train_with_labels((), name=DEFAULT_NAME, folds=0, root=root)
    log.warning("Saved the default model in %s (%.0f s)", result.path, time.monotonic() - started)
    return result.path
