# The visibility lab: sourced by `tests/cluster/up --lab` once its control
# plane is ready, inside the lab's network namespace. Starts, as processes
# of this machine against that plane, what a real cluster runs in pods:
#
#   backend          what every pod "runs": answers on the pod ports with the
#                    Host it saw and the pod address it was reached at
#   kube-scheduler   places pods on the kwok node
#   kwok             runs that node: pods become Running/Ready with an
#                    address in the pod range (on the namespace's loopback)
#   knotd            authoritative DNS for the lab's two zones, updated by
#                    ExternalDNS with TSIG (RFC 2136)
#   metallb-controller  assigns Traefik's LoadBalancer Service its address
#   cert-manager-controller  issues the wildcard Certificates from the lab CA
#   traefik          serves websecure on that address
#   external-dns, external-dns-internal  write the services' records: one on
#                    ExternalDNS's default annotation prefix (public zone),
#                    one pinned to the alpha prefix (internal zone)
#
# Each controller also has a Deployment in the cluster, as it would in a real
# one (kwok "runs" its pod), whose image and args are the process's own, so
# what reads the cluster (the doctor) sees what a user's cluster shows.
#
# LAB_SHAPE (set by up) says who set the layer up: `wildrun-layer` (the
# default: wildrun scripts/cluster.rhai, lab/wildrun-layer.sh, on the lab as
# a network, lab/network.sh) or `existing-layer` (a cluster's own set-up
# scripts: plain manifests applied with kubectl, lab/existing-layer.sh, on
# the node's loopback).
# shellcheck shell=bash

LAB_SHAPE=${LAB_SHAPE:-wildrun-layer}
LAB_DOMAIN=cloud.example.test
LAB_LB_IP=127.0.0.240
LAB_POOL=127.0.0.240-127.0.0.243
LAB_HTTPS_PORT=443
LAB_DNS=127.0.0.1:53
LAB_NODE=lab-node
case $LAB_SHAPE in
  wildrun-layer)
    # wildrun's layer on the lab as a network (lab/network.sh): MetalLB's
    # address on the LAN, the zone's apex the router's public address,
    # pods behind the node's bridge, kube-proxy between them.
    LAB_INTERNAL_DOMAIN=internal.$LAB_DOMAIN
    # 2283, 3000, 3003, 5000: the container ports of the README's apps
    # (examples/apps: immich's server and machine learning, gitea, the
    # registry), so their commands run in the lab as written.
    LAB_BACKEND_PORTS=(80 8080 2283 3000 3003 5000)
    LAB_TSIG_KEY=wildrun-lab
    LAB_LB_IP=$LAB_NET_LB_IP
    LAB_POOL=$LAB_NET_POOL
    LAB_POD_CIDR=$LAB_NET_POD_CIDR
    ;;
  existing-layer)
    # wild-cloud's installers default the internal domain to local.<domain>.
    LAB_INTERNAL_DOMAIN=local.$LAB_DOMAIN
    # 3000: the port of the gitea-shaped app.
    LAB_BACKEND_PORTS=(80 8080 3000)
    LAB_TSIG_KEY=externaldns
    ;;
  *) die "unknown lab shape '$LAB_SHAPE' (expected wildrun-layer or existing-layer)" ;;
esac
# The public zone's apex: the router's public address on the network. The
# internal zone's is MetalLB's (its names are the LAN's).
LAB_APEX_IP=$LAB_LB_IP; ((LAB_NETWORK)) && LAB_APEX_IP=$LAB_PUBLIC_IP
LAB_BIN=$("$cluster_here/build" --print-lab-bin-dir)
KC=$STATE/kubeconfig
# shellcheck source=../versions
. "$cluster_here/versions"

t_lab=$SECONDS
mkdir -p "$STATE/lab" "$STATE/knot"

# lab_start NAME BINARY ARGS...: a lab process, logged to logs/NAME.log.
lab_start() {
  local name=$1 bin=$2; shift 2
  start_process "$name" "$bin" "$@"
}

