"""openSMILE functionals (IS09 emotion, eGeMAPS, ComParE 2016, emobase), as seed S1 used them."""

from __future__ import annotations

from typing import Any

import numpy as np

from ser.features.base import Extractor, FeatureSet

PEAK = 32767 / 32768


def _seed_audobject_cache() -> None:
    """Spare each process the ~0.6 s scan of every installed distribution's metadata.

    Why: `opensmile.Smile.__init__` (via audobject) asks `importlib.metadata.
    packages_distributions()` which package provides the `opensmile` module, only to name the
    class in its serialisation; audobject caches the answer per process in
    `PACKAGES_DISTRIBUTIONS`, so every shard job paid for one full scan. The answer for
    `opensmile` is `opensmile` (a test checks it against the real scan); other modules still
    trigger audobject's own lookup."""
    try:
        from audobject.core import utils
    except ImportError:  # audobject reorganised: just pay the scan
        return
    cache = getattr(utils, "PACKAGES_DISTRIBUTIONS", None)
    if isinstance(cache, dict) and "opensmile" not in cache:
        cache["opensmile"] = ["opensmile"]


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

        _seed_audobject_cache()
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
        reuse = _ReusedSmile.for_smile(smile)  # None if opensmile reorganises its internals

        def run(y: np.ndarray, sr: int) -> np.ndarray:
            # openSMILE converts to int16 by `x * 32768` and wraps around above full scale.
            y = np.clip(y, -1.0, PEAK)
            if reuse is not None:
                out = reuse(y, sr)
            else:  # the public API: same values, slower
                out = smile.process_signal(y, sr).to_numpy(dtype=np.float32)
            if out.shape != (1, n):
                raise ValueError(f"{self.name}: openSMILE returned shape {out.shape}, "
                                 f"expected (1, {n}) (clip too short for its windows?)")
            return out[0]

        return run


class _ReusedSmile:
    """One initialised openSMILE instance run clip after clip, `reset()` in between.

    Why: `Smile.process_signal` parses the configuration and builds every component for each
    clip and frees them afterwards (~3.5 ms of ~13 ms per IS09 clip). openSMILE's documented
    `OpenSMILE.reset()` makes an instance runnable again without `initialize`; values are
    bit-identical to a fresh instance (tests compare with `process_file` over clips of several
    lengths, and bench/features.py compares whole tables). The instance is rebuilt after an
    error, on a new sample rate, and every `RENEW` clips (each re-registered sink callback stays
    referenced by the wrapper)."""

    RENEW = 500

    def __init__(self, smile: Any, config: Any) -> None:
        self.smile, self.config = smile, config
        self.api: Any = None
        self.rate: int | None = None
        self.used = 0
        self.rows: list[np.ndarray] = []

    @classmethod
    def for_smile(cls, smile: Any) -> _ReusedSmile | None:
        try:
            from opensmile.core.config import config
            from opensmile.core.lib import OpenSMILE
        except ImportError:
            return None
        needed = ("_options", "_smile", "default_config_root")
        if not all(hasattr(smile, a) for a in needed) or not hasattr(OpenSMILE, "reset"):
            return None
        return cls(smile, config)

    def _callback(self, data: np.ndarray, meta: Any) -> None:
        self.rows.append(np.array(data, dtype=np.float32, copy=True).reshape(1, -1))

    def _register(self) -> None:
        self.api.external_sink_set_callback_ex(self.config.EXTERNAL_OUTPUT_COMPONENT,
                                               self._callback)

    def _drop(self) -> None:
        if self.api is not None:
            self.api.free()
        self.api, self.rate, self.used = None, None, 0

    def _start(self, sr: int) -> None:
        import os

        options = self.smile._options()
        options["source"] = os.path.join(self.smile.default_config_root,
                                         self.config.EXTERNAL_INPUT_CONFIG)
        options["sampleRate"] = sr
        options["nBits"] = 16
        self.api = self.smile._smile(options=options)
        self.rate, self.used = sr, 0
        self._register()

    def __call__(self, y: np.ndarray, sr: int) -> np.ndarray:
        if self.api is not None and (sr != self.rate or self.used >= self.RENEW):
            self._drop()
        if self.api is None:
            self._start(sr)
        self.rows = []
        try:
            pcm = (y * 32768).astype(np.int16)  # exactly as Smile._extract converts
            src = self.config.EXTERNAL_SOURCE_COMPONENT
            self.api.external_audio_source_write_data(src, pcm.tobytes())
            self.api.external_audio_source_set_eoi(src)
            self.api.run()
            self.api.reset()
            self._register()
            self.used += 1
        except BaseException:
            self._drop()
            raise
        rows = self.rows
        return np.concatenate(rows) if rows else np.zeros((0,), np.float32)

    def __del__(self) -> None:
        try:
            self._drop()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


IS09 = OpenSmileSet("is09_emotion", "IS09", 384, "INTERSPEECH 2009 emotion challenge (384)")
EGEMAPS = OpenSmileSet("egemaps", "eGeMAPSv02", 88, "extended Geneva minimalistic set v02 (88)")
COMPARE = OpenSmileSet("compare", "ComParE_2016", 6373, "ComParE 2016 (6373)")
EMOBASE = OpenSmileSet("emobase", "emobase", 988, "openSMILE emobase (988)")
