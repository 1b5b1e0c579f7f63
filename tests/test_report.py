"""Tests for ser.eda and ser.report (and the Snakemake report captions in workflow/report/)."""

from __future__ import annotations

import json
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from ser.eda import EDA_FIGURES, run_eda
from ser.evaluate import FIGURES, evaluate_model
from ser.report import (
    BASE_COLUMNS,
    COST_COLUMNS,
    MODE_COLUMNS,
    TAIL_COLUMNS,
    TRUST_COLUMNS,
    build_report,
    print_leaderboard,
)
from ser.splits import save_splits

REPO = Path(__file__).resolve().parents[1]
RAVDESS = REPO / ".." / "shared" / "data" / "ravdess-dev"
LABELS = ["neutral", "happy", "sad", "angry"]
SR = 16000


# --------------------------------------------------------------------------- fixtures


def _png_ok(path: Path) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") >= 300


def _tone(f0: float, seconds: float, seed: int) -> np.ndarray:
    """A voiced-like test signal: harmonics of f0 under a syllable envelope, plus a little noise."""
    t = np.arange(int(seconds * SR)) / SR
    sig = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    env = np.sin(np.pi * t / seconds) ** 2 * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2)
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.25 * sig * env + noise).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """A tiny manifest (2 speakers x 3 emotions x 2 clips + 2 rejected files) with clean WAVs
    written where the audio stage puts them; WAV paths are relative to the workflow root."""
    root = tmp_path_factory.mktemp("workflow")
    rows = []
    f0 = {"neutral": 120.0, "happy": 220.0, "angry": 180.0}
    for s, speaker in enumerate(("spk1", "spk2")):
        for label, freq in f0.items():
            for i in range(2):
                cid = f"{speaker}/{label}_{i}"
                wav = Path("results/audio/toy/wav/0") / f"{cid}.wav"
                # The first neutral clip's WAV is missing: the example must fall back.
                if not (speaker == "spk1" and label == "neutral" and i == 0):
                    (root / wav).parent.mkdir(parents=True, exist_ok=True)
                    sf.write(root / wav, _tone(freq, 0.5 + 0.1 * i, s * 10 + i), SR,
                             subtype="PCM_16")
                rows.append({"id": cid, "path": f"/raw/{cid}.mp4", "rel_path": f"{cid}.mp4",
                             "speaker": speaker, "original_label": label, "label": label,
                             "shard": 0, "duration": 0.5 + 0.1 * i,
                             "sample_rate": 44100 if speaker == "spk1" else 48000,
                             "channels": 2 if i else 1, "status": "ok", "reason": None,
                             "wav": wav.as_posix()})
    rows.append({"id": "spk2/broken", "path": "/raw/spk2/broken.mp4",
                 "rel_path": "spk2/broken.mp4", "speaker": "spk2", "original_label": "sad",
                 "label": "sad", "shard": 0, "duration": None, "sample_rate": None,
                 "channels": None, "status": "rejected",
                 "reason": "decode failed: invalid data", "wav": None})
    rows.append({"id": "spk1/bad_name", "path": "/raw/spk1/bad_name.mp4",
                 "rel_path": "spk1/bad_name.mp4", "speaker": "spk1", "original_label": None,
                 "label": None, "shard": 0, "duration": None, "sample_rate": None,
                 "channels": None, "status": "rejected", "reason": "unknown emotion code 'x'",
                 "wav": None})
    manifest = root / "results" / "manifests" / "toy.parquet"
    manifest.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(manifest, index=False)
    return {"root": root, "manifest": manifest}


@pytest.fixture(scope="module")
def eda_dir(corpus, tmp_path_factory) -> Path:
    """EDA laid out as the workflow does: figures/ beside eda.json, run from another folder."""
    out = corpus["root"] / "results" / "eda" / "toy"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("elsewhere"))  # WAV paths resolve via the manifest
        run_eda(corpus["manifest"], out / "figures", "toy", summary=out / "eda.json")
    return out


