"""Feature sets and tables: values equal the reference tools, rejections, combining shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from ser.audio import write_wav
from ser.augment import run_augment_shard
from ser.features import (
    FEATURE_SETS,
    META_COLUMNS,
    combine_shards,
    extract_signal,
    read_features,
    run_features_shard,
)

SR = 16000
RAVDESS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ravdess-dev"


def voiced(f0: float, seconds: float, seed: int) -> np.ndarray:
    """A harmonic tone with a little noise and syllable-rate modulation (speech stand-in)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t + seed)
    return (0.1 * env * x + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def write_manifest(root: Path, clips: list[tuple[str, str, str, np.ndarray | None]],
                   rejected: tuple[str, ...] = (), name: str = "manifest.parquet") -> Path:
    """A shard manifest like the audio stage's; a None signal leaves the WAV missing."""
    rows = []
    for cid, spk, label, sig in clips:
        wav = root / "wav" / f"{cid}.wav"
        if sig is not None:
            write_wav(wav, sig, SR)
        rows.append({"id": cid, "path": f"/raw/{cid}.wav", "rel_path": f"{cid}.wav",
                     "speaker": spk, "original_label": label, "label": label, "shard": 0,
                     "duration": None, "sample_rate": SR, "channels": 1, "status": "ok",
                     "reason": None, "wav": str(wav)})
    for cid in rejected:
        rows.append({"id": cid, "path": f"/raw/{cid}.wav", "rel_path": f"{cid}.wav",
                     "speaker": "X", "original_label": "?", "label": None, "shard": 0,
                     "duration": None, "sample_rate": None, "channels": None,
                     "status": "rejected", "reason": "unknown emotion code", "wav": None})
    path = root / name
    pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """3 clean clips (one rejected row besides) and one noisy copy each at 10 dB."""
    root = tmp_path_factory.mktemp("shard")
    clips = [("A/happy1", "A", "happy", voiced(180, 1.2, 0)),
             ("B/sad1", "B", "sad", voiced(240, 0.8, 1)),
             ("C/angry1", "C", "angry", voiced(300, 3.6, 2))]
    man = write_manifest(root, clips, rejected=("C/bad",))
    noisy = root / "augment.parquet"
    run_augment_shard(man, noisy, root / "noisy", snr_db=[10], noise=["pink"], babble_bank=None,
                      sample_rate=SR)
    return man, noisy


def _run(shard: tuple[Path, Path], tmp: Path, fs: str, **kw) -> tuple[Path, Path]:
    out, rej = tmp / f"{fs}.parquet", tmp / f"{fs}.rejected.parquet"
    run_features_shard(shard[0], shard[1], fs, out, rej, dataset="ds", **kw)
    return out, rej


def _wav_of(df: pd.DataFrame, shard: tuple[Path, Path]) -> list[str]:
    man = pd.read_parquet(shard[0]).set_index("id")["wav"]
    noisy = pd.read_parquet(shard[1]).set_index("id")["wav"]
    return [man[i] if pd.isna(s) else noisy[i] for i, s in zip(df["id"], df["snr_db"],
                                                                strict=True)]


def test_is09_equals_opensmile_process_file(shard, tmp_path: Path) -> None:
    import opensmile

    out, rej = _run(shard, tmp_path, "is09_emotion")
    df, x, meta = read_features(out)
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.IS09,
                            feature_level=opensmile.FeatureLevel.Functionals)
    assert x.shape == (6, 384) and x.dtype == np.float32
    assert meta["columns"] == list(smile.feature_names)
    assert pq.read_schema(out).names[:7] == META_COLUMNS
    assert list(df["id"]) == ["A/happy1", "A/happy1#snr10", "B/sad1", "B/sad1#snr10",
                              "C/angry1", "C/angry1#snr10"]
    assert list(df["label"]) == ["happy", "happy", "sad", "sad", "angry", "angry"]
    assert set(df["dataset"]) == {"ds"} and df["snr_db"].isna().sum() == 3
    assert set(df["noise"].dropna()) == {"pink"}
    for row, wav in zip(x, _wav_of(df, shard), strict=True):
        ref = smile.process_file(wav).to_numpy()[0]
        np.testing.assert_allclose(row, ref, rtol=1e-5, atol=1e-5)
    assert meta["feature_set"] == "is09_emotion" and meta["kind"] == "functionals"
    assert meta["sample_rate"] == SR and meta["dataset"] == "ds"
    assert set(meta["versions"]) == {"opensmile", "librosa", "numpy", "python"}
    assert meta["versions"]["opensmile"] == opensmile.__version__
    assert pq.read_table(rej).num_rows == 0


