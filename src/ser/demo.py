"""Embedded demo corpus: deterministic, synthetic, RAVDESS-shaped emotional "speech".

Why: the default configuration must run the whole workflow offline, with no data download, on
a corpus that the RAVDESS parser accepts as is (``Actor_XX/01-01-EE-II-SS-RR-AA.mp4``, some
``.avi``), and whose emotions are learnable but not trivially so. The audio is made by a small
source-filter synthesiser (glottal pulses with jitter, shimmer and aspiration noise, formant
resonators per vowel, noise bursts for consonants). Emotions act on prosody and voice quality
only (:data:`PROSODY`); speakers differ in F0, vocal-tract length and in how they express each
emotion, and every utterance gets its own random variation, so classes overlap.

Everything is seeded per file, and ffmpeg runs single-threaded in bit-exact mode, so the same
arguments give byte-identical files.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 48_000
"""Audio sample rate of the generated files (the pipeline resamples to 16 kHz)."""

EMOTIONS: dict[int, str] = {
    1: "neutral",
    2: "calm",
    3: "happy",
    4: "sad",
    5: "angry",
    6: "fearful",
    7: "disgust",
    8: "surprised",
}
"""RAVDESS emotion codes."""

VIDEO_SIZE = (64, 48)
VIDEO_FPS = 10
MAX_SPEAKERS = 24  # RAVDESS actor ids run 01..24

# Prosody and voice quality per emotion at normal intensity. Names:
#   f0_st      mean F0 offset from the speaker's base (semitones)
#   range_st   height of pitch accents on stressed syllables (semitones)
#   slope_st   declination over the utterance (semitones, negative = falling)
#   final_st   movement over the last syllable (semitones, + = rising)
#   tremor_st  depth of a ~5.5 Hz F0 tremor (semitones)
#   tempo      syllable rate factor (1 = neutral)
#   loud_db    level offset (dB)
#   jitter     cycle-to-cycle F0 perturbation (relative sd)
#   shimmer    cycle-to-cycle amplitude perturbation (relative sd)
#   oq         glottal open quotient (low = pressed, high = breathy)
#   tilt       one-pole low-pass on the source (0 = bright/pressed, 0.7 = dark/soft)
#   breath     aspiration noise level relative to the voiced source
#   formant    formant scale (lip spreading > 1, rounding/pharyngeal constriction < 1)
#   pause      probability of a short pause after a word
# fmt: off
PROSODY: dict[str, dict[str, float]] = {
    "neutral": dict(f0_st=0.0, range_st=1.5, slope_st=-2.0, final_st=-1.5, tremor_st=0.0,
                    tempo=1.0, loud_db=0.0, jitter=0.010, shimmer=0.035, oq=0.60, tilt=0.35,
                    breath=0.04, formant=1.0, pause=0.10),
    "calm": dict(f0_st=-0.8, range_st=1.2, slope_st=-2.0, final_st=-2.0, tremor_st=0.0,
                 tempo=0.90, loud_db=-3.0, jitter=0.009, shimmer=0.030, oq=0.66, tilt=0.50,
                 breath=0.07, formant=1.0, pause=0.20),
    "happy": dict(f0_st=3.0, range_st=5.0, slope_st=-0.5, final_st=1.5, tremor_st=0.0,
                  tempo=1.08, loud_db=2.0, jitter=0.011, shimmer=0.035, oq=0.55, tilt=0.25,
                  breath=0.04, formant=1.06, pause=0.05),
    "sad": dict(f0_st=-1.2, range_st=0.8, slope_st=-3.0, final_st=-3.5, tremor_st=0.2,
                tempo=0.78, loud_db=-5.0, jitter=0.016, shimmer=0.050, oq=0.72, tilt=0.60,
                breath=0.10, formant=0.98, pause=0.35),
    "angry": dict(f0_st=3.0, range_st=3.5, slope_st=-2.5, final_st=-3.0, tremor_st=0.0,
                  tempo=1.12, loud_db=6.0, jitter=0.014, shimmer=0.045, oq=0.45, tilt=0.10,
                  breath=0.02, formant=1.02, pause=0.05),
    "fearful": dict(f0_st=5.0, range_st=2.0, slope_st=0.0, final_st=1.0, tremor_st=0.8,
                    tempo=1.20, loud_db=1.0, jitter=0.022, shimmer=0.050, oq=0.62, tilt=0.40,
                    breath=0.08, formant=1.02, pause=0.15),
    "disgust": dict(f0_st=-0.5, range_st=3.0, slope_st=-3.5, final_st=-2.5, tremor_st=0.0,
                    tempo=0.85, loud_db=1.0, jitter=0.020, shimmer=0.060, oq=0.50, tilt=0.30,
                    breath=0.05, formant=0.97, pause=0.20),
    "surprised": dict(f0_st=3.5, range_st=3.5, slope_st=2.0, final_st=6.0, tremor_st=0.0,
                      tempo=1.0, loud_db=3.0, jitter=0.012, shimmer=0.040, oq=0.58, tilt=0.30,
                      breath=0.05, formant=1.03, pause=0.05),
}
# fmt: on

STRONG_GAIN = 1.6
"""Strong intensity (02) scales every deviation from neutral by this factor."""

# Random variation (standard deviations). Speaker x emotion "style" offsets are drawn once per
# speaker and emotion; utterance offsets once per file. Parameters not listed do not vary.
STYLE_SD: dict[str, float] = dict(
    f0_st=0.7,
    range_st=0.6,
    final_st=0.7,
    tempo=0.045,
    loud_db=1.0,
    jitter=0.002,
    breath=0.015,
    tilt=0.045,
)
UTTERANCE_SD: dict[str, float] = dict(
    f0_st=0.6,
    range_st=0.4,
    final_st=0.6,
    tempo=0.04,
    loud_db=0.8,
    jitter=0.0015,
    breath=0.008,
    tilt=0.03,
)
_LOG_PARAMS = {"tempo"}  # varied multiplicatively

_LIMITS: dict[str, tuple[float, float]] = dict(
    range_st=(0.0, 12.0),
    tremor_st=(0.0, 3.0),
    tempo=(0.5, 1.8),
    jitter=(0.002, 0.06),
    shimmer=(0.01, 0.15),
    oq=(0.3, 0.85),
    tilt=(0.0, 0.85),
    breath=(0.0, 0.3),
    formant=(0.9, 1.1),
    pause=(0.0, 0.8),
)

# Formants F1..F4 (Hz) of an adult male voice (Peterson & Barney style averages).
VOWELS: dict[str, tuple[float, float, float, float]] = {
    "I": (390.0, 1990.0, 2550.0, 3500.0),  # kid, sit
    "a": (730.0, 1090.0, 2440.0, 3400.0),  # are, by (start)
    "o": (570.0, 840.0, 2410.0, 3400.0),  # talk, dog, door
    "@": (500.0, 1500.0, 2500.0, 3500.0),  # the
    "r": (490.0, 1350.0, 1690.0, 3300.0),  # r-colouring
    "N": (300.0, 1150.0, 2300.0, 3300.0),  # nasal coda (ng), weaker
}
_SEGMENT_GAIN = {"N": 0.5, "r": 0.8}


@dataclass(frozen=True)
class Syllable:
    """One syllable of a scripted statement: onset consonant, vowel segments, coda."""

    onset: str
    vowels: tuple[str, ...]
    coda: str = ""
    stress: bool = False
    word_end: bool = True


STATEMENTS: dict[int, tuple[Syllable, ...]] = {
    # 01 "Kids are talking by the door"
    1: (
        Syllable("k", ("I",), "z", True),
        Syllable("", ("a", "r")),
        Syllable("t", ("o",), "", True, False),
        Syllable("k", ("I", "N")),
        Syllable("b", ("a", "I")),
        Syllable("dh", ("@",)),
        Syllable("d", ("o", "r"), "", True),
    ),
    # 02 "Dogs are sitting by the door"
    2: (
        Syllable("d", ("o",), "z", True),
        Syllable("", ("a", "r")),
        Syllable("s", ("I",), "", True, False),
        Syllable("t", ("I", "N")),
        Syllable("b", ("a", "I")),
        Syllable("dh", ("@",)),
        Syllable("d", ("o", "r"), "", True),
    ),
}

# Consonant noise: pass band (Hz), level relative to the vowels, fricative duration (s).
_BURSTS: dict[str, tuple[tuple[float, float], float]] = {
    "b": ((300.0, 1800.0), 0.15),
    "d": ((2500.0, 7000.0), 0.2),
    "g": ((1200.0, 3500.0), 0.2),
    "p": ((300.0, 1800.0), 0.3),
    "t": ((2500.0, 7000.0), 0.4),
    "k": ((1200.0, 3500.0), 0.4),
}
_VOICELESS_STOPS = {"p", "t", "k"}
_FRICATIVES: dict[str, tuple[tuple[float, float], float, float]] = {
    "s": ((3500.0, 9500.0), 0.35, 0.085),
    "z": ((3500.0, 9500.0), 0.2, 0.07),
    "dh": ((1200.0, 6500.0), 0.08, 0.045),
}


@dataclass(frozen=True)
class Speaker:
    """A synthetic actor: voice and habits that stay fixed across that actor's files."""

    actor: int
    male: bool
    f0_hz: float
    vtl: float  # formant scale: shorter vocal tract -> higher formants
    expressiveness: float  # scales every emotional deviation from neutral
    offsets: dict[str, float]  # speaker baseline offsets (all emotions)
    style: dict[int, dict[str, float]]  # per-emotion offsets (the speaker's own way)


