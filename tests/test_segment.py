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

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.audio import decode
from ser.cli import main as cli_main
from ser.segment import (
    SILERO_MODEL,
    SILERO_SHA256,
    VADS,
    SegmentParams,
    find_segments,
    join_clips,
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
CLIPS_FILES = [RAVDESS / f"Actor_{a}" / name for a, name in CLIPS]


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = cli_main(["predict", *argv, "--format", "json"])
    out, _ = capsys.readouterr()
    return rc, json.loads(out)


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


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def joined(tmp_path_factory) -> dict:
    if not RAVDESS.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    tmp = tmp_path_factory.mktemp("joined")
    files = [RAVDESS / f"Actor_{a}" / name for a, name in CLIPS]
    signal, spans, speech = join_clips([decode(f, SR) for f in files], SR, pause=1.0)
    path = tmp / "conversation.wav"
    sf.write(path, signal, SR, subtype="PCM_16")
    return {"tmp": tmp, "files": files, "path": path, "speech": speech, "spans": spans,
            "signal": decode(path, SR)}


@pytest.mark.ravdess
def test_segments_match_the_joins_and_the_clip_labels(ravdess_model, joined, capsys) -> None:
    rc, doc = run_json(capsys, str(ravdess_model), str(joined["path"]), "--segment")
    assert rc == 0
    (f,) = doc["files"]
    segs = f["segments"]
    assert len(segs) == len(CLIPS)
    for seg, (a, b) in zip(segs, joined["speech"], strict=True):
        assert abs(seg["start"] - a) <= 0.2 and abs(seg["end"] - b) <= 0.2, (seg, a, b)
    rc, alone = run_json(capsys, str(ravdess_model), *map(str, joined["files"]))
    assert rc == 0
    assert [s["label"] for s in segs] == [g["label"] for g in alone["files"]]
    assert len({g["label"] for g in alone["files"]}) >= 4  # the clips really differ
    share = f["label_share"]
    assert math.isclose(sum(share.values()), 1.0)
    longest = max(share, key=share.get)
    assert longest in {s["label"] for s in segs}


@pytest.mark.ravdess
def test_a_segment_gets_what_a_file_of_its_samples_gets(ravdess_model, joined, capsys) -> None:
    """Same decoding, checks and features: a segment cut out and saved as its own WAV file
    gets the very same probabilities from plain `ser predict`."""
    _, doc = run_json(capsys, str(ravdess_model), str(joined["path"]), "--segment")
    segs = doc["files"][0]["segments"]
    cut = []
    for i, s in enumerate(segs[:3]):
        x = joined["signal"][int(round(s["start"] * SR)):int(round(s["end"] * SR))]
        cut.append(joined["tmp"] / f"segment{i}.wav")
        sf.write(cut[-1], x, SR, subtype="PCM_16")
    _, alone = run_json(capsys, str(ravdess_model), *map(str, cut))
    for s, g in zip(segs, alone["files"], strict=False):
        for lab, p in s["probabilities"].items():
            assert p == pytest.approx(g["probabilities"][lab], abs=1e-9)
        assert s["quality"] == g["quality"]  # and the same recording-condition estimate


@pytest.mark.ravdess
def test_each_segment_reports_its_own_snr(ravdess_model, joined, capsys) -> None:
    """Noise that starts halfway through a recording: the segments after it report a lower
    SNR than those before; the file reports its own estimate and the table shows both."""
    signal = joined["signal"].copy()
    half = signal.size // 2
    rms = float(np.sqrt(np.mean(signal[signal != 0] ** 2)))
    noise = np.random.default_rng(0).normal(0, rms / 10 ** (5 / 20), signal.size - half)
    signal[half:] = np.clip(signal[half:] + noise, -1, 1)
    path = joined["tmp"] / "noise-halfway.wav"
    sf.write(path, signal, SR, subtype="PCM_16")
    rc, doc = run_json(capsys, str(ravdess_model), str(path), "--segment")
    assert rc == 0
    (f,) = doc["files"]
    assert f["quality"]["snr_db"] is not None
    before = [s["quality"]["snr_db"] for s in f["segments"] if s["end"] * SR < half]
    after = [s["quality"]["snr_db"] for s in f["segments"] if s["start"] * SR > half]
    assert before and after and max(after) < min(before) - 10, (before, after)
    assert cli_main(["predict", str(ravdess_model), str(path), "--segment"]) == 0
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.lstrip().split("-")[0].replace(".", "")
            .strip().isdigit()]
    assert rows and all(" dB " in r or "clean" in r for r in rows), table


@pytest.mark.ravdess
def test_segment_csv_and_table_list_every_segment(ravdess_model, joined, capsys) -> None:
    capsys.readouterr()
    assert cli_main(["predict", str(ravdess_model), str(joined["path"]), "--segment",
                     "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    head = rows[0].split(",")
    assert head[:5] == ["path", "segment", "start", "end", "status"]
    assert any(h.startswith("share_") for h in head)
    assert len(rows) == 1 + len(CLIPS) + 1  # a row per segment and one per file
    assert cli_main(["predict", str(ravdess_model), str(joined["path"]), "--segment"]) == 0
    lines = capsys.readouterr().out.splitlines()
    seg_rows = [ln for ln in lines if re.match(r"^ +\d+\.\d\d- +\d+\.\d\d s ", ln)]
    assert len(seg_rows) == len(CLIPS)
    assert any(ln.startswith("  share of speech time: ") for ln in lines)


@pytest.mark.ravdess
def test_segment_mode_reports_bad_files_and_silence(ravdess_model, joined, capsys) -> None:
    silent = joined["tmp"] / "room_tone.wav"
    rng = np.random.default_rng(0)
    sf.write(silent, (rng.normal(0, 0.0005, 3 * SR)).astype(np.float32), SR, subtype="PCM_16")
    broken = joined["tmp"] / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    rc, doc = run_json(capsys, str(ravdess_model), str(silent), str(broken),
                       str(joined["path"]), "--segment")
    assert rc == 1
    by = {Path(f["path"]).name: f for f in doc["files"]}
    assert by["room_tone.wav"]["status"] == "error"
    assert "silent" in by["room_tone.wav"]["reason"] or "no speech" in by["room_tone.wav"][
        "reason"]
    assert by["broken.wav"]["status"] == "error"
    assert by["conversation.wav"]["status"] == "ok"
    assert doc["segmentation"]["vad"] == "silero"


@pytest.mark.ravdess
def test_plot_writes_a_timeline_per_file(ravdess_model, joined, capsys) -> None:
    out = joined["tmp"] / "timelines"
    capsys.readouterr()
    assert cli_main(["predict", str(ravdess_model), str(joined["path"]), str(CLIPS_FILES[0]),
                     "--plot", str(out), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert all("segments" in f for f in doc["files"])  # --plot implies --segment
    for name in ("conversation.wav", CLIPS_FILES[0].name):
        png = out / f"{name}.timeline.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
