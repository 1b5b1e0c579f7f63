"""Fold training and bundles on tiny synthetic feature tables (real sklearn/XGBoost/Keras models).

The tables follow the feature-table format (metadata columns, float32 feature columns, schema
metadata ``ser``) and are read by ``ser.features.read_features`` inside the trainer.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ser import models
from ser.bundle import apply_scaler, fit_scaler, load_bundle, speaker_standardize
from ser.features.tables import read_table
from ser.predictions import predict_frame
from ser.smote import smote_before_split
from ser.splits import load_splits, make_splits, save_splits
from ser.train import train_fold, train_full

LABELS = ["neutral", "happy", "sad", "angry"]  # canonical order: neutral happy sad angry
SPEAKERS = [f"{i:02d}" for i in range(1, 7)]
D = 6
PRED_COLUMNS = ["id", "source_id", "fold", "snr_db", "noise", "true", "predicted", "confidence"]


def make_data(
    clips: int = 5, snrs: tuple[int, ...] = (10, 0), seed: int = 0, drop: dict | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """6 speakers x 4 labels x clips clean rows (+ noisy copies); class means + speaker offsets.

    ``drop`` maps a label to how many clips per speaker to leave out (class imbalance)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, size=(len(LABELS), D))
    offsets = rng.normal(0, 1.0, size=(len(SPEAKERS), D))
    rows, feats = [], []
    for s, spk in enumerate(SPEAKERS):
        for c_idx, lab in enumerate(LABELS):
            for c in range(clips - (drop or {}).get(lab, 0)):
                sid = f"Actor_{spk}/{lab}-{c}"
                x = centres[c_idx] + offsets[s] + rng.normal(0, 0.7, D)
                rows.append((sid, sid, "toy", spk, lab, np.nan, None))
                feats.append(x)
                for snr in snrs:
                    rows.append((f"{sid}#snr{snr:g}", sid, "toy", spk, lab, float(snr), "white"))
                    feats.append(x + rng.normal(0, 1.0 / (1 + snr), D))
    meta = pd.DataFrame(
        rows, columns=["id", "source_id", "dataset", "speaker", "label", "snr_db", "noise"]
    )
    return meta, np.asarray(feats, dtype=np.float32)


def write_table(path, meta_df: pd.DataFrame, X: np.ndarray, name: str = "toy") -> None:
    """A functionals feature table as ser.features writes it."""
    cols = [f"{name}_f{j}" for j in range(X.shape[1])]
    fields = [
        ("id", pa.string()), ("source_id", pa.string()), ("dataset", pa.string()),
        ("speaker", pa.string()), ("label", pa.string()), ("snr_db", pa.float64()),
        ("noise", pa.string()),
    ] + [(c, pa.float32()) for c in cols]
    data = {k: [None if pd.isna(v) else v for v in meta_df[k]] for k in meta_df.columns}
    data.update({c: X[:, j] for j, c in enumerate(cols)})
    meta = {"feature_set": name, "kind": "functionals", "params": {}, "columns": cols,
            "sample_rate": 16000, "versions": {}}
    table = pa.table(data, schema=pa.schema(fields)).replace_schema_metadata(
        {b"ser": json.dumps(meta).encode()}
    )
    pq.write_table(table, path)


@pytest.fixture()
def corpus(tmp_path):
    meta, X = make_data()
    feats = tmp_path / "toy.parquet"
    write_table(feats, meta, X)
    splits = tmp_path / "splits.parquet"
    groups = [["01", "02"], ["03", "04"], ["05", "06"]]
    sp = make_splits(meta, "speaker_kfold", fold_speakers=groups)
    save_splits(sp, splits, {"smote": "none"})
    return {"meta": meta, "X": X, "features": feats, "splits": splits, "dir": tmp_path}


def run_fold(c: dict, cfg: dict, tag: str, fold: int = 0, **kw):
    out = c["dir"] / tag
    summary = train_fold(
        c["features"], c["splits"], fold, cfg, out / "bundle", out / "pred.parquet",
        dataset="toy", model_name=tag, **kw,
    )
    return summary, pd.read_parquet(out / "pred.parquet"), out


