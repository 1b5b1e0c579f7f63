"""Recording conditions beyond additive noise: reverberation, telephone channel, lossy codecs, gain.

Why: real recordings are reverberant, band-limited by phones, compressed by apps and rarely at
studio level; a model is only robust to what it was trained for and measured under. Every
condition here is deterministic per (clip, condition, level, seed) (AAC and Opus: per shard, their
rate control carries a little state from one clip to the next) and is measured on its output by
the tests (RT60 of the room, band limit of the telephone channel, bit rate of the codec, gain).

Names: :data:`CONDITION_KINDS` is the registry of condition kinds; a degraded copy's row id is
``{source_id}#{tag}`` where the tag names kind and level (``#snr20``, ``#rt0.6``, ``#rir``,
``#tel-ulaw``, ``#mp3-16k``, ``#gain-20``), so a copy's condition is known from its id alone
(:func:`condition_of`) and copies follow their clean source everywhere (folds, evaluation).

Libraries: rooms are simulated with pyroomacoustics' image-source method (deterministic; its
hybrid ray tracer is faster but draws from an unseeded generator); codecs run through the ffmpeg
binary of the imageio-ffmpeg wheel, one encode and one decode process per shard and condition
(clips concatenated with silence between them, see :func:`ffmpeg_roundtrip`), never one per file.
Band limiting and resampling are scipy/soxr.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ser.audio import decode, ffmpeg_exe
from ser.io import atomic_path

PEAK = 32767 / 32768  # largest value a PCM16 WAV can hold

CONDITION_KINDS: dict[str, str] = {
    "noise": "additive noise at a signal-to-noise ratio in dB (augment.snr_db, augment.noise)",
    "reverb": "a room's reverberation: simulated at an RT60 in seconds (augment.reverb_rt60), "
              "or measured impulse responses given by path (augment.rir, level `rir`)",
    "telephone": "8 kHz telephone channel, 300-3400 Hz, through a narrow-band codec "
                 "(augment.telephone)",
    "codec": "lossy compression at a low bit rate, `CODEC-KBPSk` (augment.codec)",
    "gain": "a loudness change in dB (augment.gain_db)",
}
"""Condition kinds, in the order they are produced and reported."""

@dataclass(frozen=True)
class Codec:
    """An ffmpeg encoder, its container, extra arguments and frame length (samples)."""

    encoder: str
    container: str
    args: tuple[str, ...] = ()
    frame: int = 1


TELEPHONE_CODECS: dict[str, Codec | None] = {
    "ulaw": Codec("pcm_mulaw", "wav"),            # G.711 mu-law (North America, Japan)
    "alaw": Codec("pcm_alaw", "wav"),             # G.711 A-law (Europe)
    "amrnb": Codec("libopencore_amrnb", "amr", ("-b:a", "12.2k"), 160),  # mobile, 12.2 kbps
    "none": None,                                 # band limit and 8 kHz only
}
LOSSY_CODECS: dict[str, Codec] = {
    "mp3": Codec("libmp3lame", "mp3", (), 1152),
    "aac": Codec("aac", "adts", (), 1024),
    "opus": Codec("libopus", "ogg", ("-application", "voip", "-vbr", "off",
                                     "-frame_duration", "20"), 320),
}
TELEPHONE_RATE = 8000
TELEPHONE_BAND = (300.0, 3400.0)
GAP_SECONDS = 0.5  # silence between clips in a batched codec stream (> any codec's frame + delay)
RIR_LEAD_SECONDS = 0.0025  # kept before an impulse response's direct-path peak

_CODEC_RE = re.compile(r"^([a-z0-9]+)-(\d+(?:\.\d+)?)k$")


def level_text(value: float) -> str:
    """The one text form of a numeric level (SNR dB, RT60 s, kbps, gain dB) in ids, file names,
    tables and metrics keys: `10`, `-5`, `2.5`, `0` (never `-0`)."""
    return f"{float(value) + 0.0:g}"


@dataclass(frozen=True)
class Condition:
    """One condition at one level. ``level`` is its canonical text (``20``, ``0.6``, ``rir``,
    ``ulaw``, ``mp3-16k``, ``-20``); ``value`` the number behind it where there is one (SNR dB,
    RT60 s, kbps, gain dB)."""

    kind: str
    level: str
    value: float | None = None
    codec: str | None = None

    @property
    def tag(self) -> str:
        """The id suffix after ``#`` (and the WAV name suffix after ``__``)."""
        if self.kind == "noise":
            return f"snr{self.level}"
        if self.kind == "reverb":
            return "rir" if self.level == "rir" else f"rt{self.level}"
        if self.kind == "telephone":
            return f"tel-{self.level}"
        if self.kind == "codec":
            return self.level
        if self.kind == "gain":
            return f"gain{self.level}"
        raise ValueError(f"unknown condition kind {self.kind!r}")

    def copy_id(self, source_id: str) -> str:
        return f"{source_id}#{self.tag}"

    @property
    def label(self) -> str:
        """Human-readable level for tables and figures."""
        unit = {"noise": " dB SNR", "reverb": " s RT60", "gain": " dB"}.get(self.kind, "")
        if self.kind == "reverb" and self.level == "rir":
            return "measured RIRs"
        if self.kind == "codec":
            return self.level.replace("-", " ").replace("k", " kbps")
        return f"{self.level}{unit}"


