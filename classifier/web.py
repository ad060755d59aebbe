"""The local web page and its JSON API: paste a posting and see every line coloured.

`create_app()` returns a Starlette app; `ciocto serve` runs it with uvicorn on 127.0.0.1.
The model is loaded once per process (the one given, or the active model on first use).
Every request body is read with a size cap, every malformed request gets a 4xx with a
sentence saying what to send instead, and no part of a request names a file on disk: the page
is three files read from the package.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import json
import logging
import multiprocessing
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import retrain
from .batch import RESULT_COLUMNS, ScoreOptions, score_table
from .errors import BadInput, ClassifierError, ModelIntegrityError, ModelNotFound
from .model import Model
from .posting import classify
from .registry import list_models, use_model
from .retrain import train_with_labels
from .review import suggest_lines
from .store import load_model, models_dir
from .tableio import open_table
from .textio import check_text, decode
from .web_labels import FILES, LINE, MAX_POSTING_CHARS, LabelStore, TrainJob, training_files

MAX_TEXT_BYTES = 1_000_000  # pasted posting, UTF-8
MAX_UPLOAD_BYTES = 20_000_000  # CSV upload
MAX_ROWS = 5_000  # CSV rows per upload; bigger files belong to `ciocto score`
MAX_EVIDENCE = 20
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
IDLE_TIMEOUT_S = 5  # an open connection with no request in it is closed after this long

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class TooLarge(ClassifierError):
    """A request is over one of the server's size limits (answered with 413)."""


class Unsupported(ClassifierError):
    """A request body of a content type the endpoint does not take (answered with 415)."""


@dataclass(frozen=True)
class Limits:
    """The server's caps; every one is answered with 413 and a sentence naming it."""

    text_bytes: int = MAX_TEXT_BYTES
    upload_bytes: int = MAX_UPLOAD_BYTES
    rows: int = MAX_ROWS

    def to_dict(self) -> dict[str, int]:
        return {"text_bytes": self.text_bytes, "upload_bytes": self.upload_bytes, "rows": self.rows}


@dataclass(frozen=True)
class ScoredCsv:
    """A scored CSV: its bytes, how many rows it had and how many of them failed."""

    data: bytes
    rows: int
    errors: int
    text_column: str


# --- CSV scoring: the batch scorer's own code path, on an upload held in memory ---


def score_csv(
    data: bytes,
    model: Model,
    text_column: str | None = None,
    max_rows: int = MAX_ROWS,
    name: str = "the CSV",
    prefix: str = "",
    encoding: str | None = None,
) -> ScoredCsv:
    """Return the upload scored exactly as `ciocto score` scores it, as CSV bytes.

    Every row is kept with its columns, plus the batch scorer's result columns; a row that
    cannot be scored has its `error` set. The text column is guessed when not given. The output
    starts with a UTF-8 BOM when the upload had a byte-order mark (Excel). The encoding is
    detected (UTF-8, UTF-16 with BOM, cp1258, cp1252) unless given. `name` only labels
    messages; the upload never touches a path the client chose.
    """

    def upload() -> io.BytesIO:
        stream = io.BytesIO(data)
        stream.name = name
        return stream

    try:
        with open_table(upload(), encoding=encoding) as table:
            if len(table.peek(max_rows + 1)) > max_rows:
                raise TooLarge(
                    f"{name} has more than {max_rows:,} rows; the web page scores at most "
                    f"{max_rows:,} at a time (use `ciocto score` for bigger files)"
                )
        options = ScoreOptions(
            text_columns=(text_column,) if text_column else (),
            output_format="csv",
            bom=data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
            prefix=prefix,
            encoding=encoding,
        )
        # The batch scorer writes atomically to a file: here, a private temporary folder.
        with tempfile.TemporaryDirectory(prefix="ciocto-web-") as folder:
            out = Path(folder) / "scored.csv"
            summary = score_table(upload(), out, options, model=model, jobs=1)
            scored = _web_row_errors(out.read_bytes(), prefix + "error")
    except BadInput as e:
        raise BadInput(_for_the_web(str(e))) from None
    return ScoredCsv(scored, summary.rows, summary.errors, ", ".join(summary.text_columns))


