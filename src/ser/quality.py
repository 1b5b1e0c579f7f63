"""What a clip's recording is like, estimated from the clip alone: SNR, clipping, bandwidth; and
whether that lies outside the conditions a model was trained for.

Why: a model trained on studio speech is at chance at 0 dB SNR (docs/accuracy.md, robustness);
`ser predict` should say so next to the prediction instead of returning a confident label.

The SNR estimate uses the workflow's own definition (RMS of the whole clip against RMS of the
noise, ser.augment): the noise power is the mean power of the quietest frames (speech has pauses
and acted clips lead-in silence), the speech power what the other frames carry above it. It
needs no model and is close for stationary noise when the clip has pauses (within 3.5 dB from 0 to
20 dB for white and pink noise on untrimmed RAVDESS clips, tested). It cannot tell quiet speech
from noise in a clip without pauses: on clips trimmed to the speech (`trim_db: 30`) clean speech
reads as 14-20 dB, so `ser predict` estimates on the clip before trimming. Written here because
the libraries at hand offer no blind SNR estimator (WADA-SNR needs a fitted lookup table; this is
simpler and matches the augment stage's definition).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ser.conditions import from_config, parse_tag, row_conditions

FRAME_SECONDS = 0.025
HOP_SECONDS = 0.010
NOISE_QUANTILE = 0.10     # the quietest 10 % of frames estimate the noise floor
MAX_SNR_DB = 60.0         # "clean": estimates are capped here
CLIP_RUN = 3              # >= 3 consecutive samples at the peak count as clipped
CLIP_FRACTION = 0.001     # more clipped samples than this is reported as clipping
NARROWBAND_HZ = 3600.0    # less than 0.01 % of the power above this: telephone-like bandwidth
CLEAN_SNR_DB = 20.0       # a model trained on clean speech only is trusted from this SNR on
SNR_MARGIN_DB = 5.0       # below the lowest trained SNR by more than this: outside training


@dataclass(frozen=True)
class Quality:
    """Estimated recording conditions of one clip (or segment)."""

    snr_db: float           # estimated SNR, capped at MAX_SNR_DB
    clipped: float          # fraction of samples in clipped runs
    bandwidth_hz: float     # frequency below which 99 % of the power lies
    narrowband: bool        # almost nothing above NARROWBAND_HZ (telephone, 8 kHz audio)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: floats rounded, NaN (no estimate) as None."""
        return {k: ((round(v, 4) if np.isfinite(v) else None) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


def _frame_powers(x: np.ndarray, sample_rate: int) -> np.ndarray:
    n = max(1, int(FRAME_SECONDS * sample_rate))
    hop = max(1, int(HOP_SECONDS * sample_rate))
    if x.size < n:
        return np.array([np.mean(x.astype(np.float64) ** 2)]) if x.size else np.zeros(1)
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), n)[::hop]
    return np.mean(frames**2, axis=1)


def estimate_snr(signal: np.ndarray, sample_rate: int) -> float:
    """SNR in dB of a clip (RMS of the whole clip against RMS of the noise), capped at
    `MAX_SNR_DB`; `MAX_SNR_DB` for a clip whose quiet frames are digital silence."""
    x = np.asarray(signal, dtype=np.float64)
    if x.size == 0 or not np.any(x):
        return float("nan")
    p = _frame_powers(x, sample_rate)
    quiet = p[p <= np.quantile(p, NOISE_QUANTILE)]
    noise = float(np.mean(quiet)) if quiet.size else 0.0
    total = float(np.mean(x**2))
    if noise <= total * 10 ** (-MAX_SNR_DB / 10):
        return MAX_SNR_DB
    speech = max(total - noise, noise * 10 ** (-MAX_SNR_DB / 10))
    return float(min(MAX_SNR_DB, 10 * np.log10(speech / noise)))


