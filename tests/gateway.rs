//! The pipeline over the Gateway API (`ingress.api: gateway`), on the
//! visibility lab (tests/common/lab.rs): the lab's layer carries the
//! GatewayClass and the two Gateways (tests/cluster/lab/wildrun-layer.sh
//! runs scripts/cluster.rhai with INGRESS_API=gateway), Traefik serves them
//! with its kubernetesGateway provider, ExternalDNS reads the routes through
//! its gateway-httproute source.
//!
//! Each test fails when its link is broken: the record is ExternalDNS's
//! (its ownership record names the HTTPRoute), the answer the backend's,
//! and the doctor is red with the check of the link broken for real (a
//! wrong listener, a missing backend, the ReferenceGrant taken away).

mod common;

use std::time::Duration;

use common::cluster::unique_name;
use common::lab::{not_passed, text, Lab, Service, ADMIT_LAN_CLIENT, SERVICE_WAIT as WAIT};
use serde_json::Value;

/// The routing API these tests deploy with.
const GATEWAY: [&str; 2] = ["--set", "ingress.api=gateway"];

/// A service of a bundled recipe over an HTTPRoute (`ingress.api=gateway`
/// before `extra`), deployed with `--wait`; deleted on drop.
fn routed(lab: &'static Lab, recipe: &'static str, prefix: &str, extra: &[&str]) -> Service {
    Service::deploy(lab, recipe, prefix, &[&GATEWAY[..], extra].concat())
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
    let svc = routed(lab, "public", "gwpub", &[]);
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
    let svc = routed(lab, "internal", "gwint", &ADMIT_LAN_CLIENT);
    let host = svc.host();
    // An A record to Traefik's address, the internal Gateway's target
    // (--wait waited for it).
    assert_eq!(lab.dig(&host, "A"), vec![lab.lb_ip().to_string()]);

    let lan = lab.var("WILDRUN_LAB_LAN_NETNS");
    let (status, body) = lab.https_get_in(lan, &svc.url(), &[]);
    assert_eq!(
        status, 200,
        "from the LAN client (inside the range): {body}"
    );
    assert_eq!(backend_host(&body), host);

    // The ExtensionRef filter: Traefik's internal-only Middleware refuses
    // an asker outside the ranges.
    let (status, body) = lab.https_get(&svc.url(), &[]);
    assert_eq!(status, 403, "from the node (outside the range): {body}");
}

/// The names of the failed checks.
fn failed(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "fail")
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The check named `name`'s hint.
fn hint<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .and_then(|c| c["hint"].as_str())
        .unwrap_or_else(|| panic!("no hint for {name} in {report:#}"))
}

/// A JSON patch to the service's HTTPRoute.
fn patch_route(svc: &Service, patch: &str) {
    svc.lab.kubectl_ok(&[
        "-n",
        &svc.name,
        "patch",
        "httproute",
        &svc.name,
        "--type=json",
        "-p",
        patch,
    ]);
}

/// A doctor run on a service: its JSON report and exit code.
type DoctorRun = fn(&Service) -> (Value, Option<i32>);

/// Points the route at a listener its Gateway does not have: the doctor
/// `run` fails `route-accepted`, naming the listeners there are, and
/// `listener`.
fn a_wrong_listener_is_refused(svc: &Service, run: DoctorRun) {
    patch_route(
        svc,
        r#"[{"op": "replace", "path": "/spec/parentRefs/0/sectionName", "value": "web"}]"#,
    );
    let report = svc
        .lab
        .eventually("the route refused", Duration::from_secs(30), || {
            let (report, code) = run(svc);
            (code == Some(1) && failed(&report).contains(&"route-accepted".to_string()))
                .then_some(report)
        });
    assert!(
        failed(&report).contains(&"listener".to_string()),
        "{report:#}"
    );
    assert!(
        hint(&report, "route-accepted").contains("[\"https\"]"),
        "{report:#}"
    );
}

/// Applies `patch` (which names a backend that does not exist): the
/// doctor `run` fails `route-refs` with the fix, and `service`.
fn a_missing_backend_is_unresolved(svc: &Service, patch: &str, run: DoctorRun) {
    patch_route(svc, patch);
    let report = svc
        .lab
        .eventually("the backend unresolved", Duration::from_secs(30), || {
            let (report, code) = run(svc);
            (code == Some(1) && failed(&report).contains(&"route-refs".to_string()))
                .then_some(report)
        });
    assert!(
        hint(&report, "route-refs").contains("Service that does not exist"),
        "{report:#}"
    );
    assert!(
        failed(&report).contains(&"service".to_string()),
        "{report:#}"
    );
}