def _web_row_errors(scored: bytes, column: str) -> bytes:
    """Return the scored CSV with its rows' error messages naming request fields, not options."""
    if b" --" not in scored:
        return scored
    bom = scored.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(scored.decode("utf-8-sig"), newline="")))
    if not rows or column not in rows[0]:
        return scored
    at = rows[0].index(column)
    out = io.StringIO(newline="")
    writer = csv.writer(out)  # the batch writer's dialect: excel, CRLF
    writer.writerow(rows[0])
    for row in rows[1:]:
        if at < len(row):
            row[at] = _for_the_web(row[at])
        writer.writerow(row)
    return (codecs.BOM_UTF8 if bom else b"") + out.getvalue().encode("utf-8")


def _for_the_web(message: str) -> str:
    """Return a batch scorer message with its command-line options named as request fields."""
    for option, field in (
        ("pass --encoding", 'send the "encoding" field (a form field, or ?encoding=NAME)'),
        ("pass --text-column", 'send the "text_column" field'),
        ("pass --prefix, e.g. --prefix new_,", 'send the "prefix" field, e.g. prefix=new_,'),
        ("--text-column", '"text_column"'),
        ("--prefix", '"prefix"'),
        ("--encoding", '"encoding"'),
    ):
        message = message.replace(option, field)
    return message


# --- the app ---


