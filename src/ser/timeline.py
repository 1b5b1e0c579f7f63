"""`ser predict --plot DIR`: one timeline figure per classified file (:func:`plot_timelines`).

The figure (drawn by :func:`ser.plots.plot_timeline`) shows the file's spectrogram with its
speech segments coloured by label and the probability of every label over time. Each file is
decoded again here, with the same decoder as for prediction, because the workers that decoded
it for prediction do not send whole signals back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ser.audio import AudioError, decode
from ser.plots import plot_timeline
from ser.predict_output import PredictResult


def timeline_path(out_dir: Path, path: str, taken: set[Path]) -> Path:
    """``out_dir/<file name>.timeline.png``; ``-2``, ``-3``... when two inputs share a name."""
    stem = Path(path).name or "input"
    candidate = out_dir / f"{stem}.timeline.png"
    k = 2
    while candidate in taken:
        candidate = out_dir / f"{stem}-{k}.timeline.png"
        k += 1
    taken.add(candidate)
    return candidate


def plot_timelines(result: PredictResult, out_dir: Path, audio: dict[str, Any]
                   ) -> tuple[list[Path], list[str]]:
    """Write a timeline per file that has segments; returns the figures and the problems."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sr = int(audio["sample_rate"])
    taken: set[Path] = set()
    written: list[Path] = []
    problems: list[str] = []
    for f in result.files:
        if not f.segments:
            continue
        try:
            signal = decode(f.path, sr)
        except (AudioError, OSError) as exc:
            problems.append(f"{f.path}: no timeline: {exc}")
            continue
        title = f"{Path(f.path).name}: {f.label or f.reason}"
        written.append(plot_timeline(signal, sr, f.segments, result.labels, title,
                                     timeline_path(out_dir, f.path, taken)))
    return written, problems
