"""Snakemake adapter: combine shard feature tables into results/features/{dataset}/{fs}.parquet."""
from pathlib import Path

from ser.features import combine_shards
from ser.smk import paths, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: combine_shards(paths(sm.input.tables), Path(sm.output.table),
                               paths(sm.input.rejected), Path(sm.output.rejected)))
