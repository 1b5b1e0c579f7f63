"""DVC integration (dvc.yaml, .dvcignore, docs/dvc.md) in throwaway git repositories.

Why: DVC drives the same Snakemake workflow, so the two tools must agree on what is up to date.
A `dvc repro` must give the results of a plain Snakemake run, a second one must do nothing, a
changed raw file must redo only its shard and what depends on it, and results pulled into a fresh
clone must not look stale to Snakemake (restored files get fresh, unordered mtimes). Everything
runs for real (git, dvc, snakemake, ffmpeg, openSMILE, scikit-learn) on a tiny RAVDESS-shaped
corpus made by `ser.demo`, in copies of the project: nothing here touches the checkout itself.

The repositories are built once per module; the tests then run in file order and each leaves the
working repository reproduced and committed. Step times are printed at the end (`pytest -s`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.dvc]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RAW = "data/raw"
TIMEOUT = 1200

# 4 speakers x 8 emotions x 1 statement = 32 clips in 4 shards; one cheap model, 2 folds.
TINY_CONFIG = """\
# Tiny run for tests/test_dvc.py: a DVC-tracked raw corpus, one cheap model.
datasets:
  raw:
    format: ravdess
    path: data/raw

audio:
  sample_rate: 16000
  shard_size: 8

augment:
  snr_db: [10]
  noise: [white]

features: [egemaps]

models:
  svm: {arch: svm, features: egemaps, C: 1.0}

split:
  protocol: speaker_kfold
  folds: 2
  seed: 0

train:
  train_on: clean

report:
  eda: false