def create_app(
    model: Model | None = None,
    *,
    model_ref: str | None = None,
    trust_model: bool = False,
    limits: Limits | None = None,
    allowed_hosts: list[str] | None = None,
    registry: Path | None = None,
    allow_train: bool = False,
    train_folds: int = 5,
) -> Starlette:
    """Return the web app: the page at /, the JSON API under /api.

    Corrections are kept in `registry` (default: the models folder) under labels/; training
    from the page is refused unless `allow_train`.

    With no `model`, the model `model_ref` (default: the active one) is loaded on the first
    request that needs it, once per process. `allowed_hosts` restricts the Host header (what
    `ciocto serve` does on loopback, against DNS rebinding); None accepts any.
    """
    limits = limits or Limits()
    lock = threading.Lock()  # spaCy and the pipeline are shared state in this process
    state: dict[str, Model] = {}
    if model is not None:
        state["model"] = model
    # Scoring runs off the event loop: a posting in one of `cores` threads, an upload in a
    # process of its own, so a 5,000-row upload never holds the lock /api/classify waits on.
    threads = CapacityLimiter(_cores())
    uploads = _UploadPool(max(1, _cores() - 1))

    def get_model() -> Model:
        with lock:
            if "model" not in state:
                state["model"] = load_model(model_ref, trust=trust_model)
            return state["model"]

    def run_classify(text: str, evidence: int) -> dict[str, Any]:
        m = get_model()
        with lock:
            return classify(text, m, evidence=evidence).to_dict()

    async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=threads)

    async def run_score(upload: Upload) -> ScoredCsv:
        m = await in_thread(get_model)
        return await uploads.run(
            m,
            upload.data,
            upload.text_column,
            limits.rows,
            _download_name(upload.filename, ""),
            upload.prefix,
            upload.encoding,
        )

    async def page(request: Request) -> Response:
        name, media = _STATIC[request.url.path]
        return Response(_static_file(name), media_type=media, headers=_SECURITY_HEADERS)

    async def info(request: Request) -> Response:
        m = await in_thread(get_model)
        card = m.card
        return JSONResponse(
            {
                "model": {"name": m.name, "created": str(card.get("created", ""))},
                "margin": m.config.margin,
                "limits": limits.to_dict(),
            }
        )

    async def api_classify(request: Request) -> Response:
        body = await read_body(request, 2 * limits.text_bytes + 65_536, _too_big_text(limits))
        text, evidence = _classify_request(request.headers.get("content-type", ""), body)
        size = _utf8_size(text)
        if size > limits.text_bytes:
            raise TooLarge(
                f"the posting is {size_text(size)}; the page takes at most "
                f"{size_text(limits.text_bytes)} of text (use `ciocto score` for many postings)"
            )
        check_text(text, "the posting")  # so an empty paste is named as such
        return JSONResponse(await in_thread(run_classify, text, evidence))

    async def api_score(request: Request) -> Response:
        upload = await _score_request(request, limits)
        scored = await run_score(upload)
        return Response(
            scored.data,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{_download_name(upload.filename)}"',
                "X-Ciocto-Rows": str(scored.rows),
                "X-Ciocto-Errors": str(scored.errors),
                "X-Ciocto-Text-Column": _header_safe(scored.text_column),
            },
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_spec(limits))

    root = registry or models_dir()
    store = LabelStore(root)
    job = TrainJob()

    async def labels_get(request: Request) -> Response:
        kind = request.query_params.get("kind", LINE)
        if request.query_params.get("format") == "json":
            rows = await in_thread(store.rows, kind)
            return JSONResponse({"kind": kind, "labels": [r.to_dict() for r in rows]})
        text = await in_thread(store.csv_text, kind)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{FILES[kind]}"'},
        )

    async def labels_post(request: Request) -> Response:
        _same_origin(request)
        payload = await _json_object(request, 2 * MAX_POSTING_CHARS + 4096)
        unknown = sorted(set(payload) - {"text", "label", "kind", "posting_id", "line", "lang"})
        if unknown:
            raise BadInput(
                f"unknown field {unknown[0]!r}; the fields are: text, label, kind, posting_id, "
                "line, lang"
            )
        text, label = payload.get("text"), payload.get("label")
        line = payload.get("line")
        if not isinstance(text, str) or not isinstance(label, str):
            raise BadInput('send {"text": "the line", "label": "CIO"} (both strings)')
        if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
            raise BadInput('"line" must be the 1-based line number, or left out')
        fields = {k: payload.get(k, "") for k in ("kind", "posting_id", "lang")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise BadInput('"kind", "posting_id" and "lang" must be strings')
        row = await in_thread(
            lambda: store.add(
                text,
                label,
                kind=fields["kind"] or LINE,
                posting=fields["posting_id"],
                line=line,
                lang=fields["lang"],
            )
        )
        return JSONResponse(row.to_dict(), status_code=201)

    async def labels_delete(request: Request) -> Response:
        _same_origin(request)
        row_id = request.path_params["id"]
        if not await in_thread(store.delete, row_id):
            return _error(404, f"no correction with id {row_id!r}; GET /api/labels lists them")
        return JSONResponse({"deleted": row_id})

    async def models_get(request: Request) -> Response:
        entries = await in_thread(list_models, root)
        current = state.get("model")
        return JSONResponse(
            {
                "models": [e.to_dict() | {"path": e.path.name} for e in entries],
                "serving": current.name if current is not None else None,
                "allow_train": allow_train,
            }
        )

    async def models_use(request: Request) -> Response:
        _same_origin(request)
        payload = await _json_object(request, 4096)
        name = payload.get("name")
        if not isinstance(name, str) or not name:
            raise BadInput('send {"name": "MODEL"}; GET /api/models lists them')

        def switch() -> dict[str, str]:
            before = use_model(name, root)
            fresh = load_model(str(root / name), trust=trust_model)
            with lock:
                state["model"] = fresh
            return {"active": name, "before": before}

        return JSONResponse(await in_thread(switch))

    async def suggest(request: Request) -> Response:
        payload = await _json_object(request, 2 * limits.text_bytes + 4096)
        texts, n = payload.get("texts"), payload.get("n", 20)
        if not isinstance(texts, list) or not all(isinstance(x, str) for x in texts):
            raise BadInput('send {"texts": ["a listing", "another listing"]}')
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 200:
            raise BadInput('"n" must be a whole number from 1 to 200')
        if sum(_utf8_size(x) for x in texts) > limits.text_bytes:
            raise TooLarge(f"the listings are over {size_text(limits.text_bytes)} of text")

        def run() -> list[dict[str, Any]]:
            m = get_model()
            known = [r.text for r in store.rows(LINE)]
            listings = [(f"listing {i}", x) for i, x in enumerate(texts, start=1)]
            with lock:
                return [g.to_dict() for g in suggest_lines(listings, m, n=n, known=known)]

        return JSONResponse({"suggestions": await in_thread(run)})

    async def train_get(request: Request) -> Response:
        return JSONResponse(job.to_dict())

    async def train_post(request: Request) -> Response:
        _same_origin(request)
        if not allow_train:
            return _error(
                403,
                "training from the page is off on this server; start it with "
                "`ciocto serve --allow-train`, or run `ciocto train --labels` with the file "
                "from GET /api/labels",
            )
        payload = await _json_object(request, 2 * limits.text_bytes + 4096)
        name, text = payload.get("name"), payload.get("text")
        folds = payload.get("folds", train_folds)
        if name is not None and not isinstance(name, str):
            raise BadInput('"name" must be a model name')
        if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= 10:
            raise BadInput('"folds" must be a whole number from 2 to 10')
        if text is not None and not isinstance(text, str):
            raise BadInput('"text" must be the posting on the page, as a string')
        with lock:
            if job.state == "running":
                return _error(409, "a training run is already going; GET /api/train follows it")
            files = training_files(store)
            job.state, job.progress, job.result, job.error = "running", [], None, ""
            job.started = time.time()
        threading.Thread(target=run_training, args=(files, name, folds, text), daemon=True).start()
        return JSONResponse(job.to_dict(), status_code=202)

    def run_training(files: list[Any], name: str | None, folds: int, text: str | None) -> None:
        assert job.progress is not None
        try:
            result = train_with_labels(
                files, name=name, folds=folds, promote=False, root=root,
                progress=job.progress.append,
            )  # fmt: skip
            # What `ciocto train` would decide; the page leaves the promotion to the user.
            promote, reason = retrain._decide(
                result.table, result.active is not None, result.active or "", folds,
                False, True, retrain.TOLERANCE,
            )  # fmt: skip
            job.result = {
                "name": result.model.name,
                "active": result.active,
                "would_promote": promote,
                "reason": reason,
                "table": result.table,
                "notes": result.notes,
                "changed": _changed_lines(text, get_model(), result.model, lock),
            }
            job.state = "done"
        except ClassifierError as e:
            job.error, job.state = str(e), "failed"
        except Exception as e:  # noqa: BLE001  (the page shows it; the log has the rest)
            job.error, job.state = f"training failed: {type(e).__name__}: {e}", "failed"

    routes = [Route(path, page, methods=["GET"]) for path in _STATIC]
    routes += [
        Route("/api/info", info, methods=["GET"]),
        Route("/api/classify", api_classify, methods=["POST"]),
        Route("/api/score", api_score, methods=["POST"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/labels", labels_get, methods=["GET"]),
        Route("/api/labels", labels_post, methods=["POST"]),
        Route("/api/labels/{id}", labels_delete, methods=["DELETE"]),
        Route("/api/models", models_get, methods=["GET"]),
        Route("/api/models/use", models_use, methods=["POST"]),
        Route("/api/suggest", suggest, methods=["POST"]),
        Route("/api/train", train_get, methods=["GET"]),
        Route("/api/train", train_post, methods=["POST"]),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(LoopbackHostMiddleware, allowed_hosts=allowed_hosts))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        uploads.close()

    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,
            ClassifierError: _classifier_error,
            ClientDisconnect: _disconnected,
            Exception: _server_error,
        },
    )


class Forbidden(ClassifierError):
    """A write request from another site's page (answered with 403)."""


def _same_origin(request: Request) -> None:
    """Refuse a write that a browser sent from another origin (CSRF); non-browsers send none."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    message = ""
    if site is not None and site not in ("same-origin", "none"):
        message = f"refused a {site} request: changes are only taken from this page"
    elif origin is not None and origin != own:
        message = f"refused a request from {origin[:100]}: changes are only taken from {own}/"
    if message:
        # on the server's terminal too: a page elsewhere tried to change something here
        logging.getLogger("uvicorn.error").warning(
            "%s %s %s", request.method, request.url.path, message
        )
        raise Forbidden(message)


async def _json_object(request: Request, limit: int) -> dict[str, Any]:
    """Return the request's JSON object body, read with a size cap."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("", "application/json"):
        raise Unsupported(
            f"cannot read a {media} body: send JSON with Content-Type application/json"
        )
    body = await read_body(request, limit, f"the request is over {size_text(limit)}")
    try:
        payload = json.loads(body or b"{}")
    except ValueError as e:
        raise BadInput(f"the request body is not valid JSON ({e})") from None
    if not isinstance(payload, dict):
        raise BadInput("send a JSON object")
    return payload


def _changed_lines(
    text: str | None, old: Model, new: Model, lock: threading.Lock
) -> list[dict[str, Any]]:
    """Return the posting's lines whose tag the new model would change, with both tags."""
    if not text or not text.strip():
        return []
    with lock:
        before = classify(text, old).to_dict()["lines"]
        after = classify(text, new).to_dict()["lines"]
    return [
        {"n": a["n"], "text": a["text"], "old": b["tag"], "new": a["tag"]}
        for b, a in zip(before, after, strict=False)
        if a["tag"] != b["tag"]
    ]


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _UploadPool:
    """Worker processes that score uploads, each holding a copy of the model, started lazily."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._model: Model | None = None
        self._lock = threading.Lock()

    async def run(self, model: Model, *args: Any) -> ScoredCsv:
        pool = self._for(model)
        loop = asyncio.get_running_loop()
        result: ScoredCsv = await loop.run_in_executor(pool, _score_in_worker, *args)
        return result

    def _for(self, model: Model) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None or self._model is not model:
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=False)
                # spawn, not fork: the server process has threads (and an event loop)
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_upload_worker,
                    initargs=(model, os.getpid()),
                )
                self._model = model
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_WORKER_MODEL: dict[str, Model] = {}


def _init_upload_worker(model: Model, parent: int) -> None:
    # A server killed by SIGKILL cannot shut its pool down, so the worker watches for it.
    # (Not PR_SET_PDEATHSIG: that fires when the *thread* that started the worker ends.)
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    # An upload is batch work: on a busy machine the pasted postings go first.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(19)
    threading.Thread(target=watch, name="ciocto-server-watch", daemon=True).start()
    _WORKER_MODEL["model"] = model


def _score_in_worker(
    data: bytes,
    text_column: str | None,
    max_rows: int,
    name: str,
    prefix: str,
    encoding: str | None,
) -> ScoredCsv:
    model = _WORKER_MODEL["model"]
    return score_csv(data, model, text_column, max_rows, name, prefix, encoding)


class LoopbackHostMiddleware:
    """Refuse a Host header not in `allowed_hosts` (DNS rebinding), with JSON saying where to go."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() in self.allowed:
            await self.app(scope, receive, send)
            return
        port = (scope.get("server") or ("", 8000))[1] or 8000
        shown = repr(host[:100]) if host else "missing"
        response = _error(
            400,
            f"this server answers only on its loopback address: open http://127.0.0.1:{port}/ "
            f"(the request's Host header was {shown})",
        )
        await response(scope, receive, send)


async def read_body(request: Request, limit: int, message: str) -> bytes:
    """Return the request body, or raise TooLarge as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(message)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(message)
        chunks.append(chunk)
    return b"".join(chunks)


def size_text(n: int) -> str:
    """Return a byte count the way a person says it: 1.0 MB, 3 kB, 500 bytes."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} kB" if n >= 1_000 else f"{n} bytes"


def _too_big_text(limits: Limits) -> str:
    return (
        "the request is too large: a posting may be at most "
        f"{size_text(limits.text_bytes)} of text (use `ciocto score` for many postings)"
    )


def _classify_request(content_type: str, body: bytes) -> tuple[str, int]:
    """Return (text, evidence) from a JSON or plain-text classify request."""
    media = content_type.split(";")[0].strip().lower()
    if media == "text/plain":
        try:
            return decode(body, "the request body"), 5
        except BadInput as e:
            if "UTF-8" not in str(e):
                raise
            raise BadInput(
                f"{str(e).split(';')[0]}; send the posting as UTF-8 text, or as JSON "
                '{"text": "..."}'
            ) from None
    if media not in ("", "application/json") and not media.endswith("+json"):
        raise Unsupported(
            f'cannot read a {media} body: send JSON {{"text": "..."}} with Content-Type '
            "application/json, or the posting itself as text/plain"
        )
    try:
        payload = json.loads(body)
    except UnicodeDecodeError:
        raise BadInput("the request body is not UTF-8 JSON") from None
    except ValueError as e:
        raise BadInput(
            f'the request body is not valid JSON ({e}); send {{"text": "..."}}'
        ) from None
    if not isinstance(payload, dict):
        raise BadInput('send a JSON object: {"text": "the posting"}')
    unknown = sorted(set(payload) - {"text", "evidence"})
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r}; the fields are: text, evidence")
    text = payload.get("text")
    if not isinstance(text, str):
        raise BadInput('"text" is missing or not a string: send {"text": "the posting"}')
    evidence = payload.get("evidence", 5)
    if isinstance(evidence, bool) or not isinstance(evidence, int):
        raise BadInput(f'"evidence" must be a whole number from 0 to {MAX_EVIDENCE}')
    if not 0 <= evidence <= MAX_EVIDENCE:
        raise BadInput(f'"evidence" must be from 0 to {MAX_EVIDENCE}, not {evidence}')
    return text, evidence