def test_egemaps_88(shard, tmp_path: Path) -> None:
    out, _ = _run(shard, tmp_path, "egemaps")
    df, x, meta = read_features(out)
    assert x.shape == (6, 88) and len(meta["columns"]) == 88
    assert meta["columns"][0].startswith("F0semitoneFrom27.5Hz")
    assert np.isfinite(x).all()


def test_mfcc40_equals_seed_formula(shard, tmp_path: Path) -> None:
    import librosa

    out, _ = _run(shard, tmp_path, "mfcc40")
    df, x, meta = read_features(out)
    assert meta["columns"] == [f"mfcc_{i:02d}" for i in range(40)]
    assert meta["sample_rate"] == SR
    for row, wav in zip(x, _wav_of(df, shard), strict=True):
        y, sr = sf.read(wav, dtype="float32")
        ref = np.mean(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40).T, axis=0)
        np.testing.assert_allclose(row, ref, rtol=1e-6, atol=1e-5)


def test_logmel_shape_crop_and_pad(shard, tmp_path: Path) -> None:
    out, _ = _run(shard, tmp_path, "logmel")
    df, x, meta = read_features(out)
    assert x.shape == (6, 300, 64) and x.dtype == np.float32
    assert meta["kind"] == "matrix" and meta["shape"] == [300, 64]
    field = pq.read_schema(out).field("logmel")
    assert field.type == pa.list_(pa.float16(), 300 * 64)
    wavs = _wav_of(df, shard)
    y, sr = sf.read(wavs[0], dtype="float32")  # 1.2 s: 121 frames, then padding with silence
    direct = extract_signal("logmel", y, sr)
    np.testing.assert_allclose(x[0], direct.astype(np.float16).astype(np.float32))
    assert np.all(direct[121:] == -100.0) and np.all(direct[:121] > -100.0)
    y, sr = sf.read(wavs[4], dtype="float32")  # 3.6 s: 361 frames, centre crop
    full = extract_signal("logmel", y, sr, {"frames": 1000})
    np.testing.assert_array_equal(extract_signal("logmel", y, sr), full[30:330])
    _, small, m2 = read_features(_run(shard, tmp_path / "p", "logmel",
                                      params={"frames": 50, "n_mels": 32})[0])
    assert small.shape == (6, 50, 32) and m2["params"]["n_mels"] == 32


def test_all_opensmile_sets_and_one_code_path(shard, tmp_path: Path) -> None:
    y, sr = sf.read(pd.read_parquet(shard[0])["wav"].iloc[1], dtype="float32")
    sizes = {"is09_emotion": 384, "egemaps": 88, "compare": 6373, "emobase": 988, "mfcc40": 40}
    for name, d in sizes.items():
        v = extract_signal(name, y, sr)
        assert v.shape == (d,) and v.dtype == np.float32 and np.isfinite(v).all()
        assert len(FEATURE_SETS[name].columns()) == d
    out, _ = _run(shard, tmp_path, "emobase")
    df, x, _ = read_features(out)
    np.testing.assert_array_equal(x[2], extract_signal("emobase", y, sr))
    with pytest.raises(ValueError, match="unknown feature set"):
        extract_signal("is10", y, sr)
    with pytest.raises(ValueError, match="no parameter"):
        extract_signal("mfcc40", y, sr, {"n_mel": 3})
    with pytest.raises(ValueError, match="non-finite"):
        extract_signal("is09_emotion", np.full(SR, np.nan, np.float32), SR)


