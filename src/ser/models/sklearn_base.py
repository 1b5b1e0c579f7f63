"""Shared base for the scikit-learn families, saved with skops (never pickle).

`skops.io.load` only instantiates the types listed in the family's `TRUSTED` list; anything
else in the file raises instead of executing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ser.io import atomic_path
from ser.models.base import BaseModel

if TYPE_CHECKING:
    import pandas as pd

SKOPS_FILE = "model.skops"


class SklearnModel(BaseModel):
    """Fit / predict / persist one scikit-learn classifier; subclasses make the estimator."""

    input_kind: ClassVar[str] = "vector"
    #: fully qualified type names skops may instantiate on load (beyond its safe defaults)
    TRUSTED: ClassVar[list[str]] = []
    FIT_TAKES_GROUPS: ClassVar[bool] = True

    estimator: Any = None

    def _make_estimator(self, class_weight: dict[int, float] | None) -> Any:
        raise NotImplementedError

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
        groups: np.ndarray | None = None,
    ) -> pd.DataFrame | None:
        """Fit from scratch on (X, y); validation data is not used (no early stopping).

        ``groups`` (the training rows' speakers) lets a family that calibrates by inner
        cross-validation keep each speaker on one side of it."""
        X = self._check_X(X).astype(np.float64)
        y = self._check_y(y, len(X))
        if len(np.unique(y)) < 2:
            raise ValueError(f"{self.arch}: training data must contain at least two classes")
        cw = {int(k): float(v) for k, v in class_weight.items()} if class_weight else None
        est = self._make_estimator(cw)
        self._fit_estimator(est, X, y, None if groups is None else np.asarray(groups))
        self.estimator = est
        return None

    def _fit_estimator(self, est: Any, X: np.ndarray, y: np.ndarray,
                       groups: np.ndarray | None = None) -> None:
        est.fit(X, y)

    def _estimator_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities over ``estimator.classes_`` (families may derive them differently)."""
        return np.asarray(self.estimator.predict_proba(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, n_classes); classes absent from training get probability 0."""
        if self.estimator is None:
            raise RuntimeError(f"{self.arch}: model is not fitted")
        X = self._check_X(X).astype(np.float64)
        out = np.zeros((len(X), self.n_classes), dtype=np.float64)
        if len(X):
            out[:, self.estimator.classes_.astype(int)] = self._estimator_proba(X)
        return self._normalise(out)

    def native_predict(self, X: np.ndarray) -> np.ndarray | None:
        """The estimator's own ``predict`` (class indices), to check the argmax against."""
        if self.estimator is None:
            raise RuntimeError(f"{self.arch}: model is not fitted")
        X = self._check_X(X).astype(np.float64)
        return np.asarray(self.estimator.predict(X)).astype(np.int64)

    def n_parameters(self) -> int:
        """Learned numbers: coefficients and intercepts, or support vectors and dual
        coefficients for kernel machines."""
        est = self.estimator
        if est is None:
            return 0
        total = 0
        for name in ("coef_", "intercept_", "support_vectors_", "dual_coef_"):
            value = getattr(est, name, None)  # an RBF SVC's coef_ raises AttributeError
            if value is not None:
                total += int(np.asarray(value).size)
        return total

    def _versions(self) -> dict[str, str]:
        import sklearn
        import skops

        return {"scikit-learn": sklearn.__version__, "skops": skops.__version__}

    def _save_files(self, model_dir: Path) -> None:
        if self.estimator is None:
            raise RuntimeError(f"{self.arch}: cannot save an unfitted model")
        import skops.io

        with atomic_path(model_dir / SKOPS_FILE, suffix=".skops") as tmp:
            skops.io.dump(self.estimator, tmp)

    def _load_files(self, model_dir: Path) -> None:
        import skops.io

        self.estimator = skops.io.load(model_dir / SKOPS_FILE, trusted=list(self.TRUSTED))
