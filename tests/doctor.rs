//! scripts/doctor.rhai against the real control plane and a real DNS server
//! (Knot, tests/common/dns.rs): a healthy public and a healthy internal
//! service pass every check; each broken link fails its own check with the
//! right hint.
//!
//! Each test deploys its service with the bundled recipe, then stands in for
//! what the cluster's controllers would do: the TLS secret is issued by a
//! local CA (wildrun's own `cert` API), the Certificate's status says Ready,
//! an EndpointSlice holds a ready endpoint (there is no kubelet), Traefik's
//! LoadBalancer Service has its MetalLB address in the status, an
//! ExternalDNS Deployment object says which release runs, and the DNS zone
//! holds the record ExternalDNS would write. These cover each check's logic,
//! link by link, on the plain plane. No Traefik runs here, so the doctor
//! runs with `--skip https`: the request itself, and every link made by the
//! real controllers, is tested on the visibility lab (tests/lab.rs).

mod common;

use common::cluster::unique_name;
use common::command::{text, Wildrun};
use common::dns::{DnsServer, ZONE};
use common::{TestCluster, TestNamespace};
use serde_json::{json, Value};
use std::process::Output;
use wildrun::cert::{Options, Pair};

/// Traefik's address, as MetalLB would have assigned it.
const LB_IP: &str = "192.168.8.240";

/// One test's world: a deployed, healthy service.
struct World {
    cluster: &'static TestCluster,
    tls: TestNamespace,
    dns: DnsServer,
    name: String,
    internal: bool,
    ca: Pair,
}

impl Drop for World {
    fn drop(&mut self) {
        self.cluster.delete_namespace_later(&self.name);
    }
}

fn options(days: i64) -> Options {
    Options {
        days,
        common_name: None,
    }
}

