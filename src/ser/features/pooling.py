"""Utterance statistics over encoder frames, shared by the pretrained-encoder feature sets.

Why a module: `whisper` and `hf_encoder` pool the same way (and must name their columns the same
way), so the statistics, their validation and the column names live once here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

STATS = ("mean", "std", "min", "max")


def check_pooling(value: Any, set_name: str) -> list[str]:
    """`pooling` parameter: a non-empty list of distinct names from STATS (order kept)."""
    stats = [value] if isinstance(value, str) else list(value or [])
    bad = [s for s in stats if s not in STATS]
    if not stats or bad or len(set(stats)) != len(stats):
        raise ValueError(f"feature set {set_name!r}: pooling must be a list of distinct "
                         f"statistics from {list(STATS)}, got {value!r}")
    return stats


def pool(frames: np.ndarray, stats: Sequence[str]) -> np.ndarray:
    """(frames, dim) -> (len(stats) * dim,) float32: each statistic over time, stat-major."""
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"cannot pool encoder output of shape {f.shape}")
    fns = {"mean": lambda a: a.mean(0), "std": lambda a: a.std(0),
           "min": lambda a: a.min(0), "max": lambda a: a.max(0)}
    return np.concatenate([fns[s](f) for s in stats]).astype(np.float32)


def pooled_columns(prefix: str, dim: int, stats: Sequence[str]) -> list[str]:
    """Column names matching `pool`: `{prefix}_{stat}_{i:03d}`."""
    return [f"{prefix}_{s}_{i:03d}" for s in stats for i in range(dim)]


def column_tag(model: str) -> str:
    """A model name or path as a column-name tag (`tiny.en`, `base`, a folder's name), so the
    columns of two encoders stay distinct when their tables are fused."""
    name = Path(model).name if ("/" in model or os.sep in model) else model
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "model"


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached per process by (path, size, mtime): provenance of a user's
    model folder costs one read per job, however many times it is asked for."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def default_threads() -> int:
    """CPUs this process may use (the affinity mask, which respects taskset/SLURM)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
