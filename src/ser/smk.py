"""Glue for Snakemake `script:` adapters: log to the rule's log file and the terminal at once.

Why: `snakemake --lint` wants a log per rule, but users also want to see progress and, on failure,
a short message that says what to do instead of a wall of traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# TensorFlow's C++ info lines (oneDNN notices, ...) would drown the progress lines in every log
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
            st.flush()
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()


def run(snakemake: Any, fn: Callable[[], Any]) -> Any:
    """Run `fn` with stderr copied into the rule's first log file; re-raise errors after logging."""
    log = Path(snakemake.log[0]) if len(snakemake.log) else None
    if log is None:
        return fn()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as fh, contextlib.redirect_stderr(_Tee(sys.stderr, fh)):
        try:
            return fn()
        except Exception as exc:
            fh.write(traceback.format_exc())
            print(f"error in rule {snakemake.rule}: {exc}\n(full traceback in {log})",
                  file=sys.stderr)
            raise SystemExit(1) from None
