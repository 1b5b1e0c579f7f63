"""Start-up checks: the bad-config table. Every mistake knowable before decoding stops the run at
once with a short message naming the key and what to do (ser.checks), through `snakemake -n`
exactly as a user runs it, and through `ser check-config`. Real speech files (links into
../shared/data/ravdess-dev) make the corpora, so speakers and labels come from real names."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ser import checks
from ser.plan import ConfigError

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"
BIN = Path(sys.executable).parent
SVM = {"m": {"arch": "svm", "features": "egemaps"}}
RAV = {"format": "ravdess", "path": "rav"}

# name -> (config, or raw YAML text; the expected message, or its start)
TABLE: dict[str, tuple[dict | str, str]] = {
    "unknown top-level key": (
        {"datasets": {"r": RAV}, "modles": SVM},
        "modles: unknown key; did you mean models?"),
    "unknown dataset key": (
        {"datasets": {"f": {"format": "folders", "path": "folders", "speaker_rgx": "^(\\d+)"}},
         "models": SVM},
        "datasets.f.speaker_rgx: unknown key; did you mean speaker_regex?"),
    "misspelt architecture": (
        {"datasets": {"r": RAV}, "models": {"m": {"arch": "svn", "features": "egemaps"}}},
        "models.m.arch: 'svn' is not one of conf_dnn, dnn, conv1d, ensemble, xgboost, svm, "
        "logreg, cnn, lstm, inception, late_fusion; did you mean svm?"),
    "misspelt feature set": (
        {"datasets": {"r": RAV}, "features": ["egemap"], "models": SVM},
        "features: egemap: unknown feature set 'egemap'; did you mean egemaps? known: "),
    "wrong type": (
        {"datasets": {"r": RAV}, "audio": {"sample_rate": "16k"}, "models": SVM},
        "audio.sample_rate: '16k' should be an integer"),
    "format missing": (
        {"datasets": {"r": {"path": "rav"}}, "models": SVM},
        "datasets.r.format: missing (required)"),
    "bad dataset name": (
        {"datasets": {"my data": RAV}, "models": SVM},
        "datasets: name 'my data' may only use letters, digits, _ and - (starting with a letter "
        "or digit)"),
    "path does not exist": (
        {"datasets": {"r": {"format": "ravdess", "path": "missing"}}, "models": SVM},
        "datasets.r.path: missing does not exist"),
    "empty folder": (
        {"datasets": {"r": {"format": "ravdess", "path": "empty"}}, "models": SVM},
        "datasets.r.path: empty holds no file"),
    "no matching files": (
        {"datasets": {"r": {"format": "cremad", "path": "rav"}}, "models": SVM},
        "datasets.r.path: none of the 6 files of rav is usable (6 name does not match CREMA-D "
        "SSSS_SEN_EMO_LV (e.g. 1001_DFA_ANG_XX)); check `format`"),
    "folds > speakers": (
        {"datasets": {"r": RAV}, "models": SVM, "split": {"folds": 5}},
        "split.folds: 5 folds but dataset r has 3 speaker(s) (01, 02, 03); set folds to at most "
        "3 or use protocol loso"),
    "holdout speaker absent": (
        {"datasets": {"r": RAV}, "models": SVM,
         "split": {"protocol": "holdout_speakers", "holdout_speakers": ["09"]}},
        "split.holdout_speakers: 09 not among the speakers of dataset r (01, 02, 03)"),
    "fold speaker absent": (
        {"datasets": {"r": {**RAV, "split": {"fold_speakers": [["01", "02"], ["03", "04"]]}}},
         "models": SVM},
        "datasets.r.split.fold_speakers: 04 not among the speakers of dataset r (01, 02, 03)"),
    "speaker_kfold without speakers": (
        {"datasets": {"f": {"format": "folders", "path": "folders"}}, "models": SVM},
        "split.protocol: speaker_kfold needs speakers, but no speaker could be read for dataset "
        "f; set speaker_regex or speaker_from, or use protocol random (not speaker independent)"),
    "speaker_regex matching no file": (
        {"datasets": {"f": {"format": "folders", "path": "folders",
                            "speaker_regex": "^(spk\\d+)_"}}, "models": SVM},
        "datasets.f.speaker_regex: '^(spk\\d+)_' matches no file name (e.g. "
        "01_03-01-05-01-01-01-01.flac); fix it (its first group is the speaker)"),
    "speaker_regex matching some files": (
        {"datasets": {"f": {"format": "folders", "path": "folders",
                            "speaker_regex": "^(0[12])_"}}, "models": SVM},
        "datasets.f.speaker_regex: '^(0[12])_' finds a speaker in 4 of 6 file names; the other "
        "2 (e.g. angry/03_03-01-05-01-01-01-03.flac) would count as one speaker 'unknown'; fix "
        "it so that it fits every file, or move those files out"),
    "emotion no corpus has": (
        {"datasets": {"r": RAV}, "models": SVM, "emotions": ["angry", "boredom"]},
        "emotions: no dataset has boredom (labels found: angry, sad); remove it from emotions "
        "or add a corpus that has it"),
    "model on a feature set not extracted": (
        {"datasets": {"r": RAV}, "features": ["mfcc40"], "models": SVM},
        "datasets.r.path: none"),  # replaced below: the Plan's own message
    "unknown hyperparameter": (
        {"datasets": {"r": RAV}, "models": {"m": {"arch": "svm", "features": "egemaps",
                                                  "gama": 0.1}}},
        "models.m.gama: unknown parameter of arch svm; did you mean gamma? valid: C, gamma"),
    "unknown tuned hyperparameter": (
        {"datasets": {"r": RAV}, "models": {"m": {"arch": "svm", "features": "egemaps",
                                                  "tune": {"CC": [1, 10]}}}},
        "models.m.tune.CC: unknown parameter of arch svm; did you mean C? valid: C, gamma"),
    "unknown member hyperparameter": (
        {"datasets": {"r": RAV}, "models": {"m": {"arch": "ensemble", "features": "egemaps",
                                                  "base": "dnn", "base_params": {"epoch": 3}}}},
        "models.m.base_params: unknown parameter(s) 'epoch' for arch 'dnn'; did you mean "
        "epochs? valid: "),
    "cross-corpus pair without a common label": (
        {"datasets": {"r": RAV, "c": {"format": "folders", "path": "calm", "speaker_from": 1,
                                      "split": {"protocol": "random"}}},
         "models": SVM, "cross_corpus": [{"train": "r", "test": "c"}]},
        "cross_corpus[0]: r (angry, sad) and c (calm, happy) share no label; remove the pair"),
    "cross-corpus dataset unknown": (
        {"datasets": {"r": RAV}, "models": SVM, "cross_corpus": [{"train": "r", "test": "c"}]},
        "cross_corpus[0].test: unknown dataset 'c'"),
    "list without its path column": (
        {"datasets": {"l": {"format": "list", "path": "calls.csv"}}, "models": SVM},
        "datasets.l: file list calls.csv has no path column 'path'; set path_column to one of: "
        "file, emotion, who"),
    "two speaker rules": (
        {"datasets": {"f": {"format": "folders", "path": "folders", "speaker_from": "parent",
                            "speaker_regex": "^(\\d+)_"}}, "models": SVM},
        "datasets.f: speaker_regex and speaker_from exclude each other; keep one"),
    "bad speaker_from": (
        {"datasets": {"f": {"format": "folders", "path": "folders", "speaker_from": "grandpa"}},
         "models": SVM},
        "datasets.f.speaker_from: 'grandpa' is not valid; expected parent (the folder holding "
        "the file is the speaker) or a folder level below the root (0 = first)"),
    "YAML syntax error": (
        "datasets:\n  r: {format: ravdess, path: rav\nmodels: {m: {arch: svm}}\n",
        "bad.yaml:3:7: YAML syntax error: expected ',' or '}', but got ':'"),
}
TABLE["model on a feature set not extracted"] = (
    TABLE["model on a feature set not extracted"][0],
    "models.m.features: 'egemaps' is not in features ['mfcc40']")


for _config, _ in TABLE.values():  # 3 speakers: the default 5 folds would be a second problem
    if isinstance(_config, dict) and "split" not in _config:
        _config["split"] = {"folds": 3}


def build_corpora(wd: Path) -> Path:
    """rav/: 6 real RAVDESS clips of actors 01-03 (angry, sad); folders/: the same as LABEL/;
    calm/: LABEL/SPEAKER/ with labels rav has not; empty/; calls.csv: a file list without the
    columns it should have."""
    (wd / "empty").mkdir()
    for code, label in (("02", "calm"), ("03", "happy")):
        src = sorted((RAVDESS / "Actor_04").glob(f"03-01-{code}-*"))[0]
        dst = wd / "calm" / label / "04" / src.name
        dst.parent.mkdir(parents=True)
        dst.symlink_to(src.resolve())
    (wd / "calls.csv").write_text("file,emotion,who\n")
    for actor in ("01", "02", "03"):
        for code, label in (("05", "angry"), ("04", "sad")):
            src = sorted((RAVDESS / f"Actor_{actor}").glob(f"03-01-{code}-*"))[0]
            for dst in (wd / "rav" / f"Actor_{actor}" / src.name, wd / "folders" / label /
                        f"{actor}_{src.name}"):
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.symlink_to(src.resolve())
    return wd


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    if not RAVDESS.is_dir():
        pytest.skip(f"real speech not found at {RAVDESS}")
    return build_corpora(tmp_path_factory.mktemp("startup"))


def write(wd: Path, config: dict | str) -> Path:
    path = wd / "bad.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("case", list(TABLE))
def test_bad_config_message_from_the_library(workdir, case, monkeypatch):
    config, expected = TABLE[case]
    monkeypatch.chdir(workdir)
    with pytest.raises(ConfigError) as err:
        checks.check_file(write(workdir, config).name)
    assert str(err.value).startswith(expected), str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in TABLE if c != "YAML syntax error"])
def test_bad_config_stops_snakemake_at_start(workdir, case):
    config, expected = TABLE[case]
    path = write(workdir, config)
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory",
         str(workdir), "--configfile", str(path), "-n"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    seconds = time.monotonic() - t0
    out = (proc.stdout + proc.stderr).strip().splitlines()
    out = [ln for ln in out if not ln.startswith("Using workflow specific profile")]
    assert proc.returncode != 0
    assert len(out) == 1 and out[0].startswith(f"Configuration error: {expected}"), out
    print(f"\n{case}: {seconds:.1f} s: {out[0]}")


@pytest.mark.slow
def test_yaml_syntax_error_named_by_ser_check_config(workdir):
    config, expected = TABLE["YAML syntax error"]
    write(workdir, config)
    proc = subprocess.run([str(BIN / "ser"), "check-config", "bad.yaml"], cwd=workdir,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"Configuration error: {expected}"


def test_several_problems_one_line_each(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    path = write(workdir, {"datasets": {"r": RAV}, "modles": SVM, "audio": {"rate": 16000},
                           "split": {"folds": "5"}})
    with pytest.raises(ConfigError) as err:
        checks.check_file(path.name)
    lines = checks.report(err.value).splitlines()
    assert lines[:2] == ["Configuration errors:", "  modles: unknown key; did you mean models?"]
    assert lines[2].startswith("  audio.rate: unknown key; valid keys: sample_rate, min_duration")
    assert lines[3:] == ["  split.folds: '5' should be an integer"]


def test_good_config_passes_with_defaults_filled(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    path = write(workdir, {"datasets": {"r": RAV}, "models": SVM, "split": {"folds": 3}})
    lines = checks.check_file(path.name)
    assert lines == ["r (ravdess): 6 clips, 3 speakers, labels angry, sad; models m"]
    cfg = yaml.safe_load(path.read_text())
    checks.start(cfg)
    assert cfg["audio"]["silence_dbfs"] == -70 and cfg["split"]["protocol"] == "speaker_kfold"
    assert cfg["features"] == ["is09_emotion", "egemaps", "mfcc40", "logmel"]
