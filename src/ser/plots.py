"""Figures for evaluation, EDA and the report: one consistent, small, readable style.

Every function draws on a fresh :class:`matplotlib.figure.Figure` (no pyplot global state, so
functions are safe to call from Snakemake scripts and tests alike) and writes the PNG atomically.
matplotlib is imported lazily so that ``import ser.plots`` stays cheap.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ser.io import atomic_path

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

DPI = 100
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.grid": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _figure(width: float, height: float) -> Figure:
    """A new Agg-backed figure using the shared style."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch a caller's interactive backend
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with _style():
        return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


@contextlib.contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(cast(Any, STYLE)):  # STYLE's keys are rcParams names
        yield


def save_figure(fig: Figure, path: Path | str) -> Path:
    """Save ``fig`` as PNG atomically and release it."""
    path = Path(path)
    with _style(), atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI)
    fig.clear()
    return path


def placeholder(message: str, title: str, path: Path | str) -> Path:
    """A small figure that says why a plot is absent (keeps every declared output present)."""
    with _style():
        fig = _figure(4.5, 1.6)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(0.5, 0.45, message, ha="center", va="center", color="#555555", wrap=True)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- evaluation plots


def plot_confusion(
    matrix: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    title: str,
    path: Path | str,
    *,
    normalize: bool = False,
) -> Path:
    """Confusion matrix heatmap: counts, or row-normalised (recall on the diagonal)."""
    m = np.asarray(matrix, dtype=float)
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.full_like(m, np.nan), where=totals > 0)
    n = len(labels)
    side = max(3.6, 0.55 * n + 2.0)
    with _style():
        fig = _figure(side + 0.8, side)
        ax = fig.add_subplot()
        vmax = 1.0 if normalize else max(1.0, float(np.nanmax(m)) if m.size else 1.0)
        im = ax.imshow(np.nan_to_num(m), cmap="Blues", vmin=0.0, vmax=vmax)
        ax.set_xticks(range(n), labels=list(labels), rotation=45, ha="right")
        ax.set_yticks(range(n), labels=list(labels))
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(title + (" (row-normalised)" if normalize else " (counts)"))
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                v = m[i, j]
                if np.isnan(v):
                    continue
                text = f"{v:.2f}" if normalize else f"{int(round(v))}"
                dark = v > 0.6 * vmax
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
        fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of row" if normalize else "clips")
    return save_figure(fig, path)


