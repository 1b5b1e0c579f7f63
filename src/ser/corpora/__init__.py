"""Corpus parsers: turn a folder of emotional speech into labelled entries.

`scan(fmt, root, options)` lists every file under a corpus root as an `Entry` with speaker,
canonical label and format metadata, or a reject reason; `load_table` reads the `table`
format (a ready-made feature table). One module per corpus format; shared pieces in `base`.
"""

from __future__ import annotations

from .base import (
    CANONICAL,
    MEDIA_EXTENSIONS,
    SYNONYMS,
    Entry,
    Parser,
    canonical_label,
    label_order,
)
from .registry import AUDIO_FORMATS, PARSERS, parser_for, scan
from .table import load_table

__all__ = [
    "AUDIO_FORMATS",
    "CANONICAL",
    "MEDIA_EXTENSIONS",
    "PARSERS",
    "SYNONYMS",
    "Entry",
    "Parser",
    "canonical_label",
    "label_order",
    "load_table",
    "parser_for",
    "scan",
]
