"""Recording conditions measured on their output: RT60 of the room, band limit of the telephone
channel, codec and bit rate applied, gain in dB; ids, config, determinism, the augment stage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser import conditions as C
from ser.audio import decode, write_wav
from ser.augment import OUT_COLUMNS, run_augment_shard

SR = 16000
RAVDESS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ravdess-dev"


def real_clips(n: int = 4) -> list[tuple[str, np.ndarray]]:
    files = sorted((RAVDESS / "Actor_01").glob("*.flac"))[:n]
    if len(files) < n:
        pytest.skip("../shared/data/ravdess-dev not present")
    return [(f"Actor_01/{f.stem}", decode(f, SR)) for f in files]


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def schroeder_rt60(h: np.ndarray, sr: int, decay_db: float = 30) -> float:
    """RT60 by our own Schroeder integral and a line fit from -5 dB to -5 - `decay_db` dB
    (T30 by default, ISO 3382), written apart from the library's estimator."""
    e = np.cumsum((np.asarray(h, np.float64) ** 2)[::-1])[::-1]
    edc = 10 * np.log10(e / e[0] + 1e-300)
    i5, i25 = np.argmax(edc <= -5), np.argmax(edc <= -5 - decay_db)
    t = np.arange(i5, i25) / sr
    slope = np.polyfit(t, edc[i5:i25], 1)[0]
    return -60.0 / slope


