"""Speech segments of long recordings: voice activity detection (VAD) and segmentation.

Why: a model trained on 3 s clips gives one label per file; a 60 s call with thirty utterances
needs one label per utterance. This module finds the utterances; :func:`featurise_segments`
then classifies each one through the same checks and extractors as a whole clip.

Two steps, kept apart so every VAD shares one segmentation rule:

1. a VAD from :data:`VADS` gives a speech probability per short frame;
2. :func:`find_segments` turns the frames into segments with :class:`SegmentParams`
   (hysteresis on the threshold, pauses shorter than ``merge_gap`` bridged, speech shorter than
   ``min_segment`` dropped, ``pad`` seconds of context added, segments longer than
   ``max_segment`` cut into equal windows).

VADs (``bench/segment.py`` measures them on joined RAVDESS clips, clean and noisy):

- ``silero`` (default): the Silero VAD v6 network (MIT), the batched "sequence" ONNX export
  taken unchanged from the ``silero-vad`` 6.2.3 wheel (``ser/data/``; its hash is checked),
  run with ``onnxruntime``. The ``silero-vad`` package itself requires torch (a multi-GB
  install) even for its ONNX path, so we ship its 1.2 MB model file and feed it here.
- ``energy``: frame RMS within 35 dB of the loudest frame (librosa), no model at all: fine on
  studio recordings, useless once there is background noise (it then finds one long segment).

Why Silero: on 64 utterances joined from RAVDESS clips it found 63 clean and 48 at 10 dB SNR of
pink noise, against 60 and 35 for the WebRTC VAD (``webrtcvad-wheels`` 2.0.14.post1, mode 3,
which also misses quiet speech: it found nothing in a calm clip peaking at -37 dBFS) and 55
and 0 (one segment spanning everything) for the energy split; docs/predict.md has the table.
It costs ~0.2 s per minute of audio on one core.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ser.audio import AudioError, prepare_signal
from ser.featurise import extract_spec, load_signal
from ser.predict_output import SegmentResult
from ser.quality import assess

SILERO_MODEL = Path(__file__).with_name("data") / "silero_vad_16k_sequence.onnx"
SILERO_SHA256 = "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"
SILERO_RATE = 16000
SILERO_FRAME = 512  # samples per decision at 16 kHz (32 ms)
SILERO_CONTEXT = 64  # samples of the previous frame the model sees before each frame
SILERO_BLOCK = 512  # frames per ONNX call (16 s of audio)

ENERGY_FRAME_S = 0.025
ENERGY_HOP_S = 0.010
ENERGY_TOP_DB = 35.0


# --------------------------------------------------------------------------- VADs


@dataclass(frozen=True)
class Vad:
    """A voice activity detector: speech probability (0..1) per frame of ``hop_s`` seconds."""

    name: str
    hop_s: float
    description: str
    probabilities: Callable[[np.ndarray, int], np.ndarray]


def _resample(signal: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return np.asarray(signal, dtype=np.float32)
    import librosa

    return librosa.resample(np.asarray(signal, dtype=np.float32), orig_sr=sr, target_sr=target,
                            res_type="soxr_hq").astype(np.float32)


_SESSIONS: dict[str, Any] = {}


def _silero_session() -> Any:
    """One onnxruntime session per process (single-threaded: workers run in parallel)."""
    if "silero" not in _SESSIONS:
        data = SILERO_MODEL.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != SILERO_SHA256:
            raise RuntimeError(f"{SILERO_MODEL} has sha256 {digest}, expected {SILERO_SHA256}; "
                               "reinstall the package")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        _SESSIONS["silero"] = ort.InferenceSession(data, sess_options=opts,
                                                   providers=["CPUExecutionProvider"])
    return _SESSIONS["silero"]


def silero_probabilities(signal: np.ndarray, sr: int) -> np.ndarray:
    """Silero speech probability per 32 ms frame.

    Written here rather than imported: ``silero_vad.sequence_vad`` does exactly this framing
    (each 512-sample frame preceded by the last 64 samples of the previous one, LSTM state
    carried across blocks) but cannot be imported without torch.
    """
    x = _resample(signal, sr, SILERO_RATE)
    n_frames = math.ceil(x.size / SILERO_FRAME)
    if n_frames == 0:
        return np.zeros(0, dtype=np.float32)
    frames = np.zeros((n_frames, SILERO_FRAME), dtype=np.float32)
    frames.reshape(-1)[: x.size] = x
    context = np.zeros((n_frames, SILERO_CONTEXT), dtype=np.float32)
    context[1:] = frames[:-1, -SILERO_CONTEXT:]
    inputs = np.concatenate([context, frames], axis=1)
    session = _silero_session()
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    out = []
    for i in range(0, n_frames, SILERO_BLOCK):
        p, h, c = session.run(["speech_probs", "hn", "cn"],
                              {"input": inputs[i:i + SILERO_BLOCK], "h": h, "c": c})
        out.append(np.asarray(p, dtype=np.float32).reshape(-1))
    return np.concatenate(out)


def energy_probabilities(signal: np.ndarray, sr: int) -> np.ndarray:
    """1 where the frame's RMS is within ENERGY_TOP_DB of the loudest frame (librosa), else 0."""
    import librosa

    frame = max(16, int(round(ENERGY_FRAME_S * sr)))
    hop = max(1, int(round(ENERGY_HOP_S * sr)))
    x = np.asarray(signal, dtype=np.float32)
    rms = librosa.feature.rms(y=x, frame_length=frame, hop_length=hop, center=True)[0]
    if rms.size == 0 or float(rms.max()) <= 0.0:
        return np.zeros(rms.size, dtype=np.float32)
    db = librosa.amplitude_to_db(rms, ref=float(rms.max()), top_db=None)
    return (db > -ENERGY_TOP_DB).astype(np.float32)


