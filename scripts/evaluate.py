"""Snakemake adapter: metrics, tables and figures of one dataset x model (ser.evaluate)."""
from pathlib import Path

from ser.evaluate import evaluate_model
from ser.smk import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
bundles = [Path(p) for p in sm.input.get("bundles", [])]
histories = [b / "history.csv" for b in bundles if (b / "history.csv").exists()]
splits = sm.input.get("splits")
run(sm, lambda: evaluate_model(
    [Path(p) for p in sm.input.predictions], histories, Path(sm.output.metrics).parent,
    ood_other=[Path(p) for p in sm.input.get("ood_other", [])],
    splits=Path(splits) if splits else None, bundles=bundles,
    features=[Path(p) for p in sm.input.get("features", [])],
    corpus=sm.params.get("corpus")))
