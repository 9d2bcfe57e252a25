# Shared by tests/cluster/{up,down,env}; sourced, not run.
# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts

cluster_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${WILDRUN_CLUSTER_DIR:-/tmp/wildrun-cluster}
# Marker that tells `down` a directory is ours before it removes it.
MARKER=$STATE/.wildrun-cluster
# The control plane's processes (a lab adds its own: pids/order lists all).
COMPONENTS=(etcd kube-apiserver kube-controller-manager)

log() { printf '[%s] %s\n' "${LOG_TAG:-cluster}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-cluster}" "$*" >&2; exit 1; }

# pid_of NAME: the pid recorded for a component, if that process is still the
# component's binary (guards against a recycled pid). The binary is the one
# recorded at start (pids/NAME.exe), or NAME itself.
pid_of() {
  local f=$STATE/pids/$1.pid pid exe want=$1
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -f $STATE/pids/$1.exe ]] && want=$(<"$STATE/pids/$1.exe")
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}   # binary replaced since start: still ours
  [[ ${exe##*/} == "${want##*/}" ]] || return 1
  echo "$pid"
}

# start_process NAME EXE ARGS...: run EXE detached from this script (spawn:
# callers capturing our output do not hang), record its binary (PID_EXE when
# EXE execs another, as `ip netns exec` does) and its command line (for
# restart_process), and remember the start order (stop_all stops in
# reverse).
start_process() {
  local name=$1 exe=$2; shift 2
  local real
  real=$(readlink -f "$(command -v "$exe")") || die "no program $exe"
  mkdir -p "$STATE/pids" "$STATE/cmd" "$STATE/logs"
  printf '%s\0' "$real" "$@" >"$STATE/cmd/$name"
  echo "${PID_EXE:-$real}" >"$STATE/pids/$name.exe"
  spawn "$name" "$real" "$@"
  grep -qx "$name" "$STATE/pids/order" 2>/dev/null || echo "$name" >>"$STATE/pids/order"
}

# restart_process NAME: start a stopped component again with the command line
# it was first started with (the environment is this script's).
restart_process() {
  local name=$1 argv
  [[ -f $STATE/cmd/$name ]] || die "no saved command line for $name in $STATE/cmd"
  pid_of "$name" >/dev/null && die "$name is already running"
  mapfile -d '' argv <"$STATE/cmd/$name"
  spawn "$name" "${argv[@]}"
}

# spawn NAME CMD...: run CMD detached from this script (own session, no
# stdin, no lock fds), appending to logs/NAME.log, record its pid, and wait
# (at most 5 s) until the child is the component's binary as pid_of knows
# it: before its exec it is bash, then setsid, and a start-up check that
# came that early (on a busy machine) would take it for one that exited. A
# child that exits meanwhile is left to the start-up checks.
spawn() {
  local name=$1 pid i; shift
  setsid "$@" </dev/null >>"$STATE/logs/$name.log" 2>&1 8<&- 9<&- &
  pid=$!
  echo "$pid" >"$STATE/pids/$name.pid"
  for ((i = 0; i < 100; i++)); do
    pid_of "$name" >/dev/null && return 0
    [[ -e /proc/$pid ]] || return 0
    sleep 0.05
  done
}

# stop_process NAME: TERM, then KILL after 10 s; returns once it is gone.
# Liveness is checked with pid_of, not kill -0: a killed process whose parent
# (here whatever adopted it) does not reap it stays a zombie, which kill -0
# reports as alive but which holds no port, file or memory.
stop_process() {
  local c=$1 pid i
  pid=$(pid_of "$c") || return 0
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
}

# stop_all: stop every recorded process, the last started first.
stop_all() {
  local order=() c
  [[ -f $STATE/pids/order ]] && mapfile -t order <"$STATE/pids/order"
  ((${#order[@]})) || order=(etcd kube-apiserver kube-controller-manager)
  for ((c = ${#order[@]} - 1; c >= 0; c--)); do stop_process "${order[c]}"; done
}
