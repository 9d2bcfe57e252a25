//! scripts/cluster.rhai, the visibility layer: what it renders for each DNS
//! provider and issuer, what the API server says about it (real CRDs,
//! strict validation, `--dry-run=server`: nothing persists), bad
//! configuration refused before any write, and `--delete` refused while
//! services use the layer. The lab (tests/lab.rs) runs it for real.

mod common;

use common::cluster::unique_name;
use common::command::{text, Wildrun};
use common::{TestCluster, TestNamespace};
use serde_json::{json, Value};
use std::process::Output;

const DOMAIN: &str = "cloud.example.test";
const LB_IP: &str = "192.168.8.240";
const POOL: &str = "192.168.8.240-192.168.8.250";
/// A token that must never appear in any output.
const TOKEN: &str = "cf-token-never-printed-4711";

fn wildrun(kubeconfig: Option<&std::path::Path>, args: &[&str]) -> Output {
    Wildrun::new()
        .args(args)
        .envs(&[
            ("CLOUD_DOMAIN", DOMAIN),
            ("CLUSTER_LOAD_BALANCER_IP", LB_IP),
            ("CLUSTER_ADDRESS_POOL", POOL),
            ("TLS_ACME_EMAIL", "ops@example.test"),
        ])
        .kubeconfig(kubeconfig.unwrap_or(std::path::Path::new("/nonexistent/kubeconfig")))
        .output()
}

/// `scripts/cluster.rhai --dry-run -o json` with `sets`: the objects.
fn render(sets: &[&str]) -> Vec<Value> {
    let mut args = vec!["scripts/cluster.rhai", "--dry-run", "-o", "json"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = wildrun(None, &args);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value: Value = serde_json::from_str(&stdout)
        .or_else(|_| {
            stdout
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str)
                .collect::<Result<Vec<Value>, _>>()
                .map(Value::Array)
        })
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    match value {
        Value::Array(items) => items,
        Value::Object(ref m) if m.contains_key("items") => {
            m["items"].as_array().cloned().unwrap_or_default()
        }
        other => vec![other],
    }
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:#?}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_cloudflare_layer_renders_current_forms_and_names_its_secret() {
    let objects = render(&[]);
    let pool = find(&objects, "IPAddressPool", "wildrun");
    assert_eq!(pool["apiVersion"], "metallb.io/v1beta1");
    assert_eq!(pool["metadata"]["namespace"], "metallb-system");
    assert_eq!(pool["spec"]["addresses"], json!([POOL]));
    let l2 = find(&objects, "L2Advertisement", "wildrun");
    assert_eq!(l2["spec"]["ipAddressPools"], json!(["wildrun"]));

    for (name, server) in [
        (
            "letsencrypt-prod",
            "https://acme-v02.api.letsencrypt.org/directory",
        ),
        (
            "letsencrypt-staging",
            "https://acme-staging-v02.api.letsencrypt.org/directory",
        ),
    ] {
        let acme = &find(&objects, "ClusterIssuer", name)["spec"]["acme"];
        assert_eq!(acme["server"], server);
        assert_eq!(acme["email"], "ops@example.test");
        assert_eq!(
            acme["solvers"][0]["dns01"]["cloudflare"]["apiTokenSecretRef"],
            json!({"name": "cloudflare-api-token", "key": "api-token"})
        );
    }
    assert!(!objects
        .iter()
        .any(|o| o["kind"] == "ClusterIssuer" && o["metadata"]["name"] == "ca"));

    let public = find(&objects, "Certificate", "wildcard-wild-cloud");
    assert_eq!(public["metadata"]["namespace"], "cert-manager");
    assert_eq!(
        public["spec"]["dnsNames"],
        json!([format!("*.{DOMAIN}"), DOMAIN])
    );
    assert_eq!(
        public["spec"]["issuerRef"],
        json!({"name": "letsencrypt-prod", "kind": "ClusterIssuer"})
    );
    let internal = find(&objects, "Certificate", "wildcard-internal-wild-cloud");
    assert_eq!(
        internal["spec"]["dnsNames"],
        json!([format!("*.internal.{DOMAIN}"), format!("internal.{DOMAIN}")])
    );
    assert_eq!(
        internal["spec"]["secretName"],
        "wildcard-internal-wild-cloud-tls"
    );

    let dep = find(&objects, "Deployment", "external-dns");
    let container = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        strings(&container["args"]),
        [
            "--source=ingress",
            "--source=service",
            "--provider=cloudflare",
            &format!("--domain-filter={DOMAIN}"),
            "--registry=txt",
            "--txt-owner-id=wildrun",
            // The default image (v0.22.0) refuses to start without it.
            "--policy=sync",
            "--events",
            "--annotation-prefix=external-dns.kubernetes.io/",
        ]
    );
    assert_eq!(
        container["env"],
        json!([{"name": "CF_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "cloudflare-api-token", "key": "api-token"}}}])
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["serviceAccountName"],
        "external-dns"
    );
    // The token reaches ExternalDNS's namespace as a copy, never in the plan.
    let copy = find(&objects, "Secret", "cloudflare-api-token");
    assert_eq!(copy["metadata"]["namespace"], "external-dns");
    assert_eq!(
        copy["metadata"]["annotations"]["wildrun.dev/copied-from"],
        "cert-manager/cloudflare-api-token"
    );
    assert!(copy.get("data").is_none() && copy.get("stringData").is_none());

    // ExternalDNS reads, never writes, the cluster.
    let role = find(&objects, "ClusterRole", "external-dns");
    for rule in role["rules"].as_array().unwrap() {
        for verb in strings(&rule["verbs"]) {
            assert!(["get", "list", "watch"].contains(&verb.as_str()), "{rule}");
        }
    }
    let binding = find(&objects, "ClusterRoleBinding", "external-dns");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "external-dns", "namespace": "external-dns"}])
    );

    // Traefik's Service: only the annotation and the policy that keeps
    // client addresses, none of wildrun's labels.
    let traefik = find(&objects, "Service", "traefik");
    assert_eq!(
        traefik["metadata"],
        json!({"name": "traefik", "namespace": "traefik", "annotations": {"metallb.io/loadBalancerIPs": LB_IP}})
    );
    assert_eq!(traefik["spec"], json!({"externalTrafficPolicy": "Local"}));

    // None of the forms current releases dropped.
    let all = serde_json::to_string(&objects).unwrap();
    for old in [
        "traefik.containo.us",
        "ipWhiteList",
        "loadBalancerIP\"",
        "metallb.universe.tf",
    ] {
        assert!(!all.contains(old), "{old} in {all}");
    }
}