def test_fold_outputs_and_bundle_roundtrip_without_pickle(corpus, monkeypatch) -> None:
    summary, pred, out = run_fold(corpus, {"arch": "logreg", "features": "toy"}, "lr", fold=1)
    meta = corpus["meta"]
    test_src = set(meta.loc[meta["speaker"].isin(["03", "04"]), "source_id"])
    # test rows = clean + noisy rows of the fold's speakers; training = other speakers' clean rows
    assert set(pred["source_id"]) == test_src
    assert len(pred) == summary["n_test"] == 2 * 4 * 5 * 3
    assert summary["n_train"] == 4 * 4 * 5
    assert pred["snr_db"].isna().sum() == 40 and set(pred["snr_db"].dropna()) == {0.0, 10.0}
    assert list(pred.columns) == PRED_COLUMNS + [f"prob_{lab}" for lab in LABELS]
    assert summary["labels"] == LABELS
    info = json.loads(pq.read_schema(out / "pred.parquet").metadata[b"ser"])
    assert info["labels"] == LABELS and info["arch"] == "logreg"
    assert info["protocol"]["protocol"] == "speaker_kfold" and info["confidence"] == "max_prob"
    np.testing.assert_allclose(pred[[f"prob_{x}" for x in LABELS]].sum(axis=1), 1.0, atol=1e-9)
    assert (pred["fold"] == 1).all()
    assert (pred["true"] == pred["predicted"]).mean() > 0.5  # learnable toy data

    mask = os.umask(0)
    os.umask(mask)
    assert (out / "pred.parquet").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (out / "bundle").stat().st_mode & 0o777 == 0o777 & ~mask
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp leftovers

    # no pickle anywhere in the bundle, and loading it never unpickles
    files = [p.name for p in (out / "bundle").rglob("*") if p.is_file()]
    assert "bundle.json" in files and "scaler.npz" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib"))]

    def forbidden(*a, **k):
        raise AssertionError("unpickling during bundle load")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    bundle = load_bundle(out / "bundle")
    assert bundle.labels == LABELS and bundle.normalize == "global"
    assert bundle.feature_set["name"] == "toy" and len(bundle.feature_set["columns"]) == D
    test_rows = meta["source_id"].isin(test_src).to_numpy()
    probs, conf = bundle.predict(corpus["X"][test_rows])
    assert conf is None
    np.testing.assert_array_equal(probs, pred[[f"prob_{x}" for x in LABELS]].to_numpy())
    again = predict_frame(bundle, meta[test_rows], corpus["X"][test_rows])
    pd.testing.assert_frame_equal(again.drop(columns="fold"), pred.drop(columns="fold"))


