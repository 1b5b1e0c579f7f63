"""Feature tables: one parquet per shard and feature set, combined into one per corpus.

Why shards: a job extracts one shard (clean clips + their noisy copies), one clip at a time, so
memory is bounded by one shard's features; `combine_shards` streams the shard files into a single
parquet (one row group per shard) without holding more than one shard in memory.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from ser.conditions import clean_mask
from ser.features.registry import get_feature_set
from ser.features.variants import split_variant
from ser.io import META_KEY, atomic_path

META_COLUMNS = ["id", "source_id", "dataset", "speaker", "label", "snr_db", "noise"]
REJECTED_COLUMNS = ["id", "source_id", "snr_db", "feature_set", "reason"]
MATRIX_COLUMN = "logmel"

REJECTED_SCHEMA = pa.schema([("id", pa.string()), ("source_id", pa.string()),
                             ("snr_db", pa.float64()), ("feature_set", pa.string()),
                             ("reason", pa.string())])
_META_FIELDS = [("id", pa.string()), ("source_id", pa.string()), ("dataset", pa.string()),
                ("speaker", pa.string()), ("label", pa.string()), ("snr_db", pa.float64()),
                ("noise", pa.string())]




def table_schema(fs, params: dict[str, Any]) -> pa.Schema:
    """Arrow schema of a feature table (metadata columns, then features)."""
    fields = list(_META_FIELDS)
    if fs.kind == "functionals":
        fields += [(c, pa.float32()) for c in fs.columns(params)]
    else:
        frames, bins = fs.shape(params)
        fields.append((MATRIX_COLUMN, pa.list_(pa.float16(), frames * bins)))
    return pa.schema(fields)


def _ser_meta(fs, params: dict[str, Any], dataset: str, sample_rate: int | None) -> dict:
    meta: dict[str, Any] = {"feature_set": fs.name, "kind": fs.kind, "params": params,
                            "dataset": dataset, "sample_rate": sample_rate}
    if fs.kind == "functionals":
        meta["columns"] = fs.columns(params)
    else:
        meta["shape"] = fs.shape(params)
        meta["column"] = MATRIX_COLUMN
        meta["storage"] = "float16"
    meta["versions"] = fs.versions()
    provenance = fs.provenance(params)
    if provenance:
        meta["provenance"] = provenance
    return meta


def _with_meta(schema: pa.Schema, meta: dict) -> pa.Schema:
    return schema.with_metadata({META_KEY: json.dumps(meta).encode()})


def _write(table: pa.Table, path: Path) -> None:
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def _jobs(clean_manifest: Path, noisy_table: Path | None) -> tuple[list[dict], list[dict]]:
    """Rows to extract (clean clip, then its noisy copies) and rows rejected before extraction."""
    man = pd.read_parquet(clean_manifest)
    need = {"id", "speaker", "label", "status", "wav"}
    missing = sorted(need - set(man.columns))
    if missing:
        raise ValueError(f"{clean_manifest}: manifest lacks columns {missing}")
    ok = man[man["status"] == "ok"]
    jobs: list[dict] = []
    rejected: list[dict] = []
    by_source: dict[str, list[dict]] = {}
    if noisy_table is not None:
        noisy = pd.read_parquet(noisy_table)
        ok_ids = set(map(str, ok["id"]))
        for r in noisy[noisy["status"] == "ok"].to_dict("records"):
            # copies of other conditions (reverb, telephone...) have no SNR: null, not NaN
            row = {"id": str(r["id"]), "source_id": str(r["source_id"]),
                   "snr_db": None if pd.isna(r["snr_db"]) else float(r["snr_db"]),
                   "noise": None if pd.isna(r["noise"]) else str(r["noise"]), "wav": r["wav"]}
            if row["source_id"] not in ok_ids:
                rejected.append({**row, "reason": "degraded copy of a clip that is not ok in the "
                                 "clean manifest"})
            else:
                by_source.setdefault(row["source_id"], []).append(row)
    for r in ok.to_dict("records"):
        base = {"source_id": str(r["id"]), "dataset": None,
                "speaker": None if pd.isna(r["speaker"]) else str(r["speaker"]),
                "label": None if pd.isna(r["label"]) else str(r["label"])}
        jobs.append({**base, "id": str(r["id"]), "snr_db": None, "noise": None, "wav": r["wav"]})
        for n in by_source.get(str(r["id"]), []):
            jobs.append({**base, **n})
    return jobs, rejected


def run_features_shard(clean_manifest: Path, noisy_table: Path | None, feature_set: str,
                       out: Path, rejected_out: Path, *, dataset: str,
                       params: dict | None = None, threads: int | None = None) -> None:
    """Extract `feature_set` for the ok clean clips of a shard and their ok noisy copies.

    `feature_set` is a registry name, or a variant's name whose `params` carry `set:` (R4).
    Clips go to the extractor `batch_size` at a time (encoders run a batch per call) with
    `threads` CPU threads. Rows whose WAV cannot be read or whose features are NaN/inf go to
    `rejected_out` with the reason; both files are always written (possibly empty, with the full
    schema)."""
    set_name, params = split_variant(feature_set, params)
    fs = get_feature_set(set_name)
    resolved = fs.resolve(params)
    extract = fs.batch_extractor(resolved, threads)
    jobs, pre_rejected = _jobs(Path(clean_manifest), Path(noisy_table) if noisy_table else None)
    rejected = [{"id": r["id"], "source_id": r["source_id"], "snr_db": r["snr_db"],
                 "feature_set": fs.name, "reason": r["reason"]} for r in pre_rejected]

    def reject(job: dict, exc: BaseException) -> None:
        rejected.append({"id": job["id"], "source_id": job["source_id"],
                         "snr_db": job["snr_db"], "feature_set": fs.name,
                         "reason": f"{type(exc).__name__}: {exc}"})

    meta_rows: list[dict] = []
    feats: list[np.ndarray] = []
    sample_rate: int | None = None
    t0 = time.monotonic()
    step = max(1, int(fs.batch_size))
    shown = 0
    # read + extract time of the clean clips: the feature cost a new file pays (a batch's time
    # is shared evenly by its clips)
    clean_seconds = 0.0
    n_clean = 0
    for b in range(0, len(jobs), step):
        t_batch = time.perf_counter()
        batch: list[tuple[dict, np.ndarray, int]] = []
        for job in jobs[b:b + step]:
            try:
                if job["wav"] is None or (isinstance(job["wav"], float) and np.isnan(job["wav"])):
                    raise ValueError("no WAV path")
                y, sr = sf.read(str(job["wav"]), dtype="float32", always_2d=False)
                if sample_rate is None:
                    sample_rate = int(sr)
                elif sr != sample_rate:
                    raise ValueError(f"WAV is {sr} Hz, the shard's clips are {sample_rate} Hz")
            except Exception as exc:  # noqa: BLE001 - every failure becomes a listed rejection
                reject(job, exc)
                continue
            batch.append((job, y, int(sr)))
        results = extract([(y, sr) for _, y, sr in batch]) if batch else []
        per_clip = (time.perf_counter() - t_batch) / max(1, len(batch))
        for (job, _, _), x in zip(batch, results, strict=True):
            if isinstance(x, Exception):
                reject(job, x)
                continue
            if job["snr_db"] is None:
                clean_seconds += per_clip
                n_clean += 1
            meta_rows.append({k: job[k] for k in META_COLUMNS if k != "dataset"})
            feats.append(x)
        done = min(b + step, len(jobs))
        if done // 100 > shown // 100 or done == len(jobs) or step > 1:
            shown = done
            print(f"[features {feature_set} {Path(out).name}] {done}/{len(jobs)} clips "
                  f"({done / max(time.monotonic() - t0, 1e-9):.1f}/s)", file=sys.stderr,
                  flush=True)

    schema = table_schema(fs, resolved)
    n = len(meta_rows)
    arrays: list[pa.Array] = [
        pa.array([r["id"] for r in meta_rows], pa.string()),
        pa.array([r["source_id"] for r in meta_rows], pa.string()),
        pa.array([dataset] * n, pa.string()),
        pa.array([r["speaker"] for r in meta_rows], pa.string()),
        pa.array([r["label"] for r in meta_rows], pa.string()),
        pa.array([r["snr_db"] for r in meta_rows], pa.float64()),
        pa.array([r["noise"] for r in meta_rows], pa.string()),
    ]
    if fs.kind == "functionals":
        d = len(schema) - len(_META_FIELDS)
        x = np.vstack(feats).astype(np.float32) if feats else np.zeros((0, d), np.float32)
        arrays += [pa.array(x[:, j]) for j in range(d)]
    else:
        frames, bins = fs.shape(resolved)
        flat = (np.stack(feats).astype(np.float16).ravel() if feats
                else np.zeros(0, np.float16))
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float16()),
                                                        frames * bins))
    meta = _ser_meta(fs, resolved, dataset, sample_rate)
    if feature_set != fs.name:
        meta["variant"] = feature_set
    meta["n_rows"], meta["n_rejected"] = n, len(rejected)
    meta["timing"] = {"clean_clips": n_clean, "clean_seconds": round(clean_seconds, 6)}
    _write(pa.Table.from_arrays(arrays, schema=_with_meta(schema, meta)), Path(out))
    rej = pd.DataFrame(rejected, columns=REJECTED_COLUMNS)
    _write(pa.Table.from_pandas(rej, schema=REJECTED_SCHEMA, preserve_index=False)
           .replace_schema_metadata({META_KEY: json.dumps(
               {"feature_set": fs.name, "dataset": dataset}).encode()}), Path(rejected_out))


def feature_timing(clips: int, seconds: float) -> dict[str, Any]:
    """What a table records about its extraction cost: clean clips timed, their total seconds
    (WAV read + extraction, per clip, in the shard jobs) and the mean per clip, which evaluation
    reports as the feature part of the prediction time per clip. Measured on whatever machine
    ran the shards, under whatever load it had."""
    per_clip = seconds / clips if clips else None
    return {"clean_clips": int(clips), "clean_seconds": round(float(seconds), 6),
            "seconds_per_clip": None if per_clip is None else round(per_clip, 6)}


def _shard_meta(path: Path) -> tuple[pa.Schema, dict]:
    schema = pq.read_schema(path)
    raw = (schema.metadata or {}).get(META_KEY)
    if not raw:
        raise ValueError(f"{path} is not a feature table (no `ser` schema metadata)")
    return schema.remove_metadata(), json.loads(raw)


_MUST_AGREE = ("feature_set", "variant", "kind", "params", "dataset", "columns", "shape",
               "versions", "provenance")


def combine_shards(shards: Sequence[Path], out: Path, rejected_shards: Sequence[Path],
                   rejected_out: Path) -> None:
    """Stream shard tables into one parquet (one row group per non-empty shard) and the shards'
    rejections into `rejected_out`. Raises ValueError when no row is left."""
    shards = [Path(s) for s in shards]
    if not shards:
        raise ValueError("combine_shards: no shard given")
    schema, meta = _shard_meta(shards[0])
    rates: set[int] = set()
    n_rows = 0
    timed_clips, timed_seconds = 0, 0.0
    for s in shards:
        sch, m = _shard_meta(s)
        timing = m.get("timing") or {}
        timed_clips += int(timing.get("clean_clips", 0))
        timed_seconds += float(timing.get("clean_seconds", 0.0))
        for key in _MUST_AGREE:
            if m.get(key) != meta.get(key):
                raise ValueError(f"{s}: `{key}` differs from {shards[0]} "
                                 f"({m.get(key)!r} != {meta.get(key)!r})")
        if not sch.equals(schema):
            raise ValueError(f"{s}: columns differ from {shards[0]}")
        if m.get("sample_rate") is not None:
            rates.add(int(m["sample_rate"]))
        n_rows += pq.ParquetFile(s).metadata.num_rows
    if len(rates) > 1:
        raise ValueError(f"shards disagree on sample rate: {sorted(rates)}")

    rej_tables = [pq.read_table(r).select(REJECTED_COLUMNS).cast(REJECTED_SCHEMA)
                  for r in rejected_shards]
    rej = (pa.concat_tables(rej_tables) if rej_tables else REJECTED_SCHEMA.empty_table())
    dataset, fs_name = meta.get("dataset"), meta.get("feature_set")
    _write(rej.replace_schema_metadata({META_KEY: json.dumps(
        {"feature_set": fs_name, "dataset": dataset}).encode()}), Path(rejected_out))
    if n_rows == 0:
        reasons = pd.Series(rej.column("reason").to_pylist()).value_counts().head(3)
        top = "; ".join(f"{k} (x{v})" for k, v in reasons.items())
        raise ValueError(f"no usable clip in {dataset} for feature set {fs_name}: "
                         f"{rej.num_rows} rejected" + (f"; most common: {top}" if top else ""))

    meta = {**meta, "sample_rate": rates.pop() if rates else None, "n_rows": n_rows,
            "n_rejected": rej.num_rows, "n_shards": len(shards)}
    meta["timing"] = feature_timing(timed_clips, timed_seconds)
    out_schema = _with_meta(schema, meta)
    with atomic_path(out, suffix=".parquet") as tmp:
        with pq.ParquetWriter(tmp, out_schema) as writer:
            for s in shards:
                t = pq.read_table(s)
                if t.num_rows:
                    writer.write_table(t.replace_schema_metadata(out_schema.metadata),
                                       row_group_size=t.num_rows)
                del t


def read_features(path: Path, columns_only: bool = False
                  ) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Read a feature table: (row metadata frame, X float32, `ser` metadata).

    X is (n, d) for functionals and (n, frames, n_mels) for matrix sets. With `columns_only`,
    only the metadata columns are read and X is an empty (n, 0) array (cheap for splitting)."""
    pf = pq.ParquetFile(path)
    raw = (pf.schema_arrow.metadata or {}).get(META_KEY)
    if not raw:
        raise ValueError(f"{path} is not a feature table (no `ser` schema metadata)")
    meta = json.loads(raw)
    if columns_only:
        table = pf.read(columns=META_COLUMNS)
        return table.to_pandas(), np.zeros((table.num_rows, 0), np.float32), meta
    table = pf.read()
    n = table.num_rows
    df = table.select(META_COLUMNS).to_pandas()
    if meta["kind"] == "functionals":
        cols = meta["columns"]
        x = np.empty((n, len(cols)), dtype=np.float32)
        for j, c in enumerate(cols):
            x[:, j] = table.column(c).to_numpy()
    else:
        frames, bins = meta["shape"]
        col = table.column(meta.get("column", MATRIX_COLUMN)).combine_chunks()
        x = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        x = x.reshape(n, frames, bins)
    return df, x, meta


