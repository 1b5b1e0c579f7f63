"""`svm`: RBF support-vector classifier whose probabilities agree with its own decisions.

Why not `SVC(probability=True)`: its Platt-scaled probabilities come from a separate internal
5-fold fit, so their argmax can disagree with the SVM's own decision function; on small corpora
it collapsed onto one class (UAR at chance where `SVC.predict` scored 0.83-1.0), and scikit-learn
1.9 deprecates it. Here the probabilities are a softmax of the one-vs-rest decision values
divided by a temperature T: a single positive T never changes the argmax, so the label is the
SVM's own decision. The one-vs-rest values are the one-vs-one vote counts plus a confidence
term that breaks tied votes its own way; `SVC.predict` breaks them by class order instead
(measured on ravdess-dev eGeMAPS at C=10: 7 % of clips tied, UAR 0.463 vs 0.469), so the class
`SVC.predict` chooses is lifted just above the other tied classes: they keep almost equal
probabilities and the label is exactly `SVC.predict`'s. T is the only calibrated quantity:
it minimises the log loss of out-of-fold decision values from an inner cross-validation over
the training rows only (grouped by speaker when `fit` gets `groups`).
Why by hand: scikit-learn's CalibratedClassifierCV fits one sigmoid per class, whose argmax can
again differ from the decision function; temperature scaling is a dozen lines of numpy/scipy.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ser.io import atomic_path
from ser.models.sklearn_base import SklearnModel

CALIBRATION_FILE = "calibration.json"
INNER_FOLDS = 3


def softmax_rows(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of scores / temperature (numerically stable)."""
    z = np.asarray(scores, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The temperature minimising the mean negative log-likelihood of ``y`` under
    softmax(scores / T); returns (T, NLL at T). ``y`` indexes the columns of ``scores``."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    scores = np.asarray(scores, dtype=np.float64)
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        return float(-log_softmax(scores / np.exp(log_t), axis=1)[rows, y].mean())

    res = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded",
                          options={"xatol": 1e-4})
    return float(np.exp(res.x)), float(res.fun)


class SVM(SklearnModel):
    """SVC(kernel="rbf") with temperature-scaled softmax probabilities of its decision values."""

    arch: ClassVar[str] = "svm"
    DEFAULTS: ClassVar[dict[str, Any]] = {"C": 1.0, "gamma": "scale"}
    ANY_TYPE: ClassVar[frozenset[str]] = frozenset({"gamma"})
    TRUSTED: ClassVar[list[str]] = ["sklearn.svm._classes.SVC"]

    #: softmax temperature and how it was fitted (calibration.json beside model.skops)
    calibration: dict[str, Any] | None = None

    def _setup(self, *args: Any, **kwargs: Any) -> None:
        super()._setup(*args, **kwargs)
        gamma = self.params["gamma"]
        numeric = isinstance(gamma, int | float) and not isinstance(gamma, bool)
        if not (gamma in ("scale", "auto") or numeric):
            raise ValueError(f"svm: gamma must be 'scale', 'auto' or a number, got {gamma!r}")

    def _make_estimator(self, class_weight: dict[int, float] | None) -> Any:
        from sklearn.svm import SVC

        return SVC(kernel="rbf", C=float(self.params["C"]), gamma=self.params["gamma"],
                   class_weight=class_weight, random_state=self.seed)

    def _fit_estimator(self, est: Any, X: np.ndarray, y: np.ndarray,
                       groups: np.ndarray | None = None) -> None:
        est.fit(X, y)
        self.calibration = self._calibrate(est, X, y, groups)

    def _calibrate(self, est: Any, X: np.ndarray, y: np.ndarray,
                   groups: np.ndarray | None) -> dict[str, Any]:
        """Temperature from out-of-fold decision values of inner fits on the training rows."""
        from sklearn.base import clone
        from sklearn.model_selection import GroupKFold, StratifiedKFold

        classes = np.unique(y)
        col = {int(c): j for j, c in enumerate(classes)}
        n_groups = len(np.unique(groups)) if groups is not None else 0
        if groups is not None and n_groups >= 2:
            k = min(INNER_FOLDS, n_groups)
            splits = list(GroupKFold(n_splits=k).split(X, y, groups))
            how = f"{k}-fold inner CV grouped by speaker over the training rows"
        else:
            k = min(INNER_FOLDS, int(np.bincount(y)[classes].min()))
            if k < 2:
                return {"temperature": 1.0, "fitted_on": "not fitted: too few training rows"}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "least populated class" on tiny y
                splits = list(StratifiedKFold(n_splits=k, shuffle=True,
                                              random_state=self.seed).split(X, y))
            how = f"{k}-fold stratified inner CV over the training rows (no speaker groups given)"
        scores, truth = [], []
        for tr, te in splits:
            if len(np.unique(y[tr])) < len(classes):
                continue  # a fold lacking a class gives decision values of another shape
            inner = clone(est).fit(X[tr], y[tr])
            scores.append(self._scores(inner, X[te]))
            truth.append(np.array([col[int(v)] for v in y[te]]))
        if not scores:
            return {"temperature": 1.0, "fitted_on": "not fitted: inner folds lack classes"}
        temperature, nll = fit_temperature(np.concatenate(scores), np.concatenate(truth))
        return {"temperature": temperature, "nll": nll, "fitted_on": how,
                "n_rows": int(sum(len(t) for t in truth))}

    @staticmethod
    def _scores(est: Any, X: np.ndarray) -> np.ndarray:
        """One-vs-rest decision values (n, classes), with `SVC.predict`'s class on top."""
        d = np.asarray(est.decision_function(X), dtype=np.float64)
        if d.ndim == 1:  # two classes: one signed margin for classes_[1]
            d = np.stack([-d / 2, d / 2], axis=1)
        if len(d):
            col = np.searchsorted(est.classes_, est.predict(X))
            rows = np.arange(len(d))
            d[rows, col] = np.maximum(d[rows, col], d.max(axis=1) + 1e-9)
        return d

    def _estimator_proba(self, X: np.ndarray) -> np.ndarray:
        temperature = float((self.calibration or {}).get("temperature", 1.0))
        return softmax_rows(self._scores(self.estimator, X), temperature)

    def _save_files(self, model_dir: Path) -> None:
        super()._save_files(model_dir)
        with atomic_path(model_dir / CALIBRATION_FILE) as tmp:
            tmp.write_text(json.dumps(self.calibration or {"temperature": 1.0}, indent=2) + "\n",
                           encoding="utf-8")

    def _load_files(self, model_dir: Path) -> None:
        super()._load_files(model_dir)
        path = model_dir / CALIBRATION_FILE
        # bundles saved before calibration.json existed: T = 1 (labels still agree with SVC)
        self.calibration = (json.loads(path.read_text(encoding="utf-8")) if path.is_file()
                            else {"temperature": 1.0, "fitted_on": "none (older bundle)"})
