"""Decoding, probing and writing audio: soundfile + soxr in-process, ffmpeg for everything else.

Why two decoders: starting ffmpeg costs ~100 ms per file, far more than decoding a 3 s clip, so
PCM WAV/FLAC/AIFF and Ogg Vorbis (what libsndfile decodes exactly) are read in-process with
soundfile and resampled with soxr. Every other container or codec (mp4, avi, flv, mkv, webm,
mp3, aac...) goes through the ffmpeg binary of the imageio-ffmpeg wheel, ONE process per file:
the stream facts (rate, channels, video) are parsed from that same call's stderr. Both paths
average the channels, resample with the same engine (soxr, built into that ffmpeg) at the same
quality, and round to the 16-bit grid the audio stage stores, so a clip gives the same samples
whatever it was stored in (tests/test_audio.py checks the two paths against each other).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf


class AudioError(Exception):
    """A clip that cannot be used; the message is the reason listed in the manifest.

    `facts` carries what decoding learnt before the clip was rejected (rate, channels,
    duration), so the manifest row can still show them."""

    def __init__(self, reason: str, facts: Decoded | None = None) -> None:
        super().__init__(reason)
        self.facts = facts


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


@dataclass(frozen=True)
class Decoded:
    """A decoded clip (float32 mono at `sample_rate`) with the facts of its source stream."""

    signal: np.ndarray
    sample_rate: int
    duration: float  # seconds decoded, before any silence trimming
    source_rate: int | None
    channels: int | None
    has_video: bool
    decoder: str  # "soundfile" or "ffmpeg"


#: soxr quality of both paths ("HQ": 20-bit precision, linear phase); ffmpeg's soxr engine gets
#: the same precision, so the in-process and ffmpeg paths resample alike.
SOXR_QUALITY = "HQ"
_FFMPEG_SOXR_PRECISION = 20
#: file name endings tried in-process first; anything soundfile cannot open goes to ffmpeg.
IN_PROCESS_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff"})
_SF_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG", "AIFF"})
_SF_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE",
                          "VORBIS"})

_AUDIO_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: ([^,\s]+)[^\n]*?(\d+) Hz, ([^,\n]+)")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def _channels(layout: str) -> int | None:
    layout = layout.strip().split("(")[0].strip()
    if layout in _CHANNELS:
        return _CHANNELS[layout]
    m = re.match(r"(\d+) channels", layout)
    return int(m.group(1)) if m else None


def _parse_input(err: str) -> Probe:
    """Stream facts from what ffmpeg prints about its input (the `Input #0` block of stderr)."""
    if "Input #0" not in err:
        last = err.strip().splitlines()[-1] if err.strip() else "no output"
        raise AudioError(f"unreadable: {last}")
    block = err[err.index("Input #0"):]
    for marker in ("Stream mapping:", "Output #0"):
        if marker in block:
            block = block[:block.index(marker)]
    audio = _AUDIO_RE.search(block)
    dur = _DURATION_RE.search(block)
    duration = None
    if dur:
        h, m, s = dur.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    return Probe(
        has_audio=audio is not None,
        has_video=re.search(r"Stream #\d+:\d+.*?: Video:", block) is not None,
        sample_rate=int(audio.group(2)) if audio else None,
        channels=_channels(audio.group(3)) if audio else None,
        duration=duration,
        codec=audio.group(1) if audio else None,
    )


def probe(path: str | os.PathLike) -> Probe:
    """Describe the streams of a media file by parsing `ffmpeg -i` (there is no ffprobe).

    Not on the decoding path (decode_ffmpeg reads the same facts from its own call); kept for
    callers that want the facts without the samples."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    return _parse_input(proc.stderr)


def _to_pcm16_grid(x: np.ndarray) -> np.ndarray:
    """Round to the 16-bit grid the audio stage stores its WAVs on, so a decoded signal is
    exactly what `write_wav` + `read_wav` give back (predict and the workflow agree)."""
    y = np.multiply(x, np.float32(32768.0), dtype=np.float32)
    np.rint(y, out=y)
    np.clip(y, -32768.0, 32767.0, out=y)
    y /= np.float32(32768.0)
    return y


