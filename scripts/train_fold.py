"""Snakemake adapter: train one fold of one model on one dataset (ser.train)."""
from pathlib import Path

from ser.smk import path, paths, run
from ser.train import train_fold

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: train_fold(
    paths(sm.input.features), path(sm.input.splits), int(sm.wildcards.fold),
    dict(sm.params.model), Path(sm.output.bundle), Path(sm.output.predictions),
    dataset=sm.wildcards.dataset, model_name=sm.wildcards.model, seed=sm.params.train["seed"],
    threads=sm.threads, smote=sm.params.split["smote"], emotions=sm.params.emotions,
    audio=dict(sm.params.audio), manifest=Path(sm.input.manifest),
    corpus=dict(sm.params.corpus)))