/// The patch that names a backend Service that does not exist.
const MISSING_BACKEND: &str =
    r#"[{"op": "replace", "path": "/spec/rules/0/backendRefs/0/name", "value": "missing"}]"#;

#[test]
fn the_doctor_is_green_on_a_route_and_red_on_a_wrong_listener_or_backend() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let public = routed(lab, "public", "gwdoc", &[]);
    let (report, code) = public.doctor();
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    let internal = routed(lab, "internal", "gwdocint", &[]);
    let (report, code) = internal.doctor();
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));

    // A listener the Gateway does not have: the route is not Accepted.
    a_wrong_listener_is_refused(&public, Service::doctor);
    // A backend that does not exist: the references do not resolve.
    a_missing_backend_is_unresolved(&internal, MISSING_BACKEND, Service::doctor);
}

/// `doctor --host`'s report for the service's host (no `--name`: found
/// by host, whoever made the route), from the LAN client
/// ([`Lab::doctor_on_lan`]).
fn doctor_by_host(svc: &Service) -> (Value, Option<i32>) {
    let host = svc.host();
    let mut args = vec!["--host", host.as_str()];
    args.extend(svc.extra.iter().map(String::as_str));
    svc.lab.doctor_on_lan(&args)
}

#[test]
fn the_doctor_by_host_follows_an_httproute_through_its_gateway() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = routed(lab, "public", "gwhost", &[]);
    let (report, code) = doctor_by_host(&svc);
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    assert_eq!(
        report["route"],
        format!("HTTPRoute {0}/{0}", svc.name),
        "{report:#}"
    );
    // The links through the Gateway, and ExternalDNS read from it.
    for name in [
        "route-accepted",
        "route-refs",
        "listener",
        "reference-grant",
        "gateway-address",
    ] {
        assert_eq!(
            common::lab::check(&report, name)["status"],
            "pass",
            "{name}: {report:#}"
        );
    }
    let externaldns = common::lab::check(&report, "externaldns")["found"].to_string();
    assert!(
        externaldns.contains("gateway-httproute") && externaldns.contains("target"),
        "{report:#}"
    );

    // A listener the Gateway does not have: not Accepted, named.
    a_wrong_listener_is_refused(&svc, doctor_by_host);
    // Back on its listener, with a backend that does not exist.
    a_missing_backend_is_unresolved(
        &svc,
        r#"[{"op": "replace", "path": "/spec/parentRefs/0/sectionName", "value": "https"},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/name", "value": "missing"}]"#,
        doctor_by_host,
    );
}

#[test]
fn the_doctor_is_red_without_the_reference_grant_for_the_certificate() {
    let lab = Lab::shared();
    // Takes the layer's ReferenceGrant away: no other test may see it gone.
    let _only = lab.exclusive();
    let svc = routed(lab, "public", "gwgrant", &[]);
    lab.kubectl_ok(&[
        "-n",
        "cert-manager",
        "delete",
        "referencegrant",
        "wildrun-gateways",
    ]);
    let report = lab.eventually("the listener refused", Duration::from_secs(30), || {
        let (report, code) = svc.doctor();
        (code == Some(1) && failed(&report).contains(&"reference-grant".to_string()))
            .then_some(report)
    });
    assert!(
        failed(&report).contains(&"listener".to_string()),
        "{report:#}"
    );
    assert!(
        hint(&report, "listener").contains("ReferenceGrant"),
        "{report:#}"
    );

    // The layer makes it again.
    lab.gateway_layer(&[]);
    let (report, _) = lab.eventually("the listener mended", Duration::from_secs(30), || {
        let (report, code) = svc.doctor();
        (code == Some(0)).then_some((report, code))
    });
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
}

/// Requests `url` in the lab every 100 ms until `stop`, at most 1200 times;
/// the statuses seen, in order.
fn request_loop(
    lab: &'static Lab,
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<u16>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..1200 {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            seen.push(lab.https_get(&url, &[]).0);
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    })
}

