"""`logreg`: multinomial logistic regression, a strong linear baseline on ComParE functionals."""

from __future__ import annotations

from typing import Any, ClassVar

from ser.models.sklearn_base import SklearnModel


class LogReg(SklearnModel):
    """LogisticRegression(lbfgs, L2) with C, max_iter and class weights from `fit`."""

    arch: ClassVar[str] = "logreg"
    DEFAULTS: ClassVar[dict[str, Any]] = {"C": 1.0, "max_iter": 1000}
    TRUSTED: ClassVar[list[str]] = ["sklearn.linear_model._logistic.LogisticRegression"]

    def _make_estimator(self, class_weight: dict[int, float] | None) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=float(self.params["C"]),
            max_iter=int(self.params["max_iter"]),
            class_weight=class_weight,
            random_state=self.seed,
        )
