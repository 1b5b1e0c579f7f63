"""End-to-end Snakemake runs on a tiny config: every stage, reruns proportional to changes."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2", "--workflow-profile",
           "none", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def jobs_run(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from Snakemake's 'Job stats' table."""
    text = proc.stdout + proc.stderr
    m = re.search(r"Job stats:\n(.*?)\n\s*total", text, re.S)
    if not m:
        return {}
    counts = {}
    for line in m.group(1).splitlines()[2:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf")
    rng = np.random.default_rng(0)
    # a ready-made MFCC table without speakers: the seed S2 setting (random split, SMOTE first)
    n = 120
    labels = np.array(["angry", "sad", "happy", "neutral"])[rng.integers(0, 4, n)]
    X = rng.normal(size=(n, 10)) + (labels[:, None] == "angry") * 1.5
    table = pd.DataFrame(X, columns=[f"mfcc_{i}" for i in range(10)])
    table.insert(0, "label", labels)
    table.to_csv(wd / "mfcc_table.csv", index=False)
    cfg = {
        "datasets": {
            "demo": {"format": "ravdess", "demo": {"speakers": 4, "statements": 1}},
            "s2": {"format": "table", "path": "mfcc_table.csv",
                   "split": {"protocol": "random", "smote": "before_split"}},
        },
        "audio": {"shard_size": 8},
        "augment": {"snr_db": [10], "noise": ["white", "babble"]},
        "features": ["egemaps", "mfcc40"],
        "models": {
            "svm": {"arch": "svm", "features": "egemaps"},
            "xgb": {"arch": "xgboost", "features": "mfcc40", "n_estimators": 20},
            "tab": {"arch": "logreg", "features": "table"},
        },
        "split": {"protocol": "speaker_kfold", "folds": 2},
    }
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(wd)
    return wd, proc


def test_every_stage_produces_its_outputs(run_dir):
    wd, _ = run_dir
    man = pd.read_parquet(wd / "results/manifests/demo.parquet")
    assert len(man) == 32 and (man["status"] == "ok").all()
    for fs in ("egemaps", "mfcc40"):
        t = pd.read_parquet(wd / f"results/features/demo/{fs}.parquet")
        assert len(t) == 64  # 32 clean + 32 noisy at 10 dB
        assert t["snr_db"].isna().sum() == 32
    for ds, model, nfold in (("demo", "svm", 2), ("demo", "xgb", 2), ("s2", "tab", 1)):
        m = json.loads((wd / f"results/eval/{ds}/{model}/metrics.json").read_text())
        for key in ("accuracy", "uar", "macro_f1", "per_class", "n_test", "protocol", "folds",
                    "by_snr", "confusion", "ece"):
            assert key in m, key
        assert len(m["folds"]) == nfold
        for k in range(nfold):
            assert (wd / f"results/models/{ds}/{model}/fold{k}/bundle.json").exists()
    s2 = json.loads((wd / "results/eval/s2/tab/metrics.json").read_text())
    assert s2["leaky"] and "leaky" in s2["protocol"]
    demo = json.loads((wd / "results/eval/demo/svm/metrics.json").read_text())
    assert not demo["leaky"] and set(demo["by_snr"]) == {"clean", "10"}
    html = (wd / "results/report/index.html").read_text()
    for name in ("svm", "xgb", "tab", "demo", "s2"):
        assert name in html
    board = pd.read_csv(wd / "results/report/leaderboard.csv")
    assert len(board) == 3
    # beside every score: chance, interval, worst speaker, leakage audit, cost
    assert demo["chance"] == pytest.approx(1 / len(demo["labels_in_test"]))
    assert demo["uar_interval"]["unit"] == "speaker" and len(demo["per_speaker"]) == 4
    assert demo["leakage"]["test_speakers_in_training"] == 0
    assert demo["corpus"]["synthetic"] is True and demo["cost"]["bundle_bytes"] > 0
    assert demo["cost"]["feature_seconds_per_clip"] > 0 and demo["reload_max_abs_diff"] < 1e-6
    assert demo["native_decision"]["agreement"] == 1.0  # svm labels = SVC.predict
    assert "synthetic demo corpus" in html and "Provenance" in html
    # a final model per dataset x model beside the fold bundles, and the best one named
    for ds, model in (("demo", "svm"), ("demo", "xgb"), ("s2", "tab")):
        final = json.loads((wd / f"results/models/{ds}/{model}/final/bundle.json").read_text())
        assert final["train_info"]["fold"] is None
    choice = json.loads((wd / "results/models/demo/leaderboard.json").read_text())
    assert choice["best"] == board[board.dataset == "demo"].iloc[0].model
    clip = wd / man["path"].iloc[0]
    ser = str(Path(sys.executable).with_name("ser"))
    proc = subprocess.run([ser, "predict", "results/models/demo", str(clip), "--format", "json"],
                          cwd=wd, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout)
    assert out["bundles"] == [f"results/models/demo/{choice['best']}/final"]
    assert out["corpus"]["synthetic"] is True and "SYNTHETIC" in out["warnings"][0]


def test_second_run_is_a_noop(run_dir):
    wd, _ = run_dir
    proc = snakemake(wd, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changed_raw_file_reruns_only_its_shard(run_dir):
    wd, _ = run_dir
    man = pd.read_parquet(wd / "results/manifests/demo.parquet")
    n_shards = man["shard"].max() + 1
    assert n_shards >= 4
    victim = wd / man["path"].iloc[0]  # manifest paths are relative to the working directory
    other = wd / man["path"].iloc[-1]
    # a touch (new mtime, same bytes) is no change: the shard listings keep their content
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 3600 * 10**9))
    proc = snakemake(wd, "-n", "features")
    assert "Nothing to be done" in proc.stdout + proc.stderr, jobs_run(proc)
    # new content (Snakemake >= 9.18 compares checksums, so a mere touch is not a change)
    victim.write_bytes(other.read_bytes())
    proc = snakemake(wd, "-n", "features")
    jobs = jobs_run(proc)
    assert jobs.get("audio_shard") == 1, jobs
    assert jobs.get("augment_shard") == 1, jobs
    assert jobs.get("features_shard") == 2, jobs  # one shard x two feature sets


