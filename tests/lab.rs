//! The promise itself, on the visibility lab (tests/common/lab.rs): a request
//! reaches a pod, by name, over verified HTTPS, through ExternalDNS, MetalLB,
//! kube-proxy, Traefik and cert-manager running for real, on a network of a
//! node, a router, a LAN client and an internet client. wildrun, kubectl and
//! most requests run on the node, as `--wait` and the doctor do; a request
//! whose asker matters runs on the client it is about.
//!
//! Nothing here stands in for a controller: the records come from
//! ExternalDNS (its TXT ownership records prove it), the certificates from
//! cert-manager, the address from MetalLB, the pods from kube-scheduler and
//! kwok, the routing from Traefik. Each test fails when its link is broken.
//! Tests that break a link for real (a controller stopped, the pool
//! exhausted) hold the lab exclusively and mend it before they return.

mod common;

use std::time::Duration;

use common::cluster::unique_name;
use common::lab::{
    check, not_passed, text, Lab, Service, ADMIT_LAN_CLIENT, INTERNET_CLIENT, LAN_CLIENT,
    NODE_BRIDGE, NODE_LAN, SERVICE_WAIT as WAIT,
};
use serde_json::{json, Value};

/// What a check found, as text (empty when it says nothing).
fn found(check: &Value) -> &str {
    check["found"].as_str().unwrap_or("")
}

/// Applies a wildcard Certificate `cert-manager/<name>` for the public
/// domain, writing `secret`, issued by ClusterIssuer `issuer`, as the
/// visibility layer makes them.
fn apply_wildcard_certificate(lab: &Lab, name: &str, secret: &str, issuer: &str) {
    lab.kubectl_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\n\
             metadata: {{name: {name}, namespace: cert-manager}}\n\
             spec: {{secretName: {secret}, dnsNames: ['*.{d}', '{d}'],\
             issuerRef: {{name: {issuer}, kind: ClusterIssuer}}}}\n",
            d = lab.domain()
        ),
    );
}

/// MetalLB's address plus `n` in its last number: the pool's `n`th
/// address after it (the lab's pool is four addresses from it).
fn pool_address(lab: &Lab, n: u8) -> String {
    let (prefix, last) = lab
        .lb_ip()
        .rsplit_once('.')
        .unwrap_or_else(|| panic!("MetalLB's address {} is not IPv4", lab.lb_ip()));
    let last: u8 = last.parse().expect("an IPv4 address's last number");
    format!("{prefix}.{}", last + n)
}

/// Parses the lab backend's `key=value` lines.
fn backend_said(body: &str, key: &str) -> String {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the backend's answer has no {key}=: {body:?}"))
        .to_string()
}

#[test]
fn a_public_service_answers_by_name_over_verified_https() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy(lab, "public", "pub", &[]);
    let host = svc.host();

    // The Deployment rolled out: kube-scheduler placed its pod on the kwok
    // node, which gave it an address in the pod range.
    let pod_ip = lab.kubectl_ok(&[
        "-n",
        &svc.name,
        "get",
        "pods",
        "-l",
        &format!("app={}", svc.name),
        "-o",
        "jsonpath={.items[0].status.podIP}",
    ]);
    assert!(pod_ip.starts_with("10.244."), "pod address {pod_ip:?}");

    // ExternalDNS wrote the CNAME into Knot, and its ownership record with it.
    assert_eq!(lab.dig(&host, "CNAME"), vec![format!("{}.", lab.domain())]);
    let txt = lab.dig(&format!("cname-{host}"), "TXT").join(" ");
    assert!(
        txt.contains("external-dns/owner=wildrun-lab"),
        "no ExternalDNS ownership record for {host}: {txt:?}"
    );

    // cert-manager issued the wildcard certificate; wildrun copied it.
    let copied_from = lab.kubectl_ok(&[
        "-n",
        &svc.name,
        "get",
        "secret",
        "wildcard-wild-cloud-tls",
        "-o",
        "jsonpath={.metadata.annotations.wildrun\\.dev/copied-from}",
    ]);
    assert_eq!(copied_from, "cert-manager/wildcard-wild-cloud-tls");
    let issuer = lab.kubectl_ok(&[
        "-n",
        "cert-manager",
        "get",
        "certificate",
        "wildcard-wild-cloud",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    assert_eq!(issuer, "True");

    // The request: resolved through Knot, verified against the lab CA,
    // routed by Traefik to the pod's address, answered by the backend.
    let (status, body) = lab.https_get(&svc.url(), &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(backend_said(&body, "host"), host);
    assert_eq!(backend_said(&body, "addr"), format!("{pod_ip}:80"));

    // Without the lab CA the same request is refused: the chain is really verified.
    let out = lab
        .command("curl")
        .args(["-sS", "--max-time", "5", "-o", "/dev/null", &svc.url()])
        .env("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
        .output()
        .expect("curl");
    assert_eq!(out.status.code(), Some(60), "{}", text(&out));
}

#[test]
fn an_internal_service_admits_only_its_source_ranges() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // The range holds the LAN client only.
    let svc = Service::deploy(lab, "internal", "int", &ADMIT_LAN_CLIENT);
    let host = svc.host();
    assert_eq!(lab.dig(&host, "A"), vec![lab.lb_ip().to_string()]);

    let lan = lab.var("WILDRUN_LAB_LAN_NETNS");
    let (status, body) = lab.https_get_in(lan, &svc.url(), &[]);
    assert_eq!(
        status, 200,
        "from the LAN client (inside the range): {body}"
    );
    assert_eq!(backend_said(&body, "host"), host);
    assert_eq!(backend_said(&body, "client"), LAN_CLIENT, "{body}");

    let (status, body) = lab.https_get(&svc.url(), &[]);
    assert_eq!(status, 403, "from the node (outside the range): {body}");
}

#[test]
fn delete_takes_the_record_and_the_answer_away() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy(lab, "public", "del", &[]);
    let host = svc.host();
    assert_eq!(lab.https_get(&svc.url(), &[]).0, 200);

    let out = svc.run(&["--delete"]);
    assert!(out.status.success(), "{}", text(&out));
    lab.eventually(
        "ExternalDNS removing the record",
        Duration::from_secs(30),
        || lab.dig(&host, "CNAME").is_empty().then_some(()),
    );
    let (status, body) = lab.https_get(&svc.url(), &[]);
    assert_eq!(status, 0, "the request still answered: {body}");
    assert!(body.contains("resolve"), "{body}");
}

#[test]
fn the_doctor_is_green_on_a_healthy_public_and_internal_service() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let public = Service::deploy(lab, "public", "docpub", &[]);
    let (report, code) = public.doctor();
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    // The request went to the address DNS gives and got the Secret's certificate.
    let https = found(check(&report, "https")).to_string();
    assert!(https.contains(": 200 "), "{https}");
    assert!(https.contains("(from DNS)"), "{https}");
    assert!(https.contains("the Secret's certificate"), "{https}");

    let internal = Service::deploy(lab, "internal", "docint", &[]);
    let (report, code) = internal.doctor();
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
}

