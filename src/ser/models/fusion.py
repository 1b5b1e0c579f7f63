"""`late_fusion`: one base model per fused feature set, probabilities averaged (late fusion).

Why: concatenating eGeMAPS, IS09 and spectral statistics into one vector lets the largest set
dominate a single classifier; one classifier per set, each on its own standardised block, and a
plain mean of their probabilities was the best speaker-independent recipe measured on
ravdess-dev (docs/accuracy.md). The model takes the same fused input as early fusion
(`features: [a, b, c]`), so the bundle, its scaler and `ser predict` need nothing new: the
training code fills `blocks` (columns per set, in order) from the fused table, and each member
sees only its block.

`C`, when set, is passed to every member (so `tune: {C: [...]}` picks one C for the fusion by
inner CV); `base_params` go to every member as well. `member_C: [grid]` instead picks one C per
member, and `combine: stack` replaces the mean by a logistic regression on the members'
out-of-fold log-probabilities; both by inner cross-validation over the training speakers
(`groups` from the trainer; :mod:`ser.models.stacking`). The meta model is saved in `meta/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ser.models import stacking
from ser.models.base import BaseModel
from ser.models.ensemble import MemberModels
from ser.models.registry import ARCHS, build, load

if TYPE_CHECKING:
    import pandas as pd


class LateFusion(MemberModels, BaseModel):
    """Mean of the probabilities of one `base` model per column block."""

    arch: ClassVar[str] = "late_fusion"
    input_kind: ClassVar[str] = "vector"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "base": "logreg", "base_params": {}, "blocks": [], "C": None,
        "combine": "mean", "member_C": [], "meta_C": [0.01, 0.1, 1.0], "inner_folds": 3,
    }
    COMBINE: ClassVar[tuple[str, ...]] = ("mean", "stack")
    FIT_TAKES_GROUPS: ClassVar[bool] = True  # member_C / stack: inner CV over speakers

    meta_model: Any = None

    members: list[Any]

    @classmethod
    def validate_params(cls, params: dict | None) -> dict[str, Any]:
        """Also check the base family (vector input) and the members' parameters."""
        resolved = cls.resolve_params(params)
        base = resolved["base"]
        if base not in ARCHS or base in (cls.arch, "ensemble"):
            valid = ", ".join(a for a in ARCHS if a not in (cls.arch, "ensemble"))
            raise ValueError(f"late_fusion: base must be one of {valid}; got {base!r}")
        base_cls = ARCHS[base]
        if base_cls.input_kind != "vector":
            raise ValueError(f"late_fusion: base {base!r} takes {base_cls.input_kind} input; "
                             "late fusion splits feature vectors")
        if resolved["C"] is not None and "C" not in base_cls.DEFAULTS:
            raise ValueError(f"late_fusion: C is passed to the members, but {base!r} has no C")
        if resolved["member_C"] and "C" not in base_cls.DEFAULTS:
            raise ValueError(f"late_fusion: member_C picks each member's C, but {base!r} has no C")
        if resolved["combine"] not in cls.COMBINE:
            raise ValueError(f"late_fusion: combine must be one of {', '.join(cls.COMBINE)}; "
                             f"got {resolved['combine']!r}")
        if int(resolved["inner_folds"]) < 2:
            raise ValueError("late_fusion: inner_folds must be >= 2")
        if not resolved["meta_C"]:
            raise ValueError("late_fusion: meta_C must list at least one C")
        base_cls.validate_params(cls._member_params_of(resolved))  # unknown member params fail
        return resolved

    def _check_input_shape(self) -> None:
        self.validate_params(self.params)
        super()._check_input_shape()
        blocks = [int(b) for b in self.params["blocks"]] or [int(self.input_shape[0])]
        if any(b < 1 for b in blocks) or sum(blocks) != self.input_shape[0]:
            raise ValueError(f"late_fusion: blocks {blocks} must be positive and add up to the "
                             f"{self.input_shape[0]} input columns")
        self.params["blocks"] = blocks

    @staticmethod
    def _member_params_of(params: dict[str, Any]) -> dict[str, Any]:
        member = dict(params["base_params"])
        if params["C"] is not None:
            member["C"] = params["C"]
        return member

    def _member_params(self) -> dict[str, Any]:
        return self._member_params_of(self.params)

    def _slices(self) -> list[slice]:
        edges = np.cumsum([0, *self.params["blocks"]])
        return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def _init_state(self) -> None:
        self.members = [
            build(self.params["base"], (s.stop - s.start,), self.n_classes,
                  self._member_params(), seed=self.seed + i)
            for i, s in enumerate(self._slices())
        ]

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
        """Fit each member on its own block (validation data sliced alike); with `member_C` or
        `combine: stack`, first choose by inner CV over `groups` (the training speakers)."""
        X = self._check_X(X)
        y = self._check_y(y, len(X))
        oof: list[np.ndarray] = []
        if self.params["member_C"] or self.params["combine"] == "stack":
            oof = self._inner_choices(X, y, class_weight, groups)
        for member, s in zip(self.members, self._slices(), strict=True):
            member.fit(X[:, s], y, None if X_val is None else np.asarray(X_val)[:, s], y_val,
                       class_weight=class_weight, threads=threads, verbose=verbose)
        if self.params["combine"] == "stack":
            self._fit_meta(oof, y, class_weight, groups)
        return None

    def _member(self, i: int, C: float | None) -> Any:
        params = self._member_params()
        if C is not None:
            params["C"] = C
        width = self._slices()[i].stop - self._slices()[i].start
        return build(self.params["base"], (width,), self.n_classes, params, seed=self.seed + i)

    def _inner_choices(self, X: np.ndarray, y: np.ndarray,
                       class_weight: dict[int, float] | None,
                       groups: np.ndarray | None) -> list[np.ndarray]:
        """Pick each member's C (member_C) and return its out-of-fold probabilities."""
        splits = stacking.inner_splits(y, groups, int(self.params["inner_folds"]), self.seed)
        self.inner_groups = "speaker" if groups is not None else "stratified rows"
        grid = list(self.params["member_C"]) or [None]
        oofs = []
        self.chosen_C = []
        for i, s in enumerate(self._slices()):
            cache: dict[Any, np.ndarray] = {}

            def oof_for(C: Any, i: int = i, s: slice = s, cache: dict = cache) -> np.ndarray:
                if C not in cache:
                    def fit_predict(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
                        m = self._member(i, C)
                        m.fit(X[tr][:, s], y[tr], class_weight=class_weight)
                        return m.predict_proba(X[te][:, s])
                    cache[C] = stacking.out_of_fold(fit_predict, len(y), self.n_classes, splits)
                return cache[C]

            C, _ = stacking.choose(grid, lambda c: stacking.balanced_accuracy(y, oof_for(c)))
            self.chosen_C.append(C)
            oofs.append(oof_for(C))
            if C is not None:
                self.members[i] = self._member(i, C)
        return oofs

    def _fit_meta(self, oof: list[np.ndarray], y: np.ndarray,
                  class_weight: dict[int, float] | None, groups: np.ndarray | None) -> None:
        """The meta logistic regression on the members' out-of-fold log-probabilities."""
        F = stacking.log_features(oof)
        splits = stacking.inner_splits(y, groups, int(self.params["inner_folds"]), self.seed)

        def make(C: float) -> Any:
            return build("logreg", (F.shape[1],), self.n_classes, {"C": float(C)},
                         seed=self.seed)

        def score(C: float) -> float:
            def fit_predict(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
                m = make(C)
                m.fit(F[tr], y[tr], class_weight=class_weight)
                return m.predict_proba(F[te])
            return stacking.balanced_accuracy(
                y, stacking.out_of_fold(fit_predict, len(y), self.n_classes, splits))

        C, _ = stacking.choose(list(self.params["meta_C"]), score)
        self.meta_model = make(C)
        self.meta_model.fit(F, y, class_weight=class_weight)

    def member_proba(self, X: np.ndarray) -> np.ndarray:
        """(n_members, n, n_classes) probabilities of each member on its block."""
        X = self._check_X(X)
        return np.stack([m.predict_proba(X[:, s])
                         for m, s in zip(self.members, self._slices(), strict=True)])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean of the members' probabilities, or the meta model's on them (combine: stack)."""
        members = self.member_proba(X)
        if self.params["combine"] == "stack":
            return self._normalise(self.meta_model.predict_proba(
                stacking.log_features(list(members))))
        return self._normalise(members.mean(axis=0))

    def _n_members(self) -> int:
        return len(self.params["blocks"])

    def _save_files(self, model_dir: Path) -> None:
        super()._save_files(model_dir)
        if self.params["combine"] == "stack":
            if self.meta_model is None:
                raise RuntimeError("late_fusion: cannot save an unfitted stacking model")
            self.meta_model.save(Path(model_dir) / "meta")

    def _load_files(self, model_dir: Path) -> None:
        super()._load_files(model_dir)
        if self.params["combine"] == "stack":
            self.meta_model = load(Path(model_dir) / "meta", self.runtime)
