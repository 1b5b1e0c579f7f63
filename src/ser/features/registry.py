"""The feature-set registry: every set by name, with its kind (functionals or matrix) and its
parameters with defaults (`FeatureSet.params`). `Plan`, the feature tables, variants and
`ser predict` all look sets up here; ser.features re-exports it.
"""

from __future__ import annotations

from ser.features.base import FeatureSet
from ser.features.hf_encoder import HF_ENCODER
from ser.features.librosa_sets import LOGMEL, MFCC40, SPECTRAL_STATS
from ser.features.opensmile_sets import COMPARE, EGEMAPS, EMOBASE, IS09
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
