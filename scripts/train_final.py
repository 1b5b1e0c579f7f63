"""Snakemake adapter: the final model of one dataset x model, trained on all clips (ser.train)."""
from pathlib import Path

from ser.smk import run
from ser.train import train_full

sm = snakemake  # noqa: F821 (injected by Snakemake)
model = dict(sm.params.model)
run(sm, lambda: train_full(
    [Path(p) for p in sm.input.features], model, Path(sm.output.bundle),
    dataset=sm.wildcards.dataset, model_name=sm.wildcards.model, seed=sm.params.train["seed"],
    threads=sm.threads, smote=sm.params.split["smote"],
    train_on=model.get("train_on", sm.params.train["train_on"]),
    condition_balance=model.get("condition_balance", sm.params.train["condition_balance"]),
    emotions=sm.params.emotions,
    audio=dict(sm.params.audio), manifest=Path(sm.input.manifest),
    corpus=dict(sm.params.corpus)))
