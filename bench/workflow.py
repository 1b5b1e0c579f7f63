"""Benchmark: the workflow (audio + eGeMAPS) against raw openSMILE on one core, decoding included.

Why: a workflow pays for process starts, file IO and Snakemake's own scheduling; this measures
what it delivers against the plainest way to get the same features, on the same real clips.

    python bench/workflow.py [--data ../shared/data/ravdess-dev] [--copies 2] [--input wav]

Corpus: the real RAVDESS clips of `--data`, converted once to 16-bit WAV (`--input wav`, the
default) or used as they are (`--input flac`), and linked `--copies` times under copy folders
(so the corpus can be larger than the data). Then, in `--repeat` interleaved rounds (fastest
counts):
  (a)  raw openSMILE: `opensmile.Smile(eGeMAPSv02).process_file` over every clip in one process
       pinned to one CPU (decoding included: openSMILE reads the files itself);
  (b)  `snakemake --cores 1 features` from an empty results folder (audio stage + eGeMAPS, no
       noisy copies, so both do the same work), including Snakemake's start and DAG;
  (c)  the same with `--cores 2`;
  (d)  `snakemake --cores 1 audio` from empty results: the audio stage alone.
Snakemake's own CPU is the CPU time of the snakemake process itself (its jobs run as child
processes), measured with getrusage(RUSAGE_SELF) at its exit; "share" is that over the CPU
time of the whole run (snakemake + all its jobs).

Targets (issue 19): a/c >= 1.6 (the workflow on 2 cores at least 1.6x raw one core);
audio stage >= 200 clips/s per core on WAV input (clips / CPU seconds of the audio jobs);
Snakemake's own CPU <= 5 % of the run. On a shared machine wall times include the neighbours'
load: the load average is printed with every figure; CPU-time figures are less affected.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "ravdess-dev"
DATASET = "rav"

# Runs Snakemake's CLI in this interpreter and writes the process' own CPU seconds at exit.
_WRAPPER = """
import atexit, os, resource, sys
def _report():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["SER_BENCH_SELF_CPU"], "w") as fh:
        fh.write(repr(ru.ru_utime + ru.ru_stime))
atexit.register(_report)
from snakemake.cli import main
sys.argv = ["snakemake", *sys.argv[1:]]
main()
"""

# Raw openSMILE over a file list, in a process pinned to one CPU: prints JSON (wall, cpu, n).
_RAW = """
import json, os, sys, time
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
import numpy as np, opensmile
paths = [line for line in open(sys.argv[1]).read().splitlines() if line]
smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                        feature_level=opensmile.FeatureLevel.Functionals)
smile.process_file(paths[0])  # warm: library loaded, as the workflow's jobs do it too
t0, c0 = time.perf_counter(), time.process_time()
rows = [smile.process_file(p).to_numpy(dtype=np.float32)[0] for p in paths]
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
np.save(sys.argv[2], np.asarray(rows, np.float32))
print(json.dumps({"wall": wall, "cpu": cpu, "n": len(rows)}))
"""


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def load() -> float:
    return os.getloadavg()[0]


def build_corpus(data: Path, work: Path, copies: int, as_wav: bool) -> list[Path]:
    """Real clips, once converted to WAV (or linked as they are), linked `copies` times."""
    import soundfile as sf

    src = sorted(data.glob("Actor_*/*.flac")) + sorted(data.glob("Actor_*/*.wav"))
    if not src:
        sys.exit(f"no RAVDESS clips (Actor_*/*.flac|wav) under {data}")
    if as_wav:
        conv = work / "wav"
        out = []
        for f in src:
            dest = conv / f.parent.name / (f.stem + ".wav")
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                x, sr = sf.read(f, dtype="int16")
                sf.write(dest, x, sr, subtype="PCM_16", format="WAV")
            out.append(dest)
        src = out
    corpus = work / "corpus"
    paths = []
    for k in range(copies):
        for f in src:
            link = corpus / f"copy{k:02d}" / f.parent.name / f.name
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(f.resolve(), link)
            paths.append(link)
    return paths


def snakemake(work: Path, config: Path, cores: int, target: str,
              extra: list[str] | None = None) -> dict:
    """A fresh run (empty results/ and .snakemake/) of `target`; wall, CPU, snakemake's own CPU."""
    shutil.rmtree(work / "results", ignore_errors=True)
    shutil.rmtree(work / ".snakemake", ignore_errors=True)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SER_BENCH_SELF_CPU"] = str(work / "self_cpu.txt")
    cmd = [sys.executable, "-c", _WRAPPER, "--snakefile", str(ROOT / "Snakefile"),
           "--configfile", str(config), "--directory", str(work), "--cores", str(cores), target,
           *(extra or [])]
    log = work / f"{target}-cores{cores}.log"
    l0, cpu0, t0 = load(), _children_cpu(), time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              check=False)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-30:]
        sys.exit(f"snakemake {target} --cores {cores} failed (exit {proc.returncode}):\n"
                 + "\n".join(tail))
    own = float((work / "self_cpu.txt").read_text())
    return {"wall": wall, "cpu": cpu, "snakemake_cpu": own, "jobs_cpu": cpu - own,
            "load": [l0, load()]}


