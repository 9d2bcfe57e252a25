//! The doctor on the existing-layer lab (`tests/cluster/up --lab
//! --existing-layer`, [`Lab::existing`]): a layer and two apps wildrun did
//! not make, under wild-cloud's names and labels.
//!
//! `doctor --host` is green on both apps (the Ingress app gitea, the
//! IngressRoute app whoami) and turns red with the right check for each
//! break an operator meets there: a wrong targetPort, a missing copy of the
//! wildcard Secret, an `ipWhiteList` middleware, a host outside
//! ExternalDNS's domain filter. `doctor --layer` is green, its controllers
//! found by image. A test that breaks a lab object holds the lab
//! exclusively and puts the object back as it was (same data, same field
//! manager) when it ends, also on failure.

mod common;

use common::lab::{check, Lab, Restore};
use serde_json::{json, Value};
use std::time::Duration;

/// The field manager kubectl's client-side apply records: the lab's objects
/// carry only it, and tests/existing.rs holds them to that, so changes and
/// restores here are written under the same name.
const KUBECTL_MANAGER: &str = "--field-manager=kubectl-client-side-apply";

/// How long a green doctor may take to come back after another test put an
/// object back (Traefik reloads, ExternalDNS's interval is 5 s).
const SETTLE: Duration = Duration::from_secs(60);

/// What a check found.
fn found<'r>(report: &'r Value, name: &str) -> &'r str {
    check(report, name)["found"].as_str().unwrap_or_default()
}

/// The names of the checks with `status`.
fn with_status(report: &Value, status: &str) -> Vec<String> {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == status)
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The doctor with `args`, once every check passes (within [`SETTLE`]).
fn doctor_green(lab: &Lab, args: &[&str]) -> Value {
    lab.eventually(&format!("doctor {args:?} green"), SETTLE, || {
        let (report, code) = lab.doctor(args);
        (code == Some(0) && with_status(&report, "fail").is_empty()).then_some(report)
    })
}

/// Asserts the doctor with `args` fails `name` with a finding containing
/// `found_text`, and fails nothing but `name` and `also` (the links after
/// it that the same break takes down). Returns the report.
fn assert_red(lab: &Lab, args: &[&str], name: &str, found_text: &str, also: &[&str]) -> Value {
    let (report, code) = lab.doctor(args);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(check(&report, name)["status"], "fail", "{report:#}");
    assert!(
        found(&report, name).contains(found_text),
        "{name} should say {found_text:?}: {report:#}"
    );
    let others: Vec<String> = with_status(&report, "fail")
        .into_iter()
        .filter(|n| n != name && !also.contains(&n.as_str()))
        .collect();
    assert!(others.is_empty(), "other checks failed too: {report:#}");
    report
}

fn gitea_host(lab: &Lab) -> String {
    format!("gitea.{}", lab.domain())
}

fn whoami_host(lab: &Lab) -> String {
    format!("whoami.{}", lab.domain())
}

#[test]
fn doctor_host_is_green_on_the_ingress_app_and_the_ingress_route_app() {
    let lab = Lab::existing();
    let _use = lab.shared_use();

    // gitea: Ingress gitea-public (class by annotation) → Service
    // gitea-http by port name → targetPort 3000 → the container port.
    let host = gitea_host(lab);
    let report = doctor_green(lab, &["--host", &host]);
    assert_eq!(
        with_status(&report, "skip"),
        Vec::<String>::new(),
        "{report:#}"
    );
    assert_eq!(report["route"], "Ingress gitea/gitea-public");
    assert_eq!(
        found(&report, "ingress-class"),
        "class traefik (annotation kubernetes.io/ingress.class)"
    );
    // The ExternalDNS that publishes it, found by image (labels app: only),
    // with its filter, sources and the prefix its release reads.
    assert!(
        found(&report, "externaldns").starts_with(&format!(
            "ExternalDNS externaldns/external-dns (v0.14.2 rfc2136, owner external-dns-wild-cloud-lab) publishes {host}: --domain-filter={}",
            lab.domain()
        )),
        "{report:#}"
    );
    assert!(
        found(&report, "externaldns").contains("reads external-dns.alpha.kubernetes.io/"),
        "{report:#}"
    );
    assert!(
        found(&report, "target-port")
            .starts_with("port http → targetPort 3000 → container port 3000"),
        "{report:#}"
    );
    // The resolver and the zone's own servers agree.
    assert!(
        found(&report, "dns").contains(&format!(
            "the zone {}'s servers (ns1.{}) agree",
            lab.domain(),
            lab.domain()
        )),
        "{report:#}"
    );
    assert!(found(&report, "https").contains(": 200 "), "{report:#}");

    // whoami: an IngressRoute, its record from ExternalDNS's traefik-proxy source.
    let host = whoami_host(lab);
    let report = doctor_green(lab, &["--host", &host]);
    assert_eq!(report["route"], "IngressRoute whoami/whoami-https");
    assert!(
        found(&report, "externaldns").contains("traefik-proxy")
            && found(&report, "externaldns").contains(&format!("target {}", lab.lb_ip())),
        "{report:#}"
    );
    assert!(
        found(&report, "target-port").starts_with("port 80 → targetPort http → container port 80"),
        "{report:#}"
    );
}

