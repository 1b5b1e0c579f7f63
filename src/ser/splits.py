"""Speaker-independent evaluation splits.

A split assigns every clean clip (one row per ``source_id``) to the fold in which it is *test*
data. Noisy copies are not split on their own: they follow their clean source through
``source_id`` when the trainer joins the split with a feature table, so an utterance and its
noisy versions can never sit on both sides of a fold.

Fold numbers start at 0. Clips that are never test data (the training side of the one-fold
protocols ``holdout_speakers`` and ``random``) carry fold ``-1`` (:data:`NEVER_TEST`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser.io import write_parquet

PROTOCOLS = ("speaker_kfold", "loso", "holdout_speakers", "random")
"""Supported split protocols; ``random`` is the seeds' leaky, not speaker-independent one."""

NEVER_TEST = -1
"""Fold value of clips that are training data in every fold."""

SPLIT_COLUMNS = ["source_id", "speaker", "label", "fold"]
_META_KEY = b"ser"


def clean_clips(df: pd.DataFrame) -> pd.DataFrame:
    """One row per clean clip (source_id, speaker, label) from a manifest or a feature table.

    Accepts a feature table's metadata frame (``source_id``, ``snr_db``: noisy rows are dropped)
    or a manifest (``id``; rows whose ``status`` is not ``ok`` are dropped, they have no audio).
    Rows without a label cannot be stratified or scored and are dropped too.
    """
    out = df
    if "status" in out.columns:
        out = out[out["status"].astype("string").fillna("") == "ok"]
    if "snr_db" in out.columns:
        out = out[out["snr_db"].isna()]
    if "source_id" in out.columns:
        sid = out["source_id"]
    elif "id" in out.columns:
        sid = out["id"]
    else:
        raise ValueError("splits need a 'source_id' or 'id' column")
    if "label" not in out.columns:
        raise ValueError("splits need a 'label' column")
    speaker = out["speaker"] if "speaker" in out.columns else pd.Series(None, index=out.index)
    clips = pd.DataFrame(
        {
            "source_id": sid.astype(str).to_numpy(),
            "speaker": [None if _isna(s) else str(s) for s in speaker],
            "label": out["label"].to_numpy(),
        }
    )
    clips = clips[clips["label"].notna()]
    clips["label"] = clips["label"].astype(str)
    clips = clips.drop_duplicates("source_id").sort_values("source_id", kind="stable")
    return clips.reset_index(drop=True)


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _speakers(clips: pd.DataFrame, protocol: str) -> list[str]:
    missing = clips["speaker"].isna()
    if missing.any():
        examples = ", ".join(clips.loc[missing, "source_id"].head(3))
        raise ValueError(
            f"protocol {protocol!r} needs a speaker for every clip; {int(missing.sum())} clip(s) "
            f"have none (e.g. {examples}). Give the corpus speakers or use protocol 'random'."
        )
    return sorted(clips["speaker"].unique())


def n_folds(
    protocol: str,
    speakers: Iterable[Any] | None = None,
    folds: int = 5,
    *,
    fold_speakers: Sequence[Sequence[Any]] | None = None,
    holdout_speakers: Sequence[Any] | None = None,
) -> int:
    """Number of folds a protocol yields, so Snakemake can expand fold targets at DAG build.

    ``speakers`` is the corpus' speaker list (duplicates allowed); it is only needed for
    ``loso`` and to check ``speaker_kfold``'s fold count.
    """
    _check_protocol(protocol)
    if protocol in ("holdout_speakers", "random"):
        return 1
    distinct = sorted({str(s) for s in (speakers or []) if not _isna(s)})
    if protocol == "loso":
        if not distinct:
            raise ValueError("protocol 'loso' needs the corpus' speakers")
        return len(distinct)
    if fold_speakers:
        return len(fold_speakers)
    if speakers is not None:
        _check_kfold_count(folds, len(distinct))
    return int(folds)


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"unknown split protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}"
        )


def _check_kfold_count(folds: int, n_speakers: int) -> None:
    if folds < 2:
        raise ValueError(f"speaker_kfold needs folds >= 2, got {folds}")
    if folds > n_speakers:
        raise ValueError(
            f"speaker_kfold with {folds} folds needs at least {folds} speakers but the corpus has "
            f"{n_speakers}; lower split.folds or use protocol 'loso' (one fold per speaker)"
        )


