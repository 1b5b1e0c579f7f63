"""Tests for ser.evaluate: metrics against scikit-learn, ECE/OOD on constructed cases, artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    recall_score,
)

from ser.conditions import level_text
from ser.evaluate import (
    FIGURES,
    compute_metrics,
    evaluate_model,
    expected_calibration_error,
    ood_auroc,
    read_predictions,
)

LABELS = ["angry", "happy", "neutral", "sad"]


def _probs_for(pred: list[str], labels: list[str], top: np.ndarray) -> np.ndarray:
    """Probability rows whose argmax is ``pred`` with max probability ``top``."""
    k = len(labels)
    probs = np.empty((len(pred), k))
    for i, (p, t) in enumerate(zip(pred, top, strict=True)):
        probs[i, :] = (1.0 - t) / (k - 1)
        probs[i, labels.index(p)] = t
    return probs


def make_frame(
    true: list[str],
    pred: list[str],
    *,
    folds: list[int] | None = None,
    snr: list[float | None] | None = None,
    source: list[str] | None = None,
    confidence: list[float] | None = None,
    top: list[float] | None = None,
    labels: list[str] = LABELS,
) -> pd.DataFrame:
    """A prediction table following docs/architecture.md, built by hand."""
    n = len(true)
    snr = snr if snr is not None else [None] * n
    ids = [f"clip{i:03d}" for i in range(n)]
    source = source if source is not None else ids
    ids = [s if v is None else f"{s}#snr{level_text(v)}" for s, v in zip(source, snr, strict=True)]
    frame = pd.DataFrame({
        "id": ids,
        "source_id": source,
        "fold": folds if folds is not None else [0] * n,
        "snr_db": [np.nan if v is None else float(v) for v in snr],
        "noise": [None if v is None else "white" for v in snr],
        "true": true,
        "predicted": pred,
        "confidence": confidence if confidence is not None else [np.nan] * n,
    })
    if top is not None:
        probs = _probs_for(pred, labels, np.asarray(top, dtype=float))
    else:
        probs = np.full((n, len(labels)), np.nan)
    for j, label in enumerate(labels):
        frame[f"prob_{label}"] = probs[:, j]
    return frame


def write_predictions(frame: pd.DataFrame, path: Path, **meta) -> Path:
    """Write a fold prediction parquet with ``ser`` schema metadata shaped like ser.train's."""
    meta = {"labels": LABELS, "model": "m", "arch": "dnn", "dataset": "toy", "params": {},
            "protocol": {"protocol": "speaker_kfold", "folds": 2, "seed": 0, "leaky": False},
            "feature_set": "is09_emotion", "normalize": "global", "smote": "none",
            "confidence": "model", **meta}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"ser": json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


# Fixed hand-built predictions: 12 clean clips over 2 folds, each with copies at 20 and 0 dB.
TRUE = ["angry", "angry", "angry", "happy", "happy", "happy",
        "neutral", "neutral", "sad", "sad", "sad", "sad"]
PRED = ["angry", "happy", "angry", "happy", "happy", "sad",
        "neutral", "angry", "sad", "sad", "neutral", "sad"]
FOLDS = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
PRED20 = ["angry", "happy", "happy", "happy", "sad", "sad",
          "neutral", "angry", "sad", "neutral", "neutral", "sad"]
PRED0 = ["sad", "sad", "sad", "sad", "sad", "sad",
         "sad", "sad", "sad", "sad", "sad", "neutral"]


def fixed_frame() -> pd.DataFrame:
    n = len(TRUE)
    src = [f"clip{i:03d}" for i in range(n)]
    return make_frame(
        TRUE * 3, PRED + PRED20 + PRED0, folds=FOLDS * 3,
        snr=[None] * n + [20.0] * n + [0.0] * n, source=src * 3,
        top=[0.9] * n + [0.7] * n + [0.5] * n,
        confidence=[0.95] * n + [0.6] * n + [0.2] * n,
    )


