"""Berlin EmoDB: `03a01Fa.wav` = speaker 03, text a01, emotion F, version a.

Files usually sit in a `wav/` subfolder; the folder plays no part in parsing.
"""

from __future__ import annotations

import re

from .base import Parsed, Parser, RelPath, unknown_code

EMOTIONS: dict[str, str] = {
    "W": "angry",  # Wut
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fearful",  # Angst
    "F": "happy",  # Freude
    "T": "sad",  # Trauer
    "N": "neutral",
}

_NAME = re.compile(r"^(\d{2})([a-z]\d{2})([A-Za-z])([a-z])$")


class EmoDB(Parser):
    """Parser of EmoDB file names; the two-digit speaker number is the speaker."""

    name = "emodb"
    title = "EmoDB"
    pattern = "SSTTTEV (e.g. 03a01Fa: speaker, text, emotion, version)"

    def parse(self, rel: RelPath) -> Parsed:
        """Read the fixed-width fields of the seven-character name."""
        m = _NAME.match(rel.stem)
        if not m:
            return self.mismatch()
        speaker, text, code, version = m.groups()
        label = EMOTIONS.get(code)
        return Parsed(
            speaker=speaker,
            original_label=code,
            label=label,
            meta={"text": text, "version": version},
            reject=None if label else unknown_code(code),
        )
