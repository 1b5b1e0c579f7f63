"""ser.trust: chance, intervals, per-speaker results, leakage audit, confidence checks and
provenance, on constructed cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from ser import trust


def _speaker_data(n_spk: int = 6, per: int = 20, good: float = 0.9, seed: int = 0):
    """Four balanced classes; each speaker's clips right with probability ``good``."""
    rng = np.random.default_rng(seed)
    labels = np.array(["a", "b", "c", "d"])
    true, pred, spk = [], [], []
    for s in range(n_spk):
        t = labels[np.arange(per) % 4]
        p = np.where(rng.random(per) < good, t, labels[(np.arange(per) + 1) % 4])
        true += list(t)
        pred += list(p)
        spk += [f"s{s}"] * per
    return np.array(true), np.array(pred), np.array(spk)


def test_chance_level() -> None:
    assert trust.chance_level(8) == 0.125
    assert trust.chance_level(0) == 1.0


def test_interval_brackets_the_uar_and_is_reproducible() -> None:
    t, p, s = _speaker_data()
    uar = balanced_accuracy_score(t, p)
    iv = trust.uar_interval(t, p, s)
    assert iv["unit"] == "speaker" and iv["n_units"] == 6 and iv["level"] == 0.95
    assert iv["low"] <= uar <= iv["high"] and iv["high"] - iv["low"] > 0
    assert "bootstrap over test speakers" in iv["method"]
    assert trust.uar_interval(t, p, s) == iv  # fixed seed
    clips = trust.uar_interval(t, p)
    assert clips["unit"] == "clip" and clips["n_units"] == len(t)
    assert clips["low"] <= uar <= clips["high"]


def test_speaker_bootstrap_is_wider_when_speakers_differ() -> None:
    # half the speakers perfect, half at chance: clips look plentiful, voices are few
    t1, p1, s1 = _speaker_data(n_spk=4, good=1.0, seed=1)
    t2, p2, s2 = _speaker_data(n_spk=4, good=0.0, seed=2)
    t, p = np.concatenate([t1, t2]), np.concatenate([p1, p2])
    s = np.concatenate([s1, np.char.add(s2, "x")])
    by_speaker = trust.uar_interval(t, p, s)
    by_clip = trust.uar_interval(t, p)
    assert (by_speaker["high"] - by_speaker["low"]) > 2 * (by_clip["high"] - by_clip["low"])


def test_at_chance_flag() -> None:
    rng = np.random.default_rng(0)
    t = np.array(list("abcd") * 30)
    random_pred = rng.choice(list("abcd"), size=len(t))
    iv = trust.uar_interval(t, random_pred, np.repeat([f"s{i}" for i in range(6)], 20))
    assert trust.includes_chance(iv, 0.25) is True
    perfect = trust.uar_interval(t, t, np.repeat([f"s{i}" for i in range(6)], 20))
    assert trust.includes_chance(perfect, 0.25) is False
    assert perfect["low"] == perfect["high"] == 1.0
    assert trust.includes_chance({"low": None}, 0.25) is None


def test_predictions_outside_the_labels_count_as_wrong() -> None:
    iv = trust.uar_interval(["a", "b"] * 10, ["zzz"] * 20)
    assert iv["low"] == iv["high"] == 0.0


def test_per_speaker_uar_and_worst() -> None:
    t, p, s = _speaker_data(n_spk=3, good=1.0)
    p = p.copy()
    p[s == "s1"] = "a"  # speaker s1: always "a" -> UAR 0.25
    per = trust.per_speaker_uar(t, p, s)
    assert list(per) == ["s0", "s1", "s2"]
    assert per["s0"]["uar"] == 1.0 and per["s1"]["uar"] == 0.25 and per["s1"]["n"] == 20
    assert trust.worst_speaker(per) == ("s1", 0.25)
    assert trust.worst_speaker({}) is None


