"""`list` format: a CSV/TSV file list instead of a naming scheme (IEMOCAP, call-centre sets, ...).

One row per file: `path` (absolute, or relative to the list file's folder), `label`, optionally
`speaker`; every other column is kept as metadata (`meta_COLUMN` in the manifest). Column names
are options (`path_column`, `label_column`, `speaker_column`). Labels are mapped onto canonical
names when recognisable and kept as written otherwise (`frustrated`, `excited`, a call centre's
own); set `emotions` to keep only canonical ones. Without a speaker column (or for a row whose
speaker is empty) the speaker comes from `speaker_from`/`speaker_regex` (base.SpeakerRule).

Nothing is dropped: a row whose file is missing, is not audio/video, has no label or repeats an
earlier row's path comes back with its reject reason, like a badly named file of a folder corpus.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import Entry, Parsed, Parser, RelPath, SpeakerRule, media_reject, user_label

SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


def _rel_of(full: str, base: str) -> str:
    """A stable, relative name for a listed file: its path below the list's folder, else the
    absolute path without its leading separator (so clip ids never escape the output folders)."""
    rel = os.path.relpath(full, base)
    if rel == ".." or rel.startswith(".." + os.sep):
        rel = full.lstrip(os.sep)
    return rel.replace(os.sep, "/")


class FileList(Parser):
    """Reads a CSV/TSV list of files with their labels (see the module docstring)."""

    name = "list"
    title = "file list"
    pattern = "a CSV/TSV with path, label[, speaker, ...] columns"
    OPTIONS = ("speaker_regex", "speaker_from", "path_column", "label_column", "speaker_column")

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self.columns = {key: str(options.get(f"{key}_column", key))
                        for key in ("path", "label", "speaker")}
        self.speaker = SpeakerRule(options)

    def parse(self, rel: RelPath) -> Parsed:  # pragma: no cover - rows are read by list_entries
        """Not used: the list, not the file names, says what each file is."""
        raise NotImplementedError

    def read(self, path: Path) -> Any:
        """The list as a DataFrame of strings (empty cells as "")."""
        import pandas as pd

        sep = SEPARATORS.get(path.suffix.lower())
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                         engine="python" if sep is None else "c")
        df.columns = [str(c).strip() for c in df.columns]
        required = ["path", "label"] + (["speaker"] if self.columns["speaker"] != "speaker"
                                         else [])
        for key in required:
            if self.columns[key] not in df.columns:
                raise ValueError(f"file list {path.name} has no {key} column "
                                 f"{self.columns[key]!r}; set {key}_column to one of: "
                                 f"{', '.join(df.columns[:20])}")
        return df

    def list_entries(self, root: Path) -> list[Entry]:
        """One Entry per row of the list file `root`, sorted by rel."""
        if not root.is_file():
            raise ValueError(f"file list not found: {root} (format list needs a CSV/TSV file)")
        df = self.read(root)
        base = os.path.dirname(os.path.abspath(root))
        pcol, lcol, scol = (self.columns[k] for k in ("path", "label", "speaker"))
        extra = [c for c in df.columns if c not in (pcol, lcol, scol)]
        seen: dict[str, int] = {}
        entries = []
        for row, rec in enumerate(df.to_dict("records"), start=2):  # row 1 is the header
            written = rec[pcol].strip()
            full = os.path.normpath(os.path.join(base, os.path.expanduser(written)))
            rel_str = _rel_of(full, base) if written else f"row{row}"
            rel = RelPath(tuple(rel_str.split("/")))
            label = user_label(rec[lcol])
            speaker = (rec.get(scol) or "").strip() or self.speaker(rel)
            meta = {c: str(rec[c]) for c in extra if str(rec[c]).strip()}
            meta["list_row"] = str(row)
            if not written:
                reject: str | None = "no path in the list row"
            elif rel_str in seen:
                reject = f"listed twice (first at row {seen[rel_str]})"
            elif not os.path.exists(full):
                reject = "file not found"
            else:
                reject = media_reject(rel) or (None if label else "no label in the list row")
            unique = rel_str if rel_str not in seen else f"{rel_str}#row{row}"
            seen.setdefault(rel_str, row)
            entries.append(Entry(Path(full), unique, speaker, rec[lcol].strip() or None, label,
                                 meta, reject))
        return sorted(entries, key=lambda e: e.rel)
