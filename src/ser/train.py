"""Fold training: one model per (corpus, model config, fold), honest by construction.

For fold ``k`` the test part is every row (clean and noisy) whose clean source is test data in
fold ``k`` of the split; everything the model learns from — the scaler, SMOTE, class weights,
validation speakers for early stopping, hyperparameter tuning — is computed from the remaining
training part only. The one exception is deliberate and labelled: ``smote: before_split`` with
the ``random`` protocol reproduces seed S2's leaky set-up for comparison.

Outputs per fold: a bundle (:mod:`ser.bundle`) and a prediction table with columns
``id, source_id, fold, snr_db, noise, true, predicted, confidence, prob_<label>...``.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser.bundle import Bundle, apply_scaler, fit_scaler, save_bundle, speaker_standardize
from ser.splits import NEVER_TEST, load_splits

log = logging.getLogger(__name__)

CANONICAL_ORDER = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "boredom"
)
"""Label order of prediction columns (labels outside it follow, alphabetically)."""

SMOTE_MODES = ("none", "train_only", "before_split")
TRAIN_ON = ("clean", "clean+noisy")
NORMALIZE = ("global", "speaker", "none")

# model_cfg keys that configure training, not the model itself
TRAINING_KEYS = frozenset(
    {
        "arch", "features", "datasets", "normalize", "class_weight", "train_on", "val_speakers",
        "tune", "tune_folds", "gpu",
    }
)

PathLike = Path | str


# --------------------------------------------------------------------------- tables


def _read_features(path: PathLike) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    from ser.features import read_features

    return read_features(Path(path))


def read_table(
    features: PathLike | Sequence[PathLike],
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Read one feature table, or fuse several vector tables (join on id, concatenate columns)."""
    paths = [features] if isinstance(features, str | Path) else list(features)
    if not paths:
        raise ValueError("no feature table given")
    if len(paths) == 1:
        meta_df, X, meta = _read_features(paths[0])
        return meta_df.reset_index(drop=True), np.asarray(X, dtype=np.float32), meta
    parts = [_read_features(p) for p in paths]
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


def _feature_set_info(meta: dict[str, Any]) -> dict[str, Any]:
    info = {"name": meta.get("feature_set")}
    for key in ("kind", "params", "columns", "shape", "sample_rate", "versions", "parts"):
        if key in meta:
            info[key] = meta[key]
    return info


def _is_clean(meta_df: pd.DataFrame) -> np.ndarray:
    if "snr_db" not in meta_df.columns:
        return np.ones(len(meta_df), dtype=bool)
    return meta_df["snr_db"].isna().to_numpy()


def _source_ids(meta_df: pd.DataFrame) -> pd.Series:
    col = "source_id" if "source_id" in meta_df.columns else "id"
    return meta_df[col].astype(str)


def label_order(present: Sequence[str], emotions: Sequence[str] | None = None) -> list[str]:
    """Labels of the training part (restricted to ``emotions``) in canonical order."""
    labels = {str(x) for x in present if not pd.isna(x)}
    if emotions:
        labels &= {str(e) for e in emotions}
    rank = {name: i for i, name in enumerate(CANONICAL_ORDER)}
    return sorted(labels, key=lambda s: (rank.get(s, len(rank)), s))


# --------------------------------------------------------------------------- determinism


def seed_everything(seed: int, threads: int = 1, *, tensorflow: bool = False) -> None:
    """Fix python, numpy (and TF/Keras) seeds; TF thread pools are sized before any TF op."""
    random.seed(seed)
    np.random.seed(seed)
    if not tensorflow and "tensorflow" not in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ser.models import configure_tf

    configure_tf(threads)  # intra/inter-op threads + op determinism, once per process
    import keras

    keras.utils.set_random_seed(seed)


def _arch_family(arch: str, params: dict[str, Any]) -> type:
    """The model class that does the work (an ensemble's or a late fusion's base class)."""
    from ser import models

    if arch not in models.ARCHS:
        raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(sorted(models.ARCHS))}")
    cls = models.ARCHS[arch]
    if "base" in cls.DEFAULTS:  # a model of member models (ensemble, late_fusion)
        cls = models.ARCHS[cls.resolve_params(params)["base"]]
    return cls