def noise(snr_db: float) -> Condition:
    return Condition("noise", level_text(snr_db), float(snr_db))


def reverb(rt60: float | None) -> Condition:
    """Simulated room at `rt60` seconds, or (None) measured RIR files."""
    if rt60 is None:
        return Condition("reverb", "rir")
    return Condition("reverb", level_text(rt60), float(rt60))


def telephone(codec: str) -> Condition:
    if codec not in TELEPHONE_CODECS:
        raise ValueError(f"unknown telephone codec {codec!r}; choose from "
                         f"{sorted(TELEPHONE_CODECS)}")
    return Condition("telephone", codec, None, codec)


def lossy(spec: str) -> Condition:
    """`mp3-16k` -> MP3 at 16 kbps."""
    m = _CODEC_RE.match(str(spec))
    if not m or m.group(1) not in LOSSY_CODECS:
        raise ValueError(f"codec {spec!r} is not CODEC-KBPSk with CODEC one of "
                         f"{sorted(LOSSY_CODECS)} (e.g. mp3-16k, opus-8k)")
    kbps = float(m.group(2))
    return Condition("codec", f"{m.group(1)}-{level_text(kbps)}k", kbps, m.group(1))


def gain(db: float) -> Condition:
    return Condition("gain", level_text(db), float(db))


_TAG_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"^snr(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$"), lambda m: noise(float(m.group(1)))),
    (re.compile(r"^rt(\d+(?:\.\d+)?)$"), lambda m: reverb(float(m.group(1)))),
    (re.compile(r"^rir$"), lambda m: reverb(None)),
    (re.compile(r"^tel-([a-z0-9]+)$"), lambda m: telephone(m.group(1))),
    (re.compile(r"^([a-z0-9]+-\d+(?:\.\d+)?k)$"), lambda m: lossy(m.group(1))),
    (re.compile(r"^gain(-?\d+(?:\.\d+)?)$"), lambda m: gain(float(m.group(1)))),
)


def parse_tag(tag: str) -> Condition:
    """Inverse of :attr:`Condition.tag`; ValueError for an unknown tag."""
    for pattern, make in _TAG_PATTERNS:
        m = pattern.match(tag)
        if m:
            try:
                return make(m)
            except ValueError:
                break
    raise ValueError(f"unknown condition tag {tag!r}")


def condition_of(row_id: str, source_id: str) -> Condition | None:
    """The condition of a table row from its ids: None for a clean row (id == source_id)."""
    row_id, source_id = str(row_id), str(source_id)
    if row_id == source_id:
        return None
    prefix = source_id + "#"
    if not row_id.startswith(prefix):
        raise ValueError(f"row {row_id!r} is neither clip {source_id!r} nor a copy of it")
    return parse_tag(row_id[len(prefix):])


