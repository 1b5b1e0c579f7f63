"""Feature sets: named, parametrised extractors shared by the workflow and `ser predict`.

Why a registry of objects: the feature table records the set's name and resolved parameters, and
`ser predict` re-creates exactly the same extractor from them, so training and prediction go
through one code path (`extract_signal`).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

Kind = Literal["functionals", "matrix"]
Extractor = Callable[[np.ndarray, int], np.ndarray]
# Many clips at once: [(signal, sr), ...] -> per clip its features or the exception it raised.
BatchExtractor = Callable[[Sequence[tuple[np.ndarray, int]]], list["np.ndarray | Exception"]]


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
    # Packages whose versions determine the values (recorded in table metadata).
    packages: tuple[str, ...] = ("opensmile", "librosa", "numpy")
    # Clips handed to the batch extractor at once (encoders run several clips per call).
    batch_size: int = 1
    # Threads a workflow job of this set asks for (Snakemake caps them at --cores); the job's
    # thread count reaches `extractor(threads=...)`.
    threads: int = 1
    mem_mb: int = 2000  # memory a shard job of this set asks for (cluster resources)
    sample_rate: int | None = None  # the only audio rate the set accepts (checked at start)

    def resolve(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with `params`; an unknown key is an error (typos must not pass)."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(f"feature set {self.name!r} has no parameter(s) {unknown}; "
                             f"known: {sorted(self.params)}")
        return {**self.params, **params}

    def check(self, params: Mapping[str, Any] | None = None) -> None:
        """Raise ValueError for a problem knowable before any clip is decoded (a model that
        is not installed, a missing folder). Cheap: called once per config at start."""
        self.resolve(params)

    def provenance(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Where the values come from beyond parameters and versions (pretrained model, weight
        hashes, layer, pooling); recorded in table metadata. Empty for hand-made features."""
        return {}

    def extractor(self, params: Mapping[str, Any] | None = None,
                  threads: int | None = None) -> Extractor:
        """A function signal, sr -> features, built once (e.g. one Smile instance per job).

        The returned function validates its input and raises ValueError on NaN/inf output.
        `threads`: CPU threads the extractor may use (None: the set's own default)."""
        batch = self.batch_extractor(params, threads)

        def extract(signal: np.ndarray, sr: int) -> np.ndarray:
            (y,) = batch([(signal, sr)])
            if isinstance(y, Exception):
                raise y
            return y

        return extract

    def batch_extractor(self, params: Mapping[str, Any] | None = None,
                        threads: int | None = None) -> BatchExtractor:
        """Like `extractor`, for up to `batch_size` clips at once; a clip that fails gives its
        exception in its place, so one bad clip never costs the others."""
        resolved = self.resolve(params)
        raw = self._make_batch_extractor(resolved, threads)

        def run(items: Sequence[tuple[np.ndarray, int]]) -> list[np.ndarray | Exception]:
            out: list[np.ndarray | Exception] = [ValueError("not extracted")] * len(items)
            ok: list[int] = []
            prepared: list[tuple[np.ndarray, int]] = []
            for i, (signal, sr) in enumerate(items):
                try:
                    prepared.append((prepare_signal(signal), int(sr)))
                    ok.append(i)
                except ValueError as exc:
                    out[i] = exc
            for i, y in zip(ok, raw(prepared) if prepared else [], strict=True):
                if not isinstance(y, Exception):
                    bad = int(np.count_nonzero(~np.isfinite(y)))
                    if bad:
                        y = ValueError(f"{self.name}: {bad} of {y.size} features are NaN/inf")
                out[i] = y
            return out

        return run

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
        for pkg in self.packages:
            try:
                out[pkg] = version(pkg)
            except PackageNotFoundError:
                out[pkg] = "absent"
        out["python"] = platform.python_version()
        return out

    def _make_extractor(self, params: dict[str, Any]) -> Extractor:
        """One clip at a time (hand-made features); encoders override the batch method."""
        raise NotImplementedError

    def _make_batch_extractor(self, params: dict[str, Any], threads: int | None
                              ) -> Callable[[list[tuple[np.ndarray, int]]],
                                            list[np.ndarray | Exception]]:
        """Prepared clips -> features or exception per clip. Default: the per-clip extractor
        in a loop."""
        return per_clip(self._make_extractor(params))

    def __repr__(self) -> str:
        return f"<FeatureSet {self.name} ({self.kind})>"


def per_clip(one: Extractor) -> Callable[[list[tuple[np.ndarray, int]]],
                                          list[np.ndarray | Exception]]:
    """A batch extractor that runs `one` clip by clip and puts a failure in the clip's place."""

    def run(items: list[tuple[np.ndarray, int]]) -> list[np.ndarray | Exception]:
        out: list[np.ndarray | Exception] = []
        for y, sr in items:
            try:
                out.append(one(y, sr))
            except Exception as exc:  # noqa: BLE001 - reported per clip by the caller
                out.append(exc)
        return out

    return run