def band_fraction(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    """Fraction of the signal's power between lo and hi Hz (Welch PSD)."""
    from scipy.signal import welch

    f, p = welch(np.asarray(x, np.float64), fs=sr, nperseg=1024)
    return float(p[(f >= lo) & (f <= hi)].sum() / p.sum())


# ------------------------------------------------------------------------------ names, config


def test_tags_round_trip_and_ids():
    conds = C.from_config({"snr_db": [20, -5, 2.5], "reverb_rt60": [0.3, 1], "rir": ["x.wav"],
                           "telephone": ["ulaw", "amrnb"], "codec": ["mp3-16k", "opus-8k"],
                           "gain_db": [-20]})
    tags = [c.tag for c in conds]
    assert tags == ["snr20", "snr-5", "snr2.5", "rt0.3", "rt1", "rir", "tel-ulaw", "tel-amrnb",
                    "mp3-16k", "opus-8k", "gain-20"]
    for c in conds:
        assert C.parse_tag(c.tag) == c
        assert C.condition_of(c.copy_id("Actor_01/a#b"), "Actor_01/a#b") == c
    assert [c.kind for c in conds] == sorted((c.kind for c in conds),
                                             key=list(C.CONDITION_KINDS).index)
    assert C.condition_of("x", "x") is None
    with pytest.raises(ValueError, match="neither"):
        C.condition_of("y#snr10", "x")


@pytest.mark.parametrize("section,match", [
    ({"telephone": ["gsm"]}, "augment.telephone: unknown telephone codec 'gsm'"),
    ({"codec": ["wma-16k"]}, "augment.codec: codec 'wma-16k'"),
    ({"gain_db": [-20, -20.0]}, "given twice"),
    ({"reverb_rt60": [5]}, "outside"),
])
def test_config_mistakes_name_the_key(section, match):
    with pytest.raises(ValueError, match=match):
        C.from_config(section)


def test_plan_rejects_bad_conditions_at_start(tmp_path):
    from ser.plan import ConfigError, Plan

    cfg = {"datasets": {"d": {"format": "ravdess", "demo": {}}}, "features": ["egemaps"],
           "models": {}, "split": {"protocol": "speaker_kfold"}, "augment": {"rir": ["nope"]}}
    with pytest.raises(ConfigError, match="augment.rir: 'nope' is not an existing file"):
        Plan(cfg, tmp_path)


# ------------------------------------------------------------------------ exactness per kind


def test_gain_is_exact_in_db():
    (cid, x), = real_clips(1)
    (copy,) = C.degrade_batch(C.gain(-20), [(cid, x)], sample_rate=SR)
    assert rms_db(copy.signal) - rms_db(x) == pytest.approx(-20.0, abs=0.01)
    loud = C.apply_gain(x, 40)  # far past full scale: clipped, never wrapped
    assert loud.min() >= -1.0 and loud.max() <= C.PEAK


@pytest.fixture(scope="module")
def rir_bank(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rir") / "bank.npz"
    measured = tmp_path_factory.mktemp("measured") / "hall.wav"
    # a "measured" RIR: exponentially decaying noise with RT60 0.8 s at 48 kHz (resampled on load)
    rng = np.random.default_rng(1)
    t = np.arange(int(1.2 * 48000)) / 48000
    h = rng.standard_normal(t.size) * 10 ** (-3 * t / 0.8)
    h[0] = 4.0
    sf.write(measured, (h / np.max(np.abs(h)) * 0.9).astype(np.float32), 48000)
    C.build_rir_bank(path, rt60s=[0.3, 0.6], files=[measured], sample_rate=SR, seed=0, rooms=2)
    return path


@pytest.mark.parametrize("level,rt60", [("0.3", 0.3), ("0.6", 0.6), ("rir", 0.8)])
def test_reverb_rt60_measured_on_the_output(rir_bank, level, rt60):
    """An impulse through the condition gives the room's response: its decay has the RT60."""
    bank = C.load_rir_bank(rir_bank)
    assert len(bank.indices(level)) == (1 if level == "rir" else 2)
    click = np.zeros(2 * SR, np.float32)
    click[0] = 0.5
    cond = C.reverb(None if level == "rir" else rt60)
    for k in range(6):  # several clips: several rooms of the level are drawn
        (copy,) = C.degrade_batch(cond, [(f"clip{k}", click)], sample_rate=SR, rir_bank=bank)
        assert schroeder_rt60(copy.signal, SR) == pytest.approx(rt60, rel=0.1)
        # the early decay of image-source rooms is a little faster: T20 agrees within 20 %
        assert schroeder_rt60(copy.signal, SR, decay_db=20) == pytest.approx(rt60, rel=0.2)
        assert "RT60" in copy.detail


def test_reverb_keeps_level_and_alignment(rir_bank):
    bank = C.load_rir_bank(rir_bank)
    (cid, x), = real_clips(1)
    (copy,) = C.degrade_batch(C.reverb(0.6), [(cid, x)], sample_rate=SR, rir_bank=bank)
    y = copy.signal
    assert y.size == x.size and rms_db(y) == pytest.approx(rms_db(x), abs=0.05)
    assert np.corrcoef(x, y)[0, 1] < 0.9  # reverberant, not a copy
    click = np.zeros(SR, np.float32)
    click[100] = 0.5
    for k in range(4):  # the direct path stays in place: no propagation delay is added
        (copy,) = C.degrade_batch(C.reverb(0.6), [(f"c{k}", click)], sample_rate=SR,
                                  rir_bank=bank)
        assert 100 <= int(np.argmax(np.abs(copy.signal))) <= 100 + C.RIR_LEAD_SECONDS * SR


@pytest.mark.parametrize("codec", ["ulaw", "alaw", "amrnb", "none"])
def test_telephone_band_limit_and_codec(codec):
    clips = real_clips(3)
    copies = C.degrade_batch(C.telephone(codec), clips, sample_rate=SR)
    for (_, x), copy in zip(clips, copies, strict=True):
        y = copy.signal
        assert y.size == x.size
        assert band_fraction(x, SR, 3600, 8000) > 1e-3  # the source had that band...
        assert band_fraction(y, SR, 3600, 8000) < 1e-4  # ...the channel removed it
        assert band_fraction(y, SR, 0, 200) < 1e-3
        assert band_fraction(y, SR, 250, 3500) > 0.99
        assert rms_db(y) == pytest.approx(rms_db(x), abs=0.05)
    expected = {"ulaw": "pcm_mulaw 64", "alaw": "pcm_alaw 64", "amrnb": "amr_nb 12"}
    detail = copies[0].detail
    assert detail.startswith("8 kHz, 300-3400 Hz")
    if codec in expected:
        assert expected[codec] in detail


def test_telephone_codec_is_really_applied():
    """G.711 adds its quantisation noise (20-40 dB below these quiet clips), AMR-NB far more."""
    clips = real_clips(2)
    ref = C.degrade_batch(C.telephone("none"), clips, sample_rate=SR)
    for codec, lo, hi in (("ulaw", 15, 45), ("amrnb", -5, 15)):
        out = C.degrade_batch(C.telephone(codec), clips, sample_rate=SR)
        for r, o in zip(ref, out, strict=True):
            snr = rms_db(r.signal) - rms_db(r.signal - o.signal)
            assert lo < snr < hi, (codec, snr)


@pytest.mark.parametrize("spec,kbps,codec", [("mp3-16k", 16, "mp3"), ("opus-8k", 8, "opus"),
                                             ("aac-24k", 24, "aac")])
def test_codec_bit_rate_and_codec_applied(spec, kbps, codec):
    clips = real_clips(3)
    copies = C.degrade_batch(C.lossy(spec), clips, sample_rate=SR)
    detail = copies[0].detail
    name, rate = detail.split()[0], float(detail.split()[1])
    assert name == codec
    assert rate == pytest.approx(kbps, rel=0.15)
    for (_, x), copy in zip(clips, copies, strict=True):
        y = copy.signal
        assert y.size == x.size
        snr = rms_db(x) - rms_db(x - y)  # aligned, audibly the same clip, but lossy
        assert 3 < snr < 30, snr


@pytest.mark.parametrize("spec", ["mp3-16k", "aac-24k", "opus-8k"])
def test_codec_copy_and_batch_neighbours(spec):
    """Clips start on codec-frame boundaries after silence in the batched stream: an MP3 copy is
    exactly the clip's copy made alone; AAC and Opus carry rate-control state from the clip
    before (deterministic per shard), at the same quality."""
    clips = real_clips(3)
    x = clips[1][1]
    alone = C.degrade_batch(C.lossy(spec), clips[1:2], sample_rate=SR)[0].signal
    batched = C.degrade_batch(C.lossy(spec), clips, sample_rate=SR)[1].signal
    if spec.startswith("mp3"):
        assert np.array_equal(alone, batched)
    else:
        snr_alone, snr_batch = rms_db(x) - rms_db(x - alone), rms_db(x) - rms_db(x - batched)
        assert snr_batch == pytest.approx(snr_alone, abs=1.5)


def test_missing_encoder_is_every_clips_reason(monkeypatch):
    clips = real_clips(2)
    monkeypatch.setattr(C, "ffmpeg_encoders", lambda: frozenset())
    copies = C.degrade_batch(C.lossy("mp3-16k"), clips, sample_rate=SR)
    assert all(c.signal is None and "no libmp3lame encoder" in c.error for c in copies)


# -------------------------------------------------------------------------- the augment stage


def shard_manifest(root: Path, clips: list[tuple[str, np.ndarray]]) -> Path:
    rows = []
    for cid, sig in clips:
        wav = root / "wav" / f"{cid}.wav"
        write_wav(wav, sig, SR)
        rows.append({"id": cid, "speaker": cid.split("/")[0][-2:], "label": "neutral",
                     "status": "ok", "wav": str(wav)})
    rows.append({"id": "Actor_09/gone", "speaker": "09", "label": "sad", "status": "ok",
                 "wav": str(root / "wav" / "missing.wav")})
    path = root / "manifest.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_augment_stage_makes_every_condition(tmp_path, rir_bank):
    clips = real_clips(3)
    man = shard_manifest(tmp_path, clips)
    conds = ["rt0.6", "rir", "tel-ulaw", "mp3-16k", "gain-20"]

    def run(out: str) -> pd.DataFrame:
        run_augment_shard(man, tmp_path / out / "t.parquet", tmp_path / out / "wav", snr_db=[10],
                          noise=["white"], babble_bank=None, sample_rate=SR, seed=3,
                          conditions=conds, rir_bank=rir_bank)
        return pd.read_parquet(tmp_path / out / "t.parquet")

    table = run("a")
    assert list(table.columns) == OUT_COLUMNS
    assert len(table) == 4 * 6
    ok = table[table["status"] == "ok"]
    assert len(ok) == 3 * 6
    bad = table[table["source_id"] == "Actor_09/gone"]
    assert (bad["status"] == "rejected").all() and bad["reason"].str.contains("cannot read").all()
    assert set(ok["condition"]) == {"noise", "reverb", "telephone", "codec", "gain"}
    for r in ok.itertuples():
        cond = C.condition_of(r.id, r.source_id)
        assert (cond.kind, cond.level) == (r.condition, r.level)
        assert Path(r.wav).name.endswith(f"__{cond.tag}.wav")
        assert (r.snr_db == 10.0) if r.condition == "noise" else pd.isna(r.snr_db)
        y, sr = sf.read(r.wav)
        assert sr == SR and y.size == dict(clips)[r.source_id].size
    gain_rows = ok[ok["condition"] == "gain"]
    for r in gain_rows.itertuples():
        y, _ = sf.read(r.wav)
        assert rms_db(y) - rms_db(dict(clips)[r.source_id]) == pytest.approx(-20, abs=0.05)
    # deterministic: a second run writes the same bytes
    again = run("b")
    for a, b in zip(ok["wav"], again.loc[again["status"] == "ok", "wav"], strict=True):
        assert hashlib.sha256(Path(a).read_bytes()).digest() == \
            hashlib.sha256(Path(b).read_bytes()).digest()


def test_training_rows_follow_train_on():
    frame = pd.DataFrame({"id": ["a", "a#snr10", "a#rt0.6", "a#tel-ulaw", "b", "b#gain-20"],
                          "source_id": ["a", "a", "a", "a", "b", "b"]})
    assert C.training_rows(frame, "clean").tolist() == [1, 0, 0, 0, 1, 0]
    assert C.training_rows(frame, "clean+noisy").all()
    assert C.training_rows(frame, ["clean", "reverb", "gain"]).tolist() == [1, 0, 1, 0, 1, 1]
    for bad in ("noisy", ["clean", "echo"], []):
        with pytest.raises(ValueError, match="train_on"):
            C.training_rows(frame, bad)


@pytest.mark.slow
def test_workflow_makes_every_condition_from_config_alone(tmp_path):
    """`snakemake augment` on real RAVDESS clips with every condition in the config: the RIR bank
    is built, every clip gets one copy per condition and level, all ok, named by tag."""
    import os
    import shutil
    import subprocess
    import sys

    import yaml

    src = sorted((RAVDESS / "Actor_01").glob("*.flac"))[:3]
    if len(src) < 3:
        pytest.skip("../shared/data/ravdess-dev not present")
    corpus = tmp_path / "corpus" / "Actor_01"
    corpus.mkdir(parents=True)
    for f in src:
        shutil.copy(f, corpus / f.name)
    rng = np.random.default_rng(0)
    t = np.arange(int(0.5 * SR)) / SR
    (tmp_path / "rirs").mkdir()
    sf.write(tmp_path / "rirs" / "office.wav",
             (rng.standard_normal(t.size) * 10 ** (-3 * t / 0.4) * 0.5).astype(np.float32), SR)
    augment = {"snr_db": [10], "noise": ["pink"], "reverb_rt60": [0.3], "rooms": 1,
               "rir": ["rirs"], "telephone": ["ulaw", "amrnb"], "codec": ["mp3-16k", "opus-8k"],
               "gain_db": [-20]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"r": {"format": "ravdess", "path": "corpus"}}, "augment": augment,
        "features": ["egemaps"], "models": {"m": {"arch": "svm", "features": "egemaps"}},
        # one actor: the start-up check refuses speaker folds, so the split is random
        "split": {"protocol": "random"}}))
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(root / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
         "--cores", "1", "--workflow-profile", "none", "augment"],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_parquet(tmp_path / "results/augment/r/table.parquet")
    expected = [c.tag for c in C.from_config(augment)]
    assert expected == ["snr10", "rt0.3", "rir", "tel-ulaw", "tel-amrnb", "mp3-16k", "opus-8k",
                        "gain-20"]
    assert (table["status"] == "ok").all() and len(table) == 3 * len(expected)
    tags = sorted({i.split("#", 1)[1] for i in table["id"]})
    assert tags == sorted(expected)
    assert (tmp_path / "results/augment/rir_bank.npz").is_file()
    rir_rows = table[table["level"] == "rir"]
    assert rir_rows["detail"].str.contains("office.wav").all()


def test_balanced_index_repeats_clean_rows():
    frame = pd.DataFrame({"id": ["a", "a#snr10", "a#snr0", "a#rt0.6", "b", "b#snr10", "b#snr0",
                                 "b#rt0.6"],
                          "source_id": ["a"] * 4 + ["b"] * 4})
    idx = C.balanced_index(frame)
    kinds = C.row_conditions(frame.iloc[idx])[0]
    assert (kinds == "clean").sum() == (kinds != "clean").sum() == 6
    only_clean = frame.iloc[[0, 4]]
    assert C.balanced_index(only_clean).tolist() == [0, 1]
