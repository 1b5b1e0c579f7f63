"""RAVDESS: `Actor_XX/MM-VV-EE-II-SS-RR-AA.ext` (Livingstone & Russo, 2018).

Fields: modality (01 full-AV, 02 video-only, 03 audio-only), vocal channel (01 speech,
02 song), emotion, intensity (01 normal, 02 strong), statement, repetition, actor. All
modalities are kept: a video-only file is rejected later, when decoding finds no audio
stream. Option `vocal_channel: speech|song|both` (default speech) chooses the channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .base import Parsed, Parser, RelPath, check_choice, unknown_code

EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
MODALITY = {"01": "full-AV", "02": "video-only", "03": "audio-only"}
VOCAL_CHANNEL = {"01": "speech", "02": "song"}
INTENSITY = {"01": "normal", "02": "strong"}
STATEMENT = {"01": "01", "02": "02"}
REPETITION = {"01": "01", "02": "02"}

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_ACTOR_DIR = re.compile(r"^actor_?(\d+)$", re.IGNORECASE)


class Ravdess(Parser):
    """Parser of RAVDESS file names; the actor (AA) is the speaker."""

    name = "ravdess"
    title = "RAVDESS"
    OPTIONS = ("vocal_channel",)
    pattern = "MM-VV-EE-II-SS-RR-AA"

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self.vocal_channel = check_choice(
            options, "vocal_channel", ("speech", "song", "both"), "speech"
        )

    def parse(self, rel: RelPath) -> Parsed:
        """Decode the seven numeric fields and check the actor against its Actor_XX folder."""
        m = _NAME.match(rel.stem)
        if not m:
            return self.mismatch()
        mm, vv, ee, ii, ss, rr, aa = m.groups()
        label = EMOTIONS.get(ee)
        fields = (
            ("modality", mm, MODALITY),
            ("vocal channel", vv, VOCAL_CHANNEL),
            ("intensity", ii, INTENSITY),
            ("statement", ss, STATEMENT),
            ("repetition", rr, REPETITION),
        )
        reject = None if label else unknown_code(ee)
        for what, code, table in fields:
            if reject is None and code not in table:
                reject = f"unknown {what} code '{code}'"
        if reject is None and int(aa) == 0:
            reject = "unknown actor code '00'"
        meta = {
            "modality": MODALITY.get(mm, mm),
            "vocal_channel": VOCAL_CHANNEL.get(vv, vv),
            "intensity": INTENSITY.get(ii, ii),
            "statement": ss,
            "repetition": rr,
        }
        if reject is None:
            actor = next((m for p in reversed(rel.parts[:-1]) if (m := _ACTOR_DIR.match(p))), None)
            if actor is not None and int(actor.group(1)) != int(aa):
                reject = f"actor {aa} in file name disagrees with folder {actor.group(0)}"
        if reject is None and self.vocal_channel not in ("both", meta["vocal_channel"]):
            reject = f"{meta['vocal_channel']}, but vocal_channel is {self.vocal_channel}"
        return Parsed(speaker=aa, original_label=ee, label=label, meta=meta, reject=reject)
