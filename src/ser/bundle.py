"""Model bundles: a trained model saved together with everything needed to feed it.

A bundle folder holds ``model/`` (written by the model's own ``save``), ``bundle.json`` (labels,
feature set, audio parameters, normalisation mode, training facts) and ``scaler.npz`` (arrays
only, read with ``allow_pickle=False``). Keeping the scaler and label order next to the weights
means ``ser predict`` cannot pair a model with the wrong preprocessing. Nothing is pickled.

Scaler modes:

- ``global``: per-feature standardisation with training statistics (for 3-D log-mel input,
  per mel band over all frames);
- ``speaker``: each speaker's clips are standardised with that speaker's own statistics, at
  prediction time too (this assumes the speaker is known when predicting);
- ``none``: features pass through unchanged.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ser import models
from ser.errors import UsageError
from ser.io import atomic_dir, write_json

BUNDLE_FORMAT = 1
SCALER_MODES = ("global", "speaker", "none")

Speakers = Sequence[Any] | np.ndarray
"""One speaker per row (any values; compared as strings)."""


# --------------------------------------------------------------------------- scaler


def _stat_axes(X: np.ndarray) -> tuple[int, ...]:
    """Axes to pool over: rows for vectors, rows and frames for (n, frames, mels) matrices."""
    if X.ndim < 2:
        raise ValueError(f"features must be 2-D (n, d) or 3-D (n, frames, mels), got {X.shape}")
    return tuple(range(X.ndim - 1))


def mean_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (per mel band for matrices) mean and deviation, deviation 0 replaced by 1."""
    return _mean_scale(X)


def _mean_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axes = _stat_axes(X)
    X64 = np.asarray(X, dtype=np.float64)
    mean = X64.mean(axis=axes)
    std = X64.std(axis=axes)
    scale = np.where(std > 1e-12, std, 1.0)
    return mean.astype(np.float64), scale.astype(np.float64)


def fit_scaler(X: np.ndarray, mode: str = "global") -> dict[str, Any]:
    """Statistics of the training part: ``{mean, scale, mode}`` (empty arrays unless global)."""
    if mode not in SCALER_MODES:
        raise ValueError(f"unknown normalize mode {mode!r}; choose one of {SCALER_MODES}")
    if mode == "global":
        mean, scale = _mean_scale(X)
    else:
        mean = scale = np.zeros(0, dtype=np.float64)
    return {"mean": mean, "scale": scale, "mode": mode}


def speaker_standardize(X: np.ndarray, speakers: Speakers) -> np.ndarray:
    """Standardise each speaker's rows with that speaker's own mean and deviation."""
    names = np.asarray([str(s) for s in speakers])
    if len(names) != len(X):
        raise ValueError(f"{len(names)} speakers for {len(X)} rows")
    out = np.empty(X.shape, dtype=np.float32)
    for spk in np.unique(names):
        rows = names == spk
        if rows.sum() < 2:
            warnings.warn(
                f"speaker {spk} has a single clip; speaker normalisation maps it to zeros",
                stacklevel=2,
            )
        mean, scale = _mean_scale(X[rows])
        out[rows] = (X[rows] - mean) / scale
    return out


def apply_scaler(
    X: np.ndarray, scaler: dict[str, Any], speakers: Speakers | None = None
) -> np.ndarray:
    """Apply a fitted scaler; ``speaker`` mode needs the rows' speakers (else one speaker)."""
    mode = str(scaler["mode"])
    X = np.asarray(X, dtype=np.float32)
    if mode == "none":
        return X
    if mode == "speaker":
        if speakers is None:
            speakers = ["?"] * len(X)
        return speaker_standardize(X, speakers)
    if mode != "global":
        raise ValueError(f"unknown scaler mode {mode!r}")
    mean = np.asarray(scaler["mean"])
    scale = np.asarray(scaler["scale"])
    if mean.shape != X.shape[-1:]:
        raise ValueError(
            f"scaler was fitted on {mean.shape[0] if mean.ndim else 0} features per row/band, "
            f"got input of shape {X.shape}"
        )
    return ((X - mean) / scale).astype(np.float32)


# --------------------------------------------------------------------------- bundle