@dataclass(frozen=True)
class Clip:
    """One planned corpus file (RAVDESS name fields)."""

    actor: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    container: str  # "mp4" or "avi"

    @property
    def stem(self) -> str:
        """RAVDESS name ``01-01-EE-II-SS-RR-AA`` (audio-video, speech)."""
        return (
            f"01-01-{self.emotion:02d}-{self.intensity:02d}-{self.statement:02d}-"
            f"{self.repetition:02d}-{self.actor:02d}"
        )

    @property
    def rel(self) -> str:
        """Path relative to the corpus root."""
        return f"Actor_{self.actor:02d}/{self.stem}.{self.container}"


def generator_id() -> str:
    """A hash of this module's source, given to the demo rule as a parameter.

    Why: Snakemake reruns a rule when its script or params change, not when library code does;
    without this, a changed generator would leave an old corpus (and every result made from it)
    in place."""
    import hashlib

    return hashlib.blake2b(Path(__file__).read_bytes(), digest_size=8).hexdigest()


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in keys])


def make_speaker(actor: int, seed: int = 0) -> Speaker:
    """Draw actor ``actor``'s voice; odd ids are male, even female, as in RAVDESS."""
    rng = _rng(seed, actor, 1)
    male = actor % 2 == 1
    f0 = float(np.exp(rng.normal(np.log(115.0 if male else 210.0), 0.12)))
    vtl = float((1.0 if male else 1.16) * np.exp(rng.normal(0.0, 0.04)))
    offsets = dict(
        tempo=float(rng.normal(0.0, 0.06)),
        loud_db=float(rng.normal(0.0, 1.5)),
        jitter=float(rng.normal(0.0, 0.002)),
        breath=float(abs(rng.normal(0.0, 0.02))),
        tilt=float(rng.normal(0.0, 0.08)),
        oq=float(rng.normal(0.0, 0.04)),
    )
    expressiveness = float(rng.uniform(0.7, 1.3))
    style: dict[int, dict[str, float]] = {}
    for code in EMOTIONS:
        srng = _rng(seed, actor, 2, code)
        style[code] = {k: float(srng.normal(0.0, sd)) for k, sd in STYLE_SD.items()}
    return Speaker(actor, male, f0, vtl, expressiveness, offsets, style)


