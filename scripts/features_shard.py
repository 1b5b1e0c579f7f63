"""Snakemake adapter: one feature set over one shard, clean and noisy rows (ser.features)."""
from pathlib import Path

from ser.features import run_features_shard
from ser.smk import path, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
noisy = path(sm.input.noisy) if sm.input.noisy else None  # none without augment conditions
run(sm, lambda: run_features_shard(
    path(sm.input.clean), noisy, sm.wildcards.fs, Path(sm.output.table),
    Path(sm.output.rejected), dataset=sm.wildcards.dataset, params=dict(sm.params.fs_params),
    threads=sm.threads))
