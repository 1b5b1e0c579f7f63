#!/usr/bin/env bash
# stop_slurm.sh: stop the cluster started by start_slurm.sh, by the PIDs it recorded.
#
# Why by PID: other SLURM or munge daemons on the same machine must survive this.
# Cancels our jobs first (so no slurmstepd is left), then stops slurmd, slurmctld, munged
# (TERM, then KILL after 30 s) and removes $SER_SLURM_DIR (keep it with SER_SLURM_KEEP=1).
# Idempotent: with nothing running it only cleans up. Exit 1 if a daemon survives.
set -uo pipefail

SLURM_DIR=${SER_SLURM_DIR:-${TMPDIR:-/tmp}/ser-slurm}
KEEP=${SER_SLURM_KEEP:-0}
export SLURM_CONF=$SLURM_DIR/etc/slurm.conf
log() { echo "[stop_slurm] $*" >&2; }
failed=0

if [ ! -e "$SLURM_DIR/.ser-slurm" ]; then
  if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$SLURM_CONF" ]; then
    rm -f /etc/slurm/slurm.conf # dangling link of ours
  fi
  log "no cluster of ours in $SLURM_DIR; nothing to stop"
  exit 0
fi

stop_pid() { # stop_pid NAME PIDFILE
  local name=$1 f=$2 pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if ! [[ $pid =~ ^[0-9]+$ ]]; then
    log "$name: bad pid file $f"
    failed=1
    return 0
  fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) ignored SIGTERM for 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null
      sleep 0.5
    fi
    if kill -0 "$pid" 2>/dev/null; then
      log "ERROR: $name ($pid) is still alive"
      failed=1
      return 0
    fi
    log "$name ($pid) stopped"
  fi
  rm -f "$f"
}

ctld_pid=$SLURM_DIR/run/slurmctld.pid
if [ -s "$ctld_pid" ] && kill -0 "$(cat "$ctld_pid")" 2>/dev/null && [ -s "$SLURM_CONF" ]; then
  jobs=$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null || true
    for ((i = 0; i < 120; i++)); do
      [ -z "$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null)" ] && break
      sleep 0.25
    done
    left=$(squeue -h -t PD,R,CG,S -o '%i %T' 2>/dev/null | tr '\n' ' ')
    [ -z "$left" ] || log "WARNING: jobs still not finished after 30 s: $left"
  fi
fi
stop_pid slurmd "$SLURM_DIR/run/slurmd.pid"
stop_pid slurmctld "$ctld_pid"
stop_pid munged "$SLURM_DIR/run/munged.pid"

# /etc/slurm/slurm.conf: remove our link, put back what start_slurm.sh moved aside
ETC_CONF=/etc/slurm/slurm.conf
if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$SLURM_CONF" ]; then
  rm -f "$ETC_CONF"
fi
if [ -e "$SLURM_DIR/etc/slurm.conf.orig" ] || [ -L "$SLURM_DIR/etc/slurm.conf.orig" ]; then
  if [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
    log "WARNING: $ETC_CONF was replaced meanwhile; original left in $SLURM_DIR/etc/slurm.conf.orig"
    KEEP=1
  else
    mv "$SLURM_DIR/etc/slurm.conf.orig" "$ETC_CONF"
    log "restored the original $ETC_CONF"
  fi
fi

if [ "$failed" != 0 ]; then
  log "ERROR: some daemons could not be stopped; $SLURM_DIR kept"
  exit 1
fi
if [ "$KEEP" = 1 ]; then
  log "stopped; state and logs kept in $SLURM_DIR"
else
  rm -rf "$SLURM_DIR"
  log "stopped; removed $SLURM_DIR"
fi
exit 0