def clipped_fraction(signal: np.ndarray) -> float:
    """Fraction of samples in runs of >= `CLIP_RUN` consecutive samples at the clip's peak
    magnitude (a flat top: the recorder ran out of range, whatever level the file is at)."""
    x = np.abs(np.asarray(signal, dtype=np.float64))
    if x.size == 0:
        return 0.0
    peak = float(x.max())
    if peak == 0.0:
        return 0.0
    at = x >= peak * (1 - 1e-4)
    edges = np.diff(np.concatenate([[0], at.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    return float(lengths[lengths >= CLIP_RUN].sum() / x.size)


def bandwidth(signal: np.ndarray, sample_rate: int) -> tuple[float, bool]:
    """(frequency below which 99 % of the power lies, narrow-band?) from a Welch spectrum."""
    from scipy.signal import welch

    x = np.asarray(signal, dtype=np.float64)
    if x.size < 256 or not np.any(x):
        return float("nan"), False
    f, p = welch(x, fs=sample_rate, nperseg=min(1024, x.size))
    c = np.cumsum(p) / np.sum(p)
    rolloff = float(f[min(np.searchsorted(c, 0.99), f.size - 1)])
    above = float(p[f >= NARROWBAND_HZ].sum() / p.sum()) if sample_rate / 2 > NARROWBAND_HZ \
        else 0.0
    return rolloff, above < 1e-4


def assess(signal: np.ndarray, sample_rate: int) -> Quality:
    """Estimated SNR, clipping and bandwidth of one clip or segment."""
    bw, narrow = bandwidth(signal, sample_rate)
    return Quality(snr_db=estimate_snr(signal, sample_rate), clipped=clipped_fraction(signal),
                   bandwidth_hz=bw, narrowband=narrow)


# ------------------------------------------------------------------ training conditions


def training_conditions(train_on: str | Sequence[str], augment: Mapping[str, Any]) -> dict:
    """What a model was trained on, as recorded in its bundle: the condition tags of its
    training copies and the lowest SNR among them (None when trained on no noisy copy)."""
    conds = from_config(augment)
    if isinstance(train_on, str):
        wanted = {"clean": set(), "clean+noisy": {c.kind for c in conds}}.get(train_on)
        if wanted is None:
            raise ValueError(f"unknown train_on {train_on!r}")
    else:
        wanted = {str(k) for k in train_on if k != "clean"}
    used = [c for c in conds if c.kind in wanted]
    snrs = [float(c.value) for c in used if c.kind == "noise" and c.value is not None]
    return {"clean": True, "conditions": [c.tag for c in used],
            "kinds": sorted({c.kind for c in used}),
            "min_snr_db": min(snrs) if snrs else None}


def conditions_of_rows(frame: Any) -> dict:
    """The same record as :func:`training_conditions`, read off the rows a model was actually
    fitted on (a feature table's `id`/`source_id`), so the bundle states what it saw."""
    kinds, levels = row_conditions(frame)
    ids = frame["id"].astype(str).to_numpy() if "id" in frame.columns else None
    sources = frame["source_id"].astype(str).to_numpy() if "source_id" in frame.columns else None
    tags: set[str] = set()
    if ids is not None and sources is not None:
        tags = {i[len(s) + 1:] for i, s in zip(ids, sources, strict=True) if i != s}
    used = sorted((parse_tag(t) for t in tags), key=lambda c: (c.kind, c.level))
    snrs = [float(c.value) for c in used if c.kind == "noise" and c.value is not None]
    return {"clean": bool(np.any(kinds == "clean")), "conditions": [c.tag for c in used],
            "kinds": sorted({str(k) for k in kinds if k != "clean"}),
            "min_snr_db": min(snrs) if snrs else None}


def shared_conditions(records: Sequence[Mapping[str, Any] | None]) -> dict | None:
    """What every one of several bundles (the folds of a model) was trained for: None when any
    bundle does not say (trained before conditions were recorded: treated as clean only)."""
    if not records or any(r is None for r in records):
        return None
    kinds = set.intersection(*(set(r.get("kinds") or []) for r in records))  # type: ignore[union-attr]
    lows = [r.get("min_snr_db") for r in records]  # type: ignore[union-attr]
    return {"kinds": sorted(kinds),
            "min_snr_db": None if any(v is None for v in lows)
            else max(float(v) for v in lows if v is not None)}


def outside_training_dict(quality: Mapping[str, Any], trained: Mapping[str, Any] | None
                          ) -> list[str]:
    """:func:`outside_training` for a quality record as ``Quality.as_dict`` wrote it."""
    q = Quality(snr_db=float("nan") if quality.get("snr_db") is None else quality["snr_db"],
                clipped=float(quality.get("clipped") or 0.0),
                bandwidth_hz=float("nan") if quality.get("bandwidth_hz") is None
                else quality["bandwidth_hz"],
                narrowband=bool(quality.get("narrowband")))
    return outside_training(q, trained)


def outside_training(q: Quality, trained: Mapping[str, Any] | None) -> list[str]:
    """Why a clip lies outside the conditions a model was trained for (empty: inside).
    `trained` is :func:`training_conditions`' record; None (an older bundle) means clean only."""
    trained = dict(trained or {"kinds": [], "min_snr_db": None})
    kinds = set(trained.get("kinds") or [])
    reasons = []
    low = trained.get("min_snr_db")
    if np.isfinite(q.snr_db):
        if low is None and q.snr_db < CLEAN_SNR_DB:
            reasons.append(f"SNR about {q.snr_db:.0f} dB; the model was trained on clean "
                           "speech only")
        elif low is not None and q.snr_db < float(low) - SNR_MARGIN_DB:
            reasons.append(f"SNR about {q.snr_db:.0f} dB, below the lowest SNR trained for "
                           f"({float(low):g} dB)")
    if q.narrowband and "telephone" not in kinds:
        reasons.append("telephone bandwidth (nothing above 3.6 kHz); the model was not trained "
                       "on telephone speech")
    if q.clipped > CLIP_FRACTION:
        reasons.append(f"clipped ({100 * q.clipped:.1f} % of samples at the peak)")
    return reasons
