"""Speaker-adaptive models end to end on real speech: the workflow trains an adaptive model
with its strict twin (normalize: speaker + fallback: strict) and a stacked late fusion, the
evaluation reports both figures, and `ser predict --adapt-by` reproduces the evaluation's
adaptive probabilities (and the strict ones for a group that is too small)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"
ACTORS = ("01", "02", "03")
CLIPS = 12  # per actor: 8 emotions, the first clips in name order

pytestmark = [pytest.mark.slow, pytest.mark.ravdess]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """36 real RAVDESS clips (3 actors), eGeMAPS + spectral statistics, 3 folds of one actor."""
    if not RAVDESS.is_dir():
        pytest.skip(f"no {RAVDESS}")
    wd = tmp_path_factory.mktemp("adaptive")
    corpus = wd / "corpus"
    for actor in ACTORS:
        (corpus / f"Actor_{actor}").mkdir(parents=True)
        files = sorted((RAVDESS / f"Actor_{actor}").glob("*.flac"))
        # every emotion at least once: the first clip of each, then the next ones in order
        by_emotion: dict[str, list[Path]] = {}
        for f in files:
            by_emotion.setdefault(f.name.split("-")[2], []).append(f)
        chosen = [v[0] for v in by_emotion.values()]
        chosen += [f for f in files if f not in chosen][: CLIPS - len(chosen)]
        for f in chosen:
            (corpus / f"Actor_{actor}" / f.name).symlink_to(f.resolve())
    cfg = {
        "datasets": {"rav": {"format": "ravdess", "path": "corpus"}},
        "audio": {"shard_size": 64, "trim_db": 30},
        "augment": {"snr_db": []},
        "features": ["egemaps", "spectral_stats"],
        "models": {
            "ad": {"arch": "logreg", "features": "egemaps", "class_weight": True,
                   "normalize": "speaker", "fallback": "strict"},
            "stack": {"arch": "late_fusion", "features": ["egemaps", "spectral_stats"],
                      "class_weight": True, "normalize": "speaker", "fallback": "strict",
                      "member_C": [0.01, 1.0], "combine": "stack", "meta_C": [0.1, 1.0]},
        },
        "split": {"protocol": "speaker_kfold", "fold_speakers": [[a] for a in ACTORS]},
        "report": {"eda": False},
    }
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(wd), "--configfile", str(wd / "config.yaml"), "--cores", "2",
           "--workflow-profile", "none", "evaluate"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return wd


def predict(wd: Path, model: str, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "ser.cli", "predict", str(wd / f"results/models/rav/{model}"),
         *args, "--format", "json", "--jobs", "0"],
        capture_output=True, text=True, check=False, cwd=wd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def probs_of(doc: dict, paths: list[str]) -> np.ndarray:
    by_path = {os.path.realpath(f["path"]): f for f in doc["files"]}
    return np.array([[by_path[os.path.realpath(p)]["probabilities"][lab] for lab in doc["labels"]]
                     for p in paths])


def test_evaluation_reports_strict_and_adaptive_side_by_side(run) -> None:
    for model in ("ad", "stack"):
        m = json.loads((run / f"results/eval/rav/{model}/metrics.json").read_text())
        assert m["normalize"] == "speaker"
        assert m["adaptive"]["uar"] == m["uar"] and len(m["adaptive"]["per_fold"]) == 3
        assert len(m["strict"]["per_fold"]) == 3 and 0 <= m["strict"]["uar"] <= 1
        assert "no information from test speakers" in m["strict"]["means"]
        assert m["strict"]["uar_interval"]["unit"] == "speaker"
        bundle = run / f"results/models/rav/{model}/fold0"
        doc = json.loads((bundle / "bundle.json").read_text())
        twin = json.loads((bundle / "strict" / "bundle.json").read_text())
        assert doc["fallback"] == "strict" and doc["normalize"] == "speaker"
        assert twin["normalize"] == "global" and twin["train_info"]["strict_twin_of"] == model
    # the stacked fusion chose one C per member and a meta model by inner CV (2 speakers)
    meta = json.loads((run / "results/models/rav/stack/fold0/model/meta/model.json").read_text())
    assert meta["arch"] == "logreg" and meta["params"]["C"] in (0.1, 1.0)


@pytest.mark.parametrize("model", ["ad", "stack"])
def test_adapt_by_folder_reproduces_the_evaluation(run, model) -> None:
    """One folder per speaker: each test speaker standardised with its own clips, exactly the
    evaluation's adaptive probabilities; a folder of 2 clips falls back to the strict twin."""
    pred = pd.read_parquet(run / f"results/eval/rav/{model}/folds/fold0.parquet")
    paths = [str(run / "corpus" / f"{i}.flac") for i in pred["id"]]
    doc = predict(run, model, str(run / "corpus" / "Actor_01"), "--fold", "0",
                  "--adapt-by", "folder", "--adapt-min-clips", "5")
    labels = doc["labels"]
    np.testing.assert_allclose(probs_of(doc, paths),
                               pred[[f"prob_{lab}" for lab in labels]].to_numpy(float), atol=1e-5)
    assert doc["adapt"]["groups"] == {"Actor_01": {"n_clips": CLIPS, "mode": "adaptive"}}
    assert {f["adaptation"]["mode"] for f in doc["files"]} == {"adaptive"}

    # the same clips grouped by a regex on the path: the same numbers
    doc_re = predict(run, model, *paths, "--fold", "0", "--adapt-by", "regex",
                     "--speaker-regex", r"Actor_(\d+)", "--adapt-min-clips", "5")
    np.testing.assert_allclose(probs_of(doc_re, paths), probs_of(doc, paths), atol=1e-9)

    # two clips in a folder of their own: below the minimum, the strict twin answers
    small = run / f"small_{model}"
    small.mkdir(exist_ok=True)
    for p in paths[:2]:
        if not (small / Path(p).name).exists():
            (small / Path(p).name).symlink_to(p)
    doc_small = predict(run, model, str(small), "--fold", "0", "--adapt-by", "folder",
                        "--format", "json")
    strict_cols = [f"strict_prob_{lab}" for lab in labels]
    np.testing.assert_allclose(probs_of(doc_small, [str(small / Path(p).name) for p in paths[:2]]),
                               pred[strict_cols].to_numpy(float)[:2], atol=1e-5)
    assert {f["adaptation"]["mode"] for f in doc_small["files"]} == {"strict"}
    assert "fewer than 10" in doc_small["files"][0]["adaptation"]["reason"]
    assert any("fell back to the strict model" in w for w in doc_small["warnings"])