VADS: dict[str, Vad] = {
    "silero": Vad("silero", SILERO_FRAME / SILERO_RATE,
                  "Silero VAD v6 network (ONNX, onnxruntime)", silero_probabilities),
    "energy": Vad("energy", ENERGY_HOP_S,
                  f"frame energy within {ENERGY_TOP_DB:g} dB of the loudest frame",
                  energy_probabilities),
}
"""Registry of VADs by name: the single list that the CLI, the server and the bench use."""


def get_vad(name: str) -> Vad:
    """The VAD called ``name``; ValueError listing the names otherwise."""
    try:
        return VADS[name]
    except KeyError:
        raise ValueError(f"unknown VAD {name!r}; choose one of {', '.join(VADS)}") from None


# --------------------------------------------------------------------------- segmentation


@dataclass(frozen=True)
class SegmentParams:
    """How speech frames become segments (seconds; see the module docstring)."""

    vad: str = "silero"
    threshold: float = 0.5
    min_segment: float = 0.5
    max_segment: float = 10.0
    pad: float = 0.05
    merge_gap: float = 0.3

    def check(self) -> None:
        """Raise ValueError naming the option (as on the command line) and what to do."""
        get_vad(self.vad)
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"--vad-threshold must be within (0, 1), got {self.threshold:g}")
        for name in ("min_segment", "pad", "merge_gap"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0 seconds, "
                                 f"got {getattr(self, name):g}")
        if self.max_segment <= 0 or self.max_segment < self.min_segment:
            raise ValueError(f"--max-segment must be > 0 and >= --min-segment "
                             f"({self.min_segment:g} s), got {self.max_segment:g}")

    def to_json(self) -> dict[str, Any]:
        """The parameters as recorded in ``ser predict --segment`` output."""
        return {"vad": self.vad, "threshold": self.threshold, "min_segment": self.min_segment,
                "max_segment": self.max_segment, "pad": self.pad, "merge_gap": self.merge_gap}


def speech_runs(probs: np.ndarray, hop_s: float, threshold: float) -> list[tuple[float, float]]:
    """Runs of speech frames in seconds, with hysteresis: speech starts at ``p >= threshold``
    and ends when ``p`` falls below ``threshold - 0.15`` (Silero's own rule; a flickering
    probability near the threshold does not chop an utterance)."""
    low = max(0.0, threshold - 0.15)
    runs: list[tuple[float, float]] = []
    start: int | None = None
    for i, p in enumerate(np.asarray(probs, dtype=np.float64)):
        if start is None and p >= threshold:
            start = i
        elif start is not None and p < low:
            runs.append((start * hop_s, i * hop_s))
            start = None
    if start is not None:
        runs.append((start * hop_s, len(probs) * hop_s))
    return runs


