"""Leaderboard of the accuracy recipes on ravdess-dev's 4 fixed speaker-independent folds.

    python bench/accuracy.py [--workdir results-accuracy] [--config config/accuracy.yaml]
                             [--cores N] [--no-run]

Runs the workflow for config/accuracy.yaml (Snakemake; a no-op when it is up to date), then
prints, per recipe:

- STRICT UAR: no information from test speakers (scaler of the training speakers);
- ADAPTIVE UAR: each test speaker standardised with its own clips (`normalize: speaker`), which
  needs the speaker's identity and a set of its clips at prediction time (`ser predict
  --adapt-by`); a recipe trained with `fallback: strict` has both figures from one bundle;

each as mean ± std over the 4 folds with the 95 % speaker-bootstrap interval of the pooled UAR,
the hyperparameters chosen by inner CV on the training speakers of each fold, and the cost:
training seconds per training clip (fit, inner CV included, mean over folds) and prediction
seconds per clip (feature extraction recorded when the tables were computed + the model), both
measured on the machine and load of that run (the load average is printed). Every figure
comes from the workflow's metrics.json files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BASELINE = ("ravdess", "egemaps_lr")


def chosen_params(pred_file: Path) -> dict:
    import pyarrow.parquet as pq

    meta = json.loads((pq.read_schema(pred_file).metadata or {}).get(b"ser", b"{}"))
    return meta.get("chosen_params") or {}  # only what inner CV chose; the rest is the config


def _figure(mean: float | None, std: float | None, interval: dict | None) -> str:
    if mean is None:
        return "-"
    text = f"{mean:.3f} ± {std:.3f}"
    if interval and interval.get("low") is not None:
        text += f" [{interval['low']:.2f}, {interval['high']:.2f}]"
    return text


def row_of(mfile: Path) -> dict[str, Any]:
    """One leaderboard row from a metrics.json: strict and adaptive figures, cost, choices."""
    m = json.loads(mfile.read_text())
    ds, model = mfile.parts[-3], mfile.parts[-2]
    per_fold = [f["uar"] for f in m["folds"]]
    headline = {"mean": m["folds_mean"]["uar"], "std": m["folds_std"]["uar"],
                "interval": m.get("uar_interval"), "per_fold": per_fold}
    strict = adaptive = None
    if m.get("normalize") == "speaker":
        adaptive = headline
        if m.get("strict"):
            s = m["strict"]
            strict = {"mean": s["folds_mean"], "std": s["folds_std"],
                      "interval": s.get("uar_interval"), "per_fold": s["per_fold"]}
    else:
        strict = headline
    cost = m.get("cost") or {}
    n_train = None
    folds_dir = mfile.parent / "folds"
    params = [chosen_params(folds_dir / f"fold{f['fold']}.parquet") for f in m["folds"]]
    bundles = sorted((mfile.parents[3] / "models" / ds / model).glob("fold*/bundle.json"))
    if bundles:
        n = [json.loads(b.read_text()).get("train_info", {}).get("n_train") for b in bundles]
        n = [x for x in n if x]
        n_train = sum(n) / len(n) if n else None
    train_s = cost.get("train_seconds")
    return {
        "dataset": ds, "model": model, "strict": strict, "adaptive": adaptive,
        "leaky": bool(m.get("leaky")), "params": params,
        "train_s_per_clip": (train_s / n_train) if train_s and n_train else None,
        "predict_s_per_clip": cost.get("predict_seconds_per_clip"),
        "model_s_per_clip": cost.get("model_seconds_per_clip"),
    }


def leaderboard(rows: list[dict[str, Any]]) -> str:
    """The table as text, best strict first, then adaptive-only recipes."""
    base = next((r["strict"]["mean"] for r in rows
                 if (r["dataset"], r["model"]) == BASELINE and r["strict"]), None)

    def key(r: dict[str, Any]) -> tuple:
        s = r["strict"]["mean"] if r["strict"] else -1.0
        a = r["adaptive"]["mean"] if r["adaptive"] else -1.0
        return (r["dataset"], r["leaky"], -s, -a)

    lines = [
        "UAR on ravdess-dev (8 classes, chance 0.125), 4 folds of held-out actors; mean ± std "
        "over folds [95% speaker-bootstrap interval]",
        "STRICT = nothing from test speakers; ADAPTIVE = each test speaker standardised with "
        "its own clips (needs speaker identity at prediction: ser predict --adapt-by)",
        f"{'dataset':<11}{'model':<22}{'STRICT UAR':>27}{'ADAPTIVE UAR':>27}{'x base':>8}"
        f"{'train s/clip':>13}{'pred s/clip':>12}  chosen per fold",
    ]
    for r in sorted(rows, key=key):
        s, a = r["strict"], r["adaptive"]
        ratio = f"{s['mean'] / base:>8.2f}" if base and s else f"{'-':>8}"
        tr = f"{r['train_s_per_clip']:>13.4f}" if r["train_s_per_clip"] else f"{'-':>13}"
        if r["predict_s_per_clip"]:
            pr = f"{r['predict_s_per_clip']:>12.3f}"
        elif r["model_s_per_clip"]:  # feature time not recorded by an older feature table
            pr = f"{'?+' + format(r['model_s_per_clip'], '.4f'):>12}"
        else:
            pr = f"{'-':>12}"
        params = ("; ".join(",".join(f"{k}={v}" for k, v in p.items()) for p in r["params"])
                  if any(r["params"]) else "-")
        note = "  LEAKY protocol" if r["leaky"] else ""
        lines.append(
            f"{r['dataset']:<11}{r['model']:<22}"
            f"{_figure(s and s['mean'], s and s['std'], s and s['interval']):>27}"
            f"{_figure(a and a['mean'], a and a['std'], a and a['interval']):>27}"
            f"{ratio}{tr}{pr}  {params}{note}")
    honest = [r for r in rows if not r["leaky"]]
    for title, mode in (("best STRICT recipe", "strict"), ("best ADAPTIVE recipe", "adaptive")):
        cands = [r for r in honest if r[mode]]
        if cands:
            best = max(cands, key=lambda r: r[mode]["mean"])
            f = best[mode]
            lines.append(f"{title}: {best['model']} UAR {f['mean']:.3f} ± {f['std']:.3f} "
                         f"(per fold {' '.join(f'{u:.3f}' for u in f['per_fold'])})")
    lines.append("train s/clip: training seconds of a fold bundle (inner CV and strict twin "
                 "included) per training clip; pred s/clip: feature extraction + model per clip "
                 "(?+M: the feature time was not recorded by an older table, M = model only)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="results-accuracy")
    ap.add_argument("--config", default=str(ROOT / "config" / "accuracy.yaml"))
    ap.add_argument("--cores", default="all")
    ap.add_argument("--no-run", action="store_true",
                    help="only read the metrics of an earlier run in --workdir")
    args = ap.parse_args()
    if not (ROOT / ".." / "shared" / "data" / "ravdess-dev").is_dir():
        print("../shared/data/ravdess-dev not found: nothing to benchmark")
        return 0
    wd = ROOT / args.workdir
    if not args.no_run:
        subprocess.run([str(BIN / "snakemake"), "--cores", args.cores, "--configfile",
                        args.config, "--directory", str(wd), "evaluate"], check=True, cwd=ROOT)
    rows = [row_of(f) for f in sorted((wd / "results" / "eval").glob("*/*/metrics.json"))]
    if not rows:
        print(f"no metrics.json under {wd}/results/eval")
        return 1
    print(leaderboard(rows))
    print(f"machine load (1/5/15 min) now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} cores; timings are those of the run that trained the models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
