"""Snakemake adapter: babble bank of a corpus from its first shards (ser.augment)."""
from pathlib import Path

from ser.augment import build_babble_bank
from ser.smk import paths, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: build_babble_bank(
    paths(sm.input), Path(sm.output[0]), sample_rate=sm.params.audio["sample_rate"],
    n_utterances=sm.params.augment["babble_utterances"], seed=sm.params.augment["seed"]))
