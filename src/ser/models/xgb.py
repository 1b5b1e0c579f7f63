"""`xgboost`: gradient-boosted trees with seed S2's hyperparameters, saved as native JSON.

Defaults are S2's: max_depth 7, gamma 0.01, n_estimators 200, learning_rate 0.01, subsample 0.8.
S2 also passed `eta=0.1`, which is XGBoost's alias of learning_rate and contradicts it (which one
wins depends on the XGBoost version); it is dropped and learning_rate=0.01 kept. S2's
`eval_metric="rmse"` did not affect the model and is replaced by mlogloss (used only for early
stopping). Objective multi:softprob, tree_method hist, nthread = `threads`, seed = the model seed.
The native Booster API is used so that classes missing from a training fold are not an error.
With `patience` set and validation data given, training stops early and keeps the best rounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ser.io import atomic_path
from ser.models.base import BaseModel, sample_weights

if TYPE_CHECKING:
    import pandas as pd

BOOSTER_FILE = "booster.json"


class XGBoost(BaseModel):
    """multi:softprob booster over n_classes."""

    arch: ClassVar[str] = "xgboost"
    input_kind: ClassVar[str] = "vector"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "max_depth": 7,
        "gamma": 0.01,
        "n_estimators": 200,
        "learning_rate": 0.01,
        "subsample": 0.8,
        "colsample_bytree": 1.0,
        "min_child_weight": 1.0,
        "patience": None,
    }

    booster: Any = None

    def _booster_params(self, threads: int) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "multi:softprob",
            "num_class": self.n_classes,
            "max_depth": int(p["max_depth"]),
            "gamma": float(p["gamma"]),
            "learning_rate": float(p["learning_rate"]),
            "subsample": float(p["subsample"]),
            "colsample_bytree": float(p["colsample_bytree"]),
            "min_child_weight": float(p["min_child_weight"]),
            "tree_method": "hist",
            "eval_metric": "mlogloss",
            "nthread": max(1, int(threads)),
            "seed": self.seed,
        }

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
        """Boost n_estimators rounds (fewer with early stopping); no per-epoch history."""
        import xgboost as xgb

        X = self._check_X(X)
        y = self._check_y(y, len(X))
        dtrain = xgb.DMatrix(X, label=y, weight=sample_weights(y, class_weight), nthread=threads)
        evals: list[tuple[Any, str]] = []
        patience = self.params["patience"]
        if X_val is not None and y_val is not None and len(X_val) and patience is not None:
            Xv = self._check_X(X_val, "X_val")
            yv = self._check_y(y_val, len(Xv), "y_val")
            evals = [(xgb.DMatrix(Xv, label=yv, nthread=threads), "val")]
        booster = xgb.train(
            self._booster_params(threads),
            dtrain,
            num_boost_round=int(self.params["n_estimators"]),
            evals=evals,
            early_stopping_rounds=int(patience) if evals else None,
            verbose_eval=bool(verbose),
        )
        if evals:
            booster = booster[: booster.best_iteration + 1]
        self.booster = booster
        return None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, n_classes) softmax probabilities."""
        import xgboost as xgb

        if self.booster is None:
            raise RuntimeError("xgboost: model is not fitted")
        X = self._check_X(X)
        if len(X) == 0:
            return np.zeros((0, self.n_classes))
        proba = self.booster.predict(xgb.DMatrix(X))
        return self._normalise(proba.reshape(len(X), self.n_classes))

    def n_parameters(self) -> int | None:
        """Tree nodes: a split (feature, threshold) or a leaf value each."""
        if self.booster is None:
            return None
        return sum(len(tree.strip().splitlines()) for tree in self.booster.get_dump())

    def _versions(self) -> dict[str, str]:
        import xgboost

        return {"xgboost": xgboost.__version__}

    def _save_files(self, model_dir: Path) -> None:
        if self.booster is None:
            raise RuntimeError("xgboost: cannot save an unfitted model")
        with atomic_path(model_dir / BOOSTER_FILE, suffix=".json") as tmp:
            self.booster.save_model(str(tmp))

    def _load_files(self, model_dir: Path) -> None:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(model_dir / BOOSTER_FILE))
        self.booster = booster