def uses_tensorflow(arch: str, params: dict[str, Any]) -> bool:
    """Whether the arch (or an ensemble's base) is a Keras network."""
    from ser.models import KerasModel

    return issubclass(_arch_family(arch, params), KerasModel)


def uses_validation(model: Any, arch: str, params: dict[str, Any]) -> bool:
    """Whether fitting uses validation data (early stopping); if not, keep every speaker."""
    explicit = getattr(model, "uses_validation", None)
    if explicit is not None:
        return bool(explicit)
    from ser.models.sklearn_base import SklearnModel

    if issubclass(_arch_family(arch, params), SklearnModel):
        return False
    model_params = dict(getattr(model, "params", None) or params)
    if arch == "ensemble":
        base_cls = _arch_family(arch, params)
        model_params = {**base_cls.DEFAULTS, **(model_params.get("base_params") or {})}
    return model_params.get("patience", 1) is not None


# --------------------------------------------------------------------------- SMOTE


def _smote(
    X: np.ndarray, y: np.ndarray, seed: int, k_neighbors: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Oversample minority classes of (already scaled) training rows with SMOTE."""
    from imblearn.over_sampling import SMOTE

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
    from imblearn.over_sampling import SMOTE

    clean = _is_clean(meta_df)
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


def _assign_synthetic(splits: pd.DataFrame, synth: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Put S2's synthetic rows on both sides of the random split (test_size of the split)."""
    from sklearn.model_selection import train_test_split

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


# --------------------------------------------------------------------------- helpers


def _split_cfg(model_cfg: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if "arch" not in model_cfg:
        raise ValueError("model config needs an 'arch'")
    arch = str(model_cfg["arch"])
    params = {k: v for k, v in model_cfg.items() if k not in TRAINING_KEYS}
    training = {k: model_cfg[k] for k in TRAINING_KEYS if k in model_cfg}
    normalize = training.get("normalize", "global")
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    tune = training.get("tune") or {}
    if not isinstance(tune, dict) or any(not isinstance(v, list) or not v for v in tune.values()):
        raise ValueError("tune must map parameter names to non-empty lists of values")
    return arch, params, training


def _class_weight(y: np.ndarray) -> dict[int, float]:
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}


def _speakers_known(meta_df: pd.DataFrame) -> bool:
    return "speaker" in meta_df.columns and not meta_df["speaker"].isna().any()


def _scale_parts(
    normalize: str,
    X_fit: np.ndarray,
    spk_fit: np.ndarray | None,
    others: Sequence[tuple[np.ndarray, np.ndarray | None]],
) -> tuple[dict[str, Any], np.ndarray, list[np.ndarray]]:
    """Fit the scaler on the fitting rows only and apply it to them and to the other parts."""
    scaler = fit_scaler(X_fit, normalize)
    if normalize == "speaker":
        if spk_fit is None:
            raise ValueError("normalize: speaker needs a speaker for every row")
        Xs_fit = speaker_standardize(X_fit, spk_fit)
    else:
        Xs_fit = apply_scaler(X_fit, scaler)
    out = [apply_scaler(X, scaler, spk) if len(X) else X for X, spk in others]
    return scaler, Xs_fit, out


def _validation_mask(
    meta_df: pd.DataFrame, y: np.ndarray, val_speakers: float, seed: int, by_speaker: bool
) -> np.ndarray:
    """Rows held out for early stopping: whole training speakers, or (random protocol) a
    stratified subset of training clips (noisy copies stay with their clip)."""
    mask = np.zeros(len(meta_df), dtype=bool)
    if not val_speakers or val_speakers <= 0 or len(meta_df) == 0:
        return mask
    rng = np.random.default_rng(seed)
    if by_speaker:
        speakers = np.array(sorted(meta_df["speaker"].astype(str).unique()))
        n = int(val_speakers) if val_speakers >= 1 else max(1, round(val_speakers * len(speakers)))
        n = min(n, len(speakers) - 1)
        if n <= 0:
            return mask
        chosen = rng.choice(speakers, size=n, replace=False)
        return meta_df["speaker"].astype(str).isin(chosen).to_numpy()
    from sklearn.model_selection import train_test_split

    frac = float(val_speakers) if 0 < val_speakers < 1 else 0.1
    src = _source_ids(meta_df).to_numpy()
    first = pd.Series(y).groupby(src).first()
    if len(first) < 2:
        return mask
    sources = first.index.to_numpy()
    try:
        _, val_src = train_test_split(
            sources, test_size=frac, random_state=seed, stratify=first.to_numpy()
        )
    except ValueError:
        _, val_src = train_test_split(sources, test_size=frac, random_state=seed)
    return np.isin(src, val_src)


def _tune(
    arch: str,
    params: dict[str, Any],
    grid_spec: dict[str, list[Any]],
    meta_tr: pd.DataFrame,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    *,
    n_classes: int,
    normalize: str,
    smote: str,
    use_class_weight: bool,
    by_speaker: bool,
    inner_folds: int,
    seed: int,
    threads: int,
    tensorflow: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pick hyperparameters by inner group-K-fold CV over the training part (balanced accuracy)."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold

    from ser import models

    groups = meta_tr["speaker"].astype(str) if by_speaker else _source_ids(meta_tr)
    groups = groups.to_numpy()
    n_groups = len(np.unique(groups))
    k = min(int(inner_folds), n_groups)
    if k < 2:
        raise ValueError(f"tuning needs >= 2 training groups for inner CV, found {n_groups}")
    keys = list(grid_spec)
    grid = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid_spec.values())]
    inner = list(GroupKFold(n_splits=k).split(X_tr, y_tr, groups))
    spk = meta_tr["speaker"].astype(str).to_numpy() if _speakers_known(meta_tr) else None
    results = []
    for cand in grid:
        scores = []
        for tr_idx, te_idx in inner:
            _, Xs_tr, (Xs_te,) = _scale_parts(
                normalize,
                X_tr[tr_idx],
                None if spk is None else spk[tr_idx],
                [(X_tr[te_idx], None if spk is None else spk[te_idx])],
            )
            yt = y_tr[tr_idx]
            if smote == "train_only":
                Xs_tr, yt = _smote(Xs_tr, yt, seed)
            seed_everything(seed, threads, tensorflow=tensorflow)
            model = models.build(arch, Xs_tr.shape[1:], n_classes, {**params, **cand}, seed)
            model.fit(
                Xs_tr, yt, None, None,
                class_weight=_class_weight(yt) if use_class_weight else None,
                threads=threads, verbose=0,
            )
            pred = np.asarray(model.predict_proba(Xs_te)).argmax(axis=1)
            scores.append(float(balanced_accuracy_score(y_tr[te_idx], pred)))
        results.append({"params": cand, "scores": scores, "mean": float(np.mean(scores))})
    best = max(range(len(results)), key=lambda i: (results[i]["mean"], -i))
    info = {
        "metric": "balanced_accuracy",
        "inner_folds": k,
        "groups": "speaker" if by_speaker else "source_id",
        "results": results,
        "best": results[best]["params"],
    }
    return dict(results[best]["params"]), info


