# The visibility lab as a network (tests/cluster/up --lab --network): the
# node's network namespace gets a LAN, a router and two clients around it,
# all network namespaces and veth pairs named after it, none reaching the
# host's network. Sourced by netns.sh (names, create, delete) and by
# lab/start.sh (the components that run on it).
#
#   internet-client 203.0.113.10 ── WAN 203.0.113.0/24 ── router 203.0.113.1
#                                                          │ DNAT :80 :443 → 192.168.8.240
#                                                          │ DNAT :53 → 192.168.8.10 (Knot)
#                                                          │ dnsmasq 192.168.8.1 (split horizon)
#   lan-client 192.168.8.20 ──────── LAN 192.168.8.0/24 ───┤ 192.168.8.1
#   node 192.168.8.10 (the plane, kube-proxy, controllers) ┘
#     │ MetalLB's speaker answers ARP for 192.168.8.240 on lan0
#     └─ cni0 10.244.0.1/16 ── pods 10.244.1.0/24 (Traefik, the backend)
# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts

LAB_PODS_NETNS=$LAB_NETNS-pods
LAB_ROUTER_NETNS=$LAB_NETNS-router
LAB_LAN_NETNS=$LAB_NETNS-lan
LAB_INTERNET_NETNS=$LAB_NETNS-internet
LAB_NODE_LAN_IP=192.168.8.10
LAB_LAN_CLIENT_IP=192.168.8.20
LAB_ROUTER_LAN_IP=192.168.8.1
LAB_PUBLIC_IP=203.0.113.1
LAB_INTERNET_CLIENT_IP=203.0.113.10
LAB_NET_LB_IP=192.168.8.240
LAB_NET_POOL=192.168.8.240-192.168.8.243
LAB_CNI_IP=10.244.0.1
# kwok gives pods addresses from here; the pods' namespace holds all of them.
LAB_NET_POD_CIDR=10.244.1.0/24

lab_network_namespaces() { echo "$LAB_PODS_NETNS $LAB_ROUTER_NETNS $LAB_LAN_NETNS $LAB_INTERNET_NETNS"; }

# lab_ns_add NAME RESOLVER: a namespace with its loopback up and its own
# resolv.conf (ip netns exec mounts /etc/netns/NAME/resolv.conf).
lab_ns_add() {
  ip netns list | grep -qE "^$1( |\$)" || ip netns add "$1" || die "ip netns add $1 failed"
  ip -n "$1" link set lo up
  mkdir -p "/etc/netns/$1"
  echo "nameserver $2" >"/etc/netns/$1/resolv.conf"
}

