"""Snakemake adapter: generate the embedded demo corpus (ser.demo)."""
from pathlib import Path

from ser.demo import make_demo_corpus
from ser.smk import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params.demo
run(sm, lambda: make_demo_corpus(Path(sm.output[0]), n_speakers=p.get("speakers", 6),
                                 statements=p.get("statements", 2),
                                 repetitions=p.get("repetitions", 1), seed=p.get("seed", 0)))