"""

# `make pull` (docs/dvc.md): fetch, then mark the outputs up to date for Snakemake only when DVC
# confirms that the workspace is exactly what dvc.lock recorded after a complete run.
PULL = (
    "dvc pull && if dvc status --quiet; then snakemake --cores all --touch --forceall; "
    "else dvc status; echo 'workspace differs from dvc.lock: not marking results up to date'; "
    "exit 1; fi"
)

TIMES: dict[str, float] = {}  # step -> seconds
FIGURES: dict[str, int] = {}  # measured counts, printed with the times

needs_tools = pytest.mark.skipif(
    not all((BIN / tool).exists() for tool in ("dvc", "snakemake"))
    or shutil.which("git") is None,
    reason="needs git, and dvc and snakemake beside the running Python",
)


def _env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # let __pycache__ appear: .dvcignore must hide it
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(repo / "src"),  # the copy's library, not the checkout's
        DVC_NO_ANALYTICS="1",
        PYTHONHASHSEED="0",
        TF_CPP_MIN_LOG_LEVEL="2",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def _run(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), cwd=repo, env=_env(repo), capture_output=True, text=True,
                          timeout=TIMEOUT)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({proc.returncode}) in {repo}:\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def _timed(step: str, repo: Path, *args: str, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    proc = _run(repo, *args, check=check)
    TIMES[step] = TIMES.get(step, 0.0) + time.monotonic() - start
    return proc


def _bash(repo: Path, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(repo, "bash", "-c", script, check=check)


def _commit(repo: Path, message: str) -> None:
    _run(repo, "git", "add", "-A")
    if _run(repo, "git", "status", "--porcelain").stdout.strip():
        _run(repo, "git", "commit", "-q", "-m", message)


def _git_init(repo: Path) -> None:
    _run(repo, "git", "init", "-q")
    _run(repo, "git", "config", "user.email", "test@example.com")
    _run(repo, "git", "config", "user.name", "test_dvc")


def _clone(src: Path, dst: Path) -> Path:
    _run(src.parent, "git", "clone", "-q", str(src), str(dst))
    _run(dst, "git", "config", "user.email", "test@example.com")
    _run(dst, "git", "config", "user.name", "test_dvc")
    return dst


def _copy_project(dst: Path) -> None:
    """The project files as a fresh clone would have them (tracked + untracked, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    for stale in ("dvc.lock", "metrics"):  # state of the checkout's own runs, not of this one
        path = dst / stale
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _snakemake_logs(repo: Path) -> set[Path]:
    return set((repo / ".snakemake" / "log").glob("*.snakemake.log"))


def _jobs(logs: set[Path]) -> Counter[str]:
    """Jobs that ran, by rule, from Snakemake's own logs."""
    jobs: Counter[str] = Counter()
    for log in logs:
        for rule in re.findall(r"^(?:local)?rule (\w+):$", log.read_text(), flags=re.M):
            jobs[rule] += 1
    return jobs


def _job_outputs(logs: set[Path], rule: str) -> list[str]:
    found = []
    for log in logs:
        pattern = rf"^(?:local)?rule {rule}:\n(?:    .*\n)*?    output: (.*)$"
        found += re.findall(pattern, log.read_text(), flags=re.M)
    return found


def _nothing_to_do(repo: Path) -> None:
    proc = _timed("snakemake -n", repo, "snakemake", "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def _eval_metrics(repo: Path) -> dict[str, dict]:
    """Evaluation figures of a run, without the measured cost (seconds of this machine's
    work, which differ run to run); everything else must be identical."""
    def drop_cost(value: object) -> object:
        if isinstance(value, dict):
            return {k: drop_cost(v) for k, v in value.items() if k != "cost"}
        return [drop_cost(v) for v in value] if isinstance(value, list) else value

    out = {}
    for p in sorted((repo / "results" / "eval").glob("*/*/metrics.json")):
        text = p.read_text()
        assert '"train_seconds"' in text  # the cost is recorded, just not compared
        out[str(p.relative_to(repo))] = drop_cost(json.loads(text))
    return out


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """origin: project copy + tiny config + `dvc add`ed raw corpus, pushed to a local remote;
    work: a fresh clone of it, built with `dvc repro`; origin itself is then built with plain
    `snakemake --cores all` as the reference."""
    from ser.demo import make_demo_corpus

    base = tmp_path_factory.mktemp("dvc")
    origin, remote = base / "origin", base / "remote"
    origin.mkdir()
    _copy_project(origin)
    assert (origin / "dvc.yaml").is_file() and (origin / ".dvc" / "config").is_file(), \
        "dvc.yaml and .dvc/config must be part of the project"
    (origin / "config" / "config.yaml").write_text(TINY_CONFIG)
    make_demo_corpus(origin / RAW, n_speakers=4, statements=1, repetitions=1, seed=0)
    # docs/dvc.md: a raw corpus is `dvc add`ed and listed as a dependency of the workflow stage
    dvc_yaml = yaml.safe_load((origin / "dvc.yaml").read_text())
    dvc_yaml["stages"]["workflow"]["deps"].append(RAW)
    (origin / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))

    _git_init(origin)
    _run(origin, "dvc", "remote", "add", "--default", "--force", "local", str(remote))  # remote
    _run(origin, "dvc", "add", "-q", RAW)
    _commit(origin, "tiny project with a DVC-tracked raw corpus")
    _run(origin, "dvc", "push", "-q")

    work = _clone(origin, base / "work")
    # nothing built yet: pull the raw corpus only (a bare `dvc pull` also wants results/)
    _timed("dvc pull data/raw.dvc", work, "dvc", "pull", "-q", f"{RAW}.dvc")
    _timed("dvc repro (fresh clone, full build)", work, "dvc", "repro")
    _timed("snakemake --cores all (reference)", origin, "snakemake", "--cores", "all")
    yield {"base": base, "origin": origin, "work": work, "remote": remote}
    width = max(len(k) for k in [*TIMES, *FIGURES])
    print("\nstep times (s):\n" + "\n".join(f"  {k:<{width}}  {v:7.1f}" for k, v in TIMES.items()))
    print("figures:\n" + "\n".join(f"  {k:<{width}}  {v:7d}" for k, v in FIGURES.items()))


@needs_tools
def test_repro_on_fresh_clone_equals_plain_snakemake(repos: dict[str, Path]) -> None:
    work, origin = repos["work"], repos["origin"]
    assert (work / "results" / "report" / "index.html").is_file()
    built, reference = _eval_metrics(work), _eval_metrics(origin)
    assert list(built) == ["results/eval/raw/svm/metrics.json"]
    assert built == reference
    summary = json.loads((work / "metrics" / "metrics.json").read_text())
    m = reference["results/eval/raw/svm/metrics.json"]
    assert summary == {"raw": {"svm": {k: m[k] for k in ("uar", "accuracy", "macro_f1",
                                                         "n_test")}}}
    assert _run(work, "dvc", "status", "--quiet", check=False).returncode == 0


@needs_tools
def test_second_repro_is_a_no_op(repos: dict[str, Path]) -> None:
    work = repos["work"]
    before = _snakemake_logs(work)
    proc = _timed("dvc repro (second, no-op)", work, "dvc", "repro")
    out = proc.stdout + proc.stderr
    assert "Running stage" not in out, out
    assert "Stage 'workflow' didn't change, skipping" in out
    assert "Stage 'metrics' didn't change, skipping" in out
    assert _snakemake_logs(work) == before  # Snakemake was not even started
    _nothing_to_do(work)


@needs_tools
def test_metrics_show_and_plots_show(repos: dict[str, Path]) -> None:
    work = repos["work"]
    shown = json.loads(_timed("dvc metrics show", work, "dvc", "metrics", "show", "--json").stdout)
    data = shown[""]["data"]["metrics/metrics.json"]["data"]
    m = json.loads((work / "results" / "eval" / "raw" / "svm" / "metrics.json").read_text())
    assert data["raw"]["svm"]["uar"] == pytest.approx(m["uar"])
    assert data["raw"]["svm"]["accuracy"] == pytest.approx(m["accuracy"])
    table = _run(work, "dvc", "metrics", "show").stdout
    assert "raw.svm.uar" in table and "raw.svm.accuracy" in table

    html_dir = repos["base"] / "plots"
    _timed("dvc plots show", work, "dvc", "plots", "show", "-o", str(html_dir))
    html = (html_dir / "index.html").read_text()
    assert "metrics/confusion/raw/svm.csv" in html and "metrics/snr/raw/svm.csv" in html
    plots = json.loads(_run(work, "dvc", "plots", "show", "--json").stdout)["data"]
    confusion = plots["metrics/confusion/raw/svm.csv"][0]["content"]
    assert confusion["spec"]["encoding"]["x"]["field"] == "predicted"
    assert confusion["spec"]["encoding"]["y"]["field"] == "actual"
    rows = [(r["actual"], r["predicted"]) for r in confusion["data"]["values"]]
    csv = (work / "results" / "eval" / "raw" / "svm" / "confusion.csv").read_text().split()
    assert csv[0] == "actual,predicted"
    assert rows == [tuple(line.split(",")) for line in csv[1:]]
    assert len(rows) == m["n_test"]
    snr = plots["metrics/snr/raw/svm.csv"][0]["content"]["data"]["values"]
    assert {r["snr"] for r in snr} == {"10"}
    assert {r["field"] for r in snr} == {"uar", "accuracy"}


@needs_tools
def test_push_then_pull_into_fresh_clone_has_nothing_to_do(repos: dict[str, Path]) -> None:
    work = repos["work"]
    _commit(work, "results of the tiny run")
    assert _run(work, "git", "status", "--porcelain").stdout == ""  # results/ is not in git
    _timed("dvc push", work, "dvc", "push")
    # the run wrote bytecode under src/ser (a dependency); the fresh clone has none, so the
    # workspace matches dvc.lock below only because .dvcignore hides __pycache__
    assert list((work / "src" / "ser").rglob("__pycache__/*.pyc"))

    fresh = _clone(work, repos["base"] / "fresh")
    _timed("dvc pull (data + results)", fresh, "dvc", "pull")
    assert (fresh / "results" / "report" / "index.html").is_file()
    assert not list((fresh / "src" / "ser").rglob("__pycache__"))
    # What the touch step is for: restored files have fresh, unordered mtimes, and Snakemake
    # 9.27 reruns a job whose input is newer than its output even with --rerun-triggers
    # excluding mtime (only small files with a recorded checksum escape, and a fresh clone has
    # no records).
    stale = _run(fresh, "snakemake", "-n", "--rerun-triggers", "params", "input", "code",
                 "software-env").stdout
    total = re.search(r"^total\s+(\d+)$", stale, flags=re.M)
    assert total, stale[-3000:]
    FIGURES["jobs Snakemake would rerun after a bare dvc pull"] = int(total.group(1))

    # The guard: with a real change (a parameter edited before the pull), nothing is touched.
    config = fresh / "config" / "config.yaml"
    original = config.read_text()
    config.write_text(original.replace("C: 1.0", "C: 2.0"))
    refused = _bash(fresh, PULL, check=False)
    assert refused.returncode != 0
    assert "config/config.yaml" in refused.stdout
    assert "not marking results up to date" in refused.stdout
    assert not list((fresh / ".snakemake" / "metadata").glob("*"))  # no job was recorded
    config.write_text(original)

    start = time.monotonic()
    _bash(fresh, PULL)  # `make pull`
    TIMES["make pull (dvc pull + status + snakemake --touch)"] = time.monotonic() - start
    _nothing_to_do(fresh)
    assert _run(fresh, "dvc", "status", "--quiet", check=False).returncode == 0
    proc = _run(fresh, "dvc", "repro")
    assert "Running stage" not in proc.stdout + proc.stderr

    # ...and Snakemake's own provenance checks work again afterwards: a parameter change in the
    # pulled clone reruns the dependent jobs only.
    config.write_text(original.replace("C: 1.0", "C: 2.0"))
    plan = _run(fresh, "snakemake", "-n").stdout
    config.write_text(original)
    assert "train_fold" in plan and "audio_shard" not in plan and "features_shard" not in plan


@needs_tools
def test_changed_raw_file_reruns_only_its_shard(repos: dict[str, Path]) -> None:
    import imageio_ffmpeg

    from ser.corpora import scan
    from ser.plan import shard_of

    work = repos["work"]
    shards = sorted((work / "results" / "audio" / "raw" / "shards").glob("*.parquet"))
    assert len(shards) == 4
    entries = [e for e in scan("ravdess", work / RAW, {}) if e.rel.endswith(".mp4")]
    target = entries[len(entries) // 2]
    shard = shard_of(target.rel, len(shards))
    # a real edit: the same clip, 6 dB quieter (video stream copied as is)
    edited = target.path.with_name("edited" + target.path.suffix)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i",
                    str(target.path), "-af", "volume=0.5", "-c:v", "copy", str(edited)],
                   check=True, timeout=120)
    os.replace(edited, target.path)

    before = _snakemake_logs(work)
    _run(work, "dvc", "add", "-q", RAW)  # docs/dvc.md: record the new version of the corpus
    _timed("dvc repro (one raw file changed)", work, "dvc", "repro")
    logs = _snakemake_logs(work) - before
    jobs = _jobs(logs)
    assert jobs["audio_shard"] == 1 and jobs["augment_shard"] == 1, jobs
    assert jobs["features_shard"] == 1 and jobs["train_fold"] == 2, jobs
    out = _job_outputs(logs, "audio_shard")
    assert len(out) == 1 and out[0].startswith(f"results/audio/raw/shards/{shard}.parquet")
    assert _job_outputs(logs, "features_shard")[0].startswith(
        f"results/features/raw/shards/egemaps/{shard}.parquet")
    assert _run(work, "dvc", "status", "--quiet", check=False).returncode == 0
    _nothing_to_do(work)
    _commit(work, "one raw clip edited")