def _predictions(rng: np.random.Generator, skill: float, *, probs: bool, conf: bool,
                 folds: int = 3, n: int = 24) -> pd.DataFrame:
    """Synthetic test predictions: clean clips plus 20 dB and 0 dB copies (worse at low SNR)."""
    true = [LABELS[i % len(LABELS)] for i in range(n)]
    rows = []
    for snr, penalty in ((None, 0.0), (20.0, 0.15), (0.0, 0.4)):
        for i, t in enumerate(true):
            right = rng.random() < skill - penalty
            pred = t if right else LABELS[(LABELS.index(t) + 1 + rng.integers(3)) % 4]
            top = float(np.clip(rng.normal(0.8 if right else 0.5, 0.1), 0.3, 1.0))
            p = np.full(len(LABELS), (1 - top) / (len(LABELS) - 1))
            p[LABELS.index(pred)] = top
            src = f"clip{i:03d}"
            rows.append({
                "id": src if snr is None else f"{src}#snr{snr:g}", "source_id": src,
                "fold": i % folds, "snr_db": np.nan if snr is None else snr,
                "noise": None if snr is None else "pink", "true": t, "predicted": pred,
                "confidence": (0.9 - penalty + rng.normal(0, 0.05)) if conf else np.nan,
                **{f"prob_{lab}": (p[j] if probs else np.nan) for j, lab in enumerate(LABELS)},
            })
    return pd.DataFrame(rows)


def _write(frame: pd.DataFrame, path: Path, meta: dict) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"ser": json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


MODELS = {  # (dataset, model): arch, protocol, skill, probabilistic, confidence branch
    ("alpha", "conf_dnn_is09"): ("conf_dnn", "speaker_kfold", 0.8, True, True),
    ("alpha", "svm_egemaps"): ("svm", "speaker_kfold", 0.6, False, False),
    ("beta", "conf_dnn_is09"): ("conf_dnn", "speaker_kfold", 0.7, True, True),
    ("beta", "xgb_s2"): ("xgboost", "random", 0.9, True, False),
    ("beta", "guess"): ("logreg", "speaker_kfold", 0.25, True, False),  # at chance
}


def _splits(frame: pd.DataFrame, path: Path, *, shared: bool) -> Path:
    """Split table of the clean clips: 6 speakers, fold = clip index % 3; speaker-independent
    (speaker = fold) or, for the random protocol, speakers spread over folds."""
    clean = frame[frame.snr_db.isna()]
    idx = np.arange(len(clean))
    speakers = (idx // 4) % 6 if shared else (idx % 3) * 2 + (idx // 3) % 2
    table = pd.DataFrame({"source_id": clean.source_id.to_numpy(),
                          "speaker": [f"spk{s}" for s in speakers],
                          "label": clean.true.to_numpy(), "fold": clean.fold.to_numpy()})
    save_splits(table, path, {"protocol": "random" if shared else "speaker_kfold"})
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, eda_dir) -> dict:
    """Evaluate 2 datasets x 2 models and one cross-corpus pair, then build the report."""
    base = tmp_path_factory.mktemp("results")
    eval_dirs = []
    for seed, ((ds, model), (arch, protocol, skill, probs, conf)) in enumerate(MODELS.items()):
        rng = np.random.default_rng(seed)
        frame = _predictions(rng, skill, probs=probs, conf=conf)
        meta = {"labels": LABELS, "dataset": ds, "model": model, "arch": arch,
                "feature_set": "is09_emotion", "params": {}, "normalize": "global",
                "protocol": {"protocol": protocol, "leaky": protocol == "random"},
                "smote": "before_split" if protocol == "random" else "none",
                "confidence": "model" if conf else "max_prob"}
        out = base / "eval" / ds / model
        folds = [_write(rows, out / "folds" / f"fold{k}.parquet", meta)
                 for k, rows in frame.groupby("fold")]
        histories = []
        if arch == "conf_dnn":
            for k in range(3):
                h = base / "models" / ds / model / f"fold{k}" / "history.csv"
                h.parent.mkdir(parents=True)
                epochs = np.arange(1, 6)
                pd.DataFrame({"epoch": epochs, "loss": 1.5 / epochs, "accuracy": 1 - 0.6 / epochs,
                              "val_loss": 1.6 / epochs + 0.05 * epochs,
                              "val_accuracy": 0.9 - 0.6 / epochs}).to_csv(h, index=False)
                histories.append(h)
        splits = _splits(frame, base / "splits" / f"{ds}-{model}.parquet",
                         shared=protocol == "random")
        evaluate_model(folds, histories, out, splits=splits,
                       corpus={"dataset": ds, "synthetic": ds == "alpha"})
        eval_dirs.append(out)
    cross = base / "cross" / "alpha__beta" / "conf_dnn_is09"
    frame = _predictions(np.random.default_rng(99), 0.45, probs=True, conf=True, folds=1)
    frame = frame[frame.snr_db.isna()].assign(fold=0)
    _write(frame, cross / "folds" / "fold0.parquet",
           {"labels": LABELS, "dataset": "alpha", "model": "conf_dnn_is09", "arch": "conf_dnn",
            "protocol": {"protocol": "full"}, "confidence": "model"})
    evaluate_model([cross / "folds" / "fold0.parquet"], [], cross)
    out = base / "report"
    build_report(eval_dirs, [eda_dir], out, cross_dirs=[cross], title="Test run <report>",
                 provenance={"date": "2030-01-01T00:00:00+00:00", "command": "snakemake -c2",
                             "git_commit": "abc123", "git_dirty": False,
                             "versions": {"numpy": "9.9"}, "config": {"seed": 7}})
    return {"out": out, "eval_dirs": eval_dirs, "cross": cross}


