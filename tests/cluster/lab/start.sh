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
# shellcheck shell=bash

LAB_DOMAIN=cloud.example.test
LAB_INTERNAL_DOMAIN=internal.$LAB_DOMAIN
LAB_LB_IP=127.0.0.240
LAB_POOL=127.0.0.240-127.0.0.243
LAB_HTTPS_PORT=443
LAB_DNS=127.0.0.1:53
LAB_BACKEND_PORTS=(80 8080)
LAB_TSIG_KEY=wildrun-lab
LAB_NODE=lab-node
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
lab_start backend "$python" "$cluster_here/lab/backend.py" "${LAB_BACKEND_PORTS[@]}"
backend_up() {
  curl -fsS --max-time 1 "http://10.244.255.254:${LAB_BACKEND_PORTS[0]}/" | grep -q '^host='
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
  --cidr "$LAB_POD_CIDR" --node-ip 127.0.0.1 -c "$stages"
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

# ---- DNS: Knot --------------------------------------------------------------------
tsig_secret=$(openssl rand -base64 32)
printf '%s' "$tsig_secret" >"$STATE/knot/tsig.secret"
zone_file() { # ZONE [DELEGATED-CHILD]
  printf '$ORIGIN %s.\n$TTL 60\n@ SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 60\n@ NS ns1.%s.\nns1 A 127.0.0.1\n@ A %s\n' \
    "$1" "$1" "$1" "$1" "$LAB_LB_IP"
  if [[ -n ${2:-} ]]; then
    local child=${2%."$1"}
    printf '%s NS ns1.%s.\nns1.%s A 127.0.0.1\n' "$child" "$2" "$child"
  fi
}
zone_file "$LAB_DOMAIN" "$LAB_INTERNAL_DOMAIN" >"$STATE/knot/$LAB_DOMAIN.zone"
zone_file "$LAB_INTERNAL_DOMAIN" >"$STATE/knot/$LAB_INTERNAL_DOMAIN.zone"
cat >"$STATE/knot/knot.conf" <<CONF
server:
    rundir: "$STATE/knot"
    listen: [ 127.0.0.1@53 ]
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

# ---- the lab CA -----------------------------------------------------------------
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
  -subj "/CN=wildrun lab CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$PKI/lab-ca.key" -out "$PKI/lab-ca.crt"
chmod 644 "$PKI/lab-ca.crt"

# ---- the layer's objects ----------------------------------------------------------
# A Deployment for a controller that runs as a process here: kwok "runs" its
# pod; image and args say what runs.
mirror_deployment() { # NAMESPACE NAME APP IMAGE ARG...
  local ns=$1 name=$2 app=$3 image=$4; shift 4
  printf -- '---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: %s\n  labels: {app.kubernetes.io/name: %s, app.kubernetes.io/instance: %s}\n' "$name" "$ns" "$app" "$name"
  printf 'spec:\n  replicas: 1\n  selector: {matchLabels: {app.kubernetes.io/instance: %s}}\n  template:\n    metadata:\n      labels: {app.kubernetes.io/name: %s, app.kubernetes.io/instance: %s}\n' "$name" "$app" "$name"
  printf '    spec:\n      nodeName: %s\n      containers:\n      - name: %s\n        image: %s\n        args:\n' "$LAB_NODE" "$app" "$image"
  local a
  for a in "$@"; do printf '        - %s\n' "$(printf '%s' "$a" | sed 's/"/\\"/g; s/^/"/; s/$/"/')"; done
}

ca_crt=$(base64 -w0 <"$PKI/lab-ca.crt") ca_key=$(base64 -w0 <"$PKI/lab-ca.key")
tsig_b64=$(printf '%s' "$tsig_secret" | base64 -w0)
# What the layer finds already there, as on a user's cluster: the
# controllers' namespaces, the CA and TSIG Secrets the configuration names,
# Traefik's IngressClass and its LoadBalancer Service (made by "its chart",
# here; wildrun pins its address).
lab_apply <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: cert-manager}
---
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: v1
kind: Namespace
metadata: {name: external-dns}
---
apiVersion: v1
kind: Secret
metadata: {name: lab-ca, namespace: cert-manager}
type: kubernetes.io/tls
data: {tls.crt: $ca_crt, tls.key: $ca_key}
---
apiVersion: v1
kind: Secret
metadata: {name: lab-tsig, namespace: external-dns}
type: Opaque
data: {tsig-secret: $tsig_b64}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: v1
kind: Service
metadata:
  name: traefik
  namespace: traefik
  labels: {app.kubernetes.io/name: traefik}
spec:
  type: LoadBalancer
  selector: {app.kubernetes.io/name: traefik}
  ports: [{name: websecure, port: 443, targetPort: 443, protocol: TCP}]
YAML