#[test]
fn the_doctor_reports_dns_when_externaldns_is_not_running() {
    let lab = Lab::shared();
    let _only = lab.exclusive();
    lab.ctl(&["stop", "external-dns"]);
    let svc = Service::deploy_no_wait(lab, "public", "nodns", &[]);
    let (report, code) = svc.doctor();
    // --wait gives up on the link it waits for, and says which.
    let waited = svc.run(&["--wait", "--timeout", "5s"]);
    lab.ctl(&["start", "external-dns"]);
    assert_eq!(waited.status.code(), Some(1), "{}", text(&waited));
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert!(
        stderr.contains(&svc.host()) && stderr.to_lowercase().contains("dns"),
        "--wait's last reason names neither the host nor DNS: {stderr}"
    );
    assert_eq!(code, Some(1), "{report:#}");
    let dns = check(&report, "dns");
    assert_eq!(dns["status"], "fail", "{report:#}");
    assert!(found(dns).contains("NXDOMAIN"), "{dns:#}");
    // The request still goes to Traefik, at its LoadBalancer address (whether
    // Traefik has loaded this new Ingress yet is a matter of its reload).
    let https = check(&report, "https");
    assert!(
        found(https).contains("Traefik's address; DNS gave none"),
        "{https:#}"
    );
    // Running again, ExternalDNS catches up and the link turns green.
    let host = svc.host();
    lab.eventually(
        "ExternalDNS writing the record after its restart",
        Duration::from_secs(30),
        || (!lab.dig(&host, "CNAME").is_empty()).then_some(()),
    );
    assert_eq!(check(&svc.doctor().0, "dns")["status"], "pass");
}

#[test]
fn the_doctor_reports_https_when_traefik_is_stopped() {
    let lab = Lab::shared();
    let _only = lab.exclusive();
    let svc = Service::deploy(lab, "public", "notraefik", &[]);
    lab.ctl(&["stop", "traefik"]);
    let (report, code) = svc.doctor();
    let waited = svc.run(&["--wait", "--timeout", "4s"]);
    lab.ctl(&["start", "traefik"]);
    assert_eq!(code, Some(1), "{report:#}");
    let https = check(&report, "https");
    assert_eq!(https["status"], "fail", "{report:#}");
    // The public name leads to the router's public address, which forwards
    // to MetalLB's address, where nothing answers now.
    let public_ip = lab.var("WILDRUN_LAB_PUBLIC_IP");
    let seen = found(https);
    assert!(
        seen.contains(&format!("cannot connect to {public_ip}:443")),
        "{https:#}"
    );
    assert!(
        https["hint"]
            .as_str()
            .unwrap_or("")
            .contains("is Traefik running"),
        "{https:#}"
    );
    // --wait names the link it gave up on.
    assert_eq!(waited.status.code(), Some(1), "{}", text(&waited));
    let stderr = String::from_utf8_lossy(&waited.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: timed out after 4s waiting for HTTPS {}: cannot connect to {public_ip}:443",
            svc.url(),
        )),
        "{stderr}"
    );
    lab.eventually("Traefik serving again", Duration::from_secs(30), || {
        (lab.https_get(&svc.url(), &[]).0 == 200).then_some(())
    });
}

#[test]
fn the_doctor_reports_load_balancer_when_the_pool_is_exhausted() {
    let lab = Lab::shared();
    let _only = lab.exclusive();
    let svc = Service::deploy(lab, "public", "nopool", &[]);
    // The pool shrinks to one address, which another LoadBalancer Service
    // takes: Traefik's address is no longer in any pool and none is free.
    let pool = lab.kubectl_ok(&[
        "-n",
        "metallb-system",
        "get",
        "ipaddresspool",
        "lab",
        "-o",
        "jsonpath={.spec.addresses[0]}",
    ]);
    let squatter = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: squatter, namespace: {ns}}}\n\
         spec: {{type: LoadBalancer, selector: {{app: none}}, ports: [{{port: 443}}]}}\n",
        ns = svc.name
    );
    lab.kubectl_stdin(&["apply", "-f", "-"], &squatter);
    lab.kubectl_ok(&[
        "-n",
        "metallb-system",
        "patch",
        "ipaddresspool",
        "lab",
        "--type",
        "merge",
        "-p",
        &format!(
            r#"{{"spec":{{"addresses":["{}/32"]}}}}"#,
            pool_address(lab, 1)
        ),
    ]);
    let traefik_ip = || {
        lab.kubectl_ok(&[
            "-n",
            "traefik",
            "get",
            "service",
            "traefik",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ])
    };
    lab.eventually(
        "MetalLB withdrawing Traefik's address",
        Duration::from_secs(30),
        || traefik_ip().is_empty().then_some(()),
    );
    let (report, code) = svc.doctor();

    lab.kubectl_ok(&["-n", &svc.name, "delete", "service", "squatter"]);
    lab.kubectl_ok(&[
        "-n",
        "metallb-system",
        "patch",
        "ipaddresspool",
        "lab",
        "--type",
        "merge",
        "-p",
        &format!(r#"{{"spec":{{"addresses":["{pool}"]}}}}"#),
    ]);
    lab.eventually(
        "MetalLB giving Traefik its address back",
        Duration::from_secs(30),
        || (traefik_ip() == lab.lb_ip()).then_some(()),
    );

    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(
        check(&report, "load-balancer")["status"],
        "fail",
        "{report:#}"
    );
}

#[test]
fn the_doctor_reports_a_wrong_middleware_range() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy(lab, "internal", "badrange", &[]);
    lab.kubectl_ok(&[
        "-n",
        &svc.name,
        "patch",
        "middleware.traefik.io",
        "internal-only",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"ipAllowList":{"sourceRange":["192.0.2.0/24"]}}}"#,
    ]);
    let (report, code) = svc.doctor();
    assert_eq!(code, Some(1), "{report:#}");
    let ranges = check(&report, "middleware-ranges");
    assert_eq!(ranges["status"], "fail", "{report:#}");
    assert!(found(ranges).contains("192.0.2.0/24"), "{ranges:#}");
    // Traefik enforces the range it was given (once its provider has
    // reloaded, within a few seconds): the request is refused now.
    lab.eventually("Traefik refusing the node", Duration::from_secs(20), || {
        (lab.https_get(&svc.url(), &[]).0 == 403).then_some(())
    });
}

