"""Degraded copies of clean clips: noise at fixed signal-to-noise ratios (white, pink, brown,
babble, files), and the other conditions of ser.conditions (reverberation, telephone, codecs, gain).

Why: accuracy-vs-SNR is part of every evaluation, and noisy training copies are what seed S1 used to
make its model robust. Everything here is deterministic per (seed, clip id, SNR): the random
generator of one noisy copy is derived from a hash of those three values only, so a rerun, a
different shard layout or a different job order gives the same bytes.

Noise generation is plain numpy (FFT shaping of Gaussian white noise). audiomentations'
`AddColorNoise` was not used: it draws from numpy's and Python's *global* random state, which
cannot be made deterministic per clip without reseeding process-wide state.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser.audio import decode, read_wav, write_wav
from ser.conditions import Condition, degrade_batch, level_text, load_rir_bank, parse_tag
from ser.conditions import noise as noise_condition
from ser.io import atomic_path, write_parquet

NOISE_KINDS = ("white", "pink", "brown", "babble")
NOISE_FILE_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aif", ".aiff", ".opus")
PEAK = 32767 / 32768  # largest value a PCM16 WAV can hold
BABBLE_FALLBACK = "pink (babble unavailable)"
UNKNOWN_SPEAKERS = ("", "unknown")  # the audio stage writes "unknown" when a corpus has none
OUT_COLUMNS = ["id", "source_id", "condition", "level", "snr_db", "noise", "detail", "wav",
               "status", "reason"]

_COLOR_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def snr_tag(snr_db: float) -> str:
    """`10` -> `snr10`, `-5` -> `snr-5`, `2.5` -> `snr2.5` (the `g` format of the id scheme)."""
    return f"snr{level_text(snr_db)}"


def noisy_id(source_id: str, snr_db: float) -> str:
    """Row id of a noisy copy: `{source_id}#snr{S:g}`."""
    return f"{source_id}#{snr_tag(snr_db)}"


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def mix_parts(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, float]:
    """Scale `noise` to `snr_db` below `clean` (RMS over the whole clip); return (scaled noise,
    common gain) where the common gain (<= 1) keeps clean + noise inside the PCM16 range."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape or clean.ndim != 1:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} must be equal-length 1-D")
    rc, rn = _rms(clean), _rms(noise)
    if not np.isfinite(rc) or not np.isfinite(rn):
        raise ValueError("non-finite samples in clean signal or noise")
    if rc == 0.0:
        raise ValueError("clean clip is silent: SNR undefined")
    if rn == 0.0:
        raise ValueError("noise is silent: cannot reach any SNR")
    scaled = noise * (rc / rn) * 10.0 ** (-float(snr_db) / 20.0)
    peak = float(np.max(np.abs(clean + scaled)))
    gain = min(1.0, PEAK / peak) if peak > 0 else 1.0
    return scaled, gain


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Mix `noise` into `clean` at exactly `snr_db` (RMS of clean vs RMS of scaled noise over the
    whole clip). If the sum would clip, clean and noise are scaled together, so the SNR holds."""
    scaled, gain = mix_parts(clean, noise, snr_db)
    return ((np.asarray(clean, dtype=np.float64) + scaled) * gain).astype(np.float32)


def make_noise(kind: str, n: int, rng: np.random.Generator, *, sample_rate: int = 16000,
               f_min: float = 20.0) -> np.ndarray:
    """Unit-RMS coloured noise: power spectral density ~ 1/f^a, a = 0 (white), 1 (pink, -3 dB per
    octave), 2 (brown, -6 dB per octave). Below `f_min` Hz the density is held flat so that
    inaudible sub-sonic rumble does not dominate the RMS (and therefore the SNR) of brown noise."""
    if kind not in _COLOR_EXPONENT:
        hint = " (babble needs a bank: use run_augment_shard)" if kind == "babble" else ""
        raise ValueError(f"unknown generated noise kind {kind!r}{hint}; "
                         f"choose from {sorted(_COLOR_EXPONENT)}")
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    a = _COLOR_EXPONENT[kind]
    if a == 0.0:
        x = rng.standard_normal(n)
    else:
        m = n // 2 + 1
        spec = rng.standard_normal(m) + 1j * rng.standard_normal(m)
        f = np.maximum(np.fft.rfftfreq(n, d=1.0 / sample_rate), max(f_min, 1e-9))
        spec *= f ** (-a / 2.0)
        spec[0] = 0.0  # no DC offset
        x = np.fft.irfft(spec, n)
    x = x - x.mean()
    r = _rms(x)
    return (x / r if r > 0 else x).astype(np.float32)


def _loop(x: np.ndarray, n: int, offset: int) -> np.ndarray:
    """`n` samples of `x` from `offset` on, wrapping around (crops when long, loops when short)."""
    return x[(offset + np.arange(n)) % x.size]


def _rng_for(seed: int, clip_id: str, snr_db: float) -> np.random.Generator:
    """A generator that depends only on (seed, clip id, SNR), stable across processes."""
    digest = hashlib.sha256(f"{int(seed)}\0{clip_id}\0{float(snr_db)!r}".encode()).digest()
    return np.random.default_rng(np.random.SeedSequence(list(np.frombuffer(digest, "<u4"))))


# --------------------------------------------------------------------------------------- babble


@dataclass(frozen=True)
class BabbleBank:
    """Utterances for babble noise: one float32 signal, offsets[i]:offsets[i+1] is utterance i."""

    signal: np.ndarray
    offsets: np.ndarray
    speakers: np.ndarray
    ids: np.ndarray
    sample_rate: int

    def __len__(self) -> int:
        return int(self.speakers.size)

    def utterance(self, i: int) -> np.ndarray:
        return self.signal[self.offsets[i]:self.offsets[i + 1]]


def load_babble_bank(path: Path) -> BabbleBank:
    """Load a bank written by `build_babble_bank` (no pickle involved)."""
    with np.load(path, allow_pickle=False) as z:
        return BabbleBank(signal=z["signal"], offsets=z["offsets"], speakers=z["speakers"],
                          ids=z["ids"], sample_rate=int(z["sample_rate"]))


def _ok_rows(manifest: Path):
    import pandas as pd

    df = pd.read_parquet(manifest)
    missing = {"id", "speaker", "status", "wav"} - set(df.columns)
    if missing:
        raise ValueError(f"{manifest}: manifest lacks columns {sorted(missing)}")
    return df[(df["status"] == "ok") & df["wav"].notna()]


def _read_clip(wav: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Read a clean WAV as float32 mono; its rate must be the run's rate (no silent resampling)."""
    signal, sr = read_wav(wav)
    if sr != sample_rate:
        raise ValueError(f"WAV is {sr} Hz, expected {sample_rate} Hz")
    if signal.size == 0:
        raise ValueError("WAV has no samples")
    return signal


