"""Shared pieces of the model registry: the `Model` protocol, parameter handling, file I/O.

Every family subclasses `BaseModel`, which owns what all families have in common (validated
hyperparameters, `model.json`, atomic writes) so that the family modules only say what differs.
Heavy libraries are never imported at module level here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from ser.errors import nearest
from ser.io import jsonable, write_json

if TYPE_CHECKING:
    import pandas as pd

META_FILE = "model.json"
FORMAT_VERSION = 1


@runtime_checkable
class Model(Protocol):
    """What the trainer, the evaluator and `ser predict` rely on; nothing else is assumed."""

    arch: str
    input_kind: str
    input_shape: tuple[int, ...]
    n_classes: int
    params: dict

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        *,
        class_weight: dict[int, float] | None = None,
        threads: int = 1,
        verbose: int = 0,
    ) -> pd.DataFrame | None: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    def confidence(self, X: np.ndarray) -> np.ndarray | None: ...

    def save(self, model_dir: Path) -> None: ...


# --------------------------------------------------------------------------- file helpers


def read_meta(model_dir: Path) -> dict[str, Any]:
    """Read and minimally check `model_dir/model.json`."""
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no {META_FILE} in {model_dir}: not a saved model (or an incomplete save)"
        )
    meta = json.loads(path.read_text(encoding="utf-8"))
    for key in ("arch", "input_shape", "n_classes", "params"):
        if key not in meta:
            raise ValueError(f"{path}: missing key {key!r}")
    return meta


# --------------------------------------------------------------------------- base class


class BaseModel:
    """Common state and behaviour; subclasses set `arch`, `input_kind`, `DEFAULTS` and the hooks.

    Subclasses implement `_init_state()` (build the untrained model), `fit`, `predict_proba`,
    `_save_files(model_dir)` and `_load_files(model_dir)`.
    """

    arch: ClassVar[str] = ""
    input_kind: ClassVar[str] = "vector"
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    #: inference runtime asked for at load ("auto", "keras", "litert"; see `ser.models.load`)
    runtime: str = "auto"
    #: params whose default is not None but that may be set to None (e.g. patience: no stopping)
    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    #: params whose type the family checks itself (e.g. svm gamma: "scale" or a number)
    ANY_TYPE: ClassVar[frozenset[str]] = frozenset()
    #: whether `fit` takes `groups=` (the training rows' speakers)
    FIT_TAKES_GROUPS: ClassVar[bool] = False
    #: a Keras network: training runs TensorFlow and can use a GPU
    TENSORFLOW: ClassVar[bool] = False
    #: made of member models of the family named by param `base` (ensemble, late_fusion)
    HAS_MEMBERS: ClassVar[bool] = False

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_classes: int,
        params: dict | None = None,
        seed: int = 0,
    ) -> None:
        self._setup(input_shape, n_classes, params, seed)
        self._init_state()

    # -- construction -------------------------------------------------------------------

    def _setup(
        self, input_shape: tuple[int, ...], n_classes: int, params: dict | None, seed: int
    ) -> None:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.n_classes = int(n_classes)
        self.seed = int(seed)
        self.params = self.resolve_params(params)
        if self.n_classes < 2:
            raise ValueError(f"{self.arch}: n_classes must be >= 2, got {self.n_classes}")
        self._check_input_shape()

    def _check_input_shape(self) -> None:
        want = 1 if self.input_kind == "vector" else 2
        if len(self.input_shape) != want or min(self.input_shape, default=0) < 1:
            what = "(n_features,)" if want == 1 else "(frames, n_mels)"
            raise ValueError(
                f"arch {self.arch!r} takes {self.input_kind} input of shape {what}; "
                f"got input_shape={self.input_shape}"
            )

    @classmethod
    def resolve_params(cls, params: dict | None) -> dict[str, Any]:
        """Merge `params` over the defaults; an unknown key or a wrongly typed value is an error."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(cls.DEFAULTS))
        if unknown:
            near = nearest(unknown[0], cls.DEFAULTS) if len(unknown) == 1 else None
            raise ValueError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for arch {cls.arch!r}; "
                + (f"did you mean {near}? " if near else "")
                + f"valid: {', '.join(sorted(cls.DEFAULTS)) or '(none)'}"
            )
        merged = copy.deepcopy({**cls.DEFAULTS, **jsonable(params)})
        for key, value in merged.items():
            if (value is None and key in cls.NULLABLE) or key in cls.ANY_TYPE:
                continue
            _check_type(cls.arch, key, cls.DEFAULTS[key], value)
        return merged

    @classmethod
    def validate_params(cls, params: dict | None) -> dict[str, Any]:
        """`resolve_params` plus the family's own checks (composites: base and member params);
        what `Plan` runs at start so that a config mistake fails before any job."""
        return cls.resolve_params(params)

    def _init_state(self) -> None:
        """Create the untrained estimator/network (called by __init__, not by load)."""

    # -- shared behaviour ----------------------------------------------------------------

    def confidence(self, X: np.ndarray) -> np.ndarray | None:
        """Only confidence-branch models return a score; the others have none."""
        return None

    def native_predict(self, X: np.ndarray) -> np.ndarray | None:
        """Class indices by the family's own decision rule when it is not the argmax of
        `predict_proba` (an SVM's vote, an ensemble's majority vote); None when it is.
        Evaluation checks the predicted labels against it."""
        return None

    def n_parameters(self) -> int | None:
        """Learned numbers in the model (None when the family cannot say); recorded in
        model.json at save time so that evaluation can report it without loading weights."""
        return None

    def _check_X(self, X: np.ndarray, name: str = "X") -> np.ndarray:
        X = np.asarray(X)
        if X.shape[1:] != self.input_shape:
            raise ValueError(
                f"{self.arch}: {name} has shape {X.shape}, expected (n, *{self.input_shape})"
            )
        return X.astype(np.float32, copy=False)

    def _check_y(self, y: np.ndarray, n: int, name: str = "y") -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"{self.arch}: {name} must have shape ({n},), got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{self.arch}: {name} must hold integer class indices")
        if n and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"{self.arch}: {name} values must lie in 0..{self.n_classes - 1}")
        return y.astype(np.int64, copy=False)

    def _normalise(self, proba: np.ndarray) -> np.ndarray:
        """Float64 rows that sum to 1 exactly enough for downstream metrics."""
        proba = np.clip(np.asarray(proba, dtype=np.float64), 0.0, None)
        sums = proba.sum(axis=1, keepdims=True)
        sums[sums == 0] = 1.0
        return proba / sums

    def meta(self) -> dict[str, Any]:
        """Contents of model.json."""
        return {
            "arch": self.arch,
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "params": jsonable(self.params),
            "seed": self.seed,
            "n_parameters": self.n_parameters(),
            "format_version": FORMAT_VERSION,
            "versions": self._versions(),
        }

    def _versions(self) -> dict[str, str]:
        return {}

    def save(self, model_dir: Path) -> None:
        """Write the family's files, then model.json last (its presence marks a complete save)."""
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        (model_dir / META_FILE).unlink(missing_ok=True)
        self._save_files(model_dir)
        write_json(model_dir / META_FILE, self.meta(), sort_keys=True)

    @classmethod
    def _from_meta(cls, model_dir: Path, meta: dict[str, Any], runtime: str = "auto") -> Self:
        """Recreate an instance from model.json without building a fresh network."""
        obj = cls.__new__(cls)
        shape = tuple(meta["input_shape"])
        obj._setup(shape, meta["n_classes"], meta["params"], meta.get("seed", 0))
        obj.runtime = runtime  # read by the families that have a choice (Keras)
        obj._load_files(Path(model_dir))
        return obj

    def _save_files(self, model_dir: Path) -> None:
        raise NotImplementedError

    def _load_files(self, model_dir: Path) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(arch={self.arch!r}, input_shape={self.input_shape}, "
            f"n_classes={self.n_classes}, seed={self.seed})"
        )


def _check_type(arch: str, key: str, default: Any, value: Any) -> None:
    """Reject a value whose type clearly differs from the default's (None defaults: anything)."""
    if default is None:
        return
    ok: bool
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        raise ValueError(
            f"parameter {key!r} of arch {arch!r} must be {type(default).__name__}, got {value!r}"
        )


def sample_weights(y: np.ndarray, class_weight: dict[int, float] | None) -> np.ndarray | None:
    """Per-sample weights from a class-weight map (classes not in the map weigh 1)."""
    if not class_weight:
        return None
    lut = np.ones(int(max(max(class_weight), y.max(initial=0))) + 1, dtype=np.float32)
    for k, w in class_weight.items():
        lut[int(k)] = float(w)
    return lut[y]
