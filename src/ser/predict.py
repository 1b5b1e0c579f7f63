"""`ser predict`: classify new audio/video files with bundles trained by the workflow.

Why it is built this way:

- Same numbers as evaluation. A file goes through the audio stage's own decoding and checks
  (:mod:`ser.audio`) and the workflow's own extractors (:mod:`ser.features`); matrix features
  are rounded through float16 because that is how the feature tables store them. A clip from a
  fold's test part therefore gets exactly the probabilities recorded at evaluation.
- Fast. Bundles are loaded once per :class:`Predictor`; decoding and feature extraction run in a
  process pool (started before TensorFlow is imported, so the workers never load it) while the
  main process loads the models; each bundle then predicts all files in one batch.
- Honest output. Every input file is listed: classified, or failed with the reason.

MODEL_DIR is ``results/models/DATASET/MODEL`` (its fold bundles are averaged: mean probability;
confidence = mean of the models' confidence branches when every bundle has one, else the maximum
averaged probability) or one bundle folder (``.../fold2``, a cross-corpus ``bundle``).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import re
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Spec = tuple[tuple[str, str], ...]
"""A bundle's feature set as ((name, params JSON), ...): one part, or the parts of a fusion."""

DEFAULT_AUDIO = {"sample_rate": 16000, "min_duration": 0.3, "silence_dbfs": -60.0,
                 "trim_db": None}

MODEL_DIR_HELP = (
    "MODEL_DIR must be a trained model folder written by the workflow: either "
    "results/models/DATASET/MODEL (holding fold0/, fold1/, ... bundles, which are averaged) or "
    "one bundle folder such as results/models/DATASET/MODEL/fold0 (a bundle holds bundle.json, "
    "scaler.npz and model/)"
)

PREDICT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ser predict --format json",
    "type": "object",
    "required": [
        "model_dir", "bundles", "fold", "labels", "feature_sets", "normalize", "confidence",
        "runtime", "threshold", "summary", "warnings", "files",
    ],
    "additionalProperties": False,
    "properties": {
        "model_dir": {"type": "string", "description": "MODEL_DIR as given"},
        "bundles": {
            "type": "array", "minItems": 1, "items": {"type": "string"},
            "description": "bundle folders whose predictions are averaged",
        },
        "fold": {"type": ["integer", "null"], "description": "--fold, if given"},
        "labels": {
            "type": "array", "minItems": 2, "items": {"type": "string"}, "uniqueItems": True,
            "description": "label order of the probabilities",
        },
        "feature_sets": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "normalize": {"enum": ["global", "speaker", "none", "mixed"]},
        "confidence": {
            "enum": ["model", "max_prob"],
            "description": "model: mean of the bundles' confidence branches (conf_dnn); "
                           "max_prob: largest averaged probability",
        },
        "runtime": {
            "enum": ["litert", "keras", "native", "mixed"],
            "description": "how the models ran: litert (Keras networks through their LiteRT "
                           "copy, no TensorFlow), keras, native (scikit-learn, XGBoost), mixed",
        },
        "threshold": {"type": ["number", "null"]},
        "summary": {
            "type": "object",
            "required": ["files", "ok", "error", "uncertain"],
            "additionalProperties": False,
            "properties": {k: {"type": "integer", "minimum": 0}
                           for k in ("files", "ok", "error", "uncertain")},
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
        "timing": {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": 0},
            "description": "seconds spent loading bundles, featurising, predicting, in all",
        },
        "files": {"type": "array", "items": {"$ref": "#/$defs/file"}},
    },
    "$defs": {
        "file": {
            "type": "object",
            "required": ["path", "status", "reason", "label", "confidence", "uncertain",
                         "probabilities", "duration"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string"},
                "status": {"enum": ["ok", "error"]},
                "reason": {"type": ["string", "null"], "description": "why the file failed"},
                "label": {"type": ["string", "null"], "description": "top label"},
                "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                "uncertain": {"type": ["boolean", "null"],
                              "description": "confidence < threshold"},
                "probabilities": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "duration": {"type": ["number", "null"], "minimum": 0,
                             "description": "seconds of decoded audio"},
            },
            "allOf": [
                {
                    "if": {"properties": {"status": {"const": "ok"}}},
                    "then": {"properties": {
                        "reason": {"type": "null"}, "label": {"type": "string"},
                        "confidence": {"type": "number"}, "uncertain": {"type": "boolean"},
                        "probabilities": {"type": "object", "minProperties": 2},
                        "duration": {"type": "number"},
                    }},
                    "else": {"properties": {
                        "reason": {"type": "string", "minLength": 1}, "label": {"type": "null"},
                        "confidence": {"type": "null"}, "uncertain": {"type": "null"},
                        "probabilities": {"type": "null"},
                    }},
                }
            ],
        }
    },
}


