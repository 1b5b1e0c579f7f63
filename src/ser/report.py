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
from typing import Any, cast

import pandas as pd

from ser.evaluate import FIGURES
from ser.io import write_text
from ser.trust import near_chance, noise_sentence, separation_words

BASE_COLUMNS = ["dataset", "model", "arch", "features", "protocol", "leaky", "folds", "n_test",
                "uar_mean", "uar_std", "uar", "accuracy", "macro_f1"]
# beside every score: chance, an interval, the worst speaker and the leakage audit (ser.trust)
TRUST_COLUMNS = ["synthetic", "chance", "uar_low", "uar_high", "at_chance", "worst_speaker",
                 "worst_speaker_uar", "test_speakers_in_training",
                 "test_clips_source_in_training"]
TAIL_COLUMNS = ["ece", "conf_auroc", "ood_auroc", "ood_auroc_other", "ood_score"]
COST_COLUMNS = ["train_s", "bundle_mb", "n_params", "predict_ms_per_clip"]
# strict (nothing from test speakers) vs adaptive (normalize: speaker) figures of a model
MODE_COLUMNS = ["mode", "strict_uar_mean", "strict_uar_std"]
ADAPTIVE_MARK = "[ADAPTIVE]"
AT_CHANCE_MARK = "[AT CHANCE]"
SYNTHETIC_NOTE = ("is the synthetic demo corpus (generated tones and noise, not speech): its "
                  "figures show that the workflow runs, and its models are not meant for real "
                  "speech")
CROSS_COLUMNS = ["train", "test", "model", "arch", "uar", "accuracy", "macro_f1", "n_test",
                 "labels", "labels_in_test"]
