"""Decoding, probing and writing audio with the ffmpeg binary of the imageio-ffmpeg wheel.

Why ffmpeg for everything: one decoder and one resampler for every container (mp4, avi, flv, mkv,
webm, wav, flac, mp3...), so a clip gives the same samples whatever it was stored in. The wheel has
no ffprobe, so `probe` parses what `ffmpeg -i` prints about the input streams.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf


class AudioError(Exception):
    """A clip that cannot be used; the message is the reason listed in the manifest."""


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (imageio-ffmpeg's, unless IMAGEIO_FFMPEG_EXE overrides it)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class Probe:
    """What ffmpeg says about a file's streams before decoding."""

    has_audio: bool
    has_video: bool
    sample_rate: int | None
    channels: int | None
    duration: float | None
    codec: str | None


_AUDIO_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: ([^,\s]+)[^\n]*?(\d+) Hz, ([^,\n]+)")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def _channels(layout: str) -> int | None:
    layout = layout.strip().split("(")[0].strip()
    if layout in _CHANNELS:
        return _CHANNELS[layout]
    m = re.match(r"(\d+) channels", layout)
    return int(m.group(1)) if m else None


def probe(path: str | os.PathLike) -> Probe:
    """Describe the streams of a media file by parsing `ffmpeg -i` (there is no ffprobe)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    err = proc.stderr
    if "Input #0" not in err:
        last = err.strip().splitlines()[-1] if err.strip() else "no output"
        raise AudioError(f"unreadable: {last}")
    audio = _AUDIO_RE.search(err)
    dur = _DURATION_RE.search(err)
    duration = None
    if dur:
        h, m, s = dur.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    return Probe(
        has_audio=audio is not None,
        has_video=re.search(r"Stream #\d+:\d+.*?: Video:", err) is not None,
        sample_rate=int(audio.group(2)) if audio else None,
        channels=_channels(audio.group(3)) if audio else None,
        duration=duration,
        codec=audio.group(1) if audio else None,
    )


def decode(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """Decode the first audio stream to float32 mono at `sample_rate` (channels averaged).

    Raises AudioError with a short reason when the file has no audio or ffmpeg fails.
    """
    import ffmpeg  # ffmpeg-python builds the argument list; no shell is involved

    stream = ffmpeg.input(os.fspath(path)).output(
        "pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=sample_rate, vn=None, map="0:a:0"
    )
    args = stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error").compile(
        cmd=ffmpeg_exe()
    )
    proc = subprocess.run(args, capture_output=True, check=False)
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if "matches no streams" in err or "does not contain any stream" in err:
            raise AudioError("no audio stream")
        last = err.splitlines()[-1] if err else f"ffmpeg exit code {proc.returncode}"
        raise AudioError(f"decode failed: {last}")
    pcm = np.frombuffer(proc.stdout, dtype="<i2")
    if pcm.size == 0:
        raise AudioError("no audio samples decoded")
    return (pcm.astype(np.float32) / 32768.0).copy()


def write_wav(path: str | os.PathLike, signal: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM WAV atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sf.write(tmp, np.clip(signal, -1.0, 32767 / 32768), sample_rate, subtype="PCM_16",
                 format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a WAV written by this module as float32 mono."""
    signal, sr = sf.read(os.fspath(path), dtype="float32", always_2d=False)
    if signal.ndim > 1:
        signal = signal.mean(axis=1)
    return signal, int(sr)


def trim_silence(signal: np.ndarray, sample_rate: int, top_db: float) -> np.ndarray:
    """Cut leading and trailing parts quieter than the clip's peak level minus `top_db` dB
    (25 ms frames, 10 ms hop). Acted corpora carry about a second of silence at each end, which
    dilutes utterance-level statistics; trimming it helped every model measured."""
    import librosa

    frame, hop = int(0.025 * sample_rate), int(0.010 * sample_rate)
    trimmed, _ = librosa.effects.trim(signal, top_db=float(top_db), frame_length=frame,
                                      hop_length=hop)
    return np.ascontiguousarray(trimmed, dtype=np.float32)


def prepare_signal(signal: np.ndarray, sample_rate: int, *, min_duration: float,
                   silence_dbfs: float = -60.0, trim_db: float | None = None) -> np.ndarray:
    """The checks (and optional silence trimming) every decoded clip goes through, in the audio
    stage and in `ser predict` alike; raises AudioError with the reason for a clip to reject."""
    reason = check_signal(signal, sample_rate, min_duration=min_duration,
                          silence_dbfs=silence_dbfs)
    if reason:
        raise AudioError(reason)
    if trim_db is not None:
        signal = trim_silence(signal, sample_rate, trim_db)
        if signal.size / sample_rate < min_duration:
            raise AudioError(f"too short after trimming silence: {signal.size / sample_rate:.2f}"
                             f" s < min_duration {min_duration:g} s")
    return signal


def check_signal(signal: np.ndarray, sample_rate: int, *, min_duration: float,
                 silence_dbfs: float = -60.0) -> str | None:
    """Return a rejection reason for a decoded clip, or None when it is usable."""
    duration = signal.size / sample_rate
    if duration < min_duration:
        return f"too short: {duration:.2f} s < min_duration {min_duration:g} s"
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    if peak == 0.0:
        return "digital silence"
    rms = float(np.sqrt(np.mean(signal.astype(np.float64) ** 2)))
    if 20 * np.log10(max(rms, 1e-12)) < silence_dbfs:
        return f"silent: RMS {20 * np.log10(max(rms, 1e-12)):.1f} dBFS < {silence_dbfs:g} dBFS"
    return None
