"""Glue for Snakemake `script:` adapters: inputs as paths, and what a job says goes to its log.

Why: `snakemake --lint` wants a log per rule and users want the log to hold what the job said
(library messages, warnings, TensorFlow's C++ lines, Keras output), while the console shows only
progress lines and, on failure, one line with the reason and the log path instead of a traceback.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

# TensorFlow's C++ info/warning lines (oneDNN notices, ...) are noise even in a log; errors stay
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def paths(item: Any) -> list[Path]:
    """A Snakemake input or output item as a list of Paths.

    Why: a rule input given as one pattern reaches the script as a plain string, a list of
    patterns as a list; iterating the string walks its characters (`FileNotFoundError: r`).
    Every adapter goes through this helper (or `path`) instead of iterating the item itself.
    """
    if item is None:
        return []
    if isinstance(item, (str, os.PathLike)):
        return [Path(item)]
    return [Path(p) for p in item]


def path(item: Any) -> Path:
    """A Snakemake input or output item that must be exactly one file, as a Path."""
    found = paths(item)
    if len(found) != 1:
        raise ValueError(f"expected one file, got {len(found)}: {[str(p) for p in found][:5]}")
    return found[0]


class _Tee(io.TextIOBase):
    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
            st.flush()
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()

    def isatty(self) -> bool:
        return False


class _ConsoleFilter(logging.Filter):
    """Let through to the console only this project's warnings and errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING and record.name.split(".")[0] == "ser"


@contextlib.contextmanager
def job_output(log: Path) -> Iterator[TextIO]:
    """Route everything a job writes into `log`; yield the console for the lines users need.

    File descriptors 1 and 2 point at the log, so C/C++ libraries (TensorFlow, absl, oneDNN)
    and child processes write there; `sys.stdout` (Keras progress bars) goes to the log only;
    `sys.stderr` (the library's progress lines) goes to the log and the console. Python logging
    (the root logger, hence also TensorFlow's and absl's, which only add their own console
    handler when the root logger has none) and `warnings` go to the log; this project's own
    warnings also reach the console. Everything is restored on exit.
    """
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    fh = open(log, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed in finally)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    console = open(os.dup(saved[2]), "w", encoding="utf-8", buffering=1,  # noqa: SIM115
                   errors="replace")
    root = logging.getLogger()
    handlers = [logging.StreamHandler(fh), logging.StreamHandler(console)]
    handlers[0].setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
    handlers[1].setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handlers[1].addFilter(_ConsoleFilter())
    old_level = root.level
    old_stdout, old_stderr = sys.stdout, sys.stderr
    try:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        sys.stdout = fh
        sys.stderr = _Tee(console, fh)
        for h in handlers:
            root.addHandler(h)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        with warnings.catch_warnings():
            logging.captureWarnings(True)
            yield console
    finally:
        logging.captureWarnings(False)
        for h in handlers:
            root.removeHandler(h)
        root.setLevel(old_level)
        sys.stdout, sys.stderr = old_stdout, old_stderr
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        console.close()
        fh.close()


def _describe(snakemake: Any) -> str:
    wc = dict(snakemake.wildcards.items()) if hasattr(snakemake.wildcards, "items") else {}
    inner = ", ".join(f"{k}={v}" for k, v in wc.items())
    return f"{snakemake.rule}" + (f" ({inner})" if inner else "")


def run(snakemake: Any, fn: Callable[[], Any]) -> Any:
    """Run `fn` with its output in the rule's first log file (see `job_output`).

    A failure writes the traceback to the log and prints one line to the console: the rule,
    its wildcards, the reason and the log path; the script then exits with status 1.
    """
    log = Path(snakemake.log[0]) if len(snakemake.log) else None
    if log is None:
        return fn()
    what = _describe(snakemake)
    with job_output(log) as console:
        logger = logging.getLogger("ser.job")
        logger.info("%s: started", what)
        t0 = time.monotonic()
        try:
            result = fn()
        except Exception as exc:
            sys.stdout.write(traceback.format_exc())
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            console.write(f"error in {what}: {reason} (log: {log})\n")
            code = 1
        else:
            logger.info("%s: done in %.1f s", what, time.monotonic() - t0)
            return result
    raise SystemExit(code)