def raw_opensmile(work: Path, paths: list[Path]) -> dict:
    lst = work / "raw_paths.txt"
    lst.write_text("\n".join(str(p) for p in paths) + "\n")
    l0, t0 = load(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RAW, str(lst), str(work / "raw.npy")],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"raw openSMILE failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["total_wall"] = time.perf_counter() - t0
    out["load"] = [l0, load()]
    return out


def compare_tables(work: Path, paths: list[Path]) -> tuple[int, int, float]:
    """The workflow's eGeMAPS rows against raw openSMILE's on the mono clips (openSMILE's
    process_file takes the first channel of a stereo file, the workflow averages them):
    (rows in the table, mono rows compared, max |diff|)."""
    import numpy as np
    import soundfile as sf

    from ser.features import read_features

    meta, x, _ = read_features(work / "results" / "features" / DATASET / "egemaps.parquet")
    raw = np.load(work / "raw.npy")
    corpus = work / "corpus"
    index = {str(p.relative_to(corpus).with_suffix("")): i for i, p in enumerate(paths)}
    pairs = [(j, index[i]) for j, i in enumerate(meta["id"])
             if sf.info(paths[index[i]]).channels == 1]
    if not pairs:
        return len(meta), 0, float("nan")
    ours, theirs = zip(*pairs, strict=True)
    return len(meta), len(pairs), float(np.max(np.abs(raw[list(theirs)] - x[list(ours)])))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RAVDESS-layout folder")
    ap.add_argument("--copies", type=int, default=4, help="times each clip is linked")
    ap.add_argument("--input", choices=("wav", "flac"), default="wav")
    ap.add_argument("--shard-size", type=int, help="audio.shard_size (default: the schema's)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds (fastest of each counts)")
    ap.add_argument("--workdir", type=Path, help="keep the run here (default: temporary)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--snakemake-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for every snakemake run (repeat: --snakemake-arg="
                         "--scheduler --snakemake-arg=ilp)")
    args = ap.parse_args(argv)

    data = args.data.resolve()
    if not data.is_dir():
        print(f"data folder not found: {data}", file=sys.stderr)
        return 2
    work = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="ser-wf-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir {work}; {os.cpu_count()} CPUs; uptime: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}",
          flush=True)
    try:
        paths = build_corpus(data, work, args.copies, args.input == "wav")
        n = len(paths)
        config = work / "bench-config.yaml"
        config.write_text(json.dumps({  # JSON is YAML
            "datasets": {DATASET: {"format": "ravdess", "path": str(work / "corpus")}},
            "audio": {"sample_rate": 16000,
                      **({"shard_size": args.shard_size} if args.shard_size else {})},
            "augment": {"snr_db": [], "noise": ["white"]},
            "features": ["egemaps"],
        }, indent=2))
        print(f"corpus: {n} real clips ({args.input}, {args.copies} links each)", flush=True)
        runs: dict[str, list[dict]] = {"a": [], "b": [], "c": [], "d": []}
        for k in range(args.repeat):  # rounds interleave a, b, c, d: drift hits all alike
            runs["a"].append(raw_opensmile(work, paths))
            extra = args.snakemake_arg
            runs["d"].append(snakemake(work, config, 1, "audio", extra))
            runs["b"].append(snakemake(work, config, 1, "features", extra))
            runs["c"].append(snakemake(work, config, 2, "features", extra))
            print(f"round {k + 1}/{args.repeat}: " + ", ".join(
                f"{key} {r[-1]['wall']:.1f} s" for key, r in runs.items()), flush=True)
        a, b, c, d = (min(runs[key], key=lambda r: r["wall"]) for key in "abcd")
        in_table, compared, max_diff = compare_tables(work, paths)

        print(f"\n{n} clips, eGeMAPS; wall s (load average at start-end)")
        print(f"{'run':34s} {'wall s':>7s} {'clips/s':>8s} {'CPU s':>7s} {'smk CPU':>8s} "
              f"{'load':>9s}")
        rows = [("a) raw openSMILE, 1 core", a, None),
                ("b) workflow --cores 1", b, b["snakemake_cpu"]),
                ("c) workflow --cores 2", c, c["snakemake_cpu"]),
                ("d) audio stage --cores 1", d, d["snakemake_cpu"])]
        for name, r, own in rows:
            cpu = r.get("cpu", 0.0)
            print(f"{name:34s} {r['wall']:7.1f} {n / r['wall']:8.1f} {cpu:7.1f} "
                  f"{'' if own is None else f'{own:.1f}':>8s} "
                  f"{r['load'][0]:4.1f}-{r['load'][1]:<4.1f}")
        ratio_b, ratio_c = a["wall"] / b["wall"], a["wall"] / c["wall"]
        audio_rate = n / max(d["jobs_cpu"], 1e-9)
        shares = {key: r["snakemake_cpu"] / max(r["cpu"], 1e-9) for key, r in
                  (("b", b), ("c", c))}
        checks = [
            (f"workflow --cores 1 vs raw one core: {ratio_b:.2f}x", None),
            (f"workflow --cores 2 vs raw one core: {ratio_c:.2f}x (target >= 1.6)",
             ratio_c >= 1.6),
            (f"audio stage: {audio_rate:.0f} clips/s per core (CPU of its jobs), "
             f"{n / d['wall']:.0f} clips/s wall on 1 core incl. Snakemake start (target >= 200 "
             f"per core{'' if args.input == 'wav' else '; target is for WAV input'})",
             audio_rate >= 200 if args.input == "wav" else None),
            (f"snakemake's own CPU: {100 * shares['b']:.1f} % (--cores 1), "
             f"{100 * shares['c']:.1f} % (--cores 2) of the run's CPU (target <= 5 %)",
             max(shares.values()) <= 0.05),
            (f"workflow table: {in_table} of {n} clips; equals raw openSMILE on the "
             f"{compared} mono clips: max |diff| {max_diff:.3g}",
             in_table == n and max_diff <= 1e-4),
        ]
        for text, ok in checks:
            mark = "" if ok is None else ("  [met]" if ok else "  [NOT met]")
            print(text + mark)
        peak = max(max(r["load"]) for r in (a, b, c, d))
        if peak > (os.cpu_count() or 1):
            print(f"note: load average up to {peak:.1f} on {os.cpu_count()} CPUs: wall-time "
                  "figures include other processes' work; re-measure on a quiet machine")
        if args.json:
            args.json.write_text(json.dumps({
                "clips": n, "input": args.input, "cpus": os.cpu_count(),
                "runs": {"raw": a, "cores1": b, "cores2": c, "audio": d},
                "ratio_cores1": ratio_b, "ratio_cores2": ratio_c,
                "audio_clips_per_cpu_s": audio_rate, "snakemake_cpu_share": shares,
                "rows": in_table, "rows_compared": compared, "max_abs_diff": max_diff,
                "repeat": args.repeat,
            }, indent=2))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