def _utf8_size(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise BadInput(
            f"the text has invalid Unicode at character {e.start} (a lone surrogate)"
        ) from None


@dataclass(frozen=True)
class Upload:
    """A score request: the table's bytes and the fields that came with it."""

    data: bytes
    text_column: str | None = None
    filename: str = ""
    prefix: str = ""
    encoding: str | None = None


async def _score_request(request: Request, limits: Limits) -> Upload:
    """Return the upload and its fields from a multipart form or a raw text/csv body."""
    message = (
        f"the upload is too large: at most {size_text(limits.upload_bytes)} "
        "(start the server with a larger --max-upload-mb, or use `ciocto score`)"
    )
    # multipart framing adds a little beside the file itself
    body = await read_body(request, limits.upload_bytes + 65_536, message)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields = {k: request.query_params.get(k, "").strip() for k in _SCORE_FIELDS}
    if media == "multipart/form-data":
        replay = Request(request.scope, receive=_replay(body))
        try:
            form = await replay.form(max_files=1, max_fields=10)
        except HTTPException:
            raise
        except Exception as e:  # the multipart parser's own errors vary by version
            raise BadInput(f"the upload is not a readable multipart form: {e}") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadInput('the form has no file: send the CSV in a field named "file"')
        data = await upload.read()
        await form.close()
        if len(data) > limits.upload_bytes:
            raise TooLarge(message)
        for key in fields:
            value = form.get(key)
            if isinstance(value, str) and value.strip():
                fields[key] = value.strip()
        return _upload(data, fields, upload.filename or "")
    if media in ("text/csv", "text/plain", "application/csv", "application/octet-stream"):
        return _upload(body, fields, "")
    raise Unsupported(
        'send the CSV as multipart/form-data (a field named "file", and optionally '
        '"text_column") or as a text/csv body with ?text_column=NAME'
    )


def _upload(data: bytes, fields: dict[str, str], filename: str) -> Upload:
    prefix = fields["prefix"]
    if len(prefix) > 40 or any(not (c.isalnum() or c in "_-. ") for c in prefix):
        raise BadInput("prefix must be at most 40 letters, digits, '_', '-' or '.'")
    return Upload(data, fields["text_column"] or None, filename, prefix, fields["encoding"] or None)


def _replay(body: bytes) -> Callable[[], Any]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _download_name(client_name: str, suffix: str = "-scored.csv") -> str:
    """Return a safe name from the client's file name: a label, never opened as a path.

    With the default suffix it names the download; with "" it names the upload in messages
    (keeping its extension, which tells the batch scorer CSV from TSV or JSON Lines).
    """
    base = Path(client_name.replace("\\", "/")).name
    if suffix:
        base = re.sub(r"\.(csv|tsv|txt|jsonl)$", "", base, flags=re.IGNORECASE)
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[:80]
    return f"{base}{suffix}" if base else f"listings{suffix}" if suffix else "the CSV"


def _header_safe(value: str) -> str:
    return value.encode("ascii", "backslashreplace").decode("ascii").replace("\n", " ")[:200]


def _static_file(name: str) -> bytes:
    return resources.files("classifier").joinpath("static", name).read_bytes()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: f"nothing at {request.url.path}; the page is at / and the API under /api "
        "(see /api/openapi.json)",
        405: f"{request.method} is not allowed on {request.url.path}",
    }
    return _error(exc.status_code, messages.get(exc.status_code, str(exc.detail)))