#[test]
fn with_proxy_protocol_in_front_traefiks_policy_is_left_alone() {
    let objects = render(&["ingress.clientAddress=proxy-protocol"]);
    let traefik = find(&objects, "Service", "traefik");
    assert!(traefik.get("spec").is_none(), "{traefik:#}");
    let out = wildrun(
        None,
        &[
            "scripts/cluster.rhai",
            "--dry-run",
            "--set",
            "ingress.clientAddress=proxy",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("ingress.clientAddress")
            && text(&out).contains("did you mean proxy-protocol?"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_rfc2136_layer_renders_its_server_zones_and_tsig_secret_reference() {
    let objects = render(&[
        "dns.provider=rfc2136",
        "dns.rfc2136Host=192.0.2.53",
        "dns.rfc2136Port=5353",
        "dns.rfc2136TsigKey=wildrun-key",
        "dns.rfc2136TsigAlgorithm=hmac-sha512",
        "dns.zones=cloud.example.test,internal.cloud.example.test",
        "dns.ownerId=home",
        "dns.annotationPrefix=external-dns.alpha.kubernetes.io/",
        "dns.policy=upsert-only",
        "externalDns.extraArgs=--interval=30s",
        "tls.issuer=ca",
        "tls.caSecret=home-ca",
    ]);
    let container =
        &find(&objects, "Deployment", "external-dns")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        strings(&container["args"]),
        [
            "--source=ingress",
            "--source=service",
            "--provider=rfc2136",
            "--rfc2136-host=192.0.2.53",
            "--rfc2136-port=5353",
            "--rfc2136-zone=cloud.example.test",
            "--rfc2136-zone=internal.cloud.example.test",
            "--rfc2136-tsig-keyname=wildrun-key",
            "--rfc2136-tsig-secret-alg=hmac-sha512",
            "--rfc2136-axfr",
            "--domain-filter=cloud.example.test",
            "--domain-filter=internal.cloud.example.test",
            "--registry=txt",
            "--txt-owner-id=home",
            "--policy=upsert-only",
            "--events",
            "--annotation-prefix=external-dns.alpha.kubernetes.io/",
            "--interval=30s",
        ]
    );
    assert_eq!(
        container["env"],
        json!([{"name": "EXTERNAL_DNS_RFC2136_TSIG_SECRET", "valueFrom": {"secretKeyRef": {"name": "rfc2136-tsig", "key": "tsig-secret"}}}])
    );
    // No Cloudflare anywhere: no token copy, the ca issuer alone.
    assert!(!objects.iter().any(|o| o["kind"] == "Secret"));
    let issuers: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "ClusterIssuer")
        .collect();
    assert_eq!(issuers.len(), 1, "{issuers:?}");
    assert_eq!(issuers[0]["metadata"]["name"], "ca");
    assert_eq!(issuers[0]["spec"], json!({"ca": {"secretName": "home-ca"}}));
    assert_eq!(
        find(&objects, "Certificate", "wildcard-wild-cloud")["spec"]["issuerRef"]["name"],
        "ca"
    );
}

#[test]
fn bad_layer_configuration_is_refused_before_anything_is_written() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["cluster.addressPool=lan"],
            "configuration key cluster.addressPool: \"lan\" is not an address range",
        ),
        (
            &["cluster.addressPool=192.168.8.250-192.168.8.240"],
            "comes after",
        ),
        (
            &["cluster.addressPool=192.168.9.0/28"],
            "cluster.loadBalancerIp 192.168.8.240 is not in cluster.addressPool",
        ),
        (
            &["tls.issuer=ca"],
            "configuration key tls.caSecret is not set",
        ),
        (&["tls.issuer=my-issuer"], "tls.issuer is my-issuer"),
        (
            &["dns.provider=rfc2136"],
            "configuration key dns.rfc2136Host is not set",
        ),
        (
            &["externalDns.extraArgs=--policy=upsert-only"],
            "writes --policy from configuration key dns.policy (ExternalDNS refuses the flag twice); set dns.policy instead",
        ),
    ];
    for (sets, want) in cases {
        let mut args = vec!["scripts/cluster.rhai", "--dry-run"];
        for s in *sets {
            args.extend(["--set", s]);
        }
        let out = wildrun(None, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{sets:?}: {}", text(&out));
        assert!(
            stderr.contains(want),
            "{sets:?}: wanted {want:?} in {stderr}"
        );
        assert!(out.stdout.is_empty(), "{sets:?} printed objects");
    }
}

