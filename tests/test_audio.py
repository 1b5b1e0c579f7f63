"""Audio stage on real files made by the real ffmpeg: containers, broken inputs, conversions,
and the in-process (soundfile + soxr) decoder against the ffmpeg one on real speech."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ser import audio
from ser.corpora import scan
from ser.manifest import clip_ids, combine_manifests, run_audio_shard

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
RAVDESS = DATA / "ravdess-dev"
CREMAD = DATA / "cremad-sample"
needs_data = pytest.mark.skipif(not (RAVDESS.is_dir() and CREMAD.is_dir()),
                                reason="../shared/data (real RAVDESS/CREMA-D clips) not present")


def ffmpeg(*args: str) -> None:
    subprocess.run([audio.ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *args],
                   check=True)


def make_clip(path: Path, *, seconds=1.0, rate=44100, channels=2, vcodec=None, acodec=None,
              video=True, freq=220) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}:sample_rate={rate}"]
    if video:
        args += ["-f", "lavfi", "-i", f"color=gray:s=32x24:r=5:d={seconds}"]
    args += ["-ac", str(channels)]
    if vcodec:
        args += ["-c:v", vcodec]
    if acodec:
        args += ["-c:a", acodec]
    ffmpeg(*args, str(path))
    return path


@pytest.mark.parametrize("name,vcodec,acodec", [
    ("clip.mp4", "libx264", "aac"),
    ("clip.avi", "mpeg4", "pcm_s16le"),
    ("clip.flv", "flv1", "mp3"),
    ("clip.mkv", "libx264", "libvorbis"),
    ("clip.wav", None, None),
    ("clip.flac", None, None),
])
def test_decode_containers_to_16k_mono(tmp_path, name, vcodec, acodec):
    video = vcodec is not None
    p = make_clip(tmp_path / name, seconds=1.0, rate=44100, channels=2, vcodec=vcodec,
                  acodec=acodec, video=video)
    info = audio.probe(p)
    assert info.has_audio and info.channels == 2 and info.has_video == video
    sig = audio.decode(p, 16000)
    assert sig.dtype == np.float32 and sig.ndim == 1
    assert abs(sig.size / 16000 - 1.0) < 0.06  # encoder padding/priming only
    # a 220 Hz sine survives decoding: dominant FFT bin
    spec = np.abs(np.fft.rfft(sig[:16000]))
    assert abs(np.argmax(spec) * 16000 / 16000 - 220) < 3


def test_video_without_audio_is_reported(tmp_path):
    p = tmp_path / "silent_video.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=gray:s=32x24:r=5:d=1", "-c:v", "libx264", str(p))
    assert not audio.probe(p).has_audio
    with pytest.raises(audio.AudioError, match="no audio stream"):
        audio.decode(p)


def test_truncated_and_garbage_files_raise(tmp_path):
    good = make_clip(tmp_path / "good.mp4", vcodec="libx264", acodec="aac")
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(good.read_bytes()[:300])
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 10)
    for p in (trunc, garbage):
        with pytest.raises(audio.AudioError):
            audio.probe(p)
            audio.decode(p)


def test_wav_roundtrip_is_pcm16(tmp_path):
    x = (0.5 * np.sin(np.linspace(0, 100, 16000))).astype(np.float32)
    audio.write_wav(tmp_path / "a" / "x.wav", x, 16000)
    y, sr = audio.read_wav(tmp_path / "a" / "x.wav")
    assert sr == 16000 and np.max(np.abs(x - y)) < 1 / 32768 + 1e-7
    assert not list((tmp_path / "a").glob(".*tmp"))  # atomic write leaves no temp file


def test_check_signal_reasons():
    assert audio.check_signal(np.zeros(16000, np.float32), 16000, min_duration=0.3) == \
        "digital silence"
    assert "too short" in audio.check_signal(np.ones(100, np.float32), 16000, min_duration=0.3)
    quiet = np.full(16000, 1e-5, np.float32)
    assert "silent" in audio.check_signal(quiet, 16000, min_duration=0.3)
    ok = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    assert audio.check_signal(ok, 16000, min_duration=0.3) is None


RAVDESS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ravdess-dev"
SR = 16000


def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))


def room_tone(seconds: float, dbfs: float = -80.0, seed: int = 0) -> np.ndarray:
    """Low-level noise standing in for a silent room's tone."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR))
    return (x * 10 ** (dbfs / 20)).astype(np.float32)


def real_clip(name: str = "Actor_05/03-01-02-02-01-02-05.flac") -> np.ndarray:
    if not RAVDESS.is_dir():
        pytest.skip(f"real speech not found at {RAVDESS}")
    import soundfile as sf

    x, sr = sf.read(RAVDESS / name, dtype="float32")
    assert sr == SR
    return x


