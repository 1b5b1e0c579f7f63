"""`late_fusion`: one base model per fused feature set, probabilities averaged (late fusion).

Why: concatenating eGeMAPS, IS09 and spectral statistics into one vector lets the largest set
dominate a single classifier; one classifier per set, each on its own standardised block, and a
plain mean of their probabilities was the best speaker-independent recipe measured on
ravdess-dev (docs/accuracy.md). The model takes the same fused input as early fusion
(`features: [a, b, c]`), so the bundle, its scaler and `ser predict` need nothing new: the
training code fills `blocks` (columns per set, in order) from the fused table, and each member
sees only its block.

`C`, when set, is passed to every member (so `tune: {C: [...]}` picks one C for the fusion by
inner CV); `base_params` go to every member as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ser.models.base import BaseModel
from ser.models.ensemble import MemberModels

if TYPE_CHECKING:
    import pandas as pd


class LateFusion(MemberModels, BaseModel):
    """Mean of the probabilities of one `base` model per column block."""

    arch: ClassVar[str] = "late_fusion"
    input_kind: ClassVar[str] = "vector"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "base": "logreg", "base_params": {}, "blocks": [], "C": None,
    }

    members: list[Any]

    def _check_input_shape(self) -> None:
        from ser.models import ARCHS

        base = self.params["base"]
        if base not in ARCHS or base in (self.arch, "ensemble"):
            valid = ", ".join(a for a in ARCHS if a not in (self.arch, "ensemble"))
            raise ValueError(f"late_fusion: base must be one of {valid}; got {base!r}")
        base_cls = ARCHS[base]
        if base_cls.input_kind != "vector":
            raise ValueError(f"late_fusion: base {base!r} takes {base_cls.input_kind} input; "
                             "late fusion splits feature vectors")
        if self.params["C"] is not None and "C" not in base_cls.DEFAULTS:
            raise ValueError(f"late_fusion: C is passed to the members, but {base!r} has no C")
        base_cls.resolve_params(self._member_params())  # unknown member params fail here
        super()._check_input_shape()
        blocks = [int(b) for b in self.params["blocks"]] or [int(self.input_shape[0])]
        if any(b < 1 for b in blocks) or sum(blocks) != self.input_shape[0]:
            raise ValueError(f"late_fusion: blocks {blocks} must be positive and add up to the "
                             f"{self.input_shape[0]} input columns")
        self.params["blocks"] = blocks

    def _member_params(self) -> dict[str, Any]:
        params = dict(self.params["base_params"])
        if self.params["C"] is not None:
            params["C"] = self.params["C"]
        return params

    def _slices(self) -> list[slice]:
        edges = np.cumsum([0, *self.params["blocks"]])
        return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def _init_state(self) -> None:
        from ser.models import build

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
    ) -> pd.DataFrame | None:
        """Fit each member on its own block (validation data sliced alike)."""
        X = self._check_X(X)
        y = self._check_y(y, len(X))
        for member, s in zip(self.members, self._slices(), strict=True):
            member.fit(X[:, s], y, None if X_val is None else np.asarray(X_val)[:, s], y_val,
                       class_weight=class_weight, threads=threads, verbose=verbose)
        return None

    def member_proba(self, X: np.ndarray) -> np.ndarray:
        """(n_members, n, n_classes) probabilities of each member on its block."""
        X = self._check_X(X)
        return np.stack([m.predict_proba(X[:, s])
                         for m, s in zip(self.members, self._slices(), strict=True)])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean of the members' probabilities."""
        return self._normalise(self.member_proba(X).mean(axis=0))

    def _n_members(self) -> int:
        return len(self.params["blocks"])
