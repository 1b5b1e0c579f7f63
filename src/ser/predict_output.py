"""What `ser predict` reports: one record per file and per run, and their forms for people
(an aligned table), spreadsheets (CSV) and programs (JSON, with its schema).

Every input file is listed: classified, or failed with the reason.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PREDICT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ser predict --format json",
    "type": "object",
    "required": [
        "model_dir", "bundles", "fold", "labels", "feature_sets", "normalize", "confidence",
        "runtime", "threshold", "summary", "warnings", "files",
    ],
    "additionalProperties": False,
    "properties": {
        "model_dir": {"type": "string", "description": "MODEL_DIR as given"},
        "bundles": {
            "type": "array", "minItems": 1, "items": {"type": "string"},
            "description": "bundle folders whose predictions are averaged",
        },
        "fold": {"type": ["integer", "null"], "description": "--fold, if given"},
        "labels": {
            "type": "array", "minItems": 2, "items": {"type": "string"}, "uniqueItems": True,
            "description": "label order of the probabilities",
        },
        "feature_sets": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "normalize": {"enum": ["global", "speaker", "none", "mixed"]},
        "confidence": {
            "enum": ["model", "max_prob"],
            "description": "model: mean of the bundles' confidence branches (conf_dnn); "
                           "max_prob: largest averaged probability",
        },
        "runtime": {
            "enum": ["litert", "keras", "native", "mixed"],
            "description": "how the models ran: litert (Keras networks through their LiteRT "
                           "copy, no TensorFlow), keras, native (scikit-learn, XGBoost), mixed",
        },
        "threshold": {"type": ["number", "null"]},
        "summary": {
            "type": "object",
            "required": ["files", "ok", "error", "uncertain"],
            "additionalProperties": False,
            "properties": {k: {"type": "integer", "minimum": 0}
                           for k in ("files", "ok", "error", "uncertain")},
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
        "timing": {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": 0},
            "description": "seconds spent loading bundles, featurising, predicting, in all",
        },
        "files": {"type": "array", "items": {"$ref": "#/$defs/file"}},
    },
    "$defs": {
        "file": {
            "type": "object",
            "required": ["path", "status", "reason", "label", "confidence", "uncertain",
                         "probabilities", "duration"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string"},
                "status": {"enum": ["ok", "error"]},
                "reason": {"type": ["string", "null"], "description": "why the file failed"},
                "label": {"type": ["string", "null"], "description": "top label"},
                "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                "uncertain": {"type": ["boolean", "null"],
                              "description": "confidence < threshold"},
                "probabilities": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "duration": {"type": ["number", "null"], "minimum": 0,
                             "description": "seconds of decoded audio"},
            },
            "allOf": [
                {
                    "if": {"properties": {"status": {"const": "ok"}}},
                    "then": {"properties": {
                        "reason": {"type": "null"}, "label": {"type": "string"},
                        "confidence": {"type": "number"}, "uncertain": {"type": "boolean"},
                        "probabilities": {"type": "object", "minProperties": 2},
                        "duration": {"type": "number"},
                    }},
                    "else": {"properties": {
                        "reason": {"type": "string", "minLength": 1}, "label": {"type": "null"},
                        "confidence": {"type": "null"}, "uncertain": {"type": "null"},
                        "probabilities": {"type": "null"},
                    }},
                }
            ],
        }
    },
}


@dataclass
class FileResult:
    """One input file: classified (label, probabilities, confidence) or failed (reason)."""

    path: str
    status: str
    reason: str | None = None
    label: str | None = None
    confidence: float | None = None
    uncertain: bool | None = None
    probabilities: dict[str, float] | None = None
    duration: float | None = None


@dataclass
class PredictResult:
    """Everything `ser predict` prints, in every format."""

    model_dir: str
    bundles: list[str]
    fold: int | None
    labels: list[str]
    feature_sets: list[str]
    normalize: str
    confidence: str
    threshold: float | None
    files: list[FileResult]
    runtime: str = "native"
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Counts of files, ok, error and uncertain."""
        ok = sum(f.status == "ok" for f in self.files)
        return {"files": len(self.files), "ok": ok, "error": len(self.files) - ok,
                "uncertain": sum(bool(f.uncertain) for f in self.files)}

    def to_json(self) -> dict[str, Any]:
        """The document of ``--format json`` (validates against PREDICT_JSON_SCHEMA)."""
        return {
            "model_dir": self.model_dir, "bundles": self.bundles, "fold": self.fold,
            "labels": self.labels, "feature_sets": self.feature_sets,
            "normalize": self.normalize, "confidence": self.confidence,
            "runtime": self.runtime, "threshold": self.threshold, "summary": self.summary(),
            "warnings": self.warnings,
            "timing": {k: round(v, 4) for k, v in self.timing.items()},
            "files": [asdict(f) for f in self.files],
        }


def _fmt_prob(p: float) -> str:
    return f"{p:.2f}"


def format_table(result: PredictResult) -> str:
    """Aligned columns for people: status, top label, confidence, top-3 (or the reason)."""
    names = ", ".join(Path(b).name for b in result.bundles)
    head = (f"model {result.model_dir}: {len(result.bundles)} bundle(s) ({names}); features "
            f"{', '.join(result.feature_sets)}; confidence: "
            f"{'confidence branch' if result.confidence == 'model' else 'max probability'}; "
            f"runtime {result.runtime}")
    rows = [("PATH", "STATUS", "LABEL", "CONF", "TOP-3 / REASON")]
    for f in result.files:
        if f.status != "ok":
            rows.append((f.path, "error", "-", "-", f.reason or ""))
            continue
        top = sorted((f.probabilities or {}).items(), key=lambda kv: -kv[1])[:3]
        rows.append((f.path, "uncertain" if f.uncertain else "ok", f.label or "",
                     _fmt_prob(f.confidence or 0.0),
                     "  ".join(f"{lab} {_fmt_prob(p)}" for lab, p in top)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [head]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                 r[3].rjust(widths[3]), r[4]]
        lines.append("  ".join(cells).rstrip())
    s = result.summary()
    tail = f"{s['files']} file(s): {s['ok']} classified, {s['error']} failed"
    if result.threshold is not None and result.threshold > 0:
        tail += f", {s['uncertain']} uncertain (confidence < {result.threshold:g})"
    lines.append(tail)
    return "\n".join(lines) + "\n"


def csv_columns(labels: Sequence[str]) -> list[str]:
    """Columns of ``--format csv``."""
    return ["path", "status", "reason", "label", "confidence", "uncertain", "duration",
            *(f"prob_{lab}" for lab in labels)]


def write_csv(result: PredictResult, out: Any) -> None:
    """One row per file; probabilities at full precision in prob_<label> columns."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(csv_columns(result.labels))

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if isinstance(v, float) else str(v)

    for f in result.files:
        probs = f.probabilities or {}
        w.writerow([cell(f.path), f.status, cell(f.reason), cell(f.label), cell(f.confidence),
                    cell(f.uncertain), cell(f.duration),
                    *(cell(probs.get(lab)) for lab in result.labels)])
