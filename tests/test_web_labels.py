"""Corrections from the page: kept in the registry as train's CSV, safe, and trainable."""

from __future__ import annotations

import csv
import io
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed: pip install 'ciocto[web]'")

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx`", UserWarning)
    from starlette.testclient import TestClient

from classifier import Model, web  # noqa: E402
from classifier.labels import read_labels  # noqa: E402
from classifier.retrain import RetrainResult  # noqa: E402
from classifier.web import create_app  # noqa: E402
from classifier.web_labels import LabelStore  # noqa: E402

ORIGIN = "http://testserver"
SAME = {"origin": ORIGIN, "sec-fetch-site": "same-origin"}


@pytest.fixture
def registry(tmp_path: Path, models_root: Path) -> Path:
    """A registry in tmp holding a copy of `default`, active."""
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(models_root / "default", root / "default")
    shutil.copytree(models_root / "default", root / "older")
    (root / "ACTIVE").write_text("default\n")
    return root


@pytest.fixture
def client(model: Model, registry: Path) -> TestClient:
    return TestClient(create_app(model, registry=registry, allow_train=True))


def labels_csv(client: TestClient, kind: str = "line") -> list[dict[str, str]]:
    r = client.get(f"/api/labels?kind={kind}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text, newline="")))


def test_a_correction_is_stored_as_the_csv_train_reads(client: TestClient, registry: Path) -> None:
    r = client.post(
        "/api/labels",
        json={"text": "Quản lý hạ tầng CNTT", "label": "cio", "posting_id": "p1", "line": 3},
        headers=SAME,
    )
    assert r.status_code == 201, r.text
    assert r.json()["label"] == "CIO"
    rows = labels_csv(client)
    assert [(x["text"], x["label"], x["posting_id"], x["line"]) for x in rows] == [
        ("Quản lý hạ tầng CNTT", "CIO", "p1", "3")
    ]
    assert rows[0]["time"].endswith("Z")
    read = read_labels(registry / ".labels" / "web-lines.csv")  # what `train --labels` does
    assert [(x.text, x.label) for x in read.rows] == [("Quản lý hạ tầng CNTT", "CIO")]


def test_the_last_correction_of_a_line_wins(client: TestClient) -> None:
    for label in ["CIO", "CTO", "neutral", "CTO"]:
        client.post("/api/labels", json={"text": "Own the  roadmap", "label": label}, headers=SAME)
    client.post("/api/labels", json={"text": "own the roadmap", "label": "CIO"}, headers=SAME)
    assert [x["label"] for x in labels_csv(client)] == ["CIO"]


def test_a_posting_label_goes_to_its_own_file(client: TestClient, registry: Path) -> None:
    text = "Giám đốc CNTT\nQuản lý hệ thống ERP"
    r = client.post(
        "/api/labels", json={"text": text, "label": "CIO", "kind": "posting"}, headers=SAME
    )
    assert r.status_code == 201
    assert labels_csv(client) == []
    assert [x["label"] for x in labels_csv(client, "posting")] == ["CIO"]
    read = read_labels(registry / ".labels" / "web-postings.csv", posting=True)
    assert read.rows[0].text == text


def test_delete_removes_one_correction(client: TestClient) -> None:
    a = client.post("/api/labels", json={"text": "a line", "label": "CIO"}, headers=SAME).json()
    client.post("/api/labels", json={"text": "another", "label": "CTO"}, headers=SAME)
    assert client.delete(f"/api/labels/{a['id']}", headers=SAME).status_code == 200
    assert [x["text"] for x in labels_csv(client)] == ["another"]
    assert client.delete(f"/api/labels/{a['id']}", headers=SAME).status_code == 404


def test_corrections_survive_a_new_server(model: Model, registry: Path) -> None:
    first = TestClient(create_app(model, registry=registry))
    first.post("/api/labels", json={"text": "kept", "label": "CTO"}, headers=SAME)
    second = TestClient(create_app(model, registry=registry))
    assert [x["text"] for x in labels_csv(second)] == ["kept"]


def test_two_writers_at_once_lose_nothing(registry: Path) -> None:
    stores = [LabelStore(registry), LabelStore(registry)]

    def write(n: int) -> None:
        for i in range(25):
            stores[n].add(f"writer {n} line {i}", "CIO")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stores[0].rows()) == 50
    assert not list((registry / ".labels").glob("*.tmp"))


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://evil.example", "sec-fetch-site": "same-site"},
    ],
)
def test_a_write_from_another_origin_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    for method, path, body in [
        ("POST", "/api/labels", {"text": "x", "label": "CIO"}),
        ("DELETE", "/api/labels/abc", None),
        ("POST", "/api/models/use", {"name": "older"}),
        ("POST", "/api/train", {}),
    ]:
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 403, (path, r.text)
        assert "refused" in r.json()["error"]
    assert labels_csv(client) == []


@pytest.mark.parametrize(
    "body, message",
    [
        ({"text": "", "label": "CIO"}, "empty"),
        ({"text": "x", "label": "boss"}, "CIO, CTO or neutral"),
        ({"text": "x" * 6000, "label": "CIO"}, "characters"),
        ({"text": "x", "label": "CIO", "kind": "word"}, '"kind"'),
        ({"text": "x", "label": "CIO", "extra": 1}, "unknown field"),
        ({"text": "x", "label": "CIO", "line": 0}, '"line"'),
        ({"label": "CIO"}, "both strings"),
    ],
)
def test_a_bad_correction_is_a_400_that_says_why(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    r = client.post("/api/labels", json=body, headers=SAME)
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_the_number_of_corrections_is_capped(registry: Path) -> None:
    store = LabelStore(registry, max_labels=2)
    store.add("one", "CIO")
    store.add("two", "CTO")
    store.add("two", "CIO")  # replacing is always allowed
    with pytest.raises(web.BadInput, match="already 2"):
        store.add("three", "CIO")


def test_label_text_is_json_and_csv_data_never_markup(client: TestClient) -> None:
    text = "<img src=x onerror=alert(1)>"
    client.post("/api/labels", json={"text": text, "label": "CTO"}, headers=SAME)
    assert client.get("/api/labels?format=json").json()["labels"][0]["text"] == text


def test_training_is_off_unless_the_server_allows_it(model: Model, registry: Path) -> None:
    off = TestClient(create_app(model, registry=registry))
    off.post("/api/labels", json={"text": "x line", "label": "CIO"}, headers=SAME)
    r = off.post("/api/train", json={}, headers=SAME)
    assert r.status_code == 403
    assert "--allow-train" in r.json()["error"]


def test_training_with_no_corrections_says_so(client: TestClient) -> None:
    r = client.post("/api/train", json={}, headers=SAME)
    assert r.status_code == 400
    assert "no corrections" in r.json()["error"]


def test_train_runs_train_with_labels_in_the_background(
    client: TestClient, model: Model, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake(files: Any, **options: Any) -> RetrainResult:
        seen["files"], seen["options"] = files, options
        options["progress"]("fitting fold 1 of 2")
        table = [{"slice": "all rows", "n": 3, "kind": "cv", "new_f1": 0.9, "active_f1": 0.8}]
        return RetrainResult(model, registry / "default", True, "better", "default", table, None)  # type: ignore[arg-type]

    monkeypatch.setattr(web, "train_with_labels", fake)
    client.post("/api/labels", json={"text": "run the ERP", "label": "CIO"}, headers=SAME)
    r = client.post("/api/train", json={"folds": 2, "text": "run the ERP"}, headers=SAME)
    assert r.status_code == 202, r.text
    for _ in range(100):
        status = client.get("/api/train").json()
        if status["state"] != "running":
            break
        time.sleep(0.05)
    assert status["state"] == "done", status
    assert status["progress"] == ["fitting fold 1 of 2"]
    assert status["result"]["table"][0]["new_f1"] == 0.9
    assert status["result"]["would_promote"] is True
    assert "not worse than" in status["result"]["reason"]
    assert seen["options"]["promote"] is False and seen["options"]["folds"] == 2
    assert seen["options"]["root"] == registry
    assert [r.text for r in seen["files"][0].rows] == ["run the ERP"]


def test_use_switches_the_model_the_page_classifies_with(
    client: TestClient, registry: Path
) -> None:
    assert client.get("/api/models").json()["serving"] == "default"
    r = client.post("/api/models/use", json={"name": "older"}, headers=SAME)
    assert r.status_code == 200, r.text
    assert r.json() == {"active": "older", "before": "default"}
    assert (registry / "ACTIVE").read_text().strip() == "older"
    assert client.post("/api/classify", json={"text": "Lead IT"}).json()["model"]["name"] in (
        "older",
        "default",  # the copy's card keeps the name it was trained under
    )
    assert client.get("/api/models").json()["serving"] is not None
    r = client.post("/api/models/use", json={"name": "nope"}, headers=SAME)
    assert r.status_code in (400, 503)


def test_openapi_describes_labels_training_and_models(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {
        "/api/labels",
        "/api/labels/{id}",
        "/api/train",
        "/api/models",
        "/api/models/use",
    } <= set(paths)
    assert set(paths["/api/labels"]) == {"get", "post"}
    assert "403" in paths["/api/labels"]["post"]["responses"]


def test_suggest_gives_the_least_sure_lines_not_yet_corrected(
    client: TestClient, example: Any
) -> None:
    texts = [example("vi_cio_hospital.txt"), example("en_cto_saas.txt")]
    first = client.post("/api/suggest", json={"texts": texts, "n": 5}).json()["suggestions"]
    assert 0 < len(first) <= 5
    margins = [g["margin"] for g in first]
    assert margins == sorted(margins)
    client.post("/api/labels", json={"text": first[0]["text"], "label": "CIO"}, headers=SAME)
    again = client.post("/api/suggest", json={"texts": texts, "n": 5}).json()["suggestions"]
    assert first[0]["text"] not in [g["text"] for g in again]
    assert client.post("/api/suggest", json={"texts": "x"}).status_code == 400
