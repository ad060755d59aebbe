"""Pool workers die with the process that started them, even when it is killed with SIGKILL."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORDS = ["lead", "own", "ship", "build", "secure", "audit", "budget", "platform", "cloud"]

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """Return (state, parent pid) of a process from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    """Return the pids of every living process below pid (children, grandchildren, ...)."""
    parent_of = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] != "Z":
            parent_of[int(entry.name)] = stat[1]
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        children = {c for c, parent in parent_of.items() if parent == p}
        todo.extend(children - found)
        found |= children
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited, only not reaped yet


def big_table(path: Path, rows: int) -> Path:
    rnd = random.Random(0)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "description"])
        for i in range(rows):
            lines = [" ".join(rnd.choices(WORDS, k=8)) + f" {i}-{k}" for k in range(6)]
            writer.writerow([i, "\n".join(lines)])
    return path


def test_workers_die_when_score_is_killed(models_root: Path, tmp_path: Path) -> None:
    src = big_table(tmp_path / "big.csv", 40_000)
    env = dict(os.environ, CIOCTO_MODELS=str(models_root))
    command = "from classifier.cli import main; main()"
    parent = subprocess.Popen(
        [sys.executable, "-c", command, "score", str(src), "-o", str(tmp_path / "out.csv")]
        + ["-j", "2", "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.05)
            workers = descendants(parent.pid)
        assert parent.poll() is None, "score finished before it could be killed: a bigger input"
        assert len(workers) >= 2, f"no pool started: {workers}"
        time.sleep(0.5)  # let them take up work
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = {w for w in workers if alive(w)}
        assert not survivors, f"workers {survivors} outlived their killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)
        if parent.stderr:
            parent.stderr.close()
