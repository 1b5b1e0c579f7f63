"""RML emotion database: videos named by an emotion code, e.g. `s1/an1.avi`, `s1/ha1_2.avi`.

Codes at the start of the file name: an angry, di disgust, fe fearful, ha happy, sa sad,
su surprised. As distributed, the corpus comes in archives holding one folder per subject
(`rml-1/s1..s5`, `rml-2/s6..s8`), some subjects with a language level inside
(`s7/English/an1.avi`). The speaker is the subject folder (`s` + number, any case) wherever it
sits, so the dataset path may be the folder holding the archives, one archive, or one subject's
folder: every layout gives s1..s8, never an archive or language name. Without such a folder the
speaker is the top-level folder under the root (renamed layouts like `spk01/an1.avi`), and a
file directly in the root has speaker None. meta: `language` = the folder between the subject
folder and the file (when there is one); `archive` = the folders above the subject folder.
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
_SUBJECT = re.compile(r"^[sS]\d+$")


class Rml(Parser):
    """Parser of RML file names; speaker = the subject folder s1..s8 (see module docstring)."""

    name = "rml"
    title = "RML"
    pattern = "EMnn[_k] (two-letter emotion code then take number, e.g. an1, ha1_2)"

    def parse(self, rel: RelPath) -> Parsed:
        """Read the emotion code from the name and the subject from the subject folder."""
        m = _NAME.match(rel.stem)
        if not m:
            return self.mismatch()
        code, take = m.group(1), m.group(2)
        label = EMOTIONS.get(code.lower())
        meta = {"take": take}
        folders = rel.parts[:-1]
        if self.root is not None and _SUBJECT.match(self.root.name):
            folders = (self.root.name, *folders)  # the path is one subject's folder
        subject = max((i for i, f in enumerate(folders) if _SUBJECT.match(f)), default=None)
        if subject is not None:
            speaker: str | None = folders[subject].lower()
            if subject > 0:
                meta["archive"] = "/".join(folders[:subject])
            if subject < len(folders) - 1:
                meta["language"] = "/".join(folders[subject + 1:])
        else:
            speaker = folders[0] if folders else None
            if len(folders) > 1:
                meta["language"] = folders[-1]
        return Parsed(
            speaker=speaker,
            original_label=code,
            label=label,
            meta=meta,
            reject=None if label else unknown_code(code),
        )
