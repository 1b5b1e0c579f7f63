"""Speaker-adaptive prediction: which input files belong to one speaker, and which use the
adaptive model.

`normalize: speaker` standardises each speaker's clips with that speaker's own statistics. In
evaluation the speaker of every test clip is known; at prediction time the user says how files
group by speaker (`ser predict --adapt-by folder|regex|file-list|all`). Each group with at least
`min_clips` readable clips is standardised with its own statistics, exactly as evaluation
standardises a test speaker, and classified by the adaptive model; smaller groups (and files
with no group) fall back to the strict model stored in the same bundle (`fallback: strict` at
training), and the result says so per file.

Why a minimum: the mean and deviation of two or three clips are mostly the clips' emotions, not
the speaker's voice; docs/accuracy.md measures the adaptive UAR against the group size.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ser.errors import UsageError

ADAPT_BY = ("folder", "regex", "file-list", "all")
"""folder: one folder per speaker; regex: a pattern on the path names the speaker; file-list:
a CSV path,speaker; all: every file of the call is one speaker (e.g. one upload to ser serve)."""
DEFAULT_MIN_CLIPS = 10


@dataclass(frozen=True)
class Grouping:
    """How files group by speaker: `by` one of ADAPT_BY, with its regex or list file."""

    by: str
    min_clips: int = DEFAULT_MIN_CLIPS
    regex: str | None = None
    file_list: str | None = None

    def check(self) -> None:
        """Fail at once (UsageError, one line) on a bad option, before any file is decoded."""
        if self.by not in ADAPT_BY:
            raise UsageError(f"--adapt-by must be one of {', '.join(ADAPT_BY)}, got {self.by!r}")
        if self.min_clips < 2:
            raise UsageError(f"--adapt-min-clips must be >= 2 (one clip has no spread), got "
                             f"{self.min_clips}")
        if self.by == "regex":
            if not self.regex:
                raise UsageError("--adapt-by regex needs --speaker-regex PATTERN (group 1, or "
                                 "the whole match, names the speaker)")
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise UsageError(f"--speaker-regex {self.regex!r} is not a valid regular "
                                 f"expression: {exc}") from None
        if self.by == "file-list":
            if not self.file_list:
                raise UsageError("--adapt-by file-list needs --speaker-list FILE (CSV with "
                                 "columns path,speaker)")
            if not Path(self.file_list).is_file():
                raise UsageError(f"--speaker-list {self.file_list}: no such file")

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"by": self.by, "min_clips": self.min_clips}
        if self.regex:
            out["speaker_regex"] = self.regex
        if self.file_list:
            out["speaker_list"] = self.file_list
        return out


def _key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def read_speaker_list(path: str | os.PathLike) -> dict[str, str]:
    """path -> speaker from a CSV with a header naming `path` and `speaker` columns.

    Relative paths are relative to the list file's folder."""
    base = Path(path).parent
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        if "path" not in fields or "speaker" not in fields:
            raise UsageError(f"--speaker-list {path}: needs a header with columns path,speaker "
                             f"(found: {', '.join(fields) or 'nothing'})")
        out: dict[str, str] = {}
        for row in reader:
            row = {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if not row.get("path") or not row.get("speaker"):
                continue
            p = Path(row["path"])
            out[_key(str(p if p.is_absolute() else base / p))] = row["speaker"]
    return out


def speaker_of(paths: Sequence[str], grouping: Grouping) -> list[str | None]:
    """The speaker group of each path (None: no group, the strict model classifies it)."""
    if grouping.by == "folder":
        return [os.path.dirname(os.path.abspath(p)) for p in paths]
    if grouping.by == "all":
        return ["all"] * len(paths)
    if grouping.by == "regex":
        pattern = re.compile(str(grouping.regex))
        out: list[str | None] = []
        for p in paths:
            m = pattern.search(Path(p).as_posix())
            out.append(None if m is None else (m.group(1) if m.groups() else m.group(0)))
        return out
    table = read_speaker_list(str(grouping.file_list))
    return [table.get(_key(p)) for p in paths]


@dataclass(frozen=True)
class Assignment:
    """How one file is classified: its group, the group's size and the mode used."""

    group: str | None
    n_group: int
    mode: str  # "adaptive" or "strict"
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"group": self.group, "n_group": self.n_group, "mode": self.mode}
        if self.reason:
            out["reason"] = self.reason
        return out


def assign(groups: Sequence[str | None], min_clips: int) -> list[Assignment]:
    """Adaptive for files whose group has >= min_clips members, strict (with why) otherwise."""
    counts = Counter(g for g in groups if g is not None)
    out = []
    for g in groups:
        if g is None:
            out.append(Assignment(None, 0, "strict", "no speaker group for this file"))
        elif counts[g] < min_clips:
            out.append(Assignment(g, counts[g], "strict",
                                  f"group has {counts[g]} clip(s), fewer than {min_clips}"))
        else:
            out.append(Assignment(g, counts[g], "adaptive"))
    return out


def display_names(groups: Sequence[str | None]) -> dict[str, str]:
    """Short names for group keys: the folder name for folder groups when it is unique."""
    keys = sorted({g for g in groups if g is not None})
    short = {g: os.path.basename(g) or g for g in keys}
    if len(set(short.values())) == len(short):
        return short
    return {g: g for g in keys}


def predict_grouped(bundle: Any, X: np.ndarray, assignments: Sequence[Assignment]
                    ) -> tuple[np.ndarray, np.ndarray | None, list[str | None]]:
    """Probabilities of one bundle with speaker groups: adaptive rows through the bundle with
    their group's own statistics (as evaluation does for a test speaker), strict rows through
    the bundle's strict twin. Returns (probs, confidence or None, per-row error or None): a
    strict row of a bundle without a twin gets an error saying how to get one."""
    n = len(X)
    probs = np.zeros((n, len(bundle.labels)), dtype=np.float64)
    conf = np.full(n, np.nan)
    has_conf = True
    errors: list[str | None] = [None] * n
    adaptive = [i for i, a in enumerate(assignments) if a.mode == "adaptive"]
    strict = [i for i, a in enumerate(assignments) if a.mode != "adaptive"]
    if adaptive:
        p, c = bundle.predict(X[adaptive], [assignments[i].group for i in adaptive])
        probs[adaptive] = p
        has_conf &= c is not None
        if c is not None:
            conf[adaptive] = c
    if strict:
        twin = getattr(bundle, "strict", None)
        if twin is None:
            for i in strict:
                errors[i] = (f"{assignments[i].reason}, and the model has no strict twin to fall "
                             "back to (train it with fallback: strict)")
        else:
            p, c = twin.predict(X[strict], None)
            col = {lab: j for j, lab in enumerate(twin.labels)}
            probs[strict] = p[:, [col[lab] for lab in bundle.labels]]
            has_conf &= c is not None
            if c is not None:
                conf[strict] = c
    return probs, (conf if has_conf else None), errors