/// A plane-side world: test namespaces for MetalLB, the TLS sources,
/// ExternalDNS and Traefik, so the layer's objects land only there.
struct World {
    cluster: TestCluster,
    metallb: TestNamespace,
    tls: TestNamespace,
    edns: TestNamespace,
    traefik: TestNamespace,
}

impl World {
    fn new(test: &str) -> World {
        World::on(TestCluster::shared(), test)
    }

    /// A world on `cluster` (a plane of the test's own, for a real run of
    /// the layer: its cluster-scoped objects would meet other tests').
    fn on(cluster: &TestCluster, test: &str) -> World {
        let world = World {
            cluster: cluster.clone(),
            metallb: TestNamespace::new(cluster, &format!("{test}-metallb")),
            tls: TestNamespace::new(cluster, &format!("{test}-tls")),
            edns: TestNamespace::new(cluster, &format!("{test}-edns")),
            traefik: TestNamespace::new(cluster, &format!("{test}-traefik")),
        };
        world.kubectl_apply(&json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "traefik", "namespace": world.traefik.name(),
                         "labels": {"app.kubernetes.io/name": "traefik"}},
            "spec": {"type": "LoadBalancer", "selector": {"app": "traefik"},
                     "ports": [{"name": "websecure", "port": 443}]},
        }));
        world
    }

    fn kubectl_apply(&self, manifest: &Value) {
        let out = self
            .cluster
            .kubectl_stdin(&["apply", "-f", "-"], &manifest.to_string());
        assert!(out.status.success(), "kubectl apply: {}", text(&out));
    }

    fn secret(&self, namespace: &str, name: &str, key: &str, value: &str) {
        self.kubectl_apply(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {key: value},
        }));
    }

    fn sets(&self) -> Vec<String> {
        vec![
            format!("metallb.namespace={}", self.metallb.name()),
            format!("tls.sourceNamespace={}", self.tls.name()),
            format!("externalDns.namespace={}", self.edns.name()),
            format!("ingress.traefikService={}/traefik", self.traefik.name()),
        ]
    }

    fn wildrun(&self, more: &[&str]) -> Output {
        let sets = self.sets();
        let mut args = vec!["scripts/cluster.rhai"];
        for s in &sets {
            args.extend(["--set", s.as_str()]);
        }
        args.extend(more);
        wildrun(Some(self.cluster.kubeconfig_path()), &args)
    }

    /// `kubectl get` of the layer's IPAddressPool (which must not exist).
    fn pool(&self) -> Output {
        self.get(&[
            "-n",
            self.metallb.name(),
            "ipaddresspools.metallb.io",
            "wildrun",
        ])
    }

    /// The layer's Gateway `name` as `render` makes it with the Gateway
    /// API on (no cluster read: on `ingress.httpsPort`), without the
    /// layer's labels: as another tool would have made it.
    fn foreign_gateway(&self, name: &str) -> Value {
        let sets = self.sets();
        let mut render_sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        render_sets.push("ingress.api=gateway");
        let mut gateway = find(&render(&render_sets), "Gateway", name).clone();
        gateway["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("labels");
        gateway
    }

    fn get(&self, args: &[&str]) -> Output {
        let mut all = vec!["get"];
        all.extend(args);
        self.cluster.kubectl(&all)
    }
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_api_server_accepts_both_providers_and_nothing_persists() {
    let w = World::new("layersrv");
    w.secret(w.tls.name(), "cloudflare-api-token", "api-token", TOKEN);
    w.secret(w.edns.name(), "rfc2136-tsig", "tsig-secret", "c2VjcmV0");

    for extra in [
        &[][..],
        &[
            "--set",
            "dns.provider=rfc2136",
            "--set",
            "dns.rfc2136Host=192.0.2.53",
            "--set",
            "dns.rfc2136TsigKey=wildrun-key",
        ][..],
    ] {
        let mut args = extra.to_vec();
        args.push("--dry-run=server");
        let out = w.wildrun(&args);
        let all = text(&out);
        assert!(out.status.success(), "{extra:?}: {all}");
        assert!(!all.contains(TOKEN), "the token was printed: {all}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for object in [
            format!("IPAddressPool {}/wildrun", w.metallb.name()),
            format!("L2Advertisement {}/wildrun", w.metallb.name()),
            "ClusterIssuer letsencrypt-prod".to_string(),
            format!("Certificate {}/wildcard-wild-cloud", w.tls.name()),
            format!("Deployment {}/external-dns", w.edns.name()),
            "ClusterRole external-dns".to_string(),
            format!("Service {}/traefik", w.traefik.name()),
        ] {
            assert!(
                stderr.contains(&object) && !stderr.contains(&format!("skipped    {object}")),
                "{extra:?}: {object} not validated: {stderr}"
            );
        }
        assert!(
            stderr.contains("was not made by wildrun: only its annotation metallb.io/loadBalancerIPs=192.168.8.240"),
            "{stderr}"
        );
    }
    // A dry run: nothing was written.
    let out = w.pool();
    assert!(!out.status.success(), "the pool persists: {}", text(&out));
    let out = w.get(&["-n", w.traefik.name(), "service", "traefik", "-o", "json"]);
    let svc: Value = serde_json::from_slice(&out.stdout).expect("Traefik's Service");
    assert!(svc["metadata"]["annotations"]["metallb.io/loadBalancerIPs"].is_null());
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn missing_secrets_are_an_error_before_any_write() {
    let w = World::new("layersecret");
    let out = w.wildrun(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Secret {}/cloudflare-api-token does not exist: it holds the Cloudflare API token",
            w.tls.name()
        )) && stderr.contains("--from-literal=api-token="),
        "{stderr}"
    );
    let out = w.pool();
    assert!(
        !out.status.success(),
        "written before the error: {}",
        text(&out)
    );

    // A Secret without the key is named as such.
    w.secret(w.tls.name(), "cloudflare-api-token", "token", TOKEN);
    let out = w.wildrun(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("has no key api-token"), "{all}");
    assert!(!all.contains(TOKEN), "{all}");

    // rfc2136: the TSIG Secret in ExternalDNS's namespace.
    let out = w.wildrun(&[
        "--set",
        "dns.provider=rfc2136",
        "--set",
        "dns.rfc2136Host=192.0.2.53",
        "--set",
        "dns.rfc2136TsigKey=k",
        "--set",
        "tls.issuer=ca",
        "--set",
        "tls.caSecret=nope",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains(&format!(
            "Secret {}/rfc2136-tsig does not exist",
            w.edns.name()
        )),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn with_the_gateway_api_delete_refuses_while_an_httproute_uses_the_layer() {
    let w = World::new("layerdelgw");
    let user = unique_name("layerroute");
    let instance = format!("public.{user}");
    w.kubectl_apply(&json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": user, "namespace": w.traefik.name(),
                     "labels": {"app.kubernetes.io/managed-by": "wildrun", "wildrun.dev/instance": instance}},
        "spec": {"hostnames": [format!("{user}.{DOMAIN}")]},
    }));
    let out = w.wildrun(&["--delete", "--set", "ingress.api=gateway"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("the visibility layer is in use by") && stderr.contains(&instance),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn delete_refuses_while_a_service_uses_the_layer_unless_forced() {
    let w = World::new("layerdel");
    let user = unique_name("layeruser");
    let instance = format!("public.{user}");
    w.kubectl_apply(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": user, "namespace": w.traefik.name(),
                     "labels": {"app.kubernetes.io/managed-by": "wildrun", "wildrun.dev/instance": instance}},
        "spec": {"rules": [{"host": format!("{user}.{DOMAIN}")}]},
    }));
    let out = w.wildrun(&["--delete"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("the visibility layer is in use by") && stderr.contains(&instance),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(!stderr.contains("deleted "), "{stderr}");

    let out = w.wildrun(&["--delete", "--force", "--dry-run=server"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr.contains("--force: deleting the visibility layer while")
            && stderr.contains(&instance),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn an_internal_certificate_under_another_domain_is_kept_unless_adopted() {
    let w = World::new("layerdomain");
    w.secret(w.tls.name(), "cloudflare-api-token", "api-token", TOKEN);
    // The internal wildcard Certificate as wild-cloud's cert-manager
    // installer leaves it by default: under local.<domain>.
    let live = format!("local.{DOMAIN}");
    let certificate = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "wildcard-internal-wild-cloud", "namespace": w.tls.name()},
        "spec": {"secretName": "wildcard-internal-wild-cloud-tls",
                 "dnsNames": [format!("*.{live}"), live.clone()],
                 "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}},
    });
    w.kubectl_apply(&certificate);
    let dns_names = || {
        let out = w.get(&[
            "-n",
            w.tls.name(),
            "certificates.cert-manager.io",
            "wildcard-internal-wild-cloud",
            "-o",
            "json",
        ]);
        let cert: Value = serde_json::from_slice(&out.stdout).expect("the Certificate");
        cert["spec"]["dnsNames"].clone()
    };

    // Not configured: the layer uses the domain it has, and says that the
    // service recipes need it configured too.
    let out = w.wildrun(&["--dry-run=server"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "cloud.internalDomain is not configured: the layer uses {live}"
        )) && text(&out).contains(&format!("set it (cloud.internalDomain: {live})")),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains("configured Certificate"),
        "{}",
        text(&out)
    );

    // Configured to another domain: refused before any write, naming both
    // domains and both ways out.
    let other = format!("cloud.internalDomain=internal.{DOMAIN}");
    let out = w.wildrun(&["--set", &other]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains(&format!(
            "Certificate {}/wildcard-internal-wild-cloud covers the internal domain {live}",
            w.tls.name()
        )) && stderr.contains(&format!(
            "the configuration's internal domain (cloud.internalDomain) is internal.{DOMAIN}"
        )) && stderr.contains(&format!("--set cloud.internalDomain={live}"))
            && stderr.contains("--adopt"),
        "{stderr}"
    );
    assert_eq!(dns_names(), certificate["spec"]["dnsNames"]);
    let out = w.pool();
    assert!(
        !out.status.success(),
        "written before the refusal: {}",
        text(&out)
    );

    // Configured to the domain it has: no refusal.
    let keep = format!("cloud.internalDomain={live}");
    let out = w.wildrun(&["--set", &keep, "--dry-run=server"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("covers the internal domain"),
        "{}",
        text(&out)
    );

    // --adopt moves it, taking its dnsNames over from kubectl, and says so.
    let out = w.wildrun(&["--set", &other, "--adopt", "--dry-run=server"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "--adopt: Certificate {}/wildcard-internal-wild-cloud covers the internal domain {live}",
            w.tls.name()
        )) && stderr.contains(&format!(
            "rewritten to the configuration's internal domain internal.{DOMAIN}"
        )) && stderr.contains(&format!(
            "configured Certificate {}/wildcard-internal-wild-cloud",
            w.tls.name()
        )),
        "{stderr}"
    );
}

/// The layer's Gateways follow the rules of every part of the layer:
/// another tool's Gateway of that name is used when it matches the
/// configuration, refused before any write when it differs (naming both
/// ways out), and adopted in place with --adopt; wild-cloud's own HTTP
/// Gateway (`traefik-gateway`) is left as it is.
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn with_the_gateway_api_another_tools_gateway_is_used_refused_or_adopted() {
    let w = World::new("layergw");
    w.secret(w.tls.name(), "cloudflare-api-token", "api-token", TOKEN);
    let ns = w.traefik.name();
    let gateway = ["--set", "ingress.api=gateway"];
    w.kubectl_apply(&json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "traefik-gateway", "namespace": ns},
        "spec": {"gatewayClassName": "traefik",
                 "listeners": [{"name": "web", "port": 8000, "protocol": "HTTP"}]},
    }));
    // The public Gateway as the layer renders it, made by kubectl.
    let public = w.foreign_gateway("public");
    w.kubectl_apply(&public);

    let mut args = gateway.to_vec();
    args.push("--dry-run=server");
    let out = w.wildrun(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "using existing Gateway {ns}/public (not made by wildrun)"
        )),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains(&format!("Gateway {ns}/public\n"))
            && !text(&out).contains("traefik-gateway"),
        "{}",
        text(&out)
    );

    // Another port: refused before anything is written.
    let out = w.cluster.kubectl(&[
        "-n",
        ns,
        "patch",
        "gateway",
        "public",
        "--type=json",
        "-p",
        r#"[{"op": "replace", "path": "/spec/listeners/0/port", "value": 8443}]"#,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = w.wildrun(&gateway);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains(&format!("Gateway {ns}/public (made by kubectl"))
            && stderr.contains("ingress.httpsPort is 443, it has 8443")
            && stderr.contains("ingress.httpsPort: 8443")
            && stderr.contains("--adopt"),
        "{stderr}"
    );
    let out = w.pool();
    assert!(
        !out.status.success(),
        "written before the refusal: {}",
        text(&out)
    );

    // --adopt: managed in place, the configuration's port written.
    let mut args = gateway.to_vec();
    args.extend(["--adopt", "--dry-run=server"]);
    let out = w.wildrun(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("configured Gateway {ns}/public")),
        "{}",
        text(&out)
    );
}