LEAKY_MARK = "[LEAKY]"
DEFAULT_TITLE = "Speech emotion recognition: results"
FIGURE_CAPTIONS = {
    "confusion.png": "Confusion matrix (clean test clips, counts)",
    "confusion_norm.png": "Confusion matrix, row-normalised (diagonal = recall)",
    "per_class.png": "Recall per class; the dashed line is their mean, the UAR",
    "snr.png": "Accuracy and UAR on the noisy copies of the test clips, by SNR (dotted: "
               "accuracy per noise kind)",
    "conditions.png": "UAR under each recording condition (noise, reverberation, telephone, "
                      "codec, gain) against the clean UAR (line)",
    "curves.png": "Training curves per fold (solid: training, dashed: validation)",
    "reliability.png": "Reliability diagram: accuracy against confidence, with the ECE",
    "per_speaker.png": "UAR per test speaker (worst in red), with chance and the pooled UAR",
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
th{background:#eef1f5}td.text,th.text{text-align:left}
td:not(.text){white-space:nowrap}tr.leaky td{background:#fff4e5}
.tag{display:inline-block;background:#d9534f;color:#fff;border-radius:3px;padding:0 .3rem;
font-size:.75rem;margin-left:.3rem}.figs{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
figure{margin:0;background:#fff;border:1px solid #ddd;padding:.4rem;max-width:100%}
figure img{max-width:100%;height:auto;display:block}figcaption{font-size:.8rem;color:#555;
max-width:520px}pre{background:#fff;border:1px solid #ddd;padding:.5rem;overflow-x:auto;
font-size:.8rem}.model{border-left:4px solid #23395d;padding-left:1rem;margin:1.5rem 0}
.model.leaky{border-left-color:#d9534f}.note{background:#fff;border:1px solid #ddd;
padding:.5rem 1rem}.muted{color:#777}.tag.synth{background:#e08a00}tr.chance td{background:#fbecec}
.banner{background:#fff3cd;border:2px solid #e08a00;padding:.6rem 1rem;margin-top:1rem;
font-size:1rem}.warn{background:#fbecec;border-left:4px solid #d9534f;padding:.4rem .8rem}
.ok{border-left:4px solid #3c8d40;padding:.4rem .8rem;background:#fff}.bad{color:#b52b27;
font-weight:bold}h4{margin:.8rem 0 .3rem}.tbl{overflow-x:auto;max-width:100%}
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
    """The feature sets as the config names them (variants by their own name); older runs
    recorded only the registry set."""
    value = metrics.get("features") or metrics.get("feature_set") or ""
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
        row.update({"ece": m.get("ece"),
                    "conf_auroc": (m.get("confidence_check") or {}).get("auroc_correct_vs_wrong"),
                    "ood_auroc": ood.get("noisy_0db"),
                    "ood_auroc_other": ood.get("other_corpus"),
                    "ood_score": m.get("ood_score", "")})
        row.update(_trust_row(m))
        row.update(_cost_row(m))
        row.update(_mode_row(m))
        rows.append(row)
    columns = (BASE_COLUMNS + TRUST_COLUMNS + [f"acc_snr{k}" for k in snr_keys] + TAIL_COLUMNS
               + COST_COLUMNS + MODE_COLUMNS)
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col not in _TEXT_COLUMNS:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["_key"] = frame["uar_mean"].fillna(-1.0)
    frame = frame.sort_values(["dataset", "leaky", "_key", "model"],
                              ascending=[True, True, False, True], kind="stable")
    return frame.drop(columns="_key").reset_index(drop=True)


_TEXT_COLUMNS = ("dataset", "model", "arch", "features", "protocol", "leaky", "ood_score",
                 "synthetic", "at_chance", "worst_speaker", "mode")


def _mode_row(m: dict[str, Any]) -> dict[str, Any]:
    """strict or adaptive (per-speaker normalisation: needs the test speaker's clips), and the
    strict twin's UAR of an adaptive model trained with fallback: strict."""
    strict = m.get("strict") or {}
    return {"mode": "adaptive" if m.get("normalize") == "speaker" else "strict",
            "strict_uar_mean": strict.get("folds_mean"), "strict_uar_std": strict.get("folds_std")}


def _uar_text(r: Any, bold: bool = False) -> str:
    """The UAR cell: mean ± std; adaptive rows say so and give their strict twin's figure."""
    if math.isnan(_num(r["uar_mean"])):
        return "-"
    mean = _fmt(r["uar_mean"])
    text = f"{f'<b>{mean}</b>' if bold else mean} ± {_fmt(r['uar_std'])}"
    if r.get("mode") == "adaptive":
        text = f"adaptive {text}"
        if not math.isnan(_num(r.get("strict_uar_mean"))):
            text += f" (strict {_fmt(r['strict_uar_mean'])} ± {_fmt(r['strict_uar_std'])})"
    return text


def _trust_row(m: dict[str, Any]) -> dict[str, Any]:
    """Leaderboard cells from metrics.json's chance, interval, per-speaker and leakage fields."""
    interval = m.get("uar_interval") or {}
    worst = m.get("worst_speaker") or {}
    leak = m.get("leakage") or {}
    return {
        "synthetic": bool((m.get("corpus") or {}).get("synthetic", False)),
        "chance": m.get("chance"), "uar_low": interval.get("low"),
        "uar_high": interval.get("high"), "at_chance": m.get("at_chance"),
        "worst_speaker": worst.get("speaker"), "worst_speaker_uar": worst.get("uar"),
        "test_speakers_in_training": leak.get("test_speakers_in_training"),
        "test_clips_source_in_training": leak.get("test_clips_source_in_training"),
    }


def _cost_row(m: dict[str, Any]) -> dict[str, Any]:
    """Leaderboard cost cells: training seconds per fold, bundle MB, parameters, ms per clip."""
    cost = m.get("cost") or {}
    size = cost.get("bundle_bytes")
    per_clip = cost.get("predict_seconds_per_clip")
    if per_clip is None:
        per_clip = cost.get("model_seconds_per_clip")
    return {"train_s": cost.get("train_seconds"),
            "bundle_mb": None if size is None else size / 1e6,
            "n_params": cost.get("n_parameters"),
            "predict_ms_per_clip": None if per_clip is None else 1000 * per_clip}


def _flag(value: Any) -> bool:
    """A boolean leaderboard cell (NaN, None and strings read back from CSV included)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value) if value is not None and not (isinstance(value, float)
                                                      and math.isnan(value)) else False


def _count(value: Any) -> str:
    v = _num(value)
    return "-" if math.isnan(v) else f"{int(v)}"


def _params(value: Any) -> str:
    v = _num(value)
    if math.isnan(v):
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e3:
        return f"{v / 1e3:.0f}k"
    return f"{int(v)}"


def _interval_text(r: Any) -> str:
    if math.isnan(_num(r["uar_low"])):
        return "-"
    return f"[{_fmt(r['uar_low'], 2)}, {_fmt(r['uar_high'], 2)}]"


def _leak_text(r: Any) -> str:
    speakers, clips = r["test_speakers_in_training"], r["test_clips_source_in_training"]
    return f"{_count(speakers)} / {_count(clips)}"


def _worst_text(r: Any) -> str:
    if not isinstance(r["worst_speaker"], str) or not r["worst_speaker"]:
        return "-"
    return f"{r['worst_speaker']} ({_fmt(r['worst_speaker_uar'], 2)})"


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
               "UAR 95% CI", "chance", "worst speaker", "leak spk/clips", "accuracy",
               "macro-F1"] + [f"acc@{c[len('acc_snr'):]}dB" for c in snr_cols]
              + ["ECE", "conf AUROC", "OOD AUROC", "train s", "MB", "params", "ms/clip"])
    rows = []
    for _, r in board.iterrows():
        model = str(r["model"])
        if r["leaky"]:
            model += f" {LEAKY_MARK}"
        if _flag(r["at_chance"]):
            model += f" {AT_CHANCE_MARK}"
        if r.get("mode") == "adaptive":
            model += f" {ADAPTIVE_MARK}"
        dataset = str(r["dataset"]) + (" (synthetic)" if _flag(r["synthetic"]) else "")
        uar = _uar_text(r)
        rows.append([dataset, model, str(r["arch"]), str(r["features"]), str(r["protocol"]),
                     uar, _interval_text(r), _fmt(r["chance"], 3), _worst_text(r),
                     _leak_text(r), _fmt(r["accuracy"]), _fmt(r["macro_f1"])]
                    + [_fmt(r[c]) for c in snr_cols]
                    + [_fmt(r["ece"]), _fmt(r["conf_auroc"]), _fmt(r["ood_auroc"]),
                       _fmt(r["train_s"], 1), _fmt(r["bundle_mb"], 2), _params(r["n_params"]),
                       _fmt(r["predict_ms_per_clip"], 1)])
    align = ["l"] * 5 + ["r"] * 3 + ["l", "r"] + ["r"] * (len(header) - 10)
    parts = ["# Leaderboard", ""]
    synthetic = sorted({str(r["dataset"]) for _, r in board.iterrows() if _flag(r["synthetic"])})
    for ds in synthetic:
        parts += [f"**Note: `{ds}` {SYNTHETIC_NOTE}.**", ""]
    parts += [
        "UAR = unweighted average recall (balanced accuracy), mean ± std over folds; UAR 95% CI: "
        "bootstrap over test speakers (clips when speakers are unknown) of the pooled UAR; "
        f"chance = 1 / classes; {AT_CHANCE_MARK}: the interval reaches chance. Worst speaker: "
        "the test speaker with the lowest UAR. Leak spk/clips: test speakers also in training / "
        "test clips whose source clip is in training, summed over folds (0 / 0 for "
        "speaker-independent protocols). Accuracy, macro-F1 and accuracy at each SNR are on all "
        "clean (resp. noisy) test clips pooled over folds. ECE: expected calibration error "
        "(15 bins). Conf AUROC: confidence ranking right answers above wrong ones (0.5 = not at "
        "all). OOD AUROC: confidence separating clean test clips from their lowest-SNR copies. "
        "Cost: training seconds per fold, bundle size, parameters, prediction time per clip "
        "(features + model) measured at evaluation on the machine and load of that run.",
        "",
        _md_table(header, rows, align) if rows else "(no models evaluated)",
    ]
    if (board["mode"] == "adaptive").any():
        parts += ["", f"{ADAPTIVE_MARK}: speaker-adaptive (normalize: speaker): each test "
                  "speaker is standardised with the statistics of its own test clips, which "
                  "needs the speaker's identity and a set of its clips at prediction time "
                  "(ser predict --adapt-by); (strict ...) is the same recipe with the training "
                  "speakers' scaler (fallback: strict), which uses nothing from test speakers."]
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
    # in a box of its own width that scrolls sideways when a narrow window cannot hold the
    # table (cells do not wrap), so the page itself never does
    return (f'<div class="tbl"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _ood_cell(value: Any, score: Any) -> str:
    """OOD AUROC with the score it used (confidence branch or max probability)."""
    if math.isnan(_num(value)):
        return "-"
    if not isinstance(score, str) or not score:
        return _fmt(value)
    return f'{_fmt(value)} <span class="muted">({_e(score)})</span>'


def _leaderboard_html(board: pd.DataFrame) -> str:
    """Two tables that fit a screen: the scores with what sits beside them (interval, chance,
    worst speaker, leakage), then robustness, confidence and cost of the same rows."""
    snr_cols = [c for c in board.columns if c.startswith("acc_snr")]
    scores_header = ["dataset", "model", "arch", "features", "protocol", "UAR (mean ± std)",
                     "UAR 95% CI", "chance", "worst speaker", "leak spk / clips", "accuracy",
                     "macro-F1", "folds", "n_test"]
    cost_header = (["dataset", "model"] + [f"acc @ {c[len('acc_snr'):]} dB" for c in snr_cols]
                   + ["ECE", "conf AUROC", "OOD AUROC", "train s / fold", "bundle MB",
                      "params", "ms / clip"])
    scores, costs, classes = [], [], []
    for _, r in board.iterrows():
        tag = '<span class="tag">leaky</span>' if r["leaky"] else ""
        if _flag(r["at_chance"]):
            tag += '<span class="tag">at chance</span>'
        if r.get("mode") == "adaptive":
            tag += '<span class="tag">adaptive: needs the speaker\'s clips</span>'
        link = f'<a href="#m-{_slug(r["dataset"])}-{_slug(r["model"])}">{_e(r["model"])}</a>'
        uar = _uar_text(r, bold=True)
        dataset = _e(r["dataset"]) + (' <span class="tag synth">synthetic</span>'
                                      if _flag(r["synthetic"]) else "")
        leak = _leak_text(r)
        if _num(r["test_speakers_in_training"]) > 0 or _num(r["test_clips_source_in_training"]) > 0:
            leak = f'<span class="bad">{leak}</span>'
        scores.append([dataset, link + tag, _e(r["arch"]), _e(r["features"]), _e(r["protocol"]),
                       uar, _interval_text(r), _fmt(r["chance"]), _e(_worst_text(r)), leak,
                       _fmt(r["accuracy"]), _fmt(r["macro_f1"]), str(r["folds"]),
                       _fmt(r["n_test"], 0)])
        costs.append([dataset, link + tag] + [_fmt(r[c]) for c in snr_cols]
                     + [_fmt(r["ece"]), _fmt(r["conf_auroc"]),
                        _ood_cell(r["ood_auroc"], r["ood_score"]), _fmt(r["train_s"], 1),
                        _fmt(r["bundle_mb"], 2), _params(r["n_params"]),
                        _fmt(r["predict_ms_per_clip"], 1)])
        classes.append("leaky" if r["leaky"] else ("chance" if _flag(r["at_chance"]) else ""))
    return (_table_html(scores_header, scores, text_cols=5, row_classes=classes)
            + "<h3>Noise, confidence and cost</h3>"
            + _table_html(cost_header, costs, text_cols=2, row_classes=classes))


HOW_TO_READ = """
<p><b>Protocols.</b> <i>speaker_kfold</i>, <i>loso</i> (leave one speaker out) and
<i>holdout_speakers</i> are <b>speaker-independent</b>: no speaker of a test clip is seen in
training, noisy copies stay in the fold of their clean original, and normalisation statistics and
oversampling (SMOTE) are fitted on the training part only. This is how a model meets a new voice.
<i>random</i> splits clips at random, so the same speakers appear in training and test; with
<i>SMOTE before split</i> synthetic clips interpolated from test clips also enter training. These
rows are marked <span class="tag">leaky</span>: their figures are optimistic and must not be
compared with speaker-independent ones. They are kept to show how much the seed projects'
protocol inflates results. The <b>leakage audit</b> (<i>leak spk / clips</i>) counts, over the
folds, test speakers who also speak in the training part and test clips whose source clip is in
the training part; both are 0 for an honest protocol.</p>
<p><b>Metrics.</b> <i>UAR</i> (unweighted average recall, scikit-learn's balanced accuracy) is the
mean of per-class recalls, so a majority class cannot dominate it. <i>Chance</i> is 1 / number of
classes: the UAR of a model that ignores its input. The leaderboard shows the UAR's mean ±
standard deviation over folds and a <b>95 % interval</b> by bootstrap over the test speakers
(2000 resamples of the speakers, UAR of their pooled clips; over clips when speakers are
unknown): it says how much the figure could move with other voices. A model whose interval
reaches chance is marked <span class="tag">at chance</span>: nothing shows that it learned
anything. <i>Worst speaker</i> names the test speaker with the lowest UAR: a model can look fine
pooled and fail one voice. Accuracy and macro-F1 are on all clean test clips pooled over folds.
Headline figures use clean clips only; the SNR columns give accuracy on noisy copies of the same
test clips (lower SNR = louder noise: 20 dB is a quiet office, 0 dB speech as loud as the noise),
the table per noise kind shows which kind of noise hurts most, and each model's
<i>conditions</i> figure its UAR on copies with reverberation, a telephone line, a lossy codec or
a lower level, when the config asks for them (<code>augment</code>). A model trained on clean
clips only usually collapses towards chance under noise: it has never heard any; one trained on
the degraded copies (<code>train_on</code>) holds up. The sentence under each model says which it
is.
<i>ECE</i> (expected calibration error, 15 equal-width bins over the highest class probability)
is 0 for a perfectly calibrated model. <i>Conf AUROC</i> is how well the model's confidence ranks
its right answers above its wrong ones, and <i>OOD AUROC</i> how well it separates clean test clips
from their copies at the lowest SNR: 1 = perfectly, 0.5 = not at all; <i>ood_score</i> says
whether that confidence is a dedicated confidence branch (<i>model</i>) or the highest class
probability (<i>max_prob</i>).</p>
<p><b>Cost.</b> Training seconds per fold (the fit, recorded in the bundle), bundle size on disk,
learned parameters, and prediction time per clip: feature extraction (recorded when the feature
tables were computed) plus the model (median of single-clip predictions at evaluation). Times
depend on the machine and its load during the run.</p>
<p><b>Cross-corpus.</b> A model trained on all of corpus A is tested on corpus B, on the labels
listed in the table; the drop against the within-corpus figure shows how much a model
depends on recording conditions, speakers and acting style.</p>
"""


def _metrics_summary_html(m: dict[str, Any]) -> str:
    interval = m.get("uar_interval") or {}
    worst = m.get("worst_speaker") or {}
    rows = [
        ["UAR (clean, pooled)", f"<b>{_fmt(m.get('uar'))}</b>"],
        ["95 % interval", (f"[{_fmt(interval.get('low'))}, {_fmt(interval.get('high'))}]"
                           if interval.get("low") is not None else "-")],
        ["chance (1 / classes)", _fmt(m.get("chance"))],
        ["UAR over folds (mean ± std)", f"{_fmt((m.get('folds_mean') or {}).get('uar'))} ± "
                                        f"{_fmt((m.get('folds_std') or {}).get('uar'))}"],
        ["accuracy", _fmt(m.get("accuracy"))],
        ["macro-F1", _fmt(m.get("macro_f1"))],
        ["worst speaker", (f"{_e(worst.get('speaker'))} (UAR {_fmt(worst.get('uar'))})"
                           if worst else "-")],
        ["test clips (clean / noisy)", f"{m.get('n_test', '-')} / {m.get('n_test_noisy', '-')}"],
        ["ECE", _fmt(m.get("ece"))],
        ["protocol", _e(m.get("protocol", "unknown"))],
    ]
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
    return (f'{_verdict_html(m)}<div class="figs">{table}{fold_table}{snr_table}'
            f"{_noise_kind_html(m)}</div>{_noise_sentence_html(m)}")


def _verdict_html(m: dict[str, Any]) -> str:
    """One plain sentence on the headline: the interval against chance."""
    interval = m.get("uar_interval") or {}
    if interval.get("low") is None or m.get("chance") is None:
        return ""
    chance = float(m["chance"])
    text = (f"UAR {_fmt(m.get('uar'), 3)}, 95 % interval {_fmt(interval['low'], 3)} to "
            f"{_fmt(interval['high'], 3)} by {_e(interval.get('method', ''))}; chance is "
            f"{_fmt(chance, 3)}.")
    if m.get("at_chance"):
        return (f'<p class="warn"><b>At chance:</b> {text} The interval reaches chance, so '
                "these results do not show that the model recognises emotions at all.</p>")
    return f'<p class="ok">{text} The interval lies above chance.</p>'


def _noise_kind_html(m: dict[str, Any]) -> str:
    """Accuracy per noise kind and SNR (kept apart from other condition tables)."""
    by_noise = m.get("by_noise") or {}
    if not by_noise:
        return ""
    snrs = sorted({k for t in by_noise.values() for k in t}, key=lambda k: -float(k))
    clean = (m.get("by_snr") or {}).get("clean")
    rows = [[_e(kind), _fmt(clean)] + [_fmt(table.get(k)) for k in snrs]
            for kind, table in sorted(by_noise.items())]
    return _table_html(["noise kind", "clean"] + [f"{k} dB" for k in snrs], rows)


def _noise_sentence_html(m: dict[str, Any]) -> str:
    text = noise_sentence(m.get("by_snr") or {}, m.get("by_noise") or {},
                          float(m.get("chance") or 0.0))
    return f'<p class="note">{_e(text)}</p>' if text else ""


def _leakage_html(m: dict[str, Any]) -> str:
    leak = m.get("leakage")
    if not leak:
        return ""
    rows = [[str(f["fold"]), str(f["test_speakers"]), str(f["test_speakers_in_training"]),
             str(f["test_clips"]), str(f["test_clips_source_in_training"])]
            for f in leak.get("per_fold", [])]
    rows.append(["all", str(leak["test_speakers"]), str(leak["test_speakers_in_training"]),
                 str(leak["test_clips"]), str(leak["test_clips_source_in_training"])])
    shared = leak["test_speakers_in_training"] or leak["test_clips_source_in_training"]
    words = ("Some test data was also seen in training: these figures are optimistic."
             if shared else "No test speaker and no test clip was seen in training.")
    return (f"<h4>Leakage audit</h4><p>{_e(words)}</p>"
            + _table_html(["fold", "test speakers", "of them in training",
                           "test clips (clean + copies)", "source clip in training"], rows))


def _cost_html(m: dict[str, Any]) -> str:
    cost = m.get("cost")
    if not cost:
        return ""
    row = _cost_row(m)
    feat, model = cost.get("feature_seconds_per_clip"), cost.get("model_seconds_per_clip")
    rows = [["training time per fold", f"{_fmt(row['train_s'], 1)} s"],
            ["bundle size on disk", f"{_fmt(row['bundle_mb'], 2)} MB"],
            ["learned parameters", _params(row["n_params"])],
            ["prediction time per clip", f"{_fmt(row['predict_ms_per_clip'], 1)} ms"],
            ["of which features", "-" if feat is None else f"{1000 * feat:.1f} ms"],
            ["of which model", "-" if model is None else f"{1000 * model:.2f} ms"]]
    return (f'<h4>Cost</h4><div class="figs">{_table_html(["cost", "value"], rows)}</div>'
            f'<p class="muted">{_e(cost.get("how", ""))}</p>')


def _confidence_html(m: dict[str, Any]) -> str:
    """Says in words whether the confidence score can be relied on, with the numbers."""
    check = m.get("confidence_check")
    kind = m.get("ood_score") or "max_prob"
    what = ("the model's confidence branch" if kind == "model"
            else "the highest class probability")
    items = []
    if check:
        value = check.get("auroc_correct_vs_wrong")
        right, wrong = check.get("mean_confidence_correct"), check.get("mean_confidence_wrong")
        items.append(
            f"<li><b>Right vs wrong answers:</b> {what} {_e(check.get('verdict', ''))} "
            f"(AUROC {_fmt(value, 2)}; mean confidence {_fmt(right, 2)} on "
            f"{check.get('n_correct', 0)} right answers, {_fmt(wrong, 2)} on "
            f"{check.get('n_wrong', 0)} wrong ones).</li>")
    ood = m.get("ood_auroc") or {}
    base = m.get("ood_auroc_maxprob") or {}
    names = {"noisy_0db": f"Clean clips vs their copies at {m.get('ood_noisy_snr_db', 0):g} dB "
                          "SNR", "other_corpus": "This corpus vs another corpus"}
    for key, value in ood.items():
        extra = (f"; the highest class probability gives {_fmt(base[key], 2)}"
                 if key in base else "")
        items.append(f"<li><b>{_e(names.get(key, key))}:</b> {what} "
                     f"{separation_words(_num(value))} (AUROC {_fmt(value, 2)}{extra}).</li>")
    if m.get("ece") is not None:
        items.append(f"<li><b>Calibration:</b> on average the stated confidence is "
                     f"{_fmt(m.get('ece'), 2)} away from the accuracy actually reached "
                     "(ECE; reliability diagram below).</li>")
    if m.get("at_chance"):
        items.append("<li>The model is at chance, so its confidence says nothing about the "
                     "emotion, however high it is.</li>")
    native = m.get("native_decision")
    if native:
        mine = native["uar_of_predicted_label"]
        worse = mine < native["uar"] - 0.01
        items.append(
            f"<li><b>Labels vs the model's own decision</b> ({_e(native['rule'])}): they agree "
            f"on {100 * native['agreement']:.0f} % of clips; UAR {_fmt(mine, 3)}"
            f" by the reported labels, {_fmt(native['uar'], 3)} by the model's own rule"
            + (' <span class="bad">(the reported labels are worse)</span>' if worse else "")
            + ".</li>")
    diff = m.get("reload_max_abs_diff")
    if diff is not None:
        same = ("exactly the evaluated probabilities" if diff == 0 else
                f"probabilities within {diff:.1e} of the evaluated ones")
        items.append(f"<li><b>Saved bundles:</b> reloaded as <code>ser predict</code> loads "
                     f"them, they give {same}.</li>")
    if not items:
        return ""
    return f"<h4>Can its confidence be trusted?</h4><ul>{''.join(items)}</ul>"


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
        near = " (near chance)" if near_chance(worst[0], chance) else ""
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
    if m.get("at_chance"):
        tag += '<span class="tag">at chance</span>'
    anchor = f"m-{_slug(entry.dataset)}-{_slug(entry.model)}"
    arch = f' <span class="muted">({_e(m.get("arch", ""))}, {_e(_features(m))})</span>'
    figs = "".join(_img(entry.path / name, FIGURE_CAPTIONS[name]) for name in FIGURES)
    report_file = entry.path / "classification_report.txt"
    report = (report_file.read_text(encoding="utf-8") if report_file.is_file()
              else "classification_report.txt not found")
    return (f'<div class="model{" leaky" if leaky else ""}" id="{anchor}">'
            f"<h3>{_e(entry.model)}{tag}{arch}</h3>{_metrics_summary_html(m)}"
            f"{_robustness_html(m)}{_confidence_html(m)}{_leakage_html(m)}{_cost_html(m)}"
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
            interval = _interval_text(best)
            items.append(
                f"<li><b>{_e(ds)}</b>: best speaker-independent model "
                f"<a href=\"#m-{_slug(ds)}-{_slug(best['model'])}\">{_e(best['model'])}</a> "
                f"with UAR {_fmt(best['uar_mean'])} ± {_fmt(best['uar_std'])} "
                f"({_e(best['protocol'])}; 95 % interval {interval}, chance "
                f"{_fmt(best['chance'], 3)}; worst speaker {_e(_worst_text(best))}).</li>")
        chance_rows = board[(board["dataset"] == ds) & board["at_chance"].map(_flag)]
        if len(chance_rows):
            names = ", ".join(_e(x) for x in chance_rows["model"])
            items.append(f'<li><span class="tag">at chance</span> <b>{_e(ds)}</b>: the UAR '
                         f"interval of {names} reaches chance: nothing shows these models "
                         "learned anything.</li>")
    n_leaky = int(board["leaky"].astype(bool).sum()) if len(board) else 0
    if n_leaky:
        items.append(f'<li><span class="tag">leaky</span> {n_leaky} row(s) use a leaky protocol; '
                     'see <a href="#how-to-read">how to read this</a>.</li>')
    return f"<ul>{''.join(items)}</ul>"


def _banner_html(datasets: Sequence[str]) -> str:
    """The warning at the top of the page (and of a dataset's section) for the demo corpus."""
    if not datasets:
        return ""
    names = ", ".join(f"<b>{_e(d)}</b>" for d in datasets)
    return (f'<div class="banner">⚠ {names} {_e(SYNTHETIC_NOTE)}. Train on recorded '
            "emotional speech (see README: your own corpora) before using a model on real "
            "recordings.</div>")


def _provenance_html(info: dict[str, Any] | None) -> str:
    if not info:
        return '<p class="muted">No provenance recorded.</p>'
    import yaml

    dirty = info.get("git_dirty")
    commit = str(info.get("git_commit")) + (" (with uncommitted changes)" if dirty else "")
    rows = [["date", _e(info.get("date"))], ["command", f"<code>{_e(info.get('command'))}</code>"],
            ["git commit", _e(commit)]]
    versions = info.get("versions") or {}
    ver = ", ".join(f"{_e(k)} {_e(v)}" for k, v in versions.items())
    rows.append(["package versions", ver])
    config = info.get("config")
    cfg = (yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
           if config is not None else "(not recorded)")
    # both columns are text: left-aligned and wrapping (a long value would push the others
    # off screen in a right-aligned, unwrapped number column)
    return (_table_html(["", ""], rows, text_cols=2)
            + f"<details><summary>config as run</summary><pre>{_e(cfg)}</pre></details>")


def _html(board: pd.DataFrame, evals: list[_Entry], edas: dict[str, Path],
          cross_entries: list[_Entry], cross: pd.DataFrame, title: str,
          provenance: dict[str, Any] | None = None) -> str:
    datasets = sorted({e.dataset for e in evals} | set(edas))
    synthetic = sorted({e.dataset for e in evals
                        if (e.metrics.get("corpus") or {}).get("synthetic")})
    nav = ['<a href="#summary">Summary</a>', '<a href="#leaderboard">Leaderboard</a>',
           '<a href="#how-to-read">How to read this</a>']
    nav += [f'<a href="#ds-{_slug(ds)}">{_e(ds)}</a>' for ds in datasets]
    nav.append('<a href="#cross-corpus">Cross-corpus</a>')
    nav.append('<a href="#provenance">Provenance</a>')
    sections = [
        _banner_html(synthetic),
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
        if ds in synthetic:
            parts.append(_banner_html([ds]))
        if ds in edas:
            parts.append(_eda_html(edas[ds]))
        order = {(r.dataset, r.model): i for i, r in board.iterrows()}
        models = sorted((e for e in evals if e.dataset == ds),
                        key=lambda e: cast(int, order.get((e.dataset, e.model), 0)))
        if models:
            parts.append("<h3>Models</h3>")
            parts += [_model_html(e) for e in models]
        parts.append("</section>")
        sections.append("".join(parts))
    sections.append('<section id="cross-corpus"><h2>Cross-corpus</h2>'
                    f"{_cross_html(cross_entries, cross)}</section>")
    sections.append('<section id="provenance"><h2>Provenance</h2>'
                    f"{_provenance_html(provenance)}</section>")
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
    provenance: dict[str, Any] | None = None,
) -> None:
    """Write ``leaderboard.csv``, ``leaderboard.md``, ``cross_corpus.csv`` and a self-contained
    ``index.html`` into ``out_dir`` from evaluation folders (with metrics.json), EDA folders (with
    eda.json; the eda.json paths themselves are accepted too) and cross-corpus folders.
    ``provenance`` (:func:`ser.trust.provenance`: config as run, versions, commit, date,
    command line) is shown at the end of the page."""
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
    write_text(out_dir / "index.html",
               _html(board, evals, edas, cross_entries, cross, title, provenance))


MODEL_CHOICE_FILE = "leaderboard.json"
"""Written into results/models/DATASET/: which model `ser predict results/models/DATASET` uses."""


def model_choice(eval_dirs: Sequence[Path], dataset: str) -> dict[str, Any]:
    """The leaderboard of one dataset for `ser predict`: every model's headline figures and the
    best one (the leaderboard's first row: speaker-independent protocols first, then the
    highest fold-mean UAR). Written beside the models so that the folder stands on its own."""
    entries = [_load(Path(d)) for d in eval_dirs]
    board = leaderboard_frame([e for e in entries if e.dataset == dataset])
    if board.empty:
        raise ValueError(f"no evaluated model of dataset {dataset!r}")

    def number(value: Any) -> float | None:
        v = _num(value)
        return None if math.isnan(v) else v

    rows = [{"model": str(r["model"]), "arch": str(r["arch"]), "features": str(r["features"]),
             "protocol": str(r["protocol"]), "leaky": bool(r["leaky"]),
             "uar_mean": number(r["uar_mean"]), "uar_std": number(r["uar_std"]),
             "uar": number(r["uar"]), "uar_low": number(r["uar_low"]),
             "uar_high": number(r["uar_high"]), "chance": number(r["chance"]),
             "at_chance": _flag(r["at_chance"]), "synthetic": _flag(r["synthetic"])}
            for _, r in board.iterrows()]
    return {
        "dataset": dataset, "best": rows[0]["model"], "models": rows,
        "chosen_by": "the leaderboard's first row: speaker-independent protocols first, then the "
                     "highest UAR (mean over folds)",
        "caveat": "the best of several models is chosen on the same test folds that measured "
                  "it, so its UAR is slightly optimistic",
    }


def write_model_choice(eval_dirs: Sequence[Path], dataset: str, out: Path) -> dict[str, Any]:
    """Write :func:`model_choice` as JSON (atomically)."""
    choice = model_choice(eval_dirs, dataset)
    write_text(out, json.dumps(choice, indent=2) + "\n")
    return choice


def print_leaderboard(path: Path) -> None:
    """Print leaderboard.md (or ``path/leaderboard.md`` for a folder) to stdout."""
    path = Path(path)
    if path.is_dir():
        path = path / "leaderboard.md"
    text = path.read_text(encoding="utf-8")
    sys.stdout.write(f"\n{text}" + ("" if text.endswith("\n") else "\n"))
    sys.stdout.write(f"\n(full report: {path.parent / 'index.html'})\n")
    sys.stdout.flush()