def make_splits(
    df: pd.DataFrame,
    protocol: str = "speaker_kfold",
    *,
    folds: int = 5,
    test_size: float = 0.2,
    seed: int = 0,
    holdout_speakers: list[str] | None = None,
    fold_speakers: list[list[str]] | None = None,
) -> pd.DataFrame:
    """Assign each clean clip the fold in which it is test data.

    Returns ``source_id, speaker, label, fold`` (sorted by source_id); ``attrs`` holds
    ``protocol``, ``folds`` (the fold count), ``seed``, ``test_size`` and ``leaky`` (True only
    for ``random``, whose test clips share speakers with training clips).
    """
    _check_protocol(protocol)
    clips = clean_clips(df)
    if clips.empty:
        raise ValueError("no labelled clean clips to split")
    fold: np.ndarray = np.full(len(clips), NEVER_TEST, dtype=np.int64)

    if protocol == "speaker_kfold":
        speakers = _speakers(clips, protocol)
        if fold_speakers:
            fold = _explicit_folds(clips, speakers, fold_speakers)
        else:
            _check_kfold_count(folds, len(speakers))
            fold = _stratified_group_folds(clips, folds, seed)
        count = int(fold.max()) + 1
    elif protocol == "loso":
        speakers = _speakers(clips, protocol)
        index = {s: i for i, s in enumerate(speakers)}
        fold = clips["speaker"].map(index).to_numpy(dtype=np.int64)
        count = len(speakers)
    elif protocol == "holdout_speakers":
        speakers = _speakers(clips, protocol)
        if not holdout_speakers:
            raise ValueError("protocol 'holdout_speakers' needs split.holdout_speakers")
        chosen = {str(s) for s in holdout_speakers}
        unknown = sorted(chosen - set(speakers))
        if unknown:
            raise ValueError(f"holdout speakers not in the corpus: {', '.join(unknown)}")
        if chosen >= set(speakers):
            raise ValueError("holdout_speakers lists every speaker; nothing is left to train on")
        fold = np.where(clips["speaker"].isin(chosen), 0, NEVER_TEST).astype(np.int64)
        count = 1
    else:  # random
        fold = _random_fold(clips, test_size, seed)
        count = 1

    out = clips.assign(fold=fold)
    out.attrs = {
        "protocol": protocol,
        "folds": count,
        "seed": int(seed),
        "test_size": float(test_size),
        "leaky": protocol == "random",
    }
    return out


def _explicit_folds(
    clips: pd.DataFrame, speakers: list[str], fold_speakers: Sequence[Sequence[Any]]
) -> np.ndarray:
    owner: dict[str, int] = {}
    for k, group in enumerate(fold_speakers):
        if not group:
            raise ValueError(f"fold_speakers[{k}] is empty")
        for s in group:
            s = str(s)
            if s in owner:
                raise ValueError(f"speaker {s} is listed in fold_speakers {owner[s]} and {k}")
            owner[s] = k
    unknown = sorted(set(owner) - set(speakers))
    if unknown:
        raise ValueError(f"fold_speakers names speakers not in the corpus: {', '.join(unknown)}")
    unassigned = sorted(set(speakers) - set(owner))
    if unassigned:
        raise ValueError(
            f"speakers {', '.join(unassigned)} are in no fold_speakers list; every speaker must "
            "be test data in exactly one fold"
        )
    return clips["speaker"].map(owner).to_numpy(dtype=np.int64)


def _stratified_group_folds(clips: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold

    labels = clips["label"].to_numpy()
    groups = clips["speaker"].to_numpy()
    fold: np.ndarray = np.full(len(clips), NEVER_TEST, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, test_idx) in enumerate(splitter.split(np.zeros(len(clips)), labels, groups)):
        fold[test_idx] = k
    sizes = np.bincount(fold[fold >= 0], minlength=folds)
    if (fold < 0).any() or (sizes == 0).any():
        raise RuntimeError(f"StratifiedGroupKFold left a fold empty (sizes {sizes.tolist()})")
    return fold


def _random_fold(clips: pd.DataFrame, test_size: float, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    idx = np.arange(len(clips))
    labels = clips["label"].to_numpy()
    try:
        _, test_idx = train_test_split(idx, test_size=test_size, random_state=seed, stratify=labels)
    except ValueError:  # a class with a single clip cannot be stratified
        _, test_idx = train_test_split(idx, test_size=test_size, random_state=seed)
    fold: np.ndarray = np.full(len(clips), NEVER_TEST, dtype=np.int64)
    fold[test_idx] = 0
    return fold


def fold_sources(splits: pd.DataFrame, fold: int) -> set[str]:
    """Source ids that are test data in ``fold``."""
    return set(splits.loc[splits["fold"] == fold, "source_id"].astype(str))


def save_splits(df: pd.DataFrame, path: Path | str, protocol_info: dict[str, Any]) -> None:
    """Write a split table as parquet (atomically) with its protocol in schema metadata ``ser``.

    The metadata holds ``protocol, folds, seed, leaky, smote`` (plus whatever else
    ``protocol_info`` gives, e.g. ``test_size``); ``leaky`` is true for the random protocol and
    for SMOTE before the split.
    """
    # facts computed by make_splits (fold count, leakiness) win over the caller's config echo
    given = {k: v for k, v in protocol_info.items() if v is not None}
    info: dict[str, Any] = {**given, **{str(k): v for k, v in df.attrs.items()}}
    info.setdefault("smote", "none")
    info["leaky"] = bool(
        info.get("leaky") or info.get("protocol") == "random" or info["smote"] == "before_split"
    )
    info["folds"] = max(int(info.get("folds") or 0), int(df["fold"].max()) + 1 if len(df) else 0)
    frame = df[SPLIT_COLUMNS].reset_index(drop=True)
    frame.attrs = {}
    write_parquet(frame, path, info)


def load_splits(path: Path | str) -> pd.DataFrame:
    """Read a split table; its protocol metadata comes back in ``attrs``."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    df = table.to_pandas()
    df["source_id"] = df["source_id"].astype(str)
    df["fold"] = df["fold"].astype(np.int64)
    df.attrs = json.loads(meta[_META_KEY]) if _META_KEY in meta else {}
    return df
