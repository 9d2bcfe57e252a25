# The visibility lab's network namespace; sourced by up, down and lab-ctl.
# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
#
# Kubernetes refuses loopback addresses in EndpointSlices, so pods need
# addresses of a real range; on the host such an address would leave the
# machine. The lab therefore lives in a network namespace of its own whose
# only interface is its loopback, holding the pod range: nothing in it has a
# route out (it fails closed), and every lab process and every client of the
# lab (wildrun, curl, kdig, the tests) runs inside it (`ip netns exec`).
# Its /etc/resolv.conf (ip netns exec mounts /etc/netns/NAME/resolv.conf
# there) names the lab's Knot, so names resolve as on a real network.

LAB_NETNS=${WILDRUN_LAB_NETNS_NAME:-wildrun-lab}
LAB_POD_CIDR=10.244.0.0/16
# LAB_NETWORK=1 (the default lab, up --lab): the namespace is the node of a
# network (lab/network.sh), its pods behind a bridge rather than on its
# loopback; the existing-layer lab keeps the loopback. A lab says its shape
# in its state directory (lab-ctl re-enters it).
if [[ -z ${LAB_NETWORK:-} ]]; then
  case $(cat "${WILDRUN_CLUSTER_DIR:-/nonexistent}/lab-shape" 2>/dev/null) in
    wildrun-layer | network) LAB_NETWORK=1 ;;
  esac
fi
LAB_NETWORK=${LAB_NETWORK:-0}
# shellcheck source=network.sh
. "$(dirname "${BASH_SOURCE[0]}")/network.sh"

lab_in_netns() { [[ $(ip netns identify $$ 2>/dev/null) == "$LAB_NETNS" ]]; }

lab_netns_create() {
  ((EUID == 0)) || die "the lab runs in a network namespace of its own, which only root can make (run as root)"
  command -v ip >/dev/null || die "ip is not installed (Debian package iproute2)"
  if ! ip netns list | grep -qE "^$LAB_NETNS( |\$)"; then
    ip netns add "$LAB_NETNS" || die "ip netns add $LAB_NETNS failed"
    log "made network namespace $LAB_NETNS (loopback only, pod range $LAB_POD_CIDR)"
  fi
  ip -n "$LAB_NETNS" link set lo up
  if ((LAB_NETWORK)); then
    lab_network_create
  else
    ip -n "$LAB_NETNS" addr replace "$LAB_POD_CIDR" dev lo
  fi
  mkdir -p "/etc/netns/$LAB_NETNS"
  echo "nameserver 127.0.0.1" >"/etc/netns/$LAB_NETNS/resolv.conf"
}

# lab_enter_netns COMMAND...: unless already inside, make the namespace and
# run COMMAND inside it in place of this process.
lab_enter_netns() {
  lab_in_netns && return 0
  lab_netns_create
  exec ip netns exec "$LAB_NETNS" "$@"
}

lab_netns_delete() { # DIR: the lab's state directory
  if ip netns list 2>/dev/null | grep -qE "^$LAB_NETNS( |\$)"; then
    lab_kill_strays "$1"
    # What still runs there after a moment is not this lab's (another lab
    # started in the same namespace): leave the namespace to it.
    local i
    for ((i = 0; i < 20; i++)); do
      [[ -z $(ip netns pids "$LAB_NETNS" 2>/dev/null) ]] && break
      sleep 0.1
    done
    if [[ -n $(ip netns pids "$LAB_NETNS" 2>/dev/null) ]]; then
      log "left network namespace $LAB_NETNS: processes not of $1 run in it"
      return 0
    fi
    ip netns delete "$LAB_NETNS" && log "removed network namespace $LAB_NETNS"
  fi
  rm -rf "/etc/netns/$LAB_NETNS"
  lab_network_delete
}

# lab_kill_strays DIR: kill what still runs of the lab of state directory
# DIR once its recorded processes are stopped (a lab-ctl start racing a
# restart can leave one, holding a port the next start needs). A process
# counts as the lab's when it runs in the lab's namespace and its environment
# names DIR (up and lab-ctl export WILDRUN_CLUSTER_DIR=DIR to everything they
# start); this script and its children are spared.
lab_kill_strays() {
  local dir=$1 p keep
  keep=" $$ $(ps -o pid= --ppid $$ | tr -s ' \n' '  ') "
  for p in $(ip netns pids "$LAB_NETNS" 2>/dev/null); do
    [[ $keep == *" $p "* ]] && continue
    tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF "WILDRUN_CLUSTER_DIR=$dir" || continue
    kill -KILL "$p" 2>/dev/null && log "killed stray process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60)) of $dir"
  done
  return 0
}
