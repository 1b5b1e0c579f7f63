"""Snakemake adapter: merged corpus, feature tables or manifest (ser.stages)."""
from pathlib import Path

from ser.smk import paths, run
from ser.stages import merge_manifests, merge_tables

sm = snakemake  # noqa: F821 (injected by Snakemake)
ds = sm.params.ds
sources = dict(zip(ds["sources"], paths(sm.input), strict=True))
fn = merge_manifests if sm.rule == "merge_manifest" else merge_tables
run(sm, lambda: fn(sources, Path(sm.output[0]), dataset=sm.wildcards.dataset,
                   label_map=ds.get("label_map"), emotions=sm.params.emotions))
