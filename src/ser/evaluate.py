"""Evaluation of per-fold test predictions: metrics.json, DVC tables and figures per model.

Headline figures (accuracy, UAR, macro-F1, per-class recall, confusion) are computed on the
CLEAN test rows only; noisy copies are reported separately per SNR (``by_snr``) so that noise
robustness never inflates or deflates the headline. Calibration (ECE) uses the max class
probability; out-of-distribution detection (``ood_auroc``) uses the model's confidence branch.
All metric arithmetic is scikit-learn's; this module only selects rows and assembles results.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ser import plots, trust
from ser.conditions import CONDITION_KINDS, clean_mask, level_text, row_conditions
from ser.io import jsonable, write_json, write_parquet
from ser.io import write_text as write_text_atomic
from ser.predictions import STRICT_PREFIX
from ser.splits import load_splits

log = logging.getLogger(__name__)

ECE_BINS = 15
FIGURES = ("confusion.png", "confusion_norm.png", "snr.png", "conditions.png", "curves.png",
           "reliability.png", "per_class.png", "per_speaker.png")


# --------------------------------------------------------------------------- small helpers


def describe_protocol(meta: dict[str, Any]) -> tuple[str, bool]:
    """Protocol text and leaky flag from prediction metadata.

    ``meta["protocol"]`` is the split's protocol record (dict with ``protocol``, ``leaky``,
    ``smote``...; see ser.splits/ser.train) or a plain name. Leaky protocols say why in the text
    (e.g. ``random (leaky: speakers shared; SMOTE before split)``) so that no table can show a
    leaky figure without the warning next to it.
    """
    record = meta.get("protocol")
    info: dict[str, Any] = dict(record) if isinstance(record, dict) else {"protocol": record}
    protocol = str(info.get("protocol") or "unknown")
    given = meta.get("params")
    params: dict[str, Any] = given if isinstance(given, dict) else {}
    smote = meta.get("smote") or info.get("smote") or params.get("smote")
    base = protocol.split()[0].lower() if protocol.split() else ""
    reasons = []
    if base == "random":
        reasons.append("speakers shared")
    if smote == "before_split":
        reasons.append("SMOTE before split")
    leaky = bool(meta.get("leaky", False)) or bool(info.get("leaky", False)) or bool(reasons)
    if leaky and "leaky" not in protocol.lower():
        protocol = f"{protocol} (leaky: {'; '.join(reasons) or 'test data seen in training'})"
    return protocol, leaky


def _labels_of(series: pd.Series) -> np.ndarray:
    return np.asarray(series.astype(str).to_numpy(), dtype=object)


def _prob_columns(labels: Sequence[str]) -> list[str]:
    return [f"prob_{label}" for label in labels]


# --------------------------------------------------------------------------- metric pieces


def _scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """accuracy, UAR (sklearn balanced accuracy) and macro-F1 of one set of rows."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": expected on small folds and cross-corpus.
        warnings.simplefilter("ignore", UserWarning)
        uar = balanced_accuracy_score(y_true, y_pred)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": float(uar),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def reliability_bins(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width confidence bin over [0, 1]: (mean confidence, accuracy, count).

    Bins are right-closed, (k/n, (k+1)/n], as in Guo et al. (2017); confidence 0 joins the first
    bin. Empty bins give NaN mean/accuracy and count 0.
    """
    conf = np.asarray(confidence, dtype=float)
    corr = np.asarray(correct, dtype=float)
    idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(float)
    sum_conf = np.bincount(idx, weights=conf, minlength=n_bins)
    sum_corr = np.bincount(idx, weights=corr, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(counts > 0, sum_conf / counts, np.nan)
        acc = np.where(counts > 0, sum_corr / counts, np.nan)
    return mean_conf, acc, counts


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS
) -> float:
    """ECE: count-weighted mean |accuracy - mean confidence| over equal-width bins."""
    mean_conf, acc, counts = reliability_bins(confidence, correct, n_bins)
    total = counts.sum()
    if total == 0:
        return float("nan")
    ok = counts > 0
    return float(np.sum(counts[ok] * np.abs(acc[ok] - mean_conf[ok])) / total)


def ood_auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """AUROC of a score separating in-distribution (positive) from shifted (negative) clips."""
    from sklearn.metrics import roc_auc_score

    pos = np.asarray(positive, dtype=float)
    neg = np.asarray(negative, dtype=float)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    return float(roc_auc_score(y, np.concatenate([pos, neg])))


def _max_prob(frame: pd.DataFrame, labels: Sequence[str]) -> np.ndarray | None:
    """Max class probability per row, or None when the model gives no probabilities."""
    cols = _prob_columns(labels)
    if not all(c in frame.columns for c in cols):
        return None
    probs = frame[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if probs.size and not np.isfinite(probs).all(axis=1).any():
        return None
    return probs.max(axis=1) if probs.size else np.zeros(0)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float array (NaN where absent or not a number)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _ood_aurocs(
    score: np.ndarray,
    pred: pd.DataFrame,
    clean_mask: np.ndarray,
    snr: np.ndarray,
    other_score: np.ndarray | None,
) -> dict[str, float]:
    """AUROC of ``score`` for clean test clips (positive) against their copies at the lowest
    SNR present (``noisy_0db``) and against another corpus' clean clips (``other_corpus``)."""
    out: dict[str, float] = {}
    finite = np.isfinite(score)
    noisy = np.isfinite(snr) & finite
    if noisy.any() and "source_id" in pred.columns and "id" in pred.columns:
        low = noisy & (snr == np.nanmin(snr[noisy]))
        sources = pred.loc[low, "source_id"].astype(str).unique()
        pos = clean_mask & finite & pred["id"].astype(str).isin(sources).to_numpy()
        if pos.any():
            out["noisy_0db"] = ood_auroc(score[pos], score[low])
    if other_score is not None:
        other = other_score[np.isfinite(other_score)]
        pos = clean_mask & finite
        if other.size and pos.any():
            out["other_corpus"] = ood_auroc(score[pos], other)
    return out