#[test]
fn doctor_layer_is_green_with_the_controllers_found_by_image() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let report = doctor_green(lab, &["--layer"]);
    // wild-cloud's MetalLB (native manifests: app: metallb) and ExternalDNS
    // (app: external-dns) carry no app.kubernetes.io/name label.
    for (name, what) in [
        ("controller-metallb", "Deployment metallb-system/controller (quay.io/metallb/controller:"),
        ("controller-cert-manager", "Deployment cert-manager/cert-manager ("),
        ("controller-traefik", "Deployment traefik/traefik (docker.io/traefik:"),
        (
            "controller-external-dns",
            "Deployment externaldns/external-dns (registry.k8s.io/external-dns/external-dns:v0.14.2)",
        ),
    ] {
        assert!(found(&report, name).starts_with(what), "{report:#}");
    }
    // The layer under its own names, as scripts/cluster.rhai finds it.
    assert!(
        found(&report, "pool").starts_with("IPAddressPool metallb-system/first-pool"),
        "{report:#}"
    );
    assert!(
        found(&report, "issuer-wild-cloud-ca").contains("Ready"),
        "{report:#}"
    );
    assert!(
        found(&report, "traefik-address").contains("another tool's Service, used as it is"),
        "{report:#}"
    );
}

#[test]
fn a_wrong_target_port_turns_the_target_port_check_red() {
    let lab = Lab::existing();
    let _lab = lab.exclusive();
    let mut restore = Restore::new(lab);
    let patch = |port: u16| {
        json!([{"op": "replace", "path": "/spec/ports/0/targetPort", "value": port}]).to_string()
    };
    let back = patch(3000);
    restore.then(
        &[
            "-n",
            "gitea",
            "patch",
            "service",
            "gitea-http",
            "--type=json",
            "-p",
            &back,
            KUBECTL_MANAGER,
        ],
        None,
    );
    lab.kubectl_ok(&[
        "-n",
        "gitea",
        "patch",
        "service",
        "gitea-http",
        "--type=json",
        "-p",
        &patch(3001),
        KUBECTL_MANAGER,
    ]);
    // As the README shows it.
    let url = format!("https://{}/explore", gitea_host(lab));
    let report = assert_red(
        lab,
        &["--url", &url],
        "target-port",
        "port http → targetPort 3001, which no container of the pods declares (they declare 2222 (ssh), 3000 (http))",
        &["https"],
    );
    assert!(
        check(&report, "target-port")["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("set targetPort of Service gitea/gitea-http")),
        "{report:#}"
    );
}

/// The copy of a Secret as it can be created again: without what the API
/// server sets.
fn recreatable(mut secret: Value) -> String {
    if let Some(meta) = secret["metadata"].as_object_mut() {
        for key in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
        ] {
            meta.remove(key);
        }
    }
    secret.to_string()
}