class UsageError(Exception):
    """A bad command line (MODEL_DIR, --fold, --jobs, --threshold): exit status 2."""


# --------------------------------------------------------------------------- workers


@dataclass
class Featurised:
    """What a worker sends back for one file: features per spec, or the reason it failed."""

    path: str
    reason: str | None
    duration: float | None = None
    features: dict[Spec, np.ndarray] = field(default_factory=dict)


_EXTRACTORS: dict[tuple[str, str], Any] = {}


def _extractor(name: str, params_json: str) -> Any:
    """The workflow's extractor for a feature set, built once per process (one Smile each)."""
    key = (name, params_json)
    if key not in _EXTRACTORS:
        from ser.features import get_feature_set

        _EXTRACTORS[key] = get_feature_set(name).extractor(json.loads(params_json))
    return _EXTRACTORS[key]


def extract_spec(spec: Spec, signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """Features of one decoded clip as the bundle's training table held them.

    Matrix sets (log-mel) are rounded through float16, the storage type of feature tables;
    fused sets concatenate their parts' vectors in order.
    """
    from ser.features import get_feature_set

    blocks = []
    for name, params_json in spec:
        x = np.asarray(_extractor(name, params_json)(signal, sample_rate), dtype=np.float32)
        if get_feature_set(name).kind == "matrix":
            x = x.astype(np.float16).astype(np.float32)
        blocks.append(x)
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate([b.ravel() for b in blocks]).astype(np.float32)


def load_signal(path: str | os.PathLike, audio: dict[str, Any]) -> np.ndarray:
    """Decode a file exactly as the audio stage does and apply its checks.

    Raises :class:`ser.audio.AudioError` with the audio stage's reason (missing, empty, no
    audio stream, unreadable, too short, silent).
    """
    from ser import audio as au

    p = Path(path)
    if not p.exists():
        raise au.AudioError("missing: no such file")
    if p.is_dir():
        raise au.AudioError("is a folder")
    if p.stat().st_size == 0:
        raise au.AudioError("empty file (0 bytes)")
    sr = int(audio["sample_rate"])
    try:
        signal = au.decode(p, sr)
    except au.AudioError as exc:
        # the audio stage probes first; probing only on failure gives its reasons at no cost
        info = au.probe(p)  # raises AudioError("unreadable: ...")
        if not info.has_audio:
            raise au.AudioError("no audio stream") from exc
        raise
    trim_db = audio.get("trim_db")
    return au.prepare_signal(signal, sr, min_duration=float(audio["min_duration"]),
                             silence_dbfs=float(audio["silence_dbfs"]),
                             trim_db=None if trim_db is None else float(trim_db))


def featurise(path: str, audio: dict[str, Any], specs: Sequence[Spec]) -> Featurised:
    """Decode + check + extract every spec for one file (runs in a worker; no TensorFlow)."""
    from ser.audio import AudioError

    try:
        signal = load_signal(path, audio)
    except AudioError as exc:
        return Featurised(path, str(exc))
    except OSError as exc:
        return Featurised(path, f"unreadable: {exc.strerror or exc}")
    sr = int(audio["sample_rate"])
    duration = round(signal.size / sr, 4)
    feats: dict[Spec, np.ndarray] = {}
    for spec in specs:
        try:
            feats[spec] = extract_spec(spec, signal, sr)
        except Exception as exc:  # noqa: BLE001 - every failure is reported for its file
            name = "+".join(n for n, _ in spec)
            return Featurised(path, f"features failed ({name}): {type(exc).__name__}: {exc}",
                              duration)
    return Featurised(path, None, duration, feats)


def _warm(specs: Sequence[Spec], sample_rate: int) -> None:
    """Import the feature libraries and build the extractors in a worker ahead of real files."""
    noise = np.random.default_rng(0).normal(0.0, 0.05, sample_rate).astype(np.float32)
    for spec in specs:
        try:
            extract_spec(spec, noise, sample_rate)
        except Exception:  # noqa: BLE001 - a real file will report the problem
            pass


def _mp_context() -> Any:
    """fork while TensorFlow is not loaded (cheap, inherits imports), else a clean forkserver.

    A child forked after TensorFlow must not load openSMILE: its library corrupts the heap
    when it loads after TensorFlow's ("malloc(): invalid size"). Under forkserver/spawn the
    calling script needs the usual ``if __name__ == "__main__":`` guard.
    """
    methods = mp.get_all_start_methods()
    if "tensorflow" not in sys.modules and sys.platform.startswith("linux") and "fork" in methods:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _extractors_ready(specs: Sequence[Spec]) -> bool:
    return all(part in _EXTRACTORS for spec in specs for part in spec)


# --------------------------------------------------------------------------- bundles


def _fold_key(p: Path) -> tuple[float, str]:
    m = re.fullmatch(r"fold(\d+)", p.name)
    return (int(m.group(1)) if m else float("inf"), p.name)


def _bundle_dirs_under(d: Path) -> list[Path]:
    if not d.is_dir():
        return []
    subs = [s for s in d.iterdir()
            if s.is_dir() and not s.name.startswith(".") and (s / "bundle.json").is_file()]
    return sorted(subs, key=_fold_key)


def _read_doc(bundle_dir: Path) -> dict[str, Any]:
    try:
        doc = json.loads((bundle_dir / "bundle.json").read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {bundle_dir / 'bundle.json'}: {exc}") from None
    for key in ("labels", "feature_set"):
        if key not in doc:
            raise UsageError(f"{bundle_dir / 'bundle.json'} has no {key!r}; {MODEL_DIR_HELP}")
    return doc


def find_bundles(model_dir: str | os.PathLike, fold: int | None = None) -> list[Path]:
    """Bundle folders for MODEL_DIR (one bundle, or its fold bundles; ``fold`` picks one).

    Raises :class:`UsageError` explaining what a model folder looks like.
    """
    d = Path(model_dir)
    if not d.exists():
        raise UsageError(f"MODEL_DIR {d} does not exist. {MODEL_DIR_HELP}")
    if not d.is_dir():
        raise UsageError(f"MODEL_DIR {d} is a file, not a folder. {MODEL_DIR_HELP}")
    if (d / "bundle.json").is_file():
        if fold is not None:
            got = _read_doc(d).get("train_info", {}).get("fold")
            if got != fold:
                what = "the full corpus" if got is None else f"fold {got}"
                raise UsageError(f"--fold {fold}: bundle {d} was trained for {what}; give its "
                                 f"parent folder with --fold, or leave --fold out")
        return [d]
    found = _bundle_dirs_under(d)
    if not found:
        models = [s for s in sorted(d.iterdir()) if s.is_dir() and _bundle_dirs_under(s)]
        hint = ""
        if models:
            hint = (" It holds model folders; pick one: "
                    + ", ".join(str(m) for m in models[:8]) + ".")
        raise UsageError(f"MODEL_DIR {d} holds no model bundle (no bundle.json in it or in its "
                         f"sub-folders).{hint} {MODEL_DIR_HELP}")
    if fold is not None:
        chosen = [b for b in found if b.name == f"fold{fold}"]
        if not chosen:
            names = ", ".join(b.name for b in found)
            raise UsageError(f"--fold {fold}: {d} has no fold{fold}/ bundle (it has {names})")
        return chosen
    return found


def feature_spec(feature_set: dict[str, Any]) -> Spec:
    """The extraction recipe recorded in bundle.json (fused sets list their ``parts``)."""
    parts = feature_set.get("parts")
    if parts:
        return tuple((str(p["feature_set"]), json.dumps(p.get("params") or {}, sort_keys=True))
                     for p in parts)
    name = feature_set.get("name")
    if not name:
        raise UsageError("bundle.json feature_set has no name")
    return ((str(name), json.dumps(feature_set.get("params") or {}, sort_keys=True)),)


# --------------------------------------------------------------------------- results


@dataclass
class FileResult:
    """One input file: classified (label, probabilities, confidence) or failed (reason)."""

    path: str
    status: str
    reason: str | None = None
    label: str | None = None
    confidence: float | None = None
    uncertain: bool | None = None
    probabilities: dict[str, float] | None = None
    duration: float | None = None


@dataclass
class PredictResult:
    """Everything `ser predict` prints, in every format."""

    model_dir: str
    bundles: list[str]
    fold: int | None
    labels: list[str]
    feature_sets: list[str]
    normalize: str
    confidence: str
    threshold: float | None
    files: list[FileResult]
    runtime: str = "native"
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Counts of files, ok, error and uncertain."""
        ok = sum(f.status == "ok" for f in self.files)
        return {"files": len(self.files), "ok": ok, "error": len(self.files) - ok,
                "uncertain": sum(bool(f.uncertain) for f in self.files)}

    def to_json(self) -> dict[str, Any]:
        """The document of ``--format json`` (validates against PREDICT_JSON_SCHEMA)."""
        return {
            "model_dir": self.model_dir, "bundles": self.bundles, "fold": self.fold,
            "labels": self.labels, "feature_sets": self.feature_sets,
            "normalize": self.normalize, "confidence": self.confidence,
            "runtime": self.runtime, "threshold": self.threshold, "summary": self.summary(),
            "warnings": self.warnings,
            "timing": {k: round(v, 4) for k, v in self.timing.items()},
            "files": [asdict(f) for f in self.files],
        }


# --------------------------------------------------------------------------- predictor


class Predictor:
    """Bundles loaded once, a warm worker pool, and batch prediction of files.

    ``jobs`` worker processes decode and featurise (0 = in this process). The pool is started
    before any model is loaded so the workers never import TensorFlow.
    """

    def __init__(self, model_dir: str | os.PathLike, *, fold: int | None = None,
                 jobs: int | None = None, runtime: str = "auto") -> None:
        from ser.models import RUNTIMES

        if runtime not in RUNTIMES:
            raise UsageError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.runtime = runtime
        self.runtime_used = "native"
        self.model_dir = Path(model_dir)
        self.fold = fold
        self.jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
        if self.jobs < 0:
            raise UsageError(f"--jobs must be >= 0, got {self.jobs}")
        self.bundle_dirs = find_bundles(self.model_dir, fold)
        self.docs = [_read_doc(b) for b in self.bundle_dirs]
        self.specs_per_bundle = [feature_spec(doc["feature_set"]) for doc in self.docs]
        self.specs: list[Spec] = list(dict.fromkeys(self.specs_per_bundle))
        self.audio = self._audio_params()
        self.labels: list[str] = []
        for doc in self.docs:
            self.labels += [str(x) for x in doc["labels"] if str(x) not in self.labels]
        modes = {str(doc.get("normalize", "global")) for doc in self.docs}
        self.normalize = modes.pop() if len(modes) == 1 else "mixed"
        self.notes: list[str] = []
        if any([str(x) for x in doc["labels"]] != self.labels for doc in self.docs):
            self.notes.append("the bundles were trained on different label sets; a label a "
                              "bundle does not know gets probability 0 from it before averaging")
        self._bundles: list[Any] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self.load_seconds = 0.0
        self.has_confidence = False

    def _audio_params(self) -> dict[str, Any]:
        params = []
        for doc in self.docs:
            a = dict(DEFAULT_AUDIO)
            a["sample_rate"] = doc.get("feature_set", {}).get("sample_rate") or a["sample_rate"]
            a.update({k: v for k, v in (doc.get("audio") or {}).items()
                      if k in DEFAULT_AUDIO and v is not None})
            params.append(a)
        for key in ("sample_rate", "trim_db"):
            values = {a[key] for a in params}
            if len(values) > 1:
                raise UsageError(f"bundles in {self.model_dir} disagree on audio.{key} "
                                 f"({sorted(values, key=str)}); predict with one of them (--fold)")
        return {"sample_rate": int(params[0]["sample_rate"]),
                "min_duration": float(params[0]["min_duration"]),
                "silence_dbfs": float(params[0]["silence_dbfs"]), "trim_db": params[0]["trim_db"]}

    @property
    def feature_set_names(self) -> list[str]:
        """Feature set names of the bundles (fused sets as a+b)."""
        return ["+".join(n for n, _ in spec) for spec in self.specs]

    def _ensure_pool(self) -> ProcessPoolExecutor | None:
        if self._pool is None:
            n = self.jobs
            if n == 0 and "tensorflow" in sys.modules and not _extractors_ready(self.specs):
                n = 1  # extractors built after TensorFlow may crash (openSMILE): use a worker
            if n == 0:
                return None
            self._pool = ProcessPoolExecutor(n, mp_context=_mp_context())
            for _ in range(n):
                self._pool.submit(_warm, self.specs, self.audio["sample_rate"])
        return self._pool

    def load(self) -> float:
        """Start the workers, then load every bundle (TensorFlow for Keras models); seconds.

        Without workers the extractors are built here first: openSMILE must be loaded before
        TensorFlow in one process.
        """
        pool = self._ensure_pool()
        if self._bundles is None:
            if pool is None and "tensorflow" not in sys.modules:
                _warm(self.specs, self.audio["sample_rate"])
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            from ser.bundle import load_bundle

            t0 = time.perf_counter()
            bundles = []
            for b in self.bundle_dirs:
                try:
                    bundles.append(load_bundle(b, self.runtime))
                except Exception as exc:  # noqa: BLE001 - a broken bundle is a bad MODEL_DIR
                    raise UsageError(f"cannot load bundle {b}: {type(exc).__name__}: {exc}. "
                                     f"{MODEL_DIR_HELP}") from None
            self._bundles = bundles
            self.load_seconds = time.perf_counter() - t0
            from ser.models import combine_runtimes, runtime_of

            self.runtime_used = combine_runtimes(runtime_of(b.model) for b in bundles)
            self.has_confidence = all(
                b.model.confidence(np.zeros((0, *b.model.input_shape), np.float32)) is not None
                for b in bundles)
        return self.load_seconds

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def featurise_files(self, paths: Sequence[str | os.PathLike]) -> list[Featurised]:
        """Decode and featurise files (in the pool when there is one), in input order."""
        futures = self._submit([os.fspath(p) for p in paths])
        return self._collect([os.fspath(p) for p in paths], futures)

    def _submit(self, paths: list[str]) -> list[Future] | None:
        pool = self._ensure_pool()
        if pool is None:
            return None
        return [pool.submit(featurise, p, self.audio, self.specs) for p in paths]

    def _collect(self, paths: list[str], futures: list[Future] | None) -> list[Featurised]:
        if futures is None:
            return [featurise(p, self.audio, self.specs) for p in paths]
        out = []
        broken = False
        for p, fut in zip(paths, futures, strict=True):
            try:
                out.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by a crashing decoder
                broken = True
                out.append(Featurised(p, f"worker failed: {type(exc).__name__}: {exc}"))
        if broken:  # a dead worker breaks the pool; start a fresh one next time
            self._pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[union-attr]
            self._pool = None
        return out

    def predict_files(self, paths: Sequence[str | os.PathLike],
                      threshold: float | None = None) -> PredictResult:
        """Classify files: featurise in parallel, then one batch per bundle; average bundles.

        With ``normalize: speaker`` bundles, all files of the call are standardised together as
        ONE speaker (a warning says so in the result).
        """
        t0 = time.perf_counter()
        paths = [os.fspath(p) for p in paths]
        futures = self._submit(paths)  # workers start on the files while the models load
        self.load()
        t1 = time.perf_counter()
        feats = self._collect(paths, futures)
        t2 = time.perf_counter()
        ok = [f for f in feats if f.reason is None]
        notes = list(self.notes)
        probs = conf = None
        if ok:
            probs, conf, more = self._predict_features(ok)
            notes += more
        t3 = time.perf_counter()
        files: list[FileResult] = []
        row = {f.path: i for i, f in enumerate(ok)}
        use_threshold = threshold is not None and threshold > 0
        for f in feats:
            if f.reason is not None:
                files.append(FileResult(f.path, "error", reason=f.reason, duration=f.duration))
                continue
            i = row[f.path]
            p = probs[i]  # type: ignore[index]
            c = float(conf[i])  # type: ignore[index]
            files.append(FileResult(
                f.path, "ok", label=self.labels[int(np.argmax(p))], confidence=c,
                uncertain=bool(use_threshold and c < float(threshold)),  # type: ignore[arg-type]
                probabilities={lab: float(v) for lab, v in zip(self.labels, p, strict=True)},
                duration=f.duration,
            ))
        timing = {"load_s": self.load_seconds, "wait_features_s": t2 - t1,
                  "predict_s": t3 - t2, "total_s": time.perf_counter() - t0}
        return PredictResult(
            model_dir=str(self.model_dir), bundles=[str(b) for b in self.bundle_dirs],
            fold=self.fold, labels=list(self.labels), feature_sets=self.feature_set_names,
            normalize=self.normalize,
            confidence="model" if self.has_confidence else "max_prob",
            runtime=self.runtime_used, threshold=threshold, files=files, warnings=notes,
            timing=timing,
        )

    def _predict_features(self, ok: list[Featurised]
                          ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Average the bundles' probabilities over ``self.labels``; confidence per the docs."""
        assert self._bundles is not None
        notes: list[str] = []
        col = {lab: j for j, lab in enumerate(self.labels)}
        all_probs, all_conf = [], []
        for bundle, spec in zip(self._bundles, self.specs_per_bundle, strict=True):
            X = np.stack([f.features[spec] for f in ok]).astype(np.float32)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                p, c = bundle.predict(X, None)
            for w in caught:
                msg = str(w.message)
                if "has a single clip" not in msg and msg not in notes:
                    notes.append(msg)
            aligned = np.zeros((len(ok), len(self.labels)), dtype=np.float64)
            aligned[:, [col[str(lab)] for lab in bundle.labels]] = p
            all_probs.append(aligned)
            all_conf.append(c)
        probs = np.mean(np.stack(all_probs), axis=0)
        if all(c is not None for c in all_conf):
            conf = np.mean(np.stack(all_conf), axis=0)
        else:
            conf = probs.max(axis=1)
        if self.normalize in ("speaker", "mixed") and any(
                b.normalize == "speaker" for b in self._bundles):
            notes.append(
                f"this model uses per-speaker normalisation (normalize: speaker): the {len(ok)} "
                "classified file(s) are treated as ONE speaker and standardised with their own "
                "statistics; classify one speaker's files together, and expect other results "
                "when the set of files changes")
            if len(ok) == 1:
                notes.append("a single file standardises to all zeros under speaker "
                             "normalisation: its prediction does not depend on the audio")
        return probs, conf, notes


# --------------------------------------------------------------------------- inputs


def _media_ext() -> frozenset[str]:
    from ser.corpora import MEDIA_EXTENSIONS

    return MEDIA_EXTENSIONS


def expand_inputs(inputs: Sequence[str]) -> tuple[list[str | FileResult], list[str]]:
    """Files as given and media files found recursively in folders (sorted, hidden skipped).

    Returns the items in order (a path to classify, or an error result for a folder without
    media files) and notes about skipped non-media files. Duplicates are listed once.
    """
    exts = _media_ext()
    items: list[str | FileResult] = []
    notes: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            items.append(p)

    for raw in inputs:
        if not os.path.isdir(raw):
            add(raw)
            continue
        found, skipped = [], 0
        for root, dirs, names in os.walk(raw):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                if os.path.splitext(name)[1].lower() in exts:
                    found.append(os.path.join(root, name))
                else:
                    skipped += 1
        if skipped:
            notes.append(f"{raw}: skipped {skipped} file(s) that are not audio/video "
                         f"(extensions: {', '.join(sorted(exts))})")
        if not found:
            items.append(FileResult(raw, "error", reason="folder holds no audio or video file"))
        for f in found:
            add(f)
    return items, notes


# --------------------------------------------------------------------------- output


def _fmt_prob(p: float) -> str:
    return f"{p:.2f}"


def format_table(result: PredictResult) -> str:
    """Aligned columns for people: status, top label, confidence, top-3 (or the reason)."""
    names = ", ".join(Path(b).name for b in result.bundles)
    head = (f"model {result.model_dir}: {len(result.bundles)} bundle(s) ({names}); features "
            f"{', '.join(result.feature_sets)}; confidence: "
            f"{'confidence branch' if result.confidence == 'model' else 'max probability'}; "
            f"runtime {result.runtime}")
    rows = [("PATH", "STATUS", "LABEL", "CONF", "TOP-3 / REASON")]
    for f in result.files:
        if f.status != "ok":
            rows.append((f.path, "error", "-", "-", f.reason or ""))
            continue
        top = sorted((f.probabilities or {}).items(), key=lambda kv: -kv[1])[:3]
        rows.append((f.path, "uncertain" if f.uncertain else "ok", f.label or "",
                     _fmt_prob(f.confidence or 0.0),
                     "  ".join(f"{lab} {_fmt_prob(p)}" for lab, p in top)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [head]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                 r[3].rjust(widths[3]), r[4]]
        lines.append("  ".join(cells).rstrip())
    s = result.summary()
    tail = f"{s['files']} file(s): {s['ok']} classified, {s['error']} failed"
    if result.threshold is not None and result.threshold > 0:
        tail += f", {s['uncertain']} uncertain (confidence < {result.threshold:g})"
    lines.append(tail)
    return "\n".join(lines) + "\n"


def csv_columns(labels: Sequence[str]) -> list[str]:
    """Columns of ``--format csv``."""
    return ["path", "status", "reason", "label", "confidence", "uncertain", "duration",
            *(f"prob_{lab}" for lab in labels)]


def write_csv(result: PredictResult, out: Any) -> None:
    """One row per file; probabilities at full precision in prob_<label> columns."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(csv_columns(result.labels))

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if isinstance(v, float) else str(v)

    for f in result.files:
        probs = f.probabilities or {}
        w.writerow([cell(f.path), f.status, cell(f.reason), cell(f.label), cell(f.confidence),
                    cell(f.uncertain), cell(f.duration),
                    *(cell(probs.get(lab)) for lab in result.labels)])


# --------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the command-line options of `ser predict`."""
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="results/models/DATASET/MODEL (fold bundles averaged) or one bundle")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER",
                   help="audio/video files; folders are searched recursively")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table",
                   help="output format (default: table)")
    p.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="mark a file 'uncertain' when its confidence is below T (0..1; "
                        "default: never)")
    p.add_argument("--fold", type=int, default=None, metavar="K",
                   help="use only bundle fold{K} of MODEL_DIR")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for decoding and features (default: CPU count; "
                        "0 = in the main process)")
    from ser.models import RUNTIMES

    p.add_argument("--runtime", choices=RUNTIMES, default="auto",
                   help="how Keras networks run: auto (default) = their LiteRT copy when the "
                        "bundle has one (starts in ~0.1 s, no TensorFlow), else Keras; keras = "
                        "always TensorFlow; litert = fail without a LiteRT copy")