def clean_rows(pred: pd.DataFrame) -> np.ndarray:
    """Clean test rows: no SNR, and (where ids are present) not a copy under another condition
    (reverberant, telephone, codec and gain copies have no SNR either)."""
    return pd.to_numeric(pred["snr_db"], errors="coerce").isna().to_numpy() & clean_mask(pred)


def by_condition(pred: pd.DataFrame) -> dict[str, Any]:
    """Scores per recording condition and level (ser.conditions): ``{"clean": {...}, "noise":
    {"20": {...}, ...}, "reverb": {"0.6": {...}}, "telephone": {"ulaw": ...}, ...}``, each with
    pooled accuracy/UAR/macro-F1, the UAR mean and std over folds, the number of test rows, and
    ``delta_uar`` (UAR minus the clean UAR of the same folds). Noise levels go from the highest
    SNR down, other levels in their natural order."""
    kinds, levels = row_conditions(pred)

    def scores(mask: np.ndarray) -> dict[str, Any]:
        rows = pred[mask]
        out: dict[str, Any] = {**_scores(_labels_of(rows["true"]), _labels_of(rows["predicted"])),
                               "n": int(mask.sum())}
        if "fold" in rows.columns and rows["fold"].nunique() > 1:
            per_fold = [_scores(_labels_of(r["true"]), _labels_of(r["predicted"]))["uar"]
                        for _, r in rows.groupby(rows["fold"].to_numpy(), sort=True)]
            out["uar_fold_mean"] = float(np.mean(per_fold))
            out["uar_fold_std"] = float(np.std(per_fold, ddof=1))
        return out

    clean = kinds == "clean"
    if not clean.any():
        return {}
    result: dict[str, Any] = {"clean": scores(clean)}
    for kind in CONDITION_KINDS:
        present = sorted({str(v) for v in levels[kinds == kind]}, key=_level_order(kind))
        if not present:
            continue
        result[kind] = {}
        for level in present:
            entry = scores((kinds == kind) & (levels == level))
            entry["delta_uar"] = entry["uar"] - result["clean"]["uar"]
            result[kind][level] = entry
    return result


