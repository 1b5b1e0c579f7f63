"""Snakemake adapter: the run's room impulse responses, simulated and measured (ser.conditions)."""
from pathlib import Path

from ser.conditions import build_rir_bank
from ser.smk import paths, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
a = sm.params.augment
run(sm, lambda: build_rir_bank(
    Path(sm.output[0]), rt60s=a["reverb_rt60"], files=paths(sm.input),
    sample_rate=sm.params.audio["sample_rate"], seed=a["seed"], rooms=a["rooms"]))