def test_leakage_audit_counts_shared_speakers_and_sources() -> None:
    splits = pd.DataFrame({
        "source_id": ["c1", "c2", "c3", "c4", "c5"],
        "speaker": ["A", "A", "B", "B", "C"],
        "label": ["x"] * 5,
        "fold": [0, 1, 1, 0, 1],
    })
    pred = pd.DataFrame({
        "id": ["c1", "c1#snr0", "c4", "c2", "c3", "c5"],
        "source_id": ["c1", "c1", "c4", "c2", "c3", "c5"],
        "fold": [0, 0, 0, 1, 1, 1],
    })
    audit = trust.leakage_audit(pred, splits)
    # fold 0 tests A (c1) and B (c4); training (fold 1) has A, B, C: both shared
    # fold 1 tests A, B, C; training (fold 0) has A, B: two shared
    assert [f["test_speakers_in_training"] for f in audit["per_fold"]] == [2, 2]
    assert audit["test_speakers_in_training"] == 4 and audit["test_speakers"] == 5
    assert audit["test_clips_source_in_training"] == 0 and audit["test_clips"] == 6
    # speaker-independent split: nothing shared
    indep = splits.assign(fold=[0, 0, 1, 1, 1])
    pred2 = pred.assign(fold=[0, 0, 1, 0, 1, 1])
    assert trust.leakage_audit(pred2, indep)["test_speakers_in_training"] == 0
    # a test clip whose source is also training data (a split bug) is counted
    dup = pd.concat([splits, pd.DataFrame({"source_id": ["x1"], "speaker": ["D"],
                                           "label": ["x"], "fold": [1]})])
    bad = pd.DataFrame({"id": ["x1#snr0"], "source_id": ["x1"], "fold": [0]})
    assert trust.leakage_audit(bad, dup)["test_clips_source_in_training"] == 1


def test_confidence_check_words() -> None:
    ok = np.array([True] * 50 + [False] * 50)
    informative = np.concatenate([np.linspace(0.6, 1.0, 50), np.linspace(0.1, 0.5, 50)])
    check = trust.confidence_check(informative, ok)
    assert check["auroc_correct_vs_wrong"] == 1.0 and check["verdict"] == "separates them"
    flat = trust.confidence_check(np.full(100, 0.9), ok)
    assert flat["auroc_correct_vs_wrong"] == 0.5
    assert flat["verdict"] == "does NOT separate them"
    assert trust.confidence_check(np.ones(3), np.ones(3, bool))["verdict"] == (
        "cannot be measured here")
    assert trust.separation_words(0.65) == "separates them only weakly"


def test_noise_kind_scores_and_sentence() -> None:
    noisy = pd.DataFrame({"snr_db": [20.0, 20.0, 0.0, 0.0], "noise": ["white", "babble"] * 2,
                          "ok": [1.0, 1.0, 0.0, 1.0]})
    table = trust.noise_kind_scores(noisy, lambda rows: rows["ok"].mean())
    assert table == {"babble": {"20": 1.0, "0": 1.0}, "white": {"20": 1.0, "0": 0.0}}
    text = trust.noise_sentence({"clean": 0.8, "20": 1.0, "0": 0.5}, table, 0.25)
    assert "with white noise at 0 dB SNR: 0.00 against 0.80" in text
    assert "near chance" in text  # 0.00 <= 1.5 x chance
    at_chance = trust.noise_sentence({"clean": 0.8, "20": 0.26, "0": 0.25},
                                     {"white": {"20": 0.26, "0": 0.25}}, 0.25)
    assert "Already at 20 dB SNR (white) it is near chance" in at_chance
    mild = trust.noise_sentence({"clean": 0.8}, {"pink": {"10": 0.75}}, 0.25)
    assert mild.endswith("The model holds up under the noise tested.")
    assert trust.noise_sentence({"clean": 0.8}, {}, 0.25) == ""


def test_provenance_names_commit_versions_and_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(trust.COMMAND_ENV, "snakemake --cores 2")
    info = trust.provenance({"seed": 1})
    assert info["command"] == "snakemake --cores 2" and info["config"] == {"seed": 1}
    assert len(info["git_commit"]) == 40 or info["git_commit"].startswith("unknown")
    assert info["versions"]["scikit-learn"] and info["versions"]["python"]
    assert info["date"][:2] == "20"


# --------------------------------------------------------------------------- through evaluation