def condition_table(by_cond: dict[str, Any]) -> pd.DataFrame:
    """``by_condition`` as a long table: condition, level, UAR (pooled, fold mean and std),
    accuracy, delta to clean, n."""
    rows = []
    for kind, levels in by_cond.items():
        items = [("", levels)] if kind == "clean" else list(levels.items())
        for level, e in items:
            rows.append({"condition": kind, "level": level, "uar": e.get("uar"),
                         "uar_fold_mean": e.get("uar_fold_mean"),
                         "uar_fold_std": e.get("uar_fold_std"), "accuracy": e.get("accuracy"),
                         "delta_uar": e.get("delta_uar", 0.0), "n": e.get("n")})
    return pd.DataFrame(rows, columns=["condition", "level", "uar", "uar_fold_mean",
                                       "uar_fold_std", "accuracy", "delta_uar", "n"])


def write_condition_outputs(by_cond: dict[str, Any], out_dir: Path, title: str, *,
                            chance: float | None = None) -> None:
    """conditions.csv (one row per condition and level) and conditions.png."""
    table = condition_table(by_cond)
    write_text_atomic(Path(out_dir) / "conditions.csv",
                      table.to_csv(index=False, float_format="%.6g"))
    plots.plot_conditions(by_cond, title, Path(out_dir) / "conditions.png", chance=chance)


def _level_order(kind: str):
    """Sort key of a condition's levels: noise from high to low SNR, numbers ascending, text."""
    def key(level: str) -> tuple[int, float, str]:
        try:
            value = float(level)
        except ValueError:
            return (1, 0.0, level)
        return (0, -value if kind == "noise" else value, level)

    return key


def _check_columns(pred: pd.DataFrame) -> None:
    missing = [c for c in ("true", "predicted", "snr_db") if c not in pred.columns]
    if missing:
        raise ValueError(f"prediction table lacks columns {missing}; see docs/architecture.md")


# --------------------------------------------------------------------------- public API


