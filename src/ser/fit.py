"""Fitting one model on a training part: tuning, validation hold-out, scaling, SMOTE, weights.

Everything here sees training rows only (the caller has already removed the test part): the
scaler, SMOTE, class weights, the validation speakers for early stopping and the inner CV of
hyperparameter tuning are all computed from them. Used by fold training, full-corpus training and
cross-corpus training alike (:mod:`ser.train`).
"""

from __future__ import annotations

import itertools
import os
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold, train_test_split
from sklearn.utils.class_weight import compute_class_weight

from ser import models
from ser.bundle import apply_scaler, fit_scaler, speaker_standardize
from ser.features.tables import source_ids, speakers_known
from ser.models.sklearn_base import SklearnModel
from ser.modelspec import ModelSpec
from ser.smote import oversample

# --------------------------------------------------------------------------- determinism


def seed_everything(seed: int, threads: int = 1, *, tensorflow: bool = False) -> None:
    """Fix python, numpy (and TF/Keras) seeds; TF thread pools are sized before any TF op."""
    random.seed(seed)
    np.random.seed(seed)
    if not tensorflow and "tensorflow" not in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    models.configure_tf(threads)  # intra/inter-op threads + op determinism, once per process
    import keras  # deferred on purpose: TensorFlow loads only for Keras families

    keras.utils.set_random_seed(seed)


def uses_validation(model: Any, arch: str, params: dict[str, Any]) -> bool:
    """Whether fitting uses validation data (early stopping); if not, keep every speaker."""
    explicit = getattr(model, "uses_validation", None)
    if explicit is not None:
        return bool(explicit)
    if issubclass(models.family(arch, params), SklearnModel):
        return False
    model_params = dict(getattr(model, "params", None) or params)
    if arch == "ensemble":
        base_cls = models.family(arch, params)
        model_params = {**base_cls.DEFAULTS, **(model_params.get("base_params") or {})}
    return model_params.get("patience", 1) is not None


# --------------------------------------------------------------------------- helpers


def _groups_kw(model: Any, groups: np.ndarray | None) -> dict[str, Any]:
    """``groups=`` (the rows' speakers) for families whose fit takes it (FIT_TAKES_GROUPS: svm
    calibration, late_fusion's member_C/stack by inner CV), nothing for the others."""
    if groups is None or not getattr(model, "FIT_TAKES_GROUPS", False):
        return {}
    return {"groups": np.asarray(groups)}