# --------------------------------------------------------------------------- core fit


def _fit_model(
    meta_tr: pd.DataFrame,
    X_tr: np.ndarray,
    model_cfg: dict[str, Any],
    labels: list[str],
    *,
    seed: int,
    threads: int,
    smote: str,
    by_speaker: bool,
    blocks: list[int] | None = None,
) -> tuple[Any, dict[str, Any], pd.DataFrame | None, dict[str, Any]]:
    """Tune (optional), hold out validation speakers, scale, SMOTE, weight and fit one model.

    `blocks` (columns per fused feature set) become a late fusion's `blocks` unless set."""
    from ser import models

    arch, params, training = _split_cfg(model_cfg)
    if arch == "late_fusion" and blocks and not params.get("blocks"):
        params = {**params, "blocks": list(blocks)}
    normalize = training.get("normalize", "global")
    use_cw = bool(training.get("class_weight", False))
    tensorflow = uses_tensorflow(arch, params)
    index = {name: i for i, name in enumerate(labels)}
    y_tr = meta_tr["label"].astype(str).map(index).to_numpy(dtype=np.int64)
    if normalize == "speaker" and not _speakers_known(meta_tr):
        raise ValueError("normalize: speaker needs a speaker for every training row")

    chosen: dict[str, Any] = {}
    tuning: dict[str, Any] | None = None
    if training.get("tune"):
        chosen, tuning = _tune(
            arch, params, training["tune"], meta_tr, X_tr, y_tr,
            n_classes=len(labels), normalize=normalize, smote=smote, use_class_weight=use_cw,
            by_speaker=by_speaker, inner_folds=int(training.get("tune_folds", 3)), seed=seed,
            threads=threads, tensorflow=tensorflow,
        )
    final_params = {**params, **chosen}

    seed_everything(seed, threads, tensorflow=tensorflow)
    model = models.build(arch, X_tr.shape[1:], len(labels), final_params, seed)
    want = "matrix" if X_tr.ndim == 3 else "vector"
    if getattr(model, "input_kind", want) != want:
        raise ValueError(
            f"arch {arch!r} takes {model.input_kind} input but feature set "
            f"{model_cfg.get('features')!r} gives {want}s"
        )
    uses_val = uses_validation(model, arch, final_params)
    val = (
        _validation_mask(meta_tr, y_tr, float(training.get("val_speakers", 1)), seed, by_speaker)
        if uses_val
        else np.zeros(len(meta_tr), dtype=bool)
    )
    fit = ~val
    spk = meta_tr["speaker"].astype(str).to_numpy() if _speakers_known(meta_tr) else None
    scaler, Xs_fit, (Xs_val,) = _scale_parts(
        normalize,
        X_tr[fit],
        None if spk is None else spk[fit],
        [(X_tr[val], None if spk is None else spk[val])],
    )
    y_fit, y_val = y_tr[fit], y_tr[val]
    n_before = len(y_fit)
    if smote == "train_only":
        Xs_fit, y_fit = _smote(Xs_fit, y_fit, seed)
    history = model.fit(
        Xs_fit, y_fit,
        Xs_val if val.any() else None, y_val if val.any() else None,
        class_weight=_class_weight(y_fit) if use_cw else None,
        threads=threads, verbose=0,
    )
    info = {
        "arch": arch,
        "params": getattr(model, "params", final_params),
        "chosen_params": chosen,
        "tuning": tuning,
        "normalize": normalize,
        "assumes_speaker_identity": normalize == "speaker",
        "class_weight": use_cw,
        "smote": smote,
        "n_fit": int(n_before),
        "n_smote": int(len(y_fit) - n_before),
        "n_val": int(val.sum()),
        "val_speakers": sorted(set(spk[val])) if spk is not None and by_speaker else [],
        "validation": ("speakers" if by_speaker else "random") if val.any() else "none",
    }
    if history is not None and not isinstance(history, pd.DataFrame):
        history = pd.DataFrame(history)
    return model, scaler, history, info