# lab_start_in NETNS NAME BINARY ARGS...: a lab process in another of the
# lab's namespaces (ip netns exec replaces itself with BINARY, whose name
# the pid check then expects).
lab_start_in() {
  local ns=$1 name=$2 bin=$3; shift 3
  PID_EXE=$(readlink -f "$(command -v "$bin")") start_process "$name" ip netns exec "$ns" "$bin" "$@"
}

# lab_alive: fail, with its log, when a process started so far has exited.
lab_alive() {
  local c
  while read -r c; do
    pid_of "$c" >/dev/null && continue
    tail -n 20 "$LOGS/$c.log" >&2 || true
    die "$c exited during start-up; log: $LOGS/$c.log"
  done <"$STATE/pids/order"
}

# lab_wait WHAT SECONDS CHECK...: poll CHECK while every process runs; on
# time-out name WHAT and the logs to read.
lab_wait() {
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    lab_alive
    ((SECONDS < deadline)) || die "$what not done after ${limit}s; logs: $LOGS"
    sleep 0.2
  done
  lab_alive
}

# The lab's objects, applied as one server-side apply by the lab's own field manager.
lab_apply() { kctl lab-objects apply --server-side --force-conflicts --field-manager wildrun-lab -f -; }

# ---- backend -------------------------------------------------------------------
# The interpreter itself, not a wrapper (pyenv's shim is a shell script), so
# its pid file names the binary that runs.
python=$(python3 -c 'import sys; print(sys.executable)') || die "python3 is not installed"
backend_probe=10.244.255.254
if ((LAB_NETWORK)); then
  # Every pod address is in the pods' namespace, behind the node's bridge.
  lab_start_in "$LAB_PODS_NETNS" backend "$python" "$cluster_here/lab/backend.py" "${LAB_BACKEND_PORTS[@]}"
  backend_probe=10.244.1.254
else
  lab_start backend "$python" "$cluster_here/lab/backend.py" "${LAB_BACKEND_PORTS[@]}"
fi
backend_up() {
  curl -fsS --max-time 1 "http://$backend_probe:${LAB_BACKEND_PORTS[0]}/" | grep -q '^host='
}
lab_wait "backend on the pod range" 10 backend_up

# ---- nodes and pods: kube-scheduler, kwok ---------------------------------------
lab_start kube-scheduler "$LAB_BIN/kube-scheduler" \
  --kubeconfig "$KC" --authentication-kubeconfig "$KC" --authorization-kubeconfig "$KC" \
  --leader-elect=false --secure-port 0
# kwok's stages (how a fake node and its pods move through their lives) ship
# in its module; read them from the module cache the build filled.
stages=$STATE/lab/kwok-stages.yaml
kwok_dir=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
: >"$stages"
for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  [[ -f $kwok_dir/$f ]] || die "kwok stage $kwok_dir/$f is missing (build kwok first: tests/cluster/build --lab)"
  { cat "$kwok_dir/$f"; echo "---"; } >>"$stages"
done
lab_start kwok "$LAB_BIN/kwok" --kubeconfig "$KC" --manage-all-nodes=true \
  --cidr "$LAB_POD_CIDR" --node-ip "$( ((LAB_NETWORK)) && echo "$LAB_NODE_LAN_IP" || echo 127.0.0.1)" -c "$stages"
