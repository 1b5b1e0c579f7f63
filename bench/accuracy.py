"""UAR per model on ravdess-dev under the fixed 4-fold speaker-independent protocol.

    python bench/accuracy.py [--workdir results-accuracy] [--config config/accuracy.yaml]

Runs the workflow for config/accuracy.yaml (Snakemake; a no-op when it is up to date), then
prints UAR mean +- std over folds per model, the per-fold UARs, the hyperparameters chosen by
inner CV on the training speakers of each fold, and each model's UAR relative to the eGeMAPS +
logistic-regression baseline measured in the same run. Models that assume speaker identity at
test time (normalize: speaker) and leaky protocols are marked.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BASELINE = ("ravdess", "egemaps_lr")


def chosen_params(pred_file: Path) -> dict:
    meta = json.loads((pq.read_schema(pred_file).metadata or {}).get(b"ser", b"{}"))
    return meta.get("chosen_params") or {}  # only what inner CV chose; the rest is the config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="results-accuracy")
    ap.add_argument("--config", default=str(ROOT / "config" / "accuracy.yaml"))
    ap.add_argument("--cores", default="all")
    args = ap.parse_args()
    if not (ROOT / ".." / "shared" / "data" / "ravdess-dev").is_dir():
        print("../shared/data/ravdess-dev not found: nothing to benchmark")
        return 0
    wd = ROOT / args.workdir
    subprocess.run([str(BIN / "snakemake"), "--cores", args.cores, "--configfile", args.config,
                    "--directory", str(wd), "evaluate"], check=True, cwd=ROOT)
    rows = []
    for mfile in sorted((wd / "results" / "eval").glob("*/*/metrics.json")):
        m = json.loads(mfile.read_text())
        ds, model = mfile.parts[-3], mfile.parts[-2]
        folds = m["folds"]
        params = [chosen_params(mfile.parent / "folds" / f"fold{f['fold']}.parquet")
                  for f in folds]
        tags = []
        if m.get("normalize") == "speaker":
            tags.append("speaker-normalised")
        if m.get("leaky"):
            tags.append("LEAKY protocol")
        rows.append({"dataset": ds, "model": model, "uar": m["folds_mean"]["uar"],
                     "std": m["folds_std"]["uar"], "per_fold": [f["uar"] for f in folds],
                     "params": params, "tags": tags, "protocol": m["protocol"]})
    base = next((r["uar"] for r in rows if (r["dataset"], r["model"]) == BASELINE), None)
    print("\nUAR on ravdess-dev (8 classes, chance 0.125); hyperparameters by inner CV on the "
          "training speakers")
    print(f"{'dataset':<12}{'model':<17}{'UAR mean ± std':>16}{'x baseline':>11}  per fold   "
          "chosen (per fold)  notes")
    for r in sorted(rows, key=lambda r: (r["dataset"], -r["uar"])):
        ratio = f"{r['uar'] / base:>11.2f}" if base else f"{'-':>11}"
        per_fold = " ".join(f"{u:.2f}" for u in r["per_fold"])
        params = ("; ".join(",".join(f"{k}={v}" for k, v in p.items()) for p in r["params"])
                  if any(r["params"]) else "-")
        print(f"{r['dataset']:<12}{r['model']:<17}{r['uar']:>9.3f} ± {r['std']:.3f}{ratio}  "
              f"{per_fold}  {params}  {', '.join(r['tags'])}")
    honest = [r for r in rows if not r["tags"]]
    spk = [r for r in rows if r["tags"] == ["speaker-normalised"]]
    for title, group in (("best honest model (no speaker identity at test time)", honest),
                         ("best speaker-normalised model", spk)):
        if group:
            best = max(group, key=lambda r: r["uar"])
            print(f"{title}: {best['model']} UAR {best['uar']:.3f} ± {best['std']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