def test_metrics_equal_sklearn_on_fixed_predictions():
    m = compute_metrics(fixed_frame(), LABELS)
    assert m["accuracy"] == pytest.approx(accuracy_score(TRUE, PRED))
    assert m["uar"] == pytest.approx(balanced_accuracy_score(TRUE, PRED))
    assert m["macro_f1"] == pytest.approx(f1_score(TRUE, PRED, average="macro"))
    recalls = recall_score(TRUE, PRED, labels=LABELS, average=None)
    assert m["per_class"] == pytest.approx(dict(zip(LABELS, recalls, strict=True)))
    assert m["confusion"]["labels"] == LABELS
    assert m["confusion"]["matrix"] == confusion_matrix(TRUE, PRED, labels=LABELS).tolist()
    assert m["n_test"] == 12 and m["n_test_noisy"] == 24
    # Per fold, and mean/std over folds.
    assert [f["fold"] for f in m["folds"]] == [0, 1]
    for f in m["folds"]:
        idx = [i for i, k in enumerate(FOLDS) if k == f["fold"]]
        t, p = [TRUE[i] for i in idx], [PRED[i] for i in idx]
        assert f["uar"] == pytest.approx(balanced_accuracy_score(t, p))
        assert f["accuracy"] == pytest.approx(accuracy_score(t, p))
        assert f["macro_f1"] == pytest.approx(f1_score(t, p, average="macro"))
        assert f["n_test"] == len(idx)
    uars = [f["uar"] for f in m["folds"]]
    assert m["folds_mean"]["uar"] == pytest.approx(np.mean(uars))
    assert m["folds_std"]["uar"] == pytest.approx(np.std(uars, ddof=1))
    # The UAR is not the accuracy here (classes are unbalanced): guards against a mix-up.
    assert m["uar"] != pytest.approx(m["accuracy"])


def test_by_snr_keys_and_values():
    m = compute_metrics(fixed_frame(), LABELS)
    assert list(m["by_snr"]) == ["clean", "20", "0"]
    assert list(m["by_snr_uar"]) == ["clean", "20", "0"]
    assert m["by_snr"]["clean"] == pytest.approx(accuracy_score(TRUE, PRED))
    assert m["by_snr"]["20"] == pytest.approx(accuracy_score(TRUE, PRED20))
    assert m["by_snr"]["0"] == pytest.approx(accuracy_score(TRUE, PRED0))
    assert m["by_snr_uar"]["0"] == pytest.approx(balanced_accuracy_score(TRUE, PRED0))
    assert m["by_noise"] == {"white": {"20": m["by_snr"]["20"], "0": m["by_snr"]["0"]}}


def test_headline_uses_clean_rows_only():
    base = compute_metrics(fixed_frame(), LABELS)
    frame = fixed_frame()
    noisy = frame["snr_db"].notna()
    frame.loc[noisy, "predicted"] = frame.loc[noisy, "true"]  # noisy copies now all correct
    changed = compute_metrics(frame, LABELS)
    for key in ("accuracy", "uar", "macro_f1", "per_class", "confusion", "folds"):
        assert changed[key] == base[key]
    assert changed["by_snr"]["0"] == 1.0 != base["by_snr"]["0"]


def test_absent_class_has_null_recall_and_extra_labels_are_kept():
    true = ["angry", "happy", "surprised", "happy"]
    pred = ["angry", "sad", "happy", "happy"]
    m = compute_metrics(make_frame(true, pred), LABELS)
    assert m["per_class"]["neutral"] is None  # no neutral clip in the test set: undefined
    assert m["per_class"]["surprised"] == 0.0  # not in the model's labels, but in the test set
    assert m["confusion"]["labels"] == LABELS + ["surprised"]
    assert np.sum(m["confusion"]["matrix"]) == 4  # nothing silently dropped
    assert m["labels_in_test"] == ["angry", "happy", "surprised"]


