"""Snakemake adapter: concatenate shard tables into one overview table."""
from pathlib import Path

from ser.io import concat_parquet
from ser.smk import paths, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: concat_parquet(paths(sm.input), Path(sm.output[0])))
