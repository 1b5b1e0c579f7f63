"""envs/ser.yaml (used by `snakemake --sdm conda`) must pin exactly what pyproject.toml pins."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_deps() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {d.replace(" ", "") for d in data["project"]["dependencies"]}


def _env_deps() -> set[str]:
    env = yaml.safe_load((ROOT / "envs" / "ser.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {d.replace(" ", "") for d in pip if not d.startswith("-e")}


def test_env_file_matches_pyproject():
    assert _env_deps() == _pyproject_deps()


def test_env_installs_the_project_itself():
    env = yaml.safe_load((ROOT / "envs" / "ser.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ../" in pip


def test_lock_file_pins_every_dependency():
    lock = {line.split("==")[0].lower().replace("_", "-")
            for line in (ROOT / "requirements.lock").read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    for dep in _pyproject_deps():
        name = dep.split("==")[0].split(">=")[0].lower().replace("_", "-")
        assert name in lock, f"{name} missing from requirements.lock"
