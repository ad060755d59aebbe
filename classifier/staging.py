"""Output that appears whole or not at all, and a checkpoint to resume an interrupted run.

Each output is written to a hidden partial file beside its final name (a folder of parts for
Parquet) and renamed over the final name only when the run is complete, so a failed, killed or
interrupted run never leaves a half-written file under that name. After every chunk the data is
flushed to disk and then the checkpoint records how far it got; bytes written after the last
checkpoint are cut off when the run is resumed.

What a target already is decides how it is written (`resolve_target`): a symlink's final target
is replaced, never the link; an existing character device or FIFO (/dev/null, a named pipe) is
written through directly, with no staging and no resume; a directory, block device or socket is
refused. No output may be one of the command's inputs (compared by inode, not by name). A full
disk or an I/O error while writing becomes one OutputError, and the partial file is removed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, NamedTuple

from .errors import BadInput, OutputError

CHECKPOINT_FORMAT = "ciocto-score-checkpoint/1"


class Target(NamedTuple):
    """Where an output's bytes go: `path` (a symlink followed), and whether it is written
    through directly (`direct`: an existing device or FIFO) rather than staged and renamed."""

    name: str
    path: Path
    direct: bool
    kind: str


def resolve_target(name: str | Path, option: str = "-o") -> Target:
    """Return how an output file is to be written, or raise BadInput for one that cannot be."""
    path = Path(os.path.realpath(name))  # a symlink's target is what gets replaced
    try:
        # by the name given: /dev/stdout on a pipe leads to a "pipe:[...]" realpath cannot name
        mode = os.stat(name).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return Target(str(name), Path(name), True, "device" if stat.S_ISCHR(mode) else "FIFO")
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if not path.parent.is_dir():
            folder = path.parent if os.path.islink(name) else Path(name).parent
            raise BadInput(f"cannot write {name}: there is no folder {str(folder)!r}") from None
        return Target(str(name), path, False, "new file")
    except OSError as e:
        raise BadInput(f"cannot write {name}: {e.strerror}") from None
    if stat.S_ISREG(mode):
        return Target(str(name), path, False, "file")
    if stat.S_ISDIR(mode):
        raise BadInput(f"{option} {name} is a directory; give a file name")
    what = "a block device (a disk)" if stat.S_ISBLK(mode) else "a socket"
    raise BadInput(f"{option} {name} is {what}; give a file name")


def input_ids(inputs: Iterable[str | Path | None]) -> list[tuple[str, tuple[int, int]]]:
    """Return (name, (device, inode)) of each input that exists; '-' is standard input."""
    out = []
    for source in inputs:
        if source is None:
            continue
        try:
            st = os.fstat(sys.stdin.fileno()) if str(source) == "-" else os.stat(source)
        except (OSError, ValueError):
            continue
        if not stat.S_ISCHR(st.st_mode):  # a terminal can be both read and written
            out.append((str(source), (st.st_dev, st.st_ino)))
    return out


def refuse_inputs(target: Target, inputs: Iterable[str | Path | None], option: str = "-o") -> None:
    """Raise BadInput when the target is one of the inputs (the same file by inode)."""
    try:
        st = os.stat(target.path)
    except OSError:
        return
    for name, ident in input_ids(inputs):
        if (st.st_dev, st.st_ino) == ident:
            what = "the input file" + ("" if name == target.name else f" {name}")
            what = "standard input" if name == "-" else what
            raise BadInput(f"{option} {target.name} is {what}; write to another file")


_FIXES = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space",
    errno.EIO: "check the disk or device",
}


def failure(name: str, e: OSError, removed: bool = True) -> OutputError:
    """Return the OutputError for a write that failed, saying what to do next."""
    why = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        why += " (the disk is full)"
    what = "standard output" if name == "-" else name
    left = "; the partial output was removed" if removed else ""
    fix = _FIXES.get(e.errno or 0, "check where it goes")
    return OutputError(f"cannot write {what}: {why}{left} — {fix} and run again")


@contextmanager
def writing(name: str, removed: bool = True) -> Iterator[None]:
    """Turn an OSError while writing `name` into an OutputError (a closed pipe stays as it is)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise failure(name, e, removed) from None


def check_output(
    name: str | Path, inputs: Iterable[str | Path | None] = (), option: str = "-o"
) -> Target:
    """Return how an output will be written, or raise BadInput now, before any work is done."""
    target = resolve_target(name, option)
    refuse_inputs(target, inputs, option)
    if not target.direct and not os.access(target.path.parent, os.W_OK):
        raise BadInput(f"cannot write {name}: the folder is not writable")
    return target


def write_file(
    name: str | Path, data: bytes, inputs: Iterable[str | Path | None] = (), option: str = "-o"
) -> None:
    """Write a whole file atomically (a device or FIFO directly), never over an input."""
    target = check_output(name, inputs, option)
    if target.direct:
        with writing(str(name), removed=False), open(target.path, "wb") as f:
            f.write(data)
        return
    staged = Staged(target.path)
    try:
        with writing(str(name)):
            with staged.open(None) as f:
                f.write(data)
                sync(f)
            staged.commit()
    except BaseException:
        staged.discard()
        raise


class Staged:
    """One output file (or Parquet part folder) being written beside its final name."""

    def __init__(self, final: Path) -> None:
        final = Path(os.path.realpath(final))  # beside a symlink's target, to rename over it
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
        """Put the finished partial file under its final name (keeping a replaced file's mode)."""
        with suppress(FileNotFoundError):
            os.chmod(self.part, stat.S_IMODE(os.stat(self.final).st_mode))
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
        final = Path(os.path.realpath(final))  # beside the partial file it describes
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
        with writing(str(self.path)):
            tmp.write_text(json.dumps(dict(state, format=CHECKPOINT_FORMAT)), encoding="utf-8")
            os.replace(tmp, self.path)

    def remove(self) -> None:
        """Remove the checkpoint (the run is complete, or is starting over)."""
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)


def mismatch(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Return the names of the settings that differ between a checkpoint and this run."""
    return sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
