"""Shared base for the scikit-learn families, saved with skops (never pickle).

`skops.io.load` only instantiates the types listed in the family's `TRUSTED` list; anything
else in the file raises instead of executing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ser.models.base import BaseModel, atomic_path

if TYPE_CHECKING:
    import pandas as pd

SKOPS_FILE = "model.skops"


class SklearnModel(BaseModel):
    """Fit / predict / persist one scikit-learn classifier; subclasses make the estimator."""

    input_kind: ClassVar[str] = "vector"
    #: fully qualified type names skops may instantiate on load (beyond its safe defaults)
    TRUSTED: ClassVar[list[str]] = []

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
    ) -> pd.DataFrame | None:
        """Fit from scratch on (X, y); validation data is not used (no early stopping)."""
        X = self._check_X(X).astype(np.float64)
        y = self._check_y(y, len(X))
        if len(np.unique(y)) < 2:
            raise ValueError(f"{self.arch}: training data must contain at least two classes")
        cw = {int(k): float(v) for k, v in class_weight.items()} if class_weight else None
        est = self._make_estimator(cw)
        self._fit_estimator(est, X, y)
        self.estimator = est
        return None

    def _fit_estimator(self, est: Any, X: np.ndarray, y: np.ndarray) -> None:
        est.fit(X, y)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, n_classes); classes absent from training get probability 0."""
        if self.estimator is None:
            raise RuntimeError(f"{self.arch}: model is not fitted")
        X = self._check_X(X).astype(np.float64)
        out = np.zeros((len(X), self.n_classes), dtype=np.float64)
        if len(X):
            out[:, self.estimator.classes_.astype(int)] = self.estimator.predict_proba(X)
        return self._normalise(out)

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