def utterance_params(
    speaker: Speaker, emotion: int, intensity: int, rng: np.random.Generator
) -> dict[str, float]:
    """Prosody for one file: emotion table, intensity, speaker habits and per-file variation."""
    if emotion not in EMOTIONS:
        raise ValueError(f"emotion code must be 1..8, got {emotion}")
    if intensity not in (1, 2) or (emotion == 1 and intensity == 2):
        raise ValueError(f"invalid intensity {intensity} for emotion {emotion}")
    base = PROSODY["neutral"]
    target = PROSODY[EMOTIONS[emotion]]
    gain = speaker.expressiveness * (STRONG_GAIN if intensity == 2 else 1.0)
    out: dict[str, float] = {}
    for name, b in base.items():
        if name in _LOG_PARAMS:
            value = float(np.exp(np.log(b) + gain * (np.log(target[name]) - np.log(b))))
        else:
            value = b + gain * (target[name] - b)
        out[name] = value
    for name, v in speaker.offsets.items():
        out[name] = out[name] * np.exp(v) if name in _LOG_PARAMS else out[name] + v
    noise = {k: float(rng.normal(0.0, sd)) for k, sd in UTTERANCE_SD.items()}
    for extra in (speaker.style[emotion], noise):
        for name, v in extra.items():
            out[name] = out[name] * np.exp(v) if name in _LOG_PARAMS else out[name] + v
    for name, (lo, hi) in _LIMITS.items():
        out[name] = float(np.clip(out[name], lo, hi))
    return out


