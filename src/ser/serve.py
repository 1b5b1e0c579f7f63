"""`ser serve MODEL_DIR`: a local web page and JSON API around one loaded model.

Routes:

- ``GET /``: one page (``ser/web/``, plain HTML/JS, no build step) that records from the
  microphone (MediaRecorder) or takes a file, and shows the label, the probabilities as bars,
  "uncertain" below the threshold and, for longer clips, the timeline of speech segments;
- ``POST /predict``: multipart upload (field ``file``) of an audio or video file; form fields
  ``segment`` (true/false) and ``threshold``. The answer is the document of
  ``ser predict --format json`` (``segments`` per file when asked); a file that cannot be
  classified gets the same document with status 422;
- ``GET /health``, ``GET /model`` (labels, feature sets, training corpus, metrics).

Safety: binds 127.0.0.1 unless told otherwise; request bodies above ``max_upload_mb`` are
refused with 413 before they are read (Content-Length) or as soon as they pass the limit
(chunked); an upload is written under a private temporary folder with a name chosen here (the
client's file name is only echoed back, never used on disk) and removed after the answer;
decoding goes through the same checks as ``ser predict``. One :class:`~ser.predict.Predictor`
is loaded at start-up and shared by all requests (FastAPI runs them in threads): its worker
processes decode and featurise concurrent uploads in parallel, and its lock serialises the model
step (a LiteRT interpreter is not thread-safe).
"""

# No `from __future__ import annotations` here: FastAPI reads the route annotations of
# create_app, whose classes are imported inside it (so that `ser --help` never loads FastAPI).
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ser.adapt import DEFAULT_MIN_CLIPS, Grouping
from ser.predict import Predictor
from ser.segment import SegmentParams

WEB_DIR = Path(__file__).with_name("web")
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_THRESHOLD = 0.5

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: 413 for request bodies larger than ``limit`` bytes.

    Written here because neither Starlette nor uvicorn limits the body of a request: a
    declared Content-Length over the limit is refused before anything is read, and a body
    without one (chunked) is cut off as soon as it passes the limit.
    """

    def __init__(self, app: "ASGIApp", limit: int) -> None:
        self.app = app
        self.limit = int(limit)

    def _message(self) -> bytes:
        mb = self.limit / 1e6
        return json.dumps({"detail": f"upload too large: the limit is {mb:g} MB (start the "
                                     f"server with a larger --max-upload-mb to accept more)"}
                          ).encode()

    async def _reject(self, send: "Send") -> None:
        body = self._message()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: "Scope", receive: "Receive", send: "Send") -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        seen = 0
        rejected = False

        async def limited_receive() -> "Message":
            # past the limit: answer 413 ourselves and tell the app the client has gone
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    rejected = True
                    await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: "Message") -> None:
            if not rejected:  # the app's own answer to a cut-off body is dropped
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


def display_name(filename: str | None) -> str:
    """The client's file name, for display only: base name, printable, at most 120 chars."""
    name = os.path.basename((filename or "").replace("\\", "/")) or "upload"
    name = re.sub(r"[^\w.\- ()\[\]+,]", "_", name)
    return name[:120]