fn check_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl World {
    fn new(test: &str, internal: bool) -> World {
        let cluster = TestCluster::shared();
        let tls = TestNamespace::new(cluster, &format!("{test}-tls"));
        let dns = DnsServer::start();
        let ca = wildrun::cert::ca("wildrun test CA", &options(365)).unwrap();
        let world = World {
            cluster,
            tls,
            dns,
            name: unique_name(test),
            internal,
            ca,
        };
        // The visibility layer's wildcard Certificate (scripts/cluster.rhai
        // makes it) and what cert-manager would issue for it, in the TLS
        // source namespace.
        let secret = world.secret_name();
        let wildcard = [format!("*.{}", world.domain()), world.domain()];
        world.apply(
            &json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": secret.trim_end_matches("-tls"), "namespace": world.tls.name()},
            "spec": {"secretName": secret, "dnsNames": wildcard,
                     "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}}),
        );
        let pair = world.issue(&[&wildcard[0], &wildcard[1]], 90);
        world.write_secret(world.tls.name(), &secret, &pair);
        let recipe = if internal {
            "scripts/internal.rhai"
        } else {
            "scripts/public.rhai"
        };
        check_ok(&world.wildrun(&[recipe, "--name", &world.name]), recipe);
        world.set_certificate_ready(true);
        world.set_endpoints(Some(true));
        // Traefik's LoadBalancer Service and MetalLB's pool.
        let traefik = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "traefik", "namespace": world.tls.name(),
                         "labels": {"app.kubernetes.io/name": "traefik"}},
            "spec": {"type": "LoadBalancer", "selector": {"app": "traefik"},
                     "externalTrafficPolicy": "Local",
                     "ports": [{"name": "websecure", "port": 443}]}});
        world.apply(&traefik);
        world.patch_status(
            "service",
            world.tls.name(),
            "traefik",
            &json!({"status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}}),
        );
        let pool = json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "lan", "namespace": world.tls.name()},
            "spec": {"addresses": ["192.168.8.240-192.168.8.250"]}});
        world.apply(&pool);
        // ExternalDNS v0.22.0, on its default prefix.
        world.external_dns(
            "external-dns",
            "registry.k8s.io/external-dns/external-dns:v0.22.0",
            &[],
        );
        // What ExternalDNS would write (and the domain's own address).
        if internal {
            world.dns.add(&world.host(), "A", LB_IP);
        } else {
            world.dns.add(&world.host(), "CNAME", ZONE);
            world.dns.add(ZONE, "A", LB_IP);
        }
        world
    }

    /// An ExternalDNS Deployment object (no pod runs: the plane has no kubelet).
    fn external_dns(&self, name: &str, image: &str, args: &[&str]) {
        let mut words = vec!["--source=ingress", "--provider=rfc2136"];
        words.extend_from_slice(args);
        self.apply(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.tls.name(),
                         "labels": {"app.kubernetes.io/name": "external-dns"}},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "external-dns", "image": image,
                                                           "args": words}]}}}}));
    }

    fn domain(&self) -> String {
        if self.internal {
            format!("internal.{ZONE}")
        } else {
            ZONE.to_string()
        }
    }

    fn host(&self) -> String {
        format!("{}.{}", self.name, self.domain())
    }

    fn secret_name(&self) -> String {
        if self.internal {
            "wildcard-internal-wild-cloud-tls".into()
        } else {
            "wildcard-wild-cloud-tls".into()
        }
    }

    fn issue(&self, names: &[&str], days: i64) -> Pair {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        wildrun::cert::issue(&self.ca, &names, &options(days)).unwrap()
    }

    fn apply(&self, object: &Value) {
        let out = self
            .cluster
            .kubectl_stdin(&["apply", "-f", "-"], &object.to_string());
        check_ok(&out, &format!("kubectl apply {object}"));
    }

    fn kubectl(&self, args: &[&str]) {
        check_ok(&self.cluster.kubectl(args), &format!("kubectl {args:?}"));
    }

    fn patch_status(&self, kind: &str, namespace: &str, name: &str, patch: &Value) {
        self.kubectl(&[
            "patch",
            kind,
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }

    fn write_secret(&self, namespace: &str, name: &str, pair: &Pair) {
        self.apply(
            &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {"tls.crt": pair.cert, "tls.key": pair.key}}),
        );
    }

    /// Replaces the certificate in the service's copy of the TLS secret.
    fn replace_served_certificate(&self, pair: &Pair) {
        self.write_secret(&self.name, &self.secret_name(), pair);
    }

    fn set_certificate_ready(&self, ready: bool) {
        let certificate = self.secret_name().trim_end_matches("-tls").to_string();
        let status = if ready { "True" } else { "False" };
        self.patch_status(
            "certificates.cert-manager.io",
            self.tls.name(),
            &certificate,
            &json!({"status": {"conditions": [{"type": "Ready", "status": status,
                "reason": if ready { "Ready" } else { "Issuing" },
                "message": if ready { "Certificate is up to date and has not expired" } else { "Issuing certificate as Secret does not exist" }}],
                "renewalTime": "2099-01-01T00:00:00Z"}}),
        );
    }

    /// The EndpointSlice the controller would keep: one endpoint, ready or
    /// not; `None`: no endpoints at all.
    fn set_endpoints(&self, ready: Option<bool>) {
        let endpoints = match ready {
            Some(r) => json!([{"addresses": ["10.42.0.7"], "conditions": {"ready": r}}]),
            None => json!([]),
        };
        self.apply(
            &json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{}-test", self.name), "namespace": self.name,
                         "labels": {"kubernetes.io/service-name": self.name}},
            "addressType": "IPv4",
            "ports": [{"name": "", "port": 80, "protocol": "TCP"}],
            "endpoints": endpoints}),
        );
    }

    fn wildrun(&self, args: &[&str]) -> Output {
        self.wildrun_with(args, &[])
    }

    fn wildrun_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let source = format!("tls.sourceNamespace={}", self.tls.name());
        Wildrun::new()
            .args(args)
            .args(["--set", &source])
            .kubeconfig(self.cluster.kubeconfig_path())
            .env("CLOUD_DOMAIN", ZONE)
            .env("CLUSTER_LOAD_BALANCER_IP", LB_IP)
            .envs(env)
            .output()
    }

    fn doctor_args(&self) -> Vec<String> {
        let traefik = format!("{}/traefik", self.tls.name());
        [
            "scripts/doctor.rhai",
            "--name",
            &self.name,
            "--dns-server",
            &self.dns.addr(),
            "--traefik-service",
            &traefik,
            // No Traefik runs on this plane: the request itself is tested on
            // the visibility lab (tests/lab.rs).
            "--skip",
            "https",
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// Runs the doctor with --json; returns its exit code and report.
    fn doctor(&self) -> (i32, Value) {
        let mut args = self.doctor_args();
        args.push("--json".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.wildrun(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "doctor printed no JSON ({e}): {}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }

    /// Runs the doctor in its human form; returns exit code and stdout.
    fn doctor_text(&self) -> (i32, String) {
        let args = self.doctor_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.wildrun(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

fn checks(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("?").to_string(),
                c["status"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn find<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// Asserts the doctor exits 1 and that exactly the checks `failing` fail,
/// the first with a hint containing `hint`.
fn assert_fails(world: &World, failing: &[&str], found: &str, hint: &str) -> Value {
    let (code, report) = world.doctor();
    let failed: Vec<String> = checks(&report)
        .into_iter()
        .filter(|(_, s)| s == "fail")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(failed, failing, "{report:#}");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["ok"], false);
    let check = find(&report, failing[0]);
    let text = check["found"].as_str().unwrap_or_default();
    assert!(text.contains(found), "found {text:?} lacks {found:?}");
    let fix = check["hint"].as_str().unwrap_or_default();
    assert!(fix.contains(hint), "hint {fix:?} lacks {hint:?}");
    report
}

const PUBLIC_CHECKS: &[&str] = &[
    "ingress",
    "ingress-class",
    "ingress-host",
    "externaldns",
    "externaldns-prefix",
    "dns",
    "service",
    "endpoints",
    "tls-secret",
    "cert-covers",
    "cert-valid",
    "cert-days",
    "certificate",
    "load-balancer",
];

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn healthy_public_service_passes_every_check() {
    let world = World::new("doctor-public", false);
    let (code, report) = world.doctor();
    let mut all: Vec<(String, String)> = PUBLIC_CHECKS
        .iter()
        .map(|n| (n.to_string(), "pass".to_string()))
        .collect();
    all.push(("https".into(), "skip".into()));
    assert_eq!(checks(&report), all, "{report:#}");
    assert_eq!(code, 0);
    assert_eq!(report["visibility"], "public");
    assert_eq!(report["host"], world.host());
    assert!(find(&report, "dns")["found"]
        .as_str()
        .unwrap()
        .contains(&format!("is a CNAME to {ZONE}")));
    // The human form: a ✓ per check and the totals.
    let (code, text) = world.doctor_text();
    assert_eq!(code, 0, "{text}");
    assert_eq!(text.matches('✓').count(), PUBLIC_CHECKS.len(), "{text}");
    assert!(text.contains("14 passed, 0 failed, 1 skipped"), "{text}");
    eprintln!("{text}");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn healthy_internal_service_passes_every_check() {
    let world = World::new("doctor-internal", true);
    let (code, report) = world.doctor();
    let not_passed: Vec<_> = checks(&report)
        .into_iter()
        .filter(|(_, s)| s != "pass")
        .collect();
    assert_eq!(
        not_passed,
        vec![("https".to_string(), "skip".to_string())],
        "{report:#}"
    );
    assert_eq!(code, 0);
    assert_eq!(report["visibility"], "internal");
    for name in ["middleware", "middleware-ref", "middleware-ranges"] {
        assert_eq!(find(&report, name)["status"], "pass");
    }
    assert!(find(&report, "load-balancer")["found"]
        .as_str()
        .unwrap()
        .contains("in IPAddressPool"));
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn dns_missing_is_nxdomain() {
    let world = World::new("doctor-nxdomain", false);
    world.dns.remove_name(&world.host());
    assert_fails(&world, &["dns"], "NXDOMAIN", "ExternalDNS");
    // The human form names the check, what it found and the fix.
    let (code, text) = world.doctor_text();
    assert_eq!(code, 1);
    assert!(text.contains("✗ dns"), "{text}");
    assert!(text.contains("fix: no record yet"), "{text}");
    assert!(text.contains("13 passed, 1 failed, 1 skipped"), "{text}");
    eprintln!("{text}");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn dns_pointing_at_the_wrong_target() {
    let world = World::new("doctor-wrong-target", false);
    world.dns.set(&world.host(), "CNAME", "old-lb.example.org");
    assert_fails(
        &world,
        &["dns"],
        "CNAME to old-lb.example.org",
        "must be a CNAME to",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn public_host_as_an_a_record() {
    let world = World::new("doctor-a-record", false);
    world.dns.remove_name(&world.host());
    world.dns.add(&world.host(), "A", LB_IP);
    assert_fails(
        &world,
        &["dns"],
        "is an A record (A 192.168.8.240)",
        "must be a CNAME",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn internal_host_pointing_elsewhere() {
    let world = World::new("doctor-internal-dns", true);
    world.dns.set(&world.host(), "A", "192.168.8.99");
    assert_fails(
        &world,
        &["dns"],
        "192.168.8.99",
        "must be an A record to 192.168.8.240",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn tls_secret_missing() {
    let world = World::new("doctor-no-secret", false);
    world.kubectl(&["delete", "secret", "-n", &world.name, &world.secret_name()]);
    let report = assert_fails(
        &world,
        &["tls-secret"],
        "no Secret",
        "running the recipe again",
    );
    assert_eq!(find(&report, "cert-covers")["status"], "skip");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn secret_without_tls_crt() {
    let world = World::new("doctor-no-crt", false);
    world.kubectl(&["delete", "secret", "-n", &world.name, &world.secret_name()]);
    world.apply(&json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": world.secret_name(), "namespace": world.name},
        "stringData": {"ca.crt": "x"}}));
    assert_fails(
        &world,
        &["tls-secret"],
        "has no tls.crt (only ca.crt)",
        "PEM certificate in tls.crt",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn certificate_not_covering_the_host() {
    let world = World::new("doctor-not-covered", false);
    world.replace_served_certificate(&world.issue(&["*.other.example.org"], 90));
    assert_fails(
        &world,
        &["cert-covers"],
        "names *.other.example.org",
        "must name",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn certificate_expired() {
    let world = World::new("doctor-expired", false);
    let domain = world.domain();
    world.replace_served_certificate(&world.issue(&[&format!("*.{domain}")], -1));
    assert_fails(&world, &["cert-valid", "cert-days"], "valid ", "expired");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn certificate_expiring_in_three_days() {
    let world = World::new("doctor-expiring", false);
    let domain = world.domain();
    world.replace_served_certificate(&world.issue(&[&format!("*.{domain}")], 3));
    let report = assert_fails(
        &world,
        &["cert-days"],
        "days left (more than 14 wanted)",
        "renewal is late",
    );
    assert!(
        find(&report, "cert-days")["found"]
            .as_str()
            .unwrap()
            .starts_with('2')
            || find(&report, "cert-days")["found"]
                .as_str()
                .unwrap()
                .starts_with('3')
    );
    // --days 1 accepts it.
    let mut args = world.doctor_args();
    args.extend(["--days".to_string(), "1".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(world.wildrun(&args).status.code(), Some(0));
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn certificate_not_ready() {
    let world = World::new("doctor-not-ready", false);
    world.set_certificate_ready(false);
    assert_fails(
        &world,
        &["certificate"],
        "not Ready (Issuing",
        "describe certificate",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn service_port_mismatch() {
    let world = World::new("doctor-port", false);
    world.kubectl(&[
        "patch",
        "service",
        &world.name,
        "-n",
        &world.name,
        "--type=json",
        "-p",
        r#"[{"op": "replace", "path": "/spec/ports/0/port", "value": 8080}]"#,
    ]);
    assert_fails(
        &world,
        &["service"],
        "ports 8080; the Ingress wants 80",
        "match a Service port",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn no_ready_endpoints() {
    let world = World::new("doctor-endpoints", false);
    world.set_endpoints(Some(false));
    assert_fails(
        &world,
        &["endpoints"],
        "0 of 1 endpoints ready",
        "no pod is ready",
    );
    world.set_endpoints(None);
    assert_fails(&world, &["endpoints"], "0 of 0", "no pods match");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn middleware_missing_for_an_internal_service() {
    let world = World::new("doctor-middleware", true);
    world.kubectl(&[
        "delete",
        "middlewares.traefik.io",
        "internal-only",
        "-n",
        &world.name,
    ]);
    let report = assert_fails(&world, &["middleware"], "no Middleware", "internal recipe");
    assert_eq!(find(&report, "middleware-ref")["status"], "pass");
    assert_eq!(find(&report, "middleware-ranges")["status"], "skip");
}

/// Traefik's Service back at the Kubernetes default policy, which hides
/// client addresses from Traefik.
fn leak(world: &World) {
    world.kubectl(&[
        "patch",
        "service",
        "traefik",
        "-n",
        world.tls.name(),
        "--type=merge",
        "-p",
        r#"{"spec": {"externalTrafficPolicy": "Cluster"}}"#,
    ]);
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn an_internal_service_behind_a_layer_hiding_client_addresses_fails() {
    let world = World::new("doctor-leak", true);
    assert_eq!(find(&world.doctor().1, "client-address")["status"], "pass");
    leak(&world);
    let report = assert_fails(
        &world,
        &["client-address"],
        "every client looks internal to the internal-only middleware",
        "externalTrafficPolicy: Local",
    );
    let hint = find(&report, "client-address")["hint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        hint.contains("ingress.clientAddress=proxy-protocol"),
        "{hint}"
    );
    // A proxy in front speaking PROXY protocol: Traefik must trust it.
    let (_, report) = {
        let mut args = world.doctor_args();
        args.push("--json".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = world.wildrun_with(&args, &[("INGRESS_CLIENT_ADDRESS", "proxy-protocol")]);
        let report: Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
        (out.status.code(), report)
    };
    let check = find(&report, "client-address");
    assert_eq!(check["status"], "fail", "{check:#}");
    assert!(
        check["found"]
            .as_str()
            .unwrap_or_default()
            .contains("websecure do not trust PROXY protocol"),
        "{check:#}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_internal_recipe_warns_when_the_layer_leaks_and_refuses_when_strict() {
    let world = World::new("doctor-leakrun", true);
    let traefik = format!("ingress.traefikService={}/traefik", world.tls.name());
    let deploy = |name: &str, env: &[(&str, &str)]| {
        world.wildrun_with(
            &["scripts/internal.rhai", "--name", name, "--set", &traefik],
            env,
        )
    };
    // Local: not a word about it.
    let out = deploy(&world.name, &[]);
    check_ok(&out, "internal.rhai");
    assert!(!text(&out).contains("not internal-only"), "{}", text(&out));
    leak(&world);
    let out = deploy(&world.name, &[]);
    check_ok(&out, "internal.rhai");
    let said = text(&out);
    assert!(
        said.contains(&format!("{} is not internal-only", world.host()))
            && said.contains("every client looks internal to the internal-only middleware")
            && said.contains("ingress.clientAddressLeak=error"),
        "{said}"
    );
    // Strict: refused before anything is written.
    let other = unique_name("doctor-leakstrict");
    let out = deploy(&other, &[("INGRESS_CLIENT_ADDRESS_LEAK", "error")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("ingress.clientAddressLeak is error: nothing deployed"),
        "{}",
        text(&out)
    );
    let ns = world.cluster.kubectl(&["get", "namespace", &other]);
    assert!(!ns.status.success(), "namespace {other} was made");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn middleware_with_other_ranges() {
    let world = World::new("doctor-ranges", true);
    world.kubectl(&[
        "patch",
        "middlewares.traefik.io",
        "internal-only",
        "-n",
        &world.name,
        "--type=merge",
        "-p",
        r#"{"spec": {"ipAllowList": {"sourceRange": ["0.0.0.0/0"]}}}"#,
    ]);
    assert_fails(
        &world,
        &["middleware-ranges"],
        "0.0.0.0/0",
        "cluster.internalSourceRanges",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn wrong_ingress_class() {
    let world = World::new("doctor-class", false);
    world.kubectl(&[
        "patch",
        "ingress",
        &world.name,
        "-n",
        &world.name,
        "--type=merge",
        "-p",
        r#"{"spec": {"ingressClassName": "nginx"}}"#,
    ]);
    assert_fails(
        &world,
        &["ingress-class"],
        "class nginx",
        "ingress.className",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn load_balancer_ip_outside_every_pool() {
    let world = World::new("doctor-lb", false);
    world.patch_status(
        "service",
        world.tls.name(),
        "traefik",
        &json!({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}}}),
    );
    assert_fails(
        &world,
        &["load-balancer"],
        "203.0.113.9, in no IPAddressPool",
        "IPAddressPool",
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn missing_ingress_skips_the_rest() {
    let world = World::new("doctor-no-ingress", false);
    world.kubectl(&["delete", "ingress", &world.name, "-n", &world.name]);
    let report = assert_fails(&world, &["ingress"], "no Ingress", "deploy the service");
    assert_eq!(find(&report, "dns")["status"], "skip");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn externaldns_prefix_missing_fails_with_the_fix() {
    let world = World::new("doctor-prefix", false);
    // Redeployed writing only the alpha prefix, which ExternalDNS v0.22.0 ignores.
    let out = world.wildrun_with(
        &["scripts/public.rhai", "--name", &world.name],
        &[("DNS_ANNOTATION_PREFIX", "external-dns.alpha.kubernetes.io/")],
    );
    check_ok(&out, "redeploy with the alpha prefix");
    let report = assert_fails(
        &world,
        &["externaldns-prefix"],
        "external-dns.kubernetes.io/ (image registry.k8s.io/external-dns/external-dns:v0.22.0",
        "dns.annotationPrefix=both",
    );
    let found = find(&report, "externaldns-prefix")["found"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(found.contains("v0.22.0 and later"), "{found}");
    assert!(
        found.contains("the Ingress has no external-dns.kubernetes.io/target"),
        "{found}"
    );
    // The old check still reads the target under the alpha prefix.
    assert_eq!(find(&report, "externaldns")["status"], "pass");
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn externaldns_prefix_argument_wins_over_the_image_tag() {
    let world = World::new("doctor-prefix-arg", false);
    // An old release (alpha by its tag) told to read the new prefix.
    world.external_dns(
        "external-dns-pinned",
        "registry.k8s.io/external-dns/external-dns:v0.21.0",
        &["--annotation-prefix=external-dns.kubernetes.io/"],
    );
    let out = world.wildrun_with(
        &["scripts/public.rhai", "--name", &world.name],
        &[("DNS_ANNOTATION_PREFIX", "external-dns.kubernetes.io/")],
    );
    check_ok(&out, "redeploy with the new prefix only");
    let (code, report) = world.doctor();
    let check = find(&report, "externaldns-prefix");
    assert_eq!(check["status"], "pass", "{report:#}");
    assert!(check["found"]
        .as_str()
        .unwrap()
        .contains("--annotation-prefix=external-dns.kubernetes.io/"));
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn host_and_url_are_checked_before_the_cluster_is_read() {
    let run = |args: &[&str]| {
        let out = Wildrun::new()
            .args(["scripts/doctor.rhai"])
            .args(args)
            .kubeconfig("/nonexistent/kubeconfig")
            .output();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--url", "http://git.example.com/"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--url: ") && err.contains("https"), "{err}");
    let (code, err) = run(&[
        "--host",
        "git.example.com",
        "--url",
        "https://git.example.com/",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--host and --url both name a host: give one"),
        "{err}"
    );
    let (code, err) = run(&["--host", "git.example.com", "--name", "git"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("give one"), "{err}");
    let (code, err) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--name is required"), "{err}");
}

/// `--instance` finds a fork's objects by its label, whatever their
/// names, and checks its host as `--host` does; an unknown or malformed
/// instance is a clear error.
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_doctor_checks_an_instance_by_its_label_whatever_its_names() {
    let world = World::new("doctor-instance", false);
    let fork = format!("{}-git", world.name);
    // Deployment gitea, Service gitea-http, Ingress gitea-public, beside
    // the World's service in its namespace.
    check_ok(
        &world.wildrun(&[
            "tests/fixtures/gitea-fork.rhai",
            "--name",
            &fork,
            "--namespace",
            &world.name,
        ]),
        "the fork",
    );
    let host = format!("{fork}.{ZONE}");
    world.dns.add(&host, "CNAME", ZONE);
    world.apply(
        &json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "gitea-http-test", "namespace": world.name,
                     "labels": {"kubernetes.io/service-name": "gitea-http"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 3000, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.42.0.8"], "conditions": {"ready": true}}]}),
    );

    let instance = format!("gitea-fork.{fork}");
    let traefik = format!("{}/traefik", world.tls.name());
    let dns = world.dns.addr();
    let args = [
        "scripts/doctor.rhai",
        "--instance",
        &instance,
        "--dns-server",
        &dns,
        "--traefik-service",
        &traefik,
        "--skip",
        "https",
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = world.wildrun(&json_args);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&out)));
    // Only the fork's objects, by label: not the World's service beside it.
    let ns = &world.name;
    assert_eq!(
        report["objects"],
        json!([
            format!("Ingress {ns}/gitea-public"),
            format!("Service {ns}/gitea-http"),
            format!("Deployment {ns}/gitea")
        ]),
        "{report:#}"
    );
    // No kubelet on this plane: the Deployment has no ready replica.
    let deployment = &report["checks"][0];
    assert_eq!(deployment["name"], "deployment");
    assert_eq!(deployment["status"], "fail", "{report:#}");
    assert!(
        deployment["found"]
            .as_str()
            .unwrap_or_default()
            .contains("gitea: 0 of 1 replica(s) ready"),
        "{report:#}"
    );
    assert_eq!(report["checks"][1]["name"], "endpoints");
    assert_eq!(report["checks"][1]["status"], "pass", "{report:#}");
    // Its host, checked as --host checks it.
    let hosts = report["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "{report:#}");
    assert_eq!(hosts[0]["host"], host.as_str());
    assert_eq!(hosts[0]["route"], format!("Ingress {ns}/gitea-public"));
    let status = |name: &str| {
        hosts[0]["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
    };
    // (`dns` also asks the zone's own servers, which this plane's test
    // zone has none of: see tests/existing_doctor.rs for it in the lab.)
    for name in [
        "route",
        "service",
        "endpoints",
        "tls-secret",
        "cert-covers",
        "load-balancer",
    ] {
        assert_eq!(status(name), "pass", "{name}: {report:#}");
    }
    assert_eq!(status("https"), "skip");
    assert_eq!(report["ok"], false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // The human form says the same.
    let out = world.wildrun(&args);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("instance {instance}: Ingress {ns}/gitea-public"))
            && said.contains(&format!("https://{host}/ → Ingress {ns}/gitea-public")),
        "{said}"
    );

    // An instance nothing is labelled with names the ones that exist.
    let out = world.wildrun(&["scripts/doctor.rhai", "--instance", "gitea.nothing-here"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Ingress, IngressRoute, HTTPRoute, Service or Deployment in any namespace is labelled wildrun.dev/instance=gitea.nothing-here")
            && err.contains(&format!("public.{}", world.name))
            && err.contains(&instance),
        "{err}"
    );
    let out = world.wildrun(&["scripts/doctor.rhai", "--instance", "gitea"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("\"gitea\" is not an instance; wildrun names them <recipe>.<name>"),
        "{}",
        text(&out)
    );
}
