"""Cheap checks of the SLURM profile and the cluster harness that need no SLURM.

The real proof is tests/cluster/run_cluster_test.sh (root, minutes); these catch a broken
profile or script in every `make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
SCRIPTS = ("start_slurm.sh", "stop_slurm.sh", "run_cluster_test.sh")


def _profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def test_profile_keys() -> None:
    prof = _profile()
    assert prof["executor"] == "slurm"
    # without accounting only squeue can report job states
    assert prof["slurm-status-command"] == "squeue"
    assert int(prof["jobs"]) >= 1
    assert int(prof["latency-wait"]) >= 30
    res = prof["default-resources"]
    assert {"slurm_partition", "slurm_account", "mem_mb", "runtime"} <= set(res)
    assert int(res["mem_mb"]) > 0 and int(res["runtime"]) > 0


def _start_dry_run(workdir: Path, env_extra: dict[str, str]) -> subprocess.Popen[str]:
    """`snakemake -n` with the profile on a one-rule Snakefile: the profile must parse (unknown
    keys are errors) and the job's resources are printed."""
    snakemake = Path(sys.executable).with_name("snakemake")
    if not snakemake.exists():
        pytest.skip(f"no snakemake next to {sys.executable}")
    workdir.mkdir()
    (workdir / "Snakefile").write_text(
        'rule a:\n    output:\n        "x.txt",\n    shell:\n        "touch {output}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SER_SLURM_")}
    env.update(env_extra)
    return subprocess.Popen(
        [str(snakemake), "-n", "--workflow-profile", "none", "--profile", str(PROFILE)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_profile_resources_from_env(tmp_path: Path) -> None:
    """Partition/account come from SER_SLURM_*; unset gives "" = the plugin's defaults
    (the cluster's default partition, no account). Both runs at once to save time."""
    with_env = _start_dry_run(
        tmp_path / "env", {"SER_SLURM_PARTITION": "gpu_a", "SER_SLURM_ACCOUNT": "proj_7"}
    )
    without = _start_dry_run(tmp_path / "noenv", {})
    text_env, _ = with_env.communicate(timeout=120)
    text_none, _ = without.communicate(timeout=120)
    assert with_env.returncode == 0, text_env
    assert without.returncode == 0, text_none
    assert re.search(r"slurm_partition=gpu_a\b", text_env), text_env
    assert re.search(r"slurm_account=proj_7\b", text_env), text_env
    assert re.search(r"mem_mb=\d+", text_env) and re.search(r"runtime=\d+", text_env), text_env
    assert re.search(r"slurm_partition=(,|\s|$)", text_none), text_none
    assert re.search(r"slurm_account=(,|\s|$)", text_none), text_none


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_and_are_executable(script: str) -> None:
    path = REPO / "tests" / "cluster" / script
    assert os.access(path, os.X_OK), f"{path} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True)
    if shutil.which("shellcheck"):
        out = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout


def test_stop_without_cluster_is_a_noop(tmp_path: Path) -> None:
    """stop_slurm.sh must be safe to call when nothing runs (it is the EXIT trap)."""
    env = dict(os.environ, SER_SLURM_DIR=str(tmp_path / "none"))
    out = subprocess.run(
        [str(REPO / "tests" / "cluster" / "stop_slurm.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert "nothing to stop" in out.stderr
