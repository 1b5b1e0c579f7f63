#!/usr/bin/env bash
# start_slurm.sh: a private single-node SLURM cluster on this machine, for tests.
#
# Why: the workflow must be shown to run under Snakemake's SLURM executor, not only locally.
# This starts munged + slurmctld + slurmd (no accounting database: `squeue` is enough for
# Snakemake's status queries and it starts in seconds) with every file under $SER_SLURM_DIR,
# its own munge key/socket and its own slurm.conf (SLURM_CONF); the only system file touched
# is /etc/slurm/slurm.conf, a symlink to ours (see below), undone by stop_slurm.sh.
#
# Needs: Debian/Ubuntu, root (apt-get, daemons run as root/munge). No systemd needed.
# Env:   SER_SLURM_DIR   state/log/pid folder          (default ${TMPDIR:-/tmp}/ser-slurm)
#        SER_SLURM_INSTALL=0   never apt-get (fail if packages are missing)
#        SER_SLURMCTLD_PORT / SER_SLURMD_PORT         (default 6817 / 6818)
# After it: `source "$SER_SLURM_DIR/env"` sets SLURM_CONF for sinfo/squeue/sbatch.
# Idempotent: a healthy cluster of ours is reused; stale leftovers are stopped first.
# Stop with tests/cluster/stop_slurm.sh (kills by recorded PID).
set -euo pipefail

SLURM_DIR=${SER_SLURM_DIR:-${TMPDIR:-/tmp}/ser-slurm}
INSTALL=${SER_SLURM_INSTALL:-1}
CTLD_PORT=${SER_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SER_SLURMD_PORT:-6818}
NODE=localhost            # slurmd -N localhost; no DNS needed
PART=debug
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