# --------------------------------------------------------------------------- predictions


def _prediction_frame(
    meta_df: pd.DataFrame,
    probs: np.ndarray,
    conf: np.ndarray | None,
    labels: Sequence[str],
    fold: Any,
) -> pd.DataFrame:
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
            "source_id": _source_ids(meta_df).to_numpy(),
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


def write_predictions(df: pd.DataFrame, path: PathLike, info: dict[str, Any]) -> None:
    """Write a prediction table atomically with ``info`` as schema metadata ``ser`` (JSON)."""
    from ser.io import write_parquet

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
        if _speakers_known(meta_df):
            speakers = meta_df["speaker"].astype(str).to_numpy()
        else:
            warnings.warn("speaker normalisation without speakers: rows treated as one speaker",
                          stacklevel=2)
    probs, conf = bundle.predict(X, speakers)
    return _prediction_frame(meta_df.reset_index(drop=True), probs, conf, bundle.labels, None)


# --------------------------------------------------------------------------- entry points


def _check_options(smote: str, train_on: str) -> None:
    if smote not in SMOTE_MODES:
        raise ValueError(f"smote must be one of {SMOTE_MODES}, got {smote!r}")
    if train_on not in TRAIN_ON:
        raise ValueError(f"train_on must be one of {TRAIN_ON}, got {train_on!r}")


