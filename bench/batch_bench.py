"""Benchmark `ciocto score`: throughput, speed-up, Dask, memory, and fastText on the same lines.

    python bench/batch_bench.py [--size 20000] [--repeats 3] [--rss-sizes 10000,100000]

Writes synthetic listings built from the labelled lines in data/ (10-40 lines each), then, in
one run, measures as separate processes:

- the floor: reading the CSV and splitting every listing into lines (no scoring);
- `ciocto score` end to end with --jobs 1, --jobs 2 and --engine dask (a 2-worker local
  cluster, started by the command and included in its time);
- peak memory (RSS summed over the process and its workers) for the rss sizes;
- scoring alone in this process (`score_texts` on texts already in memory);
- fastText (fasttext-numpy2-wheel) trained on the same training lines: predict lines/s on the
  same lines, and line accuracy on the same held-out fold as ours.

Each timing is repeated and the median reported (min-max beside it): the machine may be shared.
The table is printed and saved with the raw numbers under bench/out/.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CIOCTO = [sys.executable, "-c", "from classifier.cli import main; main()"]


def write_listings(path: Path, n: int, seed: int = 0) -> None:
    """Write n listings of 10-40 random labelled lines from data/, as an ATS export would."""
    from classifier import load_samples

    texts = [s.text for s in load_samples()]
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["job_id", "title", "description", "location"])
        for i in range(n):
            body = "\n".join(rng.choice(texts) for _ in range(rng.randint(10, 40)))
            w.writerow([f"JOB-{i:07d}", "Head of Technology", body, "Hà Nội"])


def data_fingerprint() -> str:
    """Return a short hash of the labelled lines the listings are drawn from."""
    from classifier import load_samples
    from classifier.data import samples_sha256

    return samples_sha256(load_samples())[:10]


def floor(path: Path) -> dict[str, float]:
    """Read the table and segment every listing, as `ciocto score` does, without scoring."""
    from classifier.segment import segment
    from classifier.tableio import open_table

    start = time.perf_counter()
    rows = lines = 0
    with open_table(path) as table:
        i = table.columns.index("description")
        for row in table.rows():
            rows += 1
            lines += len(segment(row.cells[i]))
    return {"rows": rows, "lines": lines, "seconds": time.perf_counter() - start}


class PeakMemory:
    """Samples the memory of a process and all its descendants until stopped.

    PSS (proportional set size) splits each shared page between the processes that share it,
    so forked workers are not counted twice for the model and libraries they share.
    """

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):  # a worker may just have ended
                        total += p.memory_full_info().pss
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run(args: list[str]) -> dict[str, float]:
    """Run a command; return its wall time, CPU time (with workers) and peak memory in MB."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = PeakMemory(proc.pid)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    peak = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{err.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": wall, "cpu": cpu, "mem_mb": peak / 2**20}


