"""Benchmark: `ser predict` load time and warm time per 3 s clip, against a sequential baseline.

    python bench/predict.py [MODEL_DIR] [--clips 20] [--repeat 3] [--json OUT]

MODEL_DIR defaults to results/models/demo/conf_dnn when it exists; otherwise a tiny conf_dnn
bundle is trained here first (RAVDESS dev clips, or synthetic ones when the folder is absent).

Measured:
  load      bundle loading in a fresh process (`load_bundle` for every fold bundle with the
            default runtime: Keras networks run through their LiteRT copy, no TensorFlow),
            best of --repeat fresh processes; the process wall time (interpreter start and
            imports included) is printed too, and the same load with `runtime="keras"`
            (TensorFlow import included) as its baseline;
  warm      one `Predictor.predict_files` call on --clips 3 s clips with the bundles loaded and
            the worker pool warm (decode + features in --jobs workers, one prediction batch per
            bundle), divided by the number of clips; best of --repeat;
  baseline  the same call with sequential featurisation in the main process (--jobs 0);
  cold CLI  `ser predict MODEL_DIR clips...` as a fresh process (everything included).
Targets: warm <= 1 s per clip, load <= 5 s. The machine may be shared: the load average is
printed with the figures, and CPU seconds (all processes) next to wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "results" / "models" / "demo" / "conf_dnn"
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"
DEMO = ROOT / "results" / "demo" / "demo"
SR = 16000
CLIP_SECONDS = 3.0
TARGET_WARM_S = 1.0
TARGET_LOAD_S = 5.0

LOAD_SNIPPET = """
import json, os, sys, time
t0 = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from ser.bundle import find_bundles, load_bundle
from ser.models import combine_runtimes, runtime_of
dirs = find_bundles(sys.argv[1])
t1 = time.perf_counter()
if sys.argv[2] == "keras":  # TensorFlow's import counted apart to show its share
    import tensorflow  # noqa: F401