async def _classifier_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, TooLarge):
        return _error(413, str(exc))
    if isinstance(exc, Unsupported):
        return _error(415, str(exc))
    if isinstance(exc, Forbidden):
        return _error(403, str(exc))
    if isinstance(exc, ModelNotFound | ModelIntegrityError):
        return _error(503, f"the server has no usable model: {exc}")
    return _error(400, str(exc))


async def _disconnected(request: Request, exc: Exception) -> Response:
    return _error(400, "the client closed the connection before the request was read")


async def _server_error(request: Request, exc: Exception) -> Response:
    # No traceback to the client; uvicorn logs it on the server's terminal.
    return _error(500, "the server failed on this request; its log says why")


# --- serving ---


def bind(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """Return a listening socket on host:port (port 0 picks a free one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise ClassifierError(f"cannot use host {host!r}: {e.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise ClassifierError(
            f"cannot listen on {host}:{port}: {e.strerror}; pass another --port"
        ) from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """Return the http:// address a listening socket serves."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    app: Starlette,
    sock: socket.socket,
    log_level: str = "info",
    idle_timeout: float = IDLE_TIMEOUT_S,
) -> None:
    """Serve the app on an already bound socket until Ctrl-C; idle connections are closed."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level=log_level,
        server_header=False,
        http=_idle_timeout_protocol(),
        # uvicorn types it as int, but hands it to call_later, which takes a float
        timeout_keep_alive=idle_timeout,  # type: ignore[arg-type]
    )
    uvicorn.Server(config).run(sockets=[sock])


def _idle_timeout_protocol() -> type[asyncio.Protocol]:
    """Return uvicorn's h11 protocol, also timing out a connection that has sent no request.

    uvicorn's keep-alive timeout starts only after a response: a client that connects and
    says nothing (or stops halfway through its headers) would hold a connection for ever.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class IdleTimeoutH11(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._wait_for_request()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE:
                self._wait_for_request()  # still no complete request head

        def _wait_for_request(self) -> None:
            if self.timeout_keep_alive_task is None and not self.transport.is_closing():
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self._close_idle
                )

        def _close_idle(self) -> None:
            self.timeout_keep_alive_task = None
            if not self.transport.is_closing():
                self.transport.close()

    return IdleTimeoutH11


