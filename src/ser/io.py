"""Atomic file writing and parquet tables with the project's `ser` schema metadata.

Why atomic: a job killed half-way (Ctrl-C, SLURM time limit) must never leave a truncated file that
a rerun would take for a finished output.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas/pyarrow load lazily: ser.models uses atomic_path and stays light
    import pandas as pd
    import pyarrow as pa

META_KEY = b"ser"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp / mkdtemp make private (0600 / 0700) entries; outputs get the usual umask-based modes
_UMASK = _umask()
FILE_MODE = 0o666 & ~_UMASK
DIR_MODE = 0o777 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; move it onto `path` only if the block succeeds.

    An existing `path` is moved aside first, then removed; on failure the temporary folder goes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, DIR_MODE)
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` onto ``dst``; an existing ``dst`` is moved aside first, then removed."""
    old: Path | None = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
        os.replace(dst, old / "x")
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def jsonable(obj: Any) -> Any:
    """Plain JSON types, recursively: numpy scalars and arrays -> Python, tuples -> lists, paths
    -> str, keys -> str; NaN/inf -> None (JSON has no NaN, and DVC would choke on it)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | os.PathLike, obj: Any, *, sort_keys: bool = False) -> None:
    """Write strict JSON (see `jsonable`) atomically, pretty-printed so diffs (and `dvc metrics
    diff`) stay readable."""
    text = json.dumps(jsonable(obj), indent=2, sort_keys=sort_keys, allow_nan=False,
                      ensure_ascii=False)
    write_text(path, text + "\n")


def table_with_meta(table: pa.Table, meta: Mapping[str, Any]) -> pa.Table:
    """Attach `meta` as JSON under the schema metadata key `ser`."""
    existing = dict(table.schema.metadata or {})
    existing[META_KEY] = json.dumps(jsonable(meta)).encode()
    return table.replace_schema_metadata(existing)


def write_parquet(df: pd.DataFrame | pa.Table, path: str | os.PathLike,
                  meta: Mapping[str, Any] | None = None) -> None:
    """Write a DataFrame or Arrow table to parquet atomically, with optional `ser` metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    if meta is not None:
        table = table_with_meta(table, meta)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def read_meta(path: str | os.PathLike) -> dict:
    """The `ser` metadata of a parquet file ({} when absent)."""
    import pyarrow.parquet as pq

    md = pq.read_schema(path).metadata or {}
    raw = md.get(META_KEY)
    return json.loads(raw) if raw else {}


def concat_parquet(parts: list[Path], out: str | os.PathLike) -> None:
    """Concatenate parquet files with the same columns into one (streamed, atomic)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(parts[0]) if parts else None
    with atomic_path(out, suffix=".parquet") as tmp:
        if schema is None:
            pq.write_table(pa.table({}), tmp)
            return
        with pq.ParquetWriter(tmp, schema) as writer:
            for p in parts:
                t = pq.read_table(p)
                if t.num_rows:
                    writer.write_table(t.cast(schema))