def segment_runs(runs: Sequence[tuple[float, float]], duration: float,
                 params: SegmentParams) -> list[tuple[float, float]]:
    """Merge, drop, pad and window speech runs (seconds) into the segments to classify."""
    merged: list[list[float]] = []
    for a, b in runs:
        b = min(b, duration)
        if merged and a - merged[-1][1] < params.merge_gap:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    kept = [(a, b) for a, b in merged if b - a >= params.min_segment]
    padded: list[list[float]] = []
    for i, (a, b) in enumerate(kept):
        lo = 0.0 if i == 0 else (kept[i - 1][1] + a) / 2  # never pad into a neighbour
        hi = duration if i == len(kept) - 1 else (b + kept[i + 1][0]) / 2
        padded.append([max(lo, a - params.pad), min(hi, b + params.pad)])
    out: list[tuple[float, float]] = []
    for a, b in padded:
        n = max(1, math.ceil((b - a) / params.max_segment - 1e-9))
        edges = np.linspace(a, b, n + 1)
        out += [(float(edges[k]), float(edges[k + 1])) for k in range(n)]
    return [(round(a, 3), round(b, 3)) for a, b in out]


def find_segments(signal: np.ndarray, sr: int,
                  params: SegmentParams | None = None) -> list[tuple[float, float]]:
    """Speech segments of a decoded signal as (start, end) seconds."""
    params = params or SegmentParams()
    vad = get_vad(params.vad)
    probs = vad.probabilities(signal, sr)
    return segment_runs(speech_runs(probs, vad.hop_s, params.threshold), signal.size / sr,
                        params)


# --------------------------------------------------------------------------- featurising


@dataclass
class SegmentFeatures:
    """One segment of a file: its span, and features per spec or the reason it failed."""

    start: float
    end: float
    reason: str | None = None
    features: dict[Any, np.ndarray] = field(default_factory=dict)
    quality: dict[str, Any] | None = None  # ser.quality of the segment's samples as given


@dataclass
class SegmentedFile:
    """What a worker sends back for one file in segment mode."""

    path: str
    reason: str | None
    duration: float | None = None
    segments: list[SegmentFeatures] = field(default_factory=list)
    quality: dict[str, Any] | None = None  # ser.quality of the whole file as given


def segment_signal(signal: np.ndarray, sr: int, start: float, end: float) -> np.ndarray:
    """The samples of ``[start, end)`` seconds (the same rounding everywhere)."""
    return signal[int(round(start * sr)):int(round(end * sr))]


def featurise_segments(path: str | os.PathLike, audio: dict[str, Any], specs: Sequence[Any],
                       params: SegmentParams) -> SegmentedFile:
    """Decode + check a file, find its segments, then check + extract each segment.

    The file goes through the audio stage's decoding and checks (``trim_db`` aside: trimming
    would shift the timeline); each segment then goes through the same checks and trimming as
    a clip (``prepare_signal``) and the bundle's extractors, so a segment gets the numbers a
    file holding exactly its samples would get from ``ser predict``. Runs in a worker.
    """
    path = os.fspath(path)
    sr = int(audio["sample_rate"])
    try:
        signal = load_signal(path, {**audio, "trim_db": None})
    except AudioError as exc:
        return SegmentedFile(path, str(exc))
    except OSError as exc:
        return SegmentedFile(path, f"unreadable: {exc.strerror or exc}")
    duration = round(signal.size / sr, 4)
    spans = find_segments(signal, sr, params)
    if not spans:
        return SegmentedFile(path, f"no speech found by the {params.vad} VAD", duration)
    trim_db = audio.get("trim_db")
    out = []
    for start, end in spans:
        samples = segment_signal(signal, sr, start, end)
        # the segment's own conditions (noise can come and go within a long recording); its
        # pauses are short, so the estimate leans on the file's when the segment has none
        seg = SegmentFeatures(start, end, quality=assess(samples, sr).as_dict())
        out.append(seg)
        try:
            x = prepare_signal(samples, sr,
                               min_duration=float(audio["min_duration"]),
                               silence_dbfs=float(audio["silence_dbfs"]),
                               trim_db=None if trim_db is None else float(trim_db))
        except AudioError as exc:
            seg.reason = str(exc)
            continue
        for spec in specs:
            try:
                seg.features[spec] = extract_spec(spec, x, sr)
            except Exception as exc:  # noqa: BLE001 - reported for its segment
                name = "+".join(n for n, _ in spec)
                seg.reason = f"features failed ({name}): {type(exc).__name__}: {exc}"
                seg.features = {}
                break
    return SegmentedFile(path, None, duration, out, assess(signal, sr).as_dict())


