"""Output that appears whole or not at all, and a checkpoint to resume an interrupted run.

Each output is written to a hidden partial file beside its final name (a folder of parts for
Parquet) and renamed over the final name only when the run is complete, so a failed, killed or
interrupted run never leaves a half-written file under that name. After every chunk the data is
flushed to disk and then the checkpoint records how far it got; bytes written after the last
checkpoint are cut off when the run is resumed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import IO, Any

from .errors import BadInput

CHECKPOINT_FORMAT = "ciocto-score-checkpoint/1"


class Staged:
    """One output file (or Parquet part folder) being written beside its final name."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.part = final.with_name(f".{final.name}.ciocto-part")
        self.parts = final.with_name(f".{final.name}.ciocto-parts")

    def open(self, offset: int | None) -> IO[bytes]:
        """Return the partial file for writing: new, or cut back to `offset` to resume."""
        if offset is None:
            return open(self.part, "wb")
        f = open(self.part, "r+b")  # noqa: SIM115 - returned to the caller, who closes it
        f.truncate(offset)
        f.seek(offset)
        return f

    def exists(self, offset: int) -> bool:
        """Return True when a partial file of at least `offset` bytes is there to resume."""
        try:
            return self.part.stat().st_size >= offset
        except OSError:
            return False

    def commit(self) -> None:
        """Put the finished partial file under its final name."""
        os.replace(self.part, self.final)

    def discard(self) -> None:
        """Remove the partial file and part folder, if any."""
        self.part.unlink(missing_ok=True)
        shutil.rmtree(self.parts, ignore_errors=True)


def drop_parts(folder: Path, keep: int) -> None:
    """Remove the part files from number `keep` on (written after the last checkpoint)."""
    for path in folder.glob("part-*.parquet"):
        if int(path.stem.split("-")[1]) >= keep:
            path.unlink()


def sync(f: IO[bytes]) -> None:
    """Push a file's written bytes to disk before a checkpoint claims them."""
    f.flush()
    os.fsync(f.fileno())


class Checkpoint:
    """The JSON file beside an output that says how far a run got and with what settings."""

    def __init__(self, final: Path) -> None:
        self.path = final.with_name(f".{final.name}.ciocto-checkpoint.json")

    def load(self) -> dict[str, Any] | None:
        """Return the saved state, or None when there is none."""
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise BadInput(
                f"the checkpoint {self.path} cannot be read ({e}); run again without --resume"
            ) from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise BadInput(f"{self.path} is not a ciocto checkpoint; run again without --resume")
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Replace the checkpoint atomically with `state`."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(dict(state, format=CHECKPOINT_FORMAT)), encoding="utf-8")
        os.replace(tmp, self.path)

    def remove(self) -> None:
        """Remove the checkpoint (the run is complete, or is starting over)."""
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)


def mismatch(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Return the names of the settings that differ between a checkpoint and this run."""
    return sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
