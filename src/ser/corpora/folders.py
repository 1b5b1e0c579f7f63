"""Generic layout `LABEL/**/file`: one top-level folder per emotion, anything below.

The folder name is mapped case-insensitively onto the canonical names with common synonyms
(anger, happiness, joy, sadness, fear, disgusted, surprise, bored, ...); any other name is kept as
written, so a corpus with its own labels (`frustrated/`, `excited/`) works; set `emotions` to
keep only canonical ones. The speaker comes from `speaker_regex` (its first group, searched in
the file name) or `speaker_from` (`parent`, or a folder level: 1 = the folder right under the
label folder); otherwise it is "unknown" (see base.SpeakerRule).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Parsed, Parser, RelPath, SpeakerRule, user_label


class Folders(Parser):
    """Parser of emotion-named folders; speaker by regex on the name or by folder level."""

    name = "folders"
    title = "folders"
    OPTIONS = ("speaker_regex", "speaker_from")
    pattern = "LABEL/.../FILE (the file must sit inside an emotion folder)"

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self.speaker = SpeakerRule(options)

    def parse(self, rel: RelPath) -> Parsed:
        """Label from the top-level folder, speaker from the speaker rule."""
        if len(rel.parts) < 2:
            return self.mismatch()
        folder = rel.parts[0]
        return Parsed(
            speaker=self.speaker(rel),
            original_label=folder,
            label=user_label(folder),
            meta={},
            reject=None,
        )