#[test]
fn a_missing_secret_copy_turns_the_tls_secret_check_red() {
    let lab = Lab::existing();
    let _lab = lab.exclusive();
    let copy = lab.get_json(&["-n", "gitea", "secret", "wildcard-wild-cloud-tls"]);
    let mut restore = Restore::new(lab);
    restore.then(
        &["create", "-f", "-", KUBECTL_MANAGER],
        Some(recreatable(copy)),
    );
    lab.kubectl_ok(&["-n", "gitea", "delete", "secret", "wildcard-wild-cloud-tls"]);
    let report = assert_red(
        lab,
        &["--host", &gitea_host(lab)],
        "tls-secret",
        "no Secret gitea/wildcard-wild-cloud-tls",
        // Traefik serves its default certificate instead.
        &["https"],
    );
    assert!(
        check(&report, "tls-secret")["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("create Secret wildcard-wild-cloud-tls in gitea")),
        "{report:#}"
    );
    assert_eq!(check(&report, "cert-covers")["status"], "skip");
}

#[test]
fn an_ip_white_list_middleware_turns_the_middlewares_check_red() {
    let lab = Lab::existing();
    let _lab = lab.exclusive();
    let mut restore = Restore::new(lab);
    // wild-cloud's dashboard route: a Middleware internal-only in the
    // deprecated form, named by the IngressRoute.
    restore.then(
        &[
            "-n",
            "whoami",
            "delete",
            "middleware.traefik.io",
            "internal-only",
        ],
        None,
    );
    lab.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: traefik.io/v1alpha1\nkind: Middleware\n\
         metadata: {name: internal-only, namespace: whoami}\n\
         spec: {ipWhiteList: {sourceRange: [127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}}\n",
    );
    let remove = json!([{"op": "remove", "path": "/spec/routes/0/middlewares"}]).to_string();
    restore.then(
        &[
            "-n",
            "whoami",
            "patch",
            "ingressroute.traefik.io",
            "whoami-https",
            "--type=json",
            "-p",
            &remove,
            KUBECTL_MANAGER,
        ],
        None,
    );
    let add = json!([{"op": "add", "path": "/spec/routes/0/middlewares", "value": [{"name": "internal-only"}]}])
        .to_string();
    lab.kubectl_ok(&[
        "-n",
        "whoami",
        "patch",
        "ingressroute.traefik.io",
        "whoami-https",
        "--type=json",
        "-p",
        &add,
        KUBECTL_MANAGER,
    ]);
    let report = assert_red(
        lab,
        &["--host", &whoami_host(lab)],
        "middlewares",
        "Middleware whoami/internal-only: ipWhiteList is ipAllowList in Traefik v3",
        &["https"],
    );
    assert!(
        check(&report, "middlewares")["hint"]
            .as_str()
            .is_some_and(|h| h.contains(
                "rename spec.ipWhiteList of Middleware whoami/internal-only to spec.ipAllowList"
            )),
        "{report:#}"
    );
}

#[test]
fn a_host_outside_the_externaldns_domain_filter_turns_the_externaldns_check_red() {
    let lab = Lab::existing();
    let _lab = lab.exclusive();
    // gitea served under a second domain, which ExternalDNS's
    // --domain-filter (the lab's domain) leaves out: wild-cloud's
    // hard-coded filter, the other way round. An Ingress of the test's
    // own; ExternalDNS ignores it, so no record of the lab changes.
    let host = "gitea.example.org";
    let mut restore = Restore::new(lab);
    restore.then(
        &["-n", "gitea", "delete", "ingress", "gitea-other-domain"],
        None,
    );
    lab.kubectl_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\n\
             metadata: {{name: gitea-other-domain, namespace: gitea, annotations: {{kubernetes.io/ingress.class: traefik}}}}\n\
             spec:\n  rules: [{{host: {host}, http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: gitea-http, port: {{name: http}}}}}}}}]}}}}]\n"
        ),
    );
    let report = assert_red(
        lab,
        &["--host", host],
        "externaldns",
        &format!(
            "{host} is outside the domain filter of every ExternalDNS: Deployment externaldns/external-dns (--domain-filter={}",
            lab.domain()
        ),
        // Unpublished: no address, and no certificate of the lab names it.
        &["dns", "https"],
    );
    assert_eq!(
        check(&report, "externaldns")["hint"],
        "add --domain-filter=example.org to the args of Deployment externaldns/external-dns (it publishes only names under its filters), or serve gitea.example.org under a domain it holds"
    );
}

#[test]
fn traefiks_service_is_found_by_the_image_of_the_pods_it_selects() {
    let lab = Lab::existing();
    let _lab = lab.exclusive();
    // Traefik installed without its chart's labels on the Service: found
    // by the pods it selects, which run Traefik's image.
    let label = "app.kubernetes.io/name";
    let mut restore = Restore::new(lab);
    let back = format!("{label}=traefik");
    restore.then(
        &[
            "-n",
            "traefik",
            "label",
            "service",
            "traefik",
            &back,
            KUBECTL_MANAGER,
        ],
        None,
    );
    let remove = format!("{label}-");
    lab.kubectl_ok(&[
        "-n",
        "traefik",
        "label",
        "service",
        "traefik",
        &remove,
        KUBECTL_MANAGER,
    ]);
    let report = doctor_green(lab, &["--host", &gitea_host(lab)]);
    assert!(
        found(&report, "load-balancer").starts_with(&format!(
            "Service traefik/traefik has {}, in IPAddressPool metallb-system/first-pool",
            lab.lb_ip()
        )),
        "{report:#}"
    );
}
