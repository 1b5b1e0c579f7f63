#!/usr/bin/env bash
# run_cluster_test.sh: prove that the workflow runs under Snakemake's SLURM executor and gives
# the same results as a local run.
#
# Why: `snakemake --profile profiles/slurm` is the documented way to use a cluster; without a
# real SLURM in CI that path (profile, resources, status polling, jobstep srun) would rot.
#
# Steps: start a private single-node SLURM (start_slurm.sh; stop_slurm.sh runs on EXIT, also on
# failure or Ctrl-C), copy the repository's workflow into two fresh folders, run
#   (a) snakemake --cores 2                                           (local)
#   (b) snakemake --workflow-profile none --profile profiles/slurm    (executor slurm)
# each under `timeout -s INT`, check that (b) really went through SLURM (jobs in slurmctld's log,
# one SLURM log per submitted job, none failed) and that every results/eval/*/*/metrics.json of
# (b) matches (a) on accuracy, uar, macro_f1 (and n_test). Prints timings. Exit 0 only if all hold.
#
# Usage (root, Debian/Ubuntu; from anywhere):
#   tests/cluster/run_cluster_test.sh [-- EXTRA SNAKEMAKE ARGS, e.g. --configfile my.yaml]
# Env:
#   SER_CLUSTER_REPO           the checkout to test (default: this script's repository)
#   SER_VENV_BIN               bin/ of the Python env with snakemake (default: .venv/bin here)
#   SER_CLUSTER_WORKDIR        where the two copies go (default: a new mktemp -d folder)
#   SER_CLUSTER_KEEP=1         keep the copies after success (always kept after a failure)
#   SER_CLUSTER_TIMEOUT_LOCAL  seconds for run (a)  (default 2400)
#   SER_CLUSTER_TIMEOUT_SLURM  seconds for run (b)  (default 3600)
#   SER_CLUSTER_CORES          --cores of run (a)   (default 2)
#   SER_CLUSTER_TOL            allowed |a - b| per metric (default 0: exactly equal)
#   SER_CLUSTER_STATUS_SECONDS first status check after submission, s (default 5; plugin: 40)
#   SER_SLURM_*                passed to start_slurm.sh / stop_slurm.sh (see there)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "${SER_CLUSTER_REPO:-$HERE/../..}" && pwd)
VENV_BIN=${SER_VENV_BIN:-$HERE/../../.venv/bin}
TIMEOUT_LOCAL=${SER_CLUSTER_TIMEOUT_LOCAL:-2400}
TIMEOUT_SLURM=${SER_CLUSTER_TIMEOUT_SLURM:-3600}
CORES=${SER_CLUSTER_CORES:-2}
TOL=${SER_CLUSTER_TOL:-0}
STATUS_SECONDS=${SER_CLUSTER_STATUS_SECONDS:-5}
export SER_SLURM_DIR=${SER_SLURM_DIR:-${TMPDIR:-/tmp}/ser-slurm}
EXTRA=()
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] && shift
  EXTRA=("$@")
fi