def compute_metrics(
    pred: pd.DataFrame, labels: list[str], *, ood_other: pd.DataFrame | None = None,
    splits: pd.DataFrame | None = None,
) -> dict:
    """All evaluation figures of one prediction table (all folds), as a JSON-ready dict.

    ``pred`` follows the prediction-table contract (docs/architecture.md); its ``attrs["ser"]``
    metadata, when present, supplies protocol/leaky. ``ood_other``: the same model's predictions
    on another corpus, for ``ood_auroc.other_corpus``. ``splits`` (the dataset's split table)
    gives each clip's speaker and the training part of each fold, for the per-speaker results
    and the leakage audit.
    """
    from sklearn.metrics import confusion_matrix, recall_score

    _check_columns(pred)
    labels = [str(label) for label in labels]
    meta = pred.attrs.get("ser", {}) if isinstance(pred.attrs.get("ser"), dict) else {}
    protocol, leaky = describe_protocol(meta)

    snr = pd.to_numeric(pred["snr_db"], errors="coerce")
    clean_mask = clean_rows(pred)
    clean = pred[clean_mask]
    noisy = pred[snr.notna().to_numpy()]
    if clean.empty:
        raise ValueError("no clean test rows (snr_db null): headline metrics are undefined")

    y_true, y_pred = _labels_of(clean["true"]), _labels_of(clean["predicted"])
    # Labels outside the model's list (e.g. a cross-corpus label) are kept, never dropped.
    extra = sorted((set(y_true) | set(y_pred)) - set(labels))
    all_labels = labels + extra

    result: dict[str, Any] = {"labels": labels}
    result.update(_scores(y_true, y_pred))
    recalls = recall_score(y_true, y_pred, labels=all_labels, average=None,
                           zero_division=np.nan)
    present = set(y_true)
    result["per_class"] = {
        lab: (float(r) if lab in present else None)
        for lab, r in zip(all_labels, recalls, strict=True)
        if lab in labels or lab in present
    }
    result["labels_in_test"] = [lab for lab in all_labels if lab in present]
    result["n_test"] = int(len(clean))
    result["n_test_noisy"] = int(len(noisy))
    result["protocol"] = protocol
    result["leaky"] = leaky

    # Per fold (clean rows), then mean and sample std over folds.
    folds = []
    fold_col = clean["fold"] if "fold" in clean.columns else pd.Series(0, index=clean.index)
    for fold, rows in clean.groupby(fold_col.to_numpy(), sort=True):
        scores = _scores(_labels_of(rows["true"]), _labels_of(rows["predicted"]))
        folds.append({"fold": int(cast(int, fold)), **scores, "n_test": int(len(rows))})
    result["folds"] = folds
    keys = ("accuracy", "uar", "macro_f1")
    table = np.array([[f[k] for k in keys] for f in folds], dtype=float)
    result["folds_mean"] = {k: float(v) for k, v in zip(keys, table.mean(axis=0), strict=True)}
    std = table.std(axis=0, ddof=1) if len(folds) > 1 else np.zeros(len(keys))
    result["folds_std"] = {k: float(v) for k, v in zip(keys, std, strict=True)}

    # Accuracy and UAR per SNR: clean first, then decreasing SNR.
    by_snr = {"clean": result["accuracy"]}
    by_snr_uar = {"clean": result["uar"]}
    noisy_snr = snr[snr.notna().to_numpy()]
    for value in sorted(noisy_snr.unique(), reverse=True):
        rows = noisy[(noisy_snr == value).to_numpy()]
        scores = _scores(_labels_of(rows["true"]), _labels_of(rows["predicted"]))
        by_snr[level_text(value)] = scores["accuracy"]
        by_snr_uar[level_text(value)] = scores["uar"]
    result["by_snr"] = by_snr
    result["by_snr_uar"] = by_snr_uar
    by_noise = trust.noise_kind_scores(
        noisy, lambda rows: _scores(_labels_of(rows["true"]), _labels_of(rows["predicted"]))[
            "accuracy"])
    if by_noise:
        result["by_noise"] = by_noise
    result["by_condition"] = by_condition(pred)

    matrix = confusion_matrix(y_true, y_pred, labels=all_labels)
    result["confusion"] = {"labels": all_labels, "matrix": matrix.tolist()}

    # Calibration over max class probability (clean rows).
    maxprob = _max_prob(pred, labels)
    if maxprob is not None:
        finite = np.isfinite(maxprob) & clean_mask
        correct = (_labels_of(pred["true"]) == _labels_of(pred["predicted"]))
        if finite.any():
            result["ece"] = expected_calibration_error(maxprob[finite], correct[finite])

    # OOD detection with the confidence column: the model's confidence branch, or (ser.train
    # writes this for models without one; metadata confidence="max_prob") the max probability.
    # For a confidence branch the max probability is reported beside it as the baseline.
    conf = _numeric(pred, "confidence")
    if np.isfinite(conf).any():
        conf_kind = str(meta.get("confidence") or "model")
        other = other_max = other_conf = None
        if ood_other is not None and len(ood_other):
            other = ood_other[np.isnan(_numeric(ood_other, "snr_db"))]
            other_conf = _numeric(other, "confidence")
            other_max = _max_prob(other, labels)
        snr_values = snr.to_numpy(dtype=float)
        ood = _ood_aurocs(conf, pred, clean_mask, snr_values, other_conf)
        result["ood_score"] = conf_kind
        if ood:
            result["ood_auroc"] = ood
        if "noisy_0db" in ood:
            result["ood_noisy_snr_db"] = float(np.nanmin(snr_values))
        if conf_kind != "max_prob" and maxprob is not None:
            baseline = _ood_aurocs(maxprob, pred, clean_mask, snr_values, other_max)
            if baseline:
                result["ood_auroc_maxprob"] = baseline
    _trust_figures(result, pred, clean, splits)
    strict = strict_twin_metrics(pred, splits)
    if strict is not None:
        result["adaptive"] = {
            "uar": result["uar"], "folds_mean": result["folds_mean"]["uar"],
            "folds_std": result["folds_std"]["uar"], "per_fold": [f["uar"] for f in folds],
            "uar_interval": result.get("uar_interval"),
            "means": "each test speaker standardised with the statistics of its own test "
                     "clips (needs the speaker's identity and a set of its clips)",
        }
        result["strict"] = strict
    return result