def test_bad_config_fails_at_start_naming_the_key(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"x": {"format": "ravdess", "path": "missing"}},
        "models": {"m": {"arch": "svm", "features": "egemaps"}}}))
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "datasets.x.path" in proc.stdout + proc.stderr


def ravdess_dev_config(tmp_path: Path, models: dict, train: dict | None = None) -> None:
    """A config on the real RAVDESS clips (a dry run only scans their names)."""
    data = ROOT / ".." / "shared" / "data" / "ravdess-dev"
    if not data.is_dir():
        pytest.skip("../shared/data/ravdess-dev is not present")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"r": {"format": "ravdess", "path": str(data.resolve())}},
        "features": ["egemaps", "mfcc40", "logmel"], "models": models,
        "split": {"protocol": "speaker_kfold", "folds": 2}, "train": train or {}}))


def test_unknown_hyperparameter_fails_at_start_in_one_line(tmp_path):
    ravdess_dev_config(tmp_path, {"svm": {"arch": "svm", "features": "egemaps", "Cc": 1}})
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "models.svm.Cc" in ln]
    assert lines == ["Configuration error: models.svm.Cc: unknown parameter of arch svm; "
                     "did you mean C? valid: C, gamma"], proc.stderr[-2000:]


def test_gpu_is_requested_for_tensorflow_training_only(tmp_path):
    ravdess_dev_config(tmp_path, {
        "ens_svm": {"arch": "ensemble", "features": "egemaps", "base": "svm", "n": 2},
        "lf_dnn": {"arch": "late_fusion", "features": ["egemaps", "mfcc40"], "base": "dnn"},
        "cnns": {"arch": "ensemble", "features": "logmel", "base": "cnn", "n": 2},
    }, train={"gpu": True})
    proc = snakemake(tmp_path, "-n", "train", "--forceall", "-p")
    text = proc.stdout + proc.stderr
    gpus: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=\S*rule |localrule )", text):
        m = re.search(r"output: results/models/r/(\w+)/fold\d", block)
        if m:
            g = re.search(r"\bgpu=(\d+)", block)
            gpus.setdefault(m.group(1), set()).add(g.group(1) if g else "0")
    assert gpus == {"ens_svm": {"0"}, "lf_dnn": {"1"}, "cnns": {"1"}}, text[-3000:]


