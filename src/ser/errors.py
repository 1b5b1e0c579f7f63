"""Errors that reach people as one line saying what to fix, not as a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """A configuration problem, raised before any job runs; the message names the key."""


class UsageError(Exception):
    """A MODEL_DIR or option the user must fix (`ser predict` exits with status 2)."""


def nearest(word: object, choices: Iterable[object]) -> str | None:
    """The valid name a misspelt one most likely meant (difflib ratio >= 0.6), or None: the one
    "did you mean" of schema keys, feature sets and hyperparameters."""
    found = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None
