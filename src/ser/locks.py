"""Stale Snakemake locks: a run killed hard (kill -9, a lost node) leaves `.snakemake/locks`.

Why: Snakemake's lock files say which files a run holds, not which process holds them, so after
a hard kill every rerun stops with "Directory cannot be locked" until someone runs `--unlock`.
The workflow records its owner (host, pid, process start time) once Snakemake holds the lock
(`onstart`) and removes the record when the run ends. Before the next run locks, `check` decides:
- a recorded owner on this host whose process is gone (or whose pid now belongs to another
  process) and no other Snakemake working in this folder: the lock is stale, it is removed and
  the run resumes;
- an owner on another host, or lock files without any record: nobody here can tell whether that
  run is alive, so nothing is removed and the message says exactly what to run.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

OWNERS = "ser-owners"  # folder under .snakemake holding one record per running Snakemake


@dataclass(frozen=True)
class Owner:
    """The Snakemake process that held this folder's lock."""

    host: str
    pid: int
    started: float  # process start time (seconds since the epoch), to tell pid reuse apart
    record: Path

    def alive(self) -> bool:
        """Whether this (local) process still runs: same pid and same start time."""
        import psutil

        try:
            return abs(psutil.Process(self.pid).create_time() - self.started) < 1.0
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            return False


def _state(workdir: Path) -> Path:
    return Path(workdir) / ".snakemake"


def lock_files(workdir: Path) -> list[Path]:
    """Snakemake's lock files in `workdir` (`.snakemake/locks/N.input.lock`, `N.output.lock`)."""
    folder = _state(workdir) / "locks"
    return sorted(folder.glob("*.lock")) if folder.is_dir() else []


def owners(workdir: Path) -> list[Owner]:
    """The owner records left in `workdir` (unreadable records are ignored)."""
    out = []
    for rec in sorted((_state(workdir) / OWNERS).glob("*.json")):
        try:
            d = json.loads(rec.read_text())
            out.append(Owner(str(d["host"]), int(d["pid"]), float(d["started"]), rec))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def record_owner(workdir: Path) -> Path:
    """Record this process as the lock owner (called from `onstart`, once the lock is held)."""
    import psutil

    folder = _state(workdir) / OWNERS
    folder.mkdir(parents=True, exist_ok=True)
    host, pid = socket.gethostname(), os.getpid()
    rec = folder / f"{host}-{pid}.json"
    tmp = rec.with_suffix(".tmp")
    tmp.write_text(json.dumps({"host": host, "pid": pid, "cwd": str(Path(workdir).resolve()),
                               "started": psutil.Process(pid).create_time(),
                               "recorded": time.time()}))
    os.replace(tmp, rec)
    return rec


def clear_owner(workdir: Path) -> None:
    """Remove this process' record (called from `onsuccess` and `onerror`)."""
    rec = _state(workdir) / OWNERS / f"{socket.gethostname()}-{os.getpid()}.json"
    rec.unlink(missing_ok=True)


def _other_snakemakes_here(workdir: Path) -> list[int]:
    """Pids of other Snakemake processes on this host whose working directory is `workdir`
    (a run may hold the lock before its `onstart` wrote the record)."""
    import psutil

    here = Path(workdir).resolve()
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmd = p.info["cmdline"] or []
            if p.pid in mine or not any("snakemake" in Path(c).name for c in cmd[:2]):
                continue
            if Path(p.cwd()).resolve() == here:
                found.append(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            continue
    return found


def unlock_command(argv: Sequence[str]) -> str:
    """`snakemake --unlock` with the folder-selecting options of this invocation."""
    one = ("-s", "--snakefile", "-d", "--directory")
    many = ("--configfile", "--configfiles")
    out, args, i = ["snakemake", "--unlock"], list(argv), 1
    while i < len(args):
        name = args[i].split("=", 1)[0]
        if name in one + many and "=" in args[i]:
            out.append(args[i])
        elif name in one and i + 1 < len(args):
            out += args[i:i + 2]
            i += 1
        elif name in many:
            out.append(args[i])
            while i + 1 < len(args) and not args[i + 1].startswith("-"):
                out.append(args[i + 1])
                i += 1
        i += 1
    return shlex.join(out)


def check(workdir: Path, argv: Sequence[str] | None = None) -> str | None:
    """Clear a stale lock in `workdir` or explain what to run; return the message to print.

    None when there is no lock, or when its owner is alive (Snakemake then refuses to start as
    usual: two runs on the same files must not overlap).
    """
    locks = lock_files(workdir)
    if not locks:
        return None
    host = socket.gethostname()
    recs = owners(workdir)
    local = [o for o in recs if o.host == host]
    remote = [o for o in recs if o.host != host]
    if any(o.alive() for o in local) or _other_snakemakes_here(workdir):
        return None
    cmd = unlock_command(argv if argv is not None else sys.argv)
    if remote:
        o = remote[0]
        return (f"This folder is locked by a Snakemake run on host {o.host} (pid {o.pid}). If "
                f"that run is gone (a lost node), run: {cmd}  and then your command again.")
    if not local:
        return (f"This folder holds a Snakemake lock ({len(locks)} lock files) from a run that "
                f"left no owner record. If no other Snakemake works here, run: {cmd}  and then "
                f"your command again.")
    for path in locks:
        path.unlink(missing_ok=True)
    for o in local:
        o.record.unlink(missing_ok=True)
    dead = ", ".join(str(o.pid) for o in local)
    return (f"Removed the stale lock of a killed Snakemake run (pid {dead} on {host}, no longer "
            f"running); resuming (incomplete outputs are redone).")