"""Prefix of the strict twin's columns (strict_predicted, strict_prob_<label>) in the fold
predictions of an adaptive model (normalize: speaker with fallback: strict)."""


def strict_twin_metrics(pred: pd.DataFrame, splits: pd.DataFrame | None = None
                        ) -> dict[str, Any] | None:
    """UAR of the strict twin of an adaptive model, per fold and pooled with its interval.

    A `normalize: speaker` model trained with `fallback: strict` carries a second model that
    uses no information from test speakers (training scaler only); its predictions of the same
    clips are the `strict_` columns. Reported beside the adaptive figure so that the two are
    never confused. None for models without a twin."""
    col = STRICT_PREFIX + "predicted"
    if col not in pred.columns:
        return None
    clean = pred[clean_rows(pred)]
    y_true, y_pred = _labels_of(clean["true"]), _labels_of(clean[col])
    folds = []
    fold_col = clean["fold"] if "fold" in clean.columns else pd.Series(0, index=clean.index)
    for _fold, rows in clean.groupby(fold_col.to_numpy(), sort=True):
        uar = _scores(_labels_of(rows["true"]), _labels_of(rows[col]))["uar"]
        folds.append(float(uar))
    speakers = None
    if splits is not None:
        speakers = trust.speakers_of(clean, splits)
    elif "speaker" in clean.columns and clean["speaker"].notna().all():
        speakers = clean["speaker"].astype(str).to_numpy()
    return {
        "uar": _scores(y_true, y_pred)["uar"],
        "folds_mean": float(np.mean(folds)),
        "folds_std": float(np.std(folds, ddof=1)) if len(folds) > 1 else 0.0,
        "per_fold": folds,
        "uar_interval": trust.uar_interval(y_true, y_pred, speakers),
        "means": "no information from test speakers (scaler of the training speakers)",
    }


def _trust_figures(result: dict[str, Any], pred: pd.DataFrame, clean: pd.DataFrame,
                   splits: pd.DataFrame | None) -> None:
    """Beside the scores: chance, a UAR interval (flagged when it reaches chance), UAR per
    speaker with the worst one named, the leakage audit, and whether confidence separates right
    from wrong answers (:mod:`ser.trust`)."""
    y_true, y_pred = _labels_of(clean["true"]), _labels_of(clean["predicted"])
    chance = trust.chance_level(len(result["labels_in_test"]))
    speakers = None
    if splits is not None:
        speakers = trust.speakers_of(clean, splits)
    elif "speaker" in clean.columns and clean["speaker"].notna().all():
        speakers = clean["speaker"].astype(str).to_numpy()
    interval = trust.uar_interval(y_true, y_pred, speakers)
    result["chance"] = chance
    result["uar_interval"] = interval
    result["at_chance"] = trust.includes_chance(interval, chance)
    if speakers is not None:
        per_speaker = trust.per_speaker_uar(y_true, y_pred, speakers)
        result["per_speaker"] = per_speaker
        worst = trust.worst_speaker(per_speaker)
        if worst is not None:
            result["worst_speaker"] = {"speaker": worst[0], "uar": worst[1]}
    if splits is not None:
        result["leakage"] = trust.leakage_audit(pred, splits)
    conf = _numeric(clean, "confidence")
    finite = np.isfinite(conf)
    if finite.any():
        result["confidence_check"] = trust.confidence_check(conf[finite], (y_true == y_pred)[
            finite])