T0=$(date +%s)
log() { echo "[cluster-test +$(($(date +%s) - T0))s] $*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
TIMES=()
timed() { # timed LABEL CMD...: run, record wall seconds
  local label=$1 t rc=0
  shift
  t=$(date +%s)
  "$@" || rc=$?
  TIMES+=("$label: $(($(date +%s) - t)) s (rc $rc)")
  return "$rc"
}
CHILD=""
in_dir() { # in_dir DIR LOGFILE CMD...: run CMD in DIR, stdout+stderr to LOGFILE
  # In the background + `wait`, so that a TERM/INT to this script is handled at once and
  # passed on (on_signal) instead of waiting for the run to end.
  local dir=$1 logfile=$2 rc=0
  shift 2
  # the copy's own src/ first: both runs use the library as copied, even if the checkout
  # (the editable install points there) is edited while the test runs
  (cd "$dir" && PYTHONPATH="$dir/src${PYTHONPATH:+:$PYTHONPATH}" exec "$@") >"$logfile" 2>&1 &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}
on_signal() { # the `timeout` in CHILD forwards INT to snakemake, which scancels its jobs
  trap '' INT TERM
  log "interrupted by SIG$1"
  if [ -n "$CHILD" ]; then
    kill -INT "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  exit 130
}

[ -x "$VENV_BIN/snakemake" ] || fail "no snakemake in $VENV_BIN (run 'make setup' first)"
[ -f "$REPO/Snakefile" ] || fail "no Snakefile in $REPO"
[ -f "$REPO/profiles/slurm/config.yaml" ] || fail "no profiles/slurm/config.yaml in $REPO"
export PATH=$VENV_BIN:$PATH
export PYTHONHASHSEED=0 TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

if [ -n "${SER_CLUSTER_WORKDIR:-}" ]; then
  WORK=$SER_CLUSTER_WORKDIR
  mkdir -p "$WORK"
  [ -z "$(ls -A "$WORK")" ] || fail "SER_CLUSTER_WORKDIR $WORK is not empty"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ser-cluster-test.XXXXXX")
fi

REUSED=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -s "$SER_SLURM_DIR/log/slurmctld.log" ]; then
    mkdir -p "$WORK/slurm-logs"
    cp "$SER_SLURM_DIR"/log/*.log "$WORK/slurm-logs/" 2>/dev/null
  fi
  t=$(date +%s)
  if [ "$REUSED" = 1 ]; then
    log "leaving the SLURM cluster running: it was up before this test"
  else
    "$HERE/stop_slurm.sh" || { log "stop_slurm.sh failed"; rc=1; }
    TIMES+=("stop slurm: $(($(date +%s) - t)) s")
  fi
  log "timings:"
  for line in "${TIMES[@]}"; do echo "    $line" >&2; done
  if [ "$rc" = 0 ] && [ "${SER_CLUSTER_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    log "copies, run logs and SLURM daemon logs kept in $WORK"
  fi
  if [ "$rc" = 0 ]; then log "PASS (total $(($(date +%s) - T0)) s)"; else log "exit $rc"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

# ------------------------------------------------------------------ copies of the workflow
# Only what the workflow needs: files git knows (tracked or not ignored), so no results/,
# .snakemake/, .venv/ or data. Both copies are taken now, and each run imports `ser` from its
# copy's src/ (PYTHONPATH), so edits to the checkout during the test cannot make them differ.
copy_repo() { # copy_repo DEST
  local dest=$1
  mkdir -p "$dest"
  if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
      xargs -0 -r stat --printf '%n\0' 2>/dev/null | tar --null -T - -cf -) | tar -xf - -C "$dest"
  else
    tar -C "$REPO" --exclude=./.venv --exclude=./results --exclude=./.snakemake \
      --exclude=./.git --exclude=./data -cf - . | tar -xf - -C "$dest"
  fi
  [ -f "$dest/Snakefile" ] || fail "copy of the repository to $dest has no Snakefile"
}
copy_repo "$WORK/local"
copy_repo "$WORK/slurm"
for d in local slurm; do
  got=$(cd "$WORK/$d" && PYTHONPATH="$WORK/$d/src" "$VENV_BIN/python" -c 'import ser; print(ser.__file__)') ||
    fail "cannot import ser from $WORK/$d/src"
  case $got in "$WORK/$d/src/"*) ;; *) fail "run $d would import ser from $got, not from its copy" ;; esac
done
log "workflow copied to $WORK/{local,slurm}"

# ------------------------------------------------------------------ SLURM
pid=$(cat "$SER_SLURM_DIR/run/slurmctld.pid" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then REUSED=1; fi
timed "start slurm" "$HERE/start_slurm.sh" || fail "could not start SLURM"
# shellcheck disable=SC1091
source "$SER_SLURM_DIR/env"

# ------------------------------------------------------------------ (a) local
log "(a) local: snakemake --cores $CORES ${EXTRA[*]} (limit ${TIMEOUT_LOCAL}s)"
rc=0
timed "(a) local run" in_dir "$WORK/local" "$WORK/local.log" timeout -k 60 -s INT "$TIMEOUT_LOCAL" \
  snakemake --cores "$CORES" "${EXTRA[@]}" || rc=$?
if [ "$rc" != 0 ]; then
  tail -n 40 "$WORK/local.log" >&2
  [ "$rc" = 124 ] && fail "(a) local run timed out after ${TIMEOUT_LOCAL}s"
  fail "(a) local run failed (rc $rc); log: $WORK/local.log"
fi
TIMES+=("(a) snakemake says: $(grep -o 'Elapsed time: .*' "$WORK/local.log" | tail -n 1)")

# ------------------------------------------------------------------ (b) SLURM
SLURM_ARGS=(--workflow-profile none --profile profiles/slurm
  --slurm-init-seconds-before-status-checks "$STATUS_SECONDS" --slurm-keep-successful-logs)
log "(b) slurm: snakemake ${SLURM_ARGS[*]} ${EXTRA[*]} (limit ${TIMEOUT_SLURM}s)"
rc=0
timed "(b) slurm run" in_dir "$WORK/slurm" "$WORK/slurm.log" timeout -k 60 -s INT "$TIMEOUT_SLURM" \
  snakemake "${SLURM_ARGS[@]}" "${EXTRA[@]}" || rc=$?
if [ "$rc" != 0 ]; then
  tail -n 40 "$WORK/slurm.log" >&2
  [ "$rc" = 124 ] && fail "(b) slurm run timed out after ${TIMEOUT_SLURM}s"
  fail "(b) slurm run failed (rc $rc); log: $WORK/slurm.log"
fi

# ------------------------------------------------------------------ did (b) use SLURM?
submitted=$(grep -c 'has been submitted with SLURM jobid' "$WORK/slurm.log" || true)
[ "$submitted" -gt 0 ] || fail "(b) submitted no SLURM job (see $WORK/slurm.log)"
slurm_logs=$(find "$WORK/slurm/.snakemake/slurm_logs" -type f -name '*.log' 2>/dev/null | wc -l)
[ "$slurm_logs" -eq "$submitted" ] ||
  fail "(b) submitted $submitted jobs but left $slurm_logs SLURM job logs"
ctld_log=$SER_SLURM_DIR/log/slurmctld.log
done_jobs=$(grep -c '_job_complete: JobId=[0-9]* done' "$ctld_log" || true)
bad_jobs=$(grep -Ec '_job_complete: JobId=[0-9]* WEXITSTATUS [1-9]' "$ctld_log" || true)
# +1: start_slurm.sh's own `srun true` smoke test
[ "$done_jobs" -ge $((submitted + 1)) ] ||
  fail "slurmctld saw $done_jobs finished jobs, expected $((submitted + 1)) (log: $ctld_log)"
[ "$bad_jobs" = 0 ] || fail "slurmctld saw $bad_jobs jobs exit non-zero (log: $ctld_log)"
by_rule=""
for d in "$WORK/slurm/.snakemake/slurm_logs"/rule_*; do
  by_rule+="${d##*/rule_}=$(find "$d" -type f -name '*.log' | wc -l) "
