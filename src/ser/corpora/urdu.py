"""URDU corpus: `Angry/SM1_F10_A010.wav`; label from the folder, speaker from the name.

The folder holding the file is one of Angry, Happy, Neutral, Sad (any case); the speaker
is the file name's first '_' token (SM1 = male speaker 1, SF... female). meta keeps the
remaining tokens as `take`.
"""

from __future__ import annotations

import re

from .base import Parsed, Parser, RelPath, unknown_code

EMOTIONS: dict[str, str] = {"angry": "angry", "happy": "happy", "neutral": "neutral", "sad": "sad"}

_NAME = re.compile(r"^([A-Za-z]+\d+)_(\w+)$")


class Urdu(Parser):
    """Parser of the URDU corpus: EMOTION folder / SPEAKER_..._... file name."""

    name = "urdu"
    title = "URDU"
    pattern = "EMOTION/SPEAKER_FILE_TAKE (e.g. Angry/SM1_F10_A010)"

    def parse(self, rel: RelPath) -> Parsed:
        """Speaker from the first name token, label from the enclosing folder."""
        m = _NAME.match(rel.stem)
        if not m or len(rel.parts) < 2:
            return self.mismatch()
        folder = rel.parts[-2]
        label = EMOTIONS.get(folder.lower())
        return Parsed(
            speaker=m.group(1),
            original_label=folder,
            label=label,
            meta={"take": m.group(2)},
            reject=None if label else unknown_code(folder),
        )
