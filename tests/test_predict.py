"""`ser predict` end to end on a tiny corpus built with the workflow's own stages.

The fixture writes synthetic RAVDESS-named WAVs (3 speakers x 3 emotions x 2 statements),
runs the real audio stage (ffmpeg), the real openSMILE feature extraction, speaker folds and
`ser.train.train_fold` (logistic regression, fast); the tests then classify the raw files with
`ser predict` and compare with what evaluation recorded.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser.audio import ffmpeg_exe
from ser.cli import main as cli_main
from ser.corpora import Entry, scan
from ser.features import read_features, run_features_shard
from ser.featurise import featurise
from ser.manifest import run_audio_shard
from ser.predict import Predictor
from ser.predict_output import PREDICT_JSON_SCHEMA, csv_columns
from ser.splits import make_splits, save_splits
from ser.train import train_fold

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
EMOTIONS = {"01": "neutral", "03": "happy", "05": "angry"}
SPEAKERS = ["01", "02", "03"]
AUDIO = {"sample_rate": SR, "min_duration": 0.3, "silence_dbfs": -60}


def tone(spk: int, emo: int, stmt: int, seconds: float = 0.8) -> np.ndarray:
    """A voiced-sounding clip whose pitch, brightness and tremolo depend on the emotion."""
    rng = np.random.default_rng(100 * spk + 10 * emo + stmt)
    t = np.arange(int(seconds * SR)) / SR
    f0 = (110 + 25 * spk) * (1.0, 1.35, 1.7)[emo] * (1 + 0.03 * stmt)
    f0 = f0 * (1 + 0.02 * np.sin(2 * np.pi * (4 + 3 * emo) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    decay = (0.8, 0.5, 0.3)[emo]
    y = sum(decay**k * np.sin((k + 1) * phase) for k in range(6))
    env = np.minimum(1, 8 * t) * np.minimum(1, 8 * (seconds - t))
    y = (0.1 + 0.08 * emo) * env * y / 3 + rng.normal(0, 0.005, t.size)
    return y.astype(np.float32)


def write(path: Path, y: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, SR, subtype="PCM_16")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli_main(["predict", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def predict_json(capsys, *argv: str) -> tuple[int, dict]:
    rc, out, _ = run_cli(capsys, *argv, "--format", "json")
    return rc, json.loads(out)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("toy")
    corpus = tmp / "corpus"
    for s, spk in enumerate(SPEAKERS):
        for e, code in enumerate(EMOTIONS):
            for stmt in (1, 2):
                name = f"03-01-{code}-01-0{stmt}-01-{spk}.wav"
                write(corpus / f"Actor_{spk}" / name, tone(s, e, stmt))
    entries = scan("ravdess", corpus, {})
    manifest = tmp / "audio.parquet"
    run_audio_shard(entries, [e.rel for e in entries], 0, manifest, tmp / "wav",
                    sample_rate=SR, min_duration=0.3)
    tables = {}
    for fs in ("is09_emotion", "egemaps"):
        tables[fs] = tmp / f"{fs}.parquet"
        run_features_shard(manifest, None, fs, tables[fs], tmp / f"{fs}.rejected.parquet",
                           dataset="toy")
    meta_df, _, _ = read_features(tables["is09_emotion"])
    assert len(meta_df) == 18
    splits = tmp / "splits.parquet"
    save_splits(make_splits(meta_df, "speaker_kfold", fold_speakers=[[s] for s in SPEAKERS]),
                splits, {"smote": "none"})
    models = tmp / "models"

    def train(name: str, cfg: dict, folds: list[int], features: list[Path]) -> Path:
        for k in folds:
            train_fold(features if len(features) > 1 else features[0], splits, k, cfg,
                       models / name / f"fold{k}", tmp / "eval" / name / f"fold{k}.parquet",
                       dataset="toy", model_name=name, audio=AUDIO, manifest=manifest)
        return models / name

    logreg = train("logreg", {"arch": "logreg", "features": "is09_emotion"}, [0, 1, 2],
                   [tables["is09_emotion"]])
    fused = train("fused", {"arch": "logreg", "features": ["is09_emotion", "egemaps"]}, [0],
                  [tables["is09_emotion"], tables["egemaps"]])
    spk = train("spk", {"arch": "logreg", "features": "is09_emotion", "normalize": "speaker"},
                [1], [tables["is09_emotion"]])
    late = train("late", {"arch": "late_fusion", "features": ["is09_emotion", "egemaps"]}, [0],
                 [tables["is09_emotion"], tables["egemaps"]])
    return {"tmp": tmp, "corpus": corpus, "manifest": manifest, "tables": tables,
            "logreg": logreg, "fused": fused, "spk": spk, "late": late, "eval": tmp / "eval"}


def fold_predictions(toy: dict, name: str, fold: int) -> pd.DataFrame:
    return pd.read_parquet(toy["eval"] / name / f"fold{fold}.parquet").set_index("id")


def raw_file(toy: dict, clip_id: str) -> str:
    return str(toy["corpus"] / f"{clip_id}.wav")


def assert_same_as_evaluation(doc: dict, pred: pd.DataFrame, toy: dict) -> None:
    by_path = {f["path"]: f for f in doc["files"]}
    for clip_id, row in pred.iterrows():
        f = by_path[raw_file(toy, clip_id)]
        assert f["status"] == "ok", f
        got = np.array([f["probabilities"][lab] for lab in doc["labels"]])
        want = row[[f"prob_{lab}" for lab in doc["labels"]]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        assert f["confidence"] == pytest.approx(row["confidence"], abs=1e-6)
        assert f["label"] == row["predicted"]


def test_fold_clips_get_the_probabilities_recorded_at_evaluation(toy, capsys) -> None:
    pred = fold_predictions(toy, "logreg", 1)
    files = [raw_file(toy, i) for i in pred.index]
    rc, doc = predict_json(capsys, str(toy["logreg"]), *files, "--fold", "1", "--jobs", "2")
    assert rc == 0 and doc["bundles"] == [str(toy["logreg"] / "fold1")] and doc["fold"] == 1
    assert doc["labels"] == ["neutral", "happy", "angry"]
    assert doc["confidence"] == "max_prob"
    assert_same_as_evaluation(doc, pred, toy)
    # one bundle folder given directly, featurised in the main process: the same numbers
    rc, doc2 = predict_json(capsys, str(toy["logreg"] / "fold1"), *files, "--jobs", "0")
    assert rc == 0
    assert_same_as_evaluation(doc2, pred, toy)


def test_keras_bundle_runs_its_litert_copy_with_the_evaluation_numbers(toy, capsys) -> None:
    """A trained conf_dnn: evaluation and `ser predict` both run the LiteRT copy, so the
    probabilities and the confidence branch are the same to the last bit; `--runtime keras`
    runs TensorFlow and agrees to round-off (the 1e-5 the export is verified with)."""
    from ser.train import train_fold

    tmp = toy["tmp"]
    model_dir = tmp / "models" / "keras_conf"
    out = tmp / "eval" / "keras_conf" / "fold1.parquet"
    train_fold(toy["tables"]["is09_emotion"], tmp / "splits.parquet", 1,
               {"arch": "conf_dnn", "features": "is09_emotion", "epochs": 3, "units": [16, 8]},
               model_dir / "fold1", out, dataset="toy", model_name="keras_conf", audio=AUDIO)
    assert (model_dir / "fold1" / "model" / "model.tflite").is_file()
    pred = pd.read_parquet(out).set_index("id")
    files = [raw_file(toy, i) for i in pred.index]
    rc, doc = predict_json(capsys, str(model_dir), *files, "--jobs", "0")
    assert rc == 0 and doc["runtime"] == "litert" and doc["confidence"] == "model"
    by_path = {f["path"]: f for f in doc["files"]}
    for clip_id, row in pred.iterrows():
        f = by_path[raw_file(toy, clip_id)]
        got = [f["probabilities"][lab] for lab in doc["labels"]]
        assert got == [row[f"prob_{lab}"] for lab in doc["labels"]]  # exactly
        assert f["confidence"] == row["confidence"]
    rc, doc_tf = predict_json(capsys, str(model_dir), *files, "--jobs", "0", "--runtime", "keras")
    assert rc == 0 and doc_tf["runtime"] == "keras"
    tf_by_path = {f["path"]: f for f in doc_tf["files"]}
    labels = doc["labels"]
    for path, f in by_path.items():  # within the tolerance the export was verified with
        np.testing.assert_allclose([tf_by_path[path]["probabilities"][lab] for lab in labels],
                                   [f["probabilities"][lab] for lab in labels], rtol=0, atol=1e-5)


def test_fused_feature_sets_reproduce_evaluation(toy, capsys) -> None:
    pred = fold_predictions(toy, "fused", 0)
    rc, doc = predict_json(capsys, str(toy["fused"]), *[raw_file(toy, i) for i in pred.index])
    assert rc == 0 and doc["feature_sets"] == ["is09_emotion+egemaps"]
    assert_same_as_evaluation(doc, pred, toy)


def test_late_fusion_reproduces_evaluation(toy, capsys) -> None:
    pred = fold_predictions(toy, "late", 0)
    rc, doc = predict_json(capsys, str(toy["late"]), *[raw_file(toy, i) for i in pred.index])
    assert rc == 0 and doc["feature_sets"] == ["is09_emotion+egemaps"]
    assert doc["runtime"] == "native"
    assert_same_as_evaluation(doc, pred, toy)


def test_speaker_normalisation_treats_all_files_as_one_speaker(toy, capsys) -> None:
    # the fold's test part is one speaker's clips: classified together, they are that speaker
    pred = fold_predictions(toy, "spk", 1)
    rc, doc = predict_json(capsys, str(toy["spk"]), *[raw_file(toy, i) for i in pred.index])
    assert rc == 0 and doc["normalize"] == "speaker"
    assert_same_as_evaluation(doc, pred, toy)
    assert any("ONE speaker" in w for w in doc["warnings"])
    rc, one = predict_json(capsys, str(toy["spk"]), raw_file(toy, pred.index[0]))
    assert any("single file" in w for w in one["warnings"])


def test_model_dir_averages_fold_bundles(toy, capsys) -> None:
    files = sorted(str(p) for p in (toy["corpus"] / "Actor_02").glob("*.wav"))[:3]
    rc, avg = predict_json(capsys, str(toy["logreg"]), *files, "--jobs", "1")
    assert rc == 0 and len(avg["bundles"]) == 3
    per_fold = []
    for k in range(3):
        _, d = predict_json(capsys, str(toy["logreg"]), *files, "--fold", str(k))
        per_fold.append([[f["probabilities"][lab] for lab in d["labels"]] for f in d["files"]])
    want = np.mean(np.array(per_fold), axis=0)
    got = np.array([[f["probabilities"][lab] for lab in avg["labels"]] for f in avg["files"]])
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose([f["confidence"] for f in avg["files"]], want.max(axis=1))


def test_json_output_validates_against_the_documented_schema(toy, capsys) -> None:
    import jsonschema

    bad = toy["tmp"] / "empty.wav"
    bad.write_bytes(b"")
    good = raw_file(toy, "Actor_01/03-01-05-01-01-01-01")
    rc, doc = predict_json(capsys, str(toy["logreg"]), good, str(bad), "--threshold", "0.99")
    assert rc == 1
    jsonschema.Draft202012Validator.check_schema(PREDICT_JSON_SCHEMA)
    jsonschema.validate(doc, PREDICT_JSON_SCHEMA)
    assert doc["summary"] == {"files": 2, "ok": 1, "error": 1, "uncertain": 1}
    assert doc["files"][0]["uncertain"] is True and doc["threshold"] == 0.99
    # the schema is not vacuous: a classified file without probabilities is rejected
    broken = json.loads(json.dumps(doc))
    broken["files"][0]["probabilities"] = None
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, PREDICT_JSON_SCHEMA)
    docs = (ROOT / "docs" / "predict.md").read_text()
    start = docs.index("```json\n", docs.index("## JSON schema")) + len("```json\n")
    assert json.loads(docs[start:docs.index("```", start)]) == PREDICT_JSON_SCHEMA


def test_bad_files_are_listed_with_the_audio_stage_reasons(toy, capsys) -> None:
    d = toy["tmp"] / "bad"
    d.mkdir()
    (d / "empty.wav").write_bytes(b"")
    (d / "text.wav").write_text("not audio at all\n")
    write(d / "short.wav", tone(0, 0, 1, seconds=0.1))
    write(d / "silent.wav", np.zeros(SR, np.float32))
    write(d / "quiet.wav", np.random.default_rng(0).normal(0, 1e-4, SR).astype(np.float32))
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=black:s=32x32:d=1", "-c:v", "mpeg4", str(d / "video_only.mp4")],
                   check=True)
    names = ["empty.wav", "text.wav", "short.wav", "silent.wav", "quiet.wav", "video_only.mp4"]
    good = raw_file(toy, "Actor_03/03-01-03-01-02-01-03")
    rc, doc = predict_json(capsys, str(toy["logreg"]), good, *[str(d / n) for n in names],
                           str(d / "missing.wav"))
    assert rc == 1
    got = {Path(f["path"]).name: f for f in doc["files"]}
    assert got[Path(good).name]["status"] == "ok"
    assert got["missing.wav"]["reason"].startswith("missing")
    # the audio stage, run on the same files, gives the same reasons
    entries = [Entry(d / n, n, "x", None, None, {}, None) for n in names]
    stage = run_audio_shard(entries, names, 0, toy["tmp"] / "bad.parquet", toy["tmp"] / "bw",
                            sample_rate=SR, min_duration=0.3)
    for n, reason in zip(stage["rel_path"], stage["reason"], strict=True):
        assert got[n]["status"] == "error" and got[n]["reason"] == reason, (n, got[n])
    reasons = {n: got[n]["reason"] for n in names}
    assert reasons["empty.wav"] == "empty file (0 bytes)"
    assert reasons["video_only.mp4"] == "no audio stream"
    assert reasons["text.wav"].startswith("unreadable")
    assert reasons["short.wav"].startswith("too short")
    assert reasons["silent.wav"] == "digital silence"
    assert reasons["quiet.wav"].startswith("silent")
    # table format says the same to people, still exit 1
    rc, out, _ = run_cli(capsys, str(toy["logreg"]), str(d / "empty.wav"), good)
    assert rc == 1 and "empty file (0 bytes)" in out and "1 failed" in out


def test_folder_recursion_finds_media_files_only(toy, capsys) -> None:
    readme = toy["corpus"] / "README.txt"
    hidden = toy["corpus"] / "Actor_01" / ".hidden.wav"
    readme.write_text("not a clip")
    hidden.write_bytes(b"")
    empty = toy["tmp"] / "nothing_here"
    empty.mkdir(exist_ok=True)
    try:
        rc, doc = predict_json(capsys, str(toy["logreg"]), str(toy["corpus"]), str(empty),
                               "--fold", "0")
    finally:
        readme.unlink()
        hidden.unlink()
    paths = [f["path"] for f in doc["files"]]
    wavs = sorted(str(p) for p in toy["corpus"].rglob("*.wav"))
    assert paths[:-1] == wavs and len(wavs) == 18
    assert doc["files"][-1] == {"path": str(empty), "status": "error",
                                "reason": "folder holds no audio or video file", "label": None,
                                "confidence": None, "uncertain": None, "probabilities": None,
                                "duration": None}
    assert rc == 1 and any("skipped 1 file" in w for w in doc["warnings"])


def test_csv_format_matches_json(toy, capsys) -> None:
    files = sorted(str(p) for p in (toy["corpus"] / "Actor_03").glob("*.wav"))[:4]
    files.append(str(toy["tmp"] / "missing.flac"))
    rc, out, _ = run_cli(capsys, str(toy["logreg"]), *files, "--format", "csv", "--fold", "2",
                         "--threshold", "0.5")
    _, doc = predict_json(capsys, str(toy["logreg"]), *files, "--fold", "2", "--threshold", "0.5")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 1 and list(rows[0]) == csv_columns(doc["labels"])
    assert [r["path"] for r in rows] == files
    for r, f in zip(rows, doc["files"], strict=True):
        assert r["status"] == f["status"]
        if f["status"] == "ok":
            assert r["label"] == f["label"] and r["reason"] == ""
            assert r["uncertain"] == ("true" if f["uncertain"] else "false")
            for lab in doc["labels"]:
                assert float(r[f"prob_{lab}"]) == f["probabilities"][lab]
        else:
            assert r["reason"] == f["reason"] and r["prob_neutral"] == ""


def test_mp4_video_is_decoded_like_the_audio_stage(toy, capsys) -> None:
    wav = raw_file(toy, "Actor_02/03-01-05-01-02-01-02")
    mp4 = toy["tmp"] / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=blue:s=64x64:r=25:d=0.8", "-i", wav, "-shortest", "-c:v", "mpeg4",
                    "-c:a", "aac", "-ar", "48000", str(mp4)], check=True)
    entry = Entry(mp4, "clip.mp4", "02", "05", "angry", {}, None)
    stage = run_audio_shard([entry], ["clip.mp4"], 0, toy["tmp"] / "mp4.parquet",
                            toy["tmp"] / "mp4wav", sample_rate=SR, min_duration=0.3)
    stage_wav = stage["wav"].iloc[0]
    rc, doc = predict_json(capsys, str(toy["logreg"]), str(mp4), stage_wav, wav)
    assert rc == 0
    f_mp4, f_stage, f_wav = doc["files"]
    assert f_mp4["duration"] == pytest.approx(0.8, abs=0.05)
    # the video gives exactly what the workflow's WAV of that video gives
    for lab in doc["labels"]:
        assert f_mp4["probabilities"][lab] == pytest.approx(f_stage["probabilities"][lab],
                                                            abs=1e-9)
    # and AAC keeps the clip recognisable
    assert f_mp4["label"] == f_wav["label"]


def test_logmel_features_are_stored_like_the_feature_table(toy) -> None:
    """Matrix features go through float16 exactly as the feature table stores them."""
    out = toy["tmp"] / "logmel.parquet"
    run_features_shard(toy["manifest"], None, "logmel", out, toy["tmp"] / "lm.rej.parquet",
                       dataset="toy")
    meta_df, X, meta = read_features(out)
    spec = (("logmel", json.dumps(meta["params"], sort_keys=True)),)
    clip = meta_df["id"].iloc[4]
    got = featurise(raw_file(toy, clip), AUDIO, [spec])
    assert got.reason is None and got.features[spec].shape == tuple(meta["shape"])
    np.testing.assert_array_equal(got.features[spec], X[4])


def test_usage_errors_exit_2_with_a_clear_message(toy, capsys) -> None:
    good = raw_file(toy, "Actor_01/03-01-01-01-01-01-01")
    rc, out, err = run_cli(capsys, str(toy["tmp"]), good)
    assert rc == 2 and out == ""
    assert "bundle.json" in err and "results/models/DATASET/MODEL" in err
    assert str(toy["tmp"] / "models") not in err  # tmp holds models/, not model folders
    rc, _, err = run_cli(capsys, str(toy["tmp"] / "models"), good)
    assert rc == 2 and "pick one" in err and str(toy["logreg"]) in err
    rc, _, err = run_cli(capsys, str(toy["logreg"]), good, "--fold", "7")
    assert rc == 2 and "fold7" in err and "fold0, fold1, fold2" in err
    rc, _, err = run_cli(capsys, str(toy["logreg"] / "fold0"), good, "--fold", "1")
    assert rc == 2 and "fold 0" in err
    rc, _, err = run_cli(capsys, str(toy["logreg"]), good, "--threshold", "1.5")
    assert rc == 2 and "--threshold" in err
    # a real process: argparse errors and bad MODEL_DIR both exit 2
    proc = subprocess.run([sys.executable, "-m", "ser.cli", "predict", "/no/such/model", good],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_table_format_is_aligned_with_top3(toy, capsys) -> None:
    files = sorted(str(p) for p in (toy["corpus"] / "Actor_01").glob("[!.]*.wav"))[:3]
    rc, out, _ = run_cli(capsys, str(toy["logreg"]), *files, "--threshold", "1")
    lines = out.splitlines()
    assert rc == 0 and lines[1].startswith("PATH")
    col = lines[1].index("STATUS")
    for line, f in zip(lines[2:5], files, strict=True):
        assert line.startswith(f) and line[col:].startswith("uncertain")
        assert len(line[lines[1].index("TOP-3"):].split()) == 6  # label prob x 3
    assert lines[-1] == "3 file(s): 3 classified, 0 failed, 3 uncertain (confidence < 1)"


def test_help_shows_a_worked_example_that_runs(capsys, monkeypatch) -> None:
    with pytest.raises(SystemExit):
        cli_main(["predict", "--help"])
    text = capsys.readouterr().out
    assert "ser predict results/models/demo/conf_dnn results/demo/demo/Actor_01" in text
    example = next(line.split() for line in text.splitlines() if "models/demo/svm" in line)
    if not (ROOT / "results" / "models" / "demo" / "svm").is_dir():
        pytest.skip("demo models not built here (run `make demo`)")
    monkeypatch.chdir(ROOT)
    rc, doc = predict_json(capsys, *example[2:])
    assert rc == 0 and doc["summary"]["ok"] == 1 and doc["threshold"] == 0.5


def test_conf_dnn_confidence_is_the_mean_of_the_branches(toy) -> None:
    """Keras confidence-branch bundles (untrained weights: training would only cost time)."""
    from ser import models
    from ser.bundle import fit_scaler, load_bundle, save_bundle

    meta_df, X, meta = read_features(toy["tables"]["is09_emotion"])
    feature_set = {"name": meta["feature_set"], "kind": meta["kind"], "params": meta["params"],
                   "columns": meta["columns"], "sample_rate": SR}
    model_dir = toy["tmp"] / "models" / "conf"
    labels = ["neutral", "happy", "angry"]
    for k in (0, 1):
        model = models.build("conf_dnn", (X.shape[1],), len(labels), {"units": [16, 8]}, seed=k)
        save_bundle(model_dir / f"fold{k}", model, labels=labels, audio=AUDIO,
                    scaler=fit_scaler(X[meta_df["speaker"] != SPEAKERS[k]]),
                    feature_set=feature_set, train_info={"fold": k})
    rows = [0, 7, 13]
    files = [raw_file(toy, i) for i in meta_df["id"].iloc[rows]]
    with Predictor(model_dir, jobs=0) as p:
        res = p.predict_files(files)
    assert res.confidence == "model" and all(f.status == "ok" for f in res.files)
    outs = [load_bundle(model_dir / f"fold{k}").predict(X[rows]) for k in (0, 1)]
    want_p = np.mean([o[0] for o in outs], axis=0)
    want_c = np.mean([o[1] for o in outs], axis=0)
    assert not np.allclose(outs[0][1], outs[1][1])  # two different models are averaged
    got_p = np.array([[f.probabilities[lab] for lab in res.labels] for f in res.files])
    np.testing.assert_allclose(got_p, want_p, atol=1e-6)
    np.testing.assert_allclose([f.confidence for f in res.files], want_c, atol=1e-6)
    assert [f.label for f in res.files] == [labels[i] for i in want_p.argmax(axis=1)]


def test_snr_estimate_and_outside_training_conditions(toy, capsys, tmp_path) -> None:
    """Real RAVDESS speech as given, at 0 dB SNR and through a telephone line: each file gets
    its estimated SNR and bandwidth, and a model trained on clean clips only (the bundle says
    so) marks the noisy and the telephone file as outside its training conditions."""
    from ser import conditions as C
    from ser.audio import decode
    from ser.augment import make_noise, mix_at_snr

    src = (ROOT / ".." / "shared" / "data" / "ravdess-dev" / "Actor_01"
           / "03-01-05-01-01-01-01.flac")
    if not src.is_file():
        pytest.skip("../shared/data/ravdess-dev not present")
    x = decode(src, SR)
    noisy = mix_at_snr(x, make_noise("white", x.size, np.random.default_rng(0)), 0.0)
    (tel,) = C.degrade_batch(C.telephone("ulaw"), [("c", x)], sample_rate=SR)
    files = [str(src), str(write(tmp_path / "noisy.wav", noisy)),
             str(write(tmp_path / "phone.wav", tel.signal))]
    rc, doc = predict_json(capsys, str(toy["logreg"]), *files)
    assert rc == 0
    clean, loud, phone = doc["files"]
    assert clean["quality"]["snr_db"] > 30
    # no condition reason for the clean file (the toy model never heard real speech, so its
    # duration, level and features are outside the training clips': those reasons are listed)
    assert not any("SNR" in r or "telephone" in r for r in clean["outside_training"])
    assert any(r.startswith("duration") for r in clean["outside_training"])
    assert loud["quality"]["snr_db"] == pytest.approx(0, abs=3.5)
    assert any("trained on clean speech only" in r for r in loud["outside_training"])
    assert phone["quality"]["narrowband"] is True
    assert any("telephone" in r for r in phone["outside_training"])
    rc, out, _ = run_cli(capsys, str(toy["logreg"]), *files)
    lines = out.splitlines()
    col = lines[1].index("SNR")
    assert lines[2][col:].startswith("clean") and lines[3][col:].split()[1] == "dB"
    assert "tel" in lines[4][col:].split()[:3]
    assert out.count(": outside the training data: ") == 3


def test_final_bundle_best_model_and_what_the_model_was_trained_on(toy, capsys, tmp_path) -> None:
    """results/models/DATASET picks the leaderboard's best model, a model folder its final
    bundle (--folds: the fold bundles); the output says the model was trained on the synthetic
    demo corpus and which files lie far outside its training data."""
    import shutil

    import jsonschema

    from ser.train import train_full

    models = tmp_path / "models" / "toy"
    shutil.copytree(toy["logreg"], models / "logreg")
    train_full(toy["tables"]["is09_emotion"], {"arch": "logreg", "features": "is09_emotion"},
               models / "logreg" / "final", dataset="toy", model_name="logreg", audio=AUDIO,
               manifest=toy["manifest"], corpus={"dataset": "toy", "synthetic": True})
    (models / "leaderboard.json").write_text(json.dumps({"best": "logreg", "models": []}))
    inside = [raw_file(toy, f"Actor_0{s}/03-01-05-01-01-01-0{s}") for s in (1, 2)]
    rng = np.random.default_rng(0)
    far = write(tmp_path / "far" / "noise.wav",
                np.clip(rng.normal(0, 0.7, 6 * SR), -1, 1).astype(np.float32))
    rc, doc = predict_json(capsys, str(models), *inside, str(far))
    assert rc == 0
    jsonschema.validate(doc, PREDICT_JSON_SCHEMA)
    assert doc["bundles"] == [str(models / "logreg" / "final")] and doc["bundle_kind"] == "final"
    assert doc["corpus"] == {"dataset": "toy", "synthetic": True}
    assert "SYNTHETIC demo corpus" in doc["warnings"][0]
    by_path = {f["path"]: f for f in doc["files"]}
    profile = ("duration", "level", "feature")  # the training-profile reasons (ser.trust)
    for p in inside:  # training clips: inside the profile
        assert not [r for r in by_path[p]["outside_training"] if r.startswith(profile)]
    reasons = [r for r in by_path[str(far)]["outside_training"] if r.startswith(profile)]
    assert len(reasons) == 3, reasons
    assert reasons[0].startswith("duration 6.0 s is outside the training clips' 0.8-0.8 s")
    assert reasons[1].startswith("level") and reasons[2].startswith("feature distance")
    assert any("classified file(s) lie outside the data the model was trained on" in w
               for w in doc["warnings"])
    rc, out, _ = run_cli(capsys, str(models), *inside)  # the table names the chosen model
    assert f"model {models}: 1 bundle(s) (logreg/final); trained on toy" in out
    rc, out, err = run_cli(capsys, str(models / "logreg"), *inside, str(far))
    assert "trained on toy (SYNTHETIC demo corpus)" in out and "1 bundle(s) (final)" in out
    assert f"! {far}: outside the training data: " in out and "duration 6.0 s is outside" in out
    assert "warning: this model was trained on the SYNTHETIC demo corpus" in err
    rc, doc = predict_json(capsys, str(models / "logreg"), *inside, "--folds")
    assert doc["bundle_kind"] == "folds" and len(doc["bundles"]) == 3
    rc, doc = predict_json(capsys, str(models / "logreg"), *inside, "--fold", "2")
    assert doc["bundle_kind"] == "fold" and doc["bundles"] == [str(models / "logreg" / "fold2")]
    rc, _, err = run_cli(capsys, str(models / "logreg"), *inside, "--fold", "2", "--folds")
    assert rc == 2 and "exclude each other" in err
    (models / "leaderboard.json").write_text(json.dumps({"best": "gone"}))
    rc, _, err = run_cli(capsys, str(models), *inside)
    assert rc == 2 and "names model 'gone'" in err