done
log "(b) used SLURM: $submitted jobs submitted, $slurm_logs job logs, slurmctld: $done_jobs done, 0 failed"
log "    per rule: $by_rule"
TIMES+=("(b) snakemake says: $(grep -o 'Elapsed time: .*' "$WORK/slurm.log" | tail -n 1), $submitted SLURM jobs")

# ------------------------------------------------------------------ compare metrics
log "comparing results/eval/*/*/metrics.json (tolerance $TOL)"
WORK=$WORK TOL=$TOL "$VENV_BIN/python" - <<'PY' || fail "metrics of (b) differ from (a)"
import json
import math
import os
import sys
from pathlib import Path

work, tol = Path(os.environ["WORK"]), float(os.environ["TOL"])
keys = ("accuracy", "uar", "macro_f1", "n_test")


def metrics(run: str) -> dict[str, dict]:
    root = work / run
    return {str(p.relative_to(root)): json.loads(p.read_text())
            for p in sorted(root.glob("results/eval/*/*/metrics.json"))}


a, b = metrics("local"), metrics("slurm")
problems = []
if not a:
    problems.append("(a) produced no results/eval/*/*/metrics.json")
if set(a) != set(b):
    problems.append(f"different metrics files: only (a) {sorted(set(a) - set(b))}, "
                    f"only (b) {sorted(set(b) - set(a))}")
for name in sorted(set(a) & set(b)):
    row = []
    for k in keys:
        if k not in a[name] and k == "n_test":
            continue
        va, vb = a[name].get(k), b[name].get(k)
        ok = (isinstance(va, (int, float)) and isinstance(vb, (int, float))
              and math.isclose(va, vb, rel_tol=0.0, abs_tol=tol))
        row.append(f"{k} {va}" + ("" if ok else f" != {vb}"))
        if not ok:
            problems.append(f"{name}: {k} local={va} slurm={vb}")
    print(f"    {'OK  ' if all('!=' not in r for r in row) else 'DIFF'} {name}: " + ", ".join(row),
          file=sys.stderr)
for p in problems:
    print(f"    MISMATCH {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
log "all $(find "$WORK/local/results/eval" -name metrics.json | wc -l) metrics.json files match"
