# The visibility lab's layer as wildrun sets it up (LAB_SHAPE=wildrun-layer, the
# default of tests/cluster/up --lab), sourced by lab/start.sh, which defines
# the functions and variables used here: what a cluster has before wildrun,
# then `wildrun scripts/cluster.rhai` writing the layer, then the controllers
# acting on what it wrote.
# shellcheck shell=bash disable=SC2154

# A Deployment for a controller that runs as a process here: kwok "runs" its
# pod; image and args say what runs. MIRROR_PORTS ("name:port ...") declares
# the container's ports, as a chart does.
mirror_deployment() { # NAMESPACE NAME APP IMAGE ARG...
  local ns=$1 name=$2 app=$3 image=$4; shift 4
  printf -- '---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: %s\n  labels: {app.kubernetes.io/name: %s, app.kubernetes.io/instance: %s}\n' "$name" "$ns" "$app" "$name"
  printf 'spec:\n  replicas: 1\n  selector: {matchLabels: {app.kubernetes.io/instance: %s}}\n  template:\n    metadata:\n      labels: {app.kubernetes.io/name: %s, app.kubernetes.io/instance: %s}\n' "$name" "$app" "$name"
  printf '    spec:\n      nodeName: %s\n      containers:\n      - name: %s\n        image: %s\n        args:\n' "$LAB_NODE" "$app" "$image"
  local a
  for a in "$@"; do printf '        - %s\n' "$(printf '%s' "$a" | sed 's/"/\\"/g; s/^/"/; s/$/"/')"; done
  if [[ -n ${MIRROR_PORTS:-} ]]; then
    printf '        ports:\n'
    for a in $MIRROR_PORTS; do printf '        - {name: %s, containerPort: %s, protocol: TCP}\n' "${a%%:*}" "${a#*:}"; done
  fi
}

# ---- wildrun ---------------------------------------------------------------------------
# Built in the background (nothing to do when it is current) while the lab
# and the CRDs come up: up runs outside cargo test. In the machine's network
# namespace: this one has no route out, and a first build downloads crates.
repo=$(cd "$cluster_here/../.." && pwd)
wildrun_bin=${WILDRUN_BIN:-}
wildrun_build=
if [[ -z $wildrun_bin ]]; then
  build_ns=()
  if command -v nsenter >/dev/null && [[ -e /proc/1/ns/net ]]; then build_ns=(nsenter --net=/proc/1/ns/net --); fi
  (cd "$repo" && "${build_ns[@]}" cargo build --quiet --bin wildrun) >"$LOGS/wildrun-build.log" 2>&1 &
  wildrun_build=$!
  wildrun_bin=${CARGO_TARGET_DIR:-$repo/target}/debug/wildrun
fi

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
  ports: [{name: web, port: 80, targetPort: web, protocol: TCP}, {name: websecure, port: 443, targetPort: websecure, protocol: TCP}]
YAML

# Traefik, a pod: its ports on every address of the pods' namespace, reached
# through the Service (kube-proxy) as on a real cluster. Its entry points on
# the ports of Traefik's Helm chart (web 8000, websecure 8443), declared as
# the chart's container ports, which the Service's named targetPorts send
# to: a Gateway listener names the entry point's port, 8443, which
# scripts/cluster.rhai reads from this Deployment (made before it runs, as
# on a user's cluster).
traefik_args=(--entryPoints.web.address=:8000 --entryPoints.websecure.address=:8443
  --entryPoints.websecure.http.tls=true
  --providers.kubernetesingress=true --providers.kubernetescrd=true
  --providers.kubernetesingress.ingressendpoint.publishedservice=traefik/traefik
  --providers.kubernetesgateway=true
  --providers.kubernetesgateway.statusaddress.service.name=traefik
  --providers.kubernetesgateway.statusaddress.service.namespace=traefik
  --log.level=INFO --accesslog=true)
MIRROR_PORTS="web:8000 websecure:8443" \
  mirror_deployment traefik traefik traefik "docker.io/traefik:$TRAEFIK_VERSION" "${traefik_args[@]}" | lab_apply

# ---- the visibility layer: wildrun scripts/cluster.rhai -----------------------------
# MetalLB's pool, the ca ClusterIssuer, both wildcard Certificates, ExternalDNS
# (rfc2136 to Knot) and Traefik's address, from this configuration; the
# controllers below act on what it wrote.
cat >"$STATE/wildrun.yaml" <<CONF
# The lab's configuration (tests/cluster/lab/wildrun-layer.sh): what
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
ingress:
  # The Gateway API's part of the layer beside the Ingresses (GatewayClass,
  # the two Gateways, ExternalDNS's gateway-httproute source): services of
  # either routing API answer here; they keep the default ingress.api.
  gateways: on