def test_corrupt_rows_are_rejected_not_dropped(tmp_path: Path) -> None:
    nan_wav = tmp_path / "wav" / "B" / "nan.wav"
    nan_wav.parent.mkdir(parents=True)
    sig = voiced(200, 1.0, 3)
    sig[1000:] = np.nan
    sf.write(nan_wav, sig, SR, subtype="FLOAT")  # a float WAV can carry NaN
    man = write_manifest(tmp_path, [("A/good", "A", "sad", voiced(200, 1.0, 4)),
                                    ("B/nan", "B", "sad", None), ("C/gone", "C", "sad", None)],
                         rejected=("D/bad",))
    df = pd.read_parquet(man)
    df.loc[df["id"] == "B/nan", "wav"] = str(nan_wav)
    df.to_parquet(man)
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wav")
    noisy = pd.DataFrame([
        {"id": "A/good#snr5", "source_id": "A/good", "snr_db": 5.0, "noise": "white",
         "wav": str(tmp_path / "junk.wav"), "status": "ok", "reason": None},
        {"id": "D/bad#snr5", "source_id": "D/bad", "snr_db": 5.0, "noise": "white",
         "wav": str(tmp_path / "junk.wav"), "status": "ok", "reason": None},
        {"id": "C/gone#snr5", "source_id": "C/gone", "snr_db": 5.0, "noise": None,
         "wav": None, "status": "rejected", "reason": "cannot read clean WAV"}])
    noisy.to_parquet(tmp_path / "noisy.parquet")
    out, rej = tmp_path / "f.parquet", tmp_path / "r.parquet"
    run_features_shard(man, tmp_path / "noisy.parquet", "is09_emotion", out, rej, dataset="ds")
    kept, x, meta = read_features(out)
    rejected = pd.read_parquet(rej).set_index("id")
    assert list(kept["id"]) == ["A/good"] and x.shape == (1, 384)
    assert set(rejected.index) == {"B/nan", "C/gone", "A/good#snr5", "D/bad#snr5"}
    assert "non-finite" in rejected.loc["B/nan", "reason"]
    assert "C/gone.wav" in rejected.loc["C/gone", "reason"]
    assert "LibsndfileError" in rejected.loc["A/good#snr5", "reason"]
    assert "not ok in the clean manifest" in rejected.loc["D/bad#snr5", "reason"]
    assert rejected.loc["A/good#snr5", "snr_db"] == 5.0
    assert set(rejected["feature_set"]) == {"is09_emotion"}
    assert meta["n_rows"] == 1 and meta["n_rejected"] == 4


def test_empty_shard_and_no_usable_clip(tmp_path: Path) -> None:
    man = write_manifest(tmp_path, [("A/gone", "A", "sad", None)], rejected=("A/bad",))
    out, rej = tmp_path / "f.parquet", tmp_path / "r.parquet"
    run_features_shard(man, None, "egemaps", out, rej, dataset="tiny")
    df, x, meta = read_features(out)
    assert len(df) == 0 and x.shape == (0, 88) and len(pq.read_schema(out)) == 7 + 88
    assert pq.read_table(rej).num_rows == 1
    empty = write_manifest(tmp_path, [], rejected=("B/bad",), name="empty.parquet")
    run_features_shard(empty, None, "egemaps", tmp_path / "e.parquet", tmp_path / "er.parquet",
                       dataset="tiny")
    assert pq.read_table(tmp_path / "er.parquet").num_rows == 0
    with pytest.raises(ValueError,
                       match="no usable clip in tiny for feature set egemaps: 1 rejected"):
        combine_shards([out, tmp_path / "e.parquet"], tmp_path / "all.parquet",
                       [rej, tmp_path / "er.parquet"], tmp_path / "all.rejected.parquet")
    assert not (tmp_path / "all.parquet").exists()
    assert pq.read_table(tmp_path / "all.rejected.parquet").num_rows == 1


def test_combine_keeps_rows_and_metadata(shard, tmp_path: Path) -> None:
    s1, r1 = _run(shard, tmp_path / "s1", "mfcc40")
    man2 = write_manifest(tmp_path, [("D/calm1", "D", "calm", voiced(150, 0.9, 5)),
                                     ("E/gone", "E", "calm", None)], name="m2.parquet")
    s2, r2 = tmp_path / "s2.parquet", tmp_path / "r2.parquet"
    run_features_shard(man2, None, "mfcc40", s2, r2, dataset="ds")
    empty = write_manifest(tmp_path, [], rejected=("F/x",), name="m3.parquet")
    s3, r3 = tmp_path / "s3.parquet", tmp_path / "r3.parquet"
    run_features_shard(empty, None, "mfcc40", s3, r3, dataset="ds")
    out, rej = tmp_path / "mfcc40.parquet", tmp_path / "mfcc40.rejected.parquet"
    combine_shards([s1, s2, s3], out, [r1, r2, r3], rej)
    df, x, meta = read_features(out)
    parts = [read_features(s) for s in (s1, s2)]
    assert list(df["id"]) == [*parts[0][0]["id"], *parts[1][0]["id"]] and len(df) == 7
    np.testing.assert_array_equal(x, np.vstack([parts[0][1], parts[1][1]]))
    assert pq.ParquetFile(out).metadata.num_row_groups == 2
    assert meta["columns"] == parts[0][2]["columns"] and meta["params"] == {"n_mfcc": 40}
    assert meta["n_rows"] == 7 and meta["n_rejected"] == 1 and meta["n_shards"] == 3
    assert meta["sample_rate"] == SR
    # extraction cost of the clean clips, summed over shards (evaluation reports it per clip)
    clean = int(df["snr_db"].isna().sum())
    assert meta["timing"]["clean_clips"] == clean > 0
    assert meta["timing"]["seconds_per_clip"] == pytest.approx(
        meta["timing"]["clean_seconds"] / clean, rel=1e-3)
    assert meta["timing"]["seconds_per_clip"] > 0
    assert list(pd.read_parquet(rej)["id"]) == ["E/gone"]
    assert json.loads(pq.read_schema(out).metadata[b"ser"])["feature_set"] == "mfcc40"
    only_meta, empty_x, _ = read_features(out, columns_only=True)
    assert list(only_meta.columns) == META_COLUMNS and empty_x.shape == (7, 0)
    other, _ = _run(shard, tmp_path / "o", "egemaps")
    with pytest.raises(ValueError, match="feature_set"):
        combine_shards([s1, other], tmp_path / "bad.parquet", [], tmp_path / "bad.rej.parquet")