# --------------------------------------------------------------------------- EDA


def test_eda_writes_figures_and_summary(eda_dir):
    for name in EDA_FIGURES:
        assert _png_ok(eda_dir / "figures" / name), name
    info = json.loads((eda_dir / "eda.json").read_text())
    assert info["dataset"] == "toy"
    assert (info["files"], info["ok"], info["rejected"]) == (14, 12, 2)
    assert info["rejected_by_reason"] == {"decode failed": 1, "unknown emotion code 'x'": 1}
    assert info["labels"] == {"neutral": 4, "happy": 4, "angry": 4}  # canonical order
    assert info["class_by_speaker"]["spk1"] == {"neutral": 2, "happy": 2, "angry": 2}
    assert info["sample_rates"] == {"44100": 6, "48000": 6}
    assert info["channels"] == {"1": 6, "2": 6}
    assert info["duration_s"]["min"] == pytest.approx(0.5)
    assert info["duration_s"]["max"] == pytest.approx(0.6)
    # One example per class, read from the clean WAVs; the missing WAV was skipped.
    assert info["examples"] == {"neutral": "spk1/neutral_1", "happy": "spk1/happy_0",
                                "angry": "spk1/angry_0"}
    assert info["figures"] == [f"figures/{n}" for n in EDA_FIGURES]


def test_eda_rejects_manifest_without_contract_columns(tmp_path):
    bad = tmp_path / "m.parquet"
    pd.DataFrame({"id": ["a"], "label": ["happy"]}).to_parquet(bad)
    with pytest.raises(ValueError, match="lacks columns"):
        run_eda(bad, tmp_path / "eda", "bad")


