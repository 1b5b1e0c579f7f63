"""Model registry: one module per family, built and loaded by architecture name.

    model = build("conf_dnn", (384,), 6, {"epochs": 50}, seed=0)
    history = model.fit(X, y, X_val, y_val, class_weight=..., threads=4)
    model.save(out_dir)            # model.json + the family's files; never pickle
    model = load(out_dir)

Importing this package is cheap: TensorFlow, XGBoost and scikit-learn are imported only when a
model is built, trained or loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ser.models.base import META_FILE, BaseModel, Model, read_meta
from ser.models.cnn import CNN
from ser.models.conf_dnn import ConfDNN
from ser.models.conv1d import Conv1D
from ser.models.dnn import DNN
from ser.models.ensemble import Ensemble
from ser.models.fusion import LateFusion
from ser.models.inception import Inception
from ser.models.keras_base import KerasModel, configure_tf
from ser.models.logreg import LogReg
from ser.models.lstm import LSTM
from ser.models.svm import SVM
from ser.models.xgb import XGBoost

ARCHS: dict[str, type[Model]] = {
    cls.arch: cls
    for cls in (
        ConfDNN, DNN, Conv1D, Ensemble, XGBoost, SVM, LogReg, CNN, LSTM, Inception, LateFusion
    )
}

__all__ = [
    "ARCHS",
    "META_FILE",
    "BaseModel",
    "KerasModel",
    "Model",
    "build",
    "combine_runtimes",
    "configure_tf",
    "RUNTIMES",
    "input_kind",
    "load",
    "runtime_of",
]


def _arch_class(arch: str) -> type[BaseModel]:
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(sorted(ARCHS))}")
    return ARCHS[arch]  # type: ignore[return-value]


def build(
    arch: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    params: dict | None = None,
    seed: int = 0,
) -> Model:
    """A fresh, untrained model; unknown arch or parameter -> ValueError naming it."""
    return _arch_class(arch)(tuple(input_shape), n_classes, params, seed)


RUNTIMES = ("auto", "keras", "litert")


def load(model_dir: Path, runtime: str = "auto") -> Model:
    """Load a model saved by `Model.save` (model.json, then the family's own files).

    `runtime` matters for Keras families only: "auto" runs the verified LiteRT copy saved beside
    the network when there is one and `ai-edge-litert` is installed (no TensorFlow import:
    ~0.1 s instead of ~5 s), else Keras; "keras" always loads TensorFlow; "litert" fails when
    there is no LiteRT copy."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    meta = read_meta(Path(model_dir))
    return _arch_class(meta["arch"])._from_meta(Path(model_dir), meta, runtime)


def combine_runtimes(kinds: Iterable[str]) -> str:
    """One runtime for several models: theirs when they agree, else "mixed"."""
    distinct = set(kinds)
    return distinct.pop() if len(distinct) == 1 else "mixed"


def runtime_of(model: Any) -> str:
    """How a (loaded or just saved) model predicts: "litert", "keras" or "native" (sklearn,
    xgboost); a model whose members differ reports "mixed"."""
    members = getattr(model, "members", None)
    if members is not None:
        return combine_runtimes(runtime_of(m) for m in members)
    if getattr(model, "lite", None) is not None:
        return "litert"
    return "keras" if hasattr(model, "net") else "native"


def input_kind(arch: str, params: dict | None = None) -> str:
    """ "vector" or "matrix": the feature kind an arch takes (an ensemble takes its base's)."""
    cls = _arch_class(arch)
    if cls is Ensemble:
        merged = Ensemble.resolve_params(params)
        return _arch_class(merged["base"]).input_kind
    return cls.input_kind