def run(args: argparse.Namespace) -> tuple[PredictResult, list[str]]:
    """Classify the command line's inputs; returns the result and notes for stderr."""
    threshold = args.threshold
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be within 0..1, got {threshold:g}")
    if args.jobs is not None and args.jobs < 0:
        raise UsageError(f"--jobs must be >= 0, got {args.jobs}")
    items, notes = expand_inputs(args.inputs)
    paths = [i for i in items if isinstance(i, str)]
    jobs = (os.cpu_count() or 1) if args.jobs is None else args.jobs
    jobs = min(jobs, len(paths))
    with Predictor(args.model_dir, fold=args.fold, jobs=jobs,
                   runtime=getattr(args, "runtime", "auto")) as predictor:
        result = predictor.predict_files(paths, threshold)
    by_path = {f.path: f for f in result.files}
    result.files = [by_path[i] if isinstance(i, str) else i for i in items]
    result.warnings = notes + result.warnings
    return result, result.warnings


def main(args: argparse.Namespace) -> int:
    """`ser predict`: 0 when every file was classified, 1 when some failed, 2 on usage errors."""
    try:
        result, notes = run(args)
    except UsageError as exc:
        print(f"ser predict: error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        if args.format == "csv":
            write_csv(result, sys.stdout)
        else:
            sys.stdout.write(format_table(result))
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
    sys.stdout.flush()
    return 0 if result.summary()["error"] == 0 else 1
