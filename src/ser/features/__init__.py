"""Feature sets (openSMILE functionals, MFCC means, log-mel matrices, pretrained speech encoders)
and feature tables.

`FEATURE_SETS[name]` is the registry; `extract_signal` is the single entry point that both the
workflow (via `run_features_shard`) and `ser predict` use on a signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ser.features.base import FeatureSet, prepare_signal
from ser.features.hf_encoder import HF_ENCODER
from ser.features.librosa_sets import LOGMEL, MFCC40, SPECTRAL_STATS
from ser.features.opensmile_sets import COMPARE, EGEMAPS, EMOBASE, IS09
from ser.features.tables import (
    META_COLUMNS,
    REJECTED_COLUMNS,
    combine_shards,
    read_features,
    run_features_shard,
)
from ser.features.variants import resolve_variant, split_variant
from ser.features.whisper import WHISPER

FEATURE_SETS: dict[str, FeatureSet] = {
    fs.name: fs for fs in (IS09, EGEMAPS, COMPARE, EMOBASE, MFCC40, SPECTRAL_STATS, LOGMEL,
                           WHISPER, HF_ENCODER)
}


def get_feature_set(name: str) -> FeatureSet:
    """Registry lookup with a helpful error."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ValueError(f"unknown feature set {name!r}; known: {sorted(FEATURE_SETS)}") from None


def extract_signal(feature_set: str, signal: np.ndarray, sr: int,
                   params: Mapping[str, Any] | None = None) -> np.ndarray:
    """Features of one signal: (d,) float32 for functionals, (frames, n_mels) float32 for logmel.

    Raises ValueError for an empty or non-finite signal or NaN/inf features."""
    return get_feature_set(feature_set).extract(signal, sr, params)


__all__ = [
    "FEATURE_SETS", "META_COLUMNS", "REJECTED_COLUMNS", "FeatureSet", "combine_shards",
    "extract_signal", "get_feature_set", "prepare_signal", "read_features", "resolve_variant",
    "run_features_shard", "split_variant",
]
