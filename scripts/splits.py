"""Snakemake adapter: speaker-independent folds of a dataset (ser.splits via ser.stages)."""
from pathlib import Path

from ser.smk import path, run
from ser.stages import dataset_splits

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: dataset_splits(path(sm.input.manifest), Path(sm.output[0]), sm.params.split,
                               emotions=sm.params.emotions))