/// The lab's public Gateway deleted while it lives; `wildrun
/// scripts/cluster.rhai --set ingress.api=gateway` makes it again on drop.
struct WithoutPublicGateway(&'static Lab);

impl WithoutPublicGateway {
    fn new(lab: &'static Lab) -> Self {
        let _ = lab.kubectl(&[
            "-n",
            "traefik",
            "delete",
            "gateway",
            "public",
            "--ignore-not-found",
        ]);
        // Traefik drops the listener's certificate in its own time (its
        // providers' throttle): until then it still answers every host
        // under the domain with the wildcard.
        let host = format!("no-such-host.{}", lab.domain());
        let resolve = format!("{host}:443:{}", lab.lb_ip());
        let url = format!("https://{host}/");
        lab.eventually(
            "Traefik no longer serves the public Gateway's wildcard",
            Duration::from_secs(30),
            || {
                let (_, said) = lab.https_get(&url, &["--resolve", &resolve]);
                said.contains("curl exit Some(60)").then_some(())
            },
        );
        WithoutPublicGateway(lab)
    }
}

impl Drop for WithoutPublicGateway {
    fn drop(&mut self) {
        let out = self
            .0
            .command(env!("CARGO_BIN_EXE_wildrun"))
            .current_dir(common::cluster::repo_root())
            .args(["scripts/cluster.rhai", "--set", "ingress.api=gateway"])
            .output()
            .expect("run scripts/cluster.rhai");
        if !out.status.success() {
            eprintln!("putting the public Gateway back failed: {}", text(&out));
        }
    }
}

#[test]
fn the_doctor_reports_a_certificate_whose_issuer_does_not_exist() {
    let lab = Lab::shared();
    // Exclusive: Traefik picks a certificate by SNI from every TLS Secret it
    // serves, so while another public service runs it would answer this host
    // with that service's wildcard instead of its own default certificate.
    let _only = lab.exclusive();
    // The lab's public Gateway (tests/gateway.rs) serves the wildcard too:
    // taken away meanwhile, put back by the layer.
    let _gateway = WithoutPublicGateway::new(lab);
    // A wildcard Certificate whose ClusterIssuer does not exist, as a layer
    // set up with a misspelt issuer has it: cert-manager never issues it.
    let name = unique_name("noissuer");
    let secret = format!("{name}-tls");
    apply_wildcard_certificate(lab, &name, &secret, "no-such-issuer");
    let set_secret = format!("tls.publicSecret={secret}");
    let svc = Service::deploy_no_wait(lab, "public", "noissuer", &["--set", &set_secret]);
    let (report, code) = svc.doctor();
    let _ = lab.kubectl(&[
        "-n",
        "cert-manager",
        "delete",
        "certificate",
        &name,
        "--wait=false",
    ]);
    assert_eq!(code, Some(1), "{report:#}");
    let certificate = check(&report, "certificate");
    assert_eq!(certificate["status"], "fail", "{report:#}");
    assert!(found(certificate).contains("not Ready"), "{certificate:#}");
    // Without the Secret, Traefik serves its own default certificate.
    let https = check(&report, "https");
    assert_eq!(https["status"], "fail", "{report:#}");
    assert!(found(https).contains("does not verify"), "{https:#}");
}

#[test]
fn wait_copies_the_secret_cert_manager_issues_meanwhile() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // A wildcard Certificate of its own whose issuer does not exist yet, as
    // on a cluster whose layer is still being set up: the run skips the copy,
    // and once the issuer appears and cert-manager issues, the wait makes it.
    let name = unique_name("fresh");
    let issuer = format!("{name}-issuer");
    let secret = format!("{name}-tls");
    apply_wildcard_certificate(lab, &name, &secret, &issuer);
    let set_secret = format!("tls.publicSecret={secret}");
    let svc = Service {
        lab,
        recipe: "public",
        name: unique_name("waitcopy"),
        extra: vec!["--set".into(), set_secret],
    };
    let child = lab
        .command(env!("CARGO_BIN_EXE_wildrun"))
        .current_dir(common::cluster::repo_root())
        .args(["scripts/public.rhai", "--name", &svc.name])
        .args(&svc.extra)
        .args(["--wait", "--timeout", WAIT])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run wildrun in the lab");
    // The run has checked its plan (the copy skipped) once its Ingress exists.
    lab.eventually(
        "the run applying its Ingress",
        Duration::from_secs(30),
        || {
            lab.kubectl(&["-n", &svc.name, "get", "ingress", &svc.name])
                .status
                .success()
                .then_some(())
        },
    );
    lab.kubectl_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\n\
             metadata: {{name: {issuer}}}\nspec: {{ca: {{secretName: lab-ca}}}}\n"
        ),
    );
    let out = child.wait_with_output().expect("wildrun ends");
    for (kind, object) in [("certificate", name.as_str()), ("secret", secret.as_str())] {
        let _ = lab.kubectl(&["-n", "cert-manager", "delete", kind, object, "--wait=false"]);
    }
    let _ = lab.kubectl(&["delete", "clusterissuer", &issuer, "--wait=false"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    let host = svc.host();
    for expected in [
        format!("skipped    Secret {}/{secret}", svc.name),
        "now that cert-manager has issued it".to_string(),
        format!("✓ HTTPS https://{host}/: 200 "),
        "the service answers".to_string(),
    ] {
        assert!(err.contains(&expected), "stderr lacks {expected:?}:\n{err}");
    }
    let copied_from = lab.kubectl_ok(&[
        "-n",
        &svc.name,
        "get",
        "secret",
        &secret,
        "-o",
        "jsonpath={.metadata.annotations.wildrun\\.dev/copied-from}",
    ]);
    assert_eq!(copied_from, format!("cert-manager/{secret}"));
}

#[test]
fn each_externaldns_reads_the_prefix_it_is_configured_for() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // Only the alpha prefix: the public zone's ExternalDNS (v0.22 on its
    // default prefix) ignores the target and writes an A record to the
    // Ingress status address instead of the CNAME.
    let alpha = "dns.annotationPrefix=external-dns.alpha.kubernetes.io/";
    let public = Service::deploy_no_wait(lab, "public", "alphapub", &["--set", alpha]);
    let host = public.host();
    let a = lab.eventually(
        "ExternalDNS writing some record",
        Duration::from_secs(30),
        || {
            let a = lab.dig_answer(&host, "A");
            (!a.is_empty()).then_some(a)
        },
    );
    assert!(
        lab.dig(&host, "CNAME").is_empty(),
        "a CNAME although the target was ignored: {a:?}"
    );
    let (report, _) = public.doctor();
    assert_eq!(
        check(&report, "externaldns-prefix")["status"],
        "fail",
        "{report:#}"
    );
    assert!(
        check(&report, "externaldns-prefix")["hint"]
            .as_str()
            .unwrap_or("")
            .contains("dns.annotationPrefix"),
        "{report:#}"
    );

    // The internal zone's ExternalDNS is pinned to the alpha prefix: the same
    // setting gives the right A record there.
    let internal = Service::deploy(lab, "internal", "alphaint", &["--set", alpha]);
    assert_eq!(
        lab.dig(&internal.host(), "A"),
        vec![lab.lb_ip().to_string()]
    );
}

