"""Snakemake adapter: leaderboard and self-contained HTML report (ser.report)."""
from pathlib import Path

from ser.report import build_report, print_leaderboard
from ser.smk import run
from ser.trust import provenance

sm = snakemake  # noqa: F821 (injected by Snakemake)


def main() -> None:
    build_report([Path(p).parent for p in sm.input.metrics],
                 [Path(p).parent for p in sm.input.eda], Path(sm.output.html).parent,
                 cross_dirs=[Path(p).parent for p in sm.input.cross], title=sm.params.title,
                 provenance=provenance(sm.params.config))
    print_leaderboard(Path(sm.output.md))


run(sm, main)
