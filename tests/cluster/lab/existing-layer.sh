# The visibility lab's layer as a cluster's own set-up scripts make it
# (LAB_SHAPE=existing-layer: tests/cluster/up --lab --existing-layer),
# sourced by lab/start.sh, which defines the functions and variables used
# here. It is shaped after wild-cloud (civil-society-dev/wild-cloud,
# payneio/wild-cloud: setup/cluster-services/*/ and apps/, read for facts):
# plain manifests applied with `kubectl apply -f` (client-side apply, field
# manager kubectl-client-side-apply), under that project's names and labels,
# none of them wildrun's. Then two apps deployed the way its app scripts do:
#
#   gitea   Ingress gitea-public (class by the kubernetes.io/ingress.class
#           annotation) → Service gitea-http, by port name; the wildcard
#           Secrets copied in with `kubectl get | sed | kubectl apply`
#   whoami  a Traefik IngressRoute → Service whoami
#
# The layer's manifests are applied first, each controller's Deployment
# with them; each process is then started with the args read back from its
# Deployment, so the cluster shows what runs. (Few kubectl runs: on a loaded
# machine each costs about a second.)
# shellcheck shell=bash disable=SC2154

EXISTING_CLUSTER_NAME=wild-cloud-lab
# wild-cloud's default owner id: external-dns-<cluster.name>.
EXISTING_OWNER_ID=external-dns-$EXISTING_CLUSTER_NAME
EXISTING_ISSUER=wild-cloud-ca
EXISTING_APPS=(gitea whoami)

# As the set-up scripts apply: `kubectl apply -f -`, client-side.
existing_apply() { kctl existing-layer apply -f -; }

# What a user who names only the domain and the address writes for wildrun;
# the rest is the cluster's (TLS_CA_FILE trusts the lab CA).
cat >"$STATE/wildrun.yaml" <<CONF
# The existing-layer lab (tests/cluster/lab/existing-layer.sh): a layer
# wildrun did not make. Only what a user must say; the rest is the cluster's.
cloud:
  domain: $LAB_DOMAIN
cluster:
  loadBalancerIp: $LAB_LB_IP
tls:
  caFile: $PKI/lab-ca.crt
CONF

# The layer holds objects of the CRDs' kinds (up installs them meanwhile).
plane_crds_ready

# ---- MetalLB (setup/cluster-services/metallb) -----------------------------------------
# The native manifests' controller Deployment (app: metallb, component:
# controller), the pool and advertisement under wild-cloud's names.
metallb_manifests() {
  cat <<YAML
---
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller
  namespace: metallb-system
  labels: {app: metallb, component: controller}
spec:
  selector:
    matchLabels: {app: metallb, component: controller}
  template:
    metadata:
      labels: {app: metallb, component: controller}
    spec:
      containers:
      - name: controller
        image: quay.io/metallb/controller:$METALLB_VERSION
        args: [--namespace=metallb-system, --webhook-mode=disabled, --disable-cert-rotation, --port=0, --log-level=info]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: first-pool
  namespace: metallb-system
spec:
  addresses:
  - $LAB_POOL
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: l2-advertisement
  namespace: metallb-system
spec:
  ipAddressPools:
  - first-pool
YAML
}

# ---- Traefik (setup/cluster-services/traefik: its chart, rendered) ---------------------
# The Service has no pinned address: MetalLB gives it the pool's first,
# LAB_LB_IP (start_metallb waits for exactly that one), on which the
# process listens.
traefik_labels='{app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-traefik, helm.sh/chart: traefik-36.1.0, app.kubernetes.io/managed-by: Helm}'
traefik_manifests() {
  cat <<YAML
---
apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: traefik
  labels: $traefik_labels
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: v1
kind: Service
metadata:
  name: traefik
  namespace: traefik
  labels: $traefik_labels
spec:
  type: LoadBalancer
  # A cluster already closed to the internet: Traefik sees client addresses,
  # so scripts/cluster.rhai has nothing to write here. The leak itself (the
  # policy left at Cluster) is reproduced in the --network lab.
  externalTrafficPolicy: Local
  selector: {app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-traefik}
  ports:
  - {name: web, port: 80, targetPort: web, protocol: TCP}
  - {name: websecure, port: 443, targetPort: websecure, protocol: TCP}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: traefik
  namespace: traefik
  labels: $traefik_labels
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-traefik}
  template:
    metadata:
      labels: $traefik_labels
    spec:
      containers:
      - name: traefik
        image: docker.io/traefik:$TRAEFIK_VERSION
        ports:
        - {name: web, containerPort: 8000, protocol: TCP}
        - {name: websecure, containerPort: 8443, protocol: TCP}
        args:
        - --entryPoints.websecure.address=$LAB_LB_IP:$LAB_HTTPS_PORT
        - --entryPoints.websecure.http.tls=true
        - --providers.kubernetescrd
        - --providers.kubernetescrd.allowEmptyServices=true
        - --providers.kubernetesingress
        - --providers.kubernetesingress.allowEmptyServices=true
        - --providers.kubernetesingress.ingressendpoint.publishedservice=traefik/traefik
        - --log.level=INFO
        - --accesslog=true