T0=$(date +%s)
log() { echo "[start_slurm +$(($(date +%s) - T0))s] $*" >&2; }
die() {
  log "ERROR: $*"
  for f in slurmctld slurmd; do
    [ -s "$SLURM_DIR/log/$f.log" ] && { echo "--- tail $SLURM_DIR/log/$f.log" >&2; tail -n 15 "$SLURM_DIR/log/$f.log" >&2; }
  done
  exit 1
}
wait_for() { # wait_for SECONDS WHAT CMD...
  local t=$1 what=$2 i
  shift 2
  for ((i = 0; i < t * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "timed out after ${t}s waiting for $what"
}
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, runs munged/slurmctld/slurmd)"
case $SLURM_DIR in /*) ;; *) die "SER_SLURM_DIR must be an absolute path: $SLURM_DIR" ;; esac
export SLURM_CONF=$SLURM_DIR/etc/slurm.conf

node_ready() { sinfo -h -n "$NODE" -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)$'; }

# ------------------------------------------------------------------ already running?
if pid_alive "$SLURM_DIR/run/slurmctld.pid" || pid_alive "$SLURM_DIR/run/slurmd.pid" ||
  pid_alive "$SLURM_DIR/run/munged.pid"; then
  if pid_alive "$SLURM_DIR/run/slurmctld.pid" && pid_alive "$SLURM_DIR/run/slurmd.pid" &&
    pid_alive "$SLURM_DIR/run/munged.pid" && scontrol ping >/dev/null 2>&1 && node_ready; then
    log "cluster already running in $SLURM_DIR; reusing it: $(sinfo -h -o '%P %D %T %c CPUs %m MB')"
    exit 0
  fi
  log "stale/partial cluster in $SLURM_DIR: stopping it first"
  SER_SLURM_DIR=$SLURM_DIR "$HERE/stop_slurm.sh" || die "could not stop the stale cluster"
fi

# ------------------------------------------------------------------ packages
need_pkgs() {
  local p missing=""
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  echo "$missing"
}
missing=$(need_pkgs)
if [ -n "$missing" ]; then
  [ "$INSTALL" = 1 ] || die "missing packages:$missing (and SER_SLURM_INSTALL=0)"
  command -v apt-get >/dev/null || die "missing packages:$missing and no apt-get here"
  log "apt-get install:$missing"
  read -ra pkgs <<<"$missing"
  # A policy-rc.d that says 101 keeps the packages' postinst scripts from starting services.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  rc=0
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
  } >"${TMPDIR:-/tmp}/ser-slurm-apt.log" 2>&1 || rc=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || { tail -n 20 "${TMPDIR:-/tmp}/ser-slurm-apt.log" >&2; die "apt-get failed (rc=$rc)"; }
  missing=$(need_pkgs)
  [ -z "$missing" ] || die "still missing after apt-get:$missing"
  log "packages installed"
fi
for b in munged mungekey slurmctld slurmd sinfo scontrol squeue sbatch srun; do
  command -v "$b" >/dev/null || die "$b not on PATH"
done

# ------------------------------------------------------------------ ports
for p in "$CTLD_PORT" "$SLURMD_PORT"; do
  port_busy "$p" && die "port $p is in use (another slurm?); set SER_SLURMCTLD_PORT/SER_SLURMD_PORT"
done

# ------------------------------------------------------------------ folders + slurm.conf
# Only ever delete a folder this script made (marker file), never an arbitrary SER_SLURM_DIR.
if [ -e "$SLURM_DIR" ]; then
  if [ -e "$SLURM_DIR/.ser-slurm" ]; then
    rm -rf "$SLURM_DIR"
  elif [ -n "$(ls -A "$SLURM_DIR")" ]; then
    die "$SLURM_DIR exists, is not empty and was not made by this script; choose another SER_SLURM_DIR"
  fi
fi
mkdir -p "$SLURM_DIR"/{etc,state,spool,log,run,munge/key}
chmod 755 "$SLURM_DIR"
touch "$SLURM_DIR/.ser-slurm"

# Advertise the real hardware: slurmd -C reports what slurmd will detect (a node whose config
# claims more than it has is drained as "invalid"). CPUs also capped by our CPU affinity.
hw=$(slurmd -C 2>/dev/null | head -n 1) || true
CPUS=$(nproc)
MEM_MB=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
[ -n "$MEM_MB" ] || MEM_MB=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024))
[ "$MEM_MB" -gt 0 ] || die "could not read the memory size"
HW_CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
TOPO=$(grep -o 'Boards=[0-9]* SocketsPerBoard=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]*' <<<"$hw") || true
# keep the detected topology only when it matches the CPUs we may use (affinity, cpusets)
[ "$HW_CPUS" = "$CPUS" ] || TOPO=""

MUNGE_SOCKET=$SLURM_DIR/munge/munge.socket
cat >"$SLURM_CONF" <<CONF
# generated by tests/cluster/start_slurm.sh: single node, no accounting
ClusterName=ser-local
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/run/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/run/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue for 10 min: Snakemake's squeue status mode needs
# MinJobAge >= 3 x its first status-check delay (40 s by default), else it falls back to sacct,
# which cannot work without accounting and the run hangs.
MinJobAge=600
SchedulerParameters=sched_interval=2
NodeName=$NODE NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$CPUS $TOPO RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PART Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
cat >"$SLURM_DIR/env" <<ENV
export SLURM_CONF=$SLURM_CONF
ENV

# Snakemake's slurm-jobstep plugin removes every SLURM_* variable (SLURM_CONF included)
# before its inner `srun`, so inside jobs only the default path works: link
# /etc/slurm/slurm.conf to ours. A foreign file there is moved aside and put back by stop.
ETC_CONF=/etc/slurm/slurm.conf
mkdir -p /etc/slurm
if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$SLURM_CONF" ]; then
  : # ours, from an earlier run with the same SER_SLURM_DIR
elif [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
  other_port=$(sed -n 's/^[[:space:]]*SlurmctldPort[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/Ip' "$ETC_CONF" 2>/dev/null | head -n 1)
  port_busy "${other_port:-6817}" &&
    die "$ETC_CONF belongs to a SLURM that is running (port ${other_port:-6817}); stop it first"
  mv "$ETC_CONF" "$SLURM_DIR/etc/slurm.conf.orig"
  log "moved the existing $ETC_CONF aside (restored by stop_slurm.sh)"
fi
ln -sfn "$SLURM_CONF" "$ETC_CONF"

# ------------------------------------------------------------------ munged (private key + socket)
id munge >/dev/null 2>&1 || die "user 'munge' does not exist (munge package broken?)"
# munged wants the socket folder open to all (x) and the key folder private.
mungekey --create --force --keyfile="$SLURM_DIR/munge/key/munge.key" >/dev/null
chown -R munge:munge "$SLURM_DIR/munge"
chmod 755 "$SLURM_DIR/munge"
chmod 700 "$SLURM_DIR/munge/key"
chmod 400 "$SLURM_DIR/munge/key/munge.key"
runuser -u munge -- munged \
  --key-file="$SLURM_DIR/munge/key/munge.key" \
  --socket="$MUNGE_SOCKET" \
  --pid-file="$SLURM_DIR/munge/munged.pid" \
  --log-file="$SLURM_DIR/munge/munged.log" \
  --seed-file="$SLURM_DIR/munge/munged.seed" ||
  die "munged failed to start: $(tail -n 5 "$SLURM_DIR/munge/munged.log" 2>/dev/null)"
wait_for 10 "munged pid file" test -s "$SLURM_DIR/munge/munged.pid"
cp "$SLURM_DIR/munge/munged.pid" "$SLURM_DIR/run/munged.pid"
wait_for 10 munged sh -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'"
log "munged up (pid $(cat "$SLURM_DIR/run/munged.pid"))"

# ------------------------------------------------------------------ slurmctld + slurmd
slurmctld -f "$SLURM_CONF" || die "slurmctld failed to start"
wait_for 30 slurmctld scontrol ping
log "slurmctld up (pid $(cat "$SLURM_DIR/run/slurmctld.pid"))"
slurmd -f "$SLURM_CONF" -N "$NODE" || die "slurmd failed to start"
wait_for 15 "slurmd pid file" test -s "$SLURM_DIR/run/slurmd.pid"
for ((i = 0; i < 60; i++)); do node_ready && break; sleep 0.25; done
if ! node_ready; then
  scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
  wait_for 20 "node $NODE to become idle ($(sinfo -h -n "$NODE" -o '%T %E' 2>/dev/null))" node_ready
fi
log "slurmd up (pid $(cat "$SLURM_DIR/run/slurmd.pid"))"
timeout 60 srun -N1 -n1 true || die "srun smoke test failed"
for ((i = 0; i < 40; i++)); do node_ready && break; sleep 0.25; done # COMPLETING -> idle
log "cluster up: $(sinfo -h -o 'partition %P, %D node %T, %c CPUs, %m MB')  (SLURM_CONF=$SLURM_CONF)"
