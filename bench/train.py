"""Training time per model on ravdess-dev features (one fold), CPU or GPU, whichever TF sees.

    python bench/train.py [--workdir results-ravdess] [--models svm,conv1d] [--fold 0]

Builds the feature tables and splits of config/ravdess-dev.yaml with Snakemake when they are
missing, then trains each model of that config on one fold in a fresh process (so TensorFlow's
start-up is counted once per model, as in the workflow) and prints seconds per model, the device,
and each model's time as a ratio to the logistic-regression baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "ravdess-dev.yaml"
BIN = Path(sys.executable).parent

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from ser.train import train_fold
args = json.loads(sys.argv[1])
info = train_fold(args["features"], args["splits"], args["fold"], args["model"], args["bundle"],
                  args["pred"], dataset="ravdess", model_name=args["name"], seed=0,
                  threads=args["threads"])
device = "cpu"
if args["keras"]:
    import tensorflow as tf
    device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
print(json.dumps({"seconds": time.perf_counter() - t0, "fit_seconds": info.get("seconds"),
                  "n_train": info.get("n_train"), "device": device}))
"""

KERAS = {"conf_dnn", "dnn", "conv1d", "ensemble", "cnn", "lstm", "inception"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="results-ravdess")
    ap.add_argument("--models", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if not (ROOT / ".." / "shared" / "data" / "ravdess-dev").is_dir():
        print("../shared/data/ravdess-dev not found: nothing to benchmark")
        return 0
    cfg = yaml.safe_load(CONFIG.read_text())
    wd = ROOT / args.workdir
    models = dict(cfg["models"])
    if args.models:
        models = {k: v for k, v in models.items() if k in args.models.split(",")}
    models.setdefault("logreg", cfg["models"]["logreg"])  # the baseline
    tables = sorted({f"results/features/ravdess/{m['features']}.parquet" for m in models.values()})
    need = [*tables, "results/splits/ravdess.parquet"]
    if not all((wd / t).exists() for t in need):
        print("building feature tables and splits with Snakemake ...", flush=True)
        subprocess.run([str(BIN / "snakemake"), "--cores", "all", "--configfile", str(CONFIG),
                        "--directory", str(wd), *need], check=True, cwd=ROOT)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, mcfg in models.items():
            job = {"features": [str(wd / f"results/features/ravdess/{mcfg['features']}.parquet")],
                   "splits": str(wd / "results/splits/ravdess.parquet"), "fold": args.fold,
                   "model": mcfg, "bundle": f"{tmp}/{name}", "pred": f"{tmp}/{name}.parquet",
                   "name": name, "threads": args.threads, "keras": mcfg["arch"] in KERAS}
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)],
                                  capture_output=True, text=True, env={
                                      **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                print(f"{name}: failed\n{proc.stderr[-2000:]}")
                continue
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append((name, mcfg["arch"], out["device"], out["n_train"], wall))
            print(f"  {name:<10} {wall:8.1f} s", flush=True)
    base = next(w for n, _, _, _, w in rows if n == "logreg")
    print(f"\nTraining one fold (fold {args.fold}) on ravdess-dev, threads={args.threads}")
    print(f"{'model':<11}{'arch':<11}{'device':<8}{'n_train':>8}{'seconds':>10}{'x logreg':>10}")
    for name, arch, dev, n, wall in rows:
        print(f"{name:<11}{arch:<11}{dev:<8}{n:>8}{wall:>10.1f}{wall / base:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
