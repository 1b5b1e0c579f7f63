"""`ensemble`: N re-initialised copies of a base architecture, as in seed S2's deep ensemble.

Members are built with seeds seed, seed+1, ..., seed+n-1 and trained one after another on the
same data. `predict_proba` averages their probabilities; `predict_vote` is S2's majority vote
(ties go to the class with the highest mean probability). Any non-ensemble arch can be the base
(default conv1d, S2's network); members are saved as complete models in `member{i}/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ser.models.base import BaseModel
from ser.models.registry import ARCHS, build, load

if TYPE_CHECKING:
    import pandas as pd


def member_dir(model_dir: Path, i: int) -> Path:
    """Where member i of an ensemble lives."""
    return Path(model_dir) / f"member{i}"


class MemberModels:
    """Persistence shared by models made of complete member models saved in `member{i}/`."""

    members: list[Any]
    runtime: str
    HAS_MEMBERS: ClassVar[bool] = True

    def _n_members(self) -> int:
        raise NotImplementedError

    def _versions(self) -> dict[str, str]:
        return self.members[0]._versions() if self.members else {}

    def n_parameters(self) -> int | None:
        """Sum over the members (None if a member cannot say)."""
        counts = [m.n_parameters() for m in self.members]
        return None if any(c is None for c in counts) else int(sum(counts))

    def _save_files(self, model_dir: Path) -> None:
        for i, member in enumerate(self.members):
            member.save(member_dir(model_dir, i))

    def _load_files(self, model_dir: Path) -> None:
        self.members = [load(member_dir(model_dir, i), self.runtime)
                        for i in range(self._n_members())]


class Ensemble(MemberModels, BaseModel):
    """Mean-probability / majority-vote ensemble of independently seeded members."""

    arch: ClassVar[str] = "ensemble"
    input_kind: ClassVar[str] = "vector"  # of the default base; an instance takes its base's
    DEFAULTS: ClassVar[dict[str, Any]] = {"base": "conv1d", "n": 5, "base_params": {}}

    members: list[Any]

    @classmethod
    def validate_params(cls, params: dict | None) -> dict[str, Any]:
        """Also check the base family and the members' parameters."""
        resolved = cls.resolve_params(params)
        base = resolved["base"]
        if base not in ARCHS or base == cls.arch:
            valid = ", ".join(a for a in ARCHS if a != cls.arch)
            raise ValueError(f"ensemble: base must be one of {valid}; got {base!r}")
        if int(resolved["n"]) < 1:
            raise ValueError(f"ensemble: n must be >= 1, got {resolved['n']}")
        ARCHS[base].validate_params(resolved["base_params"])  # unknown member params fail here
        return resolved

    def _check_input_shape(self) -> None:
        self.validate_params(self.params)
        self.input_kind = ARCHS[self.params["base"]].input_kind  # type: ignore[misc]
        super()._check_input_shape()

    def _init_state(self) -> None:
        p = self.params
        self.members = [
            build(p["base"], self.input_shape, self.n_classes, p["base_params"], seed=self.seed + i)
            for i in range(int(p["n"]))
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
        """Train every member; the history (when the base has one) gains a `member` column."""
        frames = []
        for i, member in enumerate(self.members):
            hist = member.fit(
                X, y, X_val, y_val, class_weight=class_weight, threads=threads, verbose=verbose
            )
            if hist is not None:
                frames.append(hist.assign(member=i))
        import pandas as pd

        return pd.concat(frames, ignore_index=True) if frames else None

    def member_proba(self, X: np.ndarray) -> np.ndarray:
        """(n_members, n, n_classes) probabilities of each member."""
        return np.stack([m.predict_proba(X) for m in self.members])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean of the members' probabilities."""
        return self._normalise(self.member_proba(X).mean(axis=0))

    def native_predict(self, X: np.ndarray) -> np.ndarray | None:
        """S2's decision rule for ensembles: the majority vote."""
        return self.predict_vote(X)

    def predict_vote(self, X: np.ndarray) -> np.ndarray:
        """S2's majority vote over member argmaxes; ties go to the highest mean probability."""
        probs = self.member_proba(X)
        votes = np.zeros(probs.shape[1:], dtype=np.int64)
        winners = probs.argmax(axis=2)  # (members, n)
        rows = np.arange(probs.shape[1])
        for w in winners:
            votes[rows, w] += 1
        tied = votes == votes.max(axis=1, keepdims=True)
        return np.where(tied, probs.mean(axis=0), -np.inf).argmax(axis=1)

    def confidence(self, X: np.ndarray) -> np.ndarray | None:
        """Mean member confidence when the base has a confidence branch, else None."""
        confs = [m.confidence(X) for m in self.members]
        if any(c is None for c in confs):
            return None
        return np.mean(np.stack(confs), axis=0)

    def _n_members(self) -> int:
        return int(self.params["n"])