#[test]
fn an_internal_service_asked_from_outside_its_ranges_answers_403_as_expected() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // The ranges hold the LAN client only, not the node wildrun asks from:
    // Traefik refuses it, which is what an internal service should do, and
    // what --wait and the doctor accept as an answer, saying who asked.
    let svc = Service::deploy(lab, "internal", "outside", &ADMIT_LAN_CLIENT);
    let (status, body) = lab.https_get(&svc.url(), &[]);
    assert_eq!(status, 403, "{body}");
    let (report, code) = svc.doctor();
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    let https = check(&report, "https");
    let seen = found(https);
    assert!(
        seen.contains(": 403 ") && seen.contains(&format!("from {NODE_LAN}")),
        "{https:#}"
    );
    assert!(
        seen.contains("outside cluster.internalSourceRanges, so 403 is the allowlist at work"),
        "{https:#}"
    );
    // Asked from inside the ranges the configuration names, the same 403 is a failure.
    let (report, code) = lab.doctor(&[
        "--name",
        &svc.name,
        "--set",
        "cluster.internalSourceRanges=192.168.8.0/24",
    ]);
    assert_eq!(code, Some(1), "{report:#}");
    let https = check(&report, "https");
    assert_eq!(https["status"], "fail", "{report:#}");
    assert!(
        found(https).contains(&format!("Traefik refused {NODE_LAN}, which is inside")),
        "{https:#}"
    );
    // The node's request reached Traefik masqueraded (the Service is Local):
    // the hint says so first, not to set the policy it already has.
    assert!(
        https["hint"].as_str().is_some_and(|h| h.contains(&format!(
            "than {NODE_LAN}: asked from a cluster node, kube-proxy masquerades"
        ))),
        "{https:#}"
    );
}

#[test]
fn an_internal_service_that_lets_an_outsider_in_fails_wait_and_the_doctor() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // Deployed with a middleware that admits the address Traefik sees for
    // the node's requests, and answering the node: the answer stays 200
    // whenever Traefik loads the recipe's middleware below.
    let svc = Service::deploy_no_wait(
        lab,
        "internal",
        "letin",
        &[
            "--set",
            &format!("cluster.internalSourceRanges={NODE_BRIDGE}/32"),
        ],
    );
    lab.eventually(
        "the service answering the node",
        Duration::from_secs(60),
        || (lab.https_get(&svc.url(), &[]).0 == 200).then_some(()),
    );
    // The same service by a recipe whose middleware admits that address
    // while the configuration's ranges do not hold the node: every link
    // but the last holds at once, and the answer to the node is an
    // outsider let in.
    let out = lab.wildrun(&[
        "tests/fixtures/outsider-let-in/internal.rhai",
        "--name",
        &svc.name,
        ADMIT_LAN_CLIENT[0],
        ADMIT_LAN_CLIENT[1],
        "--wait",
        "--timeout",
        "15s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--wait must not succeed: {}",
        text(&out)
    );
    let let_in = format!("{NODE_LAN} is outside cluster.internalSourceRanges and was let in");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: timed out after 15s waiting for HTTPS https://{}/: 200 ",
            svc.host()
        )),
        "{}",
        text(&out)
    );
    assert!(last.contains(&let_in), "{}", text(&out));
    // The doctor says the same of it, with the same configuration.
    let (report, code) = lab.doctor(&[
        "--name",
        &svc.name,
        ADMIT_LAN_CLIENT[0],
        ADMIT_LAN_CLIENT[1],
    ]);
    assert_eq!(code, Some(1), "{report:#}");
    let https = check(&report, "https");
    assert_eq!(https["status"], "fail", "{report:#}");
    assert!(found(https).contains(&let_in), "{https:#}");
}

