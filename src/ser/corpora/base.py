"""Shared pieces of the corpus parsers: canonical labels, the Entry record, the file walk.

Every parser turns one file's path (relative to the corpus root) into speaker, label and
metadata, or into a reject reason. Everything they have in common lives here so that each
format module only describes its own naming scheme.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

CANONICAL: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
    "boredom",
)

def label_order(labels: Iterable[Any]) -> list[str]:
    """Distinct labels in CANONICAL order; labels outside it follow, alphabetically.

    The one label order of the project: prediction columns, confusion matrices, EDA figures."""
    rank = {name: i for i, name in enumerate(CANONICAL)}
    return sorted({str(x) for x in labels}, key=lambda s: (rank.get(s, len(rank)), s))


MEDIA_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".wav",
        ".flac",
        ".mp3",
        ".ogg",
        ".m4a",
        ".aac",
        ".mp4",
        ".avi",
        ".flv",
        ".mkv",
        ".webm",
        ".mov",
        ".wma",
        ".opus",
    }
)

# Common spellings of emotion names (lower-case) -> canonical name. Corpus-specific codes
# (RAVDESS "05", EmoDB "W", TESS "ps", ...) live in their own modules.
SYNONYMS: dict[str, str] = {
    "neutral": "neutral",
    "calm": "calm",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "angry": "angry",
    "anger": "angry",
    "fear": "fearful",
    "fearful": "fearful",
    "disgust": "disgust",
    "disgusted": "disgust",
    "surprise": "surprised",
    "surprised": "surprised",
    "boredom": "boredom",
    "bored": "boredom",
}


def canonical_label(name: object) -> str | None:
    """Map a free-form emotion name (any case, surrounding blanks) onto CANONICAL, else None.

    Used by the `folders` and `table` formats, where labels are words chosen by people.
    """
    if not isinstance(name, str):
        return None
    return SYNONYMS.get(name.strip().lower())


@dataclass(frozen=True)
class Entry:
    """One file found under a corpus root: what its name says, or why it cannot be used."""

    path: Path
    rel: str
    speaker: str | None
    original_label: str | None
    label: str | None
    meta: dict[str, str] = field(hash=False)
    reject: str | None


@dataclass(frozen=True)
class Parsed:
    """What a parser reads from one file's relative path (Entry minus path and rel)."""

    speaker: str | None = None
    original_label: str | None = None
    label: str | None = None
    meta: dict[str, str] = field(default_factory=dict, hash=False)
    reject: str | None = None


def unknown_code(code: str) -> str:
    """Reject reason for a label code a corpus does not define (same wording for all formats)."""
    return f"unknown emotion code '{code}'"


class Parser:
    """Base class of a folder format: subclasses set the class attributes and `parse`.

    The constructor receives the dataset options (the whole dataset config may be passed:
    keys a format does not know are ignored) and validates the keys the format uses, so
    that a bad option fails at scan time with a message naming the key.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""  # corpus name as people write it, e.g. "RAVDESS"
    pattern: ClassVar[str] = ""  # expected file naming, shown in reject reasons
    #: keys of `datasets.NAME` this format reads (besides format, path, demo, shards, split)
    OPTIONS: ClassVar[tuple[str, ...]] = ()
    #: a folder of audio/video files (False: `table`, a ready-made feature table)
    READS_MEDIA: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = options
        self.root: Path | None = None  # the corpus root, set by `scan` (formats may read its name)

    def mismatch(self) -> Parsed:
        """Result for a media file whose name does not follow the format."""
        return Parsed(reject=f"name does not match {self.title} {self.pattern}")

    def parse(self, rel: RelPath) -> Parsed:
        """Read speaker, label and metadata from a media file's path relative to the root."""
        raise NotImplementedError

    def list_entries(self, root: Path) -> list[Entry] | None:
        """Entries of a format that lists its files itself (`list`); None: walk the folder."""
        return None