def test_rejected_clips_are_listed_and_run_goes_on(tmp_path):
    corpus = tmp_path / "corpus" / "Actor_01"
    corpus.mkdir(parents=True)
    src = ROOT / ".." / "shared" / "data" / "ravdess-dev" / "Actor_01"
    if not src.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    for f in sorted(src.glob("*.flac"))[:6]:
        shutil.copy(f, corpus / f.name)
    (corpus / "03-01-05-01-01-01-01.wav").write_bytes(b"")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"r": {"format": "ravdess", "path": "corpus"}},
        "features": ["egemaps"],
        "models": {"m": {"arch": "svm", "features": "egemaps"}},
        "split": {"protocol": "random"}}))  # one speaker: no speaker folds
    proc = snakemake(tmp_path, "audio")
    man = pd.read_parquet(tmp_path / "results/manifests/r.parquet")
    assert (man["status"] == "ok").sum() == 6
    assert man.loc[man["status"] == "rejected", "reason"].str.contains("0 bytes").all()
    assert "6 ok, 1 rejected" in proc.stdout + proc.stderr


# ---------------------------------------------------------------- real speech, cross-corpus

DATA = ROOT / ".." / "shared" / "data"
COMMON = {"01": "neutral", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
          "07": "disgust"}  # RAVDESS codes of the six CREMA-D emotions


@pytest.fixture(scope="module")
def cross_run(tmp_path_factory):
    """ravdess-dev (4 actors, the six labels CREMA-D has) -> cremad-sample, svm and a small dnn."""
    if not (DATA / "ravdess-dev").is_dir() or not (DATA / "cremad-sample").is_dir():
        pytest.skip("../shared/data/ravdess-dev or cremad-sample not present")
    wd = tmp_path_factory.mktemp("cross")
    for actor in ("01", "02", "03", "04"):
        dst = wd / "ravdess" / f"Actor_{actor}"
        dst.mkdir(parents=True)
        for f in sorted((DATA / "ravdess-dev" / f"Actor_{actor}").glob("*.flac")):
            if f.name.split("-")[2] in COMMON and f.name.split("-")[4] == "01":
                (dst / f.name).symlink_to(f.resolve())
    cfg = {
        "datasets": {"rav": {"format": "ravdess", "path": "ravdess"},
                     "crema": {"format": "cremad", "path": str((DATA / "cremad-sample" / "wav")
                                                               .resolve())}},
        "augment": {"snr_db": []},
        "features": ["egemaps"],
        "models": {"svm": {"arch": "svm", "features": "egemaps"},
                   "dnn": {"arch": "dnn", "features": "egemaps", "epochs": 3}},
        "split": {"protocol": "speaker_kfold", "folds": 2},
        "cross_corpus": [{"train": "rav", "test": "crema"}],
        "report": {"eda": False},
    }
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    return wd, snakemake(wd)


def test_cross_corpus_pair_runs_on_real_speech(cross_run):
    wd, _ = cross_run
    for model in ("svm", "dnn"):
        m = json.loads((wd / f"results/cross/rav__crema/{model}/metrics.json").read_text())
        assert m["train_dataset"] == "rav" and m["test_dataset"] == "crema"
        assert sorted(m["labels"]) == sorted(COMMON.values())
        assert m["n_test"] == 12 and 0.0 <= m["uar"] <= 1.0
    html = (wd / "results/report/index.html").read_text()
    assert "rav__crema" in html or "crema" in html


