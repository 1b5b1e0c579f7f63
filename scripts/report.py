"""Snakemake adapter: leaderboard and self-contained HTML report (ser.report)."""
from pathlib import Path

from ser.report import build_report, print_leaderboard
from ser.smk import paths, run
from ser.trust import provenance

sm = snakemake  # noqa: F821 (injected by Snakemake)


def main() -> None:
    build_report([p.parent for p in paths(sm.input.metrics)],
                 [p.parent for p in paths(sm.input.eda)], Path(sm.output.html).parent,
                 cross_dirs=[p.parent for p in paths(sm.input.cross)], title=sm.params.title,
                 provenance=provenance(sm.params.config))
    print_leaderboard(Path(sm.output.md))


run(sm, main)