def from_config(augment: Mapping[str, Any]) -> list[Condition]:
    """Every condition an `augment` config section asks for, noise first, in registry order.
    Raises ValueError naming the key for a bad entry (checked at start by ser.plan)."""
    out: list[Condition] = [noise(s) for s in augment.get("snr_db", [])]
    out += [reverb(float(rt)) for rt in augment.get("reverb_rt60", [])]
    if augment.get("rir"):
        out.append(reverb(None))
    for key, make in (("telephone", telephone), ("codec", lossy)):
        for entry in augment.get(key, []):
            try:
                out.append(make(str(entry)))
            except ValueError as exc:
                raise ValueError(f"augment.{key}: {exc}") from None
    out += [gain(float(g)) for g in augment.get("gain_db", [])]
    tags = [c.tag for c in out]
    dup = sorted({t for t in tags if tags.count(t) > 1})
    if dup:
        raise ValueError(f"augment: condition(s) given twice: {dup}")
    for rt in augment.get("reverb_rt60", []):
        if not 0.05 <= float(rt) <= 3.0:
            raise ValueError(f"augment.reverb_rt60: {rt} s is outside 0.05-3 s")
    return out


def rng_for(seed: int, clip_id: str, tag: str) -> np.random.Generator:
    """A generator that depends only on (seed, clip id, condition tag), stable across processes."""
    digest = hashlib.sha256(f"{int(seed)}\0{clip_id}\0{tag}".encode()).digest()
    return np.random.default_rng(np.random.SeedSequence(list(np.frombuffer(digest, "<u4"))))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _fit_peak(x: np.ndarray) -> np.ndarray:
    """Scale down (never up) so that the signal fits the PCM16 range."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return (x * (PEAK / peak) if peak > PEAK else x).astype(np.float32)


# ------------------------------------------------------------------------------------ gain


def apply_gain(x: np.ndarray, db: float) -> np.ndarray:
    """`x` scaled by `db` decibels; a positive gain that would exceed full scale is clipped, as a
    hot recording is."""
    y = np.asarray(x, dtype=np.float64) * 10.0 ** (float(db) / 20.0)
    return np.clip(y, -1.0, PEAK).astype(np.float32)


# ---------------------------------------------------------------------------------- reverb


def rt60_of(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 of an impulse response: Schroeder backward integration, T30 (-5 to -35 dB) extrapolated
    to 60 dB (ISO 3382), by pyroomacoustics."""
    from pyroomacoustics.experimental import measure_rt60

    return float(measure_rt60(np.asarray(rir, dtype=np.float64), fs=sample_rate, decay_db=30))


def _align_rir(h: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cut the propagation delay before the direct path (a few samples kept) and normalise the
    direct-path peak to 1, so that a copy stays time-aligned with its clean source."""
    h = np.asarray(h, dtype=np.float64)
    if h.ndim != 1 or h.size == 0 or not np.all(np.isfinite(h)) or not np.any(h):
        raise ValueError("impulse response is empty, silent or not finite")
    p = int(np.argmax(np.abs(h)))
    h = h[max(0, p - int(RIR_LEAD_SECONDS * sample_rate)):]
    return (h / np.max(np.abs(h))).astype(np.float32)


def simulate_rir(rt60: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One room with reverberation time `rt60` (s): a shoebox of random size (4-9 x 3-7 x
    2.5-3.5 m), random source and microphone 1-3 m apart, walls of uniform absorption; the
    image-source method of pyroomacoustics. Sabine's formula misjudges the decay of such rooms,
    so the design RT60 is corrected (up to 3 times) until the measured T30 is within 5 %."""
    import pyroomacoustics as pra

    dims = np.array([rng.uniform(4, 9), rng.uniform(3, 7), rng.uniform(2.5, 3.5)])
    while True:
        src = rng.uniform(0.5, dims - 0.5)
        mic = rng.uniform(0.5, dims - 0.5)
        if 1.0 <= np.linalg.norm(src - mic) <= 3.0:
            break
    design = float(rt60)
    best: tuple[float, np.ndarray] | None = None
    for _ in range(4):
        try:
            absorption, max_order = pra.inverse_sabine(design, dims)
        except ValueError:  # room too large for so short a reverberation: shrink it
            dims = dims * 0.8
            src, mic = np.minimum(src, dims - 0.3), np.minimum(mic, dims - 0.3)
            continue
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption),
                           max_order=max_order, air_absorption=False)
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        h = np.asarray(room.rir[0][0], dtype=np.float64)
        measured = rt60_of(h, sample_rate)
        if best is None or abs(measured - rt60) < abs(best[0] - rt60):
            best = (measured, h)
        if abs(measured / rt60 - 1.0) <= 0.05:
            break
        design *= rt60 / measured
    if best is None:
        raise ValueError(f"cannot simulate a room with RT60 {rt60} s")
    return _align_rir(best[1], sample_rate)


