"""The web API: classify and score answer like the library, limits give 413, bad requests 4xx."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import sys
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette", reason="the web extra is not installed: pip install 'ciocto[web]'")

with warnings.catch_warnings():
    # Starlette nudges towards httpx2 for its test client; httpx is what the web extra installs.
    warnings.filterwarnings("ignore", "Using `httpx`", UserWarning)
    from starlette.testclient import TestClient

from classifier import Model, classify, web  # noqa: E402
from classifier.batch import RESULT_COLUMNS, ScoreOptions, score_table  # noqa: E402
from classifier.cli import main  # noqa: E402
from classifier.web import Limits, create_app, openapi_spec  # noqa: E402

STATIC = Path(web.__file__).parent / "static"


@pytest.fixture(scope="module")
def client(model: Model) -> TestClient:
    return TestClient(create_app(model))


@pytest.fixture(scope="module")
def small(model: Model) -> TestClient:
    """A client whose server has tiny limits, so the 413 paths are cheap to reach."""
    return TestClient(
        create_app(model, limits=Limits(text_bytes=2_000, upload_bytes=3_000, rows=3))
    )


def as_json(data: Any) -> Any:
    return json.loads(json.dumps(data))


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- /api/classify ---


@pytest.mark.parametrize(
    "name",
    ["en_cto_saas.txt", "vi_cio_hospital.txt", "vi_cio_unaccented.txt", "en_cto_fintech.html"],
)
def test_classify_answers_exactly_what_the_library_gives(
    client: TestClient, model: Model, example: Callable[[str], str], name: str
) -> None:
    text = example(name)
    r = client.post("/api/classify", json={"text": text})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == as_json(classify(text, model).to_dict())


def test_classify_takes_plain_text_and_an_evidence_count(
    client: TestClient, model: Model, example: Callable[[str], str]
) -> None:
    text = example("en_cio_bank.txt")
    plain = client.post(
        "/api/classify", content=text.encode(), headers={"content-type": "text/plain"}
    )
    assert plain.json() == as_json(classify(text, model).to_dict())
    bare = client.post("/api/classify", json={"text": text, "evidence": 0}).json()
    assert all(line["evidence"] == [] for line in bare["lines"])
    assert bare["leaning"] == plain.json()["leaning"] == "CIO"


def test_classify_returns_markup_in_a_posting_as_plain_json_text(client: TestClient) -> None:
    text = "Lead the engineering team\n<script>alert('x')</script>\n<img src=x onerror=alert(1)>"
    r = client.post("/api/classify", json={"text": text})
    texts = [line["text"] for line in r.json()["lines"]]
    assert "<script>alert('x')</script>" in texts
    assert "<img src=x onerror=alert(1)>" in texts
    assert r.headers["content-type"] == "application/json"


def test_the_response_has_every_field_the_openapi_schema_requires(
    client: TestClient, example: Callable[[str], str]
) -> None:
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    body = client.post("/api/classify", json={"text": example("vi_cto_startup.txt")}).json()
    assert set(body) == set(schemas["Posting"]["required"])
    for line in body["lines"]:
        assert set(line) == set(schemas["Line"]["required"])
        assert line["tag"] in schemas["Line"]["properties"]["tag"]["enum"]
    assert set(body["model"]) == set(schemas["Posting"]["properties"]["model"]["required"])


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"{", "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "JSON object"),
        (b'"just a string"', "application/json", 400, "JSON object"),
        (b'{"txt": "x"}', "application/json", 400, "unknown field 'txt'"),
        (b'{"text": 5}', "application/json", 400, '"text" is missing or not a string'),
        (b"{}", "application/json", 400, '"text" is missing'),
        (b'{"text": "   "}', "application/json", 400, "the posting is empty"),
        (b'{"text": "ok", "evidence": "5"}', "application/json", 400, '"evidence" must be'),
        (b'{"text": "ok", "evidence": true}', "application/json", 400, '"evidence" must be'),
        (b'{"text": "ok", "evidence": 99}', "application/json", 400, '"evidence" must be'),
        (b'{"text": "\\ud800 lead engineers"}', "application/json", 400, "invalid Unicode"),
        (b'{"text": "\xc3\x28"}', "application/json", 400, "not UTF-8 JSON"),
        (b"\x00\x01\x02binary" * 20, "text/plain", 400, "binary"),
        (b"text=hi", "application/x-www-form-urlencoded", 415, "send JSON"),
        (b"<x/>", "application/xml", 415, "text/plain"),
    ],
)
def test_a_malformed_classify_request_gets_a_4xx_with_a_message(
    client: TestClient, body: bytes, content_type: str, status: int, says: str
) -> None:
    r = client.post("/api/classify", content=body, headers={"content-type": content_type})
    assert r.status_code == status, r.text
    assert says in r.json()["error"]
    assert "Traceback" not in r.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["text", "evidence", "x"]), inner, max_size=3)
            ),
            max_leaves=8,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_no_request_body_makes_the_server_fail(client: TestClient, body: bytes) -> None:
    r = client.post("/api/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400), r.text


def test_text_over_the_limit_is_413_with_a_readable_message(small: TestClient) -> None:
    assert small.post("/api/classify", json={"text": "Lead engineers.\n" * 120}).status_code == 200
    r = small.post("/api/classify", json={"text": "Lead engineers.\n" * 200})
    assert r.status_code == 413
    assert r.json()["error"] == (
        "the posting is 3 kB; the page takes at most 2 kB of text "
        "(use `ciocto score` for many postings)"
    )


def test_a_body_over_the_limit_is_refused_declared_or_streamed(small: TestClient) -> None:
    huge = b'{"text": "' + b"a" * 100_000 + b'"}'
    headers = {"content-type": "application/json"}
    declared = small.post("/api/classify", content=huge, headers=headers)
    # no Content-Length: the body is counted as it streams in
    streamed = small.post(
        "/api/classify", content=iter([huge[:50_000], huge[50_000:]]), headers=headers
    )
    for r in (declared, streamed):
        assert r.status_code == 413
        assert r.json()["error"].startswith(
            "the request is too large: a posting may be at most 2 kB"
        )


def test_the_default_text_limit_is_one_megabyte(client: TestClient) -> None:
    assert Limits().text_bytes == 1_000_000
    over = client.post("/api/classify", json={"text": "Lead the engineering team.\n" * 40_000})
    assert over.status_code == 413
    assert "the posting is 1.1 MB; the page takes at most 1.0 MB" in over.json()["error"]


# --- /api/score ---

LISTINGS = (
    "job_id,title,description,salary\r\n"
    "7,CTO,Lead the engineering team and own the product architecture.,=1+2\r\n"
    '8,IT lead,"Quản lý hạ tầng CNTT nội bộ.\nĐiều hành bộ phận helpdesk.",\r\n'
    "9,Empty,,100\r\n"
)


def batch_scored(data: bytes, model: Model, tmp_path: Path, **options: Any) -> bytes:
    """What `ciocto score` (the batch scorer) writes for the same table."""
    out = tmp_path / "scored.csv"
    score_table(io.BytesIO(data), out, ScoreOptions(**options), model=model, jobs=1)
    return out.read_bytes()


def test_score_gives_what_the_batch_scorer_writes(
    client: TestClient, model: Model, tmp_path: Path
) -> None:
    r = client.post(
        "/api/score",
        files={"file": ("../../etc/my listings.csv", LISTINGS.encode(), "text/csv")},
        data={"text_column": "description"},
    )
    assert r.status_code == 200, r.text
    assert r.content == batch_scored(
        LISTINGS.encode(), model, tmp_path, text_columns=("description",)
    )
    assert r.headers["content-disposition"] == 'attachment; filename="my_listings-scored.csv"'
    assert (r.headers["x-ciocto-rows"], r.headers["x-ciocto-errors"]) == ("3", "1")
    assert r.headers["x-ciocto-text-column"] == "description"


def test_score_keeps_every_row_and_adds_the_library_result(
    client: TestClient, model: Model
) -> None:
    r = client.post("/api/score", files={"file": ("listings.csv", LISTINGS.encode())})
    rows = read_csv(r.content)
    assert list(rows[0]) == ["job_id", "title", "description", "salary", *RESULT_COLUMNS]
    assert [row["job_id"] for row in rows] == ["7", "8", "9"]
    assert rows[0]["salary"] == "'=1+2"  # a spreadsheet will not run it as a formula
    for row in rows[:2]:
        want = classify(row["description"], model).to_dict()
        assert row["leaning"] == want["leaning"]
        assert float(row["p_cto"]) == want["p_cto"]
        assert int(row["cto_lines"]) == want["counts"]["CTO"]
        assert row["error"] == ""
    assert [row["leaning"] for row in rows] == ["CTO", "CIO", ""]
    assert "empty" in rows[2]["error"]


def test_score_takes_a_raw_csv_body_and_guesses_the_text_column(client: TestClient) -> None:
    body = b"id;description\n1;Lead the engineering team\n"
    r = client.post("/api/score", content=body, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["x-ciocto-text-column"] == "description"
    assert read_csv(r.content)[0]["leaning"] == "CTO"
    assert not r.content.startswith(b"\xef\xbb\xbf")


def test_score_keeps_an_excel_bom(client: TestClient) -> None:
    body = "\ufefftext\nQuản lý hạ tầng CNTT nội bộ\n".encode()
    r = client.post("/api/score", content=body, headers={"content-type": "text/csv"})
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert read_csv(r.content)[0]["leaning"] == "CIO"


def cp1258(text: str) -> bytes:
    """Return Vietnamese text as Windows-1258 writes it: tone marks as combining characters."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        base, *marks = unicodedata.normalize("NFD", ch)
        tones = "".join(m for m in marks if m in "\u0300\u0301\u0303\u0309\u0323")
        rest = "".join(m for m in marks if m not in tones)
        out.append(
            unicodedata.normalize("NFC", base + rest).encode("cp1258") + tones.encode("cp1258")
        )
    return b"".join(out)


