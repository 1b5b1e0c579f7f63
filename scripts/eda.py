"""Snakemake adapter: exploratory figures of one corpus (ser.eda)."""
from pathlib import Path

from ser.eda import run_eda
from ser.smk import path, run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(sm, lambda: run_eda(path(sm.input.manifest), Path(sm.output.figures), sm.wildcards.dataset,
                        summary=Path(sm.output.summary)))