def test_logs_hold_what_jobs_said_and_the_console_stays_clean(cross_run):
    wd, proc = cross_run
    console = proc.stdout + proc.stderr
    for noise in ("oneDNN", "absl", "TF_ENABLE_ONEDNN_OPTS", "cuda", "Traceback"):
        assert noise not in console, noise
    assert ".flac," not in console  # no per-file input lists
    logs = wd / "results" / "logs"
    for log in [*logs.glob("train/*/*/fold*.log"), *logs.glob("evaluate/**/*.log"),
                *logs.glob("cross/**/*.log")]:
        text = log.read_text()
        assert "started" in text and "done in" in text, log
    svm = (logs / "train" / "rav" / "svm" / "fold0.log").read_text()
    assert re.search(r"rav/svm fold 0 of 2 \(speaker_kfold\): training on \d+ rows of 2 "
                     r"speaker\(s\), testing \d+ rows of 2 speaker\(s\)", svm), svm
    assert "svm fitted" in svm
    assert re.search(r"rav/svm: UAR 0\.\d+, accuracy 0\.\d+ on \d+ clean test rows",
                     (logs / "evaluate" / "rav" / "svm.log").read_text())
    assert "cross-corpus rav -> crema (svm)" in (logs / "cross" / "rav__crema" / "svm.log"
                                                 ).read_text()
    dnn = (logs / "train" / "rav" / "dnn" / "fold0.log").read_text()
    assert len(dnn.splitlines()) > 2  # TensorFlow's own lines land here, not on the console


def test_user_config_stands_alone_and_bare_run_is_the_demo(tmp_path):
    corpus = tmp_path / "corpus"
    src = DATA / "ravdess-dev"
    if not src.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    for actor in ("01", "02", "03"):
        for f in sorted((src / f"Actor_{actor}").glob("03-01-0[45]-01-01-*")):
            label = "sad" if f.name.split("-")[2] == "04" else "angry"
            dst = corpus / label / f"spk{actor}_{f.name}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(f.resolve())
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"mine": {"format": "folders", "path": "corpus",
                              "speaker_regex": r"^(spk\d+)_"}},
        "features": ["egemaps"],
        "models": {"svm": {"arch": "svm", "features": "egemaps"}},
        "split": {"folds": 3}}))
    jobs = jobs_run(snakemake(tmp_path, "-n"))
    assert jobs == {"audio_shard": 1, "manifest": 1, "babble_bank": 1, "augment_shard": 1,
                    "features_shard": 1, "features_table": 1, "eda": 1, "splits": 1,
                    "train_fold": 3, "train_final": 1, "evaluate_model": 1, "model_choice": 1,
                    "report": 1, "all": 1}, jobs
    # no --configfile: the demo config beside the Snakefile, whatever the working directory
    demo = tmp_path / "demo"
    demo.mkdir()
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(demo), "-n",
           "--workflow-profile", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert jobs_run(proc).get("demo_corpus") == 1
    assert str(ROOT / "config" / "config.yaml") in proc.stdout + proc.stderr


