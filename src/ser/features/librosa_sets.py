"""librosa features: mean MFCCs (seed S2) and fixed-size log-mel spectrograms (CNN/LSTM input)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ser.features.base import Extractor, FeatureSet


class Mfcc40(FeatureSet):
    """Mean over time of 40 MFCCs: `np.mean(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40).T, 0)`.

    Seed S2 loaded audio at librosa's default 22050 Hz; here the WAV's own rate is used (and
    recorded as `sample_rate` in the table metadata)."""

    name = "mfcc40"
    kind = "functionals"
    params: dict[str, Any] = {"n_mfcc": 40}
    description = "mean of 40 MFCCs over time (seed S2)"

    def columns(self, params=None) -> list[str]:
        p = self.resolve(params)
        return [f"mfcc_{i:02d}" for i in range(int(p["n_mfcc"]))]

    def _make_extractor(self, params: dict[str, Any]) -> Extractor:
        import librosa

        n_mfcc = int(params["n_mfcc"])

        def run(y: np.ndarray, sr: int) -> np.ndarray:
            return np.mean(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc).T,
                           axis=0).astype(np.float32)

        return run


class LogMel(FeatureSet):
    """Log-mel spectrogram in dB against a fixed reference (1.0 = full-scale power), so values
    compare across clips; centre-cropped or end-padded (with the dB floor, i.e. silence) to
    `frames` frames. Returned as (frames, n_mels)."""

    name = "logmel"
    kind = "matrix"
    params: dict[str, Any] = {"n_mels": 64, "n_fft": 400, "hop_length": 160, "fmin": 0.0,
                              "fmax": 8000.0, "frames": 300, "amin": 1e-10}
    description = "log-mel spectrogram, 64 bands x 300 frames (3 s at 16 kHz)"

    def shape(self, params=None) -> list[int]:
        p = self.resolve(params)
        return [int(p["frames"]), int(p["n_mels"])]

    def _make_extractor(self, params: dict[str, Any]) -> Extractor:
        import librosa

        frames, n_mels = int(params["frames"]), int(params["n_mels"])
        floor = 10.0 * np.log10(float(params["amin"]))

        def run(y: np.ndarray, sr: int) -> np.ndarray:
            s = librosa.feature.melspectrogram(
                y=y, sr=sr, n_fft=int(params["n_fft"]), hop_length=int(params["hop_length"]),
                n_mels=n_mels, fmin=float(params["fmin"]),
                fmax=min(float(params["fmax"]), sr / 2.0), power=2.0)
            db = librosa.power_to_db(s, ref=1.0, amin=float(params["amin"]), top_db=None).T
            return crop_or_pad(db.astype(np.float32), frames, floor)

        return run


class SpectralStats(FeatureSet):
    """Utterance statistics of frame features: mean and std over time of 64 log-mel bands, of 40
    MFCCs and of their deltas (288 values). Cheap, and with eGeMAPS and IS09 the strongest
    speaker-independent input measured on ravdess-dev (docs/accuracy.md)."""

    name = "spectral_stats"
    kind = "functionals"
    params: dict[str, Any] = {"n_mels": 64, "n_mfcc": 40, "n_fft": 512, "win_length": 400,
                              "hop_length": 160, "fmin": 20.0, "fmax": 8000.0}
    description = "mean/std of log-mel (64), MFCC (40) and delta-MFCC over time"

    def columns(self, params=None) -> list[str]:
        p = self.resolve(params)
        n_mels, n_mfcc = int(p["n_mels"]), int(p["n_mfcc"])
        return ([f"logmel_mean_{i:02d}" for i in range(n_mels)]
                + [f"logmel_std_{i:02d}" for i in range(n_mels)]
                + [f"mfcc_mean_{i:02d}" for i in range(n_mfcc)]
                + [f"mfcc_std_{i:02d}" for i in range(n_mfcc)]
                + [f"dmfcc_mean_{i:02d}" for i in range(n_mfcc)]
                + [f"dmfcc_std_{i:02d}" for i in range(n_mfcc)])

    def _make_extractor(self, params: dict[str, Any]) -> Extractor:
        import librosa

        def run(y: np.ndarray, sr: int) -> np.ndarray:
            mel = librosa.feature.melspectrogram(
                y=y, sr=sr, n_fft=int(params["n_fft"]), hop_length=int(params["hop_length"]),
                win_length=int(params["win_length"]), n_mels=int(params["n_mels"]),
                fmin=float(params["fmin"]), fmax=min(float(params["fmax"]), sr / 2.0))
            logmel = np.log(mel + 1e-6)
            mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=int(params["n_mfcc"]))
            delta = librosa.feature.delta(mfcc)
            parts = [logmel.mean(1), logmel.std(1), mfcc.mean(1), mfcc.std(1), delta.mean(1),
                     delta.std(1)]
            return np.concatenate(parts).astype(np.float32)

        return run


def crop_or_pad(m: np.ndarray, frames: int, fill: float) -> np.ndarray:
    """Centre-crop rows of `m` to `frames`, or pad at the end with `fill`."""
    t = m.shape[0]
    if t >= frames:
        start = (t - frames) // 2
        return np.ascontiguousarray(m[start:start + frames])
    pad = np.full((frames - t, m.shape[1]), fill, dtype=m.dtype)
    return np.concatenate([m, pad], axis=0)


MFCC40 = Mfcc40()
SPECTRAL_STATS = SpectralStats()
LOGMEL = LogMel()