lab_apply <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $LAB_NODE
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: $LAB_NODE, kubernetes.io/os: linux, type: kwok}
YAML
node_ready() { [[ $(kubectl get node "$LAB_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }
lab_wait "node $LAB_NODE Ready (kwok)" 30 node_ready

# ---- the network: kube-proxy on the node ------------------------------------------
if ((LAB_NETWORK)); then
  # nftables mode, as the node of a current cluster runs it: Services'
  # cluster, node-port and load-balancer addresses to their pods' endpoints,
  # masquerading what externalTrafficPolicy Cluster sends on.
  lab_start kube-proxy "$LAB_BIN/kube-proxy" --kubeconfig "$KC" --hostname-override "$LAB_NODE" \
    --proxy-mode nftables --cluster-cidr 10.244.0.0/16 --nodeport-addresses "$LAB_NODE_LAN_IP/32" \
    --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 \
    --conntrack-max-per-core 0
  kube_proxy_up() { curl -fsS --max-time 1 http://127.0.0.1:10256/healthz >/dev/null; }
  lab_wait "kube-proxy healthy" 30 kube_proxy_up
fi

# ---- DNS: Knot --------------------------------------------------------------------
tsig_secret=$(openssl rand -base64 32)
printf '%s' "$tsig_secret" >"$STATE/knot/tsig.secret"
zone_file() { # ZONE APEX-ADDRESS [DELEGATED-CHILD]
  printf '$ORIGIN %s.\n$TTL 60\n@ SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 60\n@ NS ns1.%s.\nns1 A 127.0.0.1\n@ A %s\n' \
    "$1" "$1" "$1" "$1" "$2"
  if [[ -n ${3:-} ]]; then
    local child=${3%."$1"}
    printf '%s NS ns1.%s.\nns1.%s A 127.0.0.1\n' "$child" "$3" "$child"
  fi
}
zone_file "$LAB_DOMAIN" "$LAB_APEX_IP" "$LAB_INTERNAL_DOMAIN" >"$STATE/knot/$LAB_DOMAIN.zone"
zone_file "$LAB_INTERNAL_DOMAIN" "$LAB_LB_IP" >"$STATE/knot/$LAB_INTERNAL_DOMAIN.zone"
cat >"$STATE/knot/knot.conf" <<CONF
server:
    rundir: "$STATE/knot"
    listen: [ 127.0.0.1@53$( ((LAB_NETWORK)) && echo ", $LAB_NODE_LAN_IP@53") ]
database:
    storage: "$STATE/knot/db"
control:
    listen: "$STATE/knot/knot.sock"
log:
  - target: stderr
    any: info
key:
  - id: $LAB_TSIG_KEY
    algorithm: hmac-sha256
    secret: $tsig_secret
acl:
  - id: externaldns
    key: $LAB_TSIG_KEY
    action: [ update, transfer ]
template:
  - id: default
    storage: "$STATE/knot"
    zonefile-sync: -1
    journal-content: none
    acl: externaldns
zone:
  - domain: $LAB_DOMAIN
    file: "$LAB_DOMAIN.zone"
  - domain: $LAB_INTERNAL_DOMAIN
    file: "$LAB_INTERNAL_DOMAIN.zone"
CONF
chmod 600 "$STATE/knot/knot.conf" "$STATE/knot/tsig.secret"
knotd_bin=$(command -v knotd || echo /usr/sbin/knotd)
[[ -x $knotd_bin ]] || die "knotd is not installed (apt-get install knot knot-dnsutils; .ci/run does)"
lab_start knotd "$knotd_bin" -c "$STATE/knot/knot.conf"
soa() { kdig @127.0.0.1 +time=1 +retry=0 +short "$1" SOA | grep -q hostmaster; }
lab_wait "Knot serving $LAB_DOMAIN" 10 soa "$LAB_DOMAIN"
lab_wait "Knot serving $LAB_INTERNAL_DOMAIN" 10 soa "$LAB_INTERNAL_DOMAIN"
if ((LAB_NETWORK)); then
  # The LAN's resolver on the router, split horizon as a wild-cloud LAN's
  # dnsmasq: every name of the domain, the internal domain's too, is
  # MetalLB's address (address=/<domain>/<LB>, as a wild-cloud LAN's
  # dnsmasq has it), so the LAN reaches Traefik directly; other questions
  # are asked of the authoritative server, which the zones' ns1 names lead
  # to. (The node asks Knot itself: a public name leads it to the router's
  # public address, NAT loopback.)
  dnsmasq_bin=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
  [[ -x $dnsmasq_bin ]] || die "dnsmasq is not installed (Debian package dnsmasq-base; tests/setup installs it)"
  lab_start_in "$LAB_ROUTER_NETNS" dnsmasq "$dnsmasq_bin" --keep-in-foreground --no-daemon --conf-file=/dev/null \
    --no-resolv --no-hosts --user=root --pid-file= --bind-interfaces --listen-address="$LAB_ROUTER_LAN_IP" \
    --port=53 --address="/$LAB_DOMAIN/$LAB_LB_IP" --server="/$LAB_DOMAIN/$LAB_NODE_LAN_IP" \
    --address="/ns1.$LAB_DOMAIN/$LAB_NODE_LAN_IP" --address="/ns1.$LAB_INTERNAL_DOMAIN/$LAB_NODE_LAN_IP" --log-queries
  lan_dns() { ip netns exec "$LAB_LAN_NETNS" kdig @"$LAB_ROUTER_LAN_IP" +time=1 +retry=0 +short "ns1.$LAB_DOMAIN" A | grep -q .; }
  lab_wait "dnsmasq answering the LAN" 10 lan_dns
fi

# ---- the lab CA -----------------------------------------------------------------
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
  -subj "/CN=wildrun lab CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$PKI/lab-ca.key" -out "$PKI/lab-ca.crt"
chmod 644 "$PKI/lab-ca.crt"

# ---- the layer's controllers, as both shapes start them ------------------------------
# deployment_args NAMESPACE NAME: the args of the Deployment's first
# container, one a line (a process started from them runs what the
# Deployment says).
deployment_args() {
  kubectl -n "$1" get deployment "$2" -o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}'
}

lb_ip() { kubectl -n traefik get service traefik -o jsonpath='{.status.loadBalancer.ingress[0].ip}'; }
lb_assigned() { [[ $(lb_ip) == "$LAB_LB_IP" ]]; }
first_pod() { kubectl -n "$1" get pods -l "$2" -o jsonpath='{.items[0].metadata.name}'; }

# The controllers start without waiting for one another (a start is mostly
# waiting); each wait_* below waits for what one of them does.

# start_metallb NAMESPACE POD-SELECTOR ARG...: MetalLB's controller, once
# kwok runs its Deployment's pod (the controller insists on a Pod of its own
# name in its namespace).
start_metallb() {
  local ns=$1 selector=$2; shift 2
  lab_wait "MetalLB's controller pod (kwok)" 30 first_pod "$ns" "$selector"
  lab_start metallb-controller "$LAB_BIN/metallb-controller" -kubeconfig "$KC" \
    -pod-name "$(first_pod "$ns" "$selector")" "$@"
}
# wait_metallb: Traefik's Service has its address.
wait_metallb() { lab_wait "MetalLB assigning $LAB_LB_IP to Service traefik/traefik" 30 lb_assigned; }

# start_cert_manager ARG...: cert-manager's controller.
start_cert_manager() {
  lab_start cert-manager-controller "$LAB_BIN/cert-manager-controller" --kubeconfig "$KC" "$@"
}
# wait_cert_manager: both wildcard Certificates issued (the same names in
# both shapes: wildrun's defaults are wild-cloud's).
cert_ready() { [[ $(kubectl -n cert-manager get certificate "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }
wait_cert_manager() {
  lab_wait "cert-manager issuing wildcard-wild-cloud" 60 cert_ready wildcard-wild-cloud
  lab_wait "cert-manager issuing wildcard-internal-wild-cloud" 60 cert_ready wildcard-internal-wild-cloud
}

# lab_kubeconfig_at ADDRESS FILE: the admin kubeconfig, reaching the API
# server at the node's ADDRESS (network shape, where it listens on every
# address of the node), TLS checked against the name its certificate has.
lab_kubeconfig_at() {
  sed -e "s#server: https://127.0.0.1:#server: https://$1:#" \
    -e 's#^\(    certificate-authority-data: .*\)#\1\n    tls-server-name: localhost#' "$KC" >"$2"
  chmod 600 "$2"
}

# start_traefik ARG...: Traefik, as a pod on the network (MetalLB announces
# the address and kube-proxy forwards it to Traefik's pod, as in a real
# cluster), or on the loopback serving websecure on the address MetalLB
# assigned (which it needs to start).
traefik_up() { curl -sk --max-time 1 -o /dev/null "https://$(lb_ip):$LAB_HTTPS_PORT/"; }
start_traefik() {
  (
    # Traefik takes the cluster from KUBECONFIG only when it does not think it
    # runs in a pod.
    unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
    export KUBECONFIG=$KC
    if ((LAB_NETWORK)); then
      # From the pods' namespace the API server is at the node's bridge
      # address, which its certificate does not name: the name it does.
      KUBECONFIG=$STATE/kubeconfig-pods
      lab_kubeconfig_at "$LAB_CNI_IP" "$KUBECONFIG"
      lab_start_in "$LAB_PODS_NETNS" traefik "$LAB_BIN/traefik" "$@"
    else
      lab_start traefik "$LAB_BIN/traefik" "$@"
    fi
  )
}
# wait_traefik: Traefik answers at MetalLB's address.
wait_traefik() { lab_wait "Traefik serving https://$LAB_LB_IP:$LAB_HTTPS_PORT" 30 traefik_up; }

# start_external_dns NAME BINARY ARG...: an ExternalDNS writing to Knot. The
# TSIG secret goes on the command line here (lab-ctl restarts a process with
# its command line only); the Deployments read it from a Secret through
# EXTERNAL_DNS_RFC2136_TSIG_SECRET.
start_external_dns() {
  local name=$1 bin=$2; shift 2
  lab_start "$name" "$LAB_BIN/$bin" --kubeconfig "$KC" "$@" "--rfc2136-tsig-secret=$tsig_secret"
}

# deployments_available NAMESPACE...: every Deployment there Available (kwok).
deployments_available() {
  local ns
  for ns in "$@"; do
    kubectl -n "$ns" wait --for=condition=Available --timeout=1s deployment --all >/dev/null 2>&1 || return 1
  done
}

ca_crt=$(base64 -w0 <"$PKI/lab-ca.crt") ca_key=$(base64 -w0 <"$PKI/lab-ca.key")
tsig_b64=$(printf '%s' "$tsig_secret" | base64 -w0)

# ---- the layer and its controllers (and, existing-layer, the apps) -----------------
# shellcheck source=wildrun-layer.sh
. "$cluster_here/lab/$LAB_SHAPE.sh"

# What clients of the lab need, as `export` lines (printed by up).
{
  echo "export CLOUD_DOMAIN=$LAB_DOMAIN"
  echo "export CLUSTER_LOAD_BALANCER_IP=$(lb_ip)"
  echo "export TLS_CA_FILE=$PKI/lab-ca.crt"
  echo "export WILDRUN_LAB_DNS=$LAB_DNS"
  echo "export WILDRUN_LAB_CA=$PKI/lab-ca.crt"
  echo "export WILDRUN_LAB_HTTPS_PORT=$LAB_HTTPS_PORT"
  echo "export WILDRUN_LAB_NETNS=$LAB_NETNS"
  echo "export WILDRUN_LAB_SHAPE=$LAB_SHAPE"
  echo "export WILDRUN_LAB_INTERNAL_DOMAIN=$LAB_INTERNAL_DOMAIN"
  echo "export WILDRUN_CONFIG=$STATE/wildrun.yaml"
  if ((LAB_NETWORK)); then
    # wildrun and kubectl on the LAN client (the doctor asking from there).
    lab_kubeconfig_at "$LAB_NODE_LAN_IP" "$STATE/kubeconfig-lan"
    echo "export WILDRUN_LAB_LAN_KUBECONFIG=$STATE/kubeconfig-lan"
    echo "export WILDRUN_LAB_LAN_NETNS=$LAB_LAN_NETNS"
    echo "export WILDRUN_LAB_INTERNET_NETNS=$LAB_INTERNET_NETNS"
    echo "export WILDRUN_LAB_PUBLIC_IP=$LAB_PUBLIC_IP"
  fi
} >"$STATE/lab-env"
log "lab's components ready in $((SECONDS - t_lab))s ($LAB_SHAPE): https://*.$LAB_DOMAIN at $(lb_ip):$LAB_HTTPS_PORT, DNS $LAB_DNS, network namespace $LAB_NETNS"
