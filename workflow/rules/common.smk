# Shared wiring: the Plan (src/ser/plan.py) decides what exists; these helpers turn it into paths.
import os
import re
import shlex
import sys
from pathlib import Path

from ser.checks import load_schema, report as config_report, start
from ser.demo import generator_id as demo_generator_id
from ser.plan import ConfigError

# Schema (one line per problem, defaults filled in), the Plan's checks and what the file names
# reveal (speakers, folds, labels): every mistake knowable before decoding stops the run here.
try:
    plan = start(
        config,
        schema=load_schema(
            os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
        ),
    )
except ConfigError as exc:
    sys.exit(config_report(exc))

# the command line of this run, for the report's provenance (ser.trust.COMMAND_ENV); an
# environment variable, not a param, so that a different command line reruns nothing
os.environ.setdefault("SER_COMMAND", shlex.join(sys.argv))


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    model=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    fs=r"[A-Za-z0-9_]+",
    shard=r"\d+",
    fold=r"\d+",
    train=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    test=r"[A-Za-z0-9][A-Za-z0-9_-]*",


CONDA_ENV = "../../envs/ser.yaml"


def one_of(names):
    """Wildcard regex matching exactly these dataset names (never matches when empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


AUDIO_DS = one_of(plan.audio_datasets)
TABLE_DS = one_of([d for d in plan.datasets if plan.fmt(d) == "table"])
MERGE_DS = one_of([d for d in plan.datasets if plan.fmt(d) == "merge"])


def ensure_corpus(dataset):
    """Generated corpora exist only after their checkpoint has run."""
    if plan.is_demo(dataset):
        checkpoints.demo_corpus.get(dataset=dataset)


def shard_listing(wc):
    """One listing file per shard stands for its raw files (ser.listing)."""
    ensure_corpus(wc.dataset)
    return plan.shard_listing(wc.dataset, int(wc.shard))


def noisy_shard_table(wc):
    """The augment shard a features shard also reads; none without any augment condition
    (then no augment jobs run)."""
    if not plan.conditions:
        return []
    return f"results/augment/{wc.dataset}/shards/{wc.shard}.parquet"


def shard_labels(wc):
    """What the corpus says about a shard's files (a param: relabelling a list reruns it)."""
    ensure_corpus(wc.dataset)
    return plan.shard_labels(wc.dataset, int(wc.shard))


def shard_paths(pattern):
    def inner(wc):
        ensure_corpus(wc.dataset)
        return expand(pattern, shard=plan.shards(wc.dataset), allow_missing=True, **wc)

    return inner


def dataset_folds(dataset):
    """Fold numbers of a dataset (needs the corpus, hence the checkpoint for generated ones)."""
    if plan.is_audio(dataset):
        ensure_corpus(dataset)
    elif plan.fmt(dataset) == "merge":
        for src in plan.ds(dataset)["sources"]:
            ensure_corpus(src)
    return plan.folds(dataset)


def fold_paths(pattern):
    def inner(wc):
        return expand(pattern, fold=dataset_folds(wc.dataset), allow_missing=True, **wc)

    return inner


def model_feature_tables(wc):
    return [
        f"results/features/{wc.dataset}/{fs}.parquet"
        for fs in plan.model_features(wc.model)
    ]


def manifest_path(dataset):
    return f"results/manifests/{dataset}.parquet"


def all_manifests():
    return [manifest_path(d) for d in plan.datasets]


def all_feature_tables():
    return [
        f"results/features/{d}/{fs}.parquet"
        for d in plan.datasets
        for fs in plan.feature_sets(d)
    ]


def all_augment_tables():
    return [f"results/augment/{d}/table.parquet" for d in plan.audio_datasets]


def all_fold_models(wc):
    return [
        f"results/models/{d}/{m}/fold{k}"
        for d, m in plan.pairs
        for k in dataset_folds(d)
    ] + all_final_models()


def all_final_models():
    return [f"results/models/{d}/{m}/final" for d, m in plan.final_pairs]


def all_metrics():
    return [f"results/eval/{d}/{m}/metrics.json" for d, m in plan.pairs]


def all_cross_metrics():
    return [f"results/cross/{a}__{b}/{m}/metrics.json" for a, b, m in plan.cross]
