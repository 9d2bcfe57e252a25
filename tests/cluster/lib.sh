# Shared by tests/cluster/{up,down,env}; sourced, not run.
# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts

cluster_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${WILDRUN_CLUSTER_DIR:-/tmp/wildrun-cluster}
# Marker that tells `down` a directory is ours before it removes it.
MARKER=$STATE/.wildrun-cluster
COMPONENTS=(kube-controller-manager kube-apiserver etcd)   # stop order

log() { printf '[%s] %s\n' "${LOG_TAG:-cluster}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-cluster}" "$*" >&2; exit 1; }

# pid_of NAME: the pid recorded for a component, if that process is still the
# component's binary (guards against a recycled pid).
pid_of() {
  local f=$STATE/pids/$1.pid pid exe
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}   # binary replaced since start: still ours
  [[ ${exe##*/} == "$1" ]] || return 1
  echo "$pid"
}

# stop_all: stop the recorded processes, TERM first, KILL after 10 s. Liveness
# is checked with pid_of, not kill -0: a killed process whose parent (here
# whatever adopted it) does not reap it stays a zombie, which kill -0 reports
# as alive but which holds no port, file or memory.
stop_all() {
  local c pid i
  for c in "${COMPONENTS[@]}"; do
    pid=$(pid_of "$c") || continue
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_of "$c" >/dev/null || break
      sleep 0.1
    done
    if pid_of "$c" >/dev/null; then
      log "$c (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        pid_of "$c" >/dev/null || break
        sleep 0.1
      done
    fi
    log "stopped $c (pid $pid)"
  done
}
