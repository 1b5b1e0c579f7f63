"""Benchmark: how Snakemake plans a 100k-clip corpus (audio + eGeMAPS): job count, dry-run time.

Why: podcast-scale SER corpora have 100k-150k clips; before the shard listings and the shard cap
such a corpus planned 3,075 jobs and `snakemake -n` took 159 s before any job ran.

    python bench/dag.py [--copies 216] [--data ../shared/data/ravdess-dev]

Builds a corpus of `--copies` x the real RAVDESS clips of `--data` as symbolic links in a
temporary folder (216 x 480 = 103,680 clips), then times `snakemake -n features` with audio +
augment (the default 3 SNRs) + eGeMAPS: a first dry run (scans the corpus, hashes every file
once, writes the shard listings) and a second one (hashes cached: the usual case). Then it
replaces one link by a link to another clip (new content) and one by a copy of its own clip
(new mtime, same content; the real data is never written), plans again, and counts the shard
listings that changed: the edit must change exactly one (one shard reruns), the copy none.
Targets (issue 19): <= ~1,500 jobs and a dry run <= 30 s at 100k clips. Wall times on a shared
machine include the neighbours' load (printed with the CPU seconds of the run itself).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "ravdess-dev"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def build(data: Path, corpus: Path, copies: int) -> dict[Path, Path]:
    """link -> real clip; links already in place (a kept --workdir) are reused."""
    clips = sorted(data.glob("Actor_*/*.flac")) + sorted(data.glob("Actor_*/*.wav"))
    if not clips:
        sys.exit(f"no RAVDESS clips under {data}")
    links = {}
    for k in range(copies):
        for c in clips:
            link = corpus / f"copy{k:03d}" / c.parent.name / c.name
            links[link] = c.resolve()
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(links[link], link)
    return links


def relink(link: Path, target: Path) -> None:
    link.unlink()
    os.symlink(target, link)


def dry_run(work: Path, config: Path) -> tuple[float, float, int, str]:
    """(wall s, CPU s of snakemake, jobs planned, log tail) of `snakemake -n features`."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--configfile", str(config), "--directory", str(work), "--cores", "1", "features",
           "-n", "--quiet", "rules"]
    r0 = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    r1 = os.times()
    cpu = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        sys.exit(f"snakemake -n failed:\n{out[-3000:]}")
    m = re.search(r"^total\s+(\d+)", out, re.M)
    return wall, cpu, int(m.group(1)) if m else 0, out


def listing_state(work: Path) -> dict[str, int]:
    folder = work / "results" / "audio" / "big" / "listing"
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--copies", type=int, default=216, help="links per real clip")
    ap.add_argument("--workdir", type=Path, help="keep corpus and run here (default: temporary)")
    args = ap.parse_args(argv)
    data = args.data.resolve()
    if not data.is_dir():
        print(f"data folder not found: {data}", file=sys.stderr)
        return 2
    base = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="ser-dag-"))
    corpus, work = base / "corpus", base / "work"
    try:
        t0 = time.perf_counter()
        targets = build(data, corpus, args.copies)
        links = list(targets)
        print(f"{len(links)} links to real clips in {corpus} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        config = base / "config.yaml"
        config.write_text(f'datasets: {{big: {{format: ravdess, path: "{corpus}"}}}}\n'
                          "features: [egemaps]\n")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        print(f"before: {uptime()}", flush=True)
        first = dry_run(work, config)
        second = dry_run(work, config)
        print(f"after:  {uptime()}", flush=True)

        before = listing_state(work)
        edited, touched = links[len(links) // 3], links[2 * len(links) // 3]
        relink(edited, targets[links[1]])  # the same name now holds another clip's bytes
        touched.unlink()  # a copy in place of the link: same bytes, new mtime
        shutil.copyfile(targets[touched], touched)
        third = dry_run(work, config)
        after = listing_state(work)
        changed = sorted(k for k in after if after[k] != before.get(k))
        relink(edited, targets[edited])  # the corpus as built, for a rerun with --workdir
        relink(touched, targets[touched])

        shards = len(after)
        print(f"\n{len(links)} clips, audio + augment (3 SNRs) + eGeMAPS, {shards} shards")
        print(f"{'dry run':28s} {'wall s':>7s} {'CPU s':>7s} {'jobs':>6s}")
        for name, r in (("first (hashes every file)", first), ("second (hashes cached)", second),
                        ("after one edit + one touch", third)):
            print(f"{name:28s} {r[0]:7.1f} {r[1]:7.1f} {r[2]:6d}")
        jobs_ok, time_ok = second[2] <= 1500, second[0] <= 30
        print(f"jobs planned: {second[2]} (target <= ~1,500: {'met' if jobs_ok else 'NOT met'})")
        print(f"dry run: {second[0]:.1f} s wall, {second[1]:.1f} s CPU (target <= 30 s: "
              f"{'met' if time_ok else 'NOT met'}; first run {first[0]:.1f} s)")
        print(f"shard listings changed by one edited + one touched clip: {len(changed)} "
              f"({'met' if len(changed) == 1 else 'NOT met'}: one shard reruns)")
        load = os.getloadavg()[0]
        if load > (os.cpu_count() or 1):
            print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs: wall times include "
                  "other processes' work (CPU s is this run's own); re-measure on a quiet machine")
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