def build_babble_bank(shard_manifests: Sequence[Path], out: Path, *, sample_rate: int,
                      n_utterances: int = 16, seed: int = 0,
                      max_seconds: float | None = 10.0) -> None:
    """Pick `n_utterances` ok clips (deterministically, spread over as many speakers as possible)
    and store them in an .npz without object arrays: float32 `signal`, int64 `offsets`,
    fixed-width unicode `speakers` and `ids`, and `sample_rate`. Unreadable or silent clips are
    skipped in favour of the next candidate. An empty bank is valid (babble then falls back)."""
    import pandas as pd

    frames = [_ok_rows(Path(m)) for m in shard_manifests]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[tuple[str, str]]] = {}
    if len(df):
        df = df.sort_values("id", kind="stable")
        for cid, spk, wav in zip(df["id"], df["speaker"], df["wav"], strict=True):
            key = "" if spk is None or (isinstance(spk, float) and np.isnan(spk)) else str(spk)
            by_speaker.setdefault(key, []).append((str(cid), str(wav)))
    speakers = sorted(by_speaker)
    rng.shuffle(speakers)
    queues = {s: [by_speaker[s][i] for i in rng.permutation(len(by_speaker[s]))]
              for s in speakers}
    chosen: list[tuple[str, str, np.ndarray]] = []
    max_len = None if max_seconds is None else int(round(max_seconds * sample_rate))
    while len(chosen) < n_utterances and any(queues.values()):
        for s in speakers:  # round-robin over speakers
            if len(chosen) >= n_utterances or not queues[s]:
                continue
            cid, wav = queues[s].pop(0)
            try:
                x = _read_clip(wav, sample_rate)
            except Exception as exc:  # noqa: BLE001 - a bad clip is skipped, not fatal
                print(f"[babble bank] skipping {cid}: {exc}", file=sys.stderr)
                continue
            if max_len is not None:
                x = x[:max_len]
            if _rms(x) == 0.0 or not np.all(np.isfinite(x)):
                continue
            chosen.append((cid, s, x.astype(np.float32)))
    lengths = [c[2].size for c in chosen]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    signal = (np.concatenate([c[2] for c in chosen]) if chosen
              else np.zeros(0, np.float32)).astype(np.float32)
    spk_arr = np.array([c[1] for c in chosen], dtype=f"<U{max([1, *map(len, speakers)])}")
    id_arr = np.array([c[0] for c in chosen],
                      dtype=f"<U{max([1, *(len(c[0]) for c in chosen)])}")
    with atomic_path(out, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, signal=signal, offsets=offsets, speakers=spk_arr, ids=id_arr,
                 sample_rate=np.int64(sample_rate))


