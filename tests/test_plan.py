"""The plan: stable shards, config errors that name the key, models per dataset, fold counts."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from ser.bundle import SCALER_MODES
from ser.errors import ConfigError
from ser.features import FEATURE_SETS
from ser.models import ARCHS
from ser.modelspec import FALLBACKS, strict_twin
from ser.plan import DATASET_KEYS, FORMATS, Plan, shard_count, shard_of

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def resolved(cfg: dict) -> dict:
    validate(cfg, SCHEMA)  # fills the schema's defaults, as the Snakefile does
    return cfg


def test_shard_count_is_power_of_two_and_stable():
    assert shard_count(1, 64) == 1
    assert shard_count(64, 64) == 1
    assert shard_count(65, 64) == 2
    assert shard_count(480, 64) == 8
    assert shard_count(480, 128) == 4
    assert shard_count(12000, 64) == 256
    assert shard_count(12000, 64, override=10) == 10
    rels = [f"Actor_{a:02d}/clip{i}.wav" for a in range(8) for i in range(60)]
    n = shard_count(len(rels), 64)
    before = {r: shard_of(r, n) for r in rels}
    after = {r: shard_of(r, n) for r in rels + ["Actor_09/new.wav"]}
    assert all(before[r] == after[r] for r in rels)  # adding a file moves no other file
    sizes = [sum(1 for v in before.values() if v == k) for k in range(n)]
    assert min(sizes) > 0.5 * len(rels) / n  # roughly balanced


def test_default_config_is_valid():
    cfg = resolved(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    plan = Plan(cfg)
    assert plan.demo_datasets == ["demo"]
    assert set(plan.models_for("demo")) == set(cfg["models"])


@pytest.mark.parametrize("mutate,key", [
    (lambda c: c["datasets"].update(x={"format": "ravdess", "path": "/nonexistent"}),
     "datasets.x.path"),
    (lambda c: c["models"].update(m={"arch": "svm", "features": "compare"}), "models.m.features"),
    (lambda c: c["models"].update(m={"arch": "cnn", "features": "egemaps"}), "models.m"),
    (lambda c: c.update(cross_corpus=[{"train": "demo", "test": "nope"}]), "cross_corpus[0].test"),
    (lambda c: c["split"].update(protocol="holdout_speakers"), "split.holdout_speakers"),
    (lambda c: c["split"].update(smote="before_split"), "split.smote"),
])
def test_config_errors_name_the_key(mutate, key):
    cfg = resolved(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    mutate(cfg)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        Plan(cfg)


def test_schema_rejects_unknown_keys():
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["audio"]["sampel_rate"] = 8000
    with pytest.raises(Exception, match="sampel_rate"):
        validate(cfg, SCHEMA)


def test_folds_and_models_per_dataset(tmp_path):
    root = tmp_path / "c"
    for a in ("01", "02", "03", "04"):
        d = root / f"Actor_{a}"
        d.mkdir(parents=True)
        (d / f"03-01-05-01-01-01-{a}.wav").write_bytes(b"x")
    table = tmp_path / "t.csv"
    table.write_text("label,f1,f2\nangry,1,2\nsad,3,4\n")
    cfg = resolved({
        "datasets": {"r": {"format": "ravdess", "path": str(root)},
                     "t": {"format": "table", "path": str(table)}},
        "features": ["egemaps"],
        "models": {"svm": {"arch": "svm", "features": "egemaps"},
                   "tab": {"arch": "conv1d", "features": "table"}},
        "split": {"protocol": "loso"},
    })
    plan = Plan(cfg)
    assert plan.models_for("r") == ["svm"] and plan.models_for("t") == ["tab"]
    assert plan.n_folds("r") == 4
    assert plan.speakers("r") == ["01", "02", "03", "04"]
    assert sum(len(plan.shard_entries("r", k)) for k in plan.shards("r")) == 4


def demo_cfg() -> dict:
    return resolved(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))


@pytest.mark.parametrize("model,message", [
    ({"arch": "svm", "features": "egemaps", "Cc": 1.0},
     r"models\.m\.Cc: unknown parameter of arch svm; did you mean C\? valid: C, gamma"),
    ({"arch": "svm", "features": "egemaps", "C": "big"}, r"models\.m\.C: .*'C'.*float"),
    ({"arch": "conf_dnn", "features": "is09_emotion", "epochs": 1.5}, r"models\.m\.epochs: "),
    ({"arch": "svm", "features": "egemaps", "tune": {"Cc": [1, 2]}},
     r"models\.m\.tune\.Cc: unknown parameter"),
    ({"arch": "ensemble", "features": "mfcc40", "base": "svm", "base_params": {"units": 3}},
     r"models\.m\.base_params: .*'units'"),
    ({"arch": "late_fusion", "features": ["egemaps", "mfcc40"], "base": "dnn", "C": 1.0},
     r"models\.m\.C: .*has no C"),
    ({"arch": "svm", "features": "egemaps", "gpu": True}, r"models\.m\.gpu: arch svm does not"),
    ({"arch": "ensemble", "features": "logmel", "base": "svm"}, r"models\.m: arch ensemble takes"),
    ({"arch": "ensemble", "features": "mfcc40", "base": "cnn"}, r"models\.m: arch ensemble takes"),
    ({"arch": "svm", "features": "egemaps", "fallback": "strict"},
     r"models\.m\.fallback: strict .*add normalize: speaker"),
    ({"arch": "svm", "features": "egemaps", "normalize": "speaker", "fallback": "lenient"},
     r"models\.m\.fallback must be one of none, strict"),
    ({"arch": "late_fusion", "features": ["egemaps", "mfcc40"], "combine": "vote"},
     r"models\.m\.combine: .*mean, stack"),
])
def test_model_config_mistakes_fail_at_start_naming_the_key(model, message):
    cfg = demo_cfg()
    cfg["models"]["m"] = model
    with pytest.raises(ConfigError, match=message):
        Plan(cfg)


def test_model_spec_is_resolved_once_with_the_train_defaults():
    cfg = demo_cfg()
    cfg["train"]["train_on"] = "clean+noisy"
    cfg["models"]["m"] = {"arch": "svm", "features": "egemaps", "C": 2.0, "train_on": "clean",
                          "tune": {"gamma": ["scale", 0.1]}, "class_weight": True}
    plan = Plan(cfg)
    spec = plan.model_spec("m")
    assert (spec.arch, spec.features, spec.params) == ("svm", ("egemaps",), {"C": 2.0})
    assert (spec.train_on, spec.class_weight, spec.normalize) == ("clean", True, "global")
    assert plan.model_spec("svm").train_on == "clean+noisy"  # the train default
    assert type(spec).from_dict(spec.to_dict()) == spec
    cross = plan.cross_spec("m")
    assert cross.normalize == "speaker" and "collapse" in cross.normalize_reason
    cfg["models"]["m"]["normalize"] = "none"
    assert Plan(cfg).cross_spec("m").normalize == "none"  # an explicit choice is kept


def test_fallback_strict_is_part_of_the_spec_and_its_twin_is_strict():
    cfg = demo_cfg()
    cfg["models"]["ad"] = {"arch": "late_fusion", "features": ["egemaps", "mfcc40"],
                           "normalize": "speaker", "fallback": "strict", "combine": "stack",
                           "member_C": [0.1, 1.0], "inner_folds": 2}
    spec = Plan(cfg).model_spec("ad")
    assert (spec.fallback, spec.normalize) == ("strict", "speaker")
    assert spec.params == {"combine": "stack", "member_C": [0.1, 1.0], "inner_folds": 2}
    assert type(spec).from_dict(spec.to_dict()) == spec  # what train_fold/train_final receive
    twin = strict_twin(spec)
    assert (twin.normalize, twin.fallback, twin.params) == ("global", "none", spec.params)
    assert "strict twin" in twin.normalize_reason


def test_an_ensemble_of_cnns_on_logmel_is_accepted():
    cfg = demo_cfg()
    cfg["models"]["cnns"] = {"arch": "ensemble", "features": "logmel", "base": "cnn", "n": 2,
                             "base_params": {"epochs": 2}}
    plan = Plan(cfg)
    assert "cnns" in plan.models_for("demo")
    assert plan.model_spec("cnns").input_kind == "matrix"


def test_gpu_request_follows_what_the_model_trains_with():
    cfg = demo_cfg()
    cfg["train"]["gpu"] = True
    cfg["models"].update({
        "ens_svm": {"arch": "ensemble", "features": "mfcc40", "base": "svm", "n": 2},
        "ens_dnn": {"arch": "ensemble", "features": "mfcc40", "base": "dnn", "n": 2},
        "lf_dnn": {"arch": "late_fusion", "features": ["egemaps", "mfcc40"], "base": "dnn"},
        "lf_lr": {"arch": "late_fusion", "features": ["egemaps", "mfcc40"]},
        "cnn_cpu": {"arch": "cnn", "features": "logmel", "gpu": False},
    })
    plan = Plan(cfg)
    gpus = {m: plan.gpu(m) for m in plan.models}
    assert gpus == {"conf_dnn": 1, "conv1d": 1, "xgboost": 0, "svm": 0, "cnn": 1,
                    "late_fusion": 0, "ens_svm": 0, "ens_dnn": 1, "lf_dnn": 1, "lf_lr": 0,
                    "cnn_cpu": 0}
    cfg["train"]["gpu"] = False
    cfg["models"]["cnn_gpu"] = {"arch": "cnn", "features": "logmel", "gpu": True}
    plan = Plan(cfg)
    assert plan.gpu("cnn_gpu") == 1 and plan.gpu("cnn") == 0


def test_schema_enums_are_the_registry_keys():
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    model = schema["properties"]["models"]["additionalProperties"]["properties"]
    assert model["arch"]["enum"] == list(ARCHS)
    assert model["normalize"]["enum"] == list(SCALER_MODES)
    assert model["fallback"]["enum"] == list(FALLBACKS)
    # feature names are registry sets or variants (R4): Plan checks them against the registry
    assert "enum" not in schema["properties"]["features"]["items"]
    dataset = schema["properties"]["datasets"]["additionalProperties"]["properties"]
    assert dataset["format"]["enum"] == list(FORMATS)
    options = {k for k in dataset if k not in DATASET_KEYS}
    assert options == {k for keys in FORMATS.values() for k in keys}


def test_an_unknown_feature_set_is_an_error_listing_the_registry():
    cfg = demo_cfg()
    cfg["features"] = [*cfg["features"], "mfcc99"]
    registry = ".*".join(sorted(FEATURE_SETS))
    with pytest.raises(ConfigError, match=r"features: mfcc99: .*" + registry):
        Plan(cfg)


def test_a_dataset_key_of_another_format_is_an_error():
    cfg = demo_cfg()
    cfg["datasets"]["demo"]["speaker_regex"] = "(.*)"
    with pytest.raises(ConfigError, match=r"datasets\.demo\.speaker_regex is only used by formats "
                                          r"folders and list"):
        Plan(cfg)
