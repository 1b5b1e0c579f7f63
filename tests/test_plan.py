"""The plan: stable shards, config errors that name the key, models per dataset, fold counts."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from ser.plan import ConfigError, Plan, shard_count, shard_of

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
