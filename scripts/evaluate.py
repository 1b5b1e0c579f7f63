"""Snakemake adapter: metrics, tables and figures of one dataset x model (ser.evaluate)."""
from pathlib import Path

from ser.evaluate import evaluate_model
from ser.smk import path, paths, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
bundles = paths(sm.input.get("bundles"))
histories = [b / "history.csv" for b in bundles if (b / "history.csv").exists()]
splits = sm.input.get("splits")
run(sm, lambda: evaluate_model(
    paths(sm.input.predictions), histories, Path(sm.output.metrics).parent,
    ood_other=paths(sm.input.get("ood_other")),
    splits=path(splits) if splits else None, bundles=bundles,
    features=paths(sm.input.get("features")),
    corpus=sm.params.get("corpus")))
