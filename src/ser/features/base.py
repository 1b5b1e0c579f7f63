"""Feature sets: named, parametrised extractors shared by the workflow and `ser predict`.

Why a registry of objects: the feature table records the set's name and resolved parameters, and
`ser predict` re-creates exactly the same extractor from them, so training and prediction go
through one code path (`extract_signal`).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

Kind = Literal["functionals", "matrix"]
Extractor = Callable[[np.ndarray, int], np.ndarray]


def prepare_signal(signal: np.ndarray) -> np.ndarray:
    """Validate and normalise an input clip: float32, mono (channels averaged), finite, non-empty.

    Raises ValueError with the reason; feature extractors would otherwise turn NaN input into
    plausible-looking numbers (openSMILE casts to int16 and yields zeros)."""
    x = np.asarray(signal)
    if x.ndim == 2:  # (samples, channels), as soundfile returns
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"signal must be 1-D (or samples x channels), got shape {x.shape}")
    if x.size == 0:
        raise ValueError("empty signal (0 samples)")
    x = x.astype(np.float32, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise ValueError(f"signal has {bad} non-finite samples (NaN/inf)")
    return x


class FeatureSet:
    """A named feature extractor. `params` are the defaults; `resolve` merges overrides."""

    name: str
    kind: Kind
    params: dict[str, Any]
    description: str = ""

    def resolve(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with `params`; an unknown key is an error (typos must not pass)."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(f"feature set {self.name!r} has no parameter(s) {unknown}; "
                             f"known: {sorted(self.params)}")
        return {**self.params, **params}

    def extractor(self, params: Mapping[str, Any] | None = None) -> Extractor:
        """A function signal, sr -> features, built once (e.g. one Smile instance per job).

        The returned function validates its input and raises ValueError on NaN/inf output."""
        resolved = self.resolve(params)
        raw = self._make_extractor(resolved)

        def extract(signal: np.ndarray, sr: int) -> np.ndarray:
            y = raw(prepare_signal(signal), int(sr))
            bad = int(np.count_nonzero(~np.isfinite(y)))
            if bad:
                raise ValueError(f"{self.name}: {bad} of {y.size} features are NaN/inf")
            return y

        return extract

    def extract(self, signal: np.ndarray, sr: int,
                params: Mapping[str, Any] | None = None) -> np.ndarray:
        """Features of one clip: (d,) float32 for functionals, (frames, bins) for a matrix."""
        return self.extractor(params)(signal, sr)

    def columns(self, params: Mapping[str, Any] | None = None) -> list[str]:
        """Feature column names (functionals only)."""
        raise TypeError(f"{self.name} is a {self.kind} feature set without columns")

    def shape(self, params: Mapping[str, Any] | None = None) -> list[int]:
        """Per-clip matrix shape (matrix sets only)."""
        raise TypeError(f"{self.name} is a {self.kind} feature set without a fixed shape")

    def versions(self) -> dict[str, str]:
        """Library versions that determine the values (recorded in table metadata); read from
        package metadata so that no heavy library is imported just for its version."""
        from importlib.metadata import PackageNotFoundError, version

        out = {}
        for pkg in ("opensmile", "librosa", "numpy"):
            try:
                out[pkg] = version(pkg)
            except PackageNotFoundError:
                out[pkg] = "absent"
        out["python"] = platform.python_version()
        return out

    def _make_extractor(self, params: dict[str, Any]) -> Extractor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<FeatureSet {self.name} ({self.kind})>"
