//! The pipeline over the Gateway API (`ingress.api: gateway`), on the
//! visibility lab (tests/common/lab.rs): the lab's layer carries the
//! GatewayClass and the two Gateways (tests/cluster/lab/wildrun-layer.sh
//! runs scripts/cluster.rhai with INGRESS_API=gateway), Traefik serves them
//! with its kubernetesGateway provider, ExternalDNS reads the routes through
//! its gateway-httproute source.
//!
//! Each test fails when its link is broken: the record is ExternalDNS's
//! (its ownership record names the HTTPRoute), the answer the backend's.

mod common;

use std::process::Output;

use common::cluster::unique_name;
use common::lab::{text, Lab};

const WAIT: &str = "120s";

/// The routing API these tests deploy with.
const GATEWAY: [&str; 2] = ["--set", "ingress.api=gateway"];

/// Internal services admit only 127.0.0.1, the address every client in the
/// lab asks from unless it binds another (curl --interface 127.9.9.9).
const ADMIT_LOCALHOST: [&str; 2] = ["--set", "cluster.internalSourceRanges=127.0.0.1/32"];

/// A service deployed by a bundled recipe over an HTTPRoute; deleted (with
/// `--delete`) on drop.
struct RoutedService {
    lab: &'static Lab,
    recipe: &'static str,
    name: String,
    extra: Vec<String>,
}

impl RoutedService {
    /// Deploys `scripts/<recipe>.rhai --name <unique> --set
    /// ingress.api=gateway extra... --wait`; panics with wildrun's output
    /// when it does not exit 0.
    fn deploy(lab: &'static Lab, recipe: &'static str, prefix: &str, extra: &[&str]) -> Self {
        let svc = RoutedService {
            lab,
            recipe,
            name: unique_name(prefix),
            extra: GATEWAY.iter().chain(extra).map(|s| s.to_string()).collect(),
        };
        let out = svc.run(&["--wait", "--timeout", WAIT]);
        assert!(out.status.success(), "deploy {}: {}", svc.name, text(&out));
        svc
    }

    /// Runs the recipe for this service with `more` arguments.
    fn run(&self, more: &[&str]) -> Output {
        let recipe = format!("scripts/{}.rhai", self.recipe);
        let mut args: Vec<&str> = vec![&recipe, "--name", &self.name];
        args.extend(self.extra.iter().map(String::as_str));
        args.extend(more);
        self.lab.wildrun(&args)
    }

    fn host(&self) -> String {
        if self.recipe == "internal" {
            format!("{}.{}", self.name, self.lab.internal_domain())
        } else {
            format!("{}.{}", self.name, self.lab.domain())
        }
    }

    fn url(&self) -> String {
        format!("https://{}/", self.host())
    }
}

impl Drop for RoutedService {
    fn drop(&mut self) {
        let out = self.run(&["--delete"]);
        if !out.status.success() {
            eprintln!("cleanup of {} failed: {}", self.name, text(&out));
        }
    }
}

/// The lab backend's `host=` line.
fn backend_host(body: &str) -> &str {
    body.lines()
        .find_map(|l| l.strip_prefix("host="))
        .unwrap_or_else(|| panic!("the backend's answer has no host=: {body:?}"))
}

/// The HTTPRoute's `Accepted` condition status for its (one) parent.
fn route_accepted(lab: &Lab, name: &str) -> String {
    lab.kubectl_ok(&[
        "-n",
        name,
        "get",
        "httproute",
        name,
        "-o",
        "jsonpath={.status.parents[0].conditions[?(@.type==\"Accepted\")].status}",
    ])
}

#[test]
fn a_public_service_over_an_httproute_answers_by_name() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = RoutedService::deploy(lab, "public", "gwpub", &[]);
    let host = svc.host();

    // An HTTPRoute and no Ingress, no copy of the certificate: TLS ends at
    // the Gateway.
    assert_eq!(route_accepted(lab, &svc.name), "True");
    let ingresses = lab.kubectl_ok(&["-n", &svc.name, "get", "ingress,secret", "-o", "name"]);
    assert_eq!(
        ingresses.trim(),
        "",
        "no Ingress and no Secret copy expected"
    );

    // ExternalDNS wrote the CNAME from the route (its ownership record
    // names the HTTPRoute), with the target the public Gateway carries.
    assert_eq!(lab.dig(&host, "CNAME"), vec![format!("{}.", lab.domain())]);
    let txt = lab.dig(&format!("cname-{host}"), "TXT").join(" ");
    assert!(
        txt.contains(&format!(
            "external-dns/resource=httproute/{0}/{0}",
            svc.name
        )),
        "no ExternalDNS ownership record naming the HTTPRoute for {host}: {txt:?}"
    );

    // Resolved through Knot, verified against the lab CA, routed by
    // Traefik's Gateway to the pod, answered by the backend.
    let (status, body) = lab.https_get(&svc.url(), &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(backend_host(&body), host);
}

#[test]
fn an_internal_service_over_an_httproute_admits_only_its_source_ranges() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = RoutedService::deploy(lab, "internal", "gwint", &ADMIT_LOCALHOST);
    let host = svc.host();
    // An A record to Traefik's address, the internal Gateway's target
    // (--wait waited for it).
    assert_eq!(lab.dig(&host, "A"), vec![lab.lb_ip().to_string()]);

    let (status, body) = lab.https_get(&svc.url(), &[]);
    assert_eq!(status, 200, "from 127.0.0.1 (inside the range): {body}");
    assert_eq!(backend_host(&body), host);

    // The ExtensionRef filter: Traefik's internal-only Middleware refuses
    // an asker outside the ranges.
    let (status, body) = lab.https_get(&svc.url(), &["--interface", "127.9.9.9"]);
    assert_eq!(status, 403, "from 127.9.9.9 (outside the range): {body}");
}