#[test]
fn try_deploys_hello_and_prints_a_curl_that_answers() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // README: "No cluster at hand?" runs tests/cluster/try as it is.
    let out = std::process::Command::new(common::cluster::repo_root().join("tests/cluster/try"))
        .env("WILDRUN_LAB_DIR", lab.dir())
        .env("WILDRUN_BIN", env!("CARGO_BIN_EXE_wildrun"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tests/cluster/try");
    // The printed command, run as a user would paste it.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let curl = stdout
        .lines()
        .find(|l| l.starts_with("ip netns exec "))
        .unwrap_or_default()
        .to_string();
    let ran = std::process::Command::new("bash")
        .args(["-c", &curl])
        .output()
        .expect("run the printed curl");
    let _ = lab.wildrun(&["scripts/public.rhai", "--name", "hello", "--delete"]);

    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Ingress hello/hello"), "{stderr}");
    assert!(
        curl.starts_with("ip netns exec ") && curl.contains(" curl --cacert "),
        "{stdout}"
    );
    assert!(ran.status.success(), "{curl}: {}", text(&ran));
    assert_eq!(
        backend_said(&String::from_utf8_lossy(&ran.stdout), "host"),
        format!("hello.{}", lab.domain())
    );
    // It ends by asking from the internet client, through the router's
    // public address, then from the LAN client: both answered by the pod.
    let asked: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[try] from the "))
        .collect();
    assert_eq!(
        asked,
        [
            format!(
                "internet client ({}):",
                lab.var("WILDRUN_LAB_INTERNET_NETNS")
            ),
            format!("LAN client ({}):", lab.var("WILDRUN_LAB_LAN_NETNS"))
        ],
        "{stderr}"
    );
    let answers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("client=") || l.starts_with("HTTP "))
        .collect();
    assert_eq!(
        answers,
        [
            format!("client={INTERNET_CLIENT}").as_str(),
            "HTTP 200",
            format!("client={LAN_CLIENT}").as_str(),
            "HTTP 200"
        ],
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------
// The visibility layer itself (scripts/cluster.rhai). The lab applies its
// layer by running `wildrun scripts/cluster.rhai` (tests/cluster/lab/wildrun-layer.sh,
// configuration $WILDRUN_CONFIG): these tests show that the lab's controllers
// acted on what wildrun wrote, that the ExternalDNS process runs as the
// Deployment wildrun wrote says, and `doctor --layer` on the real thing.
// ---------------------------------------------------------------------------

/// `kubectl get ARGS -o json` in the lab.
fn layer_get(lab: &Lab, args: &[&str]) -> Value {
    lab.get_json(args)
}

/// Asserts `obj` carries the layer's instance label.
fn assert_layer_made(obj: &Value) {
    let labels = &obj["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "wildrun", "{obj:#}");
    assert_eq!(labels["wildrun.dev/instance"], "cluster", "{obj:#}");
}

fn ready(obj: &Value) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// `wildrun scripts/doctor.rhai --layer --json ARGS`: the report and exit code.
fn layer_doctor(lab: &Lab, extra: &[&str]) -> (Value, Option<i32>) {
    lab.doctor(&[&["--layer"][..], extra].concat())
}

#[test]
fn layer_metallb_assigns_traefik_its_address_from_the_pool_wildrun_wrote() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let pool = layer_get(lab, &["-n", "metallb-system", "ipaddresspool", "lab"]);
    assert_layer_made(&pool);
    assert_eq!(
        pool["spec"]["addresses"],
        serde_json::json!([format!("{}-{}", lab.lb_ip(), pool_address(lab, 3))])
    );
    let l2 = layer_get(lab, &["-n", "metallb-system", "l2advertisement", "lab"]);
    assert_layer_made(&l2);
    assert_eq!(l2["spec"]["ipAddressPools"], serde_json::json!(["lab"]));

    // Traefik's Service was made by the lab ("its chart"): wildrun set only
    // the annotation, under a field manager of its own, and no labels.
    let svc = layer_get(
        lab,
        &[
            "-n",
            "traefik",
            "service",
            "traefik",
            "--show-managed-fields",
        ],
    );
    assert_eq!(
        svc["metadata"]["annotations"]["metallb.io/loadBalancerIPs"],
        lab.lb_ip()
    );
    assert_eq!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"],
        lab.lb_ip()
    );
    assert!(
        svc["metadata"]["labels"]["wildrun.dev/instance"].is_null(),
        "{svc:#}"
    );
    let managers = svc["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let patch = managers
        .iter()
        .find(|m| m["manager"] == "wildrun-patch")
        .unwrap_or_else(|| panic!("no field manager wildrun-patch: {managers:#?}"));
    let owned = patch["fieldsV1"].to_string();
    assert!(owned.contains("f:metallb.io/loadBalancerIPs"), "{owned}");
    // Of the spec, only the policy that keeps client addresses.
    assert_eq!(
        patch["fieldsV1"]["f:spec"],
        json!({"f:externalTrafficPolicy": {}}),
        "wildrun-patch owns more than the annotation and the policy: {owned}"
    );
    assert_eq!(svc["spec"]["externalTrafficPolicy"], "Local");
    assert!(
        !managers.iter().any(|m| m["manager"] == "wildrun"),
        "{managers:#?}"
    );
}

#[test]
fn layer_cert_manager_issues_both_wildcards_from_the_issuer_wildrun_wrote() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let issuer = layer_get(lab, &["clusterissuer", "ca"]);
    assert_layer_made(&issuer);
    assert_eq!(issuer["spec"]["ca"]["secretName"], "lab-ca");
    assert!(ready(&issuer), "{issuer:#}");
    for (name, domain) in [
        ("wildcard-wild-cloud", lab.domain().to_string()),
        ("wildcard-internal-wild-cloud", lab.internal_domain()),
    ] {
        let cert = layer_get(lab, &["-n", "cert-manager", "certificate", name]);
        assert_layer_made(&cert);
        assert_eq!(cert["spec"]["issuerRef"]["name"], "ca");
        assert!(ready(&cert), "{cert:#}");
        let secret = layer_get(
            lab,
            &["-n", "cert-manager", "secret", &format!("{name}-tls")],
        );
        let annotations = &secret["metadata"]["annotations"];
        assert_eq!(annotations["cert-manager.io/issuer-name"], "ca");
        assert_eq!(
            annotations["cert-manager.io/alt-names"],
            format!("*.{domain},{domain}")
        );
    }
}

#[test]
fn layer_externaldns_runs_as_the_deployment_wildrun_wrote_says() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let dep = layer_get(lab, &["-n", "external-dns", "deployment", "external-dns"]);
    assert_layer_made(&dep);
    let container = &dep["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<String> = container["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for wanted in [
        "--provider=rfc2136",
        "--source=ingress",
        "--txt-owner-id=wildrun-lab",
        "--events",
        "--annotation-prefix=external-dns.kubernetes.io/",
        "--rfc2136-tsig-keyname=wildrun-lab",
    ] {
        assert!(args.iter().any(|a| a == wanted), "{wanted} not in {args:?}");
    }
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "lab-tsig", "key": "tsig-secret"})
    );
    // The process: the same args, plus its kubeconfig and the TSIG secret
    // (which the Deployment takes from the Secret).
    let cmd =
        std::fs::read(lab.dir().join("cmd/external-dns")).expect("the process's command line");
    let argv: Vec<String> = cmd
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let mut process: Vec<String> = Vec::new();
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--kubeconfig" {
            it.next();
        } else if !a.starts_with("--rfc2136-tsig-secret=") {
            process.push(a.clone());
        }
    }
    assert_eq!(process, args);
}

#[test]
fn layer_runs_again_without_creating_anything_and_the_doctor_is_green() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // A service, so ExternalDNS has records whose ownership to check.
    let svc = Service::deploy(lab, "public", "layerok", &[]);
    let out = lab.wildrun(&["scripts/cluster.rhai"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cluster: 0 created"), "{stderr}");

    // Services other tests deploy meanwhile may not have their records yet:
    // every other check passes, and this service's record is owned.
    let (report, _) = layer_doctor(lab, &[]);
    let others: Vec<String> = not_passed(&report)
        .into_iter()
        .filter(|c| !c.starts_with("\"externaldns-owner\""))
        .collect();
    assert_eq!(others, Vec::<String>::new(), "{report:#}");
    let owner = check(&report, "externaldns-owner");
    let seen = found(owner);
    assert!(
        !seen.contains(&svc.host()) && (owner["status"] == "fail" || seen.contains("wildrun-lab")),
        "{owner:#}"
    );
    assert!(
        found(check(&report, "traefik-address")).contains(&format!("has {}", lab.lb_ip())),
        "{report:#}"
    );

    // The certificates have about 90 days: asking for more fails both, with a fix.
    let (report, code) = layer_doctor(lab, &["--days", "365"]);
    assert_eq!(code, Some(1), "{report:#}");
    for name in ["certificate-public", "certificate-internal"] {
        let c = check(&report, name);
        assert_eq!(c["status"], "fail", "{report:#}");
        let hint = c["hint"].as_str().unwrap_or("");
        assert!(hint.contains("renewal"), "{c:#}");
        // The command the fix names runs as printed.
        let command = hint
            .split_once("kubectl ")
            .map(|(_, rest)| rest.split(';').next().unwrap_or(rest))
            .unwrap_or_else(|| panic!("no kubectl command in {c:#}"));
        let words: Vec<&str> = command.split_whitespace().collect();
        let out = lab.kubectl(&words);
        assert!(out.status.success(), "kubectl {command}: {}", text(&out));
    }
    drop(svc);
}

#[test]
fn layer_delete_is_refused_while_a_service_uses_it() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy_no_wait(lab, "public", "layeruse", &[]);
    let out = lab.wildrun(&["scripts/cluster.rhai", "--delete"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the visibility layer is in use by")
            && stderr.contains(&format!("public.{}", svc.name)),
        "{stderr}"
    );
    // Nothing was deleted.
    layer_get(lab, &["-n", "metallb-system", "ipaddresspool", "lab"]);
    layer_get(lab, &["clusterissuer", "ca"]);
}

#[test]
fn layer_doctor_names_an_old_metallb_annotation_and_its_replacement() {
    let lab = Lab::shared();
    let _only = lab.exclusive();
    let old = "metallb.universe.tf/loadBalancerIPs";
    lab.kubectl_ok(&[
        "-n",
        "traefik",
        "annotate",
        "service",
        "traefik",
        &format!("{old}={}", lab.lb_ip()),
    ]);
    let (report, code) = layer_doctor(lab, &[]);
    lab.kubectl_ok(&[
        "-n",
        "traefik",
        "annotate",
        "service",
        "traefik",
        &format!("{old}-"),
    ]);
    assert_eq!(code, Some(1), "{report:#}");
    let c = check(&report, "current-apis");
    assert_eq!(c["status"], "fail", "{report:#}");
    let seen = found(c);
    assert!(
        seen.contains(&format!("Service traefik/traefik: {old}"))
            && seen.contains("use metallb.io/loadBalancerIPs"),
        "{c:#}"
    );
    // Only that check fails: the layer is otherwise healthy (records of
    // services other tests deploy meanwhile may still be on their way).
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["status"] == "fail" && c["name"] != "externaldns-owner")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(failed.len(), 1, "{failed:#?}");
}

