"""Small views of results/ for `dvc metrics` and `dvc plots`, kept in git.

Why a copy: DVC outputs may not overlap, and `results/` is one persisted output of the workflow
stage; a summary outside it (dataset -> model -> uar, accuracy, macro_f1, n_test) lets
`dvc metrics diff` and `dvc exp show` work without pulling the results themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

from ser.io import write_json, write_text

KEEP = ("uar", "accuracy", "macro_f1", "n_test")


def write_dvc_views(results: Path, out: Path) -> dict:
    """Write out/metrics.json and per dataset x model confusion/ and snr/ tables."""
    results, out = Path(results), Path(out)
    summary: dict[str, dict] = {}
    found = sorted((results / "eval").glob("*/*/metrics.json"))
    found += sorted((results / "cross").glob("*/*/metrics.json"))
    for f in found:
        kind, group, model = f.parts[-4], f.parts[-3], f.parts[-2]
        if kind == "cross":
            group = f"cross:{group}"
        metrics = json.loads(f.read_text(encoding="utf-8"))
        summary.setdefault(group, {})[model] = {k: metrics[k] for k in KEEP if k in metrics}
        for table in ("confusion", "snr"):
            src = f.parent / f"{table}.csv"
            if src.is_file():
                rows = src.read_text(encoding="utf-8").splitlines(keepends=True)
                rows = [r for r in rows if not r.startswith("clean,")]  # SNR axis is numeric
                write_text(out / table / group / f"{model}.csv", "".join(rows))
    for table in ("confusion", "snr"):
        (out / table).mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", summary, sort_keys=True)
    return summary