# ---- the visibility layer: wildrun scripts/cluster.rhai -----------------------------
# MetalLB's pool, the ca ClusterIssuer, both wildcard Certificates, ExternalDNS
# (rfc2136 to Knot) and Traefik's address, from this configuration; the
# controllers below act on what it wrote.
cat >"$STATE/wildrun.yaml" <<CONF
# The lab's configuration (tests/cluster/lab/start.sh): what
# wildrun scripts/cluster.rhai applied the lab's layer from.
cloud:
  domain: $LAB_DOMAIN
cluster:
  loadBalancerIp: $LAB_LB_IP
  addressPool: [$LAB_POOL]
metallb:
  pool: lab
tls:
  issuer: ca
  caSecret: lab-ca
  caFile: $PKI/lab-ca.crt
dns:
  provider: rfc2136
  zones: [$LAB_DOMAIN]
  ownerId: wildrun-lab
  rfc2136Host: 127.0.0.1
  rfc2136Port: ${LAB_DNS##*:}
  rfc2136TsigKey: $LAB_TSIG_KEY
  rfc2136TsigSecret: lab-tsig
externalDns:
  image: registry.k8s.io/external-dns/external-dns:$EXTERNAL_DNS_VERSION
  # The internal zone has an ExternalDNS of its own (below).
  extraArgs: [--policy=sync, --min-event-sync-interval=1s, "--metrics-address=127.0.0.1:7979", "--exclude-domains=$LAB_INTERNAL_DOMAIN"]
CONF
repo=$(cd "$cluster_here/../.." && pwd)
wildrun_bin=${WILDRUN_BIN:-}
if [[ -z $wildrun_bin ]]; then
  # up runs outside cargo test: build wildrun (nothing to do when it is
  # current), in the machine's network namespace (this one has no route out,
  # and a first build downloads crates).
  build_ns=()
  if command -v nsenter >/dev/null && [[ -e /proc/1/ns/net ]]; then build_ns=(nsenter --net=/proc/1/ns/net --); fi
  (cd "$repo" && "${build_ns[@]}" cargo build --quiet --bin wildrun) >"$LOGS/wildrun-build.log" 2>&1 \
    || die "cargo build of wildrun failed; log: $LOGS/wildrun-build.log"
  wildrun_bin=${CARGO_TARGET_DIR:-$repo/target}/debug/wildrun
fi
[[ -x $wildrun_bin ]] || die "no wildrun binary at $wildrun_bin"
(cd "$repo" && KUBECONFIG=$KC KUBECACHEDIR=$STATE/kube-cache WILDRUN_CONFIG=$STATE/wildrun.yaml \
  "$wildrun_bin" scripts/cluster.rhai) >"$LOGS/cluster-rhai.log" 2>&1 \
  || { tail -n 20 "$LOGS/cluster-rhai.log" >&2; die "wildrun scripts/cluster.rhai failed; log: $LOGS/cluster-rhai.log"; }

# ---- MetalLB ------------------------------------------------------------------------
metallb_args=(-namespace metallb-system -webhook-mode=disabled -disable-cert-rotation -port=0)
mirror_deployment metallb-system controller metallb "quay.io/metallb/controller:$METALLB_VERSION" \
  "${metallb_args[@]}" | lab_apply
# The controller insists on a Pod of its own name in its namespace.
metallb_pod() { kubectl -n metallb-system get pods -l app.kubernetes.io/instance=controller -o jsonpath='{.items[0].metadata.name}'; }
lab_wait "MetalLB's controller pod (kwok)" 30 metallb_pod
lab_start metallb-controller "$LAB_BIN/metallb-controller" -kubeconfig "$KC" \
  -pod-name "$(metallb_pod)" "${metallb_args[@]}"
lb_ip() { kubectl -n traefik get service traefik -o jsonpath='{.status.loadBalancer.ingress[0].ip}'; }
lb_assigned() { [[ $(lb_ip) == "$LAB_LB_IP" ]]; }
lab_wait "MetalLB assigning $LAB_LB_IP to Service traefik/traefik" 30 lb_assigned

# ---- cert-manager -------------------------------------------------------------------
certmanager_args=(--cluster-resource-namespace=cert-manager --leader-elect=false)
mirror_deployment cert-manager cert-manager cert-manager "quay.io/jetstack/cert-manager-controller:$CERT_MANAGER_VERSION" \
  "${certmanager_args[@]}" | lab_apply
lab_start cert-manager-controller "$LAB_BIN/cert-manager-controller" --kubeconfig "$KC" "${certmanager_args[@]}"
cert_ready() { [[ $(kubectl -n cert-manager get certificate "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }
lab_wait "cert-manager issuing wildcard-wild-cloud" 60 cert_ready wildcard-wild-cloud
lab_wait "cert-manager issuing wildcard-internal-wild-cloud" 60 cert_ready wildcard-internal-wild-cloud

# ---- Traefik ------------------------------------------------------------------------
# It serves websecure on the address MetalLB assigned (in a real cluster,
# MetalLB announces it and kube-proxy forwards it to Traefik's pod).
traefik_args=(--entryPoints.websecure.address="$(lb_ip):$LAB_HTTPS_PORT"
  --entryPoints.websecure.http.tls=true
  --providers.kubernetesingress=true --providers.kubernetescrd=true
  --providers.kubernetesingress.ingressendpoint.publishedservice=traefik/traefik
  --log.level=INFO --accesslog=true)
mirror_deployment traefik traefik traefik "docker.io/traefik:$TRAEFIK_VERSION" "${traefik_args[@]}" | lab_apply
(
  # Traefik takes the cluster from KUBECONFIG only when it does not think it
  # runs in a pod.
  unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
  export KUBECONFIG=$KC
  lab_start traefik "$LAB_BIN/traefik" "${traefik_args[@]}"
)
traefik_up() { curl -sk --max-time 1 -o /dev/null "https://$(lb_ip):$LAB_HTTPS_PORT/"; }
lab_wait "Traefik serving https://$LAB_LB_IP:$LAB_HTTPS_PORT" 30 traefik_up

# ---- ExternalDNS ---------------------------------------------------------------------
externaldns_args() { # ZONE OWNER METRICS-PORT [EXTRA...]
  local zone=$1 owner=$2 metrics=$3; shift 3
  printf '%s\n' --source=ingress --provider=rfc2136 \
    --rfc2136-host=127.0.0.1 --rfc2136-port=53 "--rfc2136-zone=$zone" \
    "--rfc2136-tsig-keyname=$LAB_TSIG_KEY" --rfc2136-tsig-secret-alg=hmac-sha256 --rfc2136-axfr \
    "--domain-filter=$zone" --registry=txt "--txt-owner-id=$owner" --policy=sync \
    --events --min-event-sync-interval=1s "--metrics-address=127.0.0.1:$metrics" "$@"
}
# The public zone's ExternalDNS is the one scripts/cluster.rhai wrote: the
# process runs with its Deployment's args.
mapfile -t edns_public < <(kubectl -n external-dns get deployment external-dns \
  -o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}')
((${#edns_public[@]} > 5)) || die "Deployment external-dns/external-dns (scripts/cluster.rhai) has no args; log: $LOGS/cluster-rhai.log"
mapfile -t edns_internal < <(externaldns_args "$LAB_INTERNAL_DOMAIN" wildrun-lab-internal 7980 \
  --annotation-prefix=external-dns.alpha.kubernetes.io/)
mirror_deployment external-dns external-dns-internal external-dns "registry.k8s.io/external-dns/external-dns:$EXTERNAL_DNS_VERSION" "${edns_internal[@]}" | lab_apply
# The TSIG secret goes on the command line here (lab-ctl restarts a process
# with its command line only); the Deployments read it from Secret
# external-dns/lab-tsig through EXTERNAL_DNS_RFC2136_TSIG_SECRET.
lab_start external-dns "$LAB_BIN/external-dns" --kubeconfig "$KC" "${edns_public[@]}" \
  "--rfc2136-tsig-secret=$tsig_secret"
lab_start external-dns-internal "$LAB_BIN/external-dns" --kubeconfig "$KC" "${edns_internal[@]}" \
  "--rfc2136-tsig-secret=$tsig_secret"

# ---- every controller's Deployment available (kwok) -------------------------------
deployments_available() {
  local ns
  for ns in metallb-system cert-manager traefik external-dns; do
    kubectl -n "$ns" wait --for=condition=Available --timeout=1s deployment --all >/dev/null 2>&1 || return 1
  done
}
lab_wait "the controllers' Deployments Available" 30 deployments_available

# What clients of the lab need, as `export` lines (printed by up).
{
  echo "export CLOUD_DOMAIN=$LAB_DOMAIN"
  echo "export CLUSTER_LOAD_BALANCER_IP=$(lb_ip)"
  echo "export TLS_CA_FILE=$PKI/lab-ca.crt"
  echo "export WILDRUN_LAB_DNS=$LAB_DNS"
  echo "export WILDRUN_LAB_CA=$PKI/lab-ca.crt"
  echo "export WILDRUN_LAB_HTTPS_PORT=$LAB_HTTPS_PORT"
  echo "export WILDRUN_LAB_NETNS=$LAB_NETNS"
  echo "export WILDRUN_CONFIG=$STATE/wildrun.yaml"
} >"$STATE/lab-env"
log "lab's components ready in $((SECONDS - t_lab))s: https://*.$LAB_DOMAIN at $(lb_ip):$LAB_HTTPS_PORT, DNS $LAB_DNS, network namespace $LAB_NETNS"
