"""Atomic output and --resume: an interrupted run leaves nothing under the output name, and
resuming it gives exactly the bytes of an uninterrupted run."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import classifier.batch as batch
from classifier import BadInput, Model, load_samples
from classifier.batch import ScoreOptions, score_table

ROWS = 60


def make_listings(path: Path, n: int = ROWS, seed: int = 0) -> Path:
    """Write n listings of 3-12 labelled lines each, some with empty text."""
    texts = [s.text for s in load_samples()]
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "description"])
        for i in range(n):
            body = "" if i % 17 == 5 else "\n".join(rng.sample(texts, rng.randint(3, 12)))
            w.writerow([f"L{i}", body])
    return path


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class Stop(Exception):
    pass


def stop_after(monkeypatch: pytest.MonkeyPatch, calls: int, error: BaseException) -> None:
    """Make the scoring of chunk number `calls` + 1 raise `error`."""
    real = batch.score_texts
    seen = {"n": 0}

    def flaky(*args: Any, **kw: Any) -> Any:
        seen["n"] += 1
        if seen["n"] > calls:
            raise error
        return real(*args, **kw)

    monkeypatch.setattr(batch, "score_texts", flaky)


def run(src: Path, out: Path, model: Model, **kw: Any) -> batch.ScoreSummary:
    kw.setdefault("chunk_rows", 7)
    kw.setdefault("jobs", 1)
    options = ScoreOptions(**kw.pop("options", {}))
    return score_table(src, out, options, model=model, **kw)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_listings(tmp_path / "listings.csv")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_interrupted_run_resumes_to_identical_output(
    src: Path, tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    want, want_lines = tmp_path / f"want.{fmt}", tmp_path / "want-lines.csv"
    run(src, want, model, lines_out=want_lines)

    out, lines = tmp_path / f"out.{fmt}", tmp_path / "lines.csv"
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 0.0)
    with monkeypatch.context() as m:
        stop_after(m, 4, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            run(src, out, model, lines_out=lines)
    assert not out.exists() and not lines.exists()
    state = json.loads((tmp_path / f".out.{fmt}.ciocto-checkpoint.json").read_text())
    assert state["rows"] == 4 * 7

    summary = run(src, out, model, lines_out=lines, resume=True)
    assert summary.resumed_from == 4 * 7 and summary.rows == ROWS
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(out).equals(pq.read_table(want))
    else:
        assert out.read_bytes() == want.read_bytes()
    assert lines.read_bytes() == want_lines.read_bytes()
    assert hidden(tmp_path) == []  # partial files and checkpoint are gone


def test_resume_counts_the_rows_done_before(
    src: Path, tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = run(src, tmp_path / "want.csv", model)
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 0.0)
    with monkeypatch.context() as m:
        stop_after(m, 3, Stop())
        with pytest.raises(Stop):
            run(src, tmp_path / "out.csv", model)
    resumed = run(src, tmp_path / "out.csv", model, resume=True)
    assert (resumed.rows, resumed.errors, resumed.leanings, resumed.lines) == (
        full.rows, full.errors, full.leanings, full.lines,
    )  # fmt: skip


def test_failure_before_any_checkpoint_leaves_nothing(
    src: Path, tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("yesterday's results\n")
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 3600.0)
    stop_after(monkeypatch, 2, Stop())
    with pytest.raises(Stop):
        run(src, out, model, lines_out=tmp_path / "lines.jsonl")
    assert out.read_text() == "yesterday's results\n"  # the old file is untouched
    assert not (tmp_path / "lines.jsonl").exists()
    assert hidden(tmp_path) == []


def test_bad_input_midway_discards_everything(
    tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = make_listings(tmp_path / "plain.csv", n=400).read_bytes()
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(plain)[: len(gzip.compress(plain)) * 3 // 4])
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 0.0)
    monkeypatch.setattr("classifier.tableio.SAMPLE_BYTES", 4096)
    with pytest.raises(BadInput, match="damaged or truncated gzip"):
        run(broken, tmp_path / "out.csv", model)
    assert hidden(tmp_path) == [] and not (tmp_path / "out.csv").exists()


def test_resume_refuses_a_checkpoint_made_with_other_settings(
    src: Path, tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.csv"
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 0.0)
    with monkeypatch.context() as m:
        stop_after(m, 2, Stop())
        with pytest.raises(Stop):
            run(src, out, model)
    with pytest.raises(BadInput) as e:
        run(src, out, model, resume=True, options={"bom": True})
    assert str(e.value) == (
        "the checkpoint for " + str(out) + " was made with other settings (--bom); "
        "run again without --resume to start over"
    )
    assert hidden(tmp_path) == [".out.csv.ciocto-checkpoint.json", ".out.csv.ciocto-part"]
    # the input changed since: refused too
    with open(src, "a", encoding="utf-8") as f:
        f.write("L999,Quản lý hạ tầng mạng\n")
    # said as a user would, never by the checkpoint's field names (issue 13, item 9)
    with pytest.raises(BadInput, match=r"changed since the interrupted run") as e:
        run(src, out, model, resume=True)
    assert "mtime" not in str(e.value) and "input_size" not in str(e.value)
    # a plain run starts over and says so
    summary = run(src, out, model)
    assert summary.resumed_from == 0 and summary.rows == ROWS + 1
    assert any("checkpoint was discarded" in n for n in summary.notes)


def test_resume_without_a_checkpoint_starts_over(src: Path, tmp_path: Path, model: Model) -> None:
    summary = run(src, tmp_path / "out.csv", model, resume=True)
    assert summary.rows == ROWS and summary.resumed_from == 0
    assert any("no checkpoint" in n for n in summary.notes)


def test_resume_needs_files(src: Path, tmp_path: Path, model: Model) -> None:
    with pytest.raises(BadInput, match="standard output cannot be resumed"):
        run(src, "-", model, resume=True)  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="standard input cannot be checked"):
        run(io.BytesIO(src.read_bytes()), tmp_path / "o.csv", model, resume=True)  # type: ignore[arg-type]


def test_killed_process_leaves_no_output_and_resumes(tmp_path: Path, models_root: Path) -> None:
    """SIGKILL gives no chance to clean up: the output name must still never hold a part."""
    src = make_listings(tmp_path / "big.csv", n=8000, seed=1)
    out = tmp_path / "out.csv"
    checkpoint = tmp_path / ".out.csv.ciocto-checkpoint.json"
    args = [sys.executable, "-c", "from classifier.cli import main; main()", "score", str(src)]
    args += ["-o", str(out), "--text-column", "description", "--jobs", "1", "--chunk-rows", "20"]
    env = dict(os.environ, CIOCTO_MODELS=str(models_root))
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()
    done = json.loads(checkpoint.read_text())["rows"]
    assert 0 < done < 8000

    resumed = subprocess.run(
        args + ["--resume"], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 3, resumed.stderr  # some listings are empty: exit status 3
    assert f"resuming after row {done:,}" in resumed.stderr
    want = tmp_path / "want.csv"
    fresh = subprocess.run(
        [*args[:5], "-o", str(want), *args[7:]], env=env, capture_output=True, timeout=300
    )
    assert fresh.returncode == 3
    assert out.read_bytes() == want.read_bytes()
    assert hidden(tmp_path) == []
