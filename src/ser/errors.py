"""Errors that reach people as one line saying what to fix, not as a traceback."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, raised before any job runs; the message names the key."""


class UsageError(Exception):
    """A MODEL_DIR or option the user must fix (`ser predict` exits with status 2)."""
