"""Inner cross-validation for late fusion: one C per member and a learned combination (stacking).

Why: a plain mean of the members' probabilities with one C for all of them treats a 768-column
Whisper block and an 88-column eGeMAPS block alike. Here every choice is made on the training
rows only, by inner cross-validation grouped by speaker (`groups`), exactly like `tune`:

- `member_C`: each member's C from a grid, by the balanced accuracy of its out-of-fold
  probabilities;
- `combine: stack`: a class-balanced logistic regression (the meta model, its C by the same
  inner folds) on the members' out-of-fold log-probabilities learns how much to trust each
  member for each class.

Scikit-learn's StackingClassifier cannot be used: it takes no groups for its internal
cross-validation (out-of-fold rows of one speaker would be predicted by models trained on that
speaker's other clips) and it would have to be pickled; the members here are the project's own
model families, saved without pickle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

EPS = 1e-6


def inner_splits(y: np.ndarray, groups: np.ndarray | None, k: int, seed: int
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped k-fold over speakers when there are >= 2 groups, else stratified k-fold."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    if groups is not None and len(np.unique(groups)) >= 2:
        k = min(k, len(np.unique(groups)))
        return list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups))
    k = max(2, min(k, int(np.bincount(y).min(initial=2)) or 2))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
                .split(np.zeros(len(y)), y))


def balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, np.asarray(proba).argmax(axis=1)))


def out_of_fold(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], n: int,
                n_classes: int, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold probabilities: row i predicted by the model fitted without its fold."""
    out = np.zeros((n, n_classes), dtype=np.float64)
    for tr, te in splits:
        out[te] = fit_predict(tr, te)
    return out


def log_features(probas: Sequence[np.ndarray]) -> np.ndarray:
    """The meta model's input: members' log-probabilities side by side."""
    return np.concatenate([np.log(np.clip(p, EPS, 1.0)) for p in probas], axis=1)


def choose(grid: Sequence[Any], score: Callable[[Any], float]) -> tuple[Any, list[float]]:
    """The grid value with the best score (the first on ties) and all scores."""
    scores = [score(v) for v in grid]
    return grid[int(np.argmax(scores))], scores