def test_without_adapt_by_the_strict_twin_answers_and_says_so(run) -> None:
    pred = pd.read_parquet(run / "results/eval/rav/ad/folds/fold0.parquet")
    paths = [str(run / "corpus" / f"{i}.flac") for i in pred["id"]][:3]
    doc = predict(run, "ad", *paths, "--fold", "0")
    np.testing.assert_allclose(
        probs_of(doc, paths),
        pred[[f"strict_prob_{lab}" for lab in doc["labels"]]].to_numpy(float)[:3], atol=1e-5)
    assert "adapt" not in doc and all("adaptation" not in f for f in doc["files"])
    assert any("without --adapt-by its strict twin" in w for w in doc["warnings"])


def test_table_output_names_the_groups_and_modes(run) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ser.cli", "predict", str(run / "results/models/rav/ad"),
         str(run / "corpus"), "--fold", "0", "--adapt-by", "folder", "--adapt-min-clips", "13",
         "--jobs", "0"], capture_output=True, text=True, check=False, cwd=run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "speaker-adaptive (--adapt-by folder, at least 13 clips per group): 0 of 3" in out
    assert "group Actor_02: 12 clip(s) -> strict model (fewer than 13 clips)" in out
    assert "ok (strict)" in out


def test_bad_adapt_options_fail_at_start(run) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ser.cli", "predict", str(run / "results/models/rav/ad"),
         str(run / "corpus"), "--adapt-by", "regex"],
        capture_output=True, text=True, check=False, cwd=run)
    assert proc.returncode == 2
    assert "needs --speaker-regex" in proc.stderr


