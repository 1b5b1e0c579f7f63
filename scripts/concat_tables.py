"""Snakemake adapter: concatenate shard tables into one overview table."""
from pathlib import Path

from ser.io import concat_parquet
from ser.smk import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: concat_parquet([Path(p) for p in sm.input], Path(sm.output[0])))
