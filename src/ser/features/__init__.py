"""Feature sets (openSMILE functionals, MFCC means, log-mel matrices, pretrained speech encoders)
and feature tables.

`FEATURE_SETS[name]` is the registry (:mod:`.registry`); `extract_signal` is the single entry
point that both the workflow (via `run_features_shard`) and `ser predict` use on a signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ser.features.base import FeatureSet, prepare_signal
from ser.features.registry import FEATURE_SETS, get_feature_set
from ser.features.tables import (
    META_COLUMNS,
    REJECTED_COLUMNS,
    combine_shards,
    read_features,
    run_features_shard,
)
from ser.features.variants import resolve_variant, split_variant


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
