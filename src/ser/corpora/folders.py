"""Generic layout `LABEL/**/file`: one top-level folder per emotion, anything below.

The folder name is mapped case-insensitively onto the canonical names with common synonyms
(anger, happiness, joy, sadness, fear, disgusted, surprise, bored, ...). Option
`speaker_regex`: its first group, searched in the file name (not the path), is the speaker;
without the option or without a match the speaker is "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .base import Parsed, Parser, RelPath, canonical_label, unknown_code

UNKNOWN_SPEAKER = "unknown"


class Folders(Parser):
    """Parser of emotion-named folders with an optional speaker regex on file names."""

    name = "folders"
    title = "folders"
    pattern = "LABEL/.../FILE (the file must sit inside an emotion folder)"

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        raw = options.get("speaker_regex")
        self.speaker_regex: re.Pattern[str] | None = None
        if raw is not None:
            try:
                self.speaker_regex = re.compile(str(raw))
            except re.error as err:
                raise ValueError(
                    f"option 'speaker_regex' {raw!r} is not a valid regex: {err}"
                ) from err
            if self.speaker_regex.groups < 1:
                raise ValueError(
                    f"option 'speaker_regex' {raw!r} has no group: put the speaker id in "
                    "parentheses, e.g. '^(\\d+)_'"
                )

    def parse(self, rel: RelPath) -> Parsed:
        """Label from the top-level folder, speaker from the regex's first group."""
        if len(rel.parts) < 2:
            return self.mismatch()
        folder = rel.parts[0]
        label = canonical_label(folder)
        speaker = UNKNOWN_SPEAKER
        if self.speaker_regex is not None:
            m = self.speaker_regex.search(rel.name)
            if m and m.group(1):
                speaker = m.group(1)
        return Parsed(
            speaker=speaker,
            original_label=folder,
            label=label,
            meta={},
            reject=None if label else unknown_code(folder),
        )