def test_real_speech_is09(tmp_path: Path) -> None:
    if not RAVDESS.is_dir():
        pytest.skip(f"RAVDESS dev subset not found at {RAVDESS}")
    import opensmile

    files = sorted((RAVDESS / "Actor_05").glob("*.flac"))[:2]
    clips = []
    for f in files:
        y, sr = sf.read(f, dtype="float32", always_2d=True)
        assert sr == SR
        clips.append((f"Actor_05/{f.stem}", "05", "x", y.mean(axis=1)))
    man = write_manifest(tmp_path, clips)
    noisy = tmp_path / "aug.parquet"
    run_augment_shard(man, noisy, tmp_path / "noisy", snr_db=[0], noise=["white"],
                      babble_bank=None, sample_rate=SR)
    out, _ = _run((man, noisy), tmp_path, "is09_emotion")
    df, x, _ = read_features(out)
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.IS09,
                            feature_level=opensmile.FeatureLevel.Functionals)
    assert x.shape == (4, 384)
    for row, wav in zip(x, _wav_of(df, (man, noisy)), strict=True):
        np.testing.assert_allclose(row, smile.process_file(wav).to_numpy()[0],
                                   rtol=1e-5, atol=1e-5)


def test_spectral_stats_is_mean_and_std_of_frame_features():
    import librosa

    from ser.features import FEATURE_SETS, extract_signal

    sr = 16000
    t = np.arange(sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.2 * t))).astype(np.float32)
    v = extract_signal("spectral_stats", y, sr)
    assert v.shape == (288,) and np.isfinite(v).all()
    assert len(FEATURE_SETS["spectral_stats"].columns()) == 288
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=512, hop_length=160, win_length=400,
                                         n_mels=64, fmin=20, fmax=8000)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=40)
    np.testing.assert_allclose(v[:64], np.log(mel + 1e-6).mean(1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(v[128:168], mfcc.mean(1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(v[-40:], librosa.feature.delta(mfcc).std(1), rtol=1e-5, atol=1e-4)


def test_audobject_cache_seed_matches_the_real_lookup() -> None:
    """The shortcut that spares Smile() its metadata scan must give audobject the same answer."""
    from importlib.metadata import packages_distributions

    from audobject.core import utils

    from ser.features.opensmile_sets import _seed_audobject_cache

    _seed_audobject_cache()
    assert utils.PACKAGES_DISTRIBUTIONS["opensmile"] == packages_distributions()["opensmile"]


@pytest.mark.parametrize("name", ["is09_emotion", "egemaps"])
def test_reused_smile_equals_a_fresh_instance_per_clip(name: str, monkeypatch) -> None:
    """One openSMILE instance reset between clips (the fast path) gives exactly what a fresh
    `Smile.process_signal` gives per clip, across lengths, rates, a renewal and a failed clip."""
    import opensmile

    from ser.features.opensmile_sets import PEAK, _ReusedSmile

    monkeypatch.setattr(_ReusedSmile, "RENEW", 3)
    fs = FEATURE_SETS[name]
    extract = fs.extractor()
    ref = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, fs.smile_set),
                          feature_level=opensmile.FeatureLevel.Functionals)
    clips = [(voiced(120 + 20 * i, 0.6 + 0.4 * i, i), SR) for i in range(5)]
    clips.insert(2, (voiced(200, 1.2, 9)[::2].copy(), 8000))  # another rate in between
    clips.insert(4, (np.zeros(10, np.float32), SR))  # too short: openSMILE yields no frame
    for y, sr in clips:
        if y.size == 10:
            with pytest.raises(ValueError):
                extract(y, sr)
            continue
        want = ref.process_signal(np.clip(y, -1.0, PEAK), sr).to_numpy(dtype=np.float32)[0]
        np.testing.assert_array_equal(extract(y, sr), want)