def check(x: np.ndarray) -> str | None:
    return audio.check_signal(x, SR, min_duration=0.3, silence_dbfs=-70.0)


def test_quiet_real_speech_padded_with_room_tone_is_kept():
    # the quietest ravdess-dev clip (whole-clip RMS -59.8 dBFS), 1 s of room tone each side,
    # scaled so the whole clip is at -65 dBFS: a clip-wide RMS check would call it silent
    speech = real_clip()
    x = np.concatenate([room_tone(1.0, seed=1), speech, room_tone(1.0, seed=2)])
    x = (x * 10 ** ((-65.0 - rms_dbfs(x)) / 20)).astype(np.float32)
    assert abs(rms_dbfs(x) + 65.0) < 0.01
    assert check(x) is None
    assert audio.active_level_dbfs(x, SR) > -70.0 > rms_dbfs(x) - 5.1  # margin on both sides


@pytest.mark.parametrize("kind", ["digital silence", "room tone only", "click in silence",
                                  "click in room tone"])
def test_silence_noise_and_clicks_are_rejected(kind):
    x = {
        "digital silence": np.zeros(3 * SR, np.float32),
        "room tone only": room_tone(3.0),
        "click in silence": np.zeros(3 * SR, np.float32),
        "click in room tone": room_tone(3.0),
    }[kind]
    if kind.startswith("click"):
        start = int(1.4 * SR)
        x[start:start + int(0.05 * SR)] = 0.9  # a 50 ms full-scale click
        assert rms_dbfs(x) > -30  # loud by clip-wide RMS: only the active-frame rule rejects it
    reason = check(x)
    assert reason == "digital silence" if kind == "digital silence" else reason.startswith(
        "silent: loudest 0.25 s at")
    if kind == "click in silence":  # fewer than 0.25 s of non-zero frames: no level at all
        assert reason.startswith("silent: loudest 0.25 s at -inf dBFS"), reason


def test_every_real_ravdess_dev_clip_is_kept_also_when_much_quieter():
    """All 480 real clips pass as recorded, and scaled to whole-clip RMS -62..-66 dBFS with their
    own leading and trailing silence (the level of the 13 full-corpus clips once rejected)."""
    import soundfile as sf

    files = sorted(RAVDESS.glob("Actor_*/*.flac"))
    if len(files) != 480:
        pytest.skip(f"ravdess-dev (480 clips) not found at {RAVDESS}")
    targets = np.linspace(-62.0, -66.0, len(files))
    for f, target in zip(files, targets, strict=True):
        x, _ = sf.read(f, dtype="float32")
        assert check(x) is None, f
        quiet = (x * 10 ** ((target - rms_dbfs(x)) / 20)).astype(np.float32)
        assert check(quiet) is None, (f, target, audio.active_level_dbfs(quiet, SR))
        worst = (x * 10 ** ((-66.0 - rms_dbfs(x)) / 20)).astype(np.float32)
        assert check(worst) is None, (f, audio.active_level_dbfs(worst, SR))


def test_clip_ids_keep_extension_only_on_collision():
    ids = clip_ids(["A/x.wav", "A/x.mp3", "A/y.wav"])
    assert ids == {"A/x.wav": "A/x.wav", "A/x.mp3": "A/x.mp3", "A/y.wav": "A/y"}