# --------------------------------------------------------------------------- timing


@dataclass
class _Timeline:
    n: int
    voicing: np.ndarray  # 0..1 gate of the glottal source
    amp: np.ndarray  # syllable loudness contour
    segments: list[tuple[int, int, str]]  # vowel-like segments: start, end, vowel
    noises: list[tuple[int, int, str]]  # consonant noise events: start, end, kind
    aspiration: list[tuple[int, int]]  # voiceless-stop release noise (pre-filter)
    accents: list[tuple[float, float, float]]  # centre (s), width (s), relative height
    last_vowel: tuple[int, int]


def _ramp_gate(gate: np.ndarray, a: int, b: int, ramp: int, level: float = 1.0) -> None:
    """Set gate[a:b] to ``level`` with raised-cosine ramps of ``ramp`` samples at each end."""
    if b <= a:
        return
    length = b - a
    ramp = max(1, min(ramp, length // 2))
    shape = np.ones(length)
    edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
    shape[:ramp] = edge
    shape[length - ramp :] = edge[::-1]
    gate[a:b] = np.maximum(gate[a:b], level * shape)


def _plan_timeline(
    syllables: Sequence[Syllable],
    p: dict[str, float],
    rng: np.random.Generator,
    sr: int,
    duration_s: tuple[float, float],
) -> _Timeline:
    """Lay syllables, consonants and pauses out in time (the syllable rhythm of the utterance)."""
    tempo = p["tempo"]
    lead, trail = rng.uniform(0.08, 0.15), rng.uniform(0.10, 0.18)
    syl = np.array([0.165 * (1.3 if s.stress else 0.85) for s in syllables])
    syl = syl * np.exp(rng.normal(0.0, 0.08, len(syllables))) / tempo
    pauses = np.array(
        [
            rng.uniform(0.04, 0.10) / tempo
            if (s.word_end and i < len(syllables) - 1 and rng.random() < p["pause"])
            else 0.0
            for i, s in enumerate(syllables)
        ]
    )
    speech = float(syl.sum() + pauses.sum())
    lo, hi = duration_s
    total = lead + speech + trail
    if total > hi or total < lo:  # keep the clip inside the requested range
        scale = (float(np.clip(total, lo, hi)) - lead - trail) / speech
        syl, pauses = syl * scale, pauses * scale
    n = int(round((lead + float(syl.sum() + pauses.sum()) + trail) * sr))
    voicing, amp = np.zeros(n), np.zeros(n)
    segments: list[tuple[int, int, str]] = []
    noises: list[tuple[int, int, str]] = []
    aspiration: list[tuple[int, int]] = []
    accents: list[tuple[float, float, float]] = []
    cons_scale = float(np.clip(tempo, 0.6, 1.6)) ** -0.5  # consonants stretch less than vowels
    t = lead
    last_vowel = (0, 0)
    for i, s in enumerate(syllables):
        d = float(syl[i])
        onset = 0.0
        v_extra = 0.0  # release aspiration that the vowel filter must cover
        if s.onset in _BURSTS:
            closure = 0.035 * cons_scale
            burst = 0.012
            vot = (0.04 if s.onset in _VOICELESS_STOPS else 0.01) * cons_scale
            onset = min(closure + burst + vot, 0.45 * d)
            k = onset / (closure + burst + vot)
            b0 = t + closure * k
            noises.append((int(b0 * sr), int((b0 + burst * k) * sr), s.onset))
            if s.onset in _VOICELESS_STOPS:
                a0 = b0 + burst * k
                aspiration.append((int(a0 * sr), int((t + onset) * sr)))
                v_extra = vot * k
        elif s.onset in _FRICATIVES:
            onset = min(_FRICATIVES[s.onset][2] * cons_scale, 0.4 * d)
            noises.append((int(t * sr), int((t + onset) * sr), s.onset))
        coda = min(_FRICATIVES[s.coda][2] * cons_scale, 0.3 * d) if s.coda else 0.0
        v0, v1 = t + onset, t + d - coda
        i0, i1 = int(v0 * sr), int(v1 * sr)
        level = 1.0 if s.stress else 0.7
        _ramp_gate(voicing, i0, i1 + int(0.01 * sr), int(0.012 * sr))
        amp[int((v0 - v_extra) * sr) : i1 + int(0.02 * sr)] = level
        bounds = np.linspace(v0, v1, len(s.vowels) + 1)
        for j, v in enumerate(s.vowels):
            a = bounds[j] - (v_extra if j == 0 else 0.0)
            segments.append((int(a * sr), int(bounds[j + 1] * sr), v))
        if s.coda:
            noises.append((i1, int((t + d) * sr), s.coda))
        accents.append(((v0 + v1) / 2, (v1 - v0) * 1.5, 1.0 if s.stress else 0.35))
        last_vowel = (i0, i1)
        t += d + float(pauses[i])
    return _Timeline(n, voicing, amp, segments, noises, aspiration, accents, last_vowel)


# --------------------------------------------------------------------------- source


def f0_contour(
    tl: _Timeline, base_hz: float, p: dict[str, float], rng: np.random.Generator, sr: int
) -> np.ndarray:
    """F0 in Hz per sample: level, declination, pitch accents, final movement, tremor, drift."""
    t = np.arange(tl.n) / sr
    dur = tl.n / sr
    st = np.full(tl.n, p["f0_st"]) + p["slope_st"] * (t / dur - 0.5)
    for centre, width, height in tl.accents:
        x = (t - centre) / width
        bump = np.where(np.abs(x) < 1.0, 0.5 + 0.5 * np.cos(np.pi * x), 0.0)
        st += p["range_st"] * height * float(np.exp(rng.normal(0.0, 0.2))) * bump
    a, b = tl.last_vowel
    if b > a:
        x = np.clip((np.arange(tl.n) - a) / (b - a), 0.0, 1.0)
        st += p["final_st"] * x * x * (3.0 - 2.0 * x)  # smoothstep over the last vowel
    st += p["tremor_st"] * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t + rng.uniform(0, 2 * np.pi))
    for _ in range(3):  # slow, small wander
        st += 0.25 * np.sin(2 * np.pi * rng.uniform(0.4, 2.0) * t + rng.uniform(0, 2 * np.pi))
    st = 14.0 * np.tanh(st / 14.0)  # soft limit: extreme tokens stay within ~1 octave
    return np.clip(base_hz * 2.0 ** (st / 12.0), 50.0, 600.0)


def glottal_source(
    f0: np.ndarray, p: dict[str, float], rng: np.random.Generator, sr: int
) -> tuple[np.ndarray, np.ndarray]:
    """Glottal flow derivative (Rosenberg pulses with jitter and shimmer) and the flow itself.

    Jitter perturbs each period's length, shimmer each period's amplitude; the open quotient
    sets how pressed or breathy the pulse is. Returns (excitation, flow), both per sample.
    """
    phase0 = np.cumsum(f0 / sr)
    n_periods = int(phase0[-1]) + 2
    jit = np.clip(1.0 + p["jitter"] * rng.standard_normal(n_periods), 0.7, 1.3)
    f0j = f0 * jit[phase0.astype(np.int64)]
    phase = np.cumsum(f0j / sr)
    period = phase.astype(np.int64)
    frac = phase - period
    oq = p["oq"]
    tp, tn = 0.62 * oq, 0.38 * oq  # opening and closing phase (fractions of the period)
    flow = np.where(
        frac < tp,
        0.5 - 0.5 * np.cos(np.pi * frac / tp),
        np.where(frac < tp + tn, np.cos(0.5 * np.pi * (frac - tp) / tn), 0.0),
    )
    shim = np.exp(p["shimmer"] * rng.standard_normal(int(period[-1]) + 1))
    exc = np.diff(flow, prepend=0.0) * (sr / f0j) * shim[period]
    return exc, flow


def _resonator(x: np.ndarray, freq: float, bw: float, sr: int) -> np.ndarray:
    """Two-pole formant resonator with unity gain at 0 Hz (Klatt cascade section)."""
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bw / sr)
    a1, a2 = -2.0 * r * np.cos(2.0 * np.pi * freq / sr), r * r
    return lfilter([1.0 + a1 + a2], [1.0, a1, a2], x)