@dataclass(frozen=True)
class RirBank:
    """Impulse responses per reverb level: ``signal[offsets[i]:offsets[i+1]]`` is response i, of
    level ``levels[i]`` (``0.6``, ``rir``), measured RT60 ``rt60[i]``, described by ``names[i]``."""

    signal: np.ndarray
    offsets: np.ndarray
    levels: np.ndarray
    rt60: np.ndarray
    names: np.ndarray
    sample_rate: int

    def indices(self, level: str) -> list[int]:
        return [i for i, lev in enumerate(self.levels) if str(lev) == level]

    def rir(self, i: int) -> np.ndarray:
        return self.signal[self.offsets[i]:self.offsets[i + 1]]


RIR_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")


def rir_files(entries: Sequence[str | os.PathLike], root: str | os.PathLike = ".") -> list[Path]:
    """Measured impulse-response files from `augment.rir` entries (files or folders, relative
    to `root`)."""
    files: list[Path] = []
    for entry in entries:
        p = Path(root) / entry
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file()
                           and f.suffix.lower() in RIR_SUFFIXES and not f.name.startswith("."))
            if not found:
                raise ValueError(f"augment.rir: folder {str(entry)!r} holds no audio file")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"augment.rir: {str(entry)!r} is not an existing file or folder")
    return files


def build_rir_bank(out: Path, *, rt60s: Sequence[float], files: Sequence[str | os.PathLike],
                   sample_rate: int, seed: int = 0, rooms: int = 3) -> None:
    """Write the impulse responses of a run: `rooms` simulated rooms per RT60 and every measured
    file (decoded and resampled by ffmpeg), as an .npz without object arrays."""
    rirs: list[np.ndarray] = []
    levels: list[str] = []
    rts: list[float] = []
    names: list[str] = []
    for rt in rt60s:
        level = reverb(float(rt)).level
        for k in range(int(rooms)):
            h = simulate_rir(float(rt), sample_rate, rng_for(seed, f"room{k}", f"rt{level}"))
            rirs.append(h)
            levels.append(level)
            rts.append(rt60_of(h, sample_rate))
            names.append(f"simulated room {k + 1} (RT60 {rt:g} s)")
    for path in rir_files(files):
        h = _align_rir(decode(path, sample_rate), sample_rate)
        rirs.append(h)
        levels.append("rir")
        rts.append(rt60_of(h, sample_rate))
        names.append(Path(path).as_posix())
    offsets = np.concatenate([[0], np.cumsum([h.size for h in rirs])]).astype(np.int64)
    signal = np.concatenate(rirs).astype(np.float32) if rirs else np.zeros(0, np.float32)
    with atomic_path(out, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, signal=signal, offsets=offsets,
                 levels=np.array(levels, dtype=f"<U{max([1, *map(len, levels)])}"),
                 rt60=np.array(rts, dtype=np.float64),
                 names=np.array(names, dtype=f"<U{max([1, *map(len, names)])}"),
                 sample_rate=np.int64(sample_rate))


def load_rir_bank(path: Path) -> RirBank:
    with np.load(path, allow_pickle=False) as z:
        return RirBank(signal=z["signal"], offsets=z["offsets"], levels=z["levels"],
                       rt60=z["rt60"], names=z["names"], sample_rate=int(z["sample_rate"]))


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`x` convolved with `rir`, cut to the length of `x` (the copy stays aligned with its source)
    and brought back to the RMS of `x`: reverberation, not a change of level."""
    from scipy.signal import fftconvolve

    x64 = np.asarray(x, dtype=np.float64)
    y = fftconvolve(x64, np.asarray(rir, dtype=np.float64))[: x64.size]
    r = _rms(y)
    if r == 0.0:
        raise ValueError("reverberant copy is silent")
    return _fit_peak(y * (_rms(x64) / r))


# ------------------------------------------------------------------------- ffmpeg codecs


@lru_cache(maxsize=1)
def ffmpeg_encoders() -> frozenset[str]:
    """Encoder names the ffmpeg binary has (one `ffmpeg -encoders` call per process)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True,
                         text=True, check=False).stdout
    return frozenset(m.group(1) for m in re.finditer(r"^\s*A[.A-Z]{5}\s+(\S+)", out, re.M))