/// Where a doctor runs: on the node, whose resolver gives the public view
/// (a public host is a CNAME to the apex, the router's public address), or
/// on the LAN client, whose resolver answers the whole domain with
/// MetalLB's address (split horizon).
#[derive(Clone, Copy)]
enum Asker {
    Node,
    Lan,
}

/// An app deployed with kubectl, as other tools deploy them: its own names
/// and labels, no wildrun label. Its namespace is deleted on drop.
struct ForeignApp {
    lab: &'static Lab,
    name: String,
}

impl ForeignApp {
    /// The namespace `name`, a Deployment whose container port is named
    /// `http` (8080, where the lab's backend answers), and a kubectl-made
    /// copy of the public wildcard Secret.
    fn new(lab: &'static Lab, prefix: &str) -> ForeignApp {
        let app = ForeignApp {
            lab,
            name: unique_name(prefix),
        };
        let name = &app.name;
        app.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {name}}}\n\
             spec:\n  selector: {{matchLabels: {{app.kubernetes.io/name: {name}}}}}\n  template:\n\
             \x20   metadata: {{labels: {{app.kubernetes.io/name: {name}}}}}\n\
             \x20   spec: {{containers: [{{name: {name}, image: example.org/app:1.0, ports: [{{name: http, containerPort: 8080}}]}}]}}\n"
        ));
        // The copy other tools make: kubectl get | sed | kubectl apply.
        let source: Value = serde_json::from_str(&lab.kubectl_ok(&[
            "-n",
            "cert-manager",
            "get",
            "secret",
            "wildcard-wild-cloud-tls",
            "-o",
            "json",
        ]))
        .expect("the wildcard Secret as JSON");
        let copy = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": source["type"],
            "metadata": {"name": "wildcard-wild-cloud-tls", "namespace": name}, "data": source["data"]});
        app.apply(&copy.to_string());
        app
    }

    fn apply(&self, manifest: &str) {
        self.lab.kubectl_stdin(&["apply", "-f", "-"], manifest);
    }

    /// `scripts/doctor.rhai ARGS --json` on the node: its report and exit code.
    fn doctor(&self, args: &[&str]) -> (Value, Option<i32>) {
        self.doctor_from(Asker::Node, args)
    }

    /// `scripts/doctor.rhai ARGS --json` run by `asker`.
    fn doctor_from(&self, asker: Asker, args: &[&str]) -> (Value, Option<i32>) {
        let mut all = vec!["scripts/doctor.rhai"];
        all.extend(args);
        all.push("--json");
        let out = match asker {
            Asker::Node => self.lab.wildrun(&all),
            Asker::Lan => self.lab.wildrun_on_lan(&all),
        };
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}): {}", text(&out)));
        (report, out.status.code())
    }

    /// The doctor, run by `asker`, once the controllers have caught up:
    /// green within a minute.
    fn doctor_green(&self, asker: Asker, args: &[&str]) -> Value {
        let mut last = Value::Null;
        let green = (0..60).any(|_| {
            let (report, code) = self.doctor_from(asker, args);
            last = report;
            if code == Some(0) {
                return true;
            }
            std::thread::sleep(Duration::from_secs(1));
            false
        });
        assert!(green, "not green within a minute: {last:#}");
        last
    }
}

impl Drop for ForeignApp {
    fn drop(&mut self) {
        let _ = self
            .lab
            .kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

/// Names of the checks that failed.
fn failed(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c["status"] == "fail")
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that the doctor fails `check` (its finding naming `found`),
/// and nothing else but the request itself.
fn assert_red(app: &ForeignApp, args: &[&str], check_name: &str, found_text: &str) {
    let (report, code) = app.lab.eventually(
        &format!("the doctor failing {check_name}"),
        Duration::from_secs(30),
        || {
            let (report, code) = app.doctor(args);
            failed(&report)
                .contains(&check_name.to_string())
                .then_some((report, code))
        },
    );
    assert_eq!(code, Some(1), "{report:#}");
    let others: Vec<String> = failed(&report)
        .into_iter()
        .filter(|n| n != check_name && n != "https")
        .collect();
    assert!(others.is_empty(), "other checks failed too: {report:#}");
    assert!(
        found(check(&report, check_name)).contains(found_text),
        "{report:#}"
    );
}

#[test]
fn the_doctor_follows_a_host_through_an_ingress_named_otherwise() {
    let lab = Lab::shared();
    // Alone: its ipWhiteList Middleware fails the layer doctor's
    // `current-apis` check that another test expects green meanwhile.
    let _alone = lab.exclusive();
    // As gitea is deployed: Ingress <app>-public → Service <app>-http on a
    // named port → the container port named http; the class by annotation;
    // no ExternalDNS annotation (ExternalDNS publishes Traefik's address
    // from the Ingress's status).
    let app = ForeignApp::new(lab, "gitlike");
    let name = app.name.clone();
    let host = format!("{name}.{}", lab.domain());
    // Service <app>-http, port web (3000) to `target` in the pods.
    let service = |target: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}-http, namespace: {name}}}\n\
             spec: {{selector: {{app.kubernetes.io/name: {name}}}, ports: [{{name: web, port: 3000, targetPort: {target}}}]}}\n"
        )
    };
    app.apply(&service("http"));
    app.apply(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\n\
         metadata: {{name: {name}-public, namespace: {name}, annotations: {{kubernetes.io/ingress.class: traefik}}}}\n\
         spec:\n  tls: [{{hosts: ['{host}'], secretName: wildcard-wild-cloud-tls}}]\n\
         \x20 rules: [{{host: '{host}', http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {name}-http, port: {{name: web}}}}}}}}]}}}}]\n"
    ));
    let args = ["--host", &host];
    let report = app.doctor_green(Asker::Node, &args);
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(report["route"], format!("Ingress {name}/{name}-public"));
    assert_eq!(
        found(check(&report, "ingress-class")),
        "class traefik (annotation kubernetes.io/ingress.class)"
    );
    assert!(
        found(check(&report, "target-port"))
            .starts_with("port web → targetPort http → container port 8080"),
        "{report:#}"
    );
    let https = found(check(&report, "https"));
    assert!(
        https.contains(": 200 ") && https.contains("the Secret's certificate"),
        "{https}"
    );

    // A wrong targetPort: the Service sends to a port no container has.
    app.apply(&service("9999"));
    assert_red(
        &app,
        &args,
        "target-port",
        "targetPort 9999, which no container of the pods declares",
    );
    app.apply(&service("http"));

    // The deprecated ipWhiteList, in the route's middlewares.
    app.apply(&format!(
        "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {{name: lan, namespace: {name}}}\n\
         spec: {{ipWhiteList: {{sourceRange: [127.0.0.0/8]}}}}\n"
    ));
    lab.kubectl_ok(&[
        "-n",
        &name,
        "annotate",
        "ingress",
        &format!("{name}-public"),
        &format!("traefik.ingress.kubernetes.io/router.middlewares={name}-lan@kubernetescrd"),
    ]);
    assert_red(
        &app,
        &args,
        "middlewares",
        "ipWhiteList is ipAllowList in Traefik v3",
    );
    lab.kubectl_ok(&[
        "-n",
        &name,
        "annotate",
        "ingress",
        &format!("{name}-public"),
        "traefik.ingress.kubernetes.io/router.middlewares-",
    ]);

    // The TLS Secret copy missing.
    lab.kubectl_ok(&["-n", &name, "delete", "secret", "wildcard-wild-cloud-tls"]);
    assert_red(
        &app,
        &args,
        "tls-secret",
        &format!("no Secret {name}/wildcard-wild-cloud-tls"),
    );
}

