# Shared wiring: the Plan (src/ser/plan.py) decides what exists; these helpers turn it into paths.
import sys
from pathlib import Path

from ser.plan import ConfigError, Plan, format_snr


try:
    plan = Plan(config)
except ConfigError as exc:
    sys.exit(f"Configuration error: {exc}")


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    fs=r"[A-Za-z0-9_]+",
    shard=r"\d+",
    fold=r"\d+",
    train=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    test=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


CONDA_ENV = "../../envs/ser.yaml"


def ensure_corpus(dataset):
    """Generated corpora exist only after their checkpoint has run."""
    if plan.is_demo(dataset):
        checkpoints.demo_corpus.get(dataset=dataset)


def raw_shard_files(wc):
    ensure_corpus(wc.dataset)
    return plan.shard_inputs(wc.dataset, int(wc.shard))


def shard_paths(pattern):
    def inner(wc):
        ensure_corpus(wc.dataset)
        return expand(pattern, shard=plan.shards(wc.dataset), allow_missing=True, **wc)

    return inner


def fold_paths(pattern):
    def inner(wc):
        ds = wc.dataset
        if plan.is_audio(ds):
            ensure_corpus(ds)
        elif plan.fmt(ds) == "merge":
            for src in plan.ds(ds)["sources"]:
                ensure_corpus(src)
        return expand(pattern, fold=plan.folds(ds), allow_missing=True, **wc)

    return inner


def model_feature_tables(wc):
    return [
        f"results/features/{wc.dataset}/{fs}.parquet" for fs in plan.model_features(wc.model)
    ]


def manifest_path(dataset):
    return f"results/manifests/{dataset}.parquet"


def all_manifests():
    return [manifest_path(d) for d in plan.datasets]


def all_feature_tables():
    return [
        f"results/features/{d}/{fs}.parquet" for d in plan.datasets for fs in plan.feature_sets(d)
    ]


def all_augment_tables():
    return [f"results/augment/{d}/table.parquet" for d in plan.audio_datasets]


def all_fold_models(wc):
    out = []
    for d, m in plan.pairs:
        out += fold_paths("results/models/{dataset}/{model}/fold{fold}")(
            Wildcards(fromdict={"dataset": d, "model": m})
        )
    return out


def all_metrics():
    return [f"results/eval/{d}/{m}/metrics.json" for d, m in plan.pairs]


def all_cross_metrics():
    return [f"results/cross/{a}__{b}/{m}/metrics.json" for a, b, m in plan.cross]