def vocal_tract(x: np.ndarray, vowel: str, scale: float, breath: float, sr: int) -> np.ndarray:
    """Filter ``x`` through the formants of ``vowel`` scaled by ``scale`` (cascade F1..F5)."""
    formants = [*VOWELS[vowel], 4500.0]
    bws = [60.0 + 250.0 * breath, 90.0 + 150.0 * breath, 140.0, 200.0, 260.0]
    y = x
    for f, bw in zip(formants, bws, strict=True):
        y = _resonator(y, min(f * scale, 0.45 * sr), bw, sr)
    return y


def _bandpass_noise(
    rng: np.random.Generator, n: int, band: tuple[float, float], sr: int
) -> np.ndarray:
    from scipy.signal import butter, lfilter

    b, a = butter(2, [band[0] / (sr / 2), min(band[1] / (sr / 2), 0.95)], btype="band")
    y = lfilter(b, a, rng.standard_normal(n + 256))[256:]
    return y / (np.std(y) + 1e-12)


# --------------------------------------------------------------------------- utterance


def synthesize_utterance(
    actor: int,
    emotion: int,
    intensity: int,
    statement: int,
    repetition: int = 1,
    *,
    seed: int = 0,
    sr: int = SAMPLE_RATE,
    duration_s: tuple[float, float] = (1.2, 2.0),
) -> np.ndarray:
    """Synthesise one utterance as float32 mono in [-1, 1] (deterministic in all arguments)."""
    if statement not in STATEMENTS:
        raise ValueError(f"statement must be one of {sorted(STATEMENTS)}, got {statement}")
    speaker = make_speaker(actor, seed)
    rng = _rng(seed, actor, emotion, statement, repetition, intensity)
    p = utterance_params(speaker, emotion, intensity, rng)
    tl = _plan_timeline(STATEMENTS[statement], p, rng, sr, duration_s)
    f0 = f0_contour(tl, speaker.f0_hz, p, rng, sr)
    exc, flow = glottal_source(f0, p, rng, sr)
    if p["tilt"] > 0:  # spectral tilt: darker, softer voice
        from scipy.signal import lfilter

        exc = lfilter([1.0 - p["tilt"]], [1.0, -p["tilt"]], exc)
    voiced = tl.voicing > 0.5
    exc_rms = float(np.sqrt(np.mean(exc[voiced] ** 2))) if voiced.any() else 1.0
    hiss = np.diff(rng.standard_normal(tl.n + 1))  # high-passed aspiration noise
    hiss *= (0.4 + flow) * (p["breath"] * 3.0 * exc_rms / np.sqrt(2.0))
    source = tl.voicing * tl.amp * (exc + hiss)
    for a, b in tl.aspiration:  # voiceless-stop release: noise through the next vowel
        source[a:b] += 0.3 * exc_rms * np.diff(rng.standard_normal(b - a + 1)) * np.hanning(b - a)
    scale = speaker.vtl * p["formant"]
    out = np.zeros(tl.n + int(0.03 * sr))
    margin, tail = int(0.015 * sr), int(0.02 * sr)
    for a, b, vowel in tl.segments:
        a0, b0 = max(0, a - margin), min(tl.n, b + margin)
        win = np.ones(b0 - a0)
        edge = min(2 * margin, (b0 - a0) // 2)
        if edge > 0:
            w = np.hanning(2 * edge)
            win[:edge], win[-edge:] = w[:edge], w[edge:]
        seg = np.concatenate([source[a0:b0] * win, np.zeros(tail)])
        y = vocal_tract(seg, vowel, scale, p["breath"], sr) * _SEGMENT_GAIN.get(vowel, 1.0)
        out[a0 : a0 + len(y)] += y
    out = out[: tl.n]
    speech_rms = float(np.sqrt(np.mean(out[voiced] ** 2))) if voiced.any() else 1.0
    for a, b, kind in tl.noises:
        if b <= a:
            continue
        band, rel = _BURSTS[kind] if kind in _BURSTS else _FRICATIVES[kind][:2]
        env = np.hanning(b - a) ** 0.5
        out[a:b] += rel * speech_rms * env * _bandpass_noise(rng, b - a, band, sr)
    level = 10.0 ** ((-24.0 + p["loud_db"]) / 20.0)  # voiced RMS target (dBFS)
    out *= level / max(speech_rms, 1e-12)
    out += 10.0 ** (-72.0 / 20.0) * rng.standard_normal(tl.n)  # faint room noise floor
    fade = int(0.005 * sr)
    ramp = np.linspace(0.0, 1.0, fade)
    out[:fade] *= ramp
    out[-fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(out)))
    if peak > 0.89:  # no clipping: strong angry tokens are limited, not clipped
        out *= 0.89 / peak
    return out.astype(np.float32)