def read_predictions(path: Path | str) -> pd.DataFrame:
    """A prediction parquet as a DataFrame with its ``ser`` metadata in ``attrs["ser"]``.

    Tables without metadata get labels from their ``prob_<label>`` columns (in column order).
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(b"ser")
    meta = json.loads(raw) if raw else {}
    frame = table.to_pandas()
    if not meta.get("labels"):
        meta["labels"] = [c[len("prob_"):] for c in frame.columns if c.startswith("prob_")]
    frame.attrs["ser"] = meta
    return frame


def _fold_number(path: Path, default: int) -> int:
    for part in reversed(path.parts):
        match = re.fullmatch(r"fold(\d+)(?:\.\w+)?", part)
        if match:
            return int(match.group(1))
    return default


def _read_histories(histories: Sequence[Path]) -> dict[int, pd.DataFrame]:
    """fold -> training history; paths that do not exist (non-Keras models) are skipped."""
    out: dict[int, pd.DataFrame] = {}
    for i, path in enumerate(histories):
        path = Path(path)
        if path.is_file() and path.stat().st_size > 0:
            frame = pd.read_csv(path)
            if len(frame):
                out[_fold_number(path, i)] = frame
    return out


def _classification_report(pred: pd.DataFrame, labels: list[str], header: str) -> str:
    from sklearn.metrics import classification_report

    snr = pd.to_numeric(pred["snr_db"], errors="coerce")
    parts = [header, ""]
    clean = clean_rows(pred)
    for name, rows in (("clean test clips", pred[clean]),
                       ("noisy copies, all SNRs pooled", pred[snr.notna().to_numpy()]),
                       ("copies under other conditions, pooled",
                        pred[~clean & snr.isna().to_numpy()])):
        if rows.empty:
            continue
        y_true, y_pred = _labels_of(rows["true"]), _labels_of(rows["predicted"])
        extra = sorted((set(y_true) | set(y_pred)) - set(labels))
        report = classification_report(y_true, y_pred, labels=labels + extra, digits=3,
                                       zero_division=0)
        parts += [f"{name} (n={len(rows)}):", report]
    return "\n".join(parts)


def evaluate_model(
    fold_predictions: Sequence[Path],
    histories: Sequence[Path],
    out_dir: Path,
    *,
    ood_other: Sequence[Path] = (),
    splits: Path | None = None,
    bundles: Sequence[Path] = (),
    features: Sequence[Path] = (),
    corpus: dict[str, Any] | None = None,
) -> dict:
    """Evaluate one dataset x model from its per-fold prediction tables; write every artefact.

    Writes (atomically) into ``out_dir``: metrics.json, predictions.parquet (all folds),
    confusion.csv (actual,predicted per clean test clip, for DVC's confusion template), snr.csv,
    conditions.csv (UAR per recording condition and level),
    classification_report.txt and the figures in :data:`FIGURES`. ``histories`` are per-fold
    history.csv files (may be empty for models not trained by epochs); ``ood_other`` optional
    prediction tables of the same model on another corpus. ``splits`` (the split table) gives
    speakers and the leakage audit; ``bundles`` with their ``features`` tables give the cost
    and the checks of the reloaded bundles (:func:`ser.trust.check_bundles`); ``corpus`` says
    what the data is (``{"synthetic": true}`` for the generated demo corpus). Returns the
    metrics dict.
    """
    if not fold_predictions:
        raise ValueError("evaluate_model needs at least one fold prediction table")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = [read_predictions(p) for p in fold_predictions]
    meta = dict(frames[0].attrs["ser"])
    labels = [str(x) for x in meta["labels"]]
    for path, frame in zip(fold_predictions, frames, strict=True):
        if [str(x) for x in frame.attrs["ser"]["labels"]] != labels:
            raise ValueError(f"{path}: labels {frame.attrs['ser']['labels']} differ from {labels}")
    pred = pd.concat(frames, ignore_index=True)
    sort_cols = [c for c in ("fold", "id") if c in pred.columns]
    if sort_cols:
        pred = pred.sort_values(sort_cols, kind="stable", ignore_index=True)
    pred.attrs["ser"] = meta
    other = None
    if ood_other:
        other = pd.concat([read_predictions(p) for p in ood_other], ignore_index=True)

    split_table = None
    if splits is not None:
        split_table = load_splits(splits)
    metrics = compute_metrics(pred, labels, ood_other=other, splits=split_table)
    if corpus is not None:
        metrics["corpus"] = dict(corpus)
    if bundles and features:
        metrics.update(trust.check_bundles(bundles, features, pred, labels))
    dataset = str(meta.get("dataset") or out_dir.parent.name)
    model = str(meta.get("model") or out_dir.name)
    arch = str(meta.get("arch") or "")
    info: dict[str, Any] = {"dataset": dataset, "model": model, "arch": arch}
    for key in ("features", "feature_set", "train_dataset", "test_dataset", "normalize",
                "train_on", "condition_balance"):
        if key in meta:
            info[key] = meta[key]
    if isinstance(meta.get("params"), dict) and "features" not in info:
        feats = meta["params"].get("features") or meta["params"].get("feature_set")
        if feats:
            info["features"] = feats
    metrics = {**info, **metrics}
    folds_used = sorted({int(f) for f in pred["fold"]}) if "fold" in pred else []
    log.info("%s/%s: UAR %.3f, accuracy %.3f on %s clean test rows over %d fold(s) (%s)",
             dataset, model, metrics.get("uar", float("nan")),
             metrics.get("accuracy", float("nan")), metrics.get("n_test", "?"),
             len(folds_used), metrics.get("protocol", "?"))

    # Tables.
    write_parquet(pred, out_dir / "predictions.parquet", {**meta, "folds": folds_used})
    clean = pred[clean_rows(pred)]
    confusion = pd.DataFrame({"actual": clean["true"].astype(str).to_numpy(),
                              "predicted": clean["predicted"].astype(str).to_numpy()})
    write_text_atomic(out_dir / "confusion.csv", confusion.to_csv(index=False))
    snr_rows = [(k, metrics["by_snr"][k], metrics["by_snr_uar"][k])
                for k in sorted((k for k in metrics["by_snr"] if k != "clean"), key=float)]
    snr_rows.append(("clean", metrics["by_snr"]["clean"], metrics["by_snr_uar"]["clean"]))
    snr_table = pd.DataFrame(snr_rows, columns=["snr", "accuracy", "uar"])
    write_text_atomic(out_dir / "snr.csv", snr_table.to_csv(index=False, float_format="%.6g"))
    header = (f"dataset: {dataset}   model: {model}   arch: {arch or '-'}\n"
              f"protocol: {metrics['protocol']}\n"
              f"folds: {', '.join(map(str, folds_used)) or '-'}")
    write_text_atomic(out_dir / "classification_report.txt",
                      _classification_report(pred, labels, header))

    # Figures.
    title = f"{dataset} / {model}" + (" [leaky]" if metrics["leaky"] else "")
    conf_labels = metrics["confusion"]["labels"]
    matrix = np.asarray(metrics["confusion"]["matrix"])
    plots.plot_confusion(matrix, conf_labels, title, out_dir / "confusion.png")
    plots.plot_confusion(matrix, conf_labels, title, out_dir / "confusion_norm.png",
                         normalize=True)
    plots.plot_snr(snr_rows, title, out_dir / "snr.png", chance=metrics["chance"],
                   by_noise=metrics.get("by_noise"))
    write_condition_outputs(metrics["by_condition"], out_dir, title, chance=metrics["chance"])
    plots.plot_curves(_read_histories(histories), title, out_dir / "curves.png",
                      arch=arch or model)
    bins = None
    maxprob = _max_prob(clean, labels)
    if maxprob is not None and np.isfinite(maxprob).any():
        ok = np.isfinite(maxprob)
        correct = (_labels_of(clean["true"]) == _labels_of(clean["predicted"]))[ok]
        bins = reliability_bins(maxprob[ok], correct)
    plots.plot_reliability(bins, title, out_dir / "reliability.png", ece=metrics.get("ece"))
    plots.plot_per_class(metrics["per_class"], title, out_dir / "per_class.png")
    plots.plot_per_speaker(metrics.get("per_speaker") or {}, title, out_dir / "per_speaker.png",
                           chance=metrics["chance"], uar=metrics["uar"])

    write_json(out_dir / "metrics.json", metrics)
    return jsonable(metrics)