# lab_veth NS-A IF-A NS-B IF-B: a veth pair between two namespaces, both up.
lab_veth() {
  ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || die "veth $1/$2 - $3/$4 failed"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

lab_sysctl() { ip netns exec "$1" sysctl -qw "$2" >/dev/null || die "sysctl $2 in $1 failed"; }

# lab_network_create: the namespaces, links, addresses, routes and the
# router's NAT (idempotent: a second call changes nothing).
lab_network_create() {
  command -v nft >/dev/null || die "nft is not installed (Debian package nftables; tests/setup installs it)"
  lab_ns_add "$LAB_PODS_NETNS" "$LAB_ROUTER_LAN_IP"
  lab_ns_add "$LAB_ROUTER_NETNS" 127.0.0.1
  lab_ns_add "$LAB_LAN_NETNS" "$LAB_ROUTER_LAN_IP"
  lab_ns_add "$LAB_INTERNET_NETNS" "$LAB_PUBLIC_IP"

  # The LAN: a bridge in the router, the node and the LAN client on it.
  ip -n "$LAB_ROUTER_NETNS" link show br-lan >/dev/null 2>&1 ||
    ip -n "$LAB_ROUTER_NETNS" link add br-lan type bridge
  ip -n "$LAB_ROUTER_NETNS" link set br-lan up
  ip -n "$LAB_ROUTER_NETNS" addr replace "$LAB_ROUTER_LAN_IP/24" dev br-lan
  lab_veth "$LAB_ROUTER_NETNS" lan-node "$LAB_NETNS" lan0
  lab_veth "$LAB_ROUTER_NETNS" lan-client "$LAB_LAN_NETNS" eth0
  ip -n "$LAB_ROUTER_NETNS" link set lan-node master br-lan
  ip -n "$LAB_ROUTER_NETNS" link set lan-client master br-lan
  ip -n "$LAB_NETNS" addr replace "$LAB_NODE_LAN_IP/24" dev lan0
  ip -n "$LAB_NETNS" route replace default via "$LAB_ROUTER_LAN_IP"
  ip -n "$LAB_LAN_NETNS" addr replace "$LAB_LAN_CLIENT_IP/24" dev eth0
  ip -n "$LAB_LAN_NETNS" route replace default via "$LAB_ROUTER_LAN_IP"
  # MetalLB's address: on the LAN itself, answered by the speaker (ARP).

  # The WAN: the router's public address and one client, nothing else.
  lab_veth "$LAB_ROUTER_NETNS" wan0 "$LAB_INTERNET_NETNS" eth0
  ip -n "$LAB_ROUTER_NETNS" addr replace "$LAB_PUBLIC_IP/24" dev wan0
  ip -n "$LAB_INTERNET_NETNS" addr replace "$LAB_INTERNET_CLIENT_IP/24" dev eth0

  # The pods: a bridge on the node (as a CNI makes it) and, behind it, the
  # namespace holding every pod address.
  ip -n "$LAB_NETNS" link show cni0 >/dev/null 2>&1 || ip -n "$LAB_NETNS" link add cni0 type bridge
  ip -n "$LAB_NETNS" link set cni0 up
  ip -n "$LAB_NETNS" addr replace "$LAB_CNI_IP/16" dev cni0
  lab_veth "$LAB_NETNS" veth-pods "$LAB_PODS_NETNS" eth0
  ip -n "$LAB_NETNS" link set veth-pods master cni0
  ip -n "$LAB_PODS_NETNS" addr replace 10.244.0.2/16 dev eth0
  ip -n "$LAB_PODS_NETNS" route replace local "$LAB_NET_POD_CIDR" dev lo
  ip -n "$LAB_PODS_NETNS" route replace default via "$LAB_CNI_IP"

  lab_sysctl "$LAB_NETNS" net.ipv4.ip_forward=1
  lab_sysctl "$LAB_ROUTER_NETNS" net.ipv4.ip_forward=1
  # Where the host loaded br_netfilter, a LAN packet the router sends back
  # into its own bridge after DNAT (NAT loopback from the node) would be
  # bridged back out the port it came in on, and dropped: the router routes.
  if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
    lab_sysctl "$LAB_ROUTER_NETNS" net.bridge.bridge-nf-call-iptables=0
  fi

  # The router forwards its public address's 80 and 443 to MetalLB's
  # address and 53 to the authoritative server (the zone's public DNS), as
  # a home router's port forwarding does; LAN clients asking the public
  # address are masqueraded (NAT loopback), so the answer comes back
  # through it.
  ip netns exec "$LAB_ROUTER_NETNS" nft -f - <<NFT || die "the router's nftables rules failed"
table ip lab-router
delete table ip lab-router
table ip lab-router {
  chain prerouting {
    type nat hook prerouting priority dstnat;
    ip daddr $LAB_PUBLIC_IP tcp dport { 80, 443 } dnat to $LAB_NET_LB_IP
    ip daddr $LAB_PUBLIC_IP meta l4proto { tcp, udp } th dport 53 dnat to $LAB_NODE_LAN_IP
  }
  chain postrouting {
    type nat hook postrouting priority srcnat;
    iifname "br-lan" oifname "br-lan" ct status dnat masquerade
  }
}
NFT
}

# lab_network_delete: every companion namespace of the lab's.
lab_network_delete() {
  local ns p
  for ns in $(lab_network_namespaces); do
    ip netns list 2>/dev/null | grep -qE "^$ns( |\$)" || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns delete "$ns" && log "removed network namespace $ns"
    rm -rf "/etc/netns/$ns"
  done
}
