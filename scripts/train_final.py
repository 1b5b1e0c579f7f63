"""Snakemake adapter: the final model of one dataset x model, trained on all clips (ser.train)."""
from pathlib import Path

from ser.smk import paths, run
from ser.train import train_full

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: train_full(
    paths(sm.input.features), dict(sm.params.model), Path(sm.output.bundle),
    dataset=sm.wildcards.dataset, model_name=sm.wildcards.model, seed=sm.params.train["seed"],
    threads=sm.threads, smote=sm.params.split["smote"], emotions=sm.params.emotions,
    audio=dict(sm.params.audio), manifest=Path(sm.input.manifest),
    corpus=dict(sm.params.corpus)))