def test_ece_constructed_cases():
    rng = np.random.default_rng(0)
    # Perfectly calibrated: within each confidence level, exactly that fraction is correct.
    conf, correct = [], []
    for c in (0.3, 0.5, 0.8, 1.0):
        k = 100
        conf += [c] * k
        correct += [1] * int(round(c * k)) + [0] * (k - int(round(c * k)))
    order = rng.permutation(len(conf))
    assert expected_calibration_error(np.array(conf)[order], np.array(correct)[order]) == \
        pytest.approx(0.0, abs=1e-12)
    # Always fully confident, right 70% of the time: ECE = 1.0 - 0.7.
    assert expected_calibration_error(np.ones(100), np.r_[np.ones(70), np.zeros(30)]) == \
        pytest.approx(0.3)
    # Two bins: (0.9 conf, 50% right) and (0.6 conf, 60% right), equal sizes -> 0.4/2.
    conf2 = np.r_[np.full(10, 0.9), np.full(10, 0.6)]
    corr2 = np.r_[np.ones(5), np.zeros(5), np.ones(6), np.zeros(4)]
    assert expected_calibration_error(conf2, corr2) == pytest.approx(0.2)


def test_ece_in_metrics_from_probabilities():
    true = ["angry"] * 10
    pred = ["angry"] * 7 + ["sad"] * 3
    m = compute_metrics(make_frame(true, pred, top=[1.0] * 10), LABELS)
    assert m["ece"] == pytest.approx(0.3)
    no_probs = compute_metrics(make_frame(true, pred), LABELS)
    assert "ece" not in no_probs and "ood_auroc" not in no_probs


def test_ood_auroc_constructed_cases():
    assert ood_auroc(np.array([0.9, 0.8, 0.7]), np.array([0.1, 0.2, 0.3])) == 1.0
    assert ood_auroc(np.full(5, 0.4), np.full(5, 0.4)) == 0.5
    assert ood_auroc(np.array([0.1, 0.2]), np.array([0.8, 0.9])) == 0.0


def test_ood_auroc_in_metrics_uses_lowest_snr_and_other_corpus():
    n = 6
    src = [f"clip{i:03d}" for i in range(n)]
    true = ["angry", "happy", "sad"] * 2
    # Clean conf > 0 dB conf everywhere; the 10 dB copies look exactly like clean ones.
    clean_conf = [0.9, 0.8, 0.85, 0.95, 0.7, 0.75]
    frame = make_frame(true * 3, true * 3, snr=[None] * n + [10.0] * n + [0.0] * n,
                       source=src * 3, confidence=clean_conf * 2 + [0.1] * n,
                       top=[0.9] * (3 * n))
    other = make_frame(true, true, confidence=clean_conf, top=[0.9] * n)
    m = compute_metrics(frame, LABELS, ood_other=other)
    assert m["ood_auroc"]["noisy_0db"] == 1.0
    assert m["ood_noisy_snr_db"] == 0.0
    assert m["ood_auroc"]["other_corpus"] == pytest.approx(0.5)  # identical confidences
    assert m["ood_auroc_maxprob"]["noisy_0db"] == pytest.approx(0.5)  # flat max-prob baseline


def test_no_clean_rows_is_an_error():
    frame = make_frame(["angry"], ["angry"], snr=[10.0])
    with pytest.raises(ValueError, match="clean"):
        compute_metrics(frame, LABELS)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _split_folds(frame: pd.DataFrame, out: Path, **meta) -> list[Path]:
    return [write_predictions(rows.reset_index(drop=True), out / f"fold{k}.parquet", **meta)
            for k, rows in frame.groupby("fold")]