def _labels_for(meta_tr: pd.DataFrame, emotions: list[str] | None) -> list[str]:
    labels = label_order(meta_tr["label"].astype(str).unique(), emotions)
    if len(labels) < 2:
        raise ValueError(f"training part has fewer than 2 labels: {labels}")
    return labels


def train_fold(
    features: PathLike | Sequence[PathLike],
    splits: PathLike,
    fold: int,
    model_cfg: dict[str, Any],
    bundle_dir: PathLike,
    predictions_out: PathLike,
    *,
    dataset: str,
    model_name: str,
    seed: int = 0,
    threads: int = 1,
    smote: str = "none",
    train_on: str = "clean",
    emotions: list[str] | None = None,
    audio: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train fold ``fold`` of a split; write its bundle and its test predictions.

    Test part: all rows (clean and noisy) whose source clip is test data in ``fold``. Training
    part: the other split rows (clean only, or clean and noisy with ``train_on='clean+noisy'``).
    Rows whose clip is not in the split are left out and counted (``n_unsplit``).
    """
    t0 = time.perf_counter()
    _check_options(smote, train_on)
    meta_df, X, meta = read_table(features)
    split_df = load_splits(splits)
    protocol = dict(split_df.attrs)
    protocol_name = protocol.get("protocol", "speaker_kfold")
    n_folds = int(split_df["fold"].max()) + 1
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold {fold} out of range: the split has {n_folds} fold(s)")
    if smote == "before_split":
        if protocol_name != "random":
            raise ValueError(
                "smote: before_split is seed S2's leaky protocol and only runs with split "
                "protocol 'random'; with speaker-independent protocols use smote: train_only"
            )
        n0 = len(meta_df)
        meta_df, X = smote_before_split(meta_df, X, seed)
        split_df = _assign_synthetic(split_df, meta_df.iloc[n0:], seed)
        protocol["leaky"] = True
        protocol["smote"] = "before_split"

    row_fold = _source_ids(meta_df).map(
        dict(zip(split_df["source_id"].astype(str), split_df["fold"], strict=True))
    )
    unsplit = row_fold.isna().to_numpy()
    if unsplit.any():
        log.warning("%d feature row(s) have no clip in the split and are left out", unsplit.sum())
    row_fold = row_fold.fillna(-2).to_numpy(dtype=np.int64)
    keep = np.ones(len(meta_df), dtype=bool)
    if emotions:
        keep = meta_df["label"].astype(str).isin([str(e) for e in emotions]).to_numpy()
    test_mask = (row_fold == fold) & keep
    train_mask = (row_fold != fold) & ~unsplit & keep
    if train_on == "clean":
        train_mask &= _is_clean(meta_df)
    if not test_mask.any():
        raise ValueError(f"fold {fold} has no test rows in {features}")
    meta_tr = meta_df[train_mask].reset_index(drop=True)
    X_tr = X[train_mask]
    labels = _labels_for(meta_tr, emotions)
    by_speaker = protocol_name != "random" and _speakers_known(meta_tr)

    model, scaler, history, fit_info = _fit_model(
        meta_tr, X_tr, model_cfg, labels, seed=seed, threads=threads, smote=smote,
        by_speaker=by_speaker, blocks=feature_blocks(meta),
    )

    meta_te = meta_df[test_mask].reset_index(drop=True)
    spk_te = meta_te["speaker"].astype(str).to_numpy() if _speakers_known(meta_te) else None
    if scaler["mode"] == "speaker" and spk_te is None:
        raise ValueError("normalize: speaker needs a speaker for every test row")
    feature_set = _feature_set_info(meta)
    audio = dict(audio or {"sample_rate": meta.get("sample_rate", 16000)})
    train_info = {
        "dataset": dataset,
        "model": model_name,
        "fold": int(fold),
        "protocol": protocol,
        "seed": int(seed),
        "train_on": train_on,
        "emotions": emotions,
        "n_train": int(train_mask.sum()),
        "n_test": int(test_mask.sum()),
        "n_unsplit": int(unsplit.sum()),
        "train_speakers": sorted(set(meta_tr["speaker"].astype(str))) if by_speaker else [],
        **fit_info,
    }
    save_bundle(
        bundle_dir, model, labels=labels, scaler=scaler, feature_set=feature_set, audio=audio,
        normalize=fit_info["normalize"], train_info=train_info, history=history,
    )
    # after saving: a Keras model now predicts through the LiteRT copy that `ser predict` runs
    from ser.models import runtime_of

    Xs_te = apply_scaler(X[test_mask], scaler, spk_te)
    probs = model.predict_proba(Xs_te)
    conf = model.confidence(Xs_te)
    preds = _prediction_frame(meta_te, probs, conf, labels, fold)

    pred_info = {
        "labels": labels,
        "protocol": protocol,
        "dataset": dataset,
        "model": model_name,
        "arch": fit_info["arch"],
        "fold": int(fold),
        "feature_set": feature_set["name"],
        "params": fit_info["params"],
        "chosen_params": fit_info["chosen_params"],
        "normalize": fit_info["normalize"],
        "assumes_speaker_identity": fit_info["assumes_speaker_identity"],
        "smote": smote,
        "train_on": train_on,
        "seed": int(seed),
        "confidence": "max_prob" if conf is None else "model",
        "runtime": runtime_of(model),
    }
    write_predictions(preds, predictions_out, pred_info)
    return {
        **{
            k: train_info[k]
            for k in ("dataset", "model", "fold", "n_train", "n_test", "n_unsplit")
        },
        "n_fit": fit_info["n_fit"],
        "n_val": fit_info["n_val"],
        "n_smote": fit_info["n_smote"],
        "labels": labels,
        "params": fit_info["params"],
        "chosen_params": fit_info["chosen_params"],
        "tuning": fit_info["tuning"],
        "protocol": protocol_name,
        "leaky": bool(protocol.get("leaky", False)),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def train_full(
    features: PathLike | Sequence[PathLike],
    model_cfg: dict[str, Any],
    bundle_dir: PathLike,
    *,
    dataset: str,
    model_name: str,
    seed: int = 0,
    threads: int = 1,
    smote: str = "none",
    train_on: str = "clean",
    emotions: list[str] | None = None,
    audio: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on every row of a corpus (for cross-corpus testing); writes only the bundle.

    Validation speakers come from the corpus itself (a random clip subset when speakers are
    unknown). ``smote: before_split`` here just oversamples the whole (training-only) corpus.
    """
    t0 = time.perf_counter()
    _check_options(smote, train_on)
    meta_df, X, meta = read_table(features)
    if smote == "before_split":
        meta_df, X = smote_before_split(meta_df, X, seed)
    mask = np.ones(len(meta_df), dtype=bool)
    if emotions:
        mask &= meta_df["label"].astype(str).isin([str(e) for e in emotions]).to_numpy()
    if train_on == "clean":
        mask &= _is_clean(meta_df)
    meta_tr = meta_df[mask].reset_index(drop=True)
    X_tr = X[mask]
    labels = _labels_for(meta_tr, emotions)
    by_speaker = _speakers_known(meta_tr) and meta_tr["speaker"].nunique() > 1
    model, scaler, history, fit_info = _fit_model(
        meta_tr, X_tr, model_cfg, labels, seed=seed, threads=threads,
        smote="none" if smote == "before_split" else smote, by_speaker=by_speaker,
        blocks=feature_blocks(meta),
    )
    train_info = {
        "dataset": dataset,
        "model": model_name,
        "fold": None,
        "protocol": {"protocol": "full"},
        "seed": int(seed),
        "train_on": train_on,
        "emotions": emotions,
        "n_train": int(mask.sum()),
        **fit_info,
    }
    save_bundle(
        bundle_dir, model, labels=labels, scaler=scaler, feature_set=_feature_set_info(meta),
        audio=dict(audio or {"sample_rate": meta.get("sample_rate", 16000)}),
        normalize=fit_info["normalize"], train_info=train_info, history=history,
    )
    return {
        "dataset": dataset,
        "model": model_name,
        "n_train": int(mask.sum()),
        "n_val": fit_info["n_val"],
        "labels": labels,
        "params": fit_info["params"],
        "chosen_params": fit_info["chosen_params"],
        "tuning": fit_info["tuning"],
        "seconds": round(time.perf_counter() - t0, 3),
    }
