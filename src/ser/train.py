"""Training entry points: one fold of a split, a whole corpus, or corpus A tested on corpus B.

For fold ``k`` the test part is every row (clean and noisy) whose clean source is test data in
fold ``k`` of the split; everything the model learns from — the scaler, SMOTE, class weights,
validation speakers for early stopping, hyperparameter tuning (all in :mod:`ser.fit`) — is
computed from the remaining training part only. The one exception is deliberate and labelled:
``smote: before_split`` with the ``random`` protocol reproduces seed S2's leaky set-up for
comparison.

Outputs per fold: a bundle (:mod:`ser.bundle`) and a prediction table (:mod:`ser.predictions`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ser.bundle import apply_scaler, load_bundle, save_bundle
from ser.conditions import balanced_index, check_train_on, training_rows
from ser.corpora import label_order
from ser.features.tables import (
    feature_blocks,
    feature_set_info,
    read_table,
    source_ids,
    speakers_known,
)
from ser.fit import fit_model
from ser.models import runtime_of
from ser.modelspec import ModelSpec, as_spec, strict_twin
from ser.predictions import (
    predict_frame,
    prediction_frame,
    with_strict_columns,
    write_predictions,
)
from ser.quality import conditions_of_rows
from ser.smote import SMOTE_MODES, assign_synthetic, smote_before_split
from ser.splits import load_splits
from ser.trust import bundle_profile

log = logging.getLogger(__name__)

PathLike = Path | str


# --------------------------------------------------------------------------- entry points


def _check_options(smote: str, train_on: str | Sequence[str]) -> None:
    if smote not in SMOTE_MODES:
        raise ValueError(f"smote must be one of {SMOTE_MODES}, got {smote!r}")
    check_train_on(train_on)


def _read_inputs(features: PathLike | Sequence[PathLike], model: ModelSpec | Mapping[str, Any],
                 model_name: str, smote: str
                 ) -> tuple[ModelSpec, pd.DataFrame, np.ndarray, dict[str, Any]]:
    """The model's spec (the one source of ``train_on`` and ``condition_balance``) and the
    feature table(s), after checking the options."""
    spec = as_spec(model, model_name)
    _check_options(smote, spec.train_on)
    meta_df, X, meta = read_table(features)
    return spec, meta_df, X, meta


def _emotion_mask(meta_df: pd.DataFrame, emotions: Sequence[str] | None) -> np.ndarray:
    """Rows whose label is one of ``emotions`` (every row when none are given)."""
    if not emotions:
        return np.ones(len(meta_df), dtype=bool)
    return meta_df["label"].astype(str).isin([str(e) for e in emotions]).to_numpy()


def _training_part(meta_df: pd.DataFrame, X: np.ndarray, mask: np.ndarray,
                   condition_balance: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows a model is fitted on; with `condition_balance` the clean rows are repeated so
    that they weigh as much as all degraded copies together (ser.conditions.balanced_index)."""
    meta_tr = meta_df[mask].reset_index(drop=True)
    X_tr = X[mask]
    if condition_balance:
        idx = balanced_index(meta_tr)
        meta_tr, X_tr = meta_tr.iloc[idx].reset_index(drop=True), X_tr[idx]
    return meta_tr, X_tr


def _labels_for(meta_tr: pd.DataFrame, emotions: Sequence[str] | None) -> list[str]:
    """Labels of the training part (restricted to ``emotions``) in canonical order."""
    present = {str(x) for x in meta_tr["label"].astype(str).unique() if not pd.isna(x)}
    if emotions:
        present &= {str(e) for e in emotions}
    labels = label_order(present)
    if len(labels) < 2:
        raise ValueError(f"training part has fewer than 2 labels: {labels}")
    return labels