YAML
}

# ---- cert-manager (setup/cluster-services/cert-manager) --------------------------------
# The release manifest's controller Deployment and labels; a CA issuer of
# the cluster's own in place of Let's Encrypt (no ACME in the lab), and the
# two wildcard Certificates exactly as wild-cloud writes them. The CA
# Secret as `kubectl create secret tls --dry-run=client -o yaml` writes it.
cert_manager_manifests() {
  cat <<YAML
---
apiVersion: v1
kind: Namespace
metadata: {name: cert-manager}
---
apiVersion: v1
kind: Secret
metadata:
  name: $EXISTING_ISSUER-key-pair
  namespace: cert-manager
type: kubernetes.io/tls
data:
  tls.crt: $ca_crt
  tls.key: $ca_key
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cert-manager
  namespace: cert-manager
  labels: {app: cert-manager, app.kubernetes.io/name: cert-manager, app.kubernetes.io/instance: cert-manager, app.kubernetes.io/component: controller}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: cert-manager, app.kubernetes.io/instance: cert-manager, app.kubernetes.io/component: controller}
  template:
    metadata:
      labels: {app: cert-manager, app.kubernetes.io/name: cert-manager, app.kubernetes.io/instance: cert-manager, app.kubernetes.io/component: controller}
    spec:
      containers:
      - name: cert-manager-controller
        image: quay.io/jetstack/cert-manager-controller:$CERT_MANAGER_VERSION
        args: [--cluster-resource-namespace=cert-manager, --leader-elect=false]
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: $EXISTING_ISSUER
spec:
  ca:
    secretName: $EXISTING_ISSUER-key-pair
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: wildcard-wild-cloud
  namespace: cert-manager
spec:
  secretName: wildcard-wild-cloud-tls
  dnsNames: ["*.$LAB_DOMAIN", "$LAB_DOMAIN"]
  issuerRef: {name: $EXISTING_ISSUER, kind: ClusterIssuer}
  duration: 2160h
  renewBefore: 360h
  privateKey: {algorithm: RSA, size: 2048}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: wildcard-internal-wild-cloud
  namespace: cert-manager
spec:
  secretName: wildcard-internal-wild-cloud-tls
  dnsNames: ["*.$LAB_INTERNAL_DOMAIN", "$LAB_INTERNAL_DOMAIN"]
  issuerRef: {name: $EXISTING_ISSUER, kind: ClusterIssuer}
  duration: 2160h
  renewBefore: 360h
  privateKey: {algorithm: RSA, size: 2048}
YAML
}

