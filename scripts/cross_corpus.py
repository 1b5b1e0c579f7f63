"""Snakemake adapter: train on all of one corpus, predict another (ser.train.cross_corpus)."""
from pathlib import Path

from ser.smk import paths, run
from ser.train import cross_corpus

sm = snakemake  # noqa: F821 (injected by Snakemake)
w = sm.wildcards
run(sm, lambda: cross_corpus(
    paths(sm.input.train), paths(sm.input.test), dict(sm.params.model),
    Path(sm.output.bundle), Path(sm.output.predictions), train_name=w.train, test_name=w.test,
    model_name=w.model, seed=sm.params.train["seed"], threads=sm.threads,
    emotions=sm.params.emotions, audio=dict(sm.params.audio)))