def _burn(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - start


def available_speedup(n: int = 5_000_000) -> float:
    """Return how much faster 2 processes burn 2 units of CPU than 1 process does, right now.

    On an idle 2-core machine this is about 2; other people's jobs lower it. It is measured
    beside every --jobs 2 run, so ours can be read against what the machine allowed.
    """
    import multiprocessing

    took = {}
    for procs in (1, 2):
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            pool.map(_burn, [1000] * procs)  # started
            start = time.perf_counter()
            pool.map(_burn, [n, n], chunksize=1)
            took[procs] = time.perf_counter() - start
    return took[1] / took[2]


def score_args(path: Path, out: Path, *extra: str) -> list[str]:
    return [*CIOCTO, "score", str(path), "-o", str(out), "--text-column", "description", "-q",
            *extra]  # fmt: skip


def held_out_split() -> tuple[list[Any], list[Any]]:
    """Return (train, test) samples: the first fold of the project's grouped 5-fold CV."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    from classifier import load_samples
    from classifier.evaluate import near_duplicate_groups

    samples = load_samples()
    groups = near_duplicate_groups([s.text for s in samples])
    y = np.array([s.label for s in samples])
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    train_idx, test_idx = next(cv.split(np.zeros(len(y)), y, groups))
    return [samples[i] for i in train_idx], [samples[i] for i in test_idx]


def ours_accuracy(train: list[Any], test: list[Any]) -> float:
    from classifier import train as fit

    model = fit(train)
    tags = [s.tag for s in model.score_lines([t.text for t in test], evidence=0)]
    return sum(tag == t.label for tag, t in zip(tags, test, strict=True)) / len(test)


def fasttext_text(line: str) -> str:
    return " ".join(line.lower().split())


def fasttext_bench(
    train: list[Any], test: list[Any], lines: list[str], repeats: int
) -> dict[str, Any]:
    """Train fastText on the training lines; time predict on `lines`, score the held-out fold."""
    try:
        import fasttext
    except ImportError:
        return {"missing": "pip install 'ciocto[bench]' (fasttext-numpy2-wheel)"}
    OUT.mkdir(exist_ok=True)
    data = OUT / "fasttext-train.txt"
    rng = random.Random(0)
    rows = [f"__label__{s.label} {fasttext_text(s.text)}" for s in train]
    rng.shuffle(rows)
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    model = fasttext.train_supervised(
        str(data), epoch=50, lr=0.5, wordNgrams=2, dim=50, minCount=1, thread=1, seed=0,
        verbose=0,
    )  # fmt: skip
    predicted = model.predict([fasttext_text(t.text) for t in test])[0]
    accuracy = sum(p[0] == f"__label__{t.label}" for p, t in zip(predicted, test, strict=True))
    prepared = [fasttext_text(x) for x in lines]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(prepared)
        times.append(time.perf_counter() - start)
    return {"accuracy": accuracy / len(test), "seconds": times, "lines": len(prepared)}


def scoring_only(
    path: Path, repeats: int, unique: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Time `score_texts` in this process on listings already read; return them as lines too.

    The synthetic listings reuse data/ lines, and ciocto scores a repeated line once per
    chunk; with unique=True every line gets its own number appended, so nothing repeats and
    the row measures the cost of a line never seen before.
    """
    from classifier import load_model
    from classifier.batch import score_texts
    from classifier.segment import segment
    from classifier.tableio import open_table

    with open_table(path) as table:
        i = table.columns.index("description")
        texts = [str(r.cells[i]) for r in table.rows()]
    if unique:
        counter = itertools.count()
        texts = ["\n".join(f"{line} {next(counter)}" for line in t.split("\n")) for t in texts]
    model = load_model()
    score_texts(texts[:50], model)  # load lazy tables first
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for k in range(0, len(texts), 500):
            score_texts(texts[k : k + 500], model)
        times.append(time.perf_counter() - start)
    lines = [line.text for t in texts for line in segment(t)]
    return {"seconds": times, "rows": len(texts), "lines": len(lines)}, lines


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="listings to score")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-sizes", default="10000,100000", help="rows for the memory runs")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.floor:  # a child run: the floor alone, in a fresh process
        print(json.dumps(floor(a.floor)))
        return

    OUT.mkdir(exist_ok=True)
    load = os.getloadavg()
    sizes = sorted({a.size, *(int(s) for s in a.rss_sizes.split(",") if s)})
    files = {}
    for n in sizes:
        files[n] = OUT / f"listings-{n}-{data_fingerprint()}.csv"  # rebuilt when data/ changes
        if not files[n].exists():
            print(f"writing {files[n].name} ...", file=sys.stderr)
            write_listings(files[n], n)
    main_file = files[a.size]
    out = OUT / "scored.csv"

    configs = {
        "floor (read + split)": None,
        "--jobs 1": ["--jobs", "1"],
        "--jobs 2": ["--jobs", "2"],
        "--engine dask (2 workers)": ["--engine", "dask", "--jobs", "2"],
    }
    results: dict[str, list[dict[str, float]]] = {k: [] for k in configs}
    counts: dict[str, Any] = {}
    machine: list[float] = []
    for r in range(a.repeats):  # interleaved, so a noisy minute hits every configuration
        for name, extra in configs.items():
            if name == "--jobs 2":
                machine.append(available_speedup())
            print(f"[{r + 1}/{a.repeats}] {name} ...", file=sys.stderr)
            if extra is None:
                start = time.perf_counter()
                child = subprocess.run(
                    [sys.executable, __file__, "--floor", str(main_file)],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                counts = json.loads(child.stdout)
                results[name].append({"seconds": time.perf_counter() - start})
            else:
                results[name].append(run(score_args(main_file, out, *extra)))
    rss = {}
    for n in sorted(int(s) for s in a.rss_sizes.split(",") if s):
        print(f"memory, {n:,} rows ...", file=sys.stderr)
        rss[n] = run(score_args(files[n], OUT / "scored-rss.csv"))

    print("scoring only, in process ...", file=sys.stderr)
    inproc, lines = scoring_only(main_file, a.repeats)
    inproc_unique, _ = scoring_only(main_file, a.repeats, unique=True)
    print("held-out accuracy and fastText ...", file=sys.stderr)
    train_set, test_set = held_out_split()
    ours_acc = ours_accuracy(train_set, test_set)
    ft = fasttext_bench(train_set, test_set, lines, a.repeats)

    rows, nlines = counts["rows"], counts["lines"]
    table = [
        f"{a.size:,} synthetic listings, {nlines:,} lines (mean {nlines / rows:.1f} per listing); "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average "
        f"{load[0]:.1f} before and {os.getloadavg()[0]:.1f} after; median of {a.repeats} "
        "(wall seconds, min–max).",
        "",
        "| run | wall s | listings/s | lines/s | vs --jobs 1 | CPU s | lines/CPU-s | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = median([x["seconds"] for x in results["--jobs 1"]])
    for name, runs in results.items():
        s = median([x["seconds"] for x in runs])
        cpu = mem = per_cpu = ""
        if "cpu" in runs[0]:
            c = median([x["cpu"] for x in runs])
            cpu, per_cpu = f"{c:.1f}", f"{nlines / c:,.0f}"
            mem = f"{median([x['mem_mb'] for x in runs]):,.0f}"
        table.append(
            f"| {name} | {s:.1f} ({spread([x['seconds'] for x in runs])}) | {rows / s:,.0f} | "
            f"{nlines / s:,.0f} | {base / s:.2f}× | {cpu} | {per_cpu} | {mem} |"
        )
    s_in = median(inproc["seconds"])
    table.append(
        f"| scoring only, in process (1 core) | {s_in:.1f} ({spread(inproc['seconds'])}) | "
        f"{rows / s_in:,.0f} | {nlines / s_in:,.0f} | | | | |"
    )
    s_uq = median(inproc_unique["seconds"])
    table.append(
        f"| scoring only, every line unique (1 core) | {s_uq:.1f} "
        f"({spread(inproc_unique['seconds'])}) | {rows / s_uq:,.0f} | {nlines / s_uq:,.0f} "
        "| | | | |"
    )
    if "missing" in ft:
        table.append(f"| fastText predict | not run: {ft['missing']} | | | | | | |")
    else:
        s_ft = median(ft["seconds"])
        table.append(
            f"| fastText predict (1 thread, same lines) | {s_ft:.1f} ({spread(ft['seconds'])}) "
            f"| | {ft['lines'] / s_ft:,.0f} | | | | |"
        )
    table += ["", "| memory run (default --jobs) | rows | wall s | peak MB (PSS, all processes) |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for n, m in rss.items():
        table.append(f"| `ciocto score` | {n:,} | {m['seconds']:.1f} | {m['mem_mb']:,.0f} |")
    table += ["", f"Speed-up the machine allowed 2 processes meanwhile (a pure-Python loop, "
              f"measured before each --jobs 2 run): median {median(machine):.2f}× "
              f"({min(machine):.2f}–{max(machine):.2f}); idle, it is about 2×."]  # fmt: skip
    table += ["", f"Held-out line accuracy (fold 1 of the grouped 5-fold CV, {len(test_set):,} "
              f"lines): ciocto {ours_acc:.3f}"]  # fmt: skip
    if "missing" not in ft:
        s_ft = median(ft["seconds"])
        table[-1] += (
            f", fastText {ft['accuracy']:.3f}. End-to-end --jobs 1 runs at "
            f"{(nlines / base) / (ft['lines'] / s_ft):.2f}× fastText's predict lines/s; "
            f"scoring alone at {(nlines / s_in) / (ft['lines'] / s_ft):.2f}×, "
            f"{(nlines / s_uq) / (ft['lines'] / s_ft):.2f}× when no line repeats."
        )
    text = "\n".join(table)
    print(text)
    (OUT / "batch-bench.md").write_text(text + "\n", encoding="utf-8")
    raw = {"size": a.size, "counts": counts, "runs": results, "rss": rss, "in_process": inproc,
           "in_process_unique": inproc_unique,
           "fasttext": ft, "ours_accuracy": ours_acc, "machine_speedup": machine}  # fmt: skip
    (OUT / "batch-bench.json").write_text(json.dumps(raw, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