@pytest.mark.ravdess
def test_eda_on_real_ravdess_speech(tmp_path):
    if not RAVDESS.is_dir():
        pytest.skip(f"RAVDESS dev subset not found at {RAVDESS}")
    files = sorted(RAVDESS.glob("Actor_0[12]/03-01-0[1-4]-01-01-01-*.flac"))
    assert files, "expected RAVDESS files"
    codes = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
             "06": "fearful", "07": "disgust", "08": "surprised"}
    rows = []
    for f in files:
        info = sf.info(f)
        rows.append({"id": f"{f.parent.name}/{f.stem}", "speaker": f.parent.name,
                     "label": codes[f.stem.split("-")[2]], "duration": info.duration,
                     "sample_rate": info.samplerate, "channels": info.channels, "status": "ok",
                     "reason": None, "wav": str(f)})
    manifest = tmp_path / "ravdess.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    run_eda(manifest, tmp_path / "eda", "ravdess")
    info = json.loads((tmp_path / "eda" / "eda.json").read_text())
    assert set(info["examples"]) == {"neutral", "calm", "happy", "sad"}
    assert info["speakers"] == 2 and info["ok"] == len(files)
    assert all(_png_ok(tmp_path / "eda" / n) for n in EDA_FIGURES)


# --------------------------------------------------------------------------- report


def test_leaderboard_csv_has_every_dataset_model_and_columns(built):
    board = pd.read_csv(built["out"] / "leaderboard.csv")
    assert list(board.columns) == (BASE_COLUMNS + TRUST_COLUMNS + ["acc_snr20", "acc_snr0"]
                                   + TAIL_COLUMNS + COST_COLUMNS + MODE_COLUMNS)
    assert set(zip(board.dataset, board.model, strict=True)) == set(MODELS)
    for d in built["eval_dirs"]:
        metrics = json.loads((d / "metrics.json").read_text())
        row = board[(board.dataset == metrics["dataset"]) & (board.model == metrics["model"])]
        assert row.uar_mean.item() == pytest.approx(metrics["folds_mean"]["uar"], abs=1e-6)
        assert row.uar_std.item() == pytest.approx(metrics["folds_std"]["uar"], abs=1e-6)
        assert row.acc_snr0.item() == pytest.approx(metrics["by_snr"]["0"], abs=1e-6)
        assert row.folds.item() == 3
    leaky = board.set_index(["dataset", "model"]).leaky
    assert bool(leaky[("beta", "xgb_s2")]) and not bool(leaky[("beta", "conf_dnn_is09")])
    assert "leaky" in board.set_index("model").protocol["xgb_s2"]
    # The confidence-branch model has an OOD AUROC; the SVM has neither ECE nor OOD.
    svm = board[board.model == "svm_egemaps"].iloc[0]
    assert np.isnan(svm.ece) and np.isnan(svm.ood_auroc)
    dnn = board[(board.model == "conf_dnn_is09") & (board.dataset == "alpha")].iloc[0]
    assert 0.5 < dnn.ood_auroc <= 1.0 and dnn.ood_score == "model"
    # Within a dataset honest rows come first, then by UAR.
    beta = board[board.dataset == "beta"]
    assert list(beta.model) == ["conf_dnn_is09", "guess", "xgb_s2"]
    # Beside every score: chance, an interval, the flag, worst speaker, leakage audit.
    by = board.set_index(["dataset", "model"])
    assert (board.chance == 0.25).all()
    assert (board.uar_low <= board.uar).all() and (board.uar <= board.uar_high).all()
    assert bool(by.at_chance[("beta", "guess")]) and not bool(by.at_chance[("alpha",
                                                                               "conf_dnn_is09")])
    assert by.worst_speaker[("alpha", "svm_egemaps")].startswith("spk")
    assert by.test_speakers_in_training[("alpha", "svm_egemaps")] == 0
    assert by.test_speakers_in_training[("beta", "xgb_s2")] > 0  # random protocol: shared
    assert (board.test_clips_source_in_training == 0).all()
    assert bool(by.synthetic[("alpha", "svm_egemaps")]) and not bool(by.synthetic[("beta",
                                                                                  "guess")])


