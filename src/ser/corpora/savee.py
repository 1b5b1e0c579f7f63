"""SAVEE: `DC_a01.wav` (flat) or `DC/a01.wav` (one folder per speaker).

Speakers are DC, JE, JK and KL, but any two upper-case letters are accepted. Emotion codes:
a angry, d disgust, f fearful, h happy, n neutral, sa sad, su surprised; then the sentence
number. When both the name and the folder carry a speaker they must agree. A file with
neither (e.g. `a01.wav` at the root) gets speaker None.
"""

from __future__ import annotations

import re

from .base import Parsed, Parser, RelPath, unknown_code

EMOTIONS: dict[str, str] = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}

_NAME = re.compile(r"^(?:([A-Z]{2})_)?([a-z]{1,2})(\d{2})$")
_SPEAKER_DIR = re.compile(r"^[A-Z]{2}$")


class Savee(Parser):
    """Parser of SAVEE file names; speaker from the name prefix or the folder."""

    name = "savee"
    title = "SAVEE"
    pattern = "SP_eNN or SP/eNN (e.g. DC_a01, DC/sa01)"

    def parse(self, rel: RelPath) -> Parsed:
        """Read speaker, emotion code and sentence number; check name and folder agree."""
        m = _NAME.match(rel.stem)
        if not m:
            return self.mismatch()
        from_name, code, sentence = m.groups()
        folder = rel.parts[-2] if len(rel.parts) > 1 else None
        from_folder = folder if folder and _SPEAKER_DIR.match(folder) else None
        label = EMOTIONS.get(code)
        reject = None if label else unknown_code(code)
        if reject is None and from_name and from_folder and from_name != from_folder:
            reject = f"speaker {from_name} in file name disagrees with folder {from_folder}"
        return Parsed(
            speaker=from_name or from_folder,
            original_label=code,
            label=label,
            meta={"sentence": sentence},
            reject=reject,
        )
