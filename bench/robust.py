"""UAR per recording condition on ravdess-dev, per recipe, and the robustness targets of issue 20.

    python bench/robust.py [--workdir results-robust] [--config config/robust.yaml] [--no-run]

Runs the workflow for config/robust.yaml (Snakemake; a no-op when it is up to date): every model
is the same late fusion of balanced logistic regressions on IS09 + eGeMAPS, trained on different
data (`train_on`), and tested on the clean test clips and on their degraded copies (noise at 20,
10 and 0 dB, rooms of RT60 0.3/0.6/1.0 s, a G.711 telephone line, MP3 at 16 kbps, -20 dB gain).
Prints UAR (mean over the 4 speaker folds) per model and condition, then checks each model
against the targets: 20 dB within 0.03 of clean, 0 dB >= 0.75 x clean, RT60 0.6 s and telephone
within 0.05 of clean, clean not below the clean-trained model's by more than 0.01.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLEAN_MODEL = "late_clean"


def uar(bc: dict, kind: str, level: str | None = None) -> float | None:
    entry = bc.get(kind) if level is None else (bc.get(kind) or {}).get(level)
    if not entry:
        return None
    return float(entry.get("uar_fold_mean", entry["uar"]))


def targets(bc: dict, clean_trained: float | None) -> list[tuple[str, bool]]:
    """(target, met) for one model's by_condition."""
    clean = uar(bc, "clean")
    out = []
    checks = (("20 dB within 0.03 of clean", uar(bc, "noise", "20"),
               lambda v: v >= clean - 0.03),
              ("0 dB >= 0.75 x clean", uar(bc, "noise", "0"), lambda v: v >= 0.75 * clean),
              ("RT60 0.6 s within 0.05 of clean", uar(bc, "reverb", "0.6"),
               lambda v: v >= clean - 0.05),
              ("telephone within 0.05 of clean", uar(bc, "telephone", "ulaw"),
               lambda v: v >= clean - 0.05))
    for name, value, ok in checks:
        if value is not None and clean is not None:
            out.append((name, bool(ok(value))))
    if clean_trained is not None and clean is not None:
        out.append(("clean >= clean-trained - 0.01", clean >= clean_trained - 0.01))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="results-robust")
    ap.add_argument("--config", default=str(ROOT / "config" / "robust.yaml"))
    ap.add_argument("--cores", default="all")
    ap.add_argument("--no-run", action="store_true",
                    help="only read the metrics of an earlier run (no Snakemake)")
    args = ap.parse_args()
    if not (ROOT / ".." / "shared" / "data" / "ravdess-dev").is_dir():
        print("../shared/data/ravdess-dev not found: nothing to benchmark")
        return 0
    wd = ROOT / args.workdir
    if not args.no_run:
        subprocess.run([str(BIN / "snakemake"), "--cores", args.cores, "--configfile",
                        args.config, "--directory", str(wd), "evaluate"], check=True, cwd=ROOT)
    models = {}
    for mfile in sorted((wd / "results" / "eval").glob("*/*/metrics.json")):
        m = json.loads(mfile.read_text())
        models[mfile.parts[-2]] = m
    if not models:
        print("no metrics.json found")
        return 1
    columns: list[tuple[str, str]] = [("clean", "")]
    for m in models.values():
        for kind, levels in m["by_condition"].items():
            if kind != "clean":
                columns += [(kind, lev) for lev in levels if (kind, lev) not in columns]
    clean_ref = (uar(models[CLEAN_MODEL]["by_condition"], "clean")
                 if CLEAN_MODEL in models else None)
    print("\nUAR (mean over 4 speaker folds) on ravdess-dev, 8 classes, chance 0.125")
    names = ["clean" if k == "clean" else f"{k} {lev}" for k, lev in columns]
    widths = [max(8, len(n) + 2) for n in names]
    print(f"{'model':<22}{'train_on':<16}"
          + "".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True)))
    for name, m in models.items():
        bc = m["by_condition"]
        cells = [uar(bc, k) if k == "clean" else uar(bc, k, lev) for k, lev in columns]
        train_on = m.get("train_on", "?")
        train_on = train_on if isinstance(train_on, str) else "+".join(train_on)
        print(f"{name:<22}{train_on:<16}"
              + "".join(f"{'-':>{w}}" if c is None else f"{c:>{w}.3f}"
                        for c, w in zip(cells, widths, strict=True)))
    print("\ntargets (issue 20):")
    for name, m in models.items():
        res = targets(m["by_condition"], clean_ref)
        met = sum(ok for _, ok in res)
        print(f"  {name}: {met}/{len(res)} met; "
              + "; ".join(f"{t}: {'yes' if ok else 'NO'}" for t, ok in res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