_STREAM_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: ([^,\s]+)")


@dataclass(frozen=True)
class Roundtrip:
    """Decoded clips of a codec round trip and what the stream was: decoder-reported codec and
    the encoded size as a bit rate over the whole stream (silence gaps included)."""

    signals: list[np.ndarray]
    codec: str
    kbps: float


def ffmpeg_roundtrip(signals: Sequence[np.ndarray], sample_rate: int, encoder: str,
                     container: str, args: Sequence[str] = (), frame: int = 1) -> Roundtrip:
    """Encode every signal with `encoder` and decode it back, in one encode and one decode ffmpeg
    process for the whole batch: the clips are concatenated with at least `GAP_SECONDS` of silence
    between them, each starting at a multiple of the codec's `frame` (samples), and the decoded
    stream is re-aligned by the lag that best matches the input (encoder
    priming/delay), then cut back into clips of their original lengths."""
    if encoder not in ffmpeg_encoders():
        raise ValueError(f"this ffmpeg ({ffmpeg_exe()}) has no {encoder} encoder")
    gap = int(GAP_SECONDS * sample_rate)
    pieces: list[np.ndarray] = []
    starts: list[int] = []
    pos = 0
    for s in signals:
        s = np.asarray(s, dtype=np.float32)
        # every clip starts on a frame boundary, so it is framed as if it were encoded alone
        pad = gap + (-(pos + gap)) % int(frame)
        pieces += [np.zeros(pad, np.float32), s]
        starts.append(pos + pad)
        pos += pad + s.size
    pieces.append(np.zeros(gap, np.float32))
    stream = np.concatenate(pieces)
    pcm = (np.clip(stream, -1.0, PEAK) * 32768.0).round().astype("<i2")
    exe = ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="ser-codec-") as tmp:
        encoded = Path(tmp) / f"stream.{container}"
        enc = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "s16le", "-ar",
             str(sample_rate), "-ac", "1", "-i", "pipe:0", "-c:a", encoder, *args,
             "-f", container, "-y", os.fspath(encoded)],
            input=pcm.tobytes(), capture_output=True, check=False)
        if enc.returncode != 0:
            raise ValueError(f"{encoder} encoding failed: "
                             f"{enc.stderr.decode(errors='replace').strip()[-300:]}")
        size = encoded.stat().st_size
        dec = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-i", os.fspath(encoded), "-f", "s16le", "-ac",
             "1", "-ar", str(sample_rate), "pipe:1"], capture_output=True, check=False)
        err = dec.stderr.decode(errors="replace")
        if dec.returncode != 0:
            raise ValueError(f"decoding the {encoder} stream failed: {err.strip()[-300:]}")
    m = _STREAM_RE.search(err)
    out = np.frombuffer(dec.stdout, dtype="<i2").astype(np.float32) / 32768.0
    lag = _best_lag(stream, out, int(0.2 * sample_rate))
    if lag > 0:
        out = out[lag:]
    elif lag < 0:
        out = np.concatenate([np.zeros(-lag, np.float32), out])
    if out.size < stream.size:
        out = np.concatenate([out, np.zeros(stream.size - out.size, np.float32)])
    clips = [out[a:a + np.asarray(s).size].copy() for a, s in zip(starts, signals, strict=True)]
    kbps = size * 8 / (stream.size / sample_rate) / 1000.0
    return Roundtrip(clips, m.group(1) if m else "unknown", kbps)


def _best_lag(ref: np.ndarray, out: np.ndarray, max_lag: int) -> int:
    """Lag (samples) by which `out` trails `ref`, by FFT cross-correlation within +-max_lag."""
    from scipy.signal import correlate

    n = min(ref.size, out.size)
    if n == 0:
        return 0
    c = correlate(out[:n].astype(np.float64), ref[:n].astype(np.float64), mode="full",
                  method="fft")
    mid = n - 1
    lo, hi = max(0, mid - max_lag), min(c.size, mid + max_lag + 1)
    return int(np.argmax(c[lo:hi]) + lo - mid)