# --------------------------------------------------------------------------- test recordings


def speech_extent(signal: np.ndarray, sr: int, top_db: float = 30.0) -> tuple[float, float]:
    """The span (seconds) that the workflow's silence trimming keeps (``audio.trim_db``).

    The reference speech span of a studio clip whose pauses are (near) silent, as in RAVDESS;
    used to score segmentation on recordings joined from such clips.
    """
    import librosa

    frame, hop = int(0.025 * sr), int(0.010 * sr)
    _, (a, b) = librosa.effects.trim(np.asarray(signal, dtype=np.float32), top_db=float(top_db),
                                     frame_length=frame, hop_length=hop)
    return a / sr, b / sr


Spans = list[tuple[float, float]]


def join_clips(clips: Sequence[np.ndarray], sr: int, pause: float = 1.0,
               top_db: float = 30.0) -> tuple[np.ndarray, Spans, Spans]:
    """One long recording from clips separated by ``pause`` seconds of silence.

    Returns the signal, each clip's (start, end) in it and each clip's reference speech span
    (:func:`speech_extent`) in it, in seconds.
    """
    gap = np.zeros(int(round(pause * sr)), dtype=np.float32)
    parts: list[np.ndarray] = []
    spans, speech = [], []
    t = 0
    for i, clip in enumerate(clips):
        if i:
            parts.append(gap)
            t += gap.size
        a, b = speech_extent(clip, sr, top_db)
        spans.append((t / sr, (t + clip.size) / sr))
        speech.append((t / sr + a, t / sr + b))
        parts.append(np.asarray(clip, dtype=np.float32))
        t += clip.size
    return np.concatenate(parts), spans, speech


# --------------------------------------------------------------------------- prediction


def label_share(segments: Sequence[SegmentResult], labels: Sequence[str]) -> dict[str, float]:
    """Share of the classified speech time per label (0 for labels never chosen)."""
    total = {lab: 0.0 for lab in labels}
    for s in segments:
        if s.status == "ok" and s.label is not None:
            total[s.label] += s.end - s.start
    whole = sum(total.values())
    return {lab: (t / whole if whole > 0 else 0.0) for lab, t in total.items()}


def summarise_file(segments: Sequence[SegmentResult], labels: Sequence[str],
                   threshold: float | None, *, model_confidence: bool = False) -> dict[str, Any]:
    """File-level label, probabilities and confidence from its segments, weighted by duration.

    As for a whole file: the probabilities are the duration-weighted mean of the segments', the
    label their top one, and the confidence their largest value, unless the model has a
    confidence branch (``model_confidence``), whose segment outputs are averaged the same way. A
    recording whose segments disagree therefore gets a low confidence. ``label_share`` tells
    how the speech time divides among the segments' labels.
    """
    ok = [s for s in segments if s.status == "ok"]
    w = np.array([s.end - s.start for s in ok], dtype=np.float64)
    probs = np.array([[s.probabilities[lab] for lab in labels] for s in ok])  # type: ignore[index]
    mean = (w[:, None] * probs).sum(axis=0) / w.sum()
    if model_confidence:
        conf = float((w * np.array([s.confidence for s in ok])).sum() / w.sum())
    else:
        conf = float(mean.max())
    return {"label": labels[int(np.argmax(mean))], "confidence": conf,
            "uncertain": bool(threshold is not None and threshold > 0 and conf < threshold),
            "probabilities": {lab: float(v) for lab, v in zip(labels, mean, strict=True)},
            "label_share": label_share(segments, labels)}