t2 = time.perf_counter()
bundles = [load_bundle(b, sys.argv[2]) for b in dirs]
t3 = time.perf_counter()
used = combine_runtimes(runtime_of(b.model) for b in bundles)
print(json.dumps({"load_s": t3 - t0, "tf_import_s": t2 - t1, "bundles_s": t3 - t2,
                  "runtime": used, "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def cpu_seconds(pids: list[int] | None = None) -> float:
    """User + system CPU of this process, its finished children and the live `pids` (pool
    workers, with their own finished children such as ffmpeg), read from /proc."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids or []:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def fit_length(y: np.ndarray, seconds: float = CLIP_SECONDS) -> np.ndarray:
    """Crop the middle or repeat the clip to exactly `seconds`."""
    n = int(round(seconds * SR))
    if y.size >= n:
        start = (y.size - n) // 2
        return y[start:start + n]
    return np.tile(y, int(np.ceil(n / y.size)))[:n]


def synthetic(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    t = np.arange(int(CLIP_SECONDS * SR)) / SR
    f0 = 100 + 15 * (i % 8)
    y = sum(0.6**k * np.sin(2 * np.pi * (k + 1) * f0 * t) for k in range(5))
    return (0.1 * y * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + rng.normal(0, 0.005, t.size)
            ).astype(np.float32)


def make_clips(out: Path, n: int) -> tuple[list[Path], str]:
    """`n` WAV clips of exactly 3 s (RAVDESS dev, else the demo corpus, else synthetic)."""
    from ser.audio import decode, write_wav

    sources: list[Path] = []
    origin = "synthetic"
    for folder, pattern, name in ((RAVDESS, "Actor_*/*.flac", "ravdess-dev"),
                                  (DEMO, "Actor_*/*.mp4", "demo corpus")):
        found = sorted(folder.glob(pattern)) if folder.is_dir() else []
        if found:
            step = max(1, len(found) // n)
            sources, origin = found[::step][:n], name
            break
    clips = []
    for i in range(n):
        y = decode(sources[i % len(sources)], SR) if sources else synthetic(i)
        path = out / f"clip{i:02d}.wav"
        write_wav(path, fit_length(y), SR)
        clips.append(path)
    return clips, origin


def train_tiny_bundle(work: Path) -> Path:
    """A small conf_dnn (is09_emotion) trained by the workflow's own stages, fold 0 only."""
    from ser.corpora import scan
    from ser.features import read_features, run_features_shard
    from ser.manifest import run_audio_shard
    from ser.splits import make_splits, save_splits
    from ser.train import train_fold

    corpus = work / "corpus"
    if RAVDESS.is_dir():
        fmt, root = "ravdess", RAVDESS
        entries = [e for e in scan(fmt, root, {}) if e.speaker in {"01", "02", "03", "04"}
                   and e.meta.get("repetition") == "01"]
    else:
        from ser.audio import write_wav

        for spk in ("01", "02", "03", "04"):
            for emo in ("01", "03", "04", "05"):
                for st in ("01", "02"):
                    y = synthetic(int(spk) * 10 + int(emo) + int(st) * 100)
                    write_wav(corpus / f"Actor_{spk}" / f"03-01-{emo}-01-{st}-01-{spk}.wav", y,
                              SR)
        entries = scan("ravdess", corpus, {})
    manifest = work / "audio.parquet"
    run_audio_shard(entries, [e.rel for e in entries], 0, manifest, work / "wav",
                    sample_rate=SR, min_duration=0.3)
    table = work / "is09_emotion.parquet"
    run_features_shard(manifest, None, "is09_emotion", table, work / "rejected.parquet",
                       dataset="bench")
    meta_df, _, _ = read_features(table, columns_only=True)
    splits = work / "splits.parquet"
    save_splits(make_splits(meta_df, "speaker_kfold", folds=2, seed=0), splits,
                {"smote": "none"})
    model_dir = work / "models" / "bench" / "conf_dnn"
    train_fold(table, splits, 0, {"arch": "conf_dnn", "features": "is09_emotion",
                                  "epochs": 20, "patience": 5},
               model_dir / "fold0", work / "pred.parquet", dataset="bench",
               model_name="conf_dnn", audio={"sample_rate": SR, "min_duration": 0.3})
    return model_dir


def measure_load(model_dir: Path, repeat: int, runtime: str = "auto") -> dict:
    """Fresh processes loading every bundle: best and all in-process seconds, process walls."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    loads, walls = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", LOAD_SNIPPET, str(model_dir), runtime],
                              env=env,
                              capture_output=True, text=True, check=False, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            sys.exit(f"bundle loading failed:\n{proc.stderr[-3000:]}")
        loads.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    best = min(loads, key=lambda d: d["load_s"])
    return {**best, "load_all_s": [d["load_s"] for d in loads], "process_wall_s": min(walls)}


def measure_warm(model_dir: Path, clips: list[Path], jobs: int, repeat: int) -> dict:
    """Best wall (and its CPU) of `repeat` predict_files calls on warm bundles and pool."""
    from ser.predict import Predictor

    with Predictor(model_dir, jobs=jobs) as p:
        p.load()
        p.predict_files(clips[:max(2, jobs)])  # warm-up: workers import, TF traces
        pids = list(getattr(p._pool, "_processes", None) or {})
        best = (float("inf"), 0.0)
        for _ in range(repeat):
            c0, t0 = cpu_seconds(pids), time.perf_counter()
            res = p.predict_files(clips)
            wall, cpu = time.perf_counter() - t0, cpu_seconds(pids) - c0
            if wall < best[0]:
                best = (wall, cpu)
                split = (res.timing["wait_features_s"], res.timing["predict_s"])
        failed = [f for f in res.files if f.status != "ok"]
        if failed:
            sys.exit(f"benchmark clip failed: {failed[0].path}: {failed[0].reason}")
    n = len(clips)
    return {"jobs": jobs, "wall_s": best[0], "cpu_s": best[1], "per_clip_s": best[0] / n,
            "features_s": split[0], "predict_s": split[1],
            "labels": [f.label for f in res.files]}


def measure_cli(model_dir: Path, clips: list[Path], jobs: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ser.cli", "predict", str(model_dir),
                           *map(str, clips), "--format", "json", "--jobs", str(jobs)],
                          env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"ser predict failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    doc = json.loads(proc.stdout)
    return {"wall_s": wall, "timing": doc["timing"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", nargs="?", type=Path, default=None)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="ser-bench-predict-") as tmp:
        work = Path(tmp)
        model_dir = args.model_dir
        if model_dir is None:
            if DEFAULT_MODEL.is_dir():
                model_dir = DEFAULT_MODEL
            else:
                print("no demo model: training a tiny conf_dnn bundle first ...", flush=True)
                model_dir = train_tiny_bundle(work / "train")
        clips, origin = make_clips(work / "clips", args.clips)
        print(f"model {model_dir}; {len(clips)} clips of {CLIP_SECONDS:g} s from {origin}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)

        load = measure_load(model_dir, args.repeat)  # what `ser predict` does by default
        load_keras = measure_load(model_dir, args.repeat, "keras")  # the same through TensorFlow
        # the baseline runs first: sequential featurisation builds openSMILE before TensorFlow
        base = measure_warm(model_dir, clips, 0, args.repeat)
        warm = measure_warm(model_dir, clips, args.jobs, args.repeat)
        cli = measure_cli(model_dir, clips, args.jobs)
        assert base["labels"] == warm["labels"], "parallel and sequential runs disagree"

    ratio = base["per_clip_s"] / warm["per_clip_s"]
    rows = [
        (f"load: bundles in a fresh process (runtime {load['runtime']})",
         f"{load['load_s']:.2f} s", f"<= {TARGET_LOAD_S:g} s",
         "yes" if load["load_s"] <= TARGET_LOAD_S else "NO"),
        ("  TensorFlow imported", "yes" if load["tensorflow_imported"] else "no", "", ""),
        ("  (fresh process wall, interpreter + imports)", f"{load['process_wall_s']:.2f} s",
         "", ""),
        ("baseline load: runtime keras (TensorFlow)", f"{load_keras['load_s']:.2f} s", "", ""),
        ("  of which TensorFlow import", f"{load_keras['tf_import_s']:.2f} s", "", ""),
        ("  of which loading the fold bundles", f"{load_keras['bundles_s']:.2f} s", "", ""),
        ("load speed-up: keras / default", f"{load_keras['load_s'] / load['load_s']:.1f}x", "",
         ""),
        (f"warm: per 3 s clip, {warm['jobs']} workers", f"{warm['per_clip_s']:.3f} s",
         f"<= {TARGET_WARM_S:g} s", "yes" if warm["per_clip_s"] <= TARGET_WARM_S else "NO"),
        ("  (CPU s per clip, all processes)", f"{warm['cpu_s'] / len(clips):.3f} s", "", ""),
        (f"  decode + features, {len(clips)} clips (wall)", f"{warm['features_s']:.2f} s", "",
         ""),
        ("  prediction, one batch per bundle (wall)", f"{warm['predict_s']:.2f} s", "", ""),
        ("baseline: per clip, sequential in-process", f"{base['per_clip_s']:.3f} s", "", ""),
        ("  (CPU s per clip)", f"{base['cpu_s'] / len(clips):.3f} s", "", ""),
        (f"  decode + features, {len(clips)} clips (wall)", f"{base['features_s']:.2f} s", "",
         ""),
        ("speed-up: baseline / warm", f"{ratio:.2f}x", "", ""),
        (f"cold CLI: ser predict on {len(clips)} clips (wall)", f"{cli['wall_s']:.2f} s", "",
         ""),
    ]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    print()
    print(f"{'metric'.ljust(w[0])}  {'measured'.rjust(w[1])}  {'target'.ljust(w[2])}  ok")
    for r in rows:
        print(f"{r[0].ljust(w[0])}  {r[1].rjust(w[1])}  {r[2].ljust(w[2])}  {r[3]}".rstrip())
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.json:
        from ser.io import write_json

        write_json(args.json, {"model_dir": str(model_dir), "clips": len(clips),
                               "clip_seconds": CLIP_SECONDS, "origin": origin, "load": load,
                               "load_keras": load_keras,
                               "warm": warm, "baseline": base, "speedup": ratio, "cli": cli,
                               "cpus": os.cpu_count(), "loadavg": os.getloadavg()[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
