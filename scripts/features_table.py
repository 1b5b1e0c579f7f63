"""Snakemake adapter: combine shard feature tables into results/features/{dataset}/{fs}.parquet."""
from pathlib import Path

from ser.features import combine_shards
from ser.smk import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: combine_shards([Path(p) for p in sm.input.tables], Path(sm.output.table),
                               [Path(p) for p in sm.input.rejected], Path(sm.output.rejected)))