def test_evaluation_reports_chance_interval_speakers_leakage_cost(tmp_path) -> None:
    """Two real svm folds on the toy table of test_train: metrics.json carries every figure a
    reader needs, the reloaded bundles reproduce the recorded probabilities, and the SVM's
    labels agree with its own vote."""
    import json

    from test_train import make_data, write_table

    from ser.evaluate import FIGURES, evaluate_model
    from ser.splits import make_splits, save_splits
    from ser.train import train_fold

    meta, X = make_data()
    feats = tmp_path / "toy.parquet"
    write_table(feats, meta, X)
    splits = tmp_path / "splits.parquet"
    save_splits(make_splits(meta, "speaker_kfold", fold_speakers=[["01", "02", "03"],
                                                                  ["04", "05", "06"]]),
                splits, {"smote": "none"})
    preds, bundles = [], []
    for k in (0, 1):
        bundles.append(tmp_path / "models" / f"fold{k}")
        preds.append(tmp_path / "eval" / "folds" / f"fold{k}.parquet")
        train_fold(feats, splits, k, {"arch": "svm", "features": "toy"}, bundles[-1],
                   preds[-1], dataset="toy", model_name="svm")
    out = tmp_path / "eval" / "toy" / "svm"
    m = evaluate_model(preds, [], out, splits=splits, bundles=bundles, features=[feats],
                       corpus={"dataset": "toy", "synthetic": True})
    assert m["chance"] == 0.25 and m["corpus"]["synthetic"] is True
    iv = m["uar_interval"]
    assert iv["unit"] == "speaker" and iv["n_units"] == 6 and iv["low"] <= m["uar"] <= iv["high"]
    assert m["at_chance"] is (iv["low"] <= 0.25)
    assert sorted(m["per_speaker"]) == ["01", "02", "03", "04", "05", "06"]
    assert m["worst_speaker"]["uar"] == min(v["uar"] for v in m["per_speaker"].values())
    assert m["leakage"]["test_speakers_in_training"] == 0
    assert m["leakage"]["test_clips_source_in_training"] == 0
    assert m["leakage"]["test_speakers"] == 6
    assert m["reload_max_abs_diff"] < 1e-9  # `ser predict`'s loading path gives the same numbers
    native = m["native_decision"]
    assert native["rule"].startswith("SVC.predict") and native["agreement"] >= 0.95
    assert native["uar_of_predicted_label"] >= native["uar"] - 0.02
    cost = m["cost"]
    assert cost["bundle_bytes"] > 1000 and cost["n_parameters"] > 0
    assert cost["model_seconds_per_clip"] > 0
    assert cost["feature_seconds_per_clip"] is None  # this hand-made table has no timing record
    assert 0.0 <= m["confidence_check"]["auroc_correct_vs_wrong"] <= 1.0
    assert json.loads((out / "metrics.json").read_text())["per_speaker"] == m["per_speaker"]
    assert "per_speaker.png" in FIGURES and (out / "per_speaker.png").stat().st_size > 5000


# --------------------------------------------------------------------------- real speech

RAVDESS = __import__("pathlib").Path(__file__).resolve().parents[1] / ".." / "shared" / "data" \
    / "ravdess-dev"


@pytest.mark.slow
@pytest.mark.ravdess
def test_svm_labels_are_never_worse_than_its_own_decision_on_real_speech() -> None:
    """RAVDESS actors 01-04, eGeMAPS, 2 actors per fold: the svm arch's labels (argmax of its
    probabilities) reach at least the UAR of `SVC.predict`, per fold, and agree with it."""
    if not RAVDESS.is_dir():
        pytest.skip(f"RAVDESS dev subset not found at {RAVDESS}")
    from sklearn.svm import SVC

    from ser.bundle import apply_scaler, fit_scaler
    from ser.features import get_feature_set
    from ser.featurise import load_signal
    from ser.models import build
    from ser.predict import DEFAULT_AUDIO

    fs = get_feature_set("egemaps")
    extract = fs.extractor(fs.resolve({}))
    rows, feats = [], []
    for actor in ("01", "02", "03", "04"):
        for path in sorted((RAVDESS / f"Actor_{actor}").glob("*.flac")):
            feats.append(extract(load_signal(path, DEFAULT_AUDIO), 16000))
            rows.append((actor, int(path.name.split("-")[2]) - 1))
    X = np.asarray(feats, dtype=np.float64)
    spk = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    for test in (("01", "02"), ("03", "04")):
        te = np.isin(spk, test)
        scaler = fit_scaler(X[~te])
        Xtr, Xte = apply_scaler(X[~te], scaler), apply_scaler(X[te], scaler)
        model = build("svm", (X.shape[1],), 8, {"C": 1.0}, seed=0)
        model.fit(Xtr, y[~te], groups=spk[~te])
        ours = model.predict_proba(Xte).argmax(axis=1)
        native = SVC(kernel="rbf", C=1.0, gamma="scale").fit(Xtr, y[~te]).predict(Xte)
        uar_ours = balanced_accuracy_score(y[te], ours)
        uar_native = balanced_accuracy_score(y[te], native)
        assert uar_ours >= uar_native - 1e-9, (test, uar_ours, uar_native)
        np.testing.assert_array_equal(ours, native)  # the same labels, by construction
        assert uar_native > 0.3  # real learning, well above chance (0.125)
        assert "grouped by speaker" in model.calibration["fitted_on"]