def test_evaluate_model_writes_every_artefact(tmp_path):
    frame = fixed_frame()
    paths = _split_folds(frame, tmp_path / "eval" / "toy" / "m" / "folds")
    histories = []
    for k in (0, 1):
        h = tmp_path / "models" / "toy" / "m" / f"fold{k}" / "history.csv"
        h.parent.mkdir(parents=True)
        pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.2, 0.9, 0.7], "accuracy": [0.3, 0.5, 0.6],
                      "val_loss": [1.3, 1.1, 1.0], "val_accuracy": [0.25, 0.4, 0.45]}
                     ).to_csv(h, index=False)
        histories.append(h)
    out = tmp_path / "eval" / "toy" / "m"
    metrics = evaluate_model(paths, histories, out)

    stored = json.loads((out / "metrics.json").read_text(),
                        parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert stored == metrics
    for key in ("accuracy", "uar", "macro_f1", "per_class", "n_test", "n_test_noisy", "protocol",
                "leaky", "folds", "folds_mean", "folds_std", "by_snr", "by_snr_uar",
                "confusion", "ece", "ood_auroc"):
        assert key in stored, key
    assert stored["protocol"] == "speaker_kfold" and stored["leaky"] is False
    assert stored["feature_set"] == "is09_emotion" and stored["ood_score"] == "model"
    assert stored["ood_auroc"]["noisy_0db"] == 1.0  # clean 0.95 > 0 dB 0.2 everywhere
    assert stored["ood_noisy_snr_db"] == 0.0
    assert stored["dataset"] == "toy" and stored["model"] == "m"
    assert stored["uar"] == pytest.approx(balanced_accuracy_score(TRUE, PRED))

    confusion = pd.read_csv(out / "confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"]
    assert len(confusion) == 12
    assert sorted(zip(confusion.actual, confusion.predicted, strict=True)) == \
        sorted(zip(TRUE, PRED, strict=True))
    snr = pd.read_csv(out / "snr.csv", dtype={"snr": str})
    assert list(snr.columns) == ["snr", "accuracy", "uar"]
    assert list(snr.snr) == ["0", "20", "clean"]  # clean at the right end
    assert snr.accuracy.iloc[-1] == pytest.approx(stored["accuracy"])

    allpred = read_predictions(out / "predictions.parquet")
    assert len(allpred) == len(frame)
    assert allpred.attrs["ser"]["labels"] == LABELS
    report = (out / "classification_report.txt").read_text()
    assert "speaker_kfold" in report and "macro avg" in report and "noisy copies" in report

    sizes = {name: _png_size(out / name) for name in FIGURES}
    assert sizes["curves.png"] == (750, 300)  # real curves, not the placeholder
    assert all(w >= 300 and h >= 150 for w, h in sizes.values())
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files behind


def test_evaluate_model_non_keras_and_leaky_protocol(tmp_path):
    frame = fixed_frame()
    frame["confidence"] = np.nan
    for c in LABELS:
        frame[f"prob_{c}"] = np.nan
    protocol = {"protocol": "random", "folds": 1, "leaky": True, "smote": "before_split"}
    paths = _split_folds(frame, tmp_path / "folds", protocol=protocol, smote="before_split",
                         arch="svm", model="svm_is09")
    out = tmp_path / "out"
    metrics = evaluate_model(paths, [], out)
    assert metrics["leaky"] is True
    assert "leaky" in metrics["protocol"]
    assert "speakers shared" in metrics["protocol"] and "SMOTE before split" in metrics["protocol"]
    assert "ece" not in metrics and "ood_auroc" not in metrics
    assert _png_size(out / "curves.png") == (450, 160)  # "no training curves for svm"
    assert _png_size(out / "reliability.png") == (450, 160)


def test_random_protocol_is_leaky_even_without_flag(tmp_path):
    paths = _split_folds(fixed_frame(), tmp_path / "folds", protocol="random", leaky=False)
    metrics = evaluate_model(paths, [], tmp_path / "out")
    assert metrics["leaky"] is True
    assert metrics["protocol"] == "random (leaky: speakers shared)"
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["leaky"] is True


def test_max_prob_confidence_has_no_separate_baseline():
    frame = fixed_frame()
    frame.attrs["ser"] = {"confidence": "max_prob"}
    m = compute_metrics(frame, LABELS)
    assert m["ood_score"] == "max_prob"
    assert "noisy_0db" in m["ood_auroc"] and "ood_auroc_maxprob" not in m
    frame.attrs["ser"] = {"confidence": "model"}
    assert compute_metrics(frame, LABELS)["ood_score"] == "model"


def test_cross_corpus_single_fold(tmp_path):
    frame = fixed_frame()
    frame = frame[frame.snr_db.isna()].assign(fold=0)
    path = write_predictions(frame, tmp_path / "cross.parquet", dataset="a",
                             train_dataset="a", test_dataset="b")
    metrics = evaluate_model([path], [], tmp_path / "out")
    assert [f["fold"] for f in metrics["folds"]] == [0]
    assert metrics["folds_std"]["uar"] == 0.0
    assert metrics["by_snr"] == {"clean": metrics["accuracy"]}
    assert metrics["train_dataset"] == "a" and metrics["test_dataset"] == "b"


def test_label_mismatch_between_folds_is_an_error(tmp_path):
    frame = fixed_frame()
    a = write_predictions(frame[frame.fold == 0], tmp_path / "fold0.parquet")
    b = write_predictions(frame[frame.fold == 1], tmp_path / "fold1.parquet",
                          labels=list(reversed(LABELS)))
    with pytest.raises(ValueError, match="labels"):
        evaluate_model([a, b], [], tmp_path / "out")


def test_by_condition_scores_each_condition_apart_from_the_headline(tmp_path):
    """Reverberant/telephone/codec/gain copies have no SNR: they must not count as clean rows, and
    by_condition scores each condition and level against scikit-learn's balanced accuracy."""
    rng = np.random.default_rng(4)
    n = 40
    sources = [f"Actor_{i % 4:02d}/c{i:03d}" for i in range(n)]
    true = list(rng.choice(LABELS, n))
    folds = [i % 2 for i in range(n)]
    tags = {"snr20": 0.1, "snr0": 0.6, "rt0.6": 0.3, "tel-ulaw": 0.4, "mp3-16k": 0.2,
            "gain-20": 0.5}
    rows = [{"id": s, "source_id": s, "fold": f, "snr_db": np.nan, "true": t,
             "predicted": t if rng.random() > 0.2 else LABELS[0]}
            for s, t, f in zip(sources, true, folds, strict=True)]
    for tag, err in tags.items():
        for s, t, f in zip(sources, true, folds, strict=True):
            rows.append({"id": f"{s}#{tag}", "source_id": s, "fold": f,
                         "snr_db": float(tag[3:]) if tag.startswith("snr") else np.nan, "true": t,
                         "predicted": t if rng.random() > err else LABELS[1]})
    frame = pd.DataFrame(rows)
    frame["noise"] = None
    frame["confidence"] = np.nan
    for label in LABELS:
        frame[f"prob_{label}"] = np.nan
    m = compute_metrics(frame, LABELS)
    clean = frame[frame["id"] == frame["source_id"]]
    assert m["n_test"] == n and m["n_test_noisy"] == 2 * n
    assert m["uar"] == pytest.approx(balanced_accuracy_score(clean["true"], clean["predicted"]))
    bc = m["by_condition"]
    assert list(bc) == ["clean", "noise", "reverb", "telephone", "codec", "gain"]
    assert list(bc["noise"]) == ["20", "0"]
    assert list(bc["reverb"]) == ["0.6"] and list(bc["telephone"]) == ["ulaw"]
    assert list(bc["codec"]) == ["mp3-16k"] and list(bc["gain"]) == ["-20"]
    for kind, level, tag in (("noise", "0", "snr0"), ("reverb", "0.6", "rt0.6"),
                             ("gain", "-20", "gain-20")):
        rows_ = frame[frame["id"].str.endswith("#" + tag)]
        e = bc[kind][level]
        assert e["n"] == n
        assert e["uar"] == pytest.approx(balanced_accuracy_score(rows_["true"],
                                                                 rows_["predicted"]))
        per_fold = [balanced_accuracy_score(r["true"], r["predicted"])
                    for _, r in rows_.groupby("fold")]
        assert e["uar_fold_mean"] == pytest.approx(np.mean(per_fold))
        assert e["delta_uar"] == pytest.approx(e["uar"] - bc["clean"]["uar"])
    assert m["by_snr_uar"]["0"] == pytest.approx(bc["noise"]["0"]["uar"])
    # artefacts: the long table and the figure
    for f in (0, 1):
        write_predictions(frame[frame["fold"] == f].reset_index(drop=True),
                          tmp_path / "folds" / f"fold{f}.parquet")
    out = tmp_path / "eval"
    evaluate_model([tmp_path / "folds" / f"fold{f}.parquet" for f in (0, 1)], [], out)
    table = pd.read_csv(out / "conditions.csv", dtype={"level": str}, keep_default_na=False)
    assert list(zip(table["condition"], table["level"], strict=True)) == [
        ("clean", ""), ("noise", "20"), ("noise", "0"), ("reverb", "0.6"), ("telephone", "ulaw"),
        ("codec", "mp3-16k"), ("gain", "-20")]
    assert _png_size(out / "conditions.png")[0] > 400