@dataclass
class Bundle:
    """A loaded bundle: the model and the preprocessing it was trained with."""

    path: Path
    model: Any
    labels: list[str]
    scaler: dict[str, Any]
    feature_set: dict[str, Any]
    audio: dict[str, Any]
    normalize: str
    train_info: dict[str, Any] = field(default_factory=dict)
    #: ranges of the training clips (``ser.trust.training_profile``); empty for older bundles
    profile: dict[str, Any] = field(default_factory=dict)
    profile_arrays: dict[str, np.ndarray] | None = None
    #: the strict twin of an adaptive (normalize: speaker) bundle trained with fallback: strict
    #: (``strict/`` inside the bundle): what `ser predict --adapt-by` uses for small groups
    strict: Bundle | None = None

    def transform(self, X: np.ndarray, speakers: Speakers | None = None) -> np.ndarray:
        """Scale raw features exactly as the training part was scaled."""
        return apply_scaler(X, self.scaler, speakers)

    def predict(
        self, X: np.ndarray, speakers: Speakers | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Class probabilities (columns in ``labels`` order) and the model's own confidence."""
        Xs = self.transform(X, speakers)
        probs = np.asarray(self.model.predict_proba(Xs), dtype=np.float64)
        conf = self.model.confidence(Xs)
        return probs, (None if conf is None else np.asarray(conf, dtype=np.float64))


def save_bundle(
    bundle_dir: Path | str,
    model: Any,
    *,
    labels: Sequence[str],
    scaler: dict[str, Any],
    feature_set: dict[str, Any],
    audio: dict[str, Any] | None = None,
    normalize: str = "global",
    train_info: dict[str, Any] | None = None,
    history: Any = None,
    profile: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None,
    strict: dict[str, Any] | None = None,
) -> Path:
    """Write model, scaler and description into ``bundle_dir`` as one atomic step.

    Everything is written into a temporary sibling folder which then replaces ``bundle_dir``,
    so a crash never leaves a half-written bundle. ``history`` (a DataFrame) becomes
    ``history.csv``; ``profile`` (summary, arrays) from ``ser.trust.training_profile`` becomes
    bundle.json's ``profile`` and ``profile.npz``, what `ser predict` checks new files against.
    ``strict`` (keyword arguments of the same kind: model, scaler, train_info, ...) is the
    strict twin of an adaptive model, written as a complete bundle in ``strict/``.
    """
    bundle_dir = Path(bundle_dir)
    with atomic_dir(bundle_dir) as tmp:
        _write_bundle(tmp, model, labels=labels, scaler=scaler, feature_set=feature_set,
                      audio=audio, normalize=normalize, train_info=train_info, history=history,
                      profile=profile, fallback="strict" if strict else None)
        if strict:
            twin = {"labels": labels, "feature_set": feature_set, "audio": audio,
                    "normalize": "global", **strict}
            _write_bundle(tmp / STRICT_DIR, twin.pop("model"), **twin)
    return bundle_dir


STRICT_DIR = "strict"


def _write_bundle(
    tmp: Path,
    model: Any,
    *,
    labels: Sequence[str],
    scaler: dict[str, Any],
    feature_set: dict[str, Any],
    audio: dict[str, Any] | None = None,
    normalize: str = "global",
    train_info: dict[str, Any] | None = None,
    history: Any = None,
    profile: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None,
    fallback: str | None = None,
) -> None:
    """The files of one bundle in ``tmp`` (inside :func:`save_bundle`'s atomic folder)."""
    tmp.mkdir(parents=True, exist_ok=True)
    model.save(tmp / "model")
    mode = str(scaler["mode"])
    np.savez(
        tmp / "scaler.npz",
        mean=np.asarray(scaler.get("mean", np.zeros(0)), dtype=np.float64),
        scale=np.asarray(scaler.get("scale", np.zeros(0)), dtype=np.float64),
        mode=np.array(mode),
    )
    if history is not None:
        history.to_csv(tmp / "history.csv", index=False)
    if profile is not None:
        arrays: dict[str, Any] = {k: np.asarray(v, dtype=np.float64)
                                  for k, v in profile[1].items()}
        np.savez(tmp / "profile.npz", **arrays)
    doc = {
        "format": BUNDLE_FORMAT,
        "labels": [str(x) for x in labels],
        "feature_set": feature_set,
        "audio": audio or {},
        "normalize": normalize,
        "assumes_speaker_identity": normalize == "speaker",
        "model": {
            "arch": getattr(model, "arch", None),
            "input_kind": getattr(model, "input_kind", None),
        },
        "train_info": train_info or {},
        "profile": profile[0] if profile is not None else {},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if fallback:
        doc["fallback"] = fallback
    write_json(tmp / "bundle.json", doc)


def load_bundle(bundle_dir: Path | str, runtime: str = "auto") -> Bundle:
    """Load a bundle written by :func:`save_bundle` (JSON, npz without pickle, model files).

    `runtime` picks how Keras networks run (see `ser.models.load`): "auto" uses the LiteRT copy
    when there is one, which needs no TensorFlow."""
    bundle_dir = Path(bundle_dir)
    doc_path = bundle_dir / "bundle.json"
    if not doc_path.is_file():
        raise FileNotFoundError(f"{bundle_dir} is not a model bundle (no bundle.json)")
    doc = json.loads(doc_path.read_text())
    if doc.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"{bundle_dir}: unsupported bundle format {doc.get('format')!r}")
    with np.load(bundle_dir / "scaler.npz", allow_pickle=False) as z:
        scaler = {"mean": z["mean"], "scale": z["scale"], "mode": str(z["mode"])}
    model = models.load(bundle_dir / "model", runtime)
    arrays = None
    if (bundle_dir / "profile.npz").is_file():
        with np.load(bundle_dir / "profile.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    return Bundle(
        path=bundle_dir,
        model=model,
        labels=list(doc["labels"]),
        scaler=scaler,
        feature_set=doc.get("feature_set", {}),
        audio=doc.get("audio", {}),
        normalize=doc.get("normalize", scaler["mode"]),
        train_info=doc.get("train_info", {}),
        profile=doc.get("profile") or {},
        profile_arrays=arrays,
        strict=(load_bundle(bundle_dir / STRICT_DIR, runtime)
                if (bundle_dir / STRICT_DIR / "bundle.json").is_file() else None),
    )


# --------------------------------------------------------------------------- discovery


MODEL_DIR_HELP = (
    "MODEL_DIR must be a folder written by the workflow: results/models/DATASET (the "
    "leaderboard's best model, named in its leaderboard.json), results/models/DATASET/MODEL "
    "(its final/ bundle trained on all clips; --folds averages its fold0/, fold1/, ... bundles "
    "instead) or one bundle folder such as results/models/DATASET/MODEL/fold0 (a bundle holds "
    "bundle.json, scaler.npz and model/)"
)
FINAL = "final"
"""The bundle trained on every clip of a dataset (``train.final``), beside the fold bundles."""
MODEL_CHOICE = "leaderboard.json"
"""Written by the workflow into results/models/DATASET: the models and the best one."""


def _fold_key(p: Path) -> tuple[float, str]:
    m = re.fullmatch(r"fold(\d+)", p.name)
    return (int(m.group(1)) if m else float("inf"), p.name)


def _bundle_dirs_under(d: Path) -> list[Path]:
    """Sub-folders that are bundles: the fold bundles in fold order, then any others."""
    if not d.is_dir():
        return []
    subs = [s for s in d.iterdir()
            if s.is_dir() and not s.name.startswith(".") and (s / "bundle.json").is_file()]
    return sorted(subs, key=_fold_key)


def read_model_choice(dataset_dir: Path) -> dict[str, Any] | None:
    """leaderboard.json of a dataset's model folder (None when there is none)."""
    path = Path(dataset_dir) / MODEL_CHOICE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def read_bundle_doc(bundle_dir: Path) -> dict[str, Any]:
    """bundle.json of a bundle folder, checked for what prediction needs."""
    try:
        doc = json.loads((bundle_dir / "bundle.json").read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {bundle_dir / 'bundle.json'}: {exc}") from None
    for key in ("labels", "feature_set"):
        if key not in doc:
            raise UsageError(f"{bundle_dir / 'bundle.json'} has no {key!r}; {MODEL_DIR_HELP}")
    return doc


def find_bundles(model_dir: str | os.PathLike, fold: int | None = None, *,
                 folds: bool = False) -> list[Path]:
    """Bundle folders for MODEL_DIR: one bundle; a model folder's final bundle (trained on all
    clips), or with ``folds`` its fold bundles (averaged by the caller), or with ``fold`` one of
    them; a dataset folder's best model (its leaderboard.json), resolved the same way.

    Raises :class:`UsageError` explaining what a model folder looks like.
    """
    d = Path(model_dir)
    if not d.exists():
        raise UsageError(f"MODEL_DIR {d} does not exist. {MODEL_DIR_HELP}")
    if not d.is_dir():
        raise UsageError(f"MODEL_DIR {d} is a file, not a folder. {MODEL_DIR_HELP}")
    choice = read_model_choice(d) if not (d / "bundle.json").is_file() else None
    if choice is not None and not _bundle_dirs_under(d):
        best = d / str(choice.get("best", ""))
        if not best.is_dir():
            raise UsageError(f"{d / MODEL_CHOICE} names model {choice.get('best')!r}, but "
                             f"{best} does not exist; give a model folder. {MODEL_DIR_HELP}")
        return find_bundles(best, fold, folds=folds)
    if (d / "bundle.json").is_file():
        if fold is not None:
            got = read_bundle_doc(d).get("train_info", {}).get("fold")
            if got != fold:
                what = "the full corpus" if got is None else f"fold {got}"
                raise UsageError(f"--fold {fold}: bundle {d} was trained for {what}; give its "
                                 f"parent folder with --fold, or leave --fold out")
        return [d]
    found = _bundle_dirs_under(d)
    if not found:
        model_dirs = [s for s in sorted(d.iterdir()) if s.is_dir() and _bundle_dirs_under(s)]
        hint = ""
        if model_dirs:
            hint = (" It holds model folders; pick one: "
                    + ", ".join(str(m) for m in model_dirs[:8]) + ".")
        raise UsageError(f"MODEL_DIR {d} holds no model bundle (no bundle.json in it or in its "
                         f"sub-folders).{hint} {MODEL_DIR_HELP}")
    if fold is not None:
        chosen = [b for b in found if b.name == f"fold{fold}"]
        if not chosen:
            names = ", ".join(b.name for b in found)
            raise UsageError(f"--fold {fold}: {d} has no fold{fold}/ bundle (it has {names})")
        return chosen
    fold_bundles = [b for b in found if b.name != FINAL]
    if folds:
        if not fold_bundles:
            raise UsageError(f"--folds: {d} has no fold bundles (it has "
                             f"{', '.join(b.name for b in found)})")
        return fold_bundles
    if (d / FINAL / "bundle.json").is_file():
        return [d / FINAL]
    return fold_bundles or found
