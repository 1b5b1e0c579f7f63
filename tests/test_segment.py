"""Voice activity detection and segment-level prediction (`ser predict --segment`).

The end-to-end tests join real RAVDESS clips of six different emotions (actors 05-08, unseen
by the model of the ``ravdess_model`` fixture) with 1 s pauses into one long WAV, then check
that ``ser predict --segment`` finds one segment per clip within 0.2 s of the clip's speech
(what silence trimming at 30 dB keeps of it) and labels each segment as ``ser predict`` labels
the clip alone. The six clips are ones the model classifies with a clear margin: on near-ties
(confidence ~0.5) a 10 ms shift of the trimmed span can flip the top label, and on a few clips
Silero starts or ends an utterance late; ``bench/segment.py`` measures those rates on 64
utterances (docs/predict.md reports them).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ser.audio import decode
from ser.segment import (
    SILERO_MODEL,
    SILERO_SHA256,
    VADS,
    SegmentParams,
    find_segments,
    segment_runs,
    speech_runs,
)

RAVDESS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ravdess-dev"
SR = 16000
# (actor, file): calm, disgust, angry, happy, sad, neutral clips of four unseen actors
CLIPS = [
    ("05", "03-01-02-02-01-01-05.flac"),
    ("06", "03-01-07-02-01-01-06.flac"),
    ("07", "03-01-05-02-01-01-07.flac"),
    ("08", "03-01-03-02-01-01-08.flac"),
    ("08", "03-01-04-02-01-01-08.flac"),
    ("07", "03-01-01-01-01-01-07.flac"),
]


# --------------------------------------------------------------------------- unit


def test_runs_are_merged_dropped_padded_and_windowed() -> None:
    p = SegmentParams(min_segment=0.5, max_segment=4.0, pad=0.1, merge_gap=0.3)
    runs = [(1.0, 2.0), (2.2, 3.0),  # 0.2 s pause: merged
            (4.0, 4.3),  # 0.3 s of speech: dropped
            (6.0, 15.0),  # 9 s: cut into three 3.03 s windows after padding
            (15.5, 16.0)]  # 0.5 s from its neighbour: padded only up to the midpoint
    segs = segment_runs(runs, 16.05, p)
    assert segs[0] == (0.9, 3.1)
    assert len(segs) == 5
    assert segs[1][0] == 5.9 and math.isclose(segs[3][1], 15.1)
    assert all(math.isclose(b - a, (15.1 - 5.9) / 3, abs_tol=1e-3) for a, b in segs[1:4])
    assert segs[4] == (15.4, 16.05)  # the file ends before the padding would
    assert segment_runs([(0.0, 0.4)], 1.0, p) == []


def test_speech_runs_use_hysteresis() -> None:
    probs = np.array([0.1, 0.6, 0.4, 0.45, 0.3, 0.2, 0.7, 0.7])
    # speech starts at 0.6, holds while p >= 0.35, ends at 0.3; starts again at 0.7
    runs = speech_runs(probs, 0.1, 0.5)
    assert np.allclose(runs, [(0.1, 0.4), (0.6, 0.8)])


def test_bad_segment_options_name_the_option() -> None:
    for kwargs, option in [({"vad": "nope"}, "unknown VAD"),
                           ({"threshold": 1.5}, "--vad-threshold"),
                           ({"pad": -1}, "--pad"),
                           ({"max_segment": 0.2}, "--max-segment")]:
        with pytest.raises(ValueError, match=option):
            SegmentParams(**kwargs).check()


def test_silero_model_is_the_file_from_the_wheel() -> None:
    import hashlib

    assert hashlib.sha256(SILERO_MODEL.read_bytes()).hexdigest() == SILERO_SHA256
    assert (SILERO_MODEL.parent / "silero_vad.LICENSE").read_text().startswith("MIT License")


@pytest.mark.parametrize("vad", list(VADS))
def test_every_vad_finds_a_real_utterance_and_not_silence(vad: str) -> None:
    if not RAVDESS.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    clip = decode(RAVDESS / "Actor_05" / CLIPS[0][1], SR)
    silence = np.zeros(SR, dtype=np.float32)
    y = np.concatenate([silence, clip, silence])
    segs = find_segments(y, SR, SegmentParams(vad=vad))
    assert len(segs) == 1
    assert find_segments(silence, SR, SegmentParams(vad=vad)) == []