/// `doctor --instance` on a fork whose objects are named as gitea's
/// (tests/fixtures/gitea-fork.rhai), deployed with `--wait`: it finds
/// them by their label, and is green through the real controllers, the
/// request included.
#[test]
fn the_doctor_checks_a_fork_by_its_instance() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy(
        lab,
        "../tests/fixtures/gitea-fork",
        "gitfork",
        &["--port", "8080"],
    );
    let name = svc.name.clone();
    let instance = format!("gitea-fork.{name}");
    // From the node, which sees the public view: the host is a CNAME to
    // the apex, the router's public address, which forwards to Traefik.
    let report = lab.eventually(
        &format!("doctor --instance {instance} green"),
        Duration::from_secs(60),
        || {
            let out = lab.wildrun(&["scripts/doctor.rhai", "--instance", &instance, "--json"]);
            let report: Value = serde_json::from_slice(&out.stdout).ok()?;
            (out.status.code() == Some(0)).then_some(report)
        },
    );
    assert_eq!(
        report["objects"],
        serde_json::json!([
            format!("Ingress {name}/gitea-public"),
            format!("Service {name}/gitea-http"),
            format!("Deployment {name}/gitea")
        ]),
        "{report:#}"
    );
    let host = &report["hosts"][0];
    assert_eq!(host["host"], svc.host());
    assert_eq!(host["route"], format!("Ingress {name}/gitea-public"));
    let https = found(check(host, "https"));
    assert!(https.contains(": 200 "), "{report:#}");
    let dns = found(check(host, "dns"));
    assert!(
        dns.contains(&format!("(a CNAME to {})", lab.domain()))
            && dns.contains(&format!(
                "is {}'s address, the way in from outside, which must forward port 443 to Traefik",
                lab.domain()
            )),
        "{dns}"
    );
    // Gone, and gone from Traefik too before another test holds the lab
    // alone: its copy of the wildcard Secret would still be served there.
    let url = svc.url();
    drop(svc);
    lab.eventually("Traefik forgets the fork", Duration::from_secs(30), || {
        (lab.https_get(&url, &[]).0 != 200).then_some(())
    });
}

#[test]
fn the_doctor_follows_a_url_through_an_ingress_route() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // An IngressRoute on the internal domain itself (its address, MetalLB's,
    // is in DNS; the public wildcard covers it), under a path of its own,
    // through a chain of middlewares holding an allowlist that admits the
    // LAN, asked from the LAN client (see Asker).
    let app = ForeignApp::new(lab, "routed");
    let name = app.name.clone();
    let domain = lab.internal_domain();
    app.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {name}}}\n\
         spec: {{selector: {{app.kubernetes.io/name: {name}}}, ports: [{{name: web, port: 80, targetPort: 8080}}]}}\n---\n\
         apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {{name: lan, namespace: {name}}}\n\
         spec: {{ipAllowList: {{sourceRange: [192.168.8.0/24]}}}}\n---\n\
         apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {{name: secure, namespace: {name}}}\n\
         spec: {{chain: {{middlewares: [{{name: lan}}]}}}}\n---\n\
         apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {{name: {name}, namespace: {name}}}\n\
         spec:\n  entryPoints: [websecure]\n  tls: {{secretName: wildcard-wild-cloud-tls}}\n\
         \x20 routes: [{{kind: Rule, match: 'Host(`{domain}`) && PathPrefix(`/{name}`)', middlewares: [{{name: secure}}],\n\
         \x20           services: [{{name: {name}, port: web}}]}}]\n"
    ));
    let url = format!("https://{domain}/{name}/");
    let args = ["--url", &url];
    let report = app.doctor_green(Asker::Lan, &args);
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(report["route"], format!("IngressRoute {name}/{name}"));
    assert_eq!(report["path"], format!("/{name}/"));
    assert_eq!(report["visibility"], "internal", "{report:#}");
    assert_eq!(
        found(check(&report, "middlewares")),
        format!("{name}/secure (chain: {name}/lan (ipAllowList 192.168.8.0/24))")
    );
    let https = found(check(&report, "https"));
    assert!(
        https.contains(": 200 ") && https.contains("inside the allowlist's sourceRange"),
        "{https}"
    );
    // A host nothing routes.
    let (report, code) =
        app.doctor_from(Asker::Lan, &["--host", &format!("nothing-{name}.{domain}")]);
    assert_eq!(code, Some(1));
    assert_eq!(failed(&report), ["route"], "{report:#}");
}

// ---- the network: the internet, the router, the LAN -----------------------------
//
// internet-client 203.0.113.10 → router 203.0.113.1 (DNAT :443 → MetalLB's
// 192.168.8.240) → node (kube-proxy, nftables) → Traefik's pod → the
// backend, which reports the client address Traefik saw (X-Real-Ip).

