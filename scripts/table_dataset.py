"""Snakemake adapter: a ready-made feature table as a dataset (ser.stages)."""
from pathlib import Path

from ser.smk import path, run
from ser.stages import table_dataset

sm = snakemake  # noqa: F821 (injected by Snakemake)
ds = sm.params.ds
run(sm, lambda: table_dataset(
    path(sm.input[0]), Path(sm.output.features), Path(sm.output.manifest),
    dataset=sm.wildcards.dataset, label_column=ds.get("label_column", "label"),
    speaker_column=ds.get("speaker_column", "speaker"), emotions=sm.params.emotions))
