"""The audio stage: decode each raw file of a shard to a clean WAV and account for every file.

One job handles one shard (a few dozen to a few hundred files), so a corpus of 10^4 clips stays a
few hundred Snakemake jobs and a changed file redoes only its shard. Every file of the corpus
ends up as one manifest row, `ok` with its WAV or `rejected` with the reason.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ser import audio
from ser.io import atomic_dir, atomic_path, write_parquet

if TYPE_CHECKING:  # pandas is imported where needed: an audio job does without it (~0.3 s)
    import pandas as pd
    import pyarrow as pa

BASE_COLUMNS = [
    "id", "path", "rel_path", "speaker", "original_label", "label", "shard", "duration",
    "sample_rate", "channels", "status", "reason", "wav",
]


def _stem(rel: str) -> str:
    """`rel` without the extension of its file name (Path.with_suffix("") on plain strings:
    pathlib objects dominated the time on 10^5 files)."""
    slash = rel.rfind("/")
    dot = rel.rfind(".")
    return rel[:dot] if dot > slash + 1 and dot < len(rel) - 1 else rel


def clip_ids(rels: Sequence[str]) -> dict[str, str]:
    """Map corpus-relative paths to clip ids: the path without extension, unless two files would
    share it, in which case they keep their extension (so no file is dropped as a duplicate)."""
    stems = {r: _stem(r) for r in rels}
    counts = Counter(stems.values())
    return {r: stem if counts[stem] == 1 else r for r, stem in stems.items()}


def run_audio_shard(entries: Sequence, all_rels: Sequence[str] | Mapping[str, str], shard: int,
                    out_table: Path, wav_dir: Path, *, sample_rate: int = 16000,
                    min_duration: float = 0.3, silence_dbfs: float = -60.0,
                    trim_db: float | None = None) -> pd.DataFrame:
    """Decode the entries of one shard to `wav_dir/{id}.wav`; write the shard's manifest rows
    and return them as a DataFrame (audio_shard_table without the DataFrame is what jobs run)."""
    table = audio_shard_table(entries, all_rels, shard, out_table, wav_dir,
                              sample_rate=sample_rate, min_duration=min_duration,
                              silence_dbfs=silence_dbfs, trim_db=trim_db)
    return _typed(table.to_pandas())


def audio_shard_table(entries: Sequence, all_rels: Sequence[str] | Mapping[str, str], shard: int,
                      out_table: Path, wav_dir: Path, *, sample_rate: int = 16000,
                      min_duration: float = 0.3, silence_dbfs: float = -60.0,
                      trim_db: float | None = None) -> pa.Table:
    """Decode the entries of one shard to `wav_dir/{id}.wav`; write the shard's manifest rows.

    `all_rels`: every relative path of the corpus (ids are derived from them), or the clip ids
    already derived (rel -> id, as a shard listing carries them)."""
    ids = all_rels if isinstance(all_rels, Mapping) else clip_ids(all_rels)
    wav_dir = Path(wav_dir)
    rows = []
    t0 = time.monotonic()
    # the shard's WAVs go to a temporary folder renamed onto wav_dir at the end: one rename
    # per shard instead of a temporary file and a rename per clip
    with atomic_dir(wav_dir) as tmp_dir:
        made: set[Path] = set()
        for i, e in enumerate(entries, 1):
            cid = ids[e.rel]
            row = {
                "id": cid, "path": str(e.path), "rel_path": e.rel,
                "speaker": e.speaker or "unknown", "original_label": e.original_label,
                "label": e.label, "shard": shard, "duration": None, "sample_rate": None,
                "channels": None, "status": "rejected", "reason": e.reject, "wav": None,
            }
            row.update({f"meta_{k}": str(v) for k, v in sorted(e.meta.items())})
            if e.reject is None:
                try:
                    clip = audio.load_clip(e.path, sample_rate=sample_rate,
                                           min_duration=min_duration, silence_dbfs=silence_dbfs,
                                           trim_db=trim_db)
                    target = tmp_dir / f"{cid}.wav"
                    if target.parent not in made:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        made.add(target.parent)
                    target.write_bytes(audio.wav_bytes(clip.signal, sample_rate))
                    row.update(_facts(clip), status="ok", reason=None,
                               wav=str(wav_dir / f"{cid}.wav"))
                except audio.AudioError as exc:
                    row["reason"] = str(exc)
                    if exc.facts is not None:
                        row.update(_facts(exc.facts))
            rows.append(row)
            if i % 25 == 0 or i == len(entries):
                rate = i / max(time.monotonic() - t0, 1e-9)
                print(f"[audio shard {shard}] {i}/{len(entries)} files ({rate:.1f}/s)",
                      file=sys.stderr, flush=True)
    table = _arrow_rows(rows)
    write_parquet(table, out_table, {"stage": "audio", "shard": shard,
                                     "sample_rate": sample_rate})
    return table


_INT_COLUMNS = ("shard", "sample_rate", "channels")


def _arrow_rows(rows: list[dict]) -> pa.Table:
    """Manifest rows as an Arrow table with the manifest's column order and types (strings,
    int64 shard/sample_rate/channels, float64 duration), built without pandas."""
    import pyarrow as pa

    meta = sorted({k for r in rows for k in r} - set(BASE_COLUMNS))
    cols = {}
    for c in BASE_COLUMNS + meta:
        values = [r.get(c) for r in rows]
        kind = (pa.int64() if c in _INT_COLUMNS else pa.float64() if c == "duration"
                else pa.large_string())
        cols[c] = pa.array(values, type=kind)
    return pa.table(cols)


def _facts(d: audio.Decoded) -> dict:
    """Manifest columns of a decoded clip: the source's rate and channels, decoded seconds."""
    return {"sample_rate": d.source_rate, "channels": d.channels, "duration": d.duration}


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for c in BASE_COLUMNS:
        if c not in df:
            df[c] = None
    str_cols = [c for c in df.columns
                if c not in ("shard", "duration", "sample_rate", "channels")]
    df[str_cols] = df[str_cols].astype("string")
    df["shard"] = df["shard"].astype("int64")
    df["duration"] = df["duration"].astype("float64")
    df["sample_rate"] = df["sample_rate"].astype("Int64")
    df["channels"] = df["channels"].astype("Int64")
    meta = sorted(c for c in df.columns if c not in BASE_COLUMNS)
    return df[BASE_COLUMNS + meta]