def test_leaderboard_markdown_marks_leaky_rows(built, capsys):
    md = (built["out"] / "leaderboard.md").read_text()
    lines = md.splitlines()
    leaky_lines = [ln for ln in lines if "[LEAKY]" in ln and ln.startswith("|")]
    assert len(leaky_lines) == 1 and "xgb_s2" in leaky_lines[0]
    chance_lines = [ln for ln in lines if "[AT CHANCE]" in ln and ln.startswith("|")]
    assert len(chance_lines) == 1 and "guess" in chance_lines[0]
    assert "`alpha` is the synthetic demo corpus" in md and "alpha (synthetic)" in md
    assert "UAR 95% CI" in md and "worst speaker" in md and "ms/clip" in md
    for ds, model in MODELS:
        assert any(ds in ln and model in ln for ln in lines if ln.startswith("|"))
    assert "± " in md and "alpha → beta" in md
    print_leaderboard(built["out"])
    printed = capsys.readouterr().out
    assert "| alpha" in printed and "index.html" in printed


class _Collector(HTMLParser):
    """Collects ids, asset references and images of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []
        self.imgs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for key, value in attrs:
            if key == "id":
                self.ids.add(value)
            if key in ("src", "href", "data", "poster", "srcset", "action"):
                self.refs.append((tag, key, value or ""))
        if tag == "img":
            self.imgs.append(dict(attrs).get("src", ""))


def test_index_html_is_self_contained_with_every_section(built):
    text = (built["out"] / "index.html").read_text()
    page = _Collector()
    page.feed(text)
    # No external assets: images are data URIs, links are in-page anchors, no scripts/styles.
    for tag, _key, value in page.refs:
        assert value.startswith("data:image/png;base64,") or value.startswith("#"), (tag, value)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert not re.search(r"url\(|@import", text)
    # Sections.
    for section in ("summary", "leaderboard", "how-to-read", "cross-corpus", "ds-alpha",
                    "ds-beta"):
        assert section in page.ids, section
    for ds, model in MODELS:
        assert f"m-{ds}-{model}" in page.ids
    anchors = {v[1:] for _, k, v in page.refs if k == "href"}
    assert anchors <= page.ids  # every in-page link has a target
    # Every evaluation figure per model, every EDA figure for alpha's... dataset "toy", one
    # cross-corpus confusion matrix; all decodable PNGs.
    assert len(page.imgs) == len(MODELS) * len(FIGURES) + len(EDA_FIGURES) + 1
    # The demo banner, the at-chance verdict, the confidence section in words, provenance.
    assert text.count('class="banner"') == 2 and "not meant for real" in text
    assert "At chance:" in text and "Can its confidence be trusted?" in text
    assert "Right vs wrong answers:" in text and "Leakage audit" in text
    assert re.search(r"(separates them|does NOT separate them)", text)
    assert "provenance" in page.ids and "snakemake -c2" in text and "abc123" in text
    assert "seed: 7" in text and "numpy 9.9" in text
    assert "bootstrap over test speakers" in text
    assert "ds-toy" in page.ids
    assert "Test run &lt;report&gt;" in text  # the title is escaped
    assert "How to read this" in text and "speaker-independent" in text
    assert text.count("macro avg") >= len(MODELS)  # classification reports included
    assert "alpha → beta" in text


def test_report_requires_metrics(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        build_report([tmp_path / "nothing"], [], tmp_path / "out")


# --------------------------------------------------------------------------- Snakemake captions


CAPTIONS = ("confusion", "snr", "curves", "reliability", "per_class", "eda", "leaderboard")


@pytest.mark.parametrize("name", CAPTIONS)
def test_report_captions_render_like_snakemake(name):
    """Render each caption as `snakemake --report` does (Jinja2, then docutils to HTML),
    failing on any docutils warning, with the wildcards of the rules that use it."""
    from types import SimpleNamespace

    from docutils.core import publish_parts
    from jinja2 import Environment
    from snakemake.iocontainers import Wildcards

    source = (REPO / "workflow" / "report" / f"{name}.rst").read_text()
    env = Environment(trim_blocks=True, lstrip_blocks=True)  # as snakemake.report
    if name == "eda":  # a directory with patterns: the rule's wildcards plus the pattern's
        cases = [{"dataset": "ravdess", "name": n} for n in
                 ("durations", "sample_rates", "class_balance", "waveforms", "spectrograms",
                  "status")]
    elif name == "leaderboard":
        cases = [{}]
    else:
        cases = [{"dataset": "ravdess", "model": "conf_dnn_is09"}]
    if name == "confusion":  # also used by the cross-corpus rule
        cases.append({"train": "ravdess", "test": "cremad", "model": "svm"})
    texts = set()
    for wildcards in cases:
        sm = SimpleNamespace(wildcards=Wildcards(fromdict=wildcards), config={"datasets": {}})
        rst = env.from_string(source).render(snakemake=sm, categories={}, files={})
        with warnings.catch_warnings():  # docutils' own deprecation notice for writer_name
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            html = publish_parts(rst, writer_name="html",
                                 settings_overrides={"halt_level": 2, "report_level": 2})["body"]
        assert len(html) > 100
        for key, value in wildcards.items():
            if key != "name":
                assert value in html, (name, value)
        texts.add(html)
    assert len(texts) == len(cases)  # each figure / rule gets its own wording


def test_log_power_spectrogram_peaks_at_the_tone():
    from ser.plots import log_power_spectrogram

    t = np.arange(SR // 2) / SR
    db = log_power_spectrogram(np.sin(2 * np.pi * 1000 * t), SR)
    n_fft = int(0.025 * SR)
    assert db.shape == (n_fft // 2 + 1, 1 + (SR // 2 - n_fft) // int(0.010 * SR))
    peak_hz = np.argmax(db.mean(axis=1)) * SR / n_fft
    assert abs(peak_hz - 1000) <= SR / n_fft


def test_robustness_sentence_explains_the_collapse():
    from ser.report import _robustness_html

    m = {"labels": list("abcdefgh"), "train_on": "clean",
         "by_condition": {"clean": {"uar": 0.6},
                          "noise": {"20": {"uar": 0.3}, "0": {"uar": 0.14}},
                          "reverb": {"0.6": {"uar": 0.5}}}}
    html = _robustness_html(m)
    assert "Trained on clean clips only" in html
    assert "noise 0 dB SNR: 0.140" in html and "reverb 0.6 s RT60: 0.500" in html
    assert "largest loss is under noise 0 dB SNR: 0.140 (near chance)" in html
    assert "train_on: clean+noisy" in html
    robust = {**m, "train_on": "clean+noisy",
              "by_condition": {"clean": {"uar": 0.6}, "noise": {"0": {"uar": 0.58}}}}
    html = _robustness_html(robust)
    assert "every degraded copy" in html and "largest loss" not in html
    assert _robustness_html({"by_condition": {"clean": {"uar": 0.6}}}) == ""
    # one "near chance" rule for the whole report (ser.trust.near_chance: within 1.5 x chance),
    # the same as the noise sentence's: 0.18 against chance 0.125 is near chance in both
    weak = {**m, "by_condition": {"clean": {"uar": 0.6}, "noise": {"0": {"uar": 0.18}}}}
    assert "0.180 (near chance)" in _robustness_html(weak)
    from ser.trust import noise_sentence
    assert "near chance" in noise_sentence({"clean": 0.6, "0": 0.18}, {"white": {"0": 0.18}},
                                           0.125)


def test_model_choice_names_the_leaderboards_best_honest_model(built, tmp_path):
    from ser.report import write_model_choice

    choice = write_model_choice(built["eval_dirs"], "beta", tmp_path / "leaderboard.json")
    board = pd.read_csv(built["out"] / "leaderboard.csv")
    first = board[board.dataset == "beta"].iloc[0]
    assert choice["best"] == first.model == "conf_dnn_is09"  # the leaky xgb_s2 scores higher
    assert [m["model"] for m in choice["models"]] == list(board[board.dataset == "beta"].model)
    assert json.loads((tmp_path / "leaderboard.json").read_text()) == choice
    guess = next(m for m in choice["models"] if m["model"] == "guess")
    assert guess["at_chance"] is True and guess["chance"] == 0.25
    with pytest.raises(ValueError, match="gamma"):
        write_model_choice(built["eval_dirs"], "gamma", tmp_path / "x.json")