class Service:
    """The loaded model and what the routes need from it (one per app, shared by requests)."""

    def __init__(self, model_dir: "str | os.PathLike[str]", *, jobs: int | None = None,
                 runtime: str = "auto", threshold: float | None = DEFAULT_THRESHOLD,
                 segment_defaults: Any = None) -> None:
        self.model_dir = Path(model_dir)
        jobs = min(2, os.cpu_count() or 1) if jobs is None else max(1, int(jobs))
        self.predictor = Predictor(self.model_dir, jobs=jobs, runtime=runtime)
        self.threshold = threshold
        self.segment_params = segment_defaults or SegmentParams()
        self.adapt_min_clips = DEFAULT_MIN_CLIPS
        self.segment_params.check()
        self.tmp_root = Path(tempfile.mkdtemp(prefix="ser-serve-"))
        self.lock = threading.Lock()
        self.started = time.time()

    def start(self) -> None:
        """Start the workers and load the bundles (once, before the first request)."""
        self.predictor.load()

    def close(self) -> None:
        """Stop the workers and remove the private temporary folder."""
        self.predictor.close()
        shutil.rmtree(self.tmp_root, ignore_errors=True)

    def model_info(self) -> dict[str, Any]:
        """Labels, feature sets, training facts of each bundle, and the evaluation metrics."""
        p = self.predictor
        bundles = []
        for b, doc in zip(p.bundle_dirs, p.docs, strict=True):
            info = doc.get("train_info") or {}
            bundles.append({"bundle": str(b), **{k: info.get(k) for k in (
                "dataset", "model", "arch", "fold", "n_train", "train_speakers", "emotions")}})
        datasets = sorted({str(b["dataset"]) for b in bundles if b.get("dataset")})
        metrics = None
        for d in datasets[:1]:
            for name in {str(b["model"]) for b in bundles if b.get("model")}:
                path = self.model_dir.resolve().parents[1].parent / "eval" / d / name / \
                    "metrics.json"
                if path.is_file():
                    metrics = json.loads(path.read_text())
        return {"model_dir": str(p.model_dir), "labels": list(p.labels),
                "feature_sets": p.feature_set_names, "normalize": p.normalize,
                "confidence": "model" if p.has_confidence else "max_prob",
                "runtime": p.runtime_used, "training_corpus": datasets, "bundles": bundles,
                "corpus": dict(p.corpus), "bundle_kind": p.bundle_kind,
                "threshold": self.threshold, "segmentation": self.segment_params.to_json(),
                "metrics": metrics}

    def predict_upload(self, fileobj: Any, filename: str | None, *, segment: bool,
                       threshold: float | None) -> dict[str, Any]:
        """Classify one uploaded file; returns the ``ser predict --format json`` document."""
        return self.predict_uploads([(fileobj, filename)], segment=segment, threshold=threshold)

    def predict_uploads(self, uploads: list[tuple[Any, str | None]], *, segment: bool,
                        threshold: float | None, adapt: bool = False) -> dict[str, Any]:
        """Classify uploaded files. ``adapt``: the files are ONE speaker's clips; a
        speaker-adaptive model standardises them with their own statistics when there are
        at least ``--adapt-min-clips`` of them (as `ser predict --adapt-by all`), else its
        strict twin answers (the JSON's ``adapt`` and per-file ``adaptation`` say which)."""
        folder = Path(tempfile.mkdtemp(dir=self.tmp_root))
        try:
            paths = []
            for i, (fileobj, _) in enumerate(uploads):
                path = folder / f"upload{i}"
                with open(path, "wb") as out:
                    shutil.copyfileobj(fileobj, out, 1 << 20)
                paths.append(path)
            self.predictor.adapt = Grouping("all", min_clips=self.adapt_min_clips) if adapt \
                else None
            result = self.predictor.predict_files(
                paths, threshold, segment=self.segment_params if segment else None)
            doc = result.to_json()
        finally:
            self.predictor.adapt = None
            shutil.rmtree(folder, ignore_errors=True)
        for f, (_, filename) in zip(doc["files"], uploads, strict=True):
            f["path"] = display_name(filename)
        return doc


def create_app(service: Service, *, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> Any:
    """The FastAPI application around ``service`` (started and closed by its lifespan)."""
    from fastapi import FastAPI, File, Form, HTTPException, UploadFile
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    @asynccontextmanager
    async def lifespan(app: Any):  # noqa: ANN202 - FastAPI's signature
        service.start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(title="ser serve", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model_dir": str(service.model_dir),
                "uptime_s": round(time.time() - service.started, 1)}

    @app.get("/model")
    def model() -> dict[str, Any]:
        return service.model_info()

    @app.post("/predict")
    def predict(file: list[UploadFile] = File(...), segment: bool = Form(False),  # noqa: B008
                threshold: float | None = Form(None),  # noqa: B008
                adapt: bool = Form(False)) -> JSONResponse:  # noqa: B008
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise HTTPException(422, f"threshold must be within 0..1, got {threshold:g}")
        t = service.threshold if threshold is None else threshold
        with service.lock:  # the predictor's adapt setting belongs to one request at a time
            doc = service.predict_uploads([(f.file, f.filename) for f in file],
                                          segment=segment, threshold=t, adapt=adapt)
        status = 200 if doc["summary"]["error"] == 0 else 422
        return JSONResponse(doc, status_code=status)

    return BodyLimit(app, int(max_upload_mb * 1e6)) if max_upload_mb > 0 else app


# --------------------------------------------------------------------------- CLI

SERVE_DESCRIPTION = """\
Serve MODEL_DIR (a results/models/DATASET/MODEL folder, as for ser predict) on a local web page
that records from the microphone or takes an audio/video file and shows the label, the
probabilities and, for longer clips, a timeline of speech segments; the same page's API:
POST /predict (multipart field `file`, repeatable; form fields `segment`, `threshold`, `adapt`:
the files are one speaker's clips, standardised together by a speaker-adaptive model) answers
with the JSON of `ser predict --format json`; GET /model, GET /health; GET /docs for the OpenAPI
page."""


def serve(model_dir: str, *, host: str = "127.0.0.1", port: int = 8000,
          max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
          threshold: float | None = DEFAULT_THRESHOLD, jobs: int | None = None,
          runtime: str = "auto") -> None:
    """Load the model, then serve until Ctrl-C (uvicorn)."""
    import sys

    import uvicorn

    service = Service(model_dir, jobs=jobs, runtime=runtime, threshold=threshold)
    app = create_app(service, max_upload_mb=max_upload_mb)
    print(f"ser serve: {service.model_dir} on http://{host}:{port}/ (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
