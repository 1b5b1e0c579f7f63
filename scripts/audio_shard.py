"""Snakemake adapter: decode one shard of a corpus to clean WAVs (ser.manifest)."""
from pathlib import Path

from ser.manifest import run_audio_shard
from ser.plan import Plan
from ser.smk import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
plan = Plan(sm.config)
ds, shard = sm.wildcards.dataset, int(sm.wildcards.shard)
a = sm.params.audio
run(sm, lambda: run_audio_shard(
    plan.shard_entries(ds, shard), [e.rel for e in plan.entries(ds)], shard,
    Path(sm.output.table), Path(sm.output.wav), sample_rate=a["sample_rate"],
    min_duration=a["min_duration"], silence_dbfs=a["silence_dbfs"], trim_db=a.get("trim_db")))