def test_hard_killed_run_resumes_with_the_readme_command(tmp_path):
    """kill -9 of a running Snakemake (and its job) leaves .snakemake/locks; the README's command
    then clears it and resumes. A live run's lock is still respected."""
    import signal
    import time

    from ser import locks

    src = DATA / "ravdess-dev" / "Actor_01"
    if not src.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    corpus = tmp_path / "corpus" / "Actor_01"
    corpus.mkdir(parents=True)
    for f in sorted(src.glob("*.flac")):
        (corpus / f.name).symlink_to(f.resolve())
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"r": {"format": "ravdess", "path": "corpus"}},
        "audio": {"shard_size": 64}, "augment": {"snr_db": []}, "features": ["egemaps"],
        "models": {"m": {"arch": "svm", "features": "egemaps"}},
        "split": {"protocol": "random"}}))  # one speaker: no speaker folds
    # the README's command (default workflow profile: rerun-incomplete), up to the features
    # (openSMILE on 60 clips: a job long enough to be killed, or to hold a lock, mid-way)
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "config.yaml"), "--cores", "1", "features"]

    def start(*extra: str) -> subprocess.Popen:
        out = open(tmp_path / f"run{time.monotonic_ns()}.txt", "w")  # noqa: SIM115
        proc = subprocess.Popen([*cmd, *extra], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 300
        while not (locks.lock_files(tmp_path) and locks.owners(tmp_path)
                   and list((tmp_path / "results" / "logs" / "features").glob("r/*/*.log"))):
            assert proc.poll() is None, (tmp_path / out.name).read_text()
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.2)
        return proc

    def kill(proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and its job: nothing may clean up
        proc.wait()

    kill(start())
    assert locks.lock_files(tmp_path), "kill -9 should leave Snakemake's lock behind"
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out[-3000:]
    assert "Removed the stale lock of a killed Snakemake run" in out
    table = pd.read_parquet(tmp_path / "results" / "features" / "r" / "egemaps.parquet")
    assert len(table) == 60
    assert not locks.lock_files(tmp_path) and not locks.owners(tmp_path)

    live = start("--forcerun", "features_shard")
    os.killpg(live.pid, signal.SIGSTOP)  # alive but paused: its lock must hold, whatever timing
    try:
        # the same jobs (a run with nothing to do never takes the lock)
        second = subprocess.run([*cmd, "--forcerun", "features_shard"], capture_output=True,
                                text=True)
        assert second.returncode != 0, second.stdout + second.stderr
        assert "cannot be locked" in second.stdout + second.stderr
        assert "Removed the stale lock" not in second.stdout + second.stderr
        assert locks.lock_files(tmp_path)
    finally:
        kill(live)


def test_file_list_corpus_with_its_own_labels_end_to_end(tmp_path):
    """format: list with IEMOCAP-style labels outside the canonical set, through every stage;
    editing one label in the list reruns that clip's shard although no audio file changed."""
    src = DATA / "ravdess-dev"
    if not src.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    own = {"05": "frustrated", "03": "excited", "04": "sad", "01": "neutral"}
    rows = ["path,label,speaker,take"]
    for actor in ("01", "02", "03", "04"):
        for f in sorted((src / f"Actor_{actor}").glob("*.flac")):
            code = f.name.split("-")[2]
            if code in own and f.name.split("-")[3] == "01":
                rows.append(f"{f.resolve()},{own[code]},A{actor},{f.name.split('-')[5]}")
    (tmp_path / "calls.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"calls": {"format": "list", "path": "calls.csv"}},
        "augment": {"snr_db": [10], "noise": ["white"]},
        "features": ["egemaps"],
        "models": {"svm": {"arch": "svm", "features": "egemaps"}},
        "split": {"folds": 2}}))
    snakemake(tmp_path)
    man = pd.read_parquet(tmp_path / "results/manifests/calls.parquet")
    assert (man["status"] == "ok").all() and set(man["speaker"]) == {"A01", "A02", "A03", "A04"}
    assert set(man["label"]) == set(own.values()) and "meta_take" in man
    m = json.loads((tmp_path / "results/eval/calls/svm/metrics.json").read_text())
    assert set(m["per_class"]) == set(own.values()) and set(m["by_snr"]) == {"clean", "10"}
    html = (tmp_path / "results/report/index.html").read_text()
    assert "frustrated" in html and "excited" in html
    lines = (tmp_path / "calls.csv").read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 3)[0] + ",calm," + ",".join(lines[1].rsplit(",", 2)[1:])
    (tmp_path / "calls.csv").write_text("\n".join(lines) + "\n")
    assert jobs_run(snakemake(tmp_path, "-n", "audio")) == {"audio_shard": 1, "manifest": 1,
                                                              "audio": 1}