def test_adapt_by_all_and_ser_serve_adapt_field(run) -> None:
    """All files one speaker: `--adapt-by all` and POST /predict with adapt=true (several
    `file` parts) give the evaluation's adaptive probabilities; one upload falls back."""
    from fastapi.testclient import TestClient

    from ser.serve import Service, create_app

    pred = pd.read_parquet(run / "results/eval/rav/ad/folds/fold0.parquet")
    paths = [str(run / "corpus" / f"{i}.flac") for i in pred["id"]]
    want = pred[[c for c in pred.columns if c.startswith("prob_")]].to_numpy(float)
    doc = predict(run, "ad", *paths, "--fold", "0", "--adapt-by", "all", "--adapt-min-clips", "5")
    np.testing.assert_allclose(probs_of(doc, paths), want, atol=1e-5)
    assert doc["adapt"]["groups"] == {"all": {"n_clips": CLIPS, "mode": "adaptive"}}

    service = Service(run / "results/models/rav/ad/fold0", jobs=1)
    service.adapt_min_clips = 5
    with TestClient(create_app(service)) as client:
        handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
        try:
            r = client.post("/predict", data={"adapt": "true"},
                            files=[("file", (Path(p).name, h)) for p, h in zip(paths, handles,
                                                                              strict=True)])
        finally:
            for h in handles:
                h.close()
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["adapt"]["by"] == "all" and [f["path"] for f in got["files"]] == [
            Path(p).name for p in paths]
        probs = np.array([[f["probabilities"][lab] for lab in got["labels"]]
                          for f in got["files"]])
        np.testing.assert_allclose(probs, want, atol=1e-5)
        with open(paths[0], "rb") as h:
            one = client.post("/predict", data={"adapt": "true"},
                              files={"file": (Path(paths[0]).name, h)}).json()
        assert one["files"][0]["adaptation"]["mode"] == "strict"
        np.testing.assert_allclose(
            [one["files"][0]["probabilities"][lab] for lab in one["labels"]],
            pred[[f"strict_prob_{lab}" for lab in one["labels"]]].to_numpy(float)[0], atol=1e-5)


def test_segments_of_a_recording_adapt_as_one_speaker(run, tmp_path) -> None:
    """`--segment --adapt-by all`: the segments of one speaker's recording are standardised
    with their own statistics (the adaptive model answers, not its strict twin)."""
    import soundfile as sf

    clips = sorted((run / "corpus" / "Actor_01").iterdir())[:6]
    parts = []
    for c in clips:
        audio, sr = sf.read(c, dtype="float32")
        parts += [audio if audio.ndim == 1 else audio.mean(axis=1), np.zeros(sr, "float32")]
    recording = tmp_path / "actor01.wav"
    sf.write(recording, np.concatenate([np.zeros(sr, "float32"), *parts]), sr)

    strict = predict(run, "ad", str(recording), "--fold", "0", "--segment")
    adaptive = predict(run, "ad", str(recording), "--fold", "0", "--segment",
                       "--adapt-by", "all", "--adapt-min-clips", "3")
    n = len([s for s in adaptive["files"][0]["segments"] if s["status"] == "ok"])
    assert n >= 3
    assert adaptive["adapt"]["groups"] == {"all": {"n_clips": n, "mode": "adaptive"}}
    assert not any("strict twin" in w for w in adaptive["warnings"])
    assert any("strict twin" in w for w in strict["warnings"])
    seg_probs = [[s["probabilities"][lab] for lab in adaptive["labels"]]
                 for s in adaptive["files"][0]["segments"] if s["status"] == "ok"]
    strict_probs = [[s["probabilities"][lab] for lab in strict["labels"]]
                    for s in strict["files"][0]["segments"] if s["status"] == "ok"]
    assert len(seg_probs) == len(strict_probs)
    assert not np.allclose(seg_probs, strict_probs, atol=1e-3)