@pytest.mark.parametrize("given", ["cp1258", ""])
def test_a_legacy_vietnamese_encoding_is_read(client: TestClient, given: str) -> None:
    text = "Quản lý hạ tầng CNTT nội bộ, helpdesk và phân quyền tài khoản người dùng"
    data = cp1258(f'id,text\n1,"{text}"\n')
    r = client.post("/api/score", files={"file": ("cu.csv", data)}, data={"encoding": given})
    assert r.status_code == 200, r.text
    row = read_csv(r.content)[0]
    assert unicodedata.normalize("NFC", row["text"]) == text
    assert row["leaning"] == "CIO"


def test_a_prefix_names_the_added_columns_of_an_already_scored_file(client: TestClient) -> None:
    body = b"text,leaning\nLead the engineering team,CIO\n"
    r = client.post("/api/score?prefix=new_", content=body, headers={"content-type": "text/csv"})
    row = read_csv(r.content)[0]
    assert (row["leaning"], row["new_leaning"]) == ("CIO", "CTO")


@pytest.mark.parametrize(
    ("query", "body", "says"),
    [
        (
            "?text_column=desc",
            "id,description\n1,x\n",
            "column 'desc' not found; columns are: id, ",
        ),
        ("", "id,title\n1,a\n", "cannot tell which column holds the listing text"),
        ("", "", "the CSV is empty"),
        ("", "description\n", "has a header but no rows"),
        ("", "text,leaning\nLead engineers,CTO\n", "already has column(s) leaning"),
        ("?prefix=../x", "text\nLead engineers\n", "prefix must be"),
        ("", "\x00\x01\x02\x03" * 50, "binary"),
    ],
)
def test_a_bad_csv_gets_a_400_naming_the_problem(
    client: TestClient, query: str, body: str, says: str
) -> None:
    r = client.post(
        f"/api/score{query}", content=body.encode(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]
    assert "--" not in r.json()["error"]  # request fields, not command-line options


def test_score_rejects_other_bodies_with_415(client: TestClient) -> None:
    r = client.post("/api/score", json={"text": "x"})
    assert r.status_code == 415
    assert "multipart/form-data" in r.json()["error"]
    r = client.post("/api/score", data={"text_column": "x"}, files={"other": ("a", b"b")})
    assert r.status_code == 400
    assert 'field named "file"' in r.json()["error"]


def test_uploads_over_the_caps_are_413(small: TestClient) -> None:
    big = ("text\n" + "Lead the engineering team and the architecture.\n" * 80).encode()
    r = small.post("/api/score", files={"file": ("big.csv", big)})
    assert r.status_code == 413
    assert r.json()["error"].startswith("the upload is too large: at most 3 kB")
    rows = "text\n" + "Lead engineers\n" * 4
    r = small.post("/api/score", content=rows.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 413
    assert r.json()["error"].startswith("the CSV has more than 3 rows")
    rows = "text\n" + "Lead engineers\n" * 3
    r = small.post("/api/score", content=rows.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 200


# --- the page, the model, the rest ---


def test_the_page_and_its_files_are_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script for the policy to allow
    for path, kind in (("/app.js", "javascript"), ("/app.css", "css")):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"]
    assert "http://" not in page.text and "https://" not in page.text  # nothing from outside


def test_the_script_never_inserts_text_as_html() -> None:
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css


@pytest.mark.parametrize(
    "path", ["/../pyproject.toml", "/static/app.js", "/%2e%2e/%2e%2e/etc/passwd", "/app.js/../x"]
)
def test_no_client_path_reaches_the_file_system(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert "error" in r.json()


def test_wrong_method_is_405_json(client: TestClient) -> None:
    r = client.get("/api/score")
    assert r.status_code == 405
    assert r.json()["error"] == "GET is not allowed on /api/score"


def test_the_model_is_loaded_once_per_process(
    models_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    real = web.load_model

    def counting(ref: str | None = None, trust: bool = False) -> Model:
        calls.append(ref)
        return real(ref, trust=trust)

    monkeypatch.setattr(web, "load_model", counting)
    c = TestClient(create_app(model_ref=str(models_root / "default")))
    assert calls == []  # nothing is loaded before a request needs it
    assert c.get("/api/info").json()["model"]["name"] == "default"
    c.post("/api/classify", json={"text": "Lead the engineering team"})
    c.post("/api/classify", json={"text": "Manage the IT helpdesk"})
    assert calls == [str(models_root / "default")]


def test_a_missing_model_is_a_503_that_says_what_to_do(models_root: Path) -> None:
    c = TestClient(create_app(model_ref="no-such-model"))
    r = c.post("/api/classify", json={"text": "Lead the engineering team"})
    assert r.status_code == 503
    assert "no model named" in r.json()["error"]


def test_info_reports_the_limits(small: TestClient) -> None:
    info = small.get("/api/info").json()
    assert info["limits"] == {"text_bytes": 2_000, "upload_bytes": 3_000, "rows": 3}
    assert 0 < info["margin"] < 0.5


def test_openapi_describes_both_endpoints(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec == openapi_spec()
    assert spec["openapi"].startswith("3.1")
    classify_op = spec["paths"]["/api/classify"]["post"]
    assert "application/json" in classify_op["requestBody"]["content"]
    assert {"200", "400", "413"} <= set(classify_op["responses"])
    score_op = spec["paths"]["/api/score"]["post"]
    assert {"multipart/form-data", "text/csv"} <= set(score_op["requestBody"]["content"])
    assert [p["name"] for p in score_op["parameters"]] == ["text_column", "prefix", "encoding"]
    assert "413" in score_op["responses"]


def test_a_foreign_host_header_is_refused_on_loopback(model: Model) -> None:
    app = create_app(model, allowed_hosts=web.allowed_hosts_for("127.0.0.1"))
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/").status_code == 200
    assert TestClient(app, base_url="http://evil.example").get("/").status_code == 400
    assert web.allowed_hosts_for("0.0.0.0") is None


def test_download_names_never_carry_a_path() -> None:
    assert web._download_name("C:\\Users\\me\\jobs.CSV") == "jobs-scored.csv"
    assert web._download_name("../../etc/passwd") == "passwd-scored.csv"
    assert web._download_name("") == "listings-scored.csv"
    assert web._download_name("../x/jobs.tsv", "") == "jobs.tsv"  # labels the upload
    assert web._download_name("", "") == "the CSV"
    assert web._download_name('a"b\r\n.csv') == "a_b-scored.csv"


# --- ciocto serve ---


def test_serve_help_says_it_binds_loopback() -> None:
    r = CliRunner().invoke(main, ["serve", "--help"])
    assert r.exit_code == 0
    assert "[default: 127.0.0.1]" in r.output and "--port" in r.output


def test_serve_without_the_web_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    r = CliRunner().invoke(main, ["serve"])
    assert r.exit_code == 1
    assert r.output.strip() == "Error: the web page needs the web extra: pip install 'ciocto[web]'"


def test_serve_on_a_busy_port_is_one_error_line(models_root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = CliRunner().invoke(main, ["serve", "--port", str(port)])
    assert r.exit_code == 1
    assert r.output.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    assert "pass another --port" in r.output


def test_bind_on_port_zero_gives_a_loopback_url() -> None:
    sock = web.bind("127.0.0.1", 0)
    try:
        assert web.url_of(sock).startswith("http://127.0.0.1:")
        assert not web.url_of(sock).endswith(":0/")
    finally:
        sock.close()


# --- the README's web section ---


def web_section() -> str:
    """Return the web page's documentation (docs/web.md; the README only points there)."""
    return (Path(__file__).resolve().parent.parent / "docs" / "web.md").read_text(encoding="utf-8")


def test_the_readme_curl_example_answers_what_it_says(client: TestClient) -> None:
    section = web_section()
    body = re.search(r"-d '(\{.*?\})'", section)
    assert body is not None
    said = re.search(r'\| jq \.leaning\n# "(\w+)"', section)
    assert said is not None
    r = client.post("/api/classify", json=json.loads(body.group(1)))
    assert r.json()["leaning"] == said.group(1)


def test_the_readme_states_the_real_limits() -> None:
    section = web_section()
    limits = Limits()
    assert limits.text_bytes == 1_000_000 and "posting may be 1 MB" in section
    assert limits.upload_bytes == 20_000_000 and "an upload 20 MB" in section
    assert f"{limits.rows:,} rows" in section
    assert (Path(__file__).resolve().parent.parent / "docs" / "screenshot.png").is_file()


def test_serve_defaults_are_the_app_defaults() -> None:
    from classifier.cli_serve import serve_cmd

    defaults = {p.name: p.default for p in serve_cmd.params}
    assert defaults["host"] == "127.0.0.1"
    assert int(float(defaults["max_upload_mb"]) * 1e6) == Limits().upload_bytes
    assert defaults["max_rows"] == Limits().rows


def test_a_foreign_host_gets_json_naming_the_address_to_use(model: Model) -> None:
    app = create_app(model, allowed_hosts=web.allowed_hosts_for("127.0.0.1"))
    r = TestClient(app, base_url="http://evil.example:8123").get("/api/info")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    assert "http://127.0.0.1:" in r.json()["error"]
    assert "'evil.example:8123'" in r.json()["error"]


def test_encoding_hints_name_the_request_field_not_the_cli_option(client: TestClient) -> None:
    legacy = b"id,description\n1,Gi\xe1m \xf0c\n"  # not UTF-8
    scored = client.post(
        "/api/score", files={"file": ("a.csv", legacy)}, data={"encoding": "utf-8"}
    )
    plain = client.post(
        "/api/classify", content=b"Gi\xe1m \xff\xfe", headers={"content-type": "text/plain"}
    )
    messages = [read_csv(scored.content)[0]["error"], plain.json()["error"]]
    assert [scored.status_code, plain.status_code] == [200, 400]
    assert all("--" not in m for m in messages), messages
    assert '"encoding" field' in messages[0]
    assert "send the posting as UTF-8" in messages[1]
