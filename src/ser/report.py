"""The final report: leaderboard (CSV + Markdown) and one self-contained HTML page.

The HTML embeds every figure as a base64 data URI and carries its CSS inline, so that the single
file can be mailed, archived or opened offline; nothing is fetched from the web. Leaky protocols
(speakers shared between training and test, SMOTE before the split) are marked wherever a figure
appears, because they are not comparable with speaker-independent results.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ser.evaluate import FIGURES
from ser.io import write_text

BASE_COLUMNS = ["dataset", "model", "arch", "features", "protocol", "leaky", "folds", "n_test",
                "uar_mean", "uar_std", "uar", "accuracy", "macro_f1"]
TAIL_COLUMNS = ["ece", "ood_auroc", "ood_auroc_other", "ood_score"]
CROSS_COLUMNS = ["train", "test", "model", "arch", "uar", "accuracy", "macro_f1", "n_test",
                 "labels", "labels_in_test"]
LEAKY_MARK = "[LEAKY]"
DEFAULT_TITLE = "Speech emotion recognition: results"
FIGURE_CAPTIONS = {
    "confusion.png": "Confusion matrix (clean test clips, counts)",
    "confusion_norm.png": "Confusion matrix, row-normalised (diagonal = recall)",
    "per_class.png": "Recall per class; the dashed line is their mean, the UAR",
    "snr.png": "Accuracy and UAR on the noisy copies of the test clips, by SNR",
    "conditions.png": "UAR under each recording condition (noise, reverberation, telephone, "
                      "codec, gain) against the clean UAR (line)",
    "curves.png": "Training curves per fold (solid: training, dashed: validation)",
    "reliability.png": "Reliability diagram: accuracy against confidence, with the ECE",
}
EDA_CAPTIONS = {
    "durations.png": "Durations of the usable clips",
    "sample_rates.png": "Native sample rates and channel counts of the source files",
    "class_balance.png": "Clips per speaker and class",
    "waveforms.png": "One clean waveform per class",
    "spectrograms.png": "One spectrogram per class",
    "status.png": "Files processed and rejected, with the reasons",
}

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;
background:#fafafa;line-height:1.45}
header{background:#23395d;color:#fff;padding:1rem 2rem}header h1{margin:0;font-size:1.5rem}
nav{background:#e8edf4;padding:.5rem 2rem;position:sticky;top:0;font-size:.9rem}
nav a{margin-right:1rem;color:#23395d}main{padding:0 2rem 3rem;max-width:1400px}
section{margin-top:1.5rem}h2{border-bottom:2px solid #23395d;padding-bottom:.2rem}
h3{margin-bottom:.3rem}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;
background:#fff}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#eef1f5}td.text,th.text{text-align:left}tr.leaky td{background:#fff4e5}
.tag{display:inline-block;background:#d9534f;color:#fff;border-radius:3px;padding:0 .3rem;
font-size:.75rem;margin-left:.3rem}.figs{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;background:#fff;border:1px solid #ddd;padding:.4rem;max-width:100%}
figure img{max-width:100%;height:auto;display:block}figcaption{font-size:.8rem;color:#555;
max-width:520px}pre{background:#fff;border:1px solid #ddd;padding:.5rem;overflow-x:auto;
font-size:.8rem}.model{border-left:4px solid #23395d;padding-left:1rem;margin:1.5rem 0}
.model.leaky{border-left-color:#d9534f}.note{background:#fff;border:1px solid #ddd;
padding:.5rem 1rem}.muted{color:#777}
"""


@dataclass
class _Entry:
    """One evaluated dataset x model (or cross-corpus pair) and its metrics.json."""

    path: Path
    metrics: dict[str, Any]
    dataset: str
    model: str


def _load(path: Path) -> _Entry:
    path = Path(path)
    metrics_file = path / "metrics.json"
    if not metrics_file.is_file():
        raise FileNotFoundError(f"{metrics_file}: no metrics.json (run the evaluate rule first)")
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    return _Entry(path, metrics, str(metrics.get("dataset") or path.parent.name),
                  str(metrics.get("model") or path.name))


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    v = _num(value)
    return "-" if math.isnan(v) else f"{v:.{digits}f}"


