"""`svm`: RBF support-vector classifier with Platt-scaled probabilities (scikit-learn SVC).

scikit-learn 1.9 deprecates `SVC(probability=True)` (removal planned for 1.11) in favour of
CalibratedClassifierCV; with the pinned 1.9 it is still the documented way to get SVC
probabilities, so the FutureWarning is silenced here. Moving to CalibratedClassifierCV will
need its classes added to `TRUSTED`.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from ser.models.sklearn_base import SklearnModel


class SVM(SklearnModel):
    """SVC(kernel="rbf", probability=True); random_state = seed makes Platt scaling repeatable."""

    arch: ClassVar[str] = "svm"
    DEFAULTS: ClassVar[dict[str, Any]] = {"C": 1.0, "gamma": "scale"}
    ANY_TYPE: ClassVar[frozenset[str]] = frozenset({"gamma"})
    TRUSTED: ClassVar[list[str]] = ["sklearn.svm._classes.SVC"]

    def _setup(self, *args: Any, **kwargs: Any) -> None:
        super()._setup(*args, **kwargs)
        gamma = self.params["gamma"]
        numeric = isinstance(gamma, int | float) and not isinstance(gamma, bool)
        if not (gamma in ("scale", "auto") or numeric):
            raise ValueError(f"svm: gamma must be 'scale', 'auto' or a number, got {gamma!r}")

    def _make_estimator(self, class_weight: dict[int, float] | None) -> Any:
        from sklearn.svm import SVC

        return SVC(
            kernel="rbf",
            C=float(self.params["C"]),
            gamma=self.params["gamma"],
            probability=True,
            class_weight=class_weight,
            random_state=self.seed,
        )

    def _fit_estimator(self, est: Any, X: np.ndarray, y: np.ndarray) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*`probability` parameter was deprecated", category=FutureWarning
            )
            est.fit(X, y)
