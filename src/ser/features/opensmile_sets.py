"""openSMILE functionals (IS09 emotion, eGeMAPS, ComParE 2016, emobase), as seed S1 used them."""

from __future__ import annotations

from typing import Any

import numpy as np

from ser.features.base import Extractor, FeatureSet

PEAK = 32767 / 32768


class OpenSmileSet(FeatureSet):
    """Utterance-level functionals of one openSMILE configuration (`opensmile.FeatureSet`)."""

    kind = "functionals"

    def __init__(self, name: str, smile_set: str, n_features: int, description: str = ""):
        self.name = name
        self.smile_set = smile_set  # member name of opensmile.FeatureSet
        self.n_features = n_features
        self.description = description
        self.params = {"opensmile_feature_set": smile_set, "feature_level": "Functionals"}
        self._names: list[str] | None = None  # cached: building a Smile costs ~0.3 s CPU

    def resolve(self, params=None) -> dict[str, Any]:
        resolved = super().resolve(params)
        if resolved != self.params:
            raise ValueError(f"{self.name}: the openSMILE configuration is fixed; "
                             f"parameters must be {self.params}")
        return resolved

    def _smile(self):
        import opensmile

        smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.smile_set),
                                feature_level=opensmile.FeatureLevel.Functionals)
        if self._names is None:
            self._names = list(smile.feature_names)
        return smile

    def columns(self, params=None) -> list[str]:
        self.resolve(params)
        if self._names is None:
            self._smile()
        return list(self._names or [])

    def _make_extractor(self, params: dict[str, Any]) -> Extractor:
        smile = self._smile()
        n = self.n_features

        # `Smile._extract` is what `process_signal` runs after its audinterface bookkeeping
        # (segment/channel handling that is a no-op for one mono clip at its own rate, then a
        # pandas frame with a MultiIndex): calling it directly saves ~25% per clip. Same values
        # (tests compare with `process_file`); the public API is the fallback.
        direct = getattr(smile, "_extract", None)

        def run(y: np.ndarray, sr: int) -> np.ndarray:
            # openSMILE converts to int16 by `x * 32768` and wraps around above full scale.
            y = np.clip(y, -1.0, PEAK)
            if direct is not None:
                out = np.asarray(direct(y[None, :], sr)[2], dtype=np.float32)
            else:
                out = smile.process_signal(y, sr).to_numpy(dtype=np.float32)
            if out.shape != (1, n):
                raise ValueError(f"{self.name}: openSMILE returned shape {out.shape}, "
                                 f"expected (1, {n})")
            return out[0]

        return run


IS09 = OpenSmileSet("is09_emotion", "IS09", 384, "INTERSPEECH 2009 emotion challenge (384)")
EGEMAPS = OpenSmileSet("egemaps", "eGeMAPSv02", 88, "extended Geneva minimalistic set v02 (88)")
COMPARE = OpenSmileSet("compare", "ComParE_2016", 6373, "ComParE 2016 (6373)")
EMOBASE = OpenSmileSet("emobase", "emobase", 988, "openSMILE emobase (988)")
