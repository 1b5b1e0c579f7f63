"""Benchmark: feature extraction in the workflow vs openSMILE in-process, 1 vs 2 cores.

Why: the workflow splits extraction into shard jobs (one process each, plus Snakemake's own DAG
work); this measures what that costs against a bare in-process loop over the same signals, and
what running shard jobs in parallel buys.

    python bench/features.py [--feature-set is09_emotion] [--data ../shared/data/ravdess-dev]

Steps: write a config for the RAVDESS dev subset in a temporary folder; build `audio` + `augment`
there (not timed); then time, in `--repeat` interleaved rounds,
  (a)  openSMILE in-process (`Smile.process_signal`, one Smile) over the same clean + noisy signals
       the workflow extracts, already decoded in memory (for librosa sets: the ser extractor);
  (a2) the ser extractor in-process over the same signals (library overhead, for reference);
  (b)  `snakemake features --cores 1 --forcerun features_shard features_table`;
  (c)  the same with `--cores 2`.
Wall seconds decide the ratios; CPU seconds (user + sys, all child processes) are printed too,
since on a shared machine wall time also measures the neighbours. The fastest of the `--repeat`
runs (default 2) of each counts.

    python bench/features.py --per-core [--clips 24]

Cost per clip of the pretrained encoders next to openSMILE, in one process over the same real
clean clips (decoded once): clips per CPU-second ("clips/s per core": CPU time of the whole
process, so the encoder's threads count, and other users' load barely does), wall time, and the
ratio to eGeMAPS measured in the same run. Rows: openSMILE eGeMAPS / IS09 / ComParE; `whisper`
tiny.en as the set runs on a CPU (one clip per encoder call, 1 thread), with 8 clips per encoder
call (what it does on a GPU), with 2 threads, with the int8 compute type (and the correlation of
its embeddings to float32's), and the base model.
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


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def snakemake(work: Path, config: Path, cores: int, targets: list[str],
              extra: list[str] | None = None, log: Path | None = None) -> tuple[float, float]:
    """Run Snakemake from the repo root on `work`; return (wall s, CPU s of all children)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--configfile", str(config), "--directory", str(work), "--cores", str(cores),
           *targets, *(extra or [])]
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with open(log or os.devnull, "w") as fh:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              check=False)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        tail = Path(log).read_text().splitlines()[-30:] if log else []
        sys.exit(f"snakemake {' '.join(targets)} failed (exit {proc.returncode}):\n"
                 + "\n".join(tail))
    return wall, cpu


def signal_paths(work: Path) -> list[str]:
    """WAVs the features rule reads: ok clean clips, then ok noisy copies, over all shards."""
    import pandas as pd

    clean = sorted((work / "results" / "audio" / DATASET / "shards").glob("*.parquet"))
    noisy = sorted((work / "results" / "augment" / DATASET / "shards").glob("*.parquet"))
    paths: list[str] = []
    for f in clean + noisy:
        df = pd.read_parquet(f, columns=["status", "wav"])
        paths += [str(work / w) for w in df.loc[df["status"] == "ok", "wav"]]
    return paths


def in_process(feature_set: str, signals: list, reference: bool) -> tuple[float, float, list]:
    """Time one extractor over decoded signals: (wall s, CPU s, features)."""
    from ser.features import FEATURE_SETS

    fs = FEATURE_SETS[feature_set]
    cpu0, t0 = time.process_time(), time.perf_counter()
    if reference and hasattr(fs, "smile_set"):
        import opensmile

        smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, fs.smile_set),
                                feature_level=opensmile.FeatureLevel.Functionals)
        out = [smile.process_signal(y, sr).to_numpy()[0] for y, sr in signals]
    else:
        extract = fs.extractor()
        out = [extract(y, sr) for y, sr in signals]
    return time.perf_counter() - t0, time.process_time() - cpu0, out


# (label, feature set, params, clips per call, threads)
PER_CORE_ROWS: list[tuple[str, str, dict, int, int]] = [
    ("openSMILE eGeMAPS", "egemaps", {}, 1, 1),
    ("openSMILE IS09", "is09_emotion", {}, 1, 1),
    ("openSMILE ComParE", "compare", {}, 1, 1),
    ("whisper tiny.en", "whisper", {}, 1, 1),
    ("whisper tiny.en, 8 clips/encoder call", "whisper", {}, 8, 1),
    ("whisper tiny.en, 2 threads", "whisper", {}, 1, 2),
    ("whisper tiny.en int8", "whisper", {"compute_type": "int8"}, 1, 1),
    ("whisper base", "whisper", {"model": "base"}, 1, 1),
]