def combine_manifests(shard_tables: Sequence[Path], out: Path, dataset: str,
                      rejected_csv: Path | None = None) -> dict:
    """Concatenate shard manifests, print counts per status and reason, fail on no usable clip."""
    import pandas as pd

    parts = [pd.read_parquet(p) for p in shard_tables]
    parts = [p for p in parts if len(p)]
    df = pd.concat(parts, ignore_index=True) if parts else _typed(pd.DataFrame())
    df = _typed(df).sort_values("rel_path", kind="stable").reset_index(drop=True)
    status = df["status"].value_counts().to_dict()
    reasons = df.loc[df["status"] == "rejected", "reason"].fillna("?")
    # group reasons by their kind (text before the first ':') so counts stay readable
    kinds = reasons.str.split(":").str[0].value_counts().to_dict()
    summary = {
        "dataset": dataset, "files": int(len(df)),
        "ok": int(status.get("ok", 0)), "rejected": int(status.get("rejected", 0)),
        "rejected_by_reason": {str(k): int(v) for k, v in kinds.items()},
        "speakers": int(df.loc[df["status"] == "ok", "speaker"].nunique()),
        "labels": {str(k): int(v) for k, v in
                   df.loc[df["status"] == "ok", "label"].value_counts().sort_index().items()},
    }
    write_parquet(df, out, {"stage": "manifest", "dataset": dataset, "summary": summary})
    if rejected_csv is not None:
        with atomic_path(rejected_csv) as tmp:
            df.loc[df["status"] == "rejected", ["rel_path", "reason"]].to_csv(tmp, index=False)
    lines = [f"[manifest {dataset}] {summary['files']} files: {summary['ok']} ok, "
             f"{summary['rejected']} rejected"]
    lines += [f"    rejected {n:>5}  {k}" for k, v in [(k, v) for k, v in kinds.items()]
              for n in [v]]
    print("\n".join(lines), file=sys.stderr, flush=True)
    if summary["ok"] == 0:
        raise ValueError(
            f"no usable clip in dataset {dataset!r}: {summary['files']} files, all rejected "
            f"({json.dumps(summary['rejected_by_reason'])}); check datasets.{dataset}.path and "
            f"format")
    return summary
