"""Prediction tables: one row per clip with true and predicted label, confidence and the
probability of every label; written by training (fold test parts), cross-corpus testing and read
by evaluation.

Columns: ``id, source_id, fold, snr_db, noise, true, predicted, confidence, prob_<label>...``;
the run's facts (labels, protocol, model, ...) travel as the parquet's ``ser`` metadata.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser.bundle import Bundle
from ser.features.tables import source_ids, speakers_known
from ser.io import write_parquet
from ser.splits import NEVER_TEST

STRICT_PREFIX = "strict_"
"""Columns of an adaptive model's strict twin in its fold predictions (strict_predicted, ...)."""


def prediction_frame(
    meta_df: pd.DataFrame,
    probs: np.ndarray,
    conf: np.ndarray | None,
    labels: Sequence[str],
    fold: Any,
) -> pd.DataFrame:
    """The prediction table of ``meta_df``'s rows; ``fold`` None takes ``meta_df['fold']`` (or
    -1). Confidence is the model's own when given, else the largest probability."""
    probs = np.asarray(probs, dtype=np.float64)
    n = len(meta_df)
    if probs.shape != (n, len(labels)):
        raise ValueError(
            f"model returned probabilities of shape {probs.shape}, expected {(n, len(labels))}"
        )
    if "fold" in meta_df.columns and fold is None:
        fold_col = meta_df["fold"].to_numpy(dtype=np.int64)
    else:
        fold_col = np.full(n, NEVER_TEST if fold is None else int(fold), dtype=np.int64)
    ids = meta_df["id"].astype(str).to_numpy()

    def column(name: str, default: Any) -> Any:
        return meta_df[name].to_numpy() if name in meta_df.columns else [default] * n

    out = pd.DataFrame(
        {
            "id": ids,
            "source_id": source_ids(meta_df).to_numpy(),
            "fold": fold_col,
            "snr_db": pd.to_numeric(pd.Series(column("snr_db", np.nan)), errors="coerce")
            .astype("float64")
            .to_numpy(),
            "noise": [None if pd.isna(v) else str(v) for v in column("noise", None)],
            "true": [None if pd.isna(v) else str(v) for v in column("label", None)],
            "predicted": np.asarray(labels, dtype=object)[probs.argmax(axis=1)] if n else [],
            "confidence": probs.max(axis=1) if conf is None else np.asarray(conf, np.float64),
        }
    )
    for j, name in enumerate(labels):
        out[f"prob_{name}"] = probs[:, j]
    return out


def write_predictions(df: pd.DataFrame, path: Path | str, info: dict[str, Any]) -> None:
    """Write a prediction table atomically with ``info`` as schema metadata ``ser`` (JSON)."""
    write_parquet(df, path, info)


def predict_frame(bundle: Bundle, meta_df: pd.DataFrame, X: np.ndarray) -> pd.DataFrame:
    """Predict rows of a feature table with a bundle; same columns as fold predictions.

    ``fold`` comes from ``meta_df['fold']`` when present, else -1. With speaker normalisation
    the rows' ``speaker`` column supplies per-speaker statistics (all rows one speaker if absent).
    """
    X = np.asarray(X, dtype=np.float32)
    cols = bundle.feature_set.get("columns")
    if cols is not None and X.ndim == 2 and X.shape[1] != len(cols):
        raise ValueError(f"bundle expects {len(cols)} feature columns, got {X.shape[1]}")
    speakers = None
    if bundle.normalize == "speaker":
        if speakers_known(meta_df):
            speakers = meta_df["speaker"].astype(str).to_numpy()
        else:
            warnings.warn("speaker normalisation without speakers: rows treated as one speaker",
                          stacklevel=2)
    probs, conf = bundle.predict(X, speakers)
    return prediction_frame(meta_df.reset_index(drop=True), probs, conf, bundle.labels, None)


def with_strict_columns(preds: pd.DataFrame, probs: np.ndarray,
                        labels: Sequence[str]) -> pd.DataFrame:
    """Add the strict twin's prediction and probabilities (``strict_predicted``,
    ``strict_prob_<label>``) to an adaptive model's fold predictions."""
    probs = np.asarray(probs, dtype=np.float64)
    out = preds.copy()
    out[STRICT_PREFIX + "predicted"] = np.asarray(labels, dtype=object)[probs.argmax(axis=1)]
    for j, name in enumerate(labels):
        out[f"{STRICT_PREFIX}prob_{name}"] = probs[:, j]
    return out
