"""TESS (Toronto emotional speech set): `OAF_angry/OAF_back_angry.wav`, also YAF.

Speaker = OAF (older) or YAF (younger talker). The label is the last token of the file
name (`ps` and `pleasant_surprise(d)` mean surprised, `fear` fearful), case-insensitive;
when that token is not an emotion the folder's (`OAF_Fear`, `YAF_pleasant_surprised`, ...)
is used instead. When the folder names a speaker or emotion that contradicts the file name,
the file is rejected rather than guessed. meta: word (the spoken target word).
"""

from __future__ import annotations

import re

from .base import SYNONYMS, Parsed, Parser, RelPath, unknown_code

EMOTIONS: dict[str, str] = {
    **SYNONYMS,
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
}

_NAME = re.compile(r"^(OAF|YAF)_(.+?)_(pleasant_surprised?|[^_]+)$", re.IGNORECASE)
_FOLDER = re.compile(r"^(OAF|YAF)_(.+)$", re.IGNORECASE)


class Tess(Parser):
    """Parser of TESS file names, with the OAF_/YAF_ emotion folders as a cross-check."""

    name = "tess"
    title = "TESS"
    pattern = "OAF|YAF_word_emotion (e.g. OAF_back_angry)"

    def parse(self, rel: RelPath) -> Parsed:
        """Read speaker, word and emotion; fall back on and check against the folder."""
        m = _NAME.match(rel.stem)
        if not m:
            return self.mismatch()
        speaker, word, code = m.group(1).upper(), m.group(2), m.group(3)
        label = EMOTIONS.get(code.lower())
        folder = _FOLDER.match(rel.parts[-2]) if len(rel.parts) > 1 else None
        reject = None
        if folder is not None:
            folder_speaker, folder_code = folder.group(1).upper(), folder.group(2)
            folder_label = EMOTIONS.get(folder_code.lower())
            if label is None and folder_label is not None:
                label, code = folder_label, folder_code
            if folder_speaker != speaker:
                reject = f"speaker {speaker} in file name disagrees with folder {rel.parts[-2]}"
            elif folder_label is not None and folder_label != label:
                reject = f"emotion '{code}' in file name disagrees with folder {rel.parts[-2]}"
        if label is None:
            reject = unknown_code(code)
        return Parsed(
            speaker=speaker, original_label=code, label=label, meta={"word": word}, reject=reject
        )