@needs_tools
def test_exp_run_with_a_parameter_and_metrics_diff(repos: dict[str, Path]) -> None:
    work = repos["work"]
    _commit(work, "baseline")
    before = _snakemake_logs(work)
    _timed("dvc exp run -S train.train_on=clean+noisy", work, "dvc", "exp", "run", "-S",
           "config/config.yaml:train.train_on=clean+noisy")
    jobs = _jobs(_snakemake_logs(work) - before)
    assert jobs["train_fold"] == 2 and jobs["evaluate_model"] == 1, jobs
    assert not {"audio_shard", "augment_shard", "features_shard", "splits"} & set(jobs), jobs

    params = json.loads(_run(work, "dvc", "params", "diff", "--json").stdout)
    change = params["config/config.yaml"]["train.train_on"]
    assert (change["old"], change["new"]) == ("clean", "clean+noisy")
    diff = json.loads(_run(work, "dvc", "metrics", "diff", "--json").stdout)
    changed = diff["metrics/metrics.json"]
    assert {"raw.svm.uar", "raw.svm.accuracy"} & set(changed), diff
    for key, value in changed.items():
        assert value["old"] != value["new"], key
    table = _run(work, "dvc", "metrics", "diff").stdout
    assert "raw.svm.uar" in table or "raw.svm.accuracy" in table
    exps = _run(work, "dvc", "exp", "show", "--json").stdout
    assert "clean+noisy" in exps