externalDns:
  image: registry.k8s.io/external-dns/external-dns:$EXTERNAL_DNS_VERSION
  # The internal zone has an ExternalDNS of its own (below).
  extraArgs: [--min-event-sync-interval=1s, "--metrics-address=127.0.0.1:7979", "--exclude-domains=$LAB_INTERNAL_DOMAIN"]
CONF
if [[ -n $wildrun_build ]]; then
  wait "$wildrun_build" || die "cargo build of wildrun failed; log: $LOGS/wildrun-build.log"
fi
[[ -x $wildrun_bin ]] || die "no wildrun binary at $wildrun_bin"
# The layer writes objects of the CRDs' kinds (up installs them meanwhile).
plane_crds_ready
(cd "$repo" && KUBECONFIG=$KC KUBECACHEDIR=$STATE/kube-cache WILDRUN_CONFIG=$STATE/wildrun.yaml \
  "$wildrun_bin" scripts/cluster.rhai) >"$LOGS/cluster-rhai.log" 2>&1 \
  || { tail -n 20 "$LOGS/cluster-rhai.log" >&2; die "wildrun scripts/cluster.rhai failed; log: $LOGS/cluster-rhai.log"; }

# ---- the controllers -------------------------------------------------------------------
# Their Deployments (kwok runs the pods) in one apply, then every process at
# once, then the waits: none needs another to start.
metallb_args=(-namespace metallb-system -webhook-mode=disabled -disable-cert-rotation -port=0)
# MetalLB's speaker, layer 2: answers ARP for MetalLB's address on the LAN
# from the node (with externalTrafficPolicy Local, only once Traefik's pod is
# on it). Its pod is kwok's; the process runs on the node.
speaker_args=(-namespace metallb-system -node-name "$LAB_NODE" -port=0 -health-probe-port=17473)
certmanager_args=(--cluster-resource-namespace=cert-manager --leader-elect=false)
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
mapfile -t edns_public < <(deployment_args external-dns external-dns)
((${#edns_public[@]} > 5)) || die "Deployment external-dns/external-dns (scripts/cluster.rhai) has no args; log: $LOGS/cluster-rhai.log"
mapfile -t edns_internal < <(externaldns_args "$LAB_INTERNAL_DOMAIN" wildrun-lab-internal 7980 \
  --annotation-prefix=external-dns.alpha.kubernetes.io/ --source=gateway-httproute)
{
  mirror_deployment metallb-system controller metallb "quay.io/metallb/controller:$METALLB_VERSION" "${metallb_args[@]}"
  mirror_deployment metallb-system speaker metallb-speaker "quay.io/metallb/speaker:$METALLB_VERSION" "${speaker_args[@]}"
  mirror_deployment cert-manager cert-manager cert-manager "quay.io/jetstack/cert-manager-controller:$CERT_MANAGER_VERSION" \
    "${certmanager_args[@]}"
  mirror_deployment external-dns external-dns-internal external-dns \
    "registry.k8s.io/external-dns/external-dns:$EXTERNAL_DNS_VERSION" "${edns_internal[@]}"
} | lab_apply

start_cert_manager "${certmanager_args[@]}"
start_traefik "${traefik_args[@]}"
start_external_dns external-dns external-dns "${edns_public[@]}"
start_external_dns external-dns-internal external-dns "${edns_internal[@]}"
start_metallb metallb-system app.kubernetes.io/instance=controller "${metallb_args[@]}"
# The speaker once the address is assigned: started before, it once did not
# announce it within 30 s.
wait_metallb
lab_wait "MetalLB's speaker pod (kwok)" 30 first_pod metallb-system app.kubernetes.io/instance=speaker
lab_start metallb-speaker "$LAB_BIN/metallb-speaker" -kubeconfig "$KC" \
  -pod-name "$(first_pod metallb-system app.kubernetes.io/instance=speaker)" "${speaker_args[@]}"

wait_cert_manager
wait_traefik
lab_wait "the controllers' Deployments Available" 30 deployments_available metallb-system cert-manager traefik external-dns
# The LAN learns MetalLB's address from the speaker (ARP), no route needed.
lan_reaches_lb() { ip netns exec "$LAB_LAN_NETNS" curl -sk --max-time 1 -o /dev/null "https://$LAB_LB_IP/"; }
lab_wait "the LAN reaching $LAB_LB_IP (MetalLB's speaker answering ARP)" 30 lan_reaches_lb
