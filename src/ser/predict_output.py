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
        "runtime", "threshold", "summary", "corpus", "bundle_kind", "warnings", "files",
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
        "corpus": {
            "type": "object",
            "required": ["synthetic"],
            "properties": {
                "dataset": {"type": ["string", "null"]},
                "synthetic": {"type": "boolean",
                              "description": "trained on the generated demo corpus: not meant "
                                             "for real speech (a warning says so)"},
            },
            "description": "what the model was trained on",
        },
        "bundle_kind": {
            "enum": ["final", "folds", "fold", "bundle"],
            "description": "final: the model trained on all clips; folds: the fold bundles "
                           "averaged (--folds); fold: one fold bundle (--fold); bundle: a "
                           "bundle folder given directly",
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
        "timing": {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": 0},
            "description": "seconds spent loading bundles, featurising, predicting, in all",
        },
        "segmentation": {
            "type": "object",
            "description": "--segment only: the VAD and segmentation options used",
            "required": ["vad", "threshold", "min_segment", "max_segment", "pad", "merge_gap"],
            "properties": {"vad": {"type": "string"},
                           **{k: {"type": "number", "minimum": 0} for k in (
                               "threshold", "min_segment", "max_segment", "pad", "merge_gap")}},
        },
        "files": {"type": "array", "items": {"$ref": "#/$defs/file"}},
        "adapt": {
            "type": "object",
            "description": "speaker-adaptive prediction (--adapt-by): how files were grouped "
                           "by speaker and each group's mode",
            "required": ["by", "min_clips", "groups"],
            "properties": {
                "by": {"enum": ["folder", "regex", "file-list", "all"]},
                "min_clips": {"type": "integer", "minimum": 2},
                "speaker_regex": {"type": "string"}, "speaker_list": {"type": "string"},
                "groups": {"type": "object", "additionalProperties": {
                    "type": "object", "required": ["n_clips", "mode"],
                    "properties": {"n_clips": {"type": "integer", "minimum": 0},
                                   "mode": {"enum": ["adaptive", "strict"]}}}},
            },
        },
    },
    "$defs": {
        "segment": {
            "type": "object",
            "required": ["start", "end", "status", "reason", "label", "confidence", "uncertain",
                         "probabilities"],
            "properties": {
                "start": {"type": "number", "minimum": 0, "description": "seconds"},
                "end": {"type": "number", "minimum": 0, "description": "seconds"},
                "status": {"enum": ["ok", "error"]},
                "reason": {"type": ["string", "null"]},
                "label": {"type": ["string", "null"]},
                "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                "uncertain": {"type": ["boolean", "null"]},
                "probabilities": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "quality": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/quality"}],
                            "description": "estimated recording conditions of the segment's "
                                           "samples (ser.quality)"},
            },
        },
        "quality": {
            "type": "object",
            "description": "estimated recording conditions (ser.quality): SNR in dB (60 = "
                           "clean), fraction of clipped samples, 99 % power bandwidth, "
                           "telephone-like band",
            "properties": {"snr_db": {"type": ["number", "null"]},
                           "clipped": {"type": "number", "minimum": 0},
                           "bandwidth_hz": {"type": ["number", "null"]},
                           "narrowband": {"type": "boolean"}},
        },
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
                "quality": {"$ref": "#/$defs/quality",
                            "description": "estimated recording conditions of the file as "
                                           "given (with --segment also per segment)"},
                "outside_training": {
                    "type": "array", "items": {"type": "string"},
                    "description": "why the file lies outside what the model was trained on: "
                                   "recording conditions (estimated SNR below them, telephone "
                                   "band, clipping) and duration, level or feature distance "
                                   "beyond the training clips'; [] when inside",
                },
                "segments": {
                    "type": "array", "items": {"$ref": "#/$defs/segment"},
                    "description": "--segment only: the speech segments, in time order",
                },
                "label_share": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                    "description": "--segment only: share of the classified speech time per "
                                   "label",
                },
                "adaptation": {
                    "type": "object", "required": ["group", "n_group", "mode"],
                    "description": "with --adapt-by: the file's speaker group, its size, and "
                                   "whether the adaptive model (the group standardised with "
                                   "its own statistics) or the strict one classified it (why)",
                    "properties": {"group": {"type": ["string", "null"]},
                                   "n_group": {"type": "integer", "minimum": 0},
                                   "mode": {"enum": ["adaptive", "strict"]},
                                   "reason": {"type": "string"}},
                },
            },
            "allOf": [
                {
                    "if": {"properties": {"status": {"const": "ok"}}},
                    "then": {"properties": {
                        "reason": {"type": "null"}, "label": {"type": "string"},
                        "confidence": {"type": "number"}, "uncertain": {"type": "boolean"},
                        "probabilities": {"type": "object", "minProperties": 2},
                        "duration": {"type": "number"}, "outside_training": {"type": "array"},
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
class SegmentResult:
    """One speech segment of a file (seconds from its start): classified, or failed."""

    start: float
    end: float
    status: str
    reason: str | None = None
    label: str | None = None
    confidence: float | None = None
    uncertain: bool | None = None
    probabilities: dict[str, float] | None = None
    quality: dict[str, Any] | None = None  # ser.quality of the segment's samples


OPTIONAL_FILE_FIELDS = ("segments", "label_share", "quality", "outside_training",
                        "adaptation")
"""FileResult fields written only when set (``--segment``), so whole-file output is unchanged."""


@dataclass
class FileResult:
    """One input file: classified (label, probabilities, confidence) or failed (reason).

    With ``--segment`` its probabilities are the duration-weighted mean of its ``segments``'
    (label and confidence follow as for a whole file); ``label_share`` divides the speech time
    by label.
    """

    path: str
    status: str
    reason: str | None = None
    label: str | None = None
    confidence: float | None = None
    uncertain: bool | None = None
    probabilities: dict[str, float] | None = None
    duration: float | None = None
    segments: list[SegmentResult] | None = None
    label_share: dict[str, float] | None = None
    quality: dict[str, Any] | None = None       # ser.quality: snr_db, clipped, bandwidth
    outside_training: list[str] | None = None   # why the file lies outside training ([]: inside)
    #: with --adapt-by: group, n_group, mode (adaptive|strict) and why (omitted otherwise)
    adaptation: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The file's object in ``--format json``."""
        doc = asdict(self)
        for key in OPTIONAL_FILE_FIELDS:
            if doc.get(key) is None:
                doc.pop(key, None)
        return doc


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
    segmentation: dict[str, Any] | None = None
    #: what the model was trained on: {dataset, synthetic, ...} of its bundles
    corpus: dict[str, Any] = field(default_factory=dict)
    #: final (all clips), folds (fold bundles averaged), fold (one), bundle (other)
    bundle_kind: str = "bundle"
    #: with --adapt-by: by, min_clips, groups {name: {n_clips, mode}} (omitted otherwise)
    adapt: dict[str, Any] | None = None

    def summary(self) -> dict[str, int]:
        """Counts of files, ok, error and uncertain."""
        ok = sum(f.status == "ok" for f in self.files)
        return {"files": len(self.files), "ok": ok, "error": len(self.files) - ok,
                "uncertain": sum(bool(f.uncertain) for f in self.files)}

    def to_json(self) -> dict[str, Any]:
        """The document of ``--format json`` (validates against PREDICT_JSON_SCHEMA)."""
        doc: dict[str, Any] = {
            "model_dir": self.model_dir, "bundles": self.bundles, "fold": self.fold,
            "labels": self.labels, "feature_sets": self.feature_sets,
            "normalize": self.normalize, "confidence": self.confidence,
            "runtime": self.runtime, "threshold": self.threshold, "summary": self.summary(),
            "corpus": self.corpus, "bundle_kind": self.bundle_kind,
            "warnings": self.warnings,
            "timing": {k: round(v, 4) for k, v in self.timing.items()},
        }
        if self.segmentation is not None:
            doc["segmentation"] = self.segmentation
        if self.adapt is not None:
            doc["adapt"] = self.adapt
        doc["files"] = [f.to_json() for f in self.files]
        return doc


def _fmt_prob(p: float) -> str:
    return f"{p:.2f}"


def _bundle_name(bundle: str, model_dir: str) -> str:
    """A bundle's path below MODEL_DIR (``late_fusion/final`` when MODEL_DIR is a dataset folder,
    so the table names the model its leaderboard chose), else its folder name."""
    b, d = Path(bundle), Path(model_dir)
    return b.relative_to(d).as_posix() if b.is_relative_to(d) and b != d else b.name


def format_table(result: PredictResult) -> str:
    """Aligned columns for people: status, top label, confidence, top-3 (or the reason)."""
    names = ", ".join(_bundle_name(b, result.model_dir) for b in result.bundles)
    trained = result.corpus.get("dataset") or "?"
    if result.corpus.get("synthetic"):
        trained += " (SYNTHETIC demo corpus)"
    head = (f"model {result.model_dir}: {len(result.bundles)} bundle(s) ({names}); trained on "
            f"{trained}; features {', '.join(result.feature_sets)}; confidence: "
            f"{'confidence branch' if result.confidence == 'model' else 'max probability'}; "
            f"runtime {result.runtime}")
    rows: list[tuple[str, ...]] = [("PATH", "STATUS", "LABEL", "CONF", "SNR",
                                    "TOP-3 / REASON")]
    notes: list[str] = []
    for f in result.files:
        status, label, conf, top = _table_cells(f)
        rows.append((f.path, status, label + ("*" if f.outside_training else ""), conf,
                     _quality_cell(f), top))
        if f.outside_training:
            notes.append(f"! {f.path}: outside the training data: "
                         + "; ".join(f.outside_training))
        for s in f.segments or []:
            status, label, conf, top = _table_cells(s)
            rows.append((f"  {s.start:7.2f}-{s.end:7.2f} s", status, label, conf,
                         _quality_cell(s), top))
        if f.label_share:
            shares = sorted(((v, lab) for lab, v in f.label_share.items() if v > 0),
                            reverse=True)
            rows.append(("  share of speech time: "
                         + ", ".join(f"{lab} {100 * v:.0f}%" for v, lab in shares),))
    widths = [max(len(r[i]) for r in rows if len(r) > 1) for i in range(5)]
    lines = [head]
    if result.adapt is not None:
        lines += adapt_lines(result.adapt)
    for r in rows:
        if len(r) == 1:
            lines.append(r[0])
            continue
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                 r[3].rjust(widths[3]), r[4].ljust(widths[4]), r[5]]
        lines.append("  ".join(cells).rstrip())
    lines += notes
    counts = result.summary()
    tail = f"{counts['files']} file(s): {counts['ok']} classified, {counts['error']} failed"
    if result.threshold is not None and result.threshold > 0:
        tail += f", {counts['uncertain']} uncertain (confidence < {result.threshold:g})"
    lines.append(tail)
    return "\n".join(lines) + "\n"


def _quality_cell(f: FileResult | SegmentResult) -> str:
    """Estimated SNR of the file as given (`clean` from 60 dB), `tel` for a telephone band,
    `clip` for clipping: the recording condition at a glance."""
    q = f.quality or {}
    if q.get("snr_db") is None:
        return "-"
    cell = "clean" if q["snr_db"] >= 60 else f"{q['snr_db']:.0f} dB"
    cell += " tel" if q.get("narrowband") else ""
    cell += " clip" if (q.get("clipped") or 0) > 0.001 else ""
    return cell


def adapt_lines(adapt: dict[str, Any]) -> list[str]:
    """The speaker groups of --adapt-by in words: which are adaptive, which fall back."""
    groups = adapt.get("groups") or {}
    n_ad = sum(g["mode"] == "adaptive" for g in groups.values())
    out = [f"speaker-adaptive (--adapt-by {adapt['by']}, at least {adapt['min_clips']} clips "
           f"per group): {n_ad} of {len(groups)} group(s) standardised with their own clips"]
    for name, g in groups.items():
        how = ("adaptive" if g["mode"] == "adaptive"
               else f"strict model (fewer than {adapt['min_clips']} clips)")
        out.append(f"  group {name}: {g['n_clips']} clip(s) -> {how}")
    return out


def _table_cells(r: FileResult | SegmentResult) -> tuple[str, str, str, str]:
    """STATUS, LABEL, CONF and TOP-3 / REASON of a file or segment row."""
    if r.status != "ok":
        return ("error", "-", "-", r.reason or "")
    top = sorted((r.probabilities or {}).items(), key=lambda kv: -kv[1])[:3]
    status = "uncertain" if r.uncertain else "ok"
    adaptation = getattr(r, "adaptation", None)
    if adaptation is not None:
        status += f" ({adaptation['mode']})"
    return (status, r.label or "", _fmt_prob(r.confidence or 0.0),
            "  ".join(f"{lab} {_fmt_prob(p)}" for lab, p in top))


def csv_columns(labels: Sequence[str], segments: bool = False) -> list[str]:
    """Columns of ``--format csv`` (``segments``: of ``--segment --format csv``)."""
    if segments:
        return ["path", "segment", "start", "end", "status", "reason", "label", "confidence",
                "uncertain", "duration", *(f"prob_{lab}" for lab in labels),
                *(f"share_{lab}" for lab in labels)]
    return ["path", "status", "reason", "label", "confidence", "uncertain", "duration",
            "outside_training", *(f"prob_{lab}" for lab in labels)]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


ADAPT_CSV_COLUMNS = ["adapt_group", "adapt_n_group", "adapt_mode"]
"""Extra CSV columns with --adapt-by (after the probabilities)."""


def write_csv(result: PredictResult, out: Any) -> None:
    """One row per file; probabilities at full precision in prob_<label> columns.

    With segments (``--segment``): one row per segment (``segment`` = 0, 1, ...; start and end
    in seconds), then one row per file (``segment`` = ``all``, start 0, end = its duration)
    whose prob_ columns are the file's and share_ columns its share of speech time per label.
    """
    labels = result.labels
    segmented = result.segmentation is not None
    w = csv.writer(out, lineterminator="\n")
    adapting = result.adapt is not None and not segmented
    w.writerow(csv_columns(labels, segmented) + (ADAPT_CSV_COLUMNS if adapting else []))
    for f in result.files:
        probs = f.probabilities or {}
        if not segmented:
            a = f.adaptation or {}
            w.writerow([_cell(f.path), f.status, _cell(f.reason), _cell(f.label),
                        _cell(f.confidence), _cell(f.uncertain), _cell(f.duration),
                        _cell(None if f.outside_training is None
                              else "; ".join(f.outside_training)),
                        *(_cell(probs.get(lab)) for lab in labels),
                        *([_cell(a.get(k)) for k in ("group", "n_group", "mode")]
                          if adapting else [])])
            continue
        for i, s in enumerate(f.segments or []):
            sp = s.probabilities or {}
            w.writerow([_cell(f.path), str(i), _cell(s.start), _cell(s.end), s.status,
                        _cell(s.reason), _cell(s.label), _cell(s.confidence),
                        _cell(s.uncertain), _cell(round(s.end - s.start, 4)),
                        *(_cell(sp.get(lab)) for lab in labels), *([""] * len(labels))])
        share = f.label_share or {}
        w.writerow([_cell(f.path), "all", "0.0", _cell(f.duration), f.status, _cell(f.reason),
                    _cell(f.label), _cell(f.confidence), _cell(f.uncertain), _cell(f.duration),
                    *(_cell(probs.get(lab)) for lab in labels),
                    *(_cell(share.get(lab)) for lab in labels)])