def plot_snr(
    rows: Sequence[tuple[str, float | None, float | None]],
    title: str,
    path: Path | str,
    *,
    chance: float | None = None,
    by_noise: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    """Accuracy and UAR against SNR; ``rows`` are (snr key, accuracy, uar), lowest SNR first,
    with "clean" last so that the curve reads left-to-right from hardest to easiest.
    ``by_noise`` ({kind: {snr key: accuracy}}) adds a thin accuracy line per noise kind."""
    if not rows:
        return placeholder("no test predictions", title, path)
    xs = np.arange(len(rows))
    names = [r[0] if r[0] == "clean" else f"{r[0]} dB" for r in rows]
    acc = [np.nan if r[1] is None else r[1] for r in rows]
    uar = [np.nan if r[2] is None else r[2] for r in rows]
    with _style():
        fig = _figure(4.6, 3.2)
        ax = fig.add_subplot()
        ax.plot(xs, acc, "o-", color=COLORS[0], label="accuracy")
        ax.plot(xs, uar, "s--", color=COLORS[1], label="UAR")
        clean_acc = acc[-1] if rows[-1][0] == "clean" else np.nan
        for i, (kind, table) in enumerate(sorted((by_noise or {}).items())):
            ys = [clean_acc if r[0] == "clean" else table.get(r[0], np.nan) for r in rows]
            ax.plot(xs, ys, ".:", color=COLORS[(i + 2) % len(COLORS)], lw=1.0,
                    label=f"accuracy, {kind} noise")
        if chance is not None:
            ax.axhline(chance, color="#999999", lw=0.8, ls=":", label=f"chance ({chance:.2f})")
        ax.set_xticks(xs, labels=names)
        ax.set_ylim(0, 1)
        ax.set_xlabel("signal-to-noise ratio of the test copy")
        ax.set_ylabel("score")
        ax.grid(axis="y", alpha=0.3)
        # scores rise towards "clean" on the right, so the upper left is the empty corner
        ax.legend(loc="upper left")
        ax.set_title(title + ": robustness to noise")
    return save_figure(fig, path)


def plot_conditions(
    by_condition: Mapping[str, Any],
    title: str,
    path: Path | str,
    *,
    chance: float | None = None,
) -> Path:
    """UAR under every recording condition and level (``metrics.json`` ``by_condition``): one bar
    per level, grouped and coloured by condition, fold std as error bars; the clean UAR as a
    line across, so each bar reads as "how much of the clean accuracy survives"."""
    groups = [(k, v) for k, v in by_condition.items() if k != "clean" and v]
    if "clean" not in by_condition or not groups:
        return placeholder("no degraded test copies (augment: snr_db, reverb_rt60, telephone, "
                           "codec, gain_db)", title, path)
    def uar(entry: Mapping[str, Any]) -> tuple[float, float]:
        return (float(entry.get("uar_fold_mean", entry.get("uar", np.nan))),
                float(entry.get("uar_fold_std", 0.0) or 0.0))

    clean_uar, clean_std = uar(by_condition["clean"])
    names, values, errs, colors, ticks = [], [], [], [], []
    x = 0.0
    xs = []
    for gi, (kind, levels) in enumerate(groups):
        start = x
        for level, entry in levels.items():
            v, e = uar(entry)
            unit = {"noise": " dB", "reverb": " s" if level != "rir" else "", "gain": " dB"}
            names.append(f"{level}{unit.get(kind, '')}")
            values.append(v)
            errs.append(e)
            colors.append(COLORS[(gi + 1) % len(COLORS)])
            xs.append(x)
            x += 1.0
        ticks.append(((start + x - 1.0) / 2.0, kind))
        x += 0.6
    with _style():
        fig = _figure(max(5.4, 0.42 * len(xs) + 2.8), 3.4)
        ax = fig.add_subplot()
        ax.bar(xs, values, yerr=errs, color=colors, width=0.8, capsize=2,
               error_kw={"lw": 0.8, "ecolor": "#555555"})
        ax.axhspan(clean_uar - clean_std, clean_uar + clean_std, color=COLORS[0], alpha=0.08)
        ax.axhline(clean_uar, color=COLORS[0], lw=1.2, label=f"clean ({clean_uar:.2f})")
        if chance is not None:
            ax.axhline(chance, color="#999999", lw=0.8, ls=":", label=f"chance ({chance:.2f})")
        ax.set_xticks(xs, labels=names, rotation=45, ha="right")
        for pos, kind in ticks:
            ax.text(pos, 1.0, kind, ha="center", va="bottom", fontsize=8,
                    transform=ax.get_xaxis_transform())
        ax.set_ylim(0, 1)
        ax.set_ylabel("UAR (mean over folds)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
        ax.set_title(title + ": UAR under each recording condition", pad=14)
    return save_figure(fig, path)


def plot_curves(
    histories: Mapping[int, Any],
    title: str,
    path: Path | str,
    *,
    arch: str = "this model",
) -> Path:
    """Loss and accuracy per epoch, one colour per fold, train solid and validation dashed.

    ``histories`` maps fold -> DataFrame(epoch, loss, accuracy, val_loss, val_accuracy); empty for
    models that are not trained by epochs, which get a small explanatory figure instead.
    """
    usable = {k: h for k, h in histories.items() if h is not None and len(h)}
    if not usable:
        return placeholder(f"no training curves for {arch}", title, path)
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    with _style():
        fig = _figure(7.5, 3.0)
        axes = fig.subplots(1, 2)
        for idx, fold in enumerate(sorted(usable)):
            hist = usable[fold]
            color = COLORS[idx % len(COLORS)]
            epochs = hist["epoch"] if "epoch" in hist else np.arange(1, len(hist) + 1)
            for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
                if key in hist:
                    ax.plot(epochs, hist[key], color=color, lw=1.2)
                if f"val_{key}" in hist:
                    ax.plot(epochs, hist[f"val_{key}"], color=color, lw=1.2, ls="--")
        for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
        axes[1].set_ylim(0, 1)
        handles = [
            Line2D([], [], color=COLORS[i % len(COLORS)], label=f"fold {k}")
            for i, k in enumerate(sorted(usable))
        ]
        handles += [
            Line2D([], [], color="black", label="train"),
            Line2D([], [], color="black", ls="--", label="validation"),
        ]
        axes[1].legend(handles=handles, loc="lower right", ncols=2)
        fig.suptitle(title + ": training curves")
    return save_figure(fig, path)


def plot_reliability(
    bins: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    title: str,
    path: Path | str,
    *,
    ece: float | None = None,
) -> Path:
    """Reliability diagram (accuracy vs confidence per bin) with the ECE, over a count histogram.

    ``bins`` is (mean confidence, accuracy, count) per equal-width bin, as computed by
    :func:`ser.evaluate.reliability_bins`; None for models without class probabilities.
    """
    if bins is None or float(np.sum(bins[2])) == 0:
        return placeholder("no class probabilities: no reliability diagram", title, path)
    mean_conf, acc, counts = (np.asarray(b, dtype=float) for b in bins)
    n_bins = len(counts)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    width = 1.0 / n_bins
    with _style():
        fig = _figure(4.2, 4.4)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        ok = counts > 0
        top.bar(centers[ok], acc[ok], width=width * 0.95, color=COLORS[0], alpha=0.8,
                label="accuracy in bin")
        top.bar(centers[ok], (mean_conf - acc)[ok], bottom=acc[ok], width=width * 0.95,
                color=COLORS[1], alpha=0.25, label="gap to confidence")
        top.plot([0, 1], [0, 1], color="#555555", ls="--", lw=0.8, label="perfect calibration")
        top.set_ylim(0, 1)
        top.set_xlim(0, 1)
        top.set_ylabel("accuracy")
        top.legend(loc="upper left")
        label = f"ECE = {ece:.3f}" if ece is not None else "ECE n/a"
        top.set_title(f"{title}: reliability ({label})")
        bottom.bar(centers, counts, width=width * 0.95, color="#777777")
        bottom.set_xlabel("confidence (max class probability)")
        bottom.set_ylabel("clips")
    return save_figure(fig, path)


def plot_per_class(
    per_class: Mapping[str, float | None], title: str, path: Path | str
) -> Path:
    """Recall per class as bars, with the mean (= UAR) as a reference line."""
    labels = list(per_class)
    if not labels:
        return placeholder("no classes", title, path)
    values = np.array([np.nan if per_class[k] is None else per_class[k] for k in labels], float)
    with _style():
        fig = _figure(max(3.8, 0.5 * len(labels) + 1.8), 3.2)
        ax = fig.add_subplot()
        xs = np.arange(len(labels))
        ax.bar(xs, np.nan_to_num(values), color=COLORS[0], alpha=0.85)
        for x, v in zip(xs, values, strict=True):
            ax.text(float(x), (0 if np.isnan(v) else v) + 0.02,
                    "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        if np.isfinite(values).any():
            mean = float(np.nanmean(values))
            ax.axhline(mean, color=COLORS[1], ls="--", lw=0.9, label=f"mean (UAR) {mean:.2f}")
            ax.legend(loc="upper right")
        ax.set_xticks(xs, labels=labels, rotation=45, ha="right")
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("recall")
        ax.set_title(title + ": per-class recall")
    return save_figure(fig, path)


def plot_per_speaker(
    per_speaker: Mapping[str, Mapping[str, Any]],
    title: str,
    path: Path | str,
    *,
    chance: float | None = None,
    uar: float | None = None,
) -> Path:
    """UAR per test speaker as bars (the worst in red), with chance and the pooled UAR.

    Catches a model that works for some voices only: its pooled UAR can look fine while one
    speaker sits at chance."""
    names = sorted(per_speaker)
    if not names:
        return placeholder("speakers unknown: no per-speaker results", title, path)
    values = np.array([float(per_speaker[n]["uar"]) for n in names])
    worst = int(np.argmin(values))
    with _style():
        fig = _figure(max(4.0, 0.42 * len(names) + 2.0), 3.2)
        ax = fig.add_subplot()
        xs = np.arange(len(names))
        colors = [COLORS[1] if i == worst else COLORS[0] for i in range(len(names))]
        ax.bar(xs, values, color=colors, alpha=0.85)
        for x, v, n in zip(xs, values, names, strict=True):
            ax.text(float(x), v + 0.02, f"{v:.2f}\nn={per_speaker[n]['n']}", ha="center",
                    va="bottom", fontsize=6)
        if uar is not None:
            ax.axhline(uar, color="#333333", ls="--", lw=0.9, label=f"all speakers {uar:.2f}")
        if chance is not None:
            ax.axhline(chance, color="#999999", ls=":", lw=0.9, label=f"chance {chance:.2f}")
        ax.set_xticks(xs, labels=[_short(n, 12) for n in names], rotation=45, ha="right")
        ax.set_ylim(0, 1.15)
        ax.set_xlabel("test speaker")
        ax.set_ylabel("UAR")
        ax.legend(loc="upper right", fontsize=7)
        ax.set_title(f"{title}: UAR per speaker (worst: {names[worst]})")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- EDA plots


def plot_histogram(
    values: np.ndarray, title: str, path: Path | str, *, xlabel: str, bins: int = 30
) -> Path:
    """Histogram with the median marked (used for clip durations)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return placeholder("no values", title, path)
    with _style():
        fig = _figure(4.6, 3.0)
        ax = fig.add_subplot()
        ax.hist(values, bins=bins, color=COLORS[0], alpha=0.85)
        med = float(np.median(values))
        ax.axvline(med, color=COLORS[1], ls="--", lw=1, label=f"median {med:.2f}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("clips")
        ax.legend()
        ax.set_title(title)
    return save_figure(fig, path)


def plot_counts(
    panels: Sequence[tuple[str, Mapping[str, int]]], title: str, path: Path | str
) -> Path:
    """One bar chart per (panel title, {category: count}) side by side."""
    panels = [(t, c) for t, c in panels if c]
    if not panels:
        return placeholder("nothing to count", title, path)
    widths = [max(2.2, 0.45 * len(c) + 1.2) for _, c in panels]
    with _style():
        fig = _figure(min(12.0, max(4.0, sum(widths) + 0.4)), 3.2)
        axes = np.atleast_1d(fig.subplots(1, len(panels), width_ratios=widths))
        for ax, (panel_title, counts) in zip(axes, panels, strict=True):
            names = [str(k) for k in counts]
            vals = list(counts.values())
            xs = np.arange(len(names))
            ax.bar(xs, vals, color=COLORS[0], alpha=0.85)
            for x, v in zip(xs, vals, strict=True):
                ax.text(x, v, str(v), ha="center", va="bottom", fontsize=7)
            ax.set_xticks(xs, labels=[n if len(n) <= 28 else n[:26] + "…" for n in names],
                          rotation=30 if len(names) > 2 else 0, ha="right" if len(names) > 2
                          else "center")
            pad = max(0.0, (3 - len(names)) / 2)  # keep a lone bar from filling the panel
            ax.set_xlim(-0.6 - pad, len(names) - 0.4 + pad)
            ax.set_ylabel("files")
            ax.set_title(panel_title)
            ax.margins(y=0.15)
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_heatmap(
    table: Any, title: str, path: Path | str, *, xlabel: str, ylabel: str
) -> Path:
    """Count heatmap of a DataFrame (rows x columns), annotated when small enough to read."""
    data = np.asarray(table.to_numpy(), dtype=float)
    rows, cols = [str(r) for r in table.index], [str(c) for c in table.columns]
    if data.size == 0:
        return placeholder("no data", title, path)
    height = min(14.0, max(2.6, 0.22 * len(rows) + 1.6))
    with _style():
        fig = _figure(max(4.0, 0.55 * len(cols) + 2.2), height)
        ax = fig.add_subplot()
        im = ax.imshow(data, cmap="Blues", aspect="auto", vmin=0)
        ax.set_xticks(range(len(cols)), labels=cols, rotation=45, ha="right")
        step = max(1, len(rows) // 40)
        ax.set_yticks(range(0, len(rows), step), labels=rows[::step])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if data.size <= 600:
            vmax = data.max() if data.size else 1
            for i in range(data.shape[0]):
                for j in range(data.shape[1]):
                    ax.text(j, i, f"{int(data[i, j])}", ha="center", va="center", fontsize=6,
                            color="white" if data[i, j] > 0.6 * vmax else "black")
        fig.colorbar(im, ax=ax, shrink=0.8, label="files")
        ax.set_title(title)
    return save_figure(fig, path)


def _grid(n: int) -> tuple[int, int]:
    cols = min(4, max(1, n))
    return (n + cols - 1) // cols, cols


Example = tuple[str, str, np.ndarray, int]
"""(label, clip id, signal, sample rate) of one example clip per class."""


def _plot_examples(examples: Sequence[Example], title: str, path: Path | str,
                   row_height: float, draw: Callable[[Any, Example], None]) -> Path:
    """One panel per example clip in a grid of up to 4 columns; `draw` fills a panel."""
    if not examples:
        return placeholder("no readable clean WAVs", title, path)
    nrows, ncols = _grid(len(examples))
    with _style():
        fig = _figure(3.0 * ncols, row_height * nrows + 0.4)
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, example in zip(axes, examples, strict=False):
            draw(ax, example)
        for ax in axes[len(examples):]:
            ax.set_axis_off()
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_waveforms(examples: Sequence[Example], title: str, path: Path | str) -> Path:
    """One waveform per class; ``examples`` are (label, clip id, signal, sample rate)."""

    def draw(ax: Any, example: Example) -> None:
        label, clip_id, signal, sr = example
        t = np.arange(len(signal)) / sr
        ax.plot(t, signal, color=COLORS[0], lw=0.4)
        peak = float(np.max(np.abs(signal))) if len(signal) else 0.0
        dbfs = 20 * np.log10(peak) if peak > 0 else -np.inf
        ax.set_title(f"{label} (peak {dbfs:.0f} dBFS)\n{_short(clip_id)}", fontsize=8)
        ax.set_xlabel("s")
        ax.set_ylim(-max(peak, 1e-4) * 1.05, max(peak, 1e-4) * 1.05)

    return _plot_examples(examples, title, path, 1.9, draw)


def log_power_spectrogram(
    signal: np.ndarray, sr: int, *, frame_s: float = 0.025, hop_s: float = 0.010
) -> np.ndarray:
    """Power spectrogram in dB (frequency x frame), Hann window; plain numpy so that drawing an
    EDA figure does not pull in scipy.signal."""
    n = max(16, int(frame_s * sr))
    hop = max(1, int(hop_s * sr))
    x = np.asarray(signal, dtype=np.float64)
    if x.size < n:
        x = np.pad(x, (0, n - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n), axis=1)) ** 2
    return (10.0 * np.log10(power + 1e-10)).T


def plot_spectrograms(examples: Sequence[Example], title: str, path: Path | str) -> Path:
    """One log-power spectrogram (25 ms Hann, 10 ms hop) per class."""

    def draw(ax: Any, example: Example) -> None:
        label, clip_id, signal, sr = example
        db = log_power_spectrogram(signal, sr)
        top = float(db.max())
        ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                  extent=(0.0, len(signal) / sr, 0.0, sr / 2000), interpolation="nearest")
        ax.set_title(f"{label}\n{_short(clip_id)}", fontsize=8)
        ax.set_xlabel("s")
        ax.set_ylabel("kHz")

    return _plot_examples(examples, title, path, 2.1, draw)


def _short(text: str, n: int = 34) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]


# --------------------------------------------------------------------------- timelines


def plot_timeline(
    signal: np.ndarray, sr: int, segments: Sequence[Any], labels: Sequence[str], title: str,
    path: Path | str,
) -> Path:
    """A long recording at a glance: its spectrogram with each speech segment coloured by its
    label, and below it the probability of every label over time (a step per segment).

    ``segments`` are objects or dicts with start, end, status, label, probabilities, uncertain
    (as ``ser predict --segment`` writes them); failed segments are hatched grey.
    """
    def get(s: Any, key: str) -> Any:
        return s[key] if isinstance(s, Mapping) else getattr(s, key)

    duration = max(len(signal) / sr, max((float(get(s, "end")) for s in segments), default=0.0))
    colour = {lab: COLORS[i % len(COLORS)] for i, lab in enumerate(labels)}
    with _style():
        fig = _figure(min(16.0, max(7.0, 0.25 * duration + 5.0)), 4.6)
        spec_ax, prob_ax = fig.subplots(2, 1, sharex=True, height_ratios=[1.3, 1.0])
        db = log_power_spectrogram(signal, sr)
        top = float(db.max()) if db.size else 0.0
        spec_ax.imshow(db, origin="lower", aspect="auto", cmap="gray_r", vmin=top - 80, vmax=top,
                       extent=(0.0, len(signal) / sr, 0.0, sr / 2000), interpolation="nearest")
        spec_ax.set_ylabel("kHz")
        spec_ax.set_title(title)
        for s in segments:
            a, b = float(get(s, "start")), float(get(s, "end"))
            if get(s, "status") != "ok":
                spec_ax.axvspan(a, b, color="#999999", alpha=0.25, hatch="//", lw=0)
                continue
            lab = str(get(s, "label"))
            spec_ax.axvspan(a, b, color=colour[lab], alpha=0.15 if get(s, "uncertain") else 0.35,
                            lw=0)
            spec_ax.text((a + b) / 2, sr / 2000 * 0.93, lab + ("?" if get(s, "uncertain") else ""),
                         ha="center", va="top", fontsize=8, color=colour[lab], clip_on=True,
                         fontweight="bold")
            probs = get(s, "probabilities") or {}
            for other in labels:
                prob_ax.plot([a, b], [probs.get(other, 0.0)] * 2, color=colour[other], lw=2)
        prob_ax.set_ylim(0, 1)
        prob_ax.set_ylabel("probability")
        prob_ax.set_xlabel("time (s)")
        prob_ax.set_xlim(0, duration)
        from matplotlib.lines import Line2D

        prob_ax.legend([Line2D([], [], color=colour[lab], lw=2) for lab in labels], labels,
                       ncol=min(8, len(labels)), loc="upper center", bbox_to_anchor=(0.5, -0.35),
                       frameon=False)
    return save_figure(fig, path)
