"""Decode one file and extract a bundle's features exactly as the workflow did (the worker side
of `ser predict`).

Same numbers as evaluation: a file goes through the audio stage's own decoding and checks
(:mod:`ser.audio`) and the workflow's own extractors (:mod:`ser.features`); matrix features are
rounded through float16 because that is how the feature tables store them. These functions run in
worker processes that never import TensorFlow (see :func:`mp_context`).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ser import audio as au
from ser.errors import UsageError
from ser.features import get_feature_set
from ser.quality import assess
from ser.trust import signal_stats

Spec = tuple[tuple[str, str], ...]
"""A bundle's feature set as ((name, params JSON), ...): one part, or the parts of a fusion."""


@dataclass
class Featurised:
    """What a worker sends back for one file: features per spec, or the reason it failed."""

    path: str
    reason: str | None
    duration: float | None = None
    features: dict[Spec, np.ndarray] = field(default_factory=dict)
    quality: dict[str, Any] | None = None  # ser.quality estimates of the file as given
    level: float | None = None  # RMS dBFS of the decoded clip, compared with training's


_EXTRACTORS: dict[tuple[str, str], Any] = {}
_THREADS: list[int | None] = [None]


def set_threads(n: int | None) -> None:
    """CPU threads each extractor of this process may use (pretrained encoders run
    multi-threaded): the Predictor gives each of its worker processes its share of the CPUs, so
    N workers never start N x CPUs encoder threads. Set before the extractors are built."""
    _THREADS[0] = None if n is None else max(1, int(n))


def _extractor(name: str, params_json: str) -> Any:
    """The workflow's extractor for a feature set, built once per process (one Smile, one
    Whisper model each)."""
    key = (name, params_json)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = get_feature_set(name).extractor(json.loads(params_json),
                                                           threads=_THREADS[0])
    return _EXTRACTORS[key]


def extract_spec(spec: Spec, signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """Features of one decoded clip as the bundle's training table held them.

    Matrix sets (log-mel) are rounded through float16, the storage type of feature tables;
    fused sets concatenate their parts' vectors in order.
    """
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
    """Decode a file exactly as the audio stage does and apply its checks: both call
    :func:`ser.audio.load_clip`, the one decode-and-check.

    Raises :class:`ser.audio.AudioError` with the audio stage's reason (missing, empty, no
    audio stream, unreadable, too short, silent).
    """
    trim_db = audio.get("trim_db")
    return au.load_clip(path, sample_rate=int(audio["sample_rate"]),
                        min_duration=float(audio["min_duration"]),
                        silence_dbfs=float(audio["silence_dbfs"]),
                        trim_db=None if trim_db is None else float(trim_db)).signal


def featurise(path: str, audio: dict[str, Any], specs: Sequence[Spec]) -> Featurised:
    """Decode + check + extract every spec for one file (runs in a worker; no TensorFlow)."""
    sr = int(audio["sample_rate"])
    trim_db = audio.get("trim_db")
    try:
        whole = load_signal(path, {**audio, "trim_db": None})
        # recording conditions of the file as given: before trimming, pauses show the noise
        quality = assess(whole, sr).as_dict()
        signal = whole if trim_db is None else au.prepare_signal(
            whole, sr, min_duration=float(audio["min_duration"]),
            silence_dbfs=float(audio["silence_dbfs"]), trim_db=float(trim_db))
    except au.AudioError as exc:
        return Featurised(path, str(exc))
    except OSError as exc:
        return Featurised(path, f"unreadable: {exc.strerror or exc}")
    duration = round(signal.size / sr, 4)
    level = round(signal_stats(signal, sr)[1], 2)
    feats: dict[Spec, np.ndarray] = {}
    for spec in specs:
        try:
            feats[spec] = extract_spec(spec, signal, sr)
        except Exception as exc:  # noqa: BLE001 - every failure is reported for its file
            name = "+".join(n for n, _ in spec)
            return Featurised(path, f"features failed ({name}): {type(exc).__name__}: {exc}",
                              duration)
    return Featurised(path, None, duration, feats, quality, level)


def warm(specs: Sequence[Spec], sample_rate: int) -> None:
    """Import the feature libraries and build the extractors in a worker ahead of real files."""
    noise = np.random.default_rng(0).normal(0.0, 0.05, sample_rate).astype(np.float32)
    for spec in specs:
        try:
            extract_spec(spec, noise, sample_rate)
        except Exception:  # noqa: BLE001 - a real file will report the problem
            pass


def mp_context() -> Any:
    """fork while TensorFlow is not loaded (cheap, inherits imports), else a clean forkserver.

    A child forked after TensorFlow must not load openSMILE: its library corrupts the heap
    when it loads after TensorFlow's ("malloc(): invalid size"). Under forkserver/spawn the
    calling script needs the usual ``if __name__ == "__main__":`` guard.
    """
    methods = mp.get_all_start_methods()
    if "tensorflow" not in sys.modules and sys.platform.startswith("linux") and "fork" in methods:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def extractors_ready(specs: Sequence[Spec]) -> bool:
    """Whether every extractor of `specs` is already built in this process."""
    return all(part in _EXTRACTORS for spec in specs for part in spec)


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