def train_fold(
    features: PathLike | Sequence[PathLike],
    splits: PathLike,
    fold: int,
    model: ModelSpec | Mapping[str, Any],
    bundle_dir: PathLike,
    predictions_out: PathLike,
    *,
    dataset: str,
    model_name: str,
    seed: int = 0,
    threads: int = 1,
    smote: str = "none",
    emotions: list[str] | None = None,
    audio: dict[str, Any] | None = None,
    manifest: PathLike | None = None,
    corpus: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train fold ``fold`` of a split; write its bundle and its test predictions.

    ``model`` is the model's spec (:mod:`ser.modelspec`; a model config is resolved into one).
    Test part: all rows (clean and noisy) whose source clip is test data in ``fold``. Training
    part: the other split rows (clean only; clean and every degraded copy with
    ``train_on='clean+noisy'``; or clean rows and/or copies of the listed condition kinds:
    the spec's ``train_on`` and ``condition_balance``). Rows whose clip is not in
    the split are left out and counted (``n_unsplit``). The bundle records ``corpus`` (e.g.
    ``{"synthetic": true}``) and the training profile (feature distance of the training clips;
    their durations and levels from ``manifest``'s WAVs) that `ser predict` checks new files
    against.
    """
    t0 = time.perf_counter()
    spec, meta_df, X, meta = _read_inputs(features, model, model_name, smote)
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
        split_df = assign_synthetic(split_df, meta_df.iloc[n0:], seed)
        protocol["leaky"] = True
        protocol["smote"] = "before_split"

    split_fold = source_ids(meta_df).map(
        dict(zip(split_df["source_id"].astype(str), split_df["fold"], strict=True))
    )
    unsplit = split_fold.isna().to_numpy()
    if unsplit.any():
        log.warning("%d feature row(s) have no clip in the split and are left out", unsplit.sum())
    row_fold = split_fold.fillna(-2).to_numpy(dtype=np.int64)
    keep = _emotion_mask(meta_df, emotions)
    test_mask = (row_fold == fold) & keep
    train_mask = (row_fold != fold) & ~unsplit & keep & training_rows(meta_df, spec.train_on)
    if not test_mask.any():
        raise ValueError(f"fold {fold} has no test rows in {features}")
    meta_tr, X_tr = _training_part(meta_df, X, train_mask, spec.condition_balance)
    labels = _labels_for(meta_tr, emotions)
    by_speaker = protocol_name != "random" and speakers_known(meta_tr)
    log.info("%s/%s fold %d of %d (%s): training on %d rows of %d speaker(s), testing %d rows "
             "of %d speaker(s); labels %s", dataset, model_name, fold, n_folds, protocol_name,
             len(meta_tr), meta_tr["speaker"].nunique(), int(test_mask.sum()),
             meta_df.loc[test_mask, "speaker"].nunique(), ", ".join(labels))

    meta_te = meta_df[test_mask].reset_index(drop=True)
    spk_te = meta_te["speaker"].astype(str).to_numpy() if speakers_known(meta_te) else None
    if spec.normalize == "speaker" and spk_te is None:
        raise ValueError("normalize: speaker needs a speaker for every test row")
    train_info: dict[str, Any] = {
        "dataset": dataset,
        "model": model_name,
        "fold": int(fold),
        "protocol": protocol,
        "seed": int(seed),
        "train_on": spec.train_on,
        "condition_balance": spec.condition_balance,
        "emotions": emotions,
        "n_train": int(train_mask.sum()),
        "n_test": int(test_mask.sum()),
        "n_unsplit": int(unsplit.sum()),
        "train_speakers": sorted(set(meta_tr["speaker"].astype(str))) if by_speaker else [],
        "training_conditions": conditions_of_rows(meta_tr),
        "corpus": corpus or {"dataset": dataset},
    }
    fitted, scaler, fit_info, twin = _fit_and_save(
        bundle_dir, meta_tr, X_tr, spec, labels, meta, train_info, audio=audio,
        manifest=manifest, seed=seed, threads=threads, smote=smote, by_speaker=by_speaker)
    # after saving: a Keras model now predicts through the LiteRT copy that `ser predict` runs
    Xs_te = apply_scaler(X[test_mask], scaler, spk_te)
    probs = fitted.predict_proba(Xs_te)
    conf = fitted.confidence(Xs_te)
    preds = prediction_frame(meta_te, probs, conf, labels, fold)
    if twin is not None:
        preds = with_strict_columns(preds, twin["model"].predict_proba(
            apply_scaler(X[test_mask], twin["scaler"])), labels)

    pred_info = {
        "labels": labels,
        "protocol": protocol,
        "dataset": dataset,
        "model": model_name,
        "arch": fit_info["arch"],
        "fold": int(fold),
        "feature_set": feature_set_info(meta)["name"],
        # the config's names (a variant such as whisper_base, not its registry set "whisper")
        "features": list(spec.features),
        "params": fit_info["params"],
        "chosen_params": fit_info["chosen_params"],
        "normalize": fit_info["normalize"],
        "assumes_speaker_identity": fit_info["assumes_speaker_identity"],
        "smote": smote,
        "train_on": spec.train_on,
        "condition_balance": spec.condition_balance,
        "seed": int(seed),
        "confidence": "max_prob" if conf is None else "model",
        "runtime": runtime_of(fitted),
    }
    write_predictions(preds, predictions_out, pred_info)
    log.info("%s fitted (%s, params %s) and %d test rows predicted in %.1f s", fit_info["arch"],
             fit_info["normalize"], fit_info["chosen_params"] or fit_info["params"], len(preds),
             time.perf_counter() - t0)
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


def _strict_twin(meta_tr: pd.DataFrame, X_tr: np.ndarray, spec: ModelSpec,
                 labels: list[str], train_info: dict[str, Any], **fit_kw: Any
                 ) -> dict[str, Any] | None:
    """With ``fallback: strict`` (an adaptive model), the same recipe fitted with the training
    speakers' scaler: what `ser predict --adapt-by` falls back to for a speaker with too few
    clips, and the strict figure evaluation reports beside the adaptive one."""
    if spec.fallback != "strict":
        return None
    model, scaler, history, info = fit_model(meta_tr, X_tr, strict_twin(spec), labels, **fit_kw)
    return {"model": model, "scaler": scaler, "history": history,
            "train_info": {**train_info, **info, "strict_twin_of": train_info.get("model")}}


def _fit_and_save(bundle_dir: PathLike, meta_tr: pd.DataFrame, X_tr: np.ndarray,
                  spec: ModelSpec, labels: list[str], meta: dict[str, Any],
                  train_info: dict[str, Any], *, audio: dict[str, Any] | None,
                  manifest: PathLike | None, seed: int, threads: int, smote: str,
                  by_speaker: bool) -> tuple[Any, dict[str, Any], dict[str, Any], dict | None]:
    """Fit the model (and its strict twin with ``fallback: strict``) on the training part and
    write the bundle. ``train_info`` gains the fit's record and ``train_seconds``, the
    bundle's whole training cost (tuning and twin included) that evaluation reports.
    Returns the fitted model, its scaler, the fit's record and the twin (or None)."""
    fit_kw: dict[str, Any] = {"seed": seed, "threads": threads, "smote": smote,
                              "by_speaker": by_speaker, "blocks": feature_blocks(meta)}
    t_start = time.perf_counter()
    fitted, scaler, history, fit_info = fit_model(meta_tr, X_tr, spec, labels, **fit_kw)
    train_info.update(fit_info)
    twin = _strict_twin(meta_tr, X_tr, spec, labels, train_info, **fit_kw)
    train_info["train_seconds"] = round(time.perf_counter() - t_start, 3)
    save_bundle(
        bundle_dir, fitted, labels=labels, scaler=scaler, feature_set=feature_set_info(meta),
        audio=dict(audio or {"sample_rate": meta.get("sample_rate", 16000)}),
        normalize=fit_info["normalize"], train_info=train_info, history=history,
        profile=bundle_profile(meta_tr, X_tr, manifest, seed), strict=twin,
    )
    return fitted, scaler, fit_info, twin


def train_full(
    features: PathLike | Sequence[PathLike],
    model: ModelSpec | Mapping[str, Any],
    bundle_dir: PathLike,
    *,
    dataset: str,
    model_name: str,
    seed: int = 0,
    threads: int = 1,
    smote: str = "none",
    emotions: Sequence[str] | None = None,
    audio: dict[str, Any] | None = None,
    manifest: PathLike | None = None,
    corpus: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on every row of a corpus (the final model of a dataset x model, or the training
    side of a cross-corpus pair); writes only the bundle.

    ``model``, ``manifest`` and ``corpus`` as for
    :func:`train_fold`. Validation speakers come from the corpus itself (a random clip subset
    when speakers are unknown). ``smote: before_split`` here just oversamples the whole
    (training-only) corpus.
    """
    t0 = time.perf_counter()
    spec, meta_df, X, meta = _read_inputs(features, model, model_name, smote)
    if smote == "before_split":
        meta_df, X = smote_before_split(meta_df, X, seed)
    mask = _emotion_mask(meta_df, emotions) & training_rows(meta_df, spec.train_on)
    meta_tr, X_tr = _training_part(meta_df, X, mask, spec.condition_balance)
    labels = _labels_for(meta_tr, emotions)
    by_speaker = speakers_known(meta_tr) and meta_tr["speaker"].nunique() > 1
    train_info: dict[str, Any] = {
        "dataset": dataset,
        "model": model_name,
        "fold": None,
        "protocol": {"protocol": "full"},
        "seed": int(seed),
        "train_on": spec.train_on,
        "condition_balance": spec.condition_balance,
        "emotions": None if emotions is None else list(emotions),
        "n_train": int(mask.sum()),
        "training_conditions": conditions_of_rows(meta_tr),
        "corpus": corpus or {"dataset": dataset},
    }
    _, _, fit_info, _ = _fit_and_save(
        bundle_dir, meta_tr, X_tr, spec, labels, meta, train_info, audio=audio,
        manifest=manifest, seed=seed, threads=threads,
        smote="none" if smote == "before_split" else smote, by_speaker=by_speaker)
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


# --------------------------------------------------------------------------- cross-corpus
def common_labels(train_tables: Sequence[Path], test_tables: Sequence[Path],
                  emotions: Sequence[str] | None = None) -> list[str]:
    """Labels present in both corpora (and in `emotions` when given), canonical order."""
    def labels(p: Path) -> set[str]:
        return set(map(str, pq.read_table(p, columns=["label"]).column("label").to_pylist()))

    a = labels(train_tables[0])
    b = labels(test_tables[0])
    keep = a & b
    if emotions:
        keep &= set(emotions)
    out = label_order(keep)
    if len(out) < 2:
        raise ValueError(f"cross-corpus needs at least 2 common labels, found {out}")
    return out


def cross_corpus(train_tables: Sequence[Path], test_tables: Sequence[Path],
                 model: ModelSpec | Mapping[str, Any], bundle_dir: Path, predictions_out: Path,
                 *, train_name: str, test_name: str, model_name: str, seed: int = 0,
                 threads: int = 1,
                 emotions: Sequence[str] | None = None,
                 audio: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train on all of corpus A (common labels only), predict every row of corpus B.

    ``model`` is the pair's spec (`Plan.cross_spec`: per-speaker normalisation, with the reason
    in ``normalize_reason``); a model config is resolved into that spec."""
    spec = as_spec(model, model_name, cross_corpus=True)
    labels = common_labels(train_tables, test_tables, emotions)
    info = train_full(list(train_tables), spec, bundle_dir, dataset=train_name,
                      model_name=model_name, seed=seed, threads=threads, emotions=labels,
                      audio=audio)
    bundle = load_bundle(bundle_dir)
    meta_df, X, _ = read_table(list(test_tables))
    keep = _emotion_mask(meta_df, labels)
    meta_df, X = meta_df[keep].reset_index(drop=True), X[keep]
    log.info("cross-corpus %s -> %s (%s): trained on %d rows, predicting %d rows over labels %s",
             train_name, test_name, model_name, info.get("n_train", 0), len(meta_df),
             ", ".join(labels))
    pred = predict_frame(bundle, meta_df, X)
    pred["fold"] = 0
    write_predictions(pred, predictions_out, {
        "labels": bundle.labels, "protocol": f"cross-corpus: train {train_name}, test {test_name}",
        "leaky": False, "model": model_name, "arch": spec.arch, "dataset": test_name,
        "train_dataset": train_name, "test_dataset": test_name, "normalize": spec.normalize,
        "normalize_reason": spec.normalize_reason})
    return {**info, "labels": labels, "n_test": int(len(pred))}