def allowed_hosts_for(host: str) -> list[str] | None:
    """Return the Host headers to accept: only loopback names when bound to loopback."""
    return list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS or host.startswith("127.") else None


# --- the API's description ---


def openapi_spec(limits: Limits | None = None) -> dict[str, Any]:
    """Return the OpenAPI 3.1 description of the JSON API."""
    limits = limits or Limits()
    error = {"$ref": "#/components/schemas/Error"}

    def err(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": error}}}

    number = {"type": "number", "minimum": 0, "maximum": 1}
    tag = {"type": "string", "enum": ["CIO", "CTO", "neutral"]}
    line = {
        "type": "object",
        "required": ["n", "text", "tag", "p_cto", "p_cio", "p_neutral", "evidence"],
        "properties": {
            "n": {"type": "integer", "description": "1-based line number in the posting"},
            "text": {"type": "string"},
            "tag": tag,
            "p_cto": number,
            "p_cio": number,
            "p_neutral": number,
            "evidence": {
                "type": "array",
                "description": "[term, weight]: weight > 0 pushes towards CTO, < 0 towards CIO",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "string"}, {"type": "number"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        },
    }
    side = {"type": "object", "required": ["CIO", "CTO"]}
    posting = {
        "type": "object",
        "description": "Exactly what `ciocto classify --format json` prints.",
        "required": [
            "leaning",
            "p_cto",
            "confidence",
            "counts",
            "lines",
            "strongest",
            "strongest_text",
            "model",
        ],
        "properties": {
            "leaning": tag,
            "p_cto": number,
            "confidence": number,
            "counts": {
                "type": "object",
                "required": ["CIO", "CTO", "neutral"],
                "additionalProperties": {"type": "integer"},
            },
            "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
            "strongest": dict(side, additionalProperties={"type": ["integer", "null"]}),
            "strongest_text": dict(side, additionalProperties={"type": ["string", "null"]}),
            "model": {
                "type": "object",
                "required": ["name", "created"],
                "properties": {"name": {"type": "string"}, "created": {"type": "string"}},
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ciocto",
            "version": _version(),
            "description": "Tag every line of a job posting as CIO-like, CTO-like or neutral.",
        },
        "paths": {
            "/api/classify": {
                "post": {
                    "summary": "Classify one posting",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["text"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "text": {
                                            "type": "string",
                                            "description": f"at most {limits.text_bytes} bytes",
                                        },
                                        "evidence": {
                                            "type": "integer",
                                            "minimum": 0,
                                            "maximum": MAX_EVIDENCE,
                                            "default": 5,
                                        },
                                    },
                                }
                            },
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "every line tagged, and the posting's leaning",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Posting"}
                                }
                            },
                        },
                        "400": err("not a usable posting or request"),
                        "413": err("over the text limit"),
                        "415": err("neither JSON nor plain text"),
                        "503": err("no trained model"),
                    },
                }
            },
            "/api/score": {
                "post": {
                    "summary": "Score a CSV of listings; the CSV comes back with leaning columns",
                    "parameters": [
                        {
                            "name": name,
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": description,
                        }
                        for name, description in _SCORE_FIELDS.items()
                    ],  # fmt: skip
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {
                                        "file": {"type": "string", "contentMediaType": "text/csv"},
                                        **{k: {"type": "string"} for k in _SCORE_FIELDS},
                                    },
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "every input row and column, plus "
                            + ", ".join(RESULT_COLUMNS),
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        },
                        "400": err("not a readable CSV, or no such column"),
                        "413": err(f"over {limits.upload_bytes} bytes or {limits.rows} rows"),
                        "415": err("neither multipart/form-data nor text/csv"),
                        "503": err("no trained model"),
                    },
                }
            },
            **_labels_openapi(err),
            "/api/info": {
                "get": {
                    "summary": "The model in use and the server's limits",
                    "responses": {"200": {"description": "model name, margin and limits"}},
                }
            },
        },
        "components": {
            "schemas": {
                "Posting": posting,
                "Line": line,
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
            }
        },
    }


