"""Noisy copies: exact SNR on the written WAVs, determinism, noise colours, babble, rejections."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser.audio import write_wav
from ser.augment import (
    BABBLE_FALLBACK,
    NOISE_KINDS,
    OUT_COLUMNS,
    PEAK,
    babble_noise,
    build_babble_bank,
    load_babble_bank,
    make_noise,
    mix_at_snr,
    run_augment_shard,
)

SR = 16000
RAVDESS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ravdess-dev"


def speech_like(f0: float, seconds: float = 1.0, amp: float = 0.1, seed: int = 0) -> np.ndarray:
    """A tone at f0 with syllable-rate amplitude modulation (a stand-in for a speaker)."""
    t = np.arange(int(seconds * SR)) / SR
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + seed)
    return (amp * env * np.sin(2 * np.pi * f0 * t)).astype(np.float32)


def write_manifest(root: Path, clips: list[tuple[str, str, np.ndarray | None]],
                   rejected: tuple[str, ...] = ()) -> Path:
    """A shard manifest as the audio stage writes it; signal None = an ok row whose WAV is gone."""
    rows = []
    for cid, spk, sig in clips:
        wav = root / "wav" / f"{cid}.wav"
        if sig is not None:
            write_wav(wav, sig, SR)
        rows.append({"id": cid, "path": f"/raw/{cid}.mp4", "rel_path": f"{cid}.mp4",
                     "speaker": spk, "original_label": "ang", "label": "angry", "shard": 0,
                     "duration": 1.0, "sample_rate": 48000, "channels": 2, "status": "ok",
                     "reason": None, "wav": str(wav), "meta_take": "1"})
    for cid in rejected:
        rows.append({"id": cid, "path": f"/raw/{cid}.mp4", "rel_path": f"{cid}.mp4",
                     "speaker": "X", "original_label": "?", "label": None, "shard": 0,
                     "duration": None, "sample_rate": None, "channels": None,
                     "status": "rejected", "reason": "bad name", "wav": None, "meta_take": "1"})
    path = root / "manifest.parquet"
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def snr_of_wavs(noisy: str | Path, clean: str | Path) -> float:
    """SNR measured on the PCM16 files as written: clean vs (noisy - clean)."""
    y, _ = sf.read(noisy, dtype="float64")
    x, _ = sf.read(clean, dtype="float64")
    return 20 * np.log10(np.sqrt(np.mean(x**2)) / np.sqrt(np.mean((y - x) ** 2)))


FREQS = {"A": 200.0, "B": 310.0, "C": 450.0, "D": 630.0, "E": 870.0}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    clips = [(f"{s}/clip{k}", s, speech_like(f0, seed=k)) for s, f0 in FREQS.items()
             for k in range(2)]
    return write_manifest(tmp_path, clips, rejected=("Z/broken",))


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_snr_exact_on_written_wav(tmp_path: Path, corpus: Path, kind: str) -> None:
    bank = tmp_path / "bank.npz"
    build_babble_bank([corpus], bank, sample_rate=SR)
    snrs = [20, 5, 0, -5]
    run_augment_shard(corpus, tmp_path / "aug.parquet", tmp_path / "noisy", snr_db=snrs,
                      noise=[kind], babble_bank=bank, sample_rate=SR, seed=3)
    table = pd.read_parquet(tmp_path / "aug.parquet")
    man = pd.read_parquet(corpus).set_index("id")
    assert len(table) == 10 * len(snrs)  # the rejected manifest row is not augmented
    assert set(table["status"]) == {"ok"} and set(table["noise"]) == {kind}
    assert "Z/broken" not in set(table["source_id"])
    for r in table.itertuples():
        assert r.id == f"{r.source_id}#snr{r.snr_db:g}"
        assert r.wav.endswith(f"{r.source_id}__snr{r.snr_db:g}.wav")
        info = sf.info(r.wav)
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        measured = snr_of_wavs(r.wav, man.loc[r.source_id, "wav"])
        assert abs(measured - r.snr_db) < 0.1, (r.id, measured)


def test_mix_rescales_instead_of_clipping() -> None:
    rng = np.random.default_rng(0)
    clean = (0.95 * np.sin(2 * np.pi * 220 * np.arange(SR) / SR)).astype(np.float32)
    noise = make_noise("white", SR, rng)
    mixed = mix_at_snr(clean, noise, -5.0)
    assert np.max(np.abs(mixed)) <= PEAK + 1e-7
    # mixed = a * clean + b * noise exactly; the SNR between the two parts must be -5 dB.
    (a, b), *_ = np.linalg.lstsq(np.stack([clean, noise], 1).astype(np.float64),
                                 mixed.astype(np.float64), rcond=None)
    assert a < 0.9  # it was rescaled
    snr = 20 * np.log10(np.sqrt(np.mean((a * clean) ** 2)) / np.sqrt(np.mean((b * noise) ** 2)))
    assert abs(snr + 5.0) < 0.01
    with pytest.raises(ValueError, match="silent"):
        mix_at_snr(np.zeros(100, np.float32), noise[:100], 10)
    with pytest.raises(ValueError, match="equal-length"):
        mix_at_snr(clean, noise[:100], 10)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.wav"))}


def test_deterministic_per_seed(tmp_path: Path, corpus: Path) -> None:
    bank = tmp_path / "bank.npz"
    build_babble_bank([corpus], bank, sample_rate=SR)
    bank2 = tmp_path / "bank2.npz"
    build_babble_bank([corpus], bank2, sample_rate=SR)
    assert bank.read_bytes() == bank2.read_bytes()
    kw = {"snr_db": [10, 0], "noise": list(NOISE_KINDS), "babble_bank": bank, "sample_rate": SR}
    run_augment_shard(corpus, tmp_path / "t1.parquet", tmp_path / "n", seed=7, **kw)
    first = _hashes(tmp_path / "n")
    run_augment_shard(corpus, tmp_path / "t2.parquet", tmp_path / "n", seed=7, **kw)
    assert _hashes(tmp_path / "n") == first and len(first) == 20
    assert (tmp_path / "t1.parquet").read_bytes() == (tmp_path / "t2.parquet").read_bytes()
    # the kind is drawn per (seed, clip, snr): a 4-kind list uses more than one kind
    assert pd.read_parquet(tmp_path / "t1.parquet")["noise"].nunique() > 1
    run_augment_shard(corpus, tmp_path / "t3.parquet", tmp_path / "m", seed=8, **kw)
    other = _hashes(tmp_path / "m")
    assert other.keys() == first.keys()
    assert all(other[k] != first[k] for k in first)


@pytest.mark.parametrize(("kind", "slope"), [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_noise_spectral_slope(kind: str, slope: float) -> None:
    from scipy.signal import welch

    x = make_noise(kind, 2**17, np.random.default_rng(1), sample_rate=SR)
    assert x.dtype == np.float32 and abs(np.sqrt(np.mean(x.astype(float) ** 2)) - 1) < 1e-4
    assert np.array_equal(x, make_noise(kind, 2**17, np.random.default_rng(1), sample_rate=SR))
    f, p = welch(x, fs=SR, nperseg=4096)
    band = (f >= 100) & (f <= 4000)
    fitted = np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0]  # dB per octave
    assert abs(fitted - slope) < 0.4, fitted
    with pytest.raises(ValueError, match="babble"):
        make_noise("babble", 10, np.random.default_rng(0))


def test_babble_excludes_own_speaker(tmp_path: Path, corpus: Path) -> None:
    bank_path = tmp_path / "bank.npz"
    build_babble_bank([corpus], bank_path, sample_rate=SR, n_utterances=8)
    with np.load(bank_path, allow_pickle=False) as z:  # no object arrays
        assert all(z[k].dtype != object for k in z.files)
        assert z["speakers"].dtype.kind == "U" and z["offsets"].size == 9
    bank = load_babble_bank(bank_path)
    assert len(set(bank.speakers.tolist())) == 5  # round-robin spreads over all speakers
    for seed in range(20):
        noise, picks = babble_noise(bank, "A", "A/clip0", SR, np.random.default_rng(seed))
        assert 4 <= len(picks) <= 6 and len(set(picks)) == len(picks)
        assert "A" not in {str(bank.speakers[i]) for i in picks}

    # End to end: the noise in speaker A's babble copy has no energy at A's own tone.
    run_augment_shard(corpus, tmp_path / "aug.parquet", tmp_path / "noisy", snr_db=[0],
                      noise=["babble"], babble_bank=bank_path, sample_rate=SR)
    table = pd.read_parquet(tmp_path / "aug.parquet").set_index("source_id")
    man = pd.read_parquet(corpus).set_index("id")
    for spk, f0 in FREQS.items():
        cid = f"{spk}/clip0"
        assert table.loc[cid, "noise"] == "babble"
        y, _ = sf.read(table.loc[cid, "wav"], dtype="float64")
        x, _ = sf.read(man.loc[cid, "wav"], dtype="float64")
        spec = np.abs(np.fft.rfft((y - x) * np.hanning(y.size))) ** 2
        freqs = np.fft.rfftfreq(y.size, 1 / SR)

        def energy(f: float, spec=spec, freqs=freqs) -> float:
            return float(spec[np.abs(freqs - f) <= 8].sum())

        others = max(energy(g) for s, g in FREQS.items() if s != spk)
        assert energy(f0) < 0.01 * others, spk


def test_babble_falls_back_to_pink(tmp_path: Path) -> None:
    man = write_manifest(tmp_path, [("A/1", "A", speech_like(200)), ("B/1", "B", speech_like(300))])
    bank = tmp_path / "bank.npz"
    build_babble_bank([man], bank, sample_rate=SR)
    run_augment_shard(man, tmp_path / "aug.parquet", tmp_path / "noisy", snr_db=[10],
                      noise=["babble"], babble_bank=bank, sample_rate=SR)
    table = pd.read_parquet(tmp_path / "aug.parquet")
    assert list(table["noise"]) == [BABBLE_FALLBACK] * 2 and set(table["status"]) == {"ok"}
    run_augment_shard(man, tmp_path / "aug2.parquet", tmp_path / "noisy2", snr_db=[10],
                      noise=["babble"], babble_bank=None, sample_rate=SR)
    assert list(pd.read_parquet(tmp_path / "aug2.parquet")["noise"]) == [BABBLE_FALLBACK] * 2


def test_noise_files_resampled_and_named(tmp_path: Path, corpus: Path) -> None:
    folder = tmp_path / "noises"
    folder.mkdir()
    rng = np.random.default_rng(5)
    sf.write(folder / "traffic.wav", 0.2 * rng.standard_normal(8000 * 3), 8000)  # 8 kHz, 3 s
    sf.write(folder / "hum.flac", 0.1 * rng.standard_normal((4000, 2)), 22050)  # short, stereo
    (folder / "notes.txt").write_text("not audio")
    run_augment_shard(corpus, tmp_path / "aug.parquet", tmp_path / "noisy", snr_db=[10, 0],
                      noise=[str(folder)], babble_bank=None, sample_rate=SR)
    table = pd.read_parquet(tmp_path / "aug.parquet")
    man = pd.read_parquet(corpus).set_index("id")
    assert set(table["status"]) == {"ok"}
    assert {Path(n).name for n in table["noise"]} == {"traffic.wav", "hum.flac"}
    for r in table.itertuples():
        assert sf.info(r.wav).samplerate == SR
        assert abs(snr_of_wavs(r.wav, man.loc[r.source_id, "wav"]) - r.snr_db) < 0.1
    with pytest.raises(ValueError, match="neither a kind"):
        run_augment_shard(corpus, tmp_path / "x.parquet", tmp_path / "x", snr_db=[10],
                          noise=[str(tmp_path / "missing")], babble_bank=None, sample_rate=SR)


def test_failed_clips_are_rejected_rows(tmp_path: Path) -> None:
    man = write_manifest(tmp_path, [("A/ok", "A", speech_like(200)), ("A/gone", "A", None),
                                    ("B/silent", "B", np.zeros(SR, np.float32))])
    run_augment_shard(man, tmp_path / "aug.parquet", tmp_path / "noisy", snr_db=[10, 0],
                      noise=["white"], babble_bank=None, sample_rate=SR)
    table = pd.read_parquet(tmp_path / "aug.parquet").set_index("id")
    assert len(table) == 6
    assert table.loc["A/ok#snr10", "status"] == "ok"
    assert table.loc["A/gone#snr0", "status"] == "rejected"
    assert "cannot read clean WAV" in table.loc["A/gone#snr0", "reason"]
    assert table.loc["B/silent#snr10", "status"] == "rejected"
    assert "silent" in table.loc["B/silent#snr10", "reason"]
    assert pd.isna(table.loc["B/silent#snr10", "wav"])
    assert not (tmp_path / "noisy" / "B").exists()
    # a shard with no ok clip still yields its (empty) table and output folder
    empty = write_manifest(tmp_path / "e", [], rejected=("Z/x",))
    run_augment_shard(empty, tmp_path / "e.parquet", tmp_path / "e_wav", snr_db=[10],
                      noise=["white"], babble_bank=None, sample_rate=SR)
    assert (tmp_path / "e_wav").is_dir()
    t = pd.read_parquet(tmp_path / "e.parquet")
    assert len(t) == 0 and list(t.columns) == OUT_COLUMNS


def test_real_speech_snr(tmp_path: Path) -> None:
    if not RAVDESS.is_dir():
        pytest.skip(f"RAVDESS dev subset not found at {RAVDESS}")
    clips = []
    for actor in ("Actor_01", "Actor_02", "Actor_03"):
        for f in sorted((RAVDESS / actor).glob("*.flac"))[:2]:
            y, sr = sf.read(f, dtype="float32", always_2d=True)
            assert sr == SR
            clips.append((f"{actor}/{f.stem}", actor, y.mean(axis=1)))
    man = write_manifest(tmp_path, clips)
    bank = tmp_path / "bank.npz"
    build_babble_bank([man], bank, sample_rate=SR)
    run_augment_shard(man, tmp_path / "aug.parquet", tmp_path / "noisy", snr_db=[10, 0],
                      noise=["babble", "pink"], babble_bank=bank, sample_rate=SR)
    table = pd.read_parquet(tmp_path / "aug.parquet")
    ref = pd.read_parquet(man).set_index("id")
    assert set(table["status"]) == {"ok"}
    for r in table.itertuples():
        assert abs(snr_of_wavs(r.wav, ref.loc[r.source_id, "wav"]) - r.snr_db) < 0.1