def test_training_profile_flags_what_training_never_saw(tmp_path) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    wavs = []
    for i in range(4):
        p = tmp_path / f"{i}.wav"
        sf.write(p, (0.1 * rng.normal(size=16000 * (2 + i))).astype(np.float32), 16000)
        wavs.append(p)
    durations, levels = trust.wav_stats([*wavs, tmp_path / "missing.wav"], n=10)
    assert sorted(round(d) for d in durations) == [2, 3, 4, 5]
    assert all(-21 < lvl < -19 for lvl in levels)  # RMS 0.1 = -20 dBFS
    summary, arrays = trust.training_profile(X, durations, levels)
    assert summary["feature_distance"]["n"] == 200 and 0.5 < summary[
        "feature_distance"]["median"] < 1.5
    assert trust.outside_training(summary, arrays, X[0], 3.0, -20.0) == []
    reasons = trust.outside_training(summary, arrays, X[0] + 50, 12.0, -60.0)
    assert len(reasons) == 3
    assert "duration 12.0 s" in reasons[0] and "2.0-5.0 s" in reasons[0]
    assert "level -60.0 dBFS" in reasons[1] and "feature distance" in reasons[2]
    # a bundle keeps the profile and `load_bundle` returns it
    from test_train import make_data

    from ser.bundle import load_bundle, save_bundle
    from ser.models import build

    meta, Xt = make_data()
    model = build("logreg", (Xt.shape[1],), 4)
    model.fit(Xt, np.arange(len(Xt)) % 4)
    save_bundle(tmp_path / "b", model, labels=list("abcd"),
                scaler={"mode": "none"}, feature_set={"name": "toy"},
                profile=trust.training_profile(Xt, durations, levels))
    bundle = load_bundle(tmp_path / "b")
    assert bundle.profile["duration_s"]["max"] == pytest.approx(5.0)
    np.testing.assert_allclose(bundle.profile_arrays["mean"], Xt.astype(float).mean(axis=0))


def test_bundle_profile_uses_clean_training_clips_and_their_wavs(tmp_path) -> None:
    import soundfile as sf

    rng = np.random.default_rng(1)
    rows, wavs = [], []
    for i in range(3):
        p = tmp_path / f"c{i}.wav"
        sf.write(p, (0.05 * rng.normal(size=8000 * (i + 2))).astype(np.float32), 16000)
        wavs.append({"id": f"c{i}", "wav": str(p)})
        rows += [{"id": f"c{i}", "source_id": f"c{i}", "snr_db": np.nan},
                 {"id": f"c{i}#snr0", "source_id": f"c{i}", "snr_db": 0.0}]
    manifest = tmp_path / "m.parquet"
    pd.DataFrame(wavs + [{"id": "other", "wav": None}]).to_parquet(manifest)
    X = rng.normal(size=(6, 4))
    X[1::2] += 100  # the noisy copies are far away: they must not widen the profile
    summary, arrays = trust.bundle_profile(pd.DataFrame(rows), X, manifest)
    assert summary["feature_distance"]["n"] == 3 and summary["duration_s"]["n"] == 3
    assert summary["duration_s"]["min"] == pytest.approx(1.0)
    assert summary["duration_s"]["max"] == pytest.approx(2.0)
    np.testing.assert_allclose(arrays["mean"], X[0::2].mean(axis=0))
    no_audio, _ = trust.bundle_profile(pd.DataFrame(rows), X, None)
    assert no_audio["duration_s"] == {"n": 0} and no_audio["feature_distance"]["n"] == 3