def babble_noise(bank: BabbleBank, speaker: str | None, clip_id: str, n: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, list[int]] | None:
    """Sum of 4-6 bank utterances of speakers other than `speaker` (looped, random offsets, each
    at equal RMS); returns (noise, bank indices used), or None when fewer than 2 qualify. An
    unknown speaker (None, "" or "unknown") only excludes the clip itself."""
    spk = "" if speaker is None or str(speaker) in UNKNOWN_SPEAKERS else str(speaker)
    others = [i for i in range(len(bank))
              if str(bank.ids[i]) != clip_id and (spk == "" or str(bank.speakers[i]) != spk)]
    if len(others) < 2:
        return None
    k = min(int(rng.integers(4, 7)), len(others))
    picks = sorted(int(i) for i in rng.choice(others, size=k, replace=False))
    total = np.zeros(n, dtype=np.float64)
    for i in picks:
        u = bank.utterance(i).astype(np.float64)
        seg = _loop(u, n, int(rng.integers(0, u.size)))
        r = _rms(seg)
        if r > 0:
            total += seg / r
    return total.astype(np.float32), picks


# ----------------------------------------------------------------------------------- noise files


class _NoiseSources:
    """Resolves the `noise` config entries (kinds or files/folders) and caches decoded files."""

    def __init__(self, entries: Sequence[str], sample_rate: int, babble_bank: Path | None):
        if not entries:
            raise ValueError("augment.noise is empty: give at least one noise kind or file")
        self.sample_rate = sample_rate
        self.entries: list[tuple[str, list[Path]]] = []
        for entry in entries:
            entry = str(entry)
            if entry in NOISE_KINDS:
                self.entries.append((entry, []))
                continue
            p = Path(entry)
            if p.is_dir():
                files = sorted(f for f in p.rglob("*") if f.is_file()
                               and f.suffix.lower() in NOISE_FILE_SUFFIXES
                               and not f.name.startswith("."))
                if not files:
                    raise ValueError(f"noise folder {entry!r} holds no audio file "
                                     f"({', '.join(NOISE_FILE_SUFFIXES)})")
                self.entries.append(("files", files))
            elif p.is_file():
                self.entries.append(("files", [p]))
            else:
                raise ValueError(f"noise entry {entry!r} is neither a kind {NOISE_KINDS} "
                                 "nor an existing file or folder")
        self.bank = load_babble_bank(babble_bank) if babble_bank is not None else None
        if self.bank is not None and self.bank.sample_rate != sample_rate:
            raise ValueError(f"babble bank is {self.bank.sample_rate} Hz, run is {sample_rate} Hz")
        self._cache: dict[Path, np.ndarray] = {}

    def _file(self, path: Path) -> np.ndarray:
        if path not in self._cache:
            x = decode(path, self.sample_rate)  # any container, resampled by ffmpeg
            if x.size == 0 or _rms(x) == 0.0:
                raise ValueError(f"noise file {path} is empty or silent")
            self._cache[path] = x
        return self._cache[path]

    def draw(self, clip_id: str, speaker: str | None, n: int,
             rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """Pick an entry with `rng` and return (noise of n samples, its description)."""
        kind, files = self.entries[int(rng.integers(len(self.entries)))]
        if kind == "files":
            path = files[int(rng.integers(len(files)))]
            x = self._file(path)
            return _loop(x, n, int(rng.integers(0, x.size))), path.as_posix()
        if kind == "babble":
            got = (babble_noise(self.bank, speaker, clip_id, n, rng)
                   if self.bank is not None else None)
            if got is not None:
                return got[0], "babble"
            return make_noise("pink", n, rng, sample_rate=self.sample_rate), BABBLE_FALLBACK
        return make_noise(kind, n, rng, sample_rate=self.sample_rate), kind


# ----------------------------------------------------------------------------------- shard job


def _read_clips(clips, sample_rate: int
                ) -> list[tuple[str, str | None, np.ndarray | None, str | None]]:
    """(id, speaker, clean signal or None, reason it could not be read) per ok clip."""
    out = []
    for cid, spk, wav in zip(clips["id"], clips["speaker"], clips["wav"], strict=True):
        cid = str(cid)
        speaker = None if spk is None or (isinstance(spk, float) and np.isnan(spk)) else str(spk)
        clean: np.ndarray | None = None
        read_error = None
        rel = Path(cid + "__x")
        if rel.is_absolute() or ".." in rel.parts:
            read_error = f"clip id {cid!r} would escape the output folder"
        else:
            try:
                clean = _read_clip(wav, sample_rate)
            except Exception as exc:  # noqa: BLE001 - recorded as the row's reason
                read_error = f"cannot read clean WAV {wav}: {exc}"
        out.append((cid, speaker, clean, read_error))
    return out


def run_augment_shard(shard_manifest: Path, out_table: Path, out_dir: Path, *,
                      snr_db: Sequence[float], noise: Sequence[str], babble_bank: Path | None,
                      sample_rate: int, seed: int = 0,
                      conditions: Sequence[Condition | str] = (),
                      rir_bank: Path | None = None) -> None:
    """Write one degraded copy per ok clip and condition to `out_dir/{source_id}__{tag}.wav`
    (`snr10`, `rt0.6`, `tel-ulaw`, ...) and one row per copy to `out_table`; a copy that fails
    is a `rejected` row with its reason. `conditions` are the non-noise conditions (objects or
    tags, see ser.conditions); `rir_bank` is needed for reverberation."""
    import pandas as pd
    import pyarrow as pa

    snrs = [float(s) for s in snr_db]
    if len(set(map(snr_tag, snrs))) != len(snrs):
        raise ValueError(f"augment.snr_db has duplicates: {list(snr_db)}")
    conds = [c if isinstance(c, Condition) else parse_tag(str(c)) for c in conditions]
    if any(c.kind == "noise" for c in conds):
        raise ValueError("noise conditions are given by snr_db, not in `conditions`")
    sources = (_NoiseSources(noise, sample_rate, Path(babble_bank) if babble_bank else None)
               if snrs else None)
    bank = None
    if any(c.kind == "reverb" for c in conds):
        if rir_bank is None:
            raise ValueError("reverberation needs the impulse-response bank (rir_bank)")
        bank = load_rir_bank(Path(rir_bank))
        if bank.sample_rate != sample_rate:
            raise ValueError(f"RIR bank is {bank.sample_rate} Hz, run is {sample_rate} Hz")
    clips = _read_clips(_ok_rows(Path(shard_manifest)), sample_rate)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # exists even when no copy is written (directory())
    rows: list[dict] = []

    def row_for(cid: str, cond: Condition, read_error: str | None) -> dict:
        return {"id": cond.copy_id(cid), "source_id": cid, "condition": cond.kind,
                "level": cond.level, "snr_db": cond.value if cond.kind == "noise" else None,
                "noise": None, "detail": None, "wav": None, "status": "rejected",
                "reason": read_error}

    def write(row: dict, cid: str, cond: Condition, signal: np.ndarray) -> None:
        target = out_dir / f"{cid}__{cond.tag}.wav"
        write_wav(target, signal, sample_rate)
        row.update(wav=target.as_posix(), status="ok", reason=None)

    for cid, speaker, clean, read_error in clips:
        for snr in snrs:
            cond = noise_condition(snr)
            row = row_for(cid, cond, read_error)
            if clean is not None and sources is not None:
                try:
                    rng = _rng_for(seed, cid, snr)
                    n, desc = sources.draw(cid, speaker, clean.size, rng)
                    row["noise"] = row["detail"] = desc
                    write(row, cid, cond, mix_at_snr(clean, n, snr))
                except Exception as exc:  # noqa: BLE001 - recorded as the row's reason
                    row["reason"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
    readable = [(cid, clean) for cid, _, clean, _ in clips if clean is not None]
    for cond in conds:
        copies = iter(degrade_batch(cond, readable, sample_rate=sample_rate, seed=seed,
                                    rir_bank=bank))
        for cid, _, clean, read_error in clips:
            row = row_for(cid, cond, read_error)
            if clean is not None:
                copy = next(copies)
                row["detail"] = copy.detail
                if copy.signal is None:
                    row["reason"] = copy.error
                else:
                    try:
                        write(row, cid, cond, copy.signal)
                    except Exception as exc:  # noqa: BLE001 - recorded as the row's reason
                        row["reason"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
    schema = pa.schema([("id", pa.string()), ("source_id", pa.string()),
                        ("condition", pa.string()), ("level", pa.string()),
                        ("snr_db", pa.float64()), ("noise", pa.string()), ("detail", pa.string()),
                        ("wav", pa.string()), ("status", pa.string()), ("reason", pa.string())])
    table = pa.Table.from_pandas(pd.DataFrame(rows, columns=OUT_COLUMNS), schema=schema,
                                 preserve_index=False)
    write_parquet(table, out_table, meta={"stage": "augment", "snr_db": snrs,
                                          "noise": [str(x) for x in noise], "seed": int(seed),
                                          "conditions": [c.tag for c in conds],
                                          "sample_rate": int(sample_rate)})