# ---- ExternalDNS (setup/cluster-services/externaldns) -----------------------------------
# Namespace externaldns, labels app: external-dns, its own owner id, the
# older release (alpha annotation prefix, no --annotation-prefix), rfc2136
# to Knot in place of Cloudflare. Lab additions: the traefik-proxy source
# (so the IngressRoute app gets its record) and --interval=5s (records
# within seconds, not a minute; not --events: with the traefik-proxy source
# and --traefik-disable-legacy, v0.14.2 dereferences a nil informer when
# --events adds its handlers). The TSIG Secret as `kubectl create secret
# generic --dry-run=client -o yaml` writes it.
external_dns_manifests() {
  cat <<YAML
---
apiVersion: v1
kind: Namespace
metadata: {name: externaldns}
---
apiVersion: v1
kind: Secret
metadata:
  name: rfc2136-tsig
  namespace: externaldns
data:
  tsig-secret: $tsig_b64
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: external-dns
  namespace: externaldns
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: external-dns
rules:
- apiGroups: [""]
  resources: [services, endpoints, pods]
  verbs: [get, watch, list]
- apiGroups: [extensions, networking.k8s.io]
  resources: [ingresses]
  verbs: [get, watch, list]
- apiGroups: [""]
  resources: [nodes]
  verbs: [list]
- apiGroups: [traefik.io]
  resources: [ingressroutes, ingressroutetcps, ingressrouteudps]
  verbs: [get, watch, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: external-dns-viewer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: external-dns
subjects:
- kind: ServiceAccount
  name: external-dns
  namespace: externaldns
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: external-dns
  namespace: externaldns
spec:
  selector:
    matchLabels: {app: external-dns}
  strategy: {type: Recreate}
  template:
    metadata:
      labels: {app: external-dns}
    spec:
      serviceAccountName: external-dns
      containers:
      - name: external-dns
        image: registry.k8s.io/external-dns/external-dns:$EXTERNAL_DNS_EXISTING_VERSION
        args:
        - --source=service
        - --source=ingress
        - --source=traefik-proxy
        - --traefik-disable-legacy
        - --txt-owner-id=$EXISTING_OWNER_ID
        - --provider=rfc2136
        - --rfc2136-host=127.0.0.1
        - --rfc2136-port=${LAB_DNS##*:}
        - --rfc2136-zone=$LAB_DOMAIN
        - --rfc2136-tsig-keyname=$LAB_TSIG_KEY
        - --rfc2136-tsig-secret-alg=hmac-sha256
        - --rfc2136-tsig-axfr
        - --domain-filter=$LAB_DOMAIN
        - --publish-internal-services
        - --interval=5s
        - --metrics-address=127.0.0.1:7979
        - --log-level=debug
        env:
        - name: EXTERNAL_DNS_RFC2136_TSIG_SECRET
          valueFrom:
            secretKeyRef: {name: rfc2136-tsig, key: tsig-secret}
YAML
}

# ---- the apps (apps/*, as bin/wild-app-deploy deploys them) ------------------------------
# copy_secret NAME NAMESPACE: bin/wild-cluster-secret-copy's way: the
# source's YAML with its namespace replaced, applied (same data, type,
# labels and annotations; a one-off copy nobody keeps in step).
copy_secret() {
  local logf=$LOGS/existing-layer.log
  kubectl -n "$2" delete secret "$1" --ignore-not-found >>"$logf" 2>&1 &&
    kubectl -n cert-manager get secret "$1" -o yaml |
    sed "s/namespace: cert-manager/namespace: $2/" |
    kubectl apply -n "$2" -f - >>"$logf" 2>&1 ||
    { tail -n 20 "$logf" >&2; die "copying Secret cert-manager/$1 into namespace $2 failed; log: $logf"; }
}
# app_labels APP [MORE]: the labels an app's kustomization adds to every
# object, selectors included (plus MORE, e.g. the Deployment's own).
app_labels() { printf '{app: %s, managedBy: kustomize, partOf: wild-cloud%s}' "$1" "${2:+, $2}"; }
# gitea (apps/gitea): a Deployment with port http 3000, Service gitea-http,
# Ingress gitea-public naming the Service's port by name and its class by
# the old annotation; the TTL through the alpha annotation prefix.
gitea_manifests() {
  cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gitea
  namespace: gitea
  labels: $(app_labels gitea)
spec:
  replicas: 1
  selector:
    matchLabels: $(app_labels gitea "component: web")
  template:
    metadata:
      labels: $(app_labels gitea "component: web")
    spec:
      containers:
      - name: gitea
        image: gitea/gitea:1.22.0
        ports:
        - {name: ssh, containerPort: 2222}
        - {name: http, containerPort: 3000}
---
apiVersion: v1
kind: Service
metadata:
  name: gitea-http
  namespace: gitea
  labels: $(app_labels gitea)
spec:
  type: ClusterIP
  selector: $(app_labels gitea "component: web")
  ports:
  - {name: http, port: 3000, targetPort: 3000}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: gitea-public
  namespace: gitea
  labels: $(app_labels gitea)
  annotations:
    kubernetes.io/ingress.class: traefik
    external-dns.alpha.kubernetes.io/ttl: "60"
    external-dns.alpha.kubernetes.io/cloudflare-proxied: "false"
spec:
  rules:
  - host: gitea.$LAB_DOMAIN
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: gitea-http
            port: {name: http}
  tls:
  - secretName: wildcard-wild-cloud-tls
    hosts: [gitea.$LAB_DOMAIN]
YAML
}

# whoami: routed by an IngressRoute; ExternalDNS's traefik-proxy source
# takes the address from the target annotation.
whoami_manifests() {
  cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: whoami
  namespace: whoami
  labels: $(app_labels whoami)
spec:
  replicas: 1
  selector:
    matchLabels: $(app_labels whoami)
  template:
    metadata:
      labels: $(app_labels whoami)
    spec:
      containers:
      - name: whoami
        image: traefik/whoami:v1.10.3
        ports:
        - {name: http, containerPort: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: whoami
  namespace: whoami
  labels: $(app_labels whoami)
spec:
  selector: $(app_labels whoami)
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: whoami-https
  namespace: whoami
  labels: $(app_labels whoami)
  annotations:
    external-dns.alpha.kubernetes.io/target: "$LAB_LB_IP"
spec:
  entryPoints: [websecure]
  routes:
  - match: Host(\`whoami.$LAB_DOMAIN\`)
    kind: Rule
    services:
    - {name: whoami, port: 80}
  tls:
    secretName: wildcard-wild-cloud-tls
YAML
}

# ---- applied and started ---------------------------------------------------------------
{ metallb_manifests; traefik_manifests; cert_manager_manifests; external_dns_manifests; } | existing_apply
mapfile -t metallb_args < <(deployment_args metallb-system controller)
start_metallb metallb-system app=metallb,component=controller "${metallb_args[@]}"
mapfile -t certmanager_args < <(deployment_args cert-manager cert-manager)
start_cert_manager "${certmanager_args[@]}"
# Traefik listens on the address MetalLB assigns.
wait_metallb
mapfile -t traefik_args < <(deployment_args traefik traefik)
start_traefik "${traefik_args[@]}"
wait_traefik
wait_cert_manager

# The apps' namespaces, both wildcard Secrets copied into each (at once),
# then the apps.
for app in "${EXISTING_APPS[@]}"; do
  printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: %s\n' "$app" "$(app_labels "$app")"
done | existing_apply
copies=()
for app in "${EXISTING_APPS[@]}"; do
  for secret in wildcard-internal-wild-cloud-tls wildcard-wild-cloud-tls; do
    copy_secret "$secret" "$app" &
    copies+=($!)
  done
done
for pid in "${copies[@]}"; do wait "$pid" || die "copying the wildcard Secrets failed (see above)"; done
{ gitea_manifests; whoami_manifests; } | existing_apply

# ExternalDNS once Traefik has published its address in the Ingress status:
# its first sync then writes both records (the next comes 5 s later).
ingress_published() { [[ -n $(kubectl -n gitea get ingress gitea-public -o jsonpath='{.status.loadBalancer.ingress[0].ip}') ]]; }
lab_wait "Traefik publishing its address in Ingress gitea/gitea-public" 30 ingress_published
mapfile -t edns_args < <(deployment_args externaldns external-dns)
start_external_dns external-dns external-dns-existing "${edns_args[@]}"

lab_wait "the Deployments Available" 30 deployments_available metallb-system traefik cert-manager externaldns "${EXISTING_APPS[@]}"
# Each app answers 200 by name: ExternalDNS wrote its record, Traefik routes it.
app_answers() {
  [[ $(curl -sS --max-time 2 --cacert "$PKI/lab-ca.crt" -o /dev/null -w '%{http_code}' "https://$1/") == 200 ]]
}
for app in "${EXISTING_APPS[@]}"; do
  lab_wait "https://$app.$LAB_DOMAIN/ answering 200 (record by ExternalDNS $EXTERNAL_DNS_EXISTING_VERSION)" 60 \
    app_answers "$app.$LAB_DOMAIN"
done