def _snr_keys(entries: Sequence[_Entry]) -> list[str]:
    keys = {k for e in entries for k in e.metrics.get("by_snr", {}) if k != "clean"}
    return sorted(keys, key=lambda k: -float(k))


def _features(metrics: dict[str, Any]) -> str:
    value = metrics.get("feature_set") or metrics.get("features") or ""
    return "+".join(value) if isinstance(value, list) else str(value)


def leaderboard_frame(entries: Sequence[_Entry]) -> pd.DataFrame:
    """One row per dataset x model; honest protocols first, then by fold-mean UAR."""
    snr_keys = _snr_keys(entries)
    rows = []
    for e in entries:
        m = e.metrics
        ood = m.get("ood_auroc") or {}
        row = {
            "dataset": e.dataset, "model": e.model, "arch": m.get("arch", ""),
            "features": _features(m), "protocol": m.get("protocol", "unknown"),
            "leaky": bool(m.get("leaky", False)), "folds": len(m.get("folds", [])),
            "n_test": m.get("n_test"),
            "uar_mean": (m.get("folds_mean") or {}).get("uar"),
            "uar_std": (m.get("folds_std") or {}).get("uar"),
            "uar": m.get("uar"), "accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1"),
        }
        for k in snr_keys:
            row[f"acc_snr{k}"] = m.get("by_snr", {}).get(k)
        row.update({"ece": m.get("ece"), "ood_auroc": ood.get("noisy_0db"),
                    "ood_auroc_other": ood.get("other_corpus"),
                    "ood_score": m.get("ood_score", "")})
        rows.append(row)
    columns = BASE_COLUMNS + [f"acc_snr{k}" for k in snr_keys] + TAIL_COLUMNS
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col not in ("dataset", "model", "arch", "features", "protocol", "leaky", "ood_score"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["_key"] = frame["uar_mean"].fillna(-1.0)
    frame = frame.sort_values(["dataset", "leaky", "_key", "model"],
                              ascending=[True, True, False, True], kind="stable")
    return frame.drop(columns="_key").reset_index(drop=True)


def _cross_pair(entry: _Entry) -> tuple[str, str]:
    """(train, test) corpus names: from metrics, else from a ``A__B``/``A_to_B`` folder name."""
    m = entry.metrics
    train, test = m.get("train_dataset"), m.get("test_dataset")
    if not (train and test):
        for folder in (entry.path.parent.name, entry.path.name):
            parts = re.split(r"__|_to_|-to-|→", folder)
            if len(parts) == 2 and all(parts):
                train, test = train or parts[0], test or parts[1]
                break
    return str(train or m.get("dataset") or "?"), str(test or "?")


def cross_frame(entries: Sequence[_Entry]) -> pd.DataFrame:
    """One row per cross-corpus evaluation (train on all of A, test on B)."""
    rows = []
    for e in entries:
        train, test = _cross_pair(e)
        m = e.metrics
        rows.append({
            "train": train, "test": test, "model": str(m.get("model") or e.path.name),
            "arch": m.get("arch", ""), "uar": m.get("uar"), "accuracy": m.get("accuracy"),
            "macro_f1": m.get("macro_f1"), "n_test": m.get("n_test"),
            "labels": " ".join(m.get("labels", [])),
            "labels_in_test": " ".join(m.get("labels_in_test", [])),
        })
    frame = pd.DataFrame(rows, columns=CROSS_COLUMNS)
    return frame.sort_values(["train", "test", "model"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- Markdown


def _md_table(header: list[str], rows: list[list[str]], align: list[str]) -> str:
    """A Markdown table padded so that it also reads well as plain text."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        out = [c.ljust(w) if a == "l" else c.rjust(w)
               for c, w, a in zip(cells, widths, align, strict=True)]
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2))
                          for w, a in zip(widths, align, strict=True)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def leaderboard_markdown(board: pd.DataFrame, cross: pd.DataFrame) -> str:
    """The leaderboard (and cross-corpus table) as Markdown."""
    snr_cols = [c for c in board.columns if c.startswith("acc_snr")]
    header = (["dataset", "model", "arch", "features", "protocol", "UAR (mean ± std)",
               "accuracy", "macro-F1"] + [f"acc@{c[len('acc_snr'):]}dB" for c in snr_cols]
              + ["ECE", "OOD AUROC"])
    rows = []
    for _, r in board.iterrows():
        model = f"{r['model']} {LEAKY_MARK}" if r["leaky"] else str(r["model"])
        uar = ("-" if math.isnan(_num(r["uar_mean"]))
               else f"{_fmt(r['uar_mean'])} ± {_fmt(r['uar_std'])}")
        rows.append([str(r["dataset"]), model, str(r["arch"]), str(r["features"]),
                     str(r["protocol"]), uar, _fmt(r["accuracy"]), _fmt(r["macro_f1"])]
                    + [_fmt(r[c]) for c in snr_cols] + [_fmt(r["ece"]), _fmt(r["ood_auroc"])])
    align = ["l"] * 5 + ["r"] * (len(header) - 5)
    parts = [
        "# Leaderboard",
        "",
        "UAR = unweighted average recall (balanced accuracy), mean ± std over folds. Accuracy, "
        "macro-F1 and accuracy at each SNR are on all clean (resp. noisy) test clips pooled over "
        "folds. ECE: expected calibration error (15 bins). OOD AUROC: confidence separating clean "
        "test clips from their lowest-SNR copies.",
        "",
        _md_table(header, rows, align) if rows else "(no models evaluated)",
    ]
    if board["leaky"].any():
        parts += ["", f"{LEAKY_MARK}: leaky protocol (speakers shared between training and test "
                  "and/or SMOTE before the split); optimistic, not comparable with the "
                  "speaker-independent rows."]
    if len(cross):
        parts += ["", "## Cross-corpus (train on all of A, test on B)", ""]
        crow = [[f"{r['train']} → {r['test']}", str(r["model"]), _fmt(r["uar"]),
                 _fmt(r["accuracy"]), _fmt(r["macro_f1"]), str(int(_num(r["n_test"])))
                 if not math.isnan(_num(r["n_test"])) else "-", str(r["labels"])]
                for _, r in cross.iterrows()]
        parts.append(_md_table(["train → test", "model", "UAR", "accuracy", "macro-F1",
                                "n_test", "labels"], crow,
                               ["l", "l", "r", "r", "r", "r", "l"]))
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- HTML


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _img(path: Path, caption: str) -> str:
    """A <figure> with the PNG embedded as a data URI (or a note when the file is missing)."""
    if not path.is_file():
        return (f'<figure><figcaption class="muted">{_e(caption)}: not available</figcaption>'
                "</figure>")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _table_html(header: list[str], rows: list[list[str]], *, text_cols: int = 1,
                row_classes: list[str] | None = None) -> str:
    head = "".join(f'<th class="text">{_e(h)}</th>' if i < text_cols else f"<th>{_e(h)}</th>"
                   for i, h in enumerate(header))
    body = []
    for n, r in enumerate(rows):
        cls = f' class="{row_classes[n]}"' if row_classes and row_classes[n] else ""
        cells = "".join(f'<td class="text">{c}</td>' if i < text_cols else f"<td>{c}</td>"
                        for i, c in enumerate(r))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _ood_cell(value: Any, score: Any) -> str:
    """OOD AUROC with the score it used (confidence branch or max probability)."""
    if math.isnan(_num(value)):
        return "-"
    if not isinstance(score, str) or not score:
        return _fmt(value)
    return f'{_fmt(value)} <span class="muted">({_e(score)})</span>'


def _leaderboard_html(board: pd.DataFrame) -> str:
    snr_cols = [c for c in board.columns if c.startswith("acc_snr")]
    header = (["dataset", "model", "arch", "features", "protocol", "UAR (mean ± std)", "accuracy",
               "macro-F1"] + [f"acc @ {c[len('acc_snr'):]} dB" for c in snr_cols]
              + ["ECE", "OOD AUROC", "folds", "n_test"])
    rows, classes = [], []
    for _, r in board.iterrows():
        tag = '<span class="tag">leaky</span>' if r["leaky"] else ""
        link = f'<a href="#m-{_slug(r["dataset"])}-{_slug(r["model"])}">{_e(r["model"])}</a>'
        uar = ("-" if math.isnan(_num(r["uar_mean"]))
               else f"<b>{_fmt(r['uar_mean'])}</b> ± {_fmt(r['uar_std'])}")
        rows.append([_e(r["dataset"]), link + tag, _e(r["arch"]), _e(r["features"]),
                     _e(r["protocol"]), uar, _fmt(r["accuracy"]), _fmt(r["macro_f1"])]
                    + [_fmt(r[c]) for c in snr_cols]
                    + [_fmt(r["ece"]), _ood_cell(r["ood_auroc"], r["ood_score"]), str(r["folds"]),
                       _fmt(r["n_test"], 0)])
        classes.append("leaky" if r["leaky"] else "")
    return _table_html(header, rows, text_cols=5, row_classes=classes)


HOW_TO_READ = """
<p><b>Protocols.</b> <i>speaker_kfold</i>, <i>loso</i> (leave one speaker out) and
<i>holdout_speakers</i> are <b>speaker-independent</b>: no speaker of a test clip is seen in
training, noisy copies stay in the fold of their clean original, and normalisation statistics and
oversampling (SMOTE) are fitted on the training part only. This is how a model meets a new voice.
<i>random</i> splits clips at random, so the same speakers appear in training and test; with
<i>SMOTE before split</i> synthetic clips interpolated from test clips also enter training. These
rows are marked <span class="tag">leaky</span>: their figures are optimistic and must not be
compared with speaker-independent ones. They are kept to show how much the seed projects'
protocol inflates results.</p>
<p><b>Metrics.</b> <i>UAR</i> (unweighted average recall, scikit-learn's balanced accuracy) is the
mean of per-class recalls, so a majority class cannot dominate it; chance level is 1 / number of
classes. The leaderboard shows its mean ± standard deviation over folds; accuracy and macro-F1 are
computed on all clean test clips pooled over folds. Headline figures use clean clips only; the SNR
columns give accuracy on noisy copies of the same test clips (lower SNR = louder noise: 20 dB is a
quiet office, 0 dB speech as loud as the noise), and each model's <i>conditions</i> figure its UAR
on copies with reverberation, a telephone line, a lossy codec or a lower level, when the config
asks for them (<code>augment</code>). A model trained on clean clips only usually collapses
towards chance under noise: it has never heard any; one trained on the degraded copies
(<code>train_on</code>) holds up. The sentence under each model says which it is.
<i>ECE</i> (expected calibration error, 15 equal-width bins over the highest class probability)
is 0 for a perfectly calibrated model. <i>OOD AUROC</i> measures how well the model's confidence
separates clean test clips from their copies at the lowest SNR (1 = perfectly, 0.5 = not at all);
<i>ood_score</i> says whether that confidence is a dedicated confidence branch (<i>model</i>) or
the highest class probability (<i>max_prob</i>).</p>
<p><b>Cross-corpus.</b> A model trained on all of corpus A is tested on corpus B, on the labels
listed in the table; the drop against the within-corpus figure shows how much a model
depends on recording conditions, speakers and acting style.</p>
"""


def _metrics_summary_html(m: dict[str, Any]) -> str:
    ood = m.get("ood_auroc") or {}
    base = m.get("ood_auroc_maxprob") or {}
    rows = [
        ["UAR (clean, pooled)", _fmt(m.get("uar"))],
        ["UAR over folds (mean ± std)", f"{_fmt((m.get('folds_mean') or {}).get('uar'))} ± "
                                        f"{_fmt((m.get('folds_std') or {}).get('uar'))}"],
        ["accuracy", _fmt(m.get("accuracy"))],
        ["macro-F1", _fmt(m.get("macro_f1"))],
        ["test clips (clean / noisy)", f"{m.get('n_test', '-')} / {m.get('n_test_noisy', '-')}"],
        ["ECE", _fmt(m.get("ece"))],
    ]
    for key, value in ood.items():
        extra = f" (max-prob baseline {_fmt(base[key])})" if key in base else ""
        rows.append([f"OOD AUROC {key} [{m.get('ood_score', '')}]", _fmt(value) + _e(extra)])
    rows.append(["protocol", _e(m.get("protocol", "unknown"))])
    table = _table_html(["metric", "value"], rows)
    folds = m.get("folds", [])
    fold_table = _table_html(
        ["fold", "n_test", "accuracy", "UAR", "macro-F1"],
        [[str(f.get("fold")), str(f.get("n_test")), _fmt(f.get("accuracy")), _fmt(f.get("uar")),
          _fmt(f.get("macro_f1"))] for f in folds])
    by_snr, by_uar = m.get("by_snr", {}), m.get("by_snr_uar", {})
    snr_table = _table_html(
        ["SNR", "accuracy", "UAR"],
        [[_e(k if k == "clean" else f"{k} dB"), _fmt(v), _fmt(by_uar.get(k))]
         for k, v in by_snr.items()])
    return f'<div class="figs">{table}{fold_table}{snr_table}</div>'


def _robustness_html(m: dict[str, Any]) -> str:
    """A sentence per model that explains its noise/condition figures: what it was trained on,
    what each condition costs it, and what to do about a collapse."""
    bc = m.get("by_condition") or {}
    if "clean" not in bc or len(bc) < 2:
        return ""
    clean = _num(bc["clean"].get("uar"))
    chance = 1.0 / max(1, len(m.get("labels") or []) or 1)
    train_on = m.get("train_on")
    if train_on in (None, "clean"):
        trained = "clean clips only: it never heard noise, a room or a phone line"
    elif isinstance(train_on, str):
        trained = "clean clips and every degraded copy of its training clips"
    else:
        trained = "clean clips and their " + ", ".join(map(str, train_on)) + " copies"
    parts = []
    worst: tuple[float, str] | None = None
    for kind, levels in bc.items():
        if kind == "clean":
            continue
        for level, e in levels.items():
            u = _num(e.get("uar"))
            name = f"{kind} {level}" + {"noise": " dB SNR", "reverb": " s RT60" if level != "rir"
                                        else "", "gain": " dB"}.get(kind, "")
            parts.append(f"{_e(name)}: {_fmt(u)}")
            if worst is None or u < worst[0]:
                worst = (u, name)
    text = (f"<p><b>Robustness.</b> Trained on {_e(trained)}. Clean UAR {_fmt(clean)}; on copies "
            f"of the same test clips under each condition: {'; '.join(parts)} (chance "
            f"{_fmt(chance)}).")
    if worst is not None and worst[0] < clean - 0.05:
        near = " (near chance)" if worst[0] < chance + 0.05 else ""
        text += (f" The largest loss is under {_e(worst[1])}: {_fmt(worst[0])}{near}, "
                 f"{_fmt(clean - worst[0])} below clean.")
        if train_on in (None, "clean"):
            text += (" A model only learns the conditions it is trained on: "
                     "<code>train_on: clean+noisy</code> adds the degraded copies to training "
                     "(docs/accuracy.md, Robustness, measures what it buys).")
    return text + "</p>"


def _model_html(entry: _Entry) -> str:
    m = entry.metrics
    leaky = bool(m.get("leaky", False))
    tag = '<span class="tag">leaky</span>' if leaky else ""
    anchor = f"m-{_slug(entry.dataset)}-{_slug(entry.model)}"
    arch = f' <span class="muted">({_e(m.get("arch", ""))}, {_e(_features(m))})</span>'
    figs = "".join(_img(entry.path / name, FIGURE_CAPTIONS[name]) for name in FIGURES)
    report_file = entry.path / "classification_report.txt"
    report = (report_file.read_text(encoding="utf-8") if report_file.is_file()
              else "classification_report.txt not found")
    return (f'<div class="model{" leaky" if leaky else ""}" id="{anchor}">'
            f"<h3>{_e(entry.model)}{tag}{arch}</h3>{_metrics_summary_html(m)}"
            f"{_robustness_html(m)}"
            f'<div class="figs">{figs}</div>'
            f"<details><summary>classification report</summary><pre>{_e(report)}</pre>"
            "</details></div>")


def _eda_figure(folder: Path, info: dict[str, Any], name: str) -> Path:
    """Where an EDA figure is: as listed in eda.json (relative to it), else beside it or in
    ``figures/``."""
    listed = [folder / rel for rel in info.get("figures", []) if Path(rel).name == name]
    for path in [*listed, folder / name, folder / "figures" / name]:
        if path.is_file():
            return path
    return folder / name


def _eda_html(info_file: Path) -> str:
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    folder = info_file.parent
    dur = info.get("duration_s") or {}
    facts = [
        ["files", str(info.get("files", "-"))], ["usable", str(info.get("ok", "-"))],
        ["rejected", str(info.get("rejected", "-"))], ["speakers", str(info.get("speakers", "-"))],
        ["hours (usable)", _fmt(dur.get("total_hours"), 2)],
        ["median duration (s)", _fmt(dur.get("median"), 2)],
        ["clips per class", _e(", ".join(f"{k} {v}" for k, v in info.get("labels", {}).items()))],
    ]
    reasons = info.get("rejected_by_reason") or {}
    if reasons:
        facts.append(["rejection reasons",
                      _e(", ".join(f"{k} ({v})" for k, v in reasons.items()))])
    figs = "".join(_img(_eda_figure(folder, info, name), cap)
                   for name, cap in EDA_CAPTIONS.items())
    return (f'<h3>Data</h3><div class="figs">{_table_html(["", ""], facts)}</div>'
            f'<div class="figs">{figs}</div>')


def _cross_html(entries: Sequence[_Entry], cross: pd.DataFrame) -> str:
    if not entries:
        return '<p class="muted">No cross-corpus evaluation in this run.</p>'
    rows = [[_e(f"{r['train']} → {r['test']}"), _e(r["model"]), _fmt(r["uar"]),
             _fmt(r["accuracy"]), _fmt(r["macro_f1"]), _fmt(r["n_test"], 0), _e(r["labels"]),
             _e(r["labels_in_test"])] for _, r in cross.iterrows()]
    table = _table_html(["train → test", "model", "UAR", "accuracy", "macro-F1", "n_test",
                         "labels used", "labels in test set"], rows, text_cols=2)
    figs = "".join(
        _img(e.path / "confusion_norm.png",
             "{} → {} / {}: row-normalised confusion".format(*_cross_pair(e), e.model))
        for e in entries)
    return f'{table}<div class="figs">{figs}</div>'


def _summary_html(board: pd.DataFrame, datasets: list[str], n_cross: int) -> str:
    items = [f"<li>{len(datasets)} dataset(s), {len(board)} dataset × model evaluation(s), "
             f"{n_cross} cross-corpus evaluation(s).</li>"]
    for ds in datasets:
        rows = board[(board["dataset"] == ds) & ~board["leaky"].astype(bool)]
        rows = rows[rows["uar_mean"].notna()]
        if len(rows):
            best = rows.sort_values("uar_mean", ascending=False, kind="stable").iloc[0]
            items.append(
                f"<li><b>{_e(ds)}</b>: best speaker-independent model "
                f"<a href=\"#m-{_slug(ds)}-{_slug(best['model'])}\">{_e(best['model'])}</a> "
                f"with UAR {_fmt(best['uar_mean'])} ± {_fmt(best['uar_std'])} "
                f"({_e(best['protocol'])}).</li>")
    n_leaky = int(board["leaky"].astype(bool).sum()) if len(board) else 0
    if n_leaky:
        items.append(f'<li><span class="tag">leaky</span> {n_leaky} row(s) use a leaky protocol; '
                     'see <a href="#how-to-read">how to read this</a>.</li>')
    return f"<ul>{''.join(items)}</ul>"


def _html(board: pd.DataFrame, evals: list[_Entry], edas: dict[str, Path],
          cross_entries: list[_Entry], cross: pd.DataFrame, title: str) -> str:
    datasets = sorted({e.dataset for e in evals} | set(edas))
    nav = ['<a href="#summary">Summary</a>', '<a href="#leaderboard">Leaderboard</a>',
           '<a href="#how-to-read">How to read this</a>']
    nav += [f'<a href="#ds-{_slug(ds)}">{_e(ds)}</a>' for ds in datasets]
    nav.append('<a href="#cross-corpus">Cross-corpus</a>')
    sections = [
        f'<section id="summary"><h2>Summary</h2>'
        f"{_summary_html(board, datasets, len(cross_entries))}</section>",
        '<section id="leaderboard"><h2>Leaderboard</h2>'
        + (_leaderboard_html(board) if len(board) else "<p>No models evaluated.</p>")
        + "</section>",
        f'<section id="how-to-read"><h2>How to read this</h2><div class="note">{HOW_TO_READ}'
        "</div></section>",
    ]
    for ds in datasets:
        parts = [f'<section id="ds-{_slug(ds)}" class="dataset"><h2>Dataset {_e(ds)}</h2>']
        if ds in edas:
            parts.append(_eda_html(edas[ds]))
        order = {(r.dataset, r.model): i for i, r in board.iterrows()}
        models = sorted((e for e in evals if e.dataset == ds),
                        key=lambda e: order.get((e.dataset, e.model), 0))
        if models:
            parts.append("<h3>Models</h3>")
            parts += [_model_html(e) for e in models]
        parts.append("</section>")
        sections.append("".join(parts))
    sections.append('<section id="cross-corpus"><h2>Cross-corpus</h2>'
                    f"{_cross_html(cross_entries, cross)}</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{_e(title)}</h1></header>"
            f"<nav>{' '.join(nav)}</nav><main>{''.join(sections)}</main></body></html>\n")


# --------------------------------------------------------------------------- public API


def build_report(
    eval_dirs: Sequence[Path],
    eda_dirs: Sequence[Path],
    out_dir: Path,
    cross_dirs: Sequence[Path] = (),
    *,
    title: str = DEFAULT_TITLE,
) -> None:
    """Write ``leaderboard.csv``, ``leaderboard.md``, ``cross_corpus.csv`` and a self-contained
    ``index.html`` into ``out_dir`` from evaluation folders (with metrics.json), EDA folders (with
    eda.json; the eda.json paths themselves are accepted too) and cross-corpus folders."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    evals = [_load(Path(d)) for d in eval_dirs]
    cross_entries = [_load(Path(d)) for d in cross_dirs]
    edas: dict[str, Path] = {}  # dataset -> its eda.json
    for d in eda_dirs:
        d = Path(d)
        info = d if d.suffix == ".json" else d / "eda.json"
        if not info.is_file():
            raise FileNotFoundError(f"{info}: no EDA summary (run the eda rule first)")
        name = json.loads(info.read_text(encoding="utf-8")).get("dataset")
        edas[str(name or info.parent.name)] = info
    board = leaderboard_frame(evals)
    cross = cross_frame(cross_entries)
    write_text(out_dir / "leaderboard.csv", board.to_csv(index=False, float_format="%.6g"))
    write_text(out_dir / "cross_corpus.csv", cross.to_csv(index=False, float_format="%.6g"))
    write_text(out_dir / "leaderboard.md", leaderboard_markdown(board, cross))
    write_text(out_dir / "index.html", _html(board, evals, edas, cross_entries, cross, title))


def print_leaderboard(path: Path) -> None:
    """Print leaderboard.md (or ``path/leaderboard.md`` for a folder) to stdout."""
    path = Path(path)
    if path.is_dir():
        path = path / "leaderboard.md"
    text = path.read_text(encoding="utf-8")
    sys.stdout.write(f"\n{text}" + ("" if text.endswith("\n") else "\n"))
    sys.stdout.write(f"\n(full report: {path.parent / 'index.html'})\n")
    sys.stdout.flush()
