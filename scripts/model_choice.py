"""Snakemake adapter: which model `ser predict results/models/DATASET` uses (ser.report)."""
from pathlib import Path

from ser.report import write_model_choice
from ser.smk import paths, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: write_model_choice([p.parent for p in paths(sm.input.metrics)],
                                   sm.wildcards.dataset, Path(sm.output[0])))
