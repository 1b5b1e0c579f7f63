"""Snakemake adapter: degraded copies of one shard (ser.augment)."""
from pathlib import Path

from ser.augment import run_augment_shard
from ser.smk import path, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
a = sm.params.augment
run(sm, lambda: run_augment_shard(
    path(sm.input.table), Path(sm.output.table), Path(sm.output.wav), snr_db=a["snr_db"],
    noise=a["noise"], babble_bank=path(sm.input.babble) if sm.input.babble else None,
    sample_rate=sm.params.audio["sample_rate"], seed=a["seed"],
    conditions=sm.params.conditions, rir_bank=path(sm.input.rirs) if sm.input.rirs else None))