def check_choice(
    options: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str
) -> str:
    """Return option `key` (default when absent) after checking it is one of `choices`."""
    value = options.get(key, default)
    if value is None:
        value = default
    if value not in choices:
        raise ValueError(f"option {key!r} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def check_emotions(options: Mapping[str, Any]) -> frozenset[str] | None:
    """Validate the optional `emotions` subset (canonical names) and return it as a set."""
    emotions = options.get("emotions")
    if emotions is None:
        return None
    if isinstance(emotions, str) or not all(isinstance(e, str) for e in emotions):
        raise ValueError(f"option 'emotions' must be a list of emotion names; got {emotions!r}")
    unknown = [e for e in emotions if e not in CANONICAL]
    if unknown:
        raise ValueError(
            f"option 'emotions' has unknown names {unknown}; valid: {', '.join(CANONICAL)}"
        )
    if not emotions:
        raise ValueError("option 'emotions' is empty; leave it out to keep every emotion")
    return frozenset(emotions)


UNKNOWN_SPEAKER = "unknown"


class SpeakerRule:
    """Where the speaker of a file in a user-organised corpus (`folders`, `list`) comes from.

    Options: `speaker_from` (`parent`: the folder holding the file; an integer N: the N-th
    folder below the corpus root, 0 being the first) or `speaker_regex` (its first group,
    searched in the file name); without either, or when they find nothing, "unknown". Both at
    once are refused: which one wins would be a guess.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        raw, source = options.get("speaker_regex"), options.get("speaker_from")
        if raw is not None and source is not None:
            raise ValueError("options 'speaker_regex' and 'speaker_from' exclude each other; "
                             "keep one")
        self.regex: re.Pattern[str] | None = None
        self.level: int | None = None
        self.parent = False
        if raw is not None:
            try:
                self.regex = re.compile(str(raw))
            except re.error as err:
                raise ValueError(
                    f"option 'speaker_regex' {raw!r} is not a valid regex: {err}") from err
            if self.regex.groups < 1:
                raise ValueError(
                    f"option 'speaker_regex' {raw!r} has no group: put the speaker id in "
                    "parentheses, e.g. '^(\\d+)_'")
        if source is not None:
            if source == "parent":
                self.parent = True
            elif isinstance(source, int) and not isinstance(source, bool) and source >= 0:
                self.level = source
            else:
                raise ValueError(f"option 'speaker_from' must be 'parent' or a folder level "
                                 f"(0, 1, ...); got {source!r}")

    def __call__(self, rel: RelPath) -> str:
        """The speaker of the file at `rel` (relative to the corpus root)."""
        folders = rel.parts[:-1]
        found: str | None = None
        if self.parent:
            found = folders[-1] if folders else None
        elif self.level is not None:
            found = folders[self.level] if self.level < len(folders) else None
        elif self.regex is not None:
            m = self.regex.search(rel.name)
            found = m.group(1) if m else None
        return found or UNKNOWN_SPEAKER


def user_label(name: object) -> str | None:
    """Label of a user-organised corpus: the canonical name when `name` is a known spelling
    (anger -> angry), else the name as written (IEMOCAP's `frustrated`, a call centre's own
    labels); None when empty. `emotions`, when set, then filters them like any other label."""
    if not isinstance(name, str) or not name.strip():
        return None
    return canonical_label(name) or name.strip()


def media_reject(rel: RelPath) -> str | None:
    """Reject reason for a file that is not audio or video by its extension, else None."""
    suffix = rel.suffix
    if suffix.lower() in MEDIA_EXTENSIONS:
        return None
    return f"not an audio or video file ({suffix or 'no extension'})"


class RelPath:
    """A file's path relative to the corpus root, split into folder names and file name.

    A light stand-in for PurePosixPath (parts, name, stem, suffix, as_posix): building
    pathlib objects dominated scan time on corpora of 10^5 files.
    """

    __slots__ = ("parts", "name", "stem", "suffix")

    def __init__(self, parts: tuple[str, ...]) -> None:
        self.parts = parts
        self.name = parts[-1]
        dot = self.name.rfind(".")
        if 0 < dot < len(self.name) - 1:
            self.stem, self.suffix = self.name[:dot], self.name[dot:]
        else:
            self.stem, self.suffix = self.name, ""

    def as_posix(self) -> str:
        """The POSIX form used as Entry.rel."""
        return "/".join(self.parts)

    def __repr__(self) -> str:
        return f"RelPath({self.as_posix()!r})"


def walk_files(root: Path) -> Iterator[tuple[str, RelPath, bool]]:
    """Yield (absolute path, path relative to root, is_broken_link) for every file under root.

    Hidden files and folders (name starting with '.') are skipped. Symbolic links to folders
    are followed (corpora are often assembled from links) except when they point back to
    an ancestor, which would loop. Unreadable folders raise instead of being skipped quietly.
    Fifos, sockets and devices are not files and are not yielded.
    """
    stack: list[tuple[str, tuple[str, ...]]] = [(str(root), ())]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            children = sorted(it, key=lambda d: d.name, reverse=True)
        for d in children:
            if d.name.startswith("."):
                continue
            if d.is_dir():  # follows links
                if d.is_symlink():
                    target = os.path.realpath(d.path)
                    here = os.path.realpath(folder)
                    if here == target or here.startswith(target.rstrip(os.sep) + os.sep):
                        continue  # link to an ancestor: following it would never end
                stack.append((d.path, (*prefix, d.name)))
            elif d.is_file():
                yield d.path, RelPath((*prefix, d.name)), False
            elif d.is_symlink() and not os.path.exists(d.path):
                yield d.path, RelPath((*prefix, d.name)), True
