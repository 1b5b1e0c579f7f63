"""Stage functions that join the library's pieces for dataset kinds beyond one audio corpus:
ready-made feature tables, merged corpora and per-dataset splits.

Why here and not in the rules: the rules only wire files; these functions decide which rows and
labels go where, and are unit-tested.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ser.corpora import label_order, load_table
from ser.features.tables import META_COLUMNS
from ser.io import META_KEY, atomic_path, read_meta, write_parquet
from ser.splits import make_splits, save_splits


# ---------------------------------------------------------------------------- table datasets
def table_dataset(path: Path, out_features: Path, out_manifest: Path, *, dataset: str,
                  label_column: str = "label", speaker_column: str = "speaker",
                  emotions: Sequence[str] | None = None) -> None:
    """Turn a user's feature table (parquet/CSV) into a feature table of this workflow and a
    manifest with one row per table row (labels outside `emotions` are listed as rejected)."""
    df = load_table(Path(path), label_column, speaker_column)
    feat_cols = [c for c in df.columns
                 if c not in ("id", "speaker", "label", "original_label")
                 and pd.api.types.is_numeric_dtype(df[c])]
    X = df[feat_cols].to_numpy(dtype=np.float64)
    reason = pd.Series(pd.NA, index=df.index, dtype="string")
    if emotions:
        reason[~df["label"].isin(list(emotions))] = "emotion not in config emotions"
    bad = ~np.isfinite(X).all(axis=1)
    reason[bad & reason.isna()] = "non-finite feature value"
    ok = reason.isna().to_numpy()
    manifest = pd.DataFrame({
        "id": df["id"].astype(str), "path": str(path), "rel_path": df["id"].astype(str),
        "speaker": df["speaker"].astype(str), "original_label": df["original_label"].astype(str),
        "label": df["label"].astype(str), "shard": 0, "duration": np.nan,
        "sample_rate": pd.array([pd.NA] * len(df), dtype="Int64"),
        "channels": pd.array([pd.NA] * len(df), dtype="Int64"),
        "status": np.where(ok, "ok", "rejected"), "reason": reason, "wav": pd.NA,
    })
    write_parquet(manifest.astype({"wav": "string"}), out_manifest,
                  {"stage": "manifest", "dataset": dataset, "source": "table"})
    good = df[ok].reset_index(drop=True)
    cols = {
        "id": pa.array(good["id"].astype(str)), "source_id": pa.array(good["id"].astype(str)),
        "dataset": pa.array([dataset] * len(good), pa.string()),
        "speaker": pa.array(good["speaker"].astype(str)),
        "label": pa.array(good["label"].astype(str)),
        "snr_db": pa.array([None] * len(good), pa.float64()),
        "noise": pa.array([None] * len(good), pa.string()),
    }
    for c in feat_cols:
        cols[str(c)] = pa.array(good[c].to_numpy(dtype=np.float32))
    meta = {"feature_set": "table", "kind": "functionals", "params": {"source": str(path)},
            "columns": [str(c) for c in feat_cols], "dataset": dataset, "sample_rate": None,
            "versions": {}}
    write_parquet(pa.table(cols), out_features, meta)
    if not len(good):
        raise ValueError(f"no usable row in table dataset {dataset!r} ({path})")


# ---------------------------------------------------------------------------- merged corpora
def merged_labels(label_map: Mapping[str, str] | None, emotions: Sequence[str] | None,
                  source_labels: Sequence[set[str]]) -> list[str]:
    """Labels of a merged corpus: `emotions` when given, else the union of the sources' mapped
    labels, in the project's label order (canonical first; a corpus' own labels such as
    `frustrated` are kept too)."""
    mapped = set().union(*[{(label_map or {}).get(lab, lab) for lab in s} for s in source_labels])
    keep = set(emotions) if emotions else mapped
    return label_order(keep & mapped)


MERGE_OPTIONS = ("sources", "label_map")
"""Keys of `datasets.NAME` that format `merge` (several corpora as one) reads."""


def merge_tables(sources: Mapping[str, Path], out: Path, *, dataset: str,
                 label_map: Mapping[str, str] | None = None,
                 emotions: Sequence[str] | None = None) -> None:
    """Concatenate the same feature set of several corpora: ids and speakers are prefixed with
    the source corpus (speakers stay distinct), labels harmonised through `label_map`."""
    metas = {name: read_meta(p) for name, p in sources.items()}
    first = next(iter(metas.values()))
    for name, m in metas.items():
        for key in ("feature_set", "kind", "columns", "shape", "params"):
            if m.get(key) != first.get(key):
                raise ValueError(f"cannot merge {name}: feature table `{key}` differs")
    labels_per = [set(pq.read_table(p, columns=["label"]).column("label").to_pylist())
                  for p in sources.values()]
    labels = merged_labels(label_map, emotions, labels_per)
    meta = {**first, "dataset": dataset, "merged_from": list(sources), "labels": labels}
    n = 0
    with atomic_path(out, suffix=".parquet") as tmp:
        writer = None
        try:
            for name, p in sources.items():
                t = pq.read_table(p)
                df = t.select(META_COLUMNS).to_pandas()
                lab = df["label"].map(lambda v: (label_map or {}).get(v, v))
                keep = lab.isin(labels).to_numpy()
                t = t.filter(pa.array(keep))
                df = df[keep]
                repl = {
                    "id": pa.array((name + ":" + df["id"].astype(str)).tolist(), pa.string()),
                    "source_id": pa.array((name + ":" + df["source_id"].astype(str)).tolist(),
                                          pa.string()),
                    "dataset": pa.array([dataset] * len(df), pa.string()),
                    "speaker": pa.array((name + ":" + df["speaker"].astype(str)).tolist(),
                                        pa.string()),
                    "label": pa.array(lab[keep].astype(str).tolist(), pa.string()),
                }
                for col, arr in repl.items():
                    t = t.set_column(t.schema.get_field_index(col), col, arr)
                t = t.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema)
                writer.write_table(t)
                n += t.num_rows
        finally:
            if writer is not None:
                writer.close()
    if n == 0:
        raise ValueError(f"merged dataset {dataset!r} has no row with labels {labels}")


def merge_manifests(sources: Mapping[str, Path], out: Path, *, dataset: str,
                    label_map: Mapping[str, str] | None = None,
                    emotions: Sequence[str] | None = None) -> None:
    """Manifest of a merged corpus (ids/speakers prefixed; labels outside the merge rejected)."""
    parts = []
    labels_per = []
    for name, p in sources.items():
        m = pd.read_parquet(p)
        labels_per.append(set(m.loc[m["status"] == "ok", "label"].dropna().astype(str)))
        m["id"] = name + ":" + m["id"].astype(str)
        m["speaker"] = name + ":" + m["speaker"].astype(str)
        m["label"] = m["label"].map(lambda v: (label_map or {}).get(v, v))
        m["corpus"] = name
        parts.append(m)
    labels = merged_labels(label_map, emotions, labels_per)
    df = pd.concat(parts, ignore_index=True)
    drop = (df["status"] == "ok") & ~df["label"].isin(labels)
    df.loc[drop, "status"] = "rejected"
    df.loc[drop, "reason"] = "label not in merged label set"
    write_parquet(df, out, {"stage": "manifest", "dataset": dataset, "labels": labels,
                            "merged_from": list(sources)})


# ---------------------------------------------------------------------------- splits
def dataset_splits(manifest: Path, out: Path, split_cfg: Mapping[str, Any], *,
                   emotions: Sequence[str] | None = None) -> pd.DataFrame:
    """Folds over the usable clean clips of a dataset's manifest (ser.splits does the work)."""
    m = pd.read_parquet(manifest)
    m = m[m["status"] == "ok"]
    if emotions:
        m = m[m["label"].isin(list(emotions))]
    clips = pd.DataFrame({"source_id": m["id"].astype(str), "speaker": m["speaker"].astype(str),
                          "label": m["label"].astype(str)})
    splits = make_splits(
        clips, split_cfg["protocol"], folds=split_cfg.get("folds", 5),
        test_size=split_cfg.get("test_size", 0.2), seed=split_cfg.get("seed", 0),
        holdout_speakers=split_cfg.get("holdout_speakers"),
        fold_speakers=split_cfg.get("fold_speakers"))
    info = {k: split_cfg.get(k) for k in ("protocol", "folds", "seed", "smote", "test_size")}
    save_splits(splits, out, info)
    return splits
