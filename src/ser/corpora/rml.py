"""RML emotion database: videos named by an emotion code, e.g. `s1/an1.avi`, `s1/ha1_2.avi`.

Codes at the start of the file name: an angry, di disgust, fe fearful, ha happy, sa sad,
su surprised. The corpus has one folder per subject, possibly with language folders inside
(`s1/English/an1.avi`). Choice made here: the speaker is the top-level folder under the
corpus root, whatever the depth of the file below it; point the dataset path at the folder
that holds the subject folders. A file directly in the root has speaker None. meta:
`language` = the folder holding the file when it is not the subject folder itself.
"""

from __future__ import annotations

import re

from .base import Parsed, Parser, RelPath, unknown_code

EMOTIONS: dict[str, str] = {
    "an": "angry",
    "di": "disgust",
    "fe": "fearful",
    "ha": "happy",
    "sa": "sad",
    "su": "surprised",
}

_NAME = re.compile(r"^([A-Za-z]{2})(\d+(?:[_-]\d+)*)$")


class Rml(Parser):
    """Parser of RML file names; speaker = top-level folder (see module docstring)."""

    name = "rml"
    title = "RML"
    pattern = "EMnn[_k] (two-letter emotion code then take number, e.g. an1, ha1_2)"

    def parse(self, rel: RelPath) -> Parsed:
        """Read the emotion code from the name and the subject from the top-level folder."""
        m = _NAME.match(rel.stem)
        if not m:
            return self.mismatch()
        code, take = m.group(1), m.group(2)
        label = EMOTIONS.get(code.lower())
        meta = {"take": take}
        if len(rel.parts) > 2:
            meta["language"] = rel.parts[-2]
        return Parsed(
            speaker=rel.parts[0] if len(rel.parts) > 1 else None,
            original_label=code,
            label=label,
            meta=meta,
            reject=None if label else unknown_code(code),
        )
