"""Benchmark: how fast a bad config stops `snakemake`, against Snakemake's own start-up.

    python bench/startup.py [--repeat 1]

For every row of the bad-config table (tests/test_startup.py: the config and its expected
one-line message) this runs `snakemake -n --configfile BAD.yaml` as a user would, on the same
small corpus of real RAVDESS clips, and prints the message, the wall seconds and the CPU seconds.
Baseline, measured in the same run: `snakemake -n` on a valid config of the same corpus up to the
end of planning (`--dag`, which builds the DAG and prints it, nothing runs), so the ratio says
what the checks cost on top of what Snakemake needs to start at all. Target: every row fails in
under 5 s wall on an idle machine. The machine may be shared: the load average is printed, and
CPU seconds (children included) beside wall seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def load_table() -> tuple[dict, object]:
    spec = importlib.util.spec_from_file_location("test_startup", ROOT / "tests" /
                                                  "test_startup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TABLE, module


def run(workdir: Path, config: Path, *extra: str) -> tuple[float, float, str, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
                           "--directory", str(workdir), "--configfile", str(config), "-n",
                           "--workflow-profile", "none", *extra],
                          capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    return wall, cpu, lines[-1] if lines else "", proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per row (best is kept)")
    args = parser.parse_args()
    table, module = load_table()
    import tempfile

    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        module.build_corpora(wd)
        good = wd / "good.yaml"
        good.write_text(yaml.safe_dump({"datasets": {"r": module.RAV}, "models": module.SVM,
                                        "features": ["egemaps"], "split": {"folds": 3}}))
        print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")
        base = min((run(wd, good, "--dag") for _ in range(args.repeat)), key=lambda r: r[0])
        assert base[3] == 0, base
        print(f"baseline: snakemake -n --dag on a valid config: {base[0]:.1f} s wall, "
              f"{base[1]:.1f} s CPU")
        worst = 0.0
        for case, (config, expected) in table.items():
            if isinstance(config, str):
                continue  # a YAML syntax error stops Snakemake before the workflow is read
            path = module.write(wd, config)
            wall, cpu, last, rc = min((run(wd, path) for _ in range(args.repeat)),
                                      key=lambda r: r[0])
            ok = rc != 0 and last.startswith(f"Configuration error: {expected}")
            worst = max(worst, wall)
            print(f"{wall:5.1f} s ({wall / base[0]:.2f}x baseline, CPU {cpu:.1f} s) "
                  f"{'ok ' if ok else 'BAD'} {case}: {last}")
        print(f"slowest: {worst:.1f} s wall ({worst / base[0]:.2f}x baseline); target < 5 s "
              f"on an idle machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