def decode_soundfile(path: str | os.PathLike, sample_rate: int = 16000) -> Decoded | None:
    """Decode in-process when libsndfile reads the file exactly (PCM WAV/FLAC/AIFF, Ogg
    Vorbis): channels averaged, soxr resampling. None when the file is not such a file (or
    soundfile cannot read it), for the caller to fall back on ffmpeg with its error messages."""
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            if (f.format not in _SF_FORMATS or f.subtype not in _SF_SUBTYPES
                    or f.channels > 2):  # surround: ffmpeg's downmix matrix (centre, no LFE)
                return None
            rate, channels = int(f.samplerate), int(f.channels)
            exact = f.subtype == "PCM_16" and channels == 1 and rate == sample_rate
            data = f.read(dtype="int16" if exact else "float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
        return None
    if data.shape[0] == 0:
        return None  # let ffmpeg give its own reason for an empty stream
    if exact:  # the common case: the samples are already on the 16-bit grid
        x = data[:, 0].astype(np.float32)
        x /= np.float32(32768.0)
    else:
        x = data[:, 0] if channels == 1 else data.mean(axis=1, dtype=np.float32)
        if rate != sample_rate:
            import soxr

            x = soxr.resample(x, rate, sample_rate, quality=SOXR_QUALITY)
        x = _to_pcm16_grid(x)
    return Decoded(x, sample_rate, round(x.size / sample_rate, 4), rate, channels, False,
                   "soundfile")


def decode_ffmpeg(path: str | os.PathLike, sample_rate: int = 16000) -> Decoded:
    """Decode the first audio stream with one ffmpeg process: mono (channels averaged), soxr
    resampling to `sample_rate`, float samples; stream facts parsed from the same call.

    Raises AudioError with a short reason when the file has no audio or ffmpeg fails.
    """
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-i", os.fspath(path),
            "-map", "0:a:0", "-vn", "-sn", "-dn",
            # one swr context: downmix with coefficients summing to 1 (stereo: the mean, as
            # in-process), soxr at the in-process precision, float out
            "-af", f"aresample=osr={int(sample_rate)}:ochl=mono:osf=flt:rematrix_maxval=1"
                   f":resampler=soxr:precision={_FFMPEG_SOXR_PRECISION}",
            "-f", "f32le", "-acodec", "pcm_f32le", "pipe:"]
    proc = subprocess.run(args, capture_output=True, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    info = _parse_input(err)  # raises "unreadable: ..." when ffmpeg could not open it
    if ("matches no streams" in err or "does not contain any stream" in err
            or (proc.returncode != 0 and not info.has_audio)):
        raise AudioError("no audio stream")
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"ffmpeg exit code {proc.returncode}"
        raise AudioError(f"decode failed: {last}")
    x = np.frombuffer(proc.stdout, dtype="<f4")
    if x.size == 0:
        raise AudioError("no audio samples decoded")
    x = _to_pcm16_grid(x)
    return Decoded(x, sample_rate, round(x.size / sample_rate, 4), info.sample_rate,
                   info.channels, info.has_video, "ffmpeg")


def decode_file(path: str | os.PathLike, sample_rate: int = 16000) -> Decoded:
    """Decode any audio or video file to float32 mono at `sample_rate`, in-process when
    soundfile reads it exactly, else with one ffmpeg process. Raises AudioError."""
    if Path(path).suffix.lower() in IN_PROCESS_SUFFIXES:
        got = decode_soundfile(path, sample_rate)
        if got is not None:
            return got
    return decode_ffmpeg(path, sample_rate)


def decode(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """Decode the first audio stream to float32 mono at `sample_rate` (channels averaged).

    Raises AudioError with a short reason when the file has no audio or cannot be decoded.
    """
    return decode_file(path, sample_rate).signal


def load_clip(path: str | os.PathLike, *, sample_rate: int, min_duration: float,
              silence_dbfs: float = -60.0, trim_db: float | None = None) -> Decoded:
    """Decode one file and apply the clip checks: the single decode-and-check of the audio
    stage and of `ser predict`, so both accept, reject and trim a file alike.

    Raises AudioError with the reason (missing, folder, empty, unreadable, no audio stream,
    too short, silent...); `exc.facts` holds the decoded stream facts when decoding worked.
    """
    p = Path(path)
    try:
        if not p.exists():
            raise AudioError("missing: no such file")
        if p.is_dir():
            raise AudioError("is a folder")
        if p.stat().st_size == 0:
            raise AudioError("empty file (0 bytes)")
    except OSError as exc:
        raise AudioError(f"unreadable: {exc.strerror or exc}") from exc
    got = decode_file(p, sample_rate)
    try:
        signal = prepare_signal(got.signal, sample_rate, min_duration=min_duration,
                                silence_dbfs=silence_dbfs, trim_db=trim_db)
    except AudioError as exc:
        exc.facts = got
        raise
    return replace(got, signal=signal)


def wav_bytes(signal: np.ndarray, sample_rate: int) -> bytes:
    """A 16-bit PCM WAV file, in memory (libsndfile writes it; the caller writes the bytes).

    Why in memory: soundfile's close() fsyncs every file it wrote, ~40 ms per clip on a busy
    disk, far more than decoding; plain writes plus an atomic rename need no sync."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(signal, -1.0, 32767 / 32768), sample_rate, subtype="PCM_16",
             format="WAV")
    return buf.getvalue()


def write_wav(path: str | os.PathLike, signal: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM WAV atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = wav_bytes(signal, sample_rate)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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


ACTIVE_SECONDS = 0.25
"""Seconds of a clip that must reach the silence threshold for it to count as sound."""
FLOOR_DBFS = -240.0
"""Level reported for all-zero frames (log of zero); printed as -inf."""


def active_level_dbfs(signal: np.ndarray, sample_rate: int,
                      active_seconds: float = ACTIVE_SECONDS) -> float:
    """Level (dBFS) that the loudest `active_seconds` of a clip reach, in 25 ms frames (10 ms hop).

    Why not the clip-wide RMS: acted corpora carry a second or more of silence around each
    utterance, which pulls the clip-wide RMS of quiet but clear speech below any fixed threshold
    (13 real RAVDESS clips at -61.7 dBFS). The level of the k-th loudest frame ignores how much
    silence surrounds the speech, and a lone click (a few loud frames) still stays below it.
    Frame powers come from a running sum of squares: O(n), no frame matrix, no librosa import.
    """
    x = np.asarray(signal, dtype=np.float64)
    frame = max(1, int(round(0.025 * sample_rate)))
    hop = max(1, int(round(0.010 * sample_rate)))
    if x.size <= frame:
        power = np.array([np.mean(x ** 2)]) if x.size else np.zeros(1)
    else:
        cs = np.concatenate(([0.0], np.cumsum(x ** 2)))
        starts = np.arange(0, x.size - frame + 1, hop)
        power = (cs[starts + frame] - cs[starts]) / frame
    k = min(power.size, max(1, int(round(active_seconds / 0.010))))
    kth = float(np.partition(power, power.size - k)[power.size - k])
    return 10 * float(np.log10(max(kth, 10 ** (FLOOR_DBFS / 10))))


def check_signal(signal: np.ndarray, sample_rate: int, *, min_duration: float,
                 silence_dbfs: float = -60.0) -> str | None:
    """Return a rejection reason for a decoded clip, or None when it is usable.

    Silent means: the loudest ACTIVE_SECONDS of 25 ms frames stay below `silence_dbfs`
    (`active_level_dbfs`), so quiet speech surrounded by silence is kept while digital
    silence, low-level noise alone and a short click in silence are rejected.
    """
    duration = signal.size / sample_rate
    if duration < min_duration:
        return f"too short: {duration:.2f} s < min_duration {min_duration:g} s"
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    if peak == 0.0:
        return "digital silence"
    level = active_level_dbfs(signal, sample_rate)
    if level < silence_dbfs:
        # a click in digital silence: fewer than ACTIVE_SECONDS of non-zero frames (the floor)
        shown = f"{level:.1f}" if level > FLOOR_DBFS else "-inf"
        return (f"silent: loudest {ACTIVE_SECONDS:g} s at {shown} dBFS < silence_dbfs "
                f"{silence_dbfs:g} dBFS")
    return None