# --------------------------------------------------------------------------- corpus


def plan_corpus(
    n_speakers: int = 6, statements: int = 2, repetitions: int = 1, avi_every: int = 6
) -> list[Clip]:
    """The files of the demo corpus in sorted path order.

    Neutral has normal intensity only; for the other emotions intensity alternates with statement,
    repetition and actor, so with two statements every actor has one normal and one strong token
    per emotion (8 x 2 = 16 files per actor and repetition). Every ``avi_every``-th file in this
    order (1-based; 0 = never) is an AVI instead of an MP4.
    """
    if not 1 <= n_speakers <= MAX_SPEAKERS:
        raise ValueError(f"n_speakers must be 1..{MAX_SPEAKERS}, got {n_speakers}")
    if statements not in (1, 2):
        raise ValueError(f"statements must be 1 or 2 (RAVDESS has two), got {statements}")
    if not 1 <= repetitions <= 99:
        raise ValueError(f"repetitions must be 1..99, got {repetitions}")
    if avi_every < 0:
        raise ValueError(f"avi_every must be >= 0, got {avi_every}")
    clips = []
    for actor in range(1, n_speakers + 1):
        for emotion in EMOTIONS:
            for statement in range(1, statements + 1):
                for rep in range(1, repetitions + 1):
                    intensity = 1 if emotion == 1 else 1 + (actor + statement + rep + 1) % 2
                    clips.append(Clip(actor, emotion, intensity, statement, rep, "mp4"))
    clips.sort(key=lambda c: c.rel)
    return [
        Clip(
            c.actor,
            c.emotion,
            c.intensity,
            c.statement,
            c.repetition,
            "avi" if avi_every and (i + 1) % avi_every == 0 else "mp4",
        )
        for i, c in enumerate(clips)
    ]


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _video_filter(actor: int) -> str:
    """Speaker-specific still pattern (a darker 'face' box on grey): no label information."""
    w, h = VIDEO_SIZE
    x, y = 6 + (actor * 11) % (w - 28), 4 + (actor * 7) % (h - 24)
    shade = 0x30 + (actor * 9) % 0x40
    return f"drawbox=x={x}:y={y}:w=20:h=18:color=0x{shade:02x}{shade:02x}{shade:02x}:t=fill"