/// On a Traefik installed by its Helm chart (Service port 443 → the
/// container port named `websecure`, 8443), the Gateways listen on 8443:
/// Traefik gives a listener the entry point whose port it names. Another
/// tool's Gateway on 443 is refused naming that port and where it comes
/// from; one on 8443 is used. On a plane of its own: the Traefik
/// Deployment would be found by every other test's discovery.
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn with_the_gateway_api_listeners_take_the_port_of_traefiks_entry_point() {
    let plane = common::cluster::PrivatePlane::start();
    let w = World::on(&plane.cluster, "layergwport");
    w.secret(w.tls.name(), "cloudflare-api-token", "api-token", TOKEN);
    let ns = w.traefik.name().to_string();
    // As Traefik's chart makes them: named container ports, named targetPorts.
    w.kubectl_apply(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "traefik", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": "traefik"}},
                 "template": {"metadata": {"labels": {"app": "traefik"}},
                              "spec": {"containers": [{"name": "traefik", "image": "docker.io/traefik:v3.7.13",
                                  "ports": [{"name": "web", "containerPort": 8000},
                                            {"name": "websecure", "containerPort": 8443}]}]}}},
    }));
    w.kubectl_apply(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "traefik", "namespace": ns},
        "spec": {"type": "LoadBalancer", "selector": {"app": "traefik"},
                 "ports": [{"name": "web", "port": 80, "targetPort": "web"},
                           {"name": "websecure", "port": 443, "targetPort": "websecure"}]},
    }));
    // Rendered without a cluster: Traefik's pods unknown, the Service's port.
    let mut public = w.foreign_gateway("public");
    assert_eq!(public["spec"]["listeners"][0]["port"], 443);
    w.kubectl_apply(&public);
    let gateway = ["--set", "ingress.api=gateway", "--dry-run=server"];
    let out = w.wildrun(&gateway);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains(&format!("Gateway {ns}/public (made by kubectl"))
            && stderr.contains("the port of Traefik's entry point behind ingress.httpsPort 443 (its Service's targetPort) is 8443, it has 443"),
        "{stderr}"
    );
    // On the entry point's port: used as it is.
    public["spec"]["listeners"][0]["port"] = json!(8443);
    w.kubectl_apply(&public);
    let out = w.wildrun(&gateway);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "using existing Gateway {ns}/public (not made by wildrun)"
        )),
        "{}",
        text(&out)
    );
}

