"""Blind estimates of a clip's recording conditions (SNR, clipping, bandwidth) on real speech, and
the out-of-training-conditions verdict that `ser predict` shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser import conditions as C
from ser import quality as Q
from ser.audio import decode
from ser.augment import make_noise, mix_at_snr

SR = 16000
RAVDESS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ravdess-dev"


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    files = sorted(RAVDESS.glob("Actor_0*/*.flac"))[::60]
    if len(files) < 6:
        pytest.skip("../shared/data/ravdess-dev not present")
    return [decode(f, SR) for f in files]


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr", [20, 10, 0])
def test_snr_estimate_on_real_speech(clips, kind, snr):
    rng = np.random.default_rng(snr)
    for x in clips:
        y = mix_at_snr(x, make_noise(kind, x.size, rng), snr)
        assert Q.estimate_snr(y, SR) == pytest.approx(snr, abs=3.5)


def test_clean_speech_reads_clean(clips):
    for x in clips:
        q = Q.assess(x, SR)
        assert q.snr_db > 30 and q.clipped == 0.0 and not q.narrowband
        assert Q.outside_training(q, None) == []


def test_clipping_is_detected(clips):
    x = clips[0]
    hot = C.apply_gain(x / np.max(np.abs(x)), 12)  # 12 dB past full scale: flat tops
    q = Q.assess(hot, SR)
    assert q.clipped > Q.CLIP_FRACTION
    # at any file level: the same flat tops scaled down are still clipping
    assert Q.clipped_fraction(hot * 0.3) == pytest.approx(q.clipped)
    assert any("clipped" in r for r in Q.outside_training(q, None))


def test_telephone_bandwidth_is_detected(clips):
    copies = C.degrade_batch(C.telephone("ulaw"), [("a", clips[0]), ("b", clips[1])],
                             sample_rate=SR)
    for copy in copies:
        q = Q.assess(copy.signal, SR)
        assert q.narrowband and q.bandwidth_hz < 3600
        assert any("telephone" in r for r in Q.outside_training(q, None))
        trained = Q.training_conditions("clean+noisy", {"snr_db": [0], "telephone": ["ulaw"]})
        assert not any("telephone" in r for r in Q.outside_training(q, trained))


def test_outside_training_follows_the_recorded_conditions():
    noisy = Q.Quality(snr_db=8.0, clipped=0.0, bandwidth_hz=7000.0, narrowband=False)
    clean_only = Q.training_conditions("clean", {"snr_db": [20, 10, 0]})
    assert clean_only == {"clean": True, "conditions": [], "kinds": [], "min_snr_db": None}
    assert "trained on clean speech only" in Q.outside_training(noisy, clean_only)[0]
    robust = Q.training_conditions("clean+noisy", {"snr_db": [20, 10, 0], "gain_db": [-20]})
    assert robust["min_snr_db"] == 0 and robust["conditions"] == ["snr20", "snr10", "snr0",
                                                                   "gain-20"]
    assert Q.outside_training(noisy, robust) == []
    very = Q.Quality(snr_db=-12.0, clipped=0.0, bandwidth_hz=7000.0, narrowband=False)
    assert "below the lowest SNR trained for (0 dB)" in Q.outside_training(very, robust)[0]
    only_reverb = Q.training_conditions(["clean", "reverb"], {"snr_db": [10],
                                                              "reverb_rt60": [0.6]})
    assert only_reverb["kinds"] == ["reverb"] and only_reverb["min_snr_db"] is None


def test_conditions_of_rows_reads_what_a_model_was_fitted_on():
    import pandas as pd

    frame = pd.DataFrame({"id": ["a", "a#snr10", "a#snr0", "a#tel-ulaw", "b"],
                          "source_id": ["a", "a", "a", "a", "b"]})
    rec = Q.conditions_of_rows(frame)
    assert rec == {"clean": True, "conditions": ["snr0", "snr10", "tel-ulaw"],
                   "kinds": ["noise", "telephone"], "min_snr_db": 0.0}
    assert Q.conditions_of_rows(frame.iloc[[0, 4]])["min_snr_db"] is None