def test_scaler_fitted_on_training_rows_only(corpus, tmp_path) -> None:
    cfg = {"arch": "logreg", "features": "toy"}
    run_fold(corpus, cfg, "a", fold=2)
    meta, X = corpus["meta"], corpus["X"].copy()
    test = meta["speaker"].isin(["05", "06"]).to_numpy()
    X[test] = X[test] * 1000 + 1e4  # extreme test values must not move the scaler
    extreme = tmp_path / "extreme.parquet"
    write_table(extreme, meta, X)
    train_fold(extreme, corpus["splits"], 2, cfg, tmp_path / "b" / "bundle",
               tmp_path / "b" / "pred.parquet", dataset="toy", model_name="b")
    a, b = load_bundle(corpus["dir"] / "a" / "bundle"), load_bundle(tmp_path / "b" / "bundle")
    np.testing.assert_array_equal(a.scaler["mean"], b.scaler["mean"])
    np.testing.assert_array_equal(a.scaler["scale"], b.scaler["scale"])
    train_clean = (~test) & meta["snr_db"].isna().to_numpy()
    np.testing.assert_allclose(a.scaler["mean"], X[train_clean].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(a.scaler["scale"], X[train_clean].std(axis=0), rtol=1e-5)


def test_smote_train_only_never_sees_test_rows(tmp_path, monkeypatch) -> None:
    from imblearn.over_sampling import SMOTE

    meta, X = make_data(drop={"sad": 3, "angry": 2})
    feats = tmp_path / "t.parquet"
    write_table(feats, meta, X)
    splits = tmp_path / "s.parquet"
    save_splits(make_splits(meta, "speaker_kfold", folds=3, seed=1), splits, {})
    seen: dict[str, np.ndarray] = {}
    original = SMOTE.fit_resample

    def spy(self, X_in, y_in, **kw):
        seen["X"], seen["y"] = np.asarray(X_in).copy(), np.asarray(y_in).copy()
        return original(self, X_in, y_in, **kw)

    monkeypatch.setattr(SMOTE, "fit_resample", spy)
    fit_inputs: list[np.ndarray] = []
    real_build = models.build

    def build(*a, **k):
        m = real_build(*a, **k)
        real_fit = m.fit
        m.fit = lambda Xf, yf, *r, **kw: fit_inputs.append(np.asarray(Xf)) or real_fit(
            Xf, yf, *r, **kw
        )
        return m

    monkeypatch.setattr(models, "build", build)
    summary = train_fold(
        feats, splits, 0, {"arch": "logreg", "features": "t", "normalize": "none"},
        tmp_path / "b", tmp_path / "p.parquet", dataset="toy", model_name="m", smote="train_only",
    )
    sp = load_splits(splits)
    test_src = set(sp.loc[sp["fold"] == 0, "source_id"])
    is_test = meta["source_id"].isin(test_src).to_numpy()
    train_clean = ~is_test & meta["snr_db"].isna().to_numpy()
    assert len(seen["X"]) == train_clean.sum() == summary["n_fit"]
    test_rows = {r.tobytes() for r in X[is_test]}
    assert not any(r.tobytes() in test_rows for r in seen["X"])
    # SMOTE balanced the classes and the model was fitted on exactly its output
    assert summary["n_smote"] > 0
    assert np.bincount(seen["y"]).min() < np.bincount(seen["y"]).max()  # imbalanced input
    (fitted,) = fit_inputs
    assert len(fitted) == summary["n_fit"] + summary["n_smote"]
    assert not any(r.tobytes() in test_rows for r in fitted)


def test_class_weight_balanced_from_training_labels(tmp_path, monkeypatch) -> None:
    meta, X = make_data(drop={"sad": 3})
    feats = tmp_path / "t.parquet"
    write_table(feats, meta, X)
    splits = tmp_path / "s.parquet"
    save_splits(make_splits(meta, "loso"), splits, {})
    got = {}
    real_build = models.build

    def build(*a, **k):
        m = real_build(*a, **k)
        real_fit = m.fit

        def fit(*fa, **kw):
            got.update(kw["class_weight"])
            return real_fit(*fa, **kw)

        m.fit = fit
        return m

    monkeypatch.setattr(models, "build", build)
    train_fold(feats, splits, 0, {"arch": "logreg", "features": "t", "class_weight": True},
               tmp_path / "b", tmp_path / "p.parquet", dataset="toy", model_name="m")
    # 5 training speakers: 25 clips per label, 10 "sad" (index 2); balanced = n / (k * n_c)
    n = 25 * 3 + 10
    assert got == pytest.approx({0: n / 100, 1: n / 100, 2: n / 40, 3: n / 100})


def test_xgboost_same_seed_same_predictions(corpus) -> None:
    cfg = {"arch": "xgboost", "features": "toy", "n_estimators": 30, "max_depth": 3}
    _, p1, _ = run_fold(corpus, cfg, "x1", seed=3)
    _, p2, _ = run_fold(corpus, cfg, "x2", seed=3)
    pd.testing.assert_frame_equal(p1, p2)


def test_dnn_deterministic_with_speaker_validation(corpus) -> None:
    cfg = {"arch": "dnn", "features": "toy", "units": [16, 8], "epochs": 4, "batch_size": 16,
           "patience": 3, "val_speakers": 1}
    s1, p1, out = run_fold(corpus, {**cfg, "train_on": "clean+noisy"}, "d1", seed=5)
    s2, p2, _ = run_fold(corpus, {**cfg, "train_on": "clean+noisy"}, "d2", seed=5)
    pd.testing.assert_frame_equal(p1, p2)
    assert s1["n_train"] == 4 * 4 * 5 * 3  # clean + noisy rows of the 4 training speakers
    bundle = json.loads((out / "bundle" / "bundle.json").read_text())
    val = bundle["train_info"]["val_speakers"]
    assert len(val) == 1 and val[0] in {"03", "04", "05", "06"}  # a training speaker, not 01/02
    assert s1["n_val"] == 4 * 5 * 3 and s1["n_fit"] == s1["n_train"] - s1["n_val"]
    hist = pd.read_csv(out / "bundle" / "history.csv")
    assert "val_loss" in hist.columns and 1 <= len(hist) <= 4
    # round trip: the loaded Keras bundle gives the same probabilities
    b = load_bundle(out / "bundle")
    meta = corpus["meta"]
    rows = meta["speaker"].isin(["01", "02"]).to_numpy()
    probs, _ = b.predict(corpus["X"][rows])
    np.testing.assert_allclose(probs, p1[[f"prob_{x}" for x in LABELS]].to_numpy(), atol=1e-6)


def test_tune_uses_inner_cv_on_training_speakers_only(corpus, monkeypatch) -> None:
    calls: list[tuple[str, np.ndarray]] = []
    real_build = models.build

    def build(*a, **k):
        m = real_build(*a, **k)
        real_fit, real_pp = m.fit, m.predict_proba
        m.fit = lambda Xf, *r, **kw: calls.append(("fit", np.asarray(Xf))) or real_fit(
            Xf, *r, **kw
        )
        m.predict_proba = lambda Xp: calls.append(("predict", np.asarray(Xp))) or real_pp(Xp)
        return m

    monkeypatch.setattr(models, "build", build)
    cfg = {"arch": "xgboost", "features": "toy", "normalize": "none", "n_estimators": 20,
           "max_depth": 2, "tune": {"learning_rate": [0.0, 0.3]}, "tune_folds": 2}
    summary, pred, _ = run_fold(corpus, cfg, "tune", fold=0)
    meta, X = corpus["meta"], corpus["X"]
    test_rows = {r.tobytes() for r in X[meta["speaker"].isin(["01", "02"]).to_numpy()]}
    train_rows = {r.tobytes() for r in X[~meta["speaker"].isin(["01", "02"]).to_numpy()]}
    *inner, final_predict = calls
    assert len(inner) == 2 * 2 * 2 + 1  # 2 candidates x 2 inner folds x (fit, predict) + refit
    for _, arr in inner:
        assert all(r.tobytes() in train_rows for r in arr)
    assert final_predict[0] == "predict" and len(final_predict[1]) == len(pred)
    assert {r.tobytes() for r in final_predict[1]} == test_rows
    tuning = summary["tuning"]
    means = [r["mean"] for r in tuning["results"]]
    assert means[0] == pytest.approx(0.25)  # learning_rate 0: uniform output, always class 0
    assert means[1] > 0.5
    assert summary["chosen_params"] == {"learning_rate": 0.3} == tuning["best"]
    assert summary["params"]["learning_rate"] == 0.3
    # the refit uses the whole training part (80 clean rows of 4 speakers)
    assert len(inner[-1][1]) == 80


def test_speaker_normalisation_uses_each_speakers_own_stats(corpus) -> None:
    cfg = {"arch": "logreg", "features": "toy", "normalize": "speaker"}
    _, pred, out = run_fold(corpus, cfg, "spk", fold=0)
    bundle = load_bundle(out / "bundle")
    assert bundle.normalize == "speaker" and bundle.train_info["assumes_speaker_identity"]
    meta, X = corpus["meta"], corpus["X"]
    rows = meta["speaker"].isin(["01", "02"]).to_numpy()
    Xt, spk = X[rows], meta.loc[rows, "speaker"].to_numpy()
    manual = np.empty_like(Xt)
    for s in ("01", "02"):
        m = spk == s  # that speaker's clean and noisy test clips
        manual[m] = (Xt[m] - Xt[m].mean(axis=0)) / Xt[m].std(axis=0)
    np.testing.assert_allclose(bundle.transform(Xt, spk), manual, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        pred[[f"prob_{x}" for x in LABELS]].to_numpy(), bundle.model.predict_proba(manual),
        atol=1e-6,
    )
    # pooled statistics would give different inputs
    pooled = (Xt - Xt.mean(axis=0)) / Xt.std(axis=0)
    assert not np.allclose(pooled, manual, atol=1e-2)


def test_scaler_units() -> None:
    rng = np.random.default_rng(0)
    X3 = rng.normal(3, 2, size=(10, 7, 5)).astype(np.float32)
    sc = fit_scaler(X3)
    assert sc["mean"].shape == (5,)  # one statistic per mel band, pooled over frames
    np.testing.assert_allclose(sc["mean"], X3.reshape(-1, 5).mean(axis=0), rtol=1e-6)
    Z = apply_scaler(X3, sc)
    np.testing.assert_allclose(Z.reshape(-1, 5).std(axis=0), 1.0, rtol=1e-5)
    X2 = rng.normal(size=(8, 3)).astype(np.float32)
    X2[:, 1] = 4.0  # constant column: scale 1, not a division by zero
    out = apply_scaler(X2, fit_scaler(X2))
    assert np.isfinite(out).all() and np.allclose(out[:, 1], 0)
    spk = ["a"] * 4 + ["b"] * 4
    Z2 = speaker_standardize(X2 + np.array([[0, 0, 9]] * 4 + [[0, 0, -9]] * 4), spk)
    np.testing.assert_allclose(Z2[:4, 2].mean(), 0, atol=1e-6)
    np.testing.assert_allclose(Z2[4:, 2].mean(), 0, atol=1e-6)
    with pytest.raises(ValueError, match="features per row"):
        apply_scaler(X2[:, :2], fit_scaler(X2))


def test_smote_before_split_is_leaky_and_only_with_random(tmp_path, corpus) -> None:
    meta, X = make_data(drop={"sad": 2})
    aug_meta, aug_X = smote_before_split(meta, X, seed=0)
    synth = aug_meta.iloc[len(meta):]
    assert len(synth) == 6 * 2 and synth["id"].str.fullmatch(r"smote\d+").all()
    assert (synth["id"] == synth["source_id"]).all() and (synth["label"] == "sad").all()
    assert synth["snr_db"].isna().all() and len(aug_X) == len(aug_meta)

    with pytest.raises(ValueError, match="random"):
        run_fold(corpus, {"arch": "logreg", "features": "toy"}, "bad", smote="before_split")

    feats = tmp_path / "t.parquet"
    write_table(feats, meta, X)
    splits = tmp_path / "s.parquet"
    save_splits(make_splits(meta, "random", seed=0), splits, {"smote": "before_split"})
    summary = train_fold(
        feats, splits, 0, {"arch": "logreg", "features": "t"}, tmp_path / "b",
        tmp_path / "p.parquet", dataset="toy", model_name="m", smote="before_split",
    )
    pred = pd.read_parquet(tmp_path / "p.parquet")
    assert summary["leaky"] is True
    n_synth_test = pred["id"].str.startswith("smote").sum()
    assert 0 < n_synth_test < 12  # synthetic clips land on both sides of the split
    info = json.loads(pq.read_schema(tmp_path / "p.parquet").metadata[b"ser"])
    assert info["protocol"]["leaky"] is True and info["smote"] == "before_split"


def test_random_protocol_validation_and_emotion_subset(tmp_path) -> None:
    meta, X = make_data(snrs=())
    feats = tmp_path / "t.parquet"
    write_table(feats, meta, X)
    splits = tmp_path / "s.parquet"
    save_splits(make_splits(meta, "random", seed=1, test_size=0.25), splits, {})
    summary = train_fold(
        feats, splits, 0, {"arch": "xgboost", "features": "t", "n_estimators": 10,
                           "patience": 3, "val_speakers": 0.2},
        tmp_path / "b", tmp_path / "p.parquet", dataset="toy", model_name="m",
        emotions=["angry", "sad", "happy"],
    )
    assert summary["labels"] == ["happy", "sad", "angry"]
    pred = pd.read_parquet(tmp_path / "p.parquet")
    assert set(pred["true"]) <= {"happy", "sad", "angry"}
    assert summary["n_val"] > 0 and summary["n_fit"] + summary["n_val"] == summary["n_train"]
    info = json.loads((tmp_path / "b" / "bundle.json").read_text())["train_info"]
    assert info["validation"] == "random"


def test_train_full_and_feature_fusion(tmp_path) -> None:
    meta, X = make_data(snrs=(5,))
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_table(a, meta, X[:, :3], name="a")
    # the second table lists rows in another order: fusion must join on id
    order = np.arange(len(meta))[::-1]
    write_table(b, meta.iloc[order].reset_index(drop=True), X[order, 3:], name="b")
    fmeta, fX, finfo = read_table([a, b])
    np.testing.assert_array_equal(fX, X)
    assert finfo["feature_set"] == "a+b" and len(finfo["columns"]) == D
    summary = train_full([a, b], {"arch": "logreg", "features": ["a", "b"]}, tmp_path / "full",
                         dataset="toy", model_name="m")
    assert summary["n_train"] == 6 * 4 * 5
    bundle = load_bundle(tmp_path / "full")
    assert bundle.train_info["fold"] is None
    pred = predict_frame(bundle, fmeta, fX)
    assert list(pred.columns) == PRED_COLUMNS + [f"prob_{x}" for x in LABELS]
    assert (pred["fold"] == -1).all() and len(pred) == len(meta)
    assert (pred["true"] == pred["predicted"]).mean() > 0.5


def test_late_fusion_one_member_per_fused_table(tmp_path) -> None:
    """late_fusion over [a, b]: blocks come from the tables, each member sees only its own
    columns, and the bundle's probabilities are the mean of the two members'."""
    from ser.models import build

    meta, X = make_data(snrs=(5,))
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_table(a, meta, X[:, :2], name="a")
    write_table(b, meta, X[:, 2:], name="b")
    cfg = {"arch": "late_fusion", "features": ["a", "b"], "C": 0.5}
    train_full([a, b], cfg, tmp_path / "late", dataset="toy", model_name="late")
    bundle = load_bundle(tmp_path / "late")
    model = bundle.model
    assert model.params["blocks"] == [2, D - 2] and len(model.members) == 2
    assert [m.params["C"] for m in model.members] == [0.5, 0.5]
    fmeta, fX, _ = read_table([a, b])
    Xs = bundle.transform(fX)
    # the same members trained by hand on the blocks give the same probabilities
    y = fmeta["label"].map({lab: i for i, lab in enumerate(bundle.labels)}).to_numpy()
    clean = fmeta["snr_db"].isna().to_numpy()  # train_on: clean (the default)
    by_hand = []
    for i, cols in enumerate((slice(0, 2), slice(2, D))):
        m = build("logreg", (cols.stop - cols.start,), len(bundle.labels), {"C": 0.5}, seed=i)
        m.fit(Xs[clean][:, cols], y[clean])
        by_hand.append(m.predict_proba(Xs[:, cols]))
    np.testing.assert_allclose(model.predict_proba(Xs), np.mean(by_hand, axis=0), atol=1e-12)
    pred = predict_frame(bundle, fmeta, fX)
    assert (pred["true"] == pred["predicted"]).mean() > 0.5


def test_train_on_conditions_balance_and_recorded_conditions(tmp_path) -> None:
    """Copies under non-noise conditions (no SNR) are not clean: `train_on: clean` leaves them
    out, a list of kinds picks them, `condition_balance` repeats the clean rows, and the bundle
    records the conditions the model was fitted on."""
    from ser.bundle import load_bundle

    meta, X = make_data(snrs=(10,))
    extra_m, extra_x = [], []
    for r, x in zip(meta.itertuples(), X, strict=True):
        if r.id == r.source_id:
            extra_m.append((f"{r.id}#rt0.6", r.id, "toy", r.speaker, r.label, np.nan, None))
            extra_x.append(x * 0.9)
    meta = pd.concat([meta, pd.DataFrame(extra_m, columns=meta.columns)], ignore_index=True)
    X = np.vstack([X, np.asarray(extra_x, np.float32)])
    feats = tmp_path / "toy.parquet"
    write_table(feats, meta, X)
    splits = tmp_path / "splits.parquet"
    save_splits(make_splits(meta, "speaker_kfold", fold_speakers=[["01", "02"], ["03", "04"],
                                                                  ["05", "06"]]),
                splits, {"smote": "none"})
    c = {"features": feats, "splits": splits, "dir": tmp_path}
    n_clean_train = int(((meta["id"] == meta["source_id"])
                         & ~meta["speaker"].isin(["01", "02"])).sum())
    cfg = {"arch": "logreg", "features": "toy"}
    s, pred, out = run_fold(c, cfg, "clean")
    assert s["n_train"] == n_clean_train
    assert set(pred["id"].str.split("#").str[1].dropna()) == {"snr10", "rt0.6"}  # all tested
    rec = load_bundle(out / "bundle").train_info["training_conditions"]
    assert rec == {"clean": True, "conditions": [], "kinds": [], "min_snr_db": None}
    s, _, out = run_fold(c, {**cfg, "train_on": ["clean", "reverb"]}, "reverb")
    assert s["n_train"] == 2 * n_clean_train
    assert load_bundle(out / "bundle").train_info["training_conditions"]["kinds"] == ["reverb"]
    s, _, out = run_fold(c, {**cfg, "train_on": "clean+noisy", "condition_balance": True}, "bal")
    assert s["n_train"] == 3 * n_clean_train and s["n_fit"] == 4 * n_clean_train
    info = load_bundle(out / "bundle").train_info
    assert info["condition_balance"] is True
    assert info["training_conditions"]["conditions"] == ["snr10", "rt0.6"]
    assert info["training_conditions"]["min_snr_db"] == 10.0
