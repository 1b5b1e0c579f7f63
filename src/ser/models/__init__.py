"""Model families, built and loaded by architecture name (the registry is :mod:`.registry`).

    model = build("conf_dnn", (384,), 6, {"epochs": 50}, seed=0)
    history = model.fit(X, y, X_val, y_val, class_weight=..., threads=4)
    model.save(out_dir)            # model.json + the family's files; never pickle
    model = load(out_dir)

Importing this package is cheap: TensorFlow, XGBoost and scikit-learn are imported only when a
model is built, trained or loaded.
"""

from __future__ import annotations

from ser.models.base import META_FILE, BaseModel, Model
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
from ser.models.registry import (
    ARCHS,
    RUNTIMES,
    arch_class,
    build,
    combine_runtimes,
    family,
    input_kind,
    load,
    runtime_of,
    uses_tensorflow,
    validate_params,
)
from ser.models.svm import SVM
from ser.models.xgb import XGBoost

# the one list of model families (this order is the order of listings and messages)
ARCHS.update({
    cls.arch: cls
    for cls in (
        ConfDNN, DNN, Conv1D, Ensemble, XGBoost, SVM, LogReg, CNN, LSTM, Inception, LateFusion
    )
})

__all__ = [
    "ARCHS",
    "META_FILE",
    "RUNTIMES",
    "BaseModel",
    "KerasModel",
    "Model",
    "arch_class",
    "build",
    "combine_runtimes",
    "configure_tf",
    "family",
    "input_kind",
    "load",
    "runtime_of",
    "uses_tensorflow",
    "validate_params",
]