#[test]
fn moving_from_ingress_to_httproute_and_back_keeps_answering() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let mut svc = Service {
        lab,
        recipe: "public",
        name: unique_name("gwmove"),
        extra: Vec::new(),
    };
    let out = svc.run(&["--wait", "--timeout", WAIT]);
    assert!(
        out.status.success(),
        "deploy over an Ingress: {}",
        text(&out)
    );

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let requests = request_loop(lab, svc.url(), stop.clone());
    // Onto the Gateway API: the HTTPRoute answers before the Ingress goes.
    svc.extra = GATEWAY.iter().map(|s| s.to_string()).collect();
    let moved = svc.run(&["--prune"]);
    assert!(
        moved.status.success(),
        "move to HTTPRoute: {}",
        text(&moved)
    );
    let said = String::from_utf8_lossy(&moved.stderr);
    let waited = said
        .find("waiting until the new route answers")
        .expect("the wait said");
    let deleted = said
        .find(&format!("deleted    Ingress {0}/{0}", svc.name))
        .expect("the Ingress pruned");
    assert!(waited < deleted, "{said}");
    assert_eq!(route_accepted(lab, &svc.name), "True");
    // The Secret copy the Ingress used goes with it: TLS ends at the
    // Gateway, and the namespace holds only the instance's own objects.
    let copy = format!("{}/wildcard-wild-cloud-tls", svc.name);
    let copy_deleted = said
        .find(&format!("deleted    Secret {copy}"))
        .unwrap_or_else(|| panic!("the Secret copy not pruned: {said}"));
    assert!(deleted < copy_deleted, "{said}");
    let secrets = lab.kubectl_ok(&["-n", &svc.name, "get", "secret", "-o", "name"]);
    assert_eq!(secrets.trim(), "", "no Secret copy expected");
    // And back to an Ingress, the HTTPRoute pruned once the Ingress answers.
    svc.extra.clear();
    let back = svc.run(&["--prune"]);
    assert!(
        back.status.success(),
        "move back to Ingress: {}",
        text(&back)
    );
    let said = String::from_utf8_lossy(&back.stderr);
    assert!(
        said.contains(&format!("deleted    HTTPRoute {0}/{0}", svc.name)),
        "{said}"
    );
    // The copy is applied again, before the Ingress that names it.
    let copied = said
        .find(&format!("created    Secret {copy}"))
        .unwrap_or_else(|| panic!("the Secret copy not applied: {said}"));
    let ingress = said
        .find(&format!("created    Ingress {0}/{0}", svc.name))
        .unwrap_or_else(|| panic!("the Ingress not applied: {said}"));
    assert!(copied < ingress, "{said}");
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = requests.join().expect("the request loop");
    assert!(seen.len() >= 10, "too few requests to tell: {seen:?}");
    assert!(
        seen.iter().all(|s| *s == 200),
        "a request failed during the moves: {seen:?}"
    );
}

#[test]
fn the_layer_doctor_checks_the_gateways_and_fails_on_a_missing_listener_secret() {
    let lab = Lab::shared();
    // Breaks the layer's internal Gateway: no other test may see it.
    let _only = lab.exclusive();
    let layer = ["--layer", "--set", "ingress.api=gateway"];
    let (report, code) = lab.doctor(&layer);
    assert_eq!(failed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    assert_eq!(
        common::lab::check(&report, "crds")["found"],
        "9 CRDs served and Established",
        "the Gateway API's four counted: {report:#}"
    );
    for name in [
        "gateway-class",
        "gateway-public",
        "gateway-internal",
        "externaldns-httproute",
    ] {
        assert_eq!(
            common::lab::check(&report, name)["status"],
            "pass",
            "{name}: {report:#}"
        );
    }

    // The internal Gateway's listener names a Secret that does not exist.
    let pointer = "/spec/listeners/0/tls/certificateRefs/0/name";
    let original = lab.kubectl_ok(&[
        "-n",
        "traefik",
        "get",
        "gateway",
        "internal",
        "-o",
        "jsonpath={.spec.listeners[0].tls.certificateRefs[0].name}",
    ]);
    let set_secret = |name: &str| {
        lab.kubectl_ok(&[
            "-n",
            "traefik",
            "patch",
            "gateway",
            "internal",
            "--type=json",
            "-p",
            &format!(r#"[{{"op": "replace", "path": "{pointer}", "value": "{name}"}}]"#),
        ]);
    };
    set_secret("missing-tls");
    let broken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let report = lab.eventually(
            "the internal Gateway refused",
            Duration::from_secs(30),
            || {
                let (report, code) = lab.doctor(&layer);
                (code == Some(1) && failed(&report) == ["gateway-internal"]).then_some(report)
            },
        );
        let check = common::lab::check(&report, "gateway-internal");
        assert!(
            check["hint"]
                .as_str()
                .unwrap_or_default()
                .contains("the wildcard Certificate writes it"),
            "{report:#}"
        );
        assert!(
            check["found"]
                .as_str()
                .unwrap_or_default()
                .contains("missing-tls"),
            "{report:#}"
        );
    }));
    // Put back as it was, and the field given back to the layer (kubectl's
    // patch took it: the layer's next run would meet a conflict).
    set_secret(original.trim());
    lab.gateway_layer(&["--force"]);
    lab.eventually(
        "the internal Gateway mended",
        Duration::from_secs(30),
        || {
            let (report, code) = lab.doctor(&layer);
            (code == Some(0)).then_some(report)
        },
    );
    if let Err(failure) = broken {
        std::panic::resume_unwind(failure);
    }
}
