"""`svm`: RBF support-vector classifier whose probabilities agree with its own decisions.

Why not `SVC(probability=True)`: its Platt-scaled probabilities come from a separate internal
5-fold fit, so their argmax can disagree with the SVM's own decision function; on small corpora
it collapsed onto one class (UAR at chance where `SVC.predict` scored 0.83-1.0), and scikit-learn
1.9 deprecates it. Here each class gets a score, the sum of its one-vs-one margins (what the
SVM's pairwise classifiers say for and against it), and the probabilities are a softmax of the
scores divided by a temperature T. Where that score's winner differs from `SVC.predict`'s vote
(ties of the vote, broken by class order), `SVC.predict`'s class is lifted just above it, so
the label is exactly the SVM's own decision. T is the only calibrated quantity: it minimises the
log loss of out-of-fold scores from an inner cross-validation over the training rows only
(grouped by speaker when `fit` gets `groups`). Measured on ravdess-dev eGeMAPS, C=1, 4 folds of
2 held-out actors: UAR 0.459 (= `SVC.predict`; Platt argmax 0.461), confidence ranking right
above wrong answers with AUROC 0.730 (Platt 0.729; the one-vs-rest vote scores 0.646), log
loss 1.426 (Platt 1.428).
Why by hand: scikit-learn's CalibratedClassifierCV fits one sigmoid per class, whose argmax can
again differ from the decision function; temperature scaling is a dozen lines of numpy/scipy.
"""

from __future__ import annotations

import itertools
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
        """Per class (n, classes): the sum of its one-vs-one margins, with `SVC.predict`'s
        class on top."""
        est.set_params(decision_function_shape="ovo")  # only read when scoring, not fitted
        raw = np.asarray(est.decision_function(X), dtype=np.float64)
        k = len(est.classes_)
        if raw.ndim == 1:  # two classes: one signed margin, positive for classes_[1]
            d = np.stack([-raw / 2, raw / 2], axis=1)
        else:  # pairs (i, j), i < j, in order; a positive margin votes for i
            d = np.zeros((len(raw), k))
            for col, (i, j) in enumerate(itertools.combinations(range(k), 2)):
                d[:, i] += raw[:, col]
                d[:, j] -= raw[:, col]
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