def _batched_whisper(params: dict, per_call: int, threads: int):
    """Whisper with `per_call` clips per encoder call, as the set does on a GPU (on a CPU it
    encodes one clip per call): same values, to compare the cost. Clips up to 30 s."""
    from ser.features.pooling import pool
    from ser.features.whisper import WHISPER, _encode, covered_frames, load_model

    p = WHISPER.resolve(params)
    model = load_model(p["model"], p["compute_type"], threads)

    def run(items):
        enc = _encode(model, [y for y, _ in items])
        return [pool(e[:covered_frames(y.size)], p["pooling"]) for (y, _), e in
                zip(items, enc, strict=True)]

    return run


def per_core(data: Path, n_clips: int, json_out: Path | None) -> int:
    """Encoder cost per clip next to openSMILE, in-process (see the module docstring)."""
    import numpy as np
    import soundfile as sf

    from ser.features import FEATURE_SETS

    files = sorted(data.glob("Actor_*/*.*"))
    step = max(1, len(files) // max(1, n_clips))
    files = files[::step][:n_clips]  # spread over actors and emotions
    signals = [sf.read(f, dtype="float32") for f in files]
    seconds = sum(y.size / sr for y, sr in signals)
    load0 = os.getloadavg()[0]
    print(f"{len(signals)} clean clips ({seconds:.0f} s of audio) from {data}; "
          f"{os.cpu_count()} CPUs, load average {load0:.1f}", flush=True)
    results: list[dict] = []
    float32_tiny: np.ndarray | None = None
    for label, name, params, per_call, threads in PER_CORE_ROWS:
        fs = FEATURE_SETS[name]
        run = (_batched_whisper(params, per_call, threads) if name == "whisper" and per_call > 1
               else fs.batch_extractor(params, threads))
        run(signals[:1])  # load the model / openSMILE and warm caches: not timed
        cpu0, t0 = time.process_time(), time.perf_counter()
        out: list = []
        for i in range(0, len(signals), per_call):
            out += run(signals[i:i + per_call])
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        bad = [x for x in out if isinstance(x, Exception)]
        if bad:
            print(f"{label}: {len(bad)} clips failed, e.g. {bad[0]}", file=sys.stderr)
            return 1
        x = np.stack(out)
        row = {"row": label, "feature_set": name, "params": params, "clips_per_call": per_call,
               "threads": threads, "wall_s": wall, "cpu_s": cpu,
               "clips_per_cpu_s": len(signals) / cpu, "clips_per_wall_s": len(signals) / wall}
        if name == "whisper" and not params and float32_tiny is None:
            float32_tiny = x
        if params.get("compute_type") == "int8" and float32_tiny is not None:
            corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(x, float32_tiny, strict=True)]
            row["min_corr_to_float32"] = float(min(corr))
        results.append(row)
        print(f"  {label}: {row['clips_per_cpu_s']:.2f} clips/s per core", flush=True)
    base = results[0]["clips_per_cpu_s"]
    print(f"\n{'run':34s} {'wall s':>7s} {'CPU s':>7s} {'clips/s/core':>13s} {'x eGeMAPS':>10s}")
    for r in results:
        extra = (f"  (embeddings vs float32: min correlation {r['min_corr_to_float32']:.4f})"
                 if "min_corr_to_float32" in r else "")
        print(f"{r['row']:34s} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} "
              f"{r['clips_per_cpu_s']:13.2f} {r['clips_per_cpu_s'] / base:10.3f}{extra}")
    load1 = os.getloadavg()[0]
    print(f"load average {load0:.1f} -> {load1:.1f}; per-core figures are CPU time of this "
          f"process (all its threads), so they hold under others' load better than wall time")
    if json_out:
        json_out.write_text(json.dumps({"clips": len(signals), "audio_s": seconds,
                                        "cpus": os.cpu_count(), "load_average": [load0, load1],
                                        "rows": results}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RAVDESS-layout folder")
    ap.add_argument("--feature-set", default="is09_emotion")
    ap.add_argument("--shard-size", type=int, default=64, help="audio.shard_size of the run")
    ap.add_argument("--snr-db", type=float, nargs="+", default=[20, 10, 0])
    ap.add_argument("--noise", nargs="+", default=["white", "pink", "babble"])
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (fastest counts)")
    ap.add_argument("--workdir", type=Path, help="keep the run here (default: temporary)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--per-core", action="store_true",
                    help="encoder cost per clip next to openSMILE, in-process (no workflow)")
    ap.add_argument("--clips", type=int, default=24, help="clips for --per-core")
    args = ap.parse_args(argv)

    data = args.data.resolve()
    if not data.is_dir():
        print(f"data folder not found: {data}", file=sys.stderr)
        return 2
    if args.per_core:
        return per_core(data, args.clips, args.json)
    from ser.features import FEATURE_SETS, read_features

    if args.feature_set not in FEATURE_SETS:
        ap.error(f"unknown feature set {args.feature_set}; known: {sorted(FEATURE_SETS)}")
    work = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="ser-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "bench-config.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "datasets": {DATASET: {"format": "ravdess", "path": str(data)}},
        "audio": {"sample_rate": 16000, "shard_size": args.shard_size},
        "augment": {"snr_db": args.snr_db, "noise": args.noise, "seed": 0},
        "features": [args.feature_set],
    }, indent=2))
    load = os.getloadavg()[0]
    print(f"work dir {work}; {os.cpu_count()} CPUs, load average {load:.1f}", flush=True)
    try:
        t0 = time.perf_counter()
        snakemake(work, config, 2, ["audio", "augment"], log=work / "prepare.log")
        print(f"prepared audio + augment in {time.perf_counter() - t0:.1f} s (not timed)",
              flush=True)

        import soundfile as sf

        paths = signal_paths(work)
        signals = [sf.read(p, dtype="float32") for p in paths]
        n = len(signals)
        print(f"{n} signals decoded in memory; timing...", flush=True)
        force = ["--forcerun", "features_shard", "features_table"]
        runs: dict[str, list[tuple]] = {"a": [], "a2": [], "b": [], "c": []}
        for k in range(args.repeat):  # rounds interleave a, a2, b, c: drift hits all alike
            runs["a"].append(in_process(args.feature_set, signals, reference=True))
            runs["a2"].append(in_process(args.feature_set, signals, reference=False))
            runs["b"].append(snakemake(work, config, 1, ["features"], force,
                                       log=work / "features-cores1.log"))
            runs["c"].append(snakemake(work, config, 2, ["features"], force,
                                       log=work / "features-cores2.log"))
            print(f"round {k + 1}/{args.repeat}: " + ", ".join(
                f"{key} {r[-1][0]:.1f} s" for key, r in runs.items()), flush=True)
        a, a2, b, c = (min(runs[key], key=lambda r: r[0]) for key in ("a", "a2", "b", "c"))

        table = work / "results" / "features" / DATASET / f"{args.feature_set}.parquet"
        meta_df, x, _ = read_features(table)
        by_path = dict(zip(paths, a[2], strict=True))
        wavs = {**_wav_map(work, "audio"), **_wav_map(work, "augment")}
        ref = [by_path[str(work / wavs[i])] for i in meta_df["id"]]
        import numpy as np

        ref_x = np.asarray(ref, np.float32).reshape(x.shape)
        same = len(meta_df) == n and np.allclose(ref_x, x, rtol=1e-5, atol=1e-5)
        max_diff = float(np.max(np.abs(ref_x - x))) if len(meta_df) == n and n else float("nan")

        rows = [("a) openSMILE in-process" if hasattr(FEATURE_SETS[args.feature_set], "smile_set")
                 else "a) extractor in-process", a), ("a2) ser extractor in-process", a2),
                ("b) workflow --cores 1", b), ("c) workflow --cores 2", c)]
        print(f"\nfeature set {args.feature_set}, {n} clips "
              f"({len(list(Path(table).parent.glob('shards/*/*.rejected.parquet')))} shards)")
        print(f"{'run':32s} {'clips':>6s} {'wall s':>8s} {'clips/s':>8s} {'CPU s':>8s}")
        for name, r in rows:
            print(f"{name:32s} {n:6d} {r[0]:8.1f} {n / r[0]:8.1f} {r[1]:8.1f}")
        ratio, speedup = a[0] / b[0], b[0] / c[0]
        print(f"b/a throughput ratio {ratio:.2f} (target >= 0.8: "
              f"{'met' if ratio >= 0.8 else 'NOT met'})")
        print(f"c/b speed-up         {speedup:.2f} (target >= 1.7: "
              f"{'met' if speedup >= 1.7 else 'NOT met'})")
        print(f"b/a CPU ratio        {a[1] / b[1]:.2f}; workflow table equals in-process "
              f"values: {'yes' if same else 'NO'} (max |diff| {max_diff:.3g})")
        load_end = os.getloadavg()[0]
        if max(load, load_end) > (os.cpu_count() or 1):
            print(f"warning: load average {max(load, load_end):.1f} exceeds the CPU count; "
                  "wall-time figures include other processes' load")
        if args.json:
            args.json.write_text(json.dumps({
                "feature_set": args.feature_set, "clips": n, "cpus": os.cpu_count(),
                "load_average": [load, load_end],
                "runs": {k: {"wall_s": r[0], "cpu_s": r[1], "clips_per_s": n / r[0]}
                         for k, r in zip("a a2 b c".split(), (a, a2, b, c), strict=True)},
                "ratio_b_over_a": ratio, "speedup_c_over_b": speedup, "values_equal": bool(same),
                "max_abs_diff": max_diff, "repeat": args.repeat,
            }, indent=2))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _wav_map(work: Path, stage: str) -> dict[str, str]:
    import pandas as pd

    out: dict[str, str] = {}
    for f in sorted((work / "results" / stage / DATASET / "shards").glob("*.parquet")):
        df = pd.read_parquet(f, columns=["id", "status", "wav"])
        df = df[df["status"] == "ok"]
        out.update(zip(df["id"], df["wav"], strict=True))
    return out


if __name__ == "__main__":
    sys.exit(main())
