"""Format registry and `scan`: list every file of a corpus with its label or reject reason."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import Entry, Parser, check_emotions, media_reject, walk_files
from .cremad import CremaD
from .emodb import EmoDB
from .filelist import FileList
from .folders import Folders
from .ravdess import Ravdess
from .rml import Rml
from .savee import Savee
from .table import Table
from .tess import Tess
from .urdu import Urdu

PARSERS: dict[str, type[Parser]] = {
    p.name: p for p in (Ravdess, CremaD, Tess, Savee, Rml, EmoDB, Urdu, Folders, FileList, Table)
}
"""Every corpus format by name, with its options (`Parser.OPTIONS`)."""

AUDIO_FORMATS: tuple[str, ...] = tuple(n for n, p in PARSERS.items() if p.READS_MEDIA)


def parser_for(fmt: str, options: Mapping[str, Any] | None = None) -> Parser:
    """Build the parser of format `fmt` with its options validated."""
    cls = PARSERS.get(fmt)
    if cls is None:
        raise ValueError(f"unknown dataset format {fmt!r}; valid: {', '.join(sorted(PARSERS))}")
    return cls(options or {})


def scan(fmt: str, root: Path, options: dict | None = None) -> list[Entry]:
    """Return one Entry per file under `root` (hidden ones excepted), sorted by `rel`; for
    format `list`, `root` is the list file and there is one Entry per row.

    Nothing is dropped: a file that is not audio/video, whose name does not follow the
    format, whose label is unknown or outside `options["emotions"]` comes back with
    `reject` set, so the manifest can account for every input.
    """
    options = options or {}
    parser = parser_for(fmt, options)
    emotions = check_emotions(options)
    root = Path(os.path.abspath(Path(root).expanduser()))
    listed = parser.list_entries(root)
    if listed is not None:
        return [_filtered(e, emotions) for e in listed]
    if not root.is_dir():
        kind = " (a file, not a folder)" if root.exists() else ""
        raise ValueError(f"dataset path not found: {root}{kind}")
    parser.root = root
    entries = []
    found = sorted((rel.as_posix(), full, rel, broken) for full, rel, broken in walk_files(root))
    for rel_str, full, rel, broken in found:
        path = Path(full)
        reason = "broken symbolic link" if broken else media_reject(rel)
        if reason is not None:
            entries.append(Entry(path, rel_str, None, None, None, {}, reason))
            continue
        p = parser.parse(rel)
        entries.append(_filtered(Entry(path, rel_str, p.speaker, p.original_label, p.label,
                                       p.meta, p.reject), emotions))
    return entries


def _filtered(e: Entry, emotions: frozenset[str] | None) -> Entry:
    """The entry, rejected when its label is outside `emotions` (when that is set)."""
    if e.reject is None and emotions is not None and e.label not in emotions:
        return dataclasses.replace(e, reject=f"emotion '{e.label}' not in config emotions")
    return e