def _band_limit(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """The telephone band: 8th-order Butterworth band-pass 300-3400 Hz, zero phase."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(8, TELEPHONE_BAND, btype="bandpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64)).astype(np.float32)


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    import soxr

    return np.asarray(soxr.resample(np.asarray(x, dtype=np.float32), src, dst, quality="HQ"),
                      dtype=np.float32)


def telephone_batch(signals: Sequence[np.ndarray], sample_rate: int,
                    codec: str) -> tuple[list[np.ndarray], str]:
    """A telephone call: down to 8 kHz, band-limited to 300-3400 Hz (send filter), through the
    narrow-band `codec` (G.711 mu/A-law, AMR-NB 12.2 kbps, or `none`), band-limited again
    (receive filter), back to `sample_rate`; every copy keeps the RMS of its source. Returns the
    copies and a description of the channel."""
    narrow = [_band_limit(_resample(s, sample_rate, TELEPHONE_RATE), TELEPHONE_RATE)
              for s in signals]
    spec = TELEPHONE_CODECS[codec]
    desc = "8 kHz, 300-3400 Hz"
    if spec is not None:
        rt = ffmpeg_roundtrip(narrow, TELEPHONE_RATE, spec.encoder, spec.container, spec.args,
                              spec.frame)
        narrow = [_band_limit(x, TELEPHONE_RATE) for x in rt.signals]
        desc += f", {rt.codec} {rt.kbps:.1f} kbps"
    out = []
    for src, y in zip(signals, narrow, strict=True):
        y = _resample(y, TELEPHONE_RATE, sample_rate)[: np.asarray(src).size]
        if y.size < np.asarray(src).size:
            y = np.concatenate([y, np.zeros(np.asarray(src).size - y.size, np.float32)])
        r = _rms(y)
        out.append(_fit_peak(y * (_rms(np.asarray(src)) / r)) if r > 0 else y)
    return out, desc


def codec_batch(signals: Sequence[np.ndarray], sample_rate: int,
                cond: Condition) -> tuple[list[np.ndarray], str]:
    """Lossy compression at `cond.value` kbps (one round trip for the batch); returns the copies
    and a description with the codec the decoder saw and the bit rate of the encoded stream."""
    spec = LOSSY_CODECS[str(cond.codec)]
    rt = ffmpeg_roundtrip(signals, sample_rate, spec.encoder, spec.container,
                          ("-b:a", f"{cond.value:g}k", *spec.args), spec.frame)
    return [_fit_peak(y) for y in rt.signals], f"{rt.codec} {rt.kbps:.1f} kbps"


# ----------------------------------------------------------------------------- dispatcher


@dataclass
class Copy:
    """One degraded copy, or the reason it could not be made."""

    signal: np.ndarray | None
    detail: str | None = None
    error: str | None = None


def degrade_batch(cond: Condition, clips: Sequence[tuple[str, np.ndarray]], *, sample_rate: int,
                  seed: int = 0, rir_bank: RirBank | None = None) -> list[Copy]:
    """Copies of `clips` ((id, signal) pairs) under one non-noise condition, in input order.
    Per-clip choices (which room) depend on (seed, clip id, condition) only; a batch that fails
    as a whole (a codec missing from ffmpeg) gives every clip the reason."""
    if cond.kind == "noise":
        raise ValueError("noise copies are made by ser.augment (they need the noise sources)")
    if not clips:
        return []
    if cond.kind == "gain":
        return [Copy(apply_gain(x, float(cond.value or 0.0)), f"{cond.level} dB")
                for _, x in clips]
    if cond.kind == "reverb":
        if rir_bank is None:
            raise ValueError("reverb copies need the run's impulse-response bank")
        pool = rir_bank.indices(cond.level)
        if not pool:
            return [Copy(None, error=f"no impulse response of level {cond.level} in the bank")
                    for _ in clips]
        out = []
        for cid, x in clips:
            i = pool[int(rng_for(seed, cid, cond.tag).integers(len(pool)))]
            try:
                out.append(Copy(reverberate(x, rir_bank.rir(i)),
                                f"{rir_bank.names[i]}, measured RT60 {rir_bank.rt60[i]:.2f} s"))
            except ValueError as exc:
                out.append(Copy(None, error=str(exc)))
        return out
    try:
        signals = [x for _, x in clips]
        if cond.kind == "telephone":
            ys, desc = telephone_batch(signals, sample_rate, str(cond.codec))
        elif cond.kind == "codec":
            ys, desc = codec_batch(signals, sample_rate, cond)
        else:
            raise ValueError(f"unknown condition kind {cond.kind!r}")
    except ValueError as exc:
        return [Copy(None, error=str(exc)) for _ in clips]
    return [Copy(y, desc) for y in ys]


# ------------------------------------------------------------------------- rows of tables


def row_conditions(frame: Any) -> tuple[np.ndarray, np.ndarray]:
    """(kind, level) per row of a table with `id` and `source_id` (feature, prediction tables):
    ``"clean"``/``""`` for clean rows. Tables without ids fall back on `snr_db` (noise only)."""
    n = len(frame)
    kinds = np.full(n, "clean", dtype=object)
    levels = np.full(n, "", dtype=object)
    if "id" in frame.columns and "source_id" in frame.columns:
        cache: dict[str, Condition] = {}
        for i, (rid, src) in enumerate(zip(frame["id"].astype(str), frame["source_id"].astype(str),
                                           strict=True)):
            if rid == src:
                continue
            tag = rid[len(src) + 1:] if rid.startswith(src + "#") else None
            if tag is None:
                raise ValueError(f"row {rid!r} is neither clip {src!r} nor a copy of it")
            if tag not in cache:
                cache[tag] = parse_tag(tag)
            kinds[i], levels[i] = cache[tag].kind, cache[tag].level
        return kinds, levels
    if "snr_db" in frame.columns:
        import pandas as pd

        snr = pd.to_numeric(frame["snr_db"], errors="coerce").to_numpy(dtype=float)
        noisy = ~np.isnan(snr)
        kinds[noisy] = "noise"
        levels[noisy] = [level_text(s) for s in snr[noisy]]
    return kinds, levels


def clean_mask(frame: Any) -> np.ndarray:
    """True for the clean rows of a table (not a copy under any condition)."""
    return row_conditions(frame)[0] == "clean"


TRAIN_ON_PRESETS = ("clean", "clean+noisy")


def check_train_on(train_on: str | Sequence[str]) -> None:
    """`train_on` is `clean`, `clean+noisy` (clean clips and every degraded copy) or a list of
    `clean` and condition kinds, e.g. `[clean, noise, reverb]`; ValueError otherwise."""
    if isinstance(train_on, str):
        if train_on not in TRAIN_ON_PRESETS:
            raise ValueError(f"train_on must be one of {TRAIN_ON_PRESETS} or a list of clean and "
                             f"condition kinds {list(CONDITION_KINDS)}, got {train_on!r}")
        return
    items = [str(k) for k in train_on]
    bad = sorted(set(items) - {"clean", *CONDITION_KINDS})
    if not items or bad:
        raise ValueError(f"train_on: {bad or 'empty list'}: list `clean` and/or condition kinds "
                         f"{list(CONDITION_KINDS)}")


def training_rows(frame: Any, train_on: str | Sequence[str]) -> np.ndarray:
    """Rows of a feature table that `train_on` trains on: clean rows, every copy
    (`clean+noisy`), or clean rows and/or copies of the listed condition kinds."""
    check_train_on(train_on)
    kinds = row_conditions(frame)[0]
    if train_on == "clean":
        return kinds == "clean"
    if train_on == "clean+noisy":
        return np.ones(len(kinds), dtype=bool)
    return np.isin(kinds, [str(k) for k in train_on])


def balanced_index(frame: Any) -> np.ndarray:
    """Row indices of a training part with every clean row repeated round(copies / clean) times,
    so the clean clips weigh as much as all their degraded copies together (condition-balanced
    training: measured on ravdess-dev to keep clean accuracy that plain multi-condition training
    loses, docs/accuracy.md). Repetition rather than sample weights works for every arch, and
    for a logistic regression it is exactly an integer sample weight."""
    clean = row_conditions(frame)[0] == "clean"
    n_clean, n_copies = int(clean.sum()), int((~clean).sum())
    repeat = max(1, round(n_copies / n_clean)) if n_clean else 1
    counts = np.where(clean, repeat, 1)
    return np.repeat(np.arange(len(frame)), counts)