def _class_weight(y: np.ndarray) -> dict[int, float]:
    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}


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
    frac = float(val_speakers) if 0 < val_speakers < 1 else 0.1
    src = source_ids(meta_df).to_numpy()
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
    groups = (meta_tr["speaker"].astype(str) if by_speaker else source_ids(meta_tr)).to_numpy()
    n_groups = len(np.unique(groups))
    k = min(int(inner_folds), n_groups)
    if k < 2:
        raise ValueError(f"tuning needs >= 2 training groups for inner CV, found {n_groups}")
    keys = list(grid_spec)
    grid = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid_spec.values())]
    inner = list(GroupKFold(n_splits=k).split(X_tr, y_tr, groups))
    spk = meta_tr["speaker"].astype(str).to_numpy() if speakers_known(meta_tr) else None
    results: list[dict[str, Any]] = []
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
                Xs_tr, yt = oversample(Xs_tr, yt, seed)
            seed_everything(seed, threads, tensorflow=tensorflow)
            model = models.build(arch, Xs_tr.shape[1:], n_classes, {**params, **cand}, seed)
            model.fit(
                Xs_tr, yt, None, None,
                class_weight=_class_weight(yt) if use_class_weight else None,
                threads=threads, verbose=0,
                **_groups_kw(model, groups[tr_idx] if by_speaker and smote != "train_only"
                             else None),
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


def fit_model(
    meta_tr: pd.DataFrame,
    X_tr: np.ndarray,
    spec: ModelSpec,
    labels: list[str],
    *,
    seed: int,
    threads: int,
    smote: str,
    by_speaker: bool,
    blocks: list[int] | None = None,
) -> tuple[Any, dict[str, Any], pd.DataFrame | None, dict[str, Any]]:
    """Tune (optional), hold out validation speakers, scale, SMOTE, weight and fit one model.

    `blocks` (columns per fused feature set) become a late fusion's `blocks` unless set.
    The returned info records ``train_seconds`` (tuning included) and ``fit_seconds`` (the
    final fit), the training cost the report shows."""
    t_start = time.perf_counter()
    arch, params = spec.arch, dict(spec.params)
    if arch == "late_fusion" and blocks and not params.get("blocks"):
        params = {**params, "blocks": list(blocks)}
    normalize = spec.normalize
    use_cw = spec.class_weight
    tensorflow = models.uses_tensorflow(arch, params)
    index = {name: i for i, name in enumerate(labels)}
    y_tr = meta_tr["label"].astype(str).map(index).to_numpy(dtype=np.int64)
    if normalize == "speaker" and not speakers_known(meta_tr):
        raise ValueError("normalize: speaker needs a speaker for every training row")

    chosen: dict[str, Any] = {}
    tuning: dict[str, Any] | None = None
    if spec.tune:
        chosen, tuning = _tune(
            arch, params, spec.tune, meta_tr, X_tr, y_tr,
            n_classes=len(labels), normalize=normalize, smote=smote, use_class_weight=use_cw,
            by_speaker=by_speaker, inner_folds=spec.tune_folds, seed=seed,
            threads=threads, tensorflow=tensorflow,
        )
    final_params = {**params, **chosen}

    seed_everything(seed, threads, tensorflow=tensorflow)
    model = models.build(arch, X_tr.shape[1:], len(labels), final_params, seed)
    want = "matrix" if X_tr.ndim == 3 else "vector"
    if getattr(model, "input_kind", want) != want:
        raise ValueError(
            f"arch {arch!r} takes {model.input_kind} input but feature set "
            f"{'+'.join(spec.features)!r} gives {want}s"
        )
    uses_val = uses_validation(model, arch, final_params)
    val = (
        _validation_mask(meta_tr, y_tr, float(spec.val_speakers), seed, by_speaker)
        if uses_val
        else np.zeros(len(meta_tr), dtype=bool)
    )
    fit = ~val
    spk = meta_tr["speaker"].astype(str).to_numpy() if speakers_known(meta_tr) else None
    scaler, Xs_fit, (Xs_val,) = _scale_parts(
        normalize,
        X_tr[fit],
        None if spk is None else spk[fit],
        [(X_tr[val], None if spk is None else spk[val])],
    )
    y_fit, y_val = y_tr[fit], y_tr[val]
    n_before = len(y_fit)
    if smote == "train_only":
        Xs_fit, y_fit = oversample(Xs_fit, y_fit, seed)
    # the fitting rows' speakers, for families that calibrate by inner CV (svm): each speaker
    # stays on one side of it (not after SMOTE, whose synthetic rows have no speaker)
    extra: dict[str, Any] = {}
    if getattr(model, "FIT_TAKES_GROUPS", False) and by_speaker and spk is not None \
            and len(y_fit) == n_before:
        extra["groups"] = spk[fit]
    t_fit = time.perf_counter()
    history = model.fit(
        Xs_fit, y_fit,
        Xs_val if val.any() else None, y_val if val.any() else None,
        class_weight=_class_weight(y_fit) if use_cw else None,
        threads=threads, verbose=0, **extra,
    )
    fit_seconds = time.perf_counter() - t_fit
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
        "fit_seconds": round(fit_seconds, 3),
        "train_seconds": round(time.perf_counter() - t_start, 3),
    }
    if spec.normalize_reason:
        info["normalize_reason"] = spec.normalize_reason
    if history is not None and not isinstance(history, pd.DataFrame):
        history = pd.DataFrame(history)
    return model, scaler, history, info


