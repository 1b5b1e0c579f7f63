"""SMOTE oversampling: honest (training rows only) and seed S2's leaky protocol, labelled.

Why its own room: training and tuning oversample the fitting rows of every (inner) fold, and the
leaky ``before_split`` variant must also place its synthetic rows into the split; keeping both
here makes it easy to see that the honest path never sees test rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE
from sklearn.model_selection import train_test_split

from ser.features.tables import is_clean
from ser.splits import NEVER_TEST

SMOTE_MODES = ("none", "train_only", "before_split")


def oversample(
    X: np.ndarray, y: np.ndarray, seed: int, k_neighbors: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Oversample minority classes of (already scaled) training rows with SMOTE."""
    counts = np.bincount(y)
    present = counts[counts > 0]
    if len(present) < 2 or present.min() == present.max():
        return X, y
    if present.min() < 2:
        warnings.warn("SMOTE skipped: a class has a single training row", stacklevel=2)
        return X, y
    k = min(k_neighbors, int(present.min()) - 1)
    shape = X.shape[1:]
    Xr, yr = SMOTE(random_state=seed, k_neighbors=k).fit_resample(X.reshape(len(X), -1), y)
    return np.asarray(Xr, dtype=np.float32).reshape((-1, *shape)), np.asarray(yr, dtype=np.int64)


def smote_before_split(
    meta_df: pd.DataFrame, X: np.ndarray, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Seed S2's leaky protocol: SMOTE (k_neighbors=1) on all clean rows before any split.

    Synthetic rows are appended with ids ``smote{i}`` (their own source_id), no speaker and no
    SNR; they interpolate between clips that may end up on both sides of the split, which is
    exactly why this protocol overestimates accuracy.
    """
    clean = is_clean(meta_df)
    labels = meta_df.loc[clean, "label"].astype(str).to_numpy()
    names, y = np.unique(labels, return_inverse=True)
    Xc = np.asarray(X, dtype=np.float32)[clean]
    shape = Xc.shape[1:]
    if len(names) < 2 or np.bincount(y).min() < 2:
        raise ValueError("smote before_split needs >= 2 classes with >= 2 clean clips each")
    Xr, yr = SMOTE(random_state=seed, k_neighbors=1).fit_resample(Xc.reshape(len(Xc), -1), y)
    synth_X = np.asarray(Xr[len(Xc) :], dtype=np.float32).reshape((-1, *shape))
    synth_y = np.asarray(yr[len(Xc) :])
    ids = [f"smote{i}" for i in range(len(synth_y))]
    dataset = meta_df["dataset"].iloc[0] if "dataset" in meta_df.columns and len(meta_df) else None
    synth = pd.DataFrame(
        {
            "id": ids,
            "source_id": ids,
            "dataset": dataset,
            "speaker": None,
            "label": names[synth_y] if len(synth_y) else np.array([], dtype=object),
            "snr_db": np.nan,
            "noise": None,
        }
    )
    synth = synth[[c for c in meta_df.columns if c in synth.columns]]
    out_df = pd.concat([meta_df.reset_index(drop=True), synth], ignore_index=True)
    return out_df, np.concatenate([np.asarray(X, dtype=np.float32), synth_X], axis=0)


def assign_synthetic(splits: pd.DataFrame, synth: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Put S2's synthetic rows on both sides of the random split (test_size of the split)."""
    test_size = float(splits.attrs.get("test_size", 0.2))
    fold = np.full(len(synth), NEVER_TEST, dtype=np.int64)
    if len(synth) >= 2:
        idx = np.arange(len(synth))
        try:
            _, test_idx = train_test_split(
                idx, test_size=test_size, random_state=seed, stratify=synth["label"]
            )
        except ValueError:
            _, test_idx = train_test_split(idx, test_size=test_size, random_state=seed)
        fold[test_idx] = 0
    extra = pd.DataFrame(
        {"source_id": synth["source_id"].astype(str), "speaker": None,
         "label": synth["label"].astype(str), "fold": fold}
    )
    out = pd.concat([splits, extra], ignore_index=True)
    out.attrs = dict(splits.attrs)
    return out
