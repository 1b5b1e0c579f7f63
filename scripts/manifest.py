"""Snakemake adapter: combine shard manifests into results/manifests/{dataset}.parquet."""
from pathlib import Path

from ser.manifest import combine_manifests
from ser.smk import paths, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: combine_manifests(paths(sm.input), Path(sm.output.manifest),
                                  sm.wildcards.dataset, Path(sm.output.rejected)))
