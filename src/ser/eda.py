"""Exploratory data analysis of one corpus from its manifest: what went in, what was rejected.

Shown before any model so that a reader can judge the results against the data: clip durations,
native sample rates and channel counts, class balance per speaker, one waveform and spectrogram per
class (from the clean 16 kHz WAVs) and how many files were rejected, and why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser import plots
from ser.corpora import label_order
from ser.io import write_json

EDA_FIGURES = ("durations.png", "sample_rates.png", "class_balance.png", "waveforms.png",
               "spectrograms.png", "status.png")
REQUIRED = ("id", "speaker", "label", "duration", "sample_rate", "channels", "status", "reason",
            "wav")
MAX_EXAMPLE_SECONDS = 8.0


def _counts(series: pd.Series) -> dict[str, int]:
    counts = series.dropna().astype(str).value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def _resolve_wav(wav: str, manifest: Path) -> Path | None:
    """The WAV path as written in the manifest (absolute or relative to the working directory),
    else relative to one of the manifest's ancestors (the workflow root)."""
    path = Path(wav)
    if path.is_file():
        return path
    if not path.is_absolute():
        for root in manifest.resolve().parents:
            if (root / path).is_file():
                return root / path
    return None


def _read_example(path: Path) -> tuple[np.ndarray, int] | None:
    import soundfile as sf

    try:
        signal, sr = sf.read(path, dtype="float32", always_2d=True,
                             frames=int(MAX_EXAMPLE_SECONDS * sf.info(path).samplerate))
    except (RuntimeError, OSError, ValueError):  # LibsndfileError is a RuntimeError
        return None
    if signal.size == 0:
        return None
    return signal.mean(axis=1), int(sr)


def _examples(
    ok: pd.DataFrame, labels: list[str], manifest: Path
) -> tuple[list[tuple[str, str, np.ndarray, int]], dict[str, str]]:
    """One readable clean clip per class: the first by id (deterministic), trying a few."""
    examples, chosen = [], {}
    for label in labels:
        rows = ok[ok["label"].astype(str) == label].sort_values("id")
        for clip_id, wav in zip(rows["id"].astype(str).head(5), rows["wav"].head(5),
                                strict=True):
            if wav is None or pd.isna(wav):
                continue
            path = _resolve_wav(str(wav), manifest)
            loaded = _read_example(path) if path is not None else None
            if loaded is not None:
                examples.append((label, clip_id, loaded[0], loaded[1]))
                chosen[label] = clip_id
                break
    return examples, chosen


def run_eda(manifest: Path, out_dir: Path, dataset: str, *, summary: Path | None = None) -> None:
    """Write the EDA figures (:data:`EDA_FIGURES`) into ``out_dir`` and a JSON summary to
    ``summary`` (default ``out_dir/eda.json``) for one corpus manifest.

    The summary lists the figures relative to its own folder, so the report finds them wherever
    the workflow puts them.
    """
    manifest = Path(manifest)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = Path(summary) if summary is not None else out_dir / "eda.json"
    df = pd.read_parquet(manifest)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{manifest}: manifest lacks columns {missing}")
    status = df["status"].astype(str)
    ok = df[status == "ok"].copy()
    labels = label_order(ok["label"].dropna().astype(str))
    rejected = df[status != "ok"]
    reasons = rejected["reason"].fillna("unknown").astype(str).str.split(":").str[0].str.strip()

    durations = pd.to_numeric(ok["duration"], errors="coerce").to_numpy(dtype=float)
    finite = durations[np.isfinite(durations)]
    speakers = ok["speaker"].fillna("unknown").astype(str)
    balance = (pd.crosstab(speakers, ok["label"].astype(str))
               .reindex(columns=labels, fill_value=0).sort_index())
    rates = _counts(pd.to_numeric(df["sample_rate"], errors="coerce").dropna().astype(int))
    channels = _counts(pd.to_numeric(df["channels"], errors="coerce").dropna().astype(int))
    examples, chosen = _examples(ok, labels, manifest)

    n_ok = len(ok)
    plots.plot_histogram(finite, f"{dataset}: clip durations ({n_ok} usable clips)",
                         out_dir / "durations.png", xlabel="duration (s)")
    plots.plot_counts(
        [("native sample rate (Hz)", rates), ("channels", channels)],
        f"{dataset}: source audio format ({len(df)} files)", out_dir / "sample_rates.png")
    plots.plot_heatmap(balance, f"{dataset}: clips per speaker and class",
                       out_dir / "class_balance.png", xlabel="class", ylabel="speaker")
    plots.plot_waveforms(examples, f"{dataset}: one clean waveform per class",
                         out_dir / "waveforms.png")
    plots.plot_spectrograms(examples, f"{dataset}: one spectrogram per class",
                            out_dir / "spectrograms.png")
    plots.plot_counts(
        [("status", _counts(status)), ("rejection reasons", _counts(reasons))],
        f"{dataset}: files processed and rejected", out_dir / "status.png")

    info: dict[str, Any] = {
        "dataset": dataset,
        "files": int(len(df)),
        "ok": int(n_ok),
        "rejected": int(len(rejected)),
        "status": _counts(status),
        "rejected_by_reason": _counts(reasons),
        "speakers": int(speakers.nunique()),
        "labels": {lab: int((ok["label"].astype(str) == lab).sum()) for lab in labels},
        "class_by_speaker": {str(spk): {lab: int(v) for lab, v in row.items()}
                             for spk, row in balance.iterrows()},
        "duration_s": ({
            "min": float(finite.min()), "median": float(np.median(finite)),
            "mean": float(finite.mean()), "max": float(finite.max()),
            "total_hours": float(finite.sum() / 3600.0),
        } if finite.size else {}),
        "sample_rates": rates,
        "channels": channels,
        "examples": chosen,
        "figures": [Path(os.path.relpath(out_dir / name, summary_path.parent)).as_posix()
                    for name in EDA_FIGURES],
    }
    write_json(summary_path, info)