def _labels_openapi(err: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Return the OpenAPI paths of corrections, training and the models panel."""
    json_body = lambda schema: {  # noqa: E731
        "required": True,
        "content": {"application/json": {"schema": schema}},
    }
    ok = lambda what: {"description": what, "content": {"application/json": {}}}  # noqa: E731
    refused = err("from another origin (Origin / Sec-Fetch-Site), or training is off")
    kind = {"type": "string", "enum": ["line", "posting"], "default": "line"}
    correction = {
        "type": "object",
        "required": ["text", "label"],
        "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "description": "the line (or the whole posting)"},
            "label": {"type": "string", "enum": ["CIO", "CTO", "neutral"]},
            "kind": kind,
            "posting_id": {"type": "string"},
            "line": {"type": "integer", "minimum": 1},
            "lang": {"type": "string"},
        },
    }
    return {
        "/api/labels": {
            "get": {
                "summary": "The page's corrections, as the CSV `ciocto train --labels` reads",
                "parameters": [
                    {"name": "kind", "in": "query", "schema": kind},
                    {"name": "format", "in": "query", "schema": {"enum": ["csv", "json"]}},
                ],
                "responses": {
                    "200": {
                        "description": "text,label,lang,posting_id,line,time,id",
                        "content": {"text/csv": {}, "application/json": {}},
                    }
                },
            },
            "post": {
                "summary": "Correct a line's tag, or label a whole posting (the last one wins)",
                "requestBody": json_body(correction),
                "responses": {
                    "201": ok("the stored correction, with its id"),
                    "400": err("not a usable correction, or over the limits"),
                    "403": refused,
                },
            },
        },
        "/api/labels/{id}": {
            "delete": {
                "summary": "Remove one correction",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": ok("removed"), "403": refused, "404": err("no such id")},
            }
        },
        "/api/train": {
            "get": {
                "summary": "The state of the training run (progress, comparison, decision)",
                "responses": {"200": ok("state, progress, result, error")},
            },
            "post": {
                "summary": "Train with the corrections in the background (`--allow-train`)",
                "description": "The champion / challenger comparison of `ciocto train`; the new "
                "model is saved but not made active: promote it with /api/models/use.",
                "requestBody": json_body(
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "folds": {"type": "integer", "minimum": 2, "maximum": 10},
                            "text": {"type": "string", "description": "the page's posting"},
                        },
                    }
                ),
                "responses": {
                    "202": ok("started"),
                    "400": err("no corrections, or a bad field"),
                    "403": refused,
                    "409": err("a run is already going"),
                },
            },
        },
        "/api/suggest": {
            "post": {
                "summary": "The lines of unlabelled listings the model is least sure of",
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["texts"],
                        "properties": {
                            "texts": {"type": "array", "items": {"type": "string"}},
                            "n": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                    }
                ),
                "responses": {"200": ok("suggestions, least sure first"), "400": err("bad")},
            }
        },
        "/api/models": {
            "get": {
                "summary": "The registry's models, which one is active and which one serves",
                "responses": {"200": ok("models, serving, allow_train")},
            }
        },
        "/api/models/use": {
            "post": {
                "summary": "Make a model active (promote, or roll back); the page uses it at once",
                "requestBody": json_body(
                    {"type": "object", "required": ["name"], "properties": {"name": {}}}
                ),
                "responses": {
                    "200": ok("active and before"),
                    "400": err("no such model"),
                    "403": refused,
                },
            }
        },
    }


_SCORE_FIELDS = {
    "text_column": "the column with the posting text (guessed when one obviously is)",
    "prefix": "put before the added column names, for a table that already has them",
    "encoding": "the table's encoding (detected when not given: UTF-8, UTF-16, cp1258, cp1252)",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ciocto")
    except PackageNotFoundError:
        return "0"
