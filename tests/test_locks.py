"""Stale-lock decisions (ser.locks); the real kill -9 is in test_workflow.py."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil

from ser import locks


def lock(workdir: Path) -> None:
    folder = workdir / ".snakemake" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0.input.lock").write_text("a.txt\n")
    (folder / "0.output.lock").write_text("b.txt\n")


def owner(workdir: Path, host: str, pid: int, started: float) -> None:
    folder = workdir / ".snakemake" / locks.OWNERS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{host}-{pid}.json").write_text(
        json.dumps({"host": host, "pid": pid, "started": started}))


def dead_pid() -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, started


def test_no_lock_nothing_to_say(tmp_path):
    assert locks.check(tmp_path, ["snakemake"]) is None


def test_dead_local_owner_lock_is_removed(tmp_path):
    lock(tmp_path)
    pid, started = dead_pid()
    owner(tmp_path, socket.gethostname(), pid, started)
    msg = locks.check(tmp_path, ["snakemake"])
    assert msg.startswith("Removed the stale lock of a killed Snakemake run")
    assert not locks.lock_files(tmp_path) and not locks.owners(tmp_path)


def test_reused_pid_counts_as_dead(tmp_path):
    lock(tmp_path)
    me = psutil.Process(os.getpid())
    owner(tmp_path, socket.gethostname(), me.pid, me.create_time() - 3600)
    assert locks.check(tmp_path, ["snakemake"]).startswith("Removed the stale lock")


def test_live_owner_keeps_its_lock(tmp_path):
    lock(tmp_path)
    me = psutil.Process(os.getpid())
    owner(tmp_path, socket.gethostname(), me.pid, me.create_time())
    assert locks.check(tmp_path, ["snakemake"]) is None
    assert len(locks.lock_files(tmp_path)) == 2


def test_other_host_or_no_record_says_what_to_run(tmp_path):
    lock(tmp_path)
    argv = ["/x/.venv/bin/snakemake", "--cores", "all", "--configfile", "my run.yaml", "-d",
            "out", "all"]
    msg = locks.check(tmp_path, argv)
    assert "left no owner record" in msg
    assert "run: snakemake --unlock --configfile 'my run.yaml' -d out  and then" in msg
    owner(tmp_path, "node-that-died", 1234, 0.0)
    msg = locks.check(tmp_path, argv)
    assert "locked by a Snakemake run on host node-that-died (pid 1234)" in msg
    assert len(locks.lock_files(tmp_path)) == 2  # nothing removed on a guess


def test_unlock_command_keeps_folder_options_only():
    assert locks.unlock_command(["snakemake", "-s", "Snakefile", "--cores", "4", "audio",
                                 "--configfiles", "a.yaml", "b.yaml", "-n"]) == \
        "snakemake --unlock -s Snakefile --configfiles a.yaml b.yaml"
    assert locks.unlock_command(["snakemake", "--directory=x"]) == \
        "snakemake --unlock --directory=x"