def read_table(features: Path | str | Sequence[Path | str]
               ) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Read one feature table, or fuse several vector tables (join on id, concatenate columns)."""
    paths = [features] if isinstance(features, str | Path) else list(features)
    if not paths:
        raise ValueError("no feature table given")
    if len(paths) == 1:
        meta_df, X, meta = read_features(Path(paths[0]))
        return meta_df.reset_index(drop=True), np.asarray(X, dtype=np.float32), meta
    parts = [read_features(Path(p)) for p in paths]
    for p, (_, X, meta) in zip(paths, parts, strict=True):
        if np.asarray(X).ndim != 2:
            raise ValueError(
                f"feature fusion joins vector tables only; {p} ({meta.get('feature_set')}) "
                f"has shape {np.shape(X)}"
            )
    base = parts[0][0].reset_index(drop=True)
    common = pd.Index(base["id"].astype(str))
    for meta_df, _, _ in parts[1:]:
        common = common.intersection(pd.Index(meta_df["id"].astype(str)), sort=False)
    dropped = len(base) - len(common)
    if dropped:
        warnings.warn(
            f"feature fusion: {dropped} row(s) are missing from some tables and are left out",
            stacklevel=2,
        )
    blocks = []
    for meta_df, X, _ in parts:
        pos = pd.Series(np.arange(len(meta_df)), index=meta_df["id"].astype(str).to_numpy())
        blocks.append(np.asarray(X, dtype=np.float32)[pos.loc[common].to_numpy()])
    base_pos = pd.Series(np.arange(len(base)), index=base["id"].astype(str).to_numpy())
    fused_df = base.iloc[base_pos.loc[common].to_numpy()].reset_index(drop=True)
    metas = [m for _, _, m in parts]
    fused_meta: dict[str, Any] = {
        "feature_set": "+".join(str(m.get("feature_set")) for m in metas),
        "kind": "functionals",
        "parts": metas,
        "columns": [c for m in metas for c in m.get("columns", [])],
        "sample_rate": metas[0].get("sample_rate"),
        "fusion_dropped_rows": int(dropped),
    }
    return fused_df, np.concatenate(blocks, axis=1), fused_meta


def feature_blocks(meta: dict[str, Any]) -> list[int] | None:
    """Columns per feature set of a fused table (None for a single table)."""
    parts = meta.get("parts")
    return [len(p.get("columns", [])) for p in parts] if parts else None


def feature_set_info(meta: dict[str, Any]) -> dict[str, Any]:
    """The feature-set description a bundle records (name, kind, params, columns, ...)."""
    info = {"name": meta.get("feature_set")}
    for key in ("kind", "params", "columns", "shape", "sample_rate", "versions", "parts",
                "variant", "provenance"):
        if key in meta:
            info[key] = meta[key]
    return info


# ---------------------------------------------------------------------------- row helpers
def is_clean(meta_df: pd.DataFrame) -> np.ndarray:
    """Rows that are clean clips (no SNR, and not a copy under another condition: reverberant,
    telephone, codec and gain copies have no SNR either), as a boolean mask."""
    mask = clean_mask(meta_df)
    if "snr_db" in meta_df.columns:
        mask &= meta_df["snr_db"].isna().to_numpy()
    return mask


def source_ids(meta_df: pd.DataFrame) -> pd.Series:
    """Each row's clean source clip (a noisy copy follows its original), as strings."""
    col = "source_id" if "source_id" in meta_df.columns else "id"
    return meta_df[col].astype(str)


def speakers_known(meta_df: pd.DataFrame) -> bool:
    """Whether every row has a speaker."""
    return "speaker" in meta_df.columns and not meta_df["speaker"].isna().any()