def encode_clip(audio: np.ndarray, sr: int, actor: int, dest: Path, container: str) -> None:
    """Mux ``audio`` with a tiny still video into ``dest`` (MP4: H.264+AAC, AVI: MPEG-4+PCM).

    Bit-exact flags and single-threaded encoders make the bytes reproducible; the file is
    written under a hidden temporary name in the same folder and renamed into place.
    """
    if container == "mp4":
        codecs = ["-c:v", "libx264", "-preset", "veryfast", "-x264-params", "threads=1"]
        codecs += ["-c:a", "aac", "-b:a", "96k"]
    elif container == "avi":
        codecs = ["-c:v", "mpeg4", "-q:v", "5", "-c:a", "pcm_s16le"]
    else:
        raise ValueError(f"container must be mp4 or avi, got {container!r}")
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    dur = f"{len(audio) / sr:.4f}"
    w, h = VIDEO_SIZE
    picture = f"color=c=0x808080:s={w}x{h}:r={VIDEO_FPS}:d={dur}"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "s16le", "-ar", str(sr), "-ac", "1", "-i", "pipe:0"]  # audio on stdin
    cmd += ["-f", "lavfi", "-i", picture, "-map", "1:v:0", "-map", "0:a:0"]
    cmd += ["-vf", _video_filter(actor), "-pix_fmt", "yuv420p", "-t", dur, "-threads", "1"]
    cmd += codecs
    cmd += ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
    cmd += ["-map_metadata", "-1", "-map_chapters", "-1", "-f", container]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent.resolve())
    os.close(fd)
    try:
        proc = subprocess.run([*cmd, tmp], input=pcm, capture_output=True, check=False)
        if proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip()[-2000:]
            raise RuntimeError(f"ffmpeg failed for {dest}: {msg}")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; the corpus is ordinary data
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def make_demo_corpus(
    out_dir: Path,
    *,
    n_speakers: int = 6,
    statements: int = 2,
    repetitions: int = 1,
    seed: int = 0,
    avi_every: int = 6,
    duration_s: tuple[float, float] = (1.2, 2.0),
) -> list[Path]:
    """Write the synthetic RAVDESS-like demo corpus under ``out_dir``; return the files written.

    Defaults give 6 actors x 8 emotions x 2 statements = 96 clips of 1.2-2.0 s, 16 of them AVI.
    Files are always regenerated (cheap) and byte-identical for identical arguments.
    """
    lo, hi = duration_s
    if not 0.5 <= lo <= hi:
        raise ValueError(f"duration_s must satisfy 0.5 <= min <= max, got {duration_s}")
    out_dir = Path(out_dir)
    written = []
    for clip in plan_corpus(n_speakers, statements, repetitions, avi_every):
        audio = synthesize_utterance(
            clip.actor,
            clip.emotion,
            clip.intensity,
            clip.statement,
            clip.repetition,
            seed=seed,
            duration_s=duration_s,
        )
        dest = out_dir / clip.rel
        encode_clip(audio, SAMPLE_RATE, clip.actor, dest, clip.container)
        written.append(dest)
    return written
