"""CREMA-D: `1001_DFA_ANG_XX.wav` (speaker, sentence, emotion, level), any media extension.

The 91 actors have four-digit ids (1001-1091); the level is LO, MD, HI or XX (unspecified).
"""

from __future__ import annotations

import re

from .base import Parsed, Parser, RelPath, unknown_code

EMOTIONS: dict[str, str] = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
LEVELS: dict[str, str] = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}

_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


class CremaD(Parser):
    """Parser of CREMA-D file names; the four-digit actor id is the speaker."""

    name = "cremad"
    title = "CREMA-D"
    pattern = "SSSS_SEN_EMO_LV (e.g. 1001_DFA_ANG_XX)"

    def parse(self, rel: RelPath) -> Parsed:
        """Split the name on '_' into actor, sentence, emotion and level."""
        m = _NAME.match(rel.stem)
        if not m:
            return self.mismatch()
        speaker, sentence, code, level = m.groups()
        label = EMOTIONS.get(code)
        reject = None if label else unknown_code(code)
        if reject is None and level not in LEVELS:
            reject = f"unknown level code '{level}'"
        meta = {"sentence": sentence, "level": level, "intensity": LEVELS.get(level, level)}
        return Parsed(speaker=speaker, original_label=code, label=label, meta=meta, reject=reject)
