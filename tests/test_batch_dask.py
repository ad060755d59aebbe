"""The Dask engine on a real distributed.LocalCluster (two workers on loopback): same output."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier import ClassifierError, Model, classify
from classifier.batch import ScoreOptions, score_frame, score_table

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")
EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
# two clusters at once (or one elsewhere on a shared machine) move the HTTP port, and say so
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as c:
        yield c


@pytest.fixture
def listings(tmp_path: Path) -> Path:
    path = tmp_path / "listings.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "description"])
        for i, p in enumerate(sorted(EXAMPLES.glob("*.txt")) * 3):
            w.writerow([f"L{i}", p.read_text("utf-8")])
        w.writerow(["L99", ""])
    return path


def test_dask_engine_output_is_identical_to_local(
    listings: Path, tmp_path: Path, model: Model, cluster: object
) -> None:
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    score_table(listings, local, model=model, jobs=1, chunk_rows=4, lines_out=tmp_path / "l1.csv")
    summary = score_table(
        listings,
        remote,
        model=model,
        engine="dask",
        scheduler=cluster.scheduler_address,  # type: ignore[attr-defined]
        chunk_rows=4,
        lines_out=tmp_path / "l2.csv",
    )
    assert summary.rows == 28 and summary.errors == 1
    assert remote.read_bytes() == local.read_bytes()
    assert (tmp_path / "l2.csv").read_bytes() == (tmp_path / "l1.csv").read_bytes()


def test_score_frame_on_dask_partitions_matches_classify(
    tmp_path: Path, model: Model, cluster: object
) -> None:
    """dask.dataframe reads, the same scoring function runs on every partition."""
    path = tmp_path / "flat.csv"
    lines = [line for p in sorted(EXAMPLES.glob("*.txt")) for line in p.read_text().splitlines()]
    texts = [line for line in lines if line.strip()][:60]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows([i, t] for i, t in enumerate(texts))
    frame = dd.read_csv(path, blocksize=1500)
    assert frame.npartitions > 1
    with distributed.Client(cluster):
        got = score_frame(frame, model, ["text"]).compute()
    assert list(got["text"]) == texts
    assert list(got["leaning"]) == [classify(t, model).leaning for t in texts]
    assert list(got["p_cto"]) == [classify(t, model).to_dict()["p_cto"] for t in texts]


def test_local_cluster_started_for_the_run(listings: Path, tmp_path: Path, model: Model) -> None:
    want, got = tmp_path / "want.jsonl", tmp_path / "got.jsonl"
    score_table(listings, want, model=model, jobs=1)
    score_table(listings, got, ScoreOptions(), model=model, engine="dask", jobs=2, chunk_rows=5)
    assert got.read_bytes() == want.read_bytes()


def test_unreachable_scheduler_is_a_clear_error(
    listings: Path, tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("classifier.engines.DASK_CONNECT_TIMEOUT", "1s")
    with pytest.raises(
        ClassifierError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"
    ):
        score_table(
            listings, tmp_path / "o.csv", model=model, engine="dask", scheduler="tcp://127.0.0.1:9"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["listings.csv"]


# dask's parquet writer still calls a pandas API that pandas 3.1 deprecates
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index")
def test_the_documented_python_and_dask_examples_run(
    tmp_path: Path, models_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/batch.md's Python block, then its one-line Dask variant, give the same leanings."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    page = (Path(__file__).resolve().parent.parent / "docs" / "batch.md").read_text("utf-8")
    section = page[page.index("## From Python") :]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    dask_line = re.search(r"`(score_frame\(dd\.read_parquet\([^`]+)`", section)
    to_parquet = re.search(r"`(\.to_parquet\([^`]+\))`", section)
    assert dask_line and to_parquet, "docs/batch.md no longer shows the Dask variant"
    monkeypatch.chdir(tmp_path)
    texts = [p.read_text("utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    frame = pd.DataFrame({"job_id": range(len(texts)), "description": texts})
    frame.to_csv("listings.csv", index=False)
    Path("listings").mkdir()
    frame.to_parquet("listings/part-0.parquet")
    scope: dict[str, object] = {}
    exec(compile(code, "docs/batch.md", "exec"), scope)
    exec("import dask.dataframe as dd\n(" + dask_line.group(1) + ")" + to_parquet.group(1), scope)
    scored = pd.read_parquet("scored/")
    assert list(scored["leaning"]) == list(pd.read_csv("scored.csv")["leaning"])
    assert Path("lines.csv").exists()