/// A Gateway adopted with --adopt is managed in place (the configuration's
/// port written, marked adopted), and `--delete` releases it: it stays,
/// without wildrun's marks. A real run, on a plane of its own.
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn with_the_gateway_api_an_adopted_gateway_is_released_by_delete() {
    let plane = common::cluster::PrivatePlane::start();
    let w = World::on(&plane.cluster, "layergwadopt");
    w.secret(w.tls.name(), "cloudflare-api-token", "api-token", TOKEN);
    let ns = w.traefik.name().to_string();
    let mut public = w.foreign_gateway("public");
    public["spec"]["listeners"][0]["port"] = json!(8443);
    w.kubectl_apply(&public);
    let gateway_json = || -> Value {
        let out = w.get(&[
            "-n",
            &ns,
            "gateways.gateway.networking.k8s.io",
            "public",
            "-o",
            "json",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("the Gateway")
    };

    let out = w.wildrun(&["--set", "ingress.api=gateway", "--adopt"]);
    assert!(out.status.success(), "{}", text(&out));
    let adopted = gateway_json();
    assert_eq!(adopted["spec"]["listeners"][0]["port"], 443, "{adopted:#}");
    assert!(
        adopted["metadata"]["annotations"]["wildrun.dev/adopted"].is_string(),
        "{adopted:#}"
    );

    let out = w.wildrun(&["--set", "ingress.api=gateway", "--delete"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("released   Gateway {ns}/public")),
        "{}",
        text(&out)
    );
    let released = gateway_json();
    assert!(
        released["metadata"]["annotations"]
            .get("wildrun.dev/adopted")
            .is_none()
            && released["metadata"]["labels"]
                .get("app.kubernetes.io/managed-by")
                .is_none(),
        "{released:#}"
    );
    // The Gateway the layer made itself is deleted.
    let out = w.get(&["-n", &ns, "gateways.gateway.networking.k8s.io", "internal"]);
    assert!(!out.status.success(), "{}", text(&out));
}