/// The `client-address` check of `doctor --layer`, run on the node.
fn layer_client_address(lab: &Lab) -> Value {
    let out = lab.wildrun(&["scripts/doctor.rhai", "--layer", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --layer --json printed no JSON ({e}): {}",
            text(&out)
        )
    });
    check(&report, "client-address").clone()
}

#[test]
fn network_the_internet_reaches_a_public_service_through_the_router() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy(lab, "public", "netpub", &[]);
    // Resolved by the public DNS (the router forwards 53 to the zone's
    // server): a CNAME to the apex, the router's public address.
    let internet = lab.var("WILDRUN_LAB_INTERNET_NETNS");
    let (status, body) = lab.https_get_in(internet, &svc.url(), &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(backend_said(&body, "host"), svc.host());
    assert_eq!(backend_said(&body, "client"), INTERNET_CLIENT, "{body}");
    // From the LAN the same name is MetalLB's address (the LAN's resolver
    // answers the whole domain so, split horizon): Traefik sees the LAN
    // client itself.
    let lan = lab.var("WILDRUN_LAB_LAN_NETNS");
    let (status, body) = lab.https_get_in(lan, &svc.url(), &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(backend_said(&body, "client"), LAN_CLIENT, "{body}");
}

#[test]
fn network_an_internal_service_refuses_the_internet_and_serves_the_lan() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy(lab, "internal", "netint", &[]);
    let internet = lab.var("WILDRUN_LAB_INTERNET_NETNS");
    let (status, body) = lab.https_at_public_address(internet, &svc.host());
    assert_eq!(
        status, 403,
        "the internet reached an internal service: {body}"
    );
    // The LAN's resolver answers the internal domain with MetalLB's address
    // (split horizon); the allowlist sees the LAN client itself.
    let lan = lab.var("WILDRUN_LAB_LAN_NETNS");
    let (status, body) = lab.https_get_in(lan, &svc.url(), &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(backend_said(&body, "client"), LAN_CLIENT, "{body}");
}

#[test]
fn network_cluster_policy_leaks_the_doctor_says_so_and_cluster_rhai_mends_it() {
    let lab = Lab::shared();
    let _only = lab.exclusive();
    let svc = Service::deploy(lab, "internal", "netleak", &[]);
    let internet = lab.var("WILDRUN_LAB_INTERNET_NETNS");
    assert_eq!(lab.https_at_public_address(internet, &svc.host()).0, 403);
    assert_eq!(layer_client_address(lab)["status"], "pass");
    let (report, _) = lab.doctor(&["--host", &svc.host(), "--skip", "https"]);
    assert_eq!(
        check(&report, "client-address")["status"],
        "pass",
        "{report:#}"
    );

    // Traefik's Service back at the Kubernetes default: kube-proxy
    // masquerades the internet client to the node, which the allowlist admits.
    lab.kubectl_ok(&[
        "-n",
        "traefik",
        "patch",
        "service",
        "traefik",
        "--field-manager=leak-test",
        "-p",
        r#"{"spec":{"externalTrafficPolicy":"Cluster"}}"#,
    ]);
    let body = lab.eventually("the internet let in", Duration::from_secs(20), || {
        let (status, body) = lab.https_at_public_address(internet, &svc.host());
        (status == 200).then_some(body)
    });
    assert_eq!(backend_said(&body, "client"), NODE_BRIDGE, "{body}");
    let leak = layer_client_address(lab);
    assert_eq!(leak["status"], "fail", "{leak:#}");
    assert!(
        found(&leak).contains("every client looks internal to the internal-only middleware"),
        "{leak:#}"
    );
    let (report, _) = svc.doctor();
    assert_eq!(
        check(&report, "client-address")["status"],
        "fail",
        "{report:#}"
    );
    // So does the doctor for whatever serves the host (behind an allowlist).
    let (report, _) = lab.doctor(&["--host", &svc.host(), "--skip", "https"]);
    let leak = check(&report, "client-address");
    assert_eq!(leak["status"], "fail", "{report:#}");
    assert!(
        found(leak).contains("every client looks internal to the internal-only middleware"),
        "{leak:#}"
    );

    // scripts/cluster.rhai mends it.
    let out = lab.wildrun(&["scripts/cluster.rhai"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("externalTrafficPolicy was Cluster, now Local"),
        "{}",
        text(&out)
    );
    lab.eventually(
        "the internet refused again",
        Duration::from_secs(20),
        || (lab.https_at_public_address(internet, &svc.host()).0 == 403).then_some(()),
    );
    assert_eq!(layer_client_address(lab)["status"], "pass");
}

#[test]
fn network_metallb_answers_arp_for_its_address_from_the_node() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    // No route names MetalLB's address: the LAN client asks for it by ARP,
    // and MetalLB's speaker answers with the node's LAN interface.
    let lan = lab.var("WILDRUN_LAB_LAN_NETNS");
    let (status, body) = lab.https_get_in(lan, &format!("https://{}/", lab.lb_ip()), &["-k"]);
    assert_ne!(
        status,
        0,
        "the LAN client did not reach {}: {body}",
        lab.lb_ip()
    );
    let run = |mut cmd: std::process::Command| {
        let out = cmd.output().expect("run in the lab");
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let mut neigh = lab.command_in(lan, "ip");
    neigh.args(["neigh", "show", lab.lb_ip()]);
    let neigh = run(neigh);
    let mut route = lab.command_in(lan, "ip");
    route.args(["route", "get", lab.lb_ip()]);
    assert!(
        !run(route).contains(" via "),
        "a route, not ARP, reaches it"
    );
    let mut mac = lab.command("cat");
    mac.arg("/sys/class/net/lan0/address");
    let node_mac = run(mac);
    assert!(
        neigh.contains(&format!("lladdr {node_mac}")),
        "{} is not the node's ({node_mac}) on the LAN: {neigh}",
        lab.lb_ip()
    );
}

#[test]
fn network_the_doctor_asked_from_the_lan_client_says_the_lan_client_asked() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let svc = Service::deploy(lab, "internal", "netdoc", &[]);
    // wildrun on the LAN client: the API server at the node's LAN address,
    // names through the LAN's resolver (MetalLB's address, split horizon).
    let out = lab.wildrun_on_lan(&["scripts/doctor.rhai", "--name", &svc.name, "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}): {}", text(&out)));
    assert_eq!(not_passed(&report), Vec::<String>::new(), "{report:#}");
    let https = found(check(&report, "https"));
    assert!(
        https.contains(&format!("from {LAN_CLIENT}")) && https.contains(": 200 "),
        "{https}"
    );
}

#[test]
fn the_commands_a_hint_suggests_end_with_their_clause() {
    assert_eq!(
        common::lab::reading_commands("check the pods (kubectl -n shop get pods -l app=web) and run kubectl apply -f x; see kubectl describe clusterissuer ca: a missing Secret"),
        ["kubectl -n shop get pods -l app=web", "kubectl describe clusterissuer ca"]
    );
}