def test_audio_shard_accounts_for_every_file(tmp_path):
    root = tmp_path / "corpus"
    a = root / "Actor_01"
    make_clip(a / "01-01-05-01-01-01-01.mp4", vcodec="libx264", acodec="aac", rate=48000)
    make_clip(a / "01-01-04-01-01-01-01.avi", vcodec="mpeg4", acodec="pcm_s16le", rate=22050,
              channels=1)
    make_clip(a / "03-01-03-01-01-01-01.flac", video=False, rate=8000, channels=2)
    (a / "03-01-02-01-01-01-01.wav").write_bytes(b"")  # zero bytes
    ffmpeg("-f", "lavfi", "-i", "color=gray:s=32x24:r=5:d=1", "-c:v", "libx264",
           str(a / "01-01-06-01-01-01-01.mp4"))  # video without audio
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1",
           str(a / "03-01-07-01-01-01-01.wav"))  # digital silence
    make_clip(a / "03-01-08-01-01-01-01.wav", video=False, seconds=0.1)  # too short
    (a / "03-01-01-01-01-01-01.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 50)
    (a / "notes.txt").write_text("hello")
    (a / "bad-name.wav").write_bytes((a / "03-01-08-01-01-01-01.wav").read_bytes())

    entries = scan("ravdess", root)
    assert len(entries) == 10
    out = tmp_path / "out"
    df = run_audio_shard(entries, [e.rel for e in entries], 0, out / "0.parquet", out / "wav")
    assert len(df) == 10
    by = dict(zip(df["rel_path"], zip(df["status"], df["reason"], strict=True), strict=True))
    ok = [r for r, (s, _) in by.items() if s == "ok"]
    assert sorted(ok) == sorted(["Actor_01/01-01-05-01-01-01-01.mp4",
                                 "Actor_01/01-01-04-01-01-01-01.avi",
                                 "Actor_01/03-01-03-01-01-01-01.flac"])
    assert "0 bytes" in by["Actor_01/03-01-02-01-01-01-01.wav"][1]
    assert by["Actor_01/01-01-06-01-01-01-01.mp4"][1] == "no audio stream"
    assert by["Actor_01/03-01-07-01-01-01-01.wav"][1] == "digital silence"
    assert "too short" in by["Actor_01/03-01-08-01-01-01-01.wav"][1]
    assert by["Actor_01/03-01-01-01-01-01-01.mp4"][1].startswith("unreadable")
    assert "not an audio or video file" in by["Actor_01/notes.txt"][1]
    assert "RAVDESS" in by["Actor_01/bad-name.wav"][1]
    for wav in df.loc[df["status"] == "ok", "wav"]:
        y, sr = audio.read_wav(wav)
        info = audio.probe(wav)
        assert sr == 16000 and info.channels == 1 and info.codec == "pcm_s16le"
    stereo = df[df["rel_path"].str.endswith(".flac")].iloc[0]
    assert stereo["channels"] == 2 and stereo["sample_rate"] == 8000  # native values recorded

    summary = combine_manifests([out / "0.parquet"], out / "m.parquet", "t", out / "rej.csv")
    assert summary["ok"] == 3 and summary["rejected"] == 7
    assert len(pd.read_csv(out / "rej.csv")) == 7


def test_no_usable_clip_is_a_clear_error(tmp_path):
    root = tmp_path / "c" / "Actor_01"
    root.mkdir(parents=True)
    (root / "03-01-02-01-01-01-01.wav").write_bytes(b"")
    entries = scan("ravdess", tmp_path / "c")
    run_audio_shard(entries, [e.rel for e in entries], 0, tmp_path / "0.parquet", tmp_path / "w")
    with pytest.raises(ValueError, match="no usable clip in dataset 'x'"):
        combine_manifests([tmp_path / "0.parquet"], tmp_path / "m.parquet", "x")


def test_trim_silence_cuts_quiet_ends_and_is_checked():
    sr = 16000
    rng = np.random.default_rng(0)
    speech = (0.3 * rng.standard_normal(sr)).astype(np.float32)
    quiet = (1e-4 * rng.standard_normal(sr)).astype(np.float32)
    x = np.concatenate([quiet, speech, quiet])
    y = audio.prepare_signal(x, sr, min_duration=0.3, trim_db=30)
    assert abs(y.size / sr - 1.0) < 0.05
    assert audio.prepare_signal(x, sr, min_duration=0.3).size == x.size  # no trim by default
    blip = np.concatenate([quiet, speech[:4000], quiet])  # 0.25 s: sound, but short once trimmed
    with pytest.raises(audio.AudioError, match="too short after trimming"):
        audio.prepare_signal(blip, sr, min_duration=0.3, trim_db=30)
    with pytest.raises(audio.AudioError, match="digital silence"):
        audio.prepare_signal(np.zeros(sr, np.float32), sr, min_duration=0.3, trim_db=30)


def _agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, int, float]:
    """(correlation, lag of the cross-correlation peak in samples, level difference in dB)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    n = 1 << (a.size + b.size - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    lag = int(np.argmax(xc))
    lag = lag - n if lag > n // 2 else lag
    m = min(a.size, b.size)
    corr = float(np.corrcoef(a[:m], b[:m])[0, 1])
    level = 20 * np.log10(np.sqrt(np.mean(a ** 2)) / np.sqrt(np.mean(b ** 2)))
    return corr, lag, float(level)


def _real_clips() -> list[Path]:
    """Two RAVDESS FLACs and a CREMA-D WAV, all 16 kHz 16-bit mono."""
    import soundfile as sf

    ravdess = [p for p in sorted(RAVDESS.glob("Actor_0[12]/*.flac")) if sf.info(p).channels == 1]
    return [ravdess[5], ravdess[77], sorted((CREMAD / "wav").glob("*.wav"))[0]]


@needs_data
@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_in_process_and_ffmpeg_decoders_agree_on_real_speech(tmp_path, rate):
    """PCM WAV (16/24-bit), FLAC and Ogg Vorbis variants of real clips, mono and stereo, at
    16/44.1/48 kHz: soundfile + soxr and ffmpeg give the same 16 kHz mono samples."""
    import soundfile as sf
    import soxr

    for k, clip in enumerate(_real_clips()):
        x, sr = sf.read(clip, dtype="float32")
        y = x if rate == sr else soxr.resample(x, sr, rate, quality="VHQ")
        other = 0.5 * np.roll(y, 37 + k)  # a second channel that differs from the first
        for channels, data in ((1, y), (2, np.stack([y, other], axis=1))):
            for fmt, subtype, ext in (("WAV", "PCM_16", "wav"), ("WAV", "PCM_24", "wav"),
                                      ("FLAC", "PCM_24", "flac"), ("OGG", "VORBIS", "ogg")):
                f = tmp_path / f"c{k}_{rate}_{channels}_{subtype}.{ext}"
                sf.write(f, data, rate, format=fmt, subtype=subtype)
                a = audio.decode_file(f, 16000)
                b = audio.decode_ffmpeg(f, 16000)
                assert a.decoder == "soundfile" and b.decoder == "ffmpeg"
                assert (a.source_rate, a.channels) == (b.source_rate, b.channels) == \
                    (rate, channels)
                assert abs(a.signal.size - b.signal.size) <= 1, f.name
                corr, lag, level = _agreement(a.signal, b.signal)
                assert corr >= 0.9999 and lag == 0 and abs(level) <= 0.1, \
                    (f.name, corr, lag, level)
                if channels == 2 and rate == 16000 and subtype == "PCM_16":
                    # channels averaged (not summed, not -3 dB), on the stored 16-bit grid
                    mean = sf.read(f, dtype="float64")[0].mean(axis=1)
                    assert np.max(np.abs(a.signal - mean)) <= 0.5 / 32768 + 1e-9


@needs_data
def test_in_process_decode_is_the_stored_samples_of_a_16k_clip():
    """A 16 kHz 16-bit clip decodes in-process to exactly its samples (no resampling)."""
    import soundfile as sf

    clip = _real_clips()[0]
    raw, sr = sf.read(clip, dtype="int16")
    d = audio.decode_file(clip, 16000)
    assert d.decoder == "soundfile" and sr == 16000
    assert np.array_equal(d.signal, raw.astype(np.float32) / 32768)


@needs_data
def test_video_and_mp3_take_one_ffmpeg_process_with_stream_facts(monkeypatch):
    """Real CREMA-D FLV video and MP3: decoded by ffmpeg with one process per file, the
    stream facts (rate, channels, video) read from that same call."""
    calls = []
    real_run = subprocess.run

    def counting_run(args, *a, **k):
        calls.append(args)
        return real_run(args, *a, **k)

    monkeypatch.setattr(audio.subprocess, "run", counting_run)
    media = sorted((CREMAD / "media").iterdir())
    flv = next(p for p in media if p.suffix == ".flv")
    mp3 = next(p for p in media if p.suffix == ".mp3")
    wav = CREMAD / "wav" / flv.name.replace(".flv", ".wav")
    v = audio.load_clip(flv, sample_rate=16000, min_duration=0.3)
    assert len(calls) == 1 and v.decoder == "ffmpeg" and v.has_video and v.channels == 1
    m = audio.load_clip(mp3, sample_rate=16000, min_duration=0.3)
    assert len(calls) == 2 and m.decoder == "ffmpeg" and not m.has_video
    assert m.source_rate == 44100 and m.channels == 1
    w = audio.load_clip(wav, sample_rate=16000, min_duration=0.3)
    assert len(calls) == 2 and w.decoder == "soundfile"  # in-process: no process started
    # the video's soundtrack is the same utterance as the corpus' WAV (differently encoded)
    assert abs(v.duration - w.duration) < 0.1


def test_load_clip_reasons(tmp_path):
    with pytest.raises(audio.AudioError, match="missing"):
        audio.load_clip(tmp_path / "nope.wav", sample_rate=16000, min_duration=0.3)
    with pytest.raises(audio.AudioError, match="is a folder"):
        audio.load_clip(tmp_path, sample_rate=16000, min_duration=0.3)
    (tmp_path / "empty.flac").write_bytes(b"")
    with pytest.raises(audio.AudioError, match="0 bytes"):
        audio.load_clip(tmp_path / "empty.flac", sample_rate=16000, min_duration=0.3)
    (tmp_path / "bad.wav").write_bytes(b"RIFF" + b"\x00" * 60)  # soundfile fails -> ffmpeg's reason
    with pytest.raises(audio.AudioError, match="unreadable|decode failed|no audio"):
        audio.load_clip(tmp_path / "bad.wav", sample_rate=16000, min_duration=0.3)
    short = make_clip(tmp_path / "short.wav", video=False, seconds=0.1, rate=48000)
    with pytest.raises(audio.AudioError, match="too short") as info:
        audio.load_clip(short, sample_rate=16000, min_duration=0.3)
    assert info.value.facts is not None and info.value.facts.source_rate == 48000
