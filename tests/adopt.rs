//! wildrun on a cluster whose layer and services other tools made
//! (kubectl, a set-up repository's manifests), on the real control plane:
//! scripts/cluster.rhai finds each part of the layer by what it is, uses
//! what serves the configuration without writing, refuses what conflicts
//! before any write, takes it over with --adopt (names and selectors kept)
//! and releases it with --delete; the service recipes take a byte-identical
//! kubectl copy of the wildcard Secret as theirs, refuse a different one
//! naming kubectl and what differs, and refuse a kubectl-made Ingress or
//! Deployment unless --adopt.
//!
//! The layer's objects are cluster-wide (ClusterIssuers, ExternalDNS found in
//! any namespace): those tests run on a plane of their own, audited, so that
//! the writes wildrun sends are counted.

mod common;

use common::cluster::{unique_name, PrivatePlane};
use common::command::{stderr, text, Wildrun};
use common::{TestCluster, TestNamespace};
use serde_json::{json, Value};
use std::process::Output;

const DOMAIN: &str = "cloud.example.test";
const LB_IP: &str = "192.168.8.240";
const OWNER: &str = "wild-owner";

/// wildrun with `args`, against `cluster`, configured only by `env`.
fn wildrun(cluster: &TestCluster, env: &[(&str, &str)], args: &[&str]) -> Output {
    Wildrun::new()
        .args(args)
        .kubeconfig(cluster.kubeconfig_path())
        .envs(env)
        .output()
}

fn kubectl_ok(cluster: &TestCluster, args: &[&str]) -> String {
    let out = cluster.kubectl(args);
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl apply` (client-side, as set-up scripts run it) of `objects`.
fn kubectl_apply(cluster: &TestCluster, objects: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &list.to_string());
    assert!(out.status.success(), "kubectl apply: {}", text(&out));
}

fn get(cluster: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&kubectl_ok(cluster, &all)).expect("kubectl prints JSON")
}

/// How many writes wildrun has sent to `plane` so far (audit log).
fn writes(plane: &PrivatePlane) -> usize {
    plane
        .wildrun_requests()
        .iter()
        .filter(|e| {
            matches!(
                e["verb"].as_str(),
                Some("create" | "update" | "patch" | "delete")
            ) && !e["objectRef"]["resource"]
                .as_str()
                .is_some_and(|r| r.starts_with("selfsubject"))
        })
        .count()
}

/// The layer a set-up repository's scripts make with kubectl, under their
/// names: MetalLB's `first-pool`, ExternalDNS v0.14.2 in `externaldns`
/// with `app:` labels and its own owner id, Let's Encrypt issuers with
/// their own account keys, both wildcard Certificates, Traefik's
/// LoadBalancer Service holding the address. No wildrun label anywhere.
fn existing_layer(cluster: &TestCluster) {
    for ns in ["metallb-system", "externaldns", "cert-manager", "traefik"] {
        kubectl_ok(cluster, &["create", "namespace", ns]);
    }
    let acme = |name: &str, server: &str| {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": name},
               "spec": {"acme": {"server": server, "email": "ops@wild.test",
                                 "privateKeySecretRef": {"name": name},
                                 "solvers": [{"http01": {"ingress": {"class": "traefik"}}}]}}})
    };
    let certificate = |name: &str, domain: &str| {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": name, "namespace": "cert-manager"},
               "spec": {"secretName": format!("{name}-tls"), "dnsNames": [format!("*.{domain}"), domain],
                        "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}})
    };
    let traefik_labels = json!({"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"});
    kubectl_apply(
        cluster,
        &[
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                   "metadata": {"name": "first-pool", "namespace": "metallb-system"},
                   "spec": {"addresses": ["192.168.8.240-192.168.8.249"]}}),
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                   "metadata": {"name": "l2-advertisement", "namespace": "metallb-system"},
                   "spec": {"ipAddressPools": ["first-pool"]}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "external-dns", "namespace": "externaldns", "labels": {"app": "external-dns"}},
                   "spec": {"selector": {"matchLabels": {"app": "external-dns"}}, "strategy": {"type": "Recreate"},
                            "template": {"metadata": {"labels": {"app": "external-dns"}},
                                         "spec": {"serviceAccountName": "external-dns", "containers": [{
                                             "name": "external-dns",
                                             "image": "registry.k8s.io/external-dns/external-dns:v0.14.2",
                                             "args": ["--source=service", "--source=ingress",
                                                      format!("--txt-owner-id={OWNER}"), "--provider=cloudflare",
                                                      format!("--domain-filter={DOMAIN}"),
                                                      "--publish-internal-services", "--log-level=debug"]}]}}}}),
            acme(
                "letsencrypt-prod",
                "https://acme-v02.api.letsencrypt.org/directory",
            ),
            acme(
                "letsencrypt-staging",
                "https://acme-staging-v02.api.letsencrypt.org/directory",
            ),
            certificate("wildcard-wild-cloud", DOMAIN),
            certificate(
                "wildcard-internal-wild-cloud",
                &format!("internal.{DOMAIN}"),
            ),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "traefik", "namespace": "traefik", "labels": traefik_labels},
                   "spec": {"selector": {"matchLabels": traefik_labels},
                            "template": {"metadata": {"labels": traefik_labels},
                                         "spec": {"containers": [{"name": "traefik", "image": "docker.io/traefik:v3.4.1"}]}}}}),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "traefik", "namespace": "traefik", "labels": traefik_labels},
                   "spec": {"type": "LoadBalancer", "selector": traefik_labels,
                            "ports": [{"name": "websecure", "port": 443, "targetPort": "websecure"}]}}),
        ],
    );
    // What MetalLB would have given it.
    kubectl_ok(
        cluster,
        &[
            "-n",
            "traefik",
            "patch",
            "service",
            "traefik",
            "--subresource=status",
            "--type=merge",
            "-p",
            &json!({"status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}}).to_string(),
        ],
    );
}

/// Nothing configured but the domain and the load balancer address.
const ONLY_DOMAIN_AND_ADDRESS: &[(&str, &str)] = &[
    ("CLOUD_DOMAIN", DOMAIN),
    ("CLUSTER_LOAD_BALANCER_IP", LB_IP),
];

#[test]
fn an_existing_layer_is_found_used_refused_adopted_and_released() {
    let plane = PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    existing_layer(cluster);
    let cluster_rhai = |args: &[&str]| {
        let mut all = vec!["scripts/cluster.rhai"];
        all.extend_from_slice(args);
        let before = writes(&plane);
        let out = wildrun(cluster, ONLY_DOMAIN_AND_ADDRESS, &all);
        (out, writes(&plane) - before)
    };
    // A run that must succeed: what it said, and how many writes it sent.
    let succeeds = |args: &[&str]| {
        let (out, written) = cluster_rhai(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        (stderr(&out), written)
    };

    // 0. Traefik's Service as its chart makes it (externalTrafficPolicy
    // Cluster): the layer's doctor finds the leak.
    let layer_doctor = || {
        let out = wildrun(
            cluster,
            ONLY_DOMAIN_AND_ADDRESS,
            &["scripts/doctor.rhai", "--layer", "--json"],
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
        let checks = report["checks"].as_array().cloned().unwrap_or_default();
        checks
            .into_iter()
            .find(|c| c["name"] == "client-address")
            .unwrap_or_else(|| panic!("no client-address check: {report:#}"))
    };
    let leak = layer_doctor();
    assert_eq!(leak["status"], "fail", "{leak:#}");
    let found = leak["found"].as_str().unwrap_or_default();
    assert!(
        found.contains("externalTrafficPolicy Cluster")
            && found.contains("every client looks internal to the internal-only middleware"),
        "{leak:#}"
    );

    // 1. Every part is in use: said, filled into the configuration, nothing
    // written but the Service's externalTrafficPolicy, which closes the leak.
    let (err, written) = succeeds(&["-v"]);
    for part in [
        "IPAddressPool metallb-system/first-pool",
        "L2Advertisement metallb-system/l2-advertisement",
        "Service traefik/traefik",
        "ClusterIssuer letsencrypt-prod",
        "ClusterIssuer letsencrypt-staging",
        "Certificate cert-manager/wildcard-wild-cloud",
        "Certificate cert-manager/wildcard-internal-wild-cloud",
        "Deployment externaldns/external-dns",
    ] {
        assert!(
            err.contains(&format!("using existing {part} (not made by wildrun)")),
            "{part} not reported in use:\n{err}"
        );
    }
    for value in [
        "cluster.addressPool = [\"192.168.8.240-192.168.8.249\"] (found: IPAddressPool metallb-system/first-pool)",
        "cloud.internalDomain = internal.cloud.example.test (found: Certificate cert-manager/wildcard-internal-wild-cloud)",
        "dns.ownerId = wild-owner (found: ExternalDNS externaldns/external-dns)",
        "tls.acmeEmail = ops@wild.test (found: ClusterIssuer letsencrypt-prod)",
        "ingress.traefikService = traefik/traefik (found: the LoadBalancer Service selecting Deployment traefik/traefik)",
    ] {
        assert!(err.contains(value), "-v does not say {value}:\n{err}");
    }
    assert!(
        err.contains("Service traefik/traefik: externalTrafficPolicy was Cluster, now Local (ingress.clientAddress local)")
            && err.contains("configured Service traefik/traefik")
            && !err.contains("nothing to write")
            && !err.contains("created "),
        "{err}"
    );
    assert_eq!(written, 1, "a layer in use was written to:\n{err}");
    let svc = get(
        cluster,
        &[
            "-n",
            "traefik",
            "service",
            "traefik",
            "--show-managed-fields",
        ],
    );
    assert_eq!(svc["spec"]["externalTrafficPolicy"], "Local", "{svc:#}");
    let patch = svc["metadata"]["managedFields"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["manager"] == "wildrun-patch"))
        .map(|m| m["fieldsV1"].to_string())
        .unwrap_or_default();
    assert_eq!(
        patch, r#"{"f:spec":{"f:externalTrafficPolicy":{}}}"#,
        "{svc:#}"
    );
    assert_eq!(layer_doctor()["status"], "pass");
    // Once set, a layer in use is written to no more.
    let (err, written) = succeeds(&[]);
    assert!(
        err.contains(
            "the cluster runs every part of the visibility layer already: nothing to write"
        ) && !err.contains("created ")
            && !err.contains("configured "),
        "{err}"
    );
    assert_eq!(written, 0, "a layer in use was written to:\n{err}");

    // 2. A setting that conflicts: refused before any write, with both ways out.
    let conflicting = [
        "--set",
        "dns.ownerId=wildrun",
        "--set",
        "cluster.addressPool=192.168.8.240-192.168.8.250",
        "--set",
        "tls.acmeEmail=me@example.test",
    ];
    let (out, written) = cluster_rhai(&conflicting);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(err.contains("nothing was written"), "{err}");
    assert!(
        err.contains("Deployment externaldns/external-dns (made by kubectl (field manager kubectl-client-side-apply)) is the cluster's and differs from the configuration: dns.ownerId is wildrun, it has wild-owner")
            && err.contains("(dns.ownerId: wild-owner)")
            && err.contains("--adopt to let wildrun manage Deployment externaldns/external-dns in place (keeping its name, namespace and selector"),
        "{err}"
    );
    assert!(
        err.contains("IPAddressPool metallb-system/first-pool (made by kubectl"),
        "{err}"
    );
    assert!(
        err.contains("ClusterIssuer letsencrypt-prod (made by kubectl")
            && err.contains("tls.acmeEmail is me@example.test, it has ops@wild.test"),
        "{err}"
    );
    assert_eq!(written, 0, "written before the refusal:\n{err}");

    // 3. --adopt: the found objects are managed in place, names and selector kept.
    let mut adopt = conflicting.to_vec();
    adopt.push("--adopt");
    let (err, written) = succeeds(&adopt);
    assert!(written > 0, "{err}");
    for adopted in [
        "IPAddressPool metallb-system/first-pool (adopted: made by kubectl (field manager kubectl-client-side-apply); --delete releases it)",
        "Deployment externaldns/external-dns (adopted: made by kubectl",
        "ClusterIssuer letsencrypt-prod (adopted: made by kubectl",
    ] {
        assert!(err.contains(&format!("configured {adopted}")), "{adopted}:\n{err}");
    }
    let deployment = get(
        cluster,
        &["-n", "externaldns", "deployment", "external-dns"],
    );
    assert_eq!(
        deployment["spec"]["selector"],
        json!({"matchLabels": {"app": "external-dns"}})
    );
    assert_eq!(
        deployment["metadata"]["annotations"]["wildrun.dev/adopted"],
        "kubectl-client-side-apply"
    );
    let args: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        args.contains(&"--txt-owner-id=wildrun") && !args.contains(&"--txt-owner-id=wild-owner"),
        "{args:?}"
    );
    assert!(
        args.contains(&"--publish-internal-services"),
        "its own flags are kept: {args:?}"
    );
    // Its policy, read from it (v0.14.2 defaults to sync), now stated.
    assert!(
        args.contains(&"--policy=sync")
            && args.iter().filter(|a| a.starts_with("--policy")).count() == 1,
        "{args:?}"
    );
    // v0.14.2 does not know the flag: never written to it.
    assert!(
        !args.iter().any(|a| a.starts_with("--annotation-prefix")),
        "{args:?}"
    );
    let issuer = get(cluster, &["clusterissuer", "letsencrypt-prod"]);
    assert_eq!(issuer["spec"]["acme"]["email"], "me@example.test");
    // The same ACME account: its key Secret is kept.
    assert_eq!(
        issuer["spec"]["acme"]["privateKeySecretRef"]["name"],
        "letsencrypt-prod"
    );
    let pool = get(
        cluster,
        &["-n", "metallb-system", "ipaddresspool", "first-pool"],
    );
    assert_eq!(
        pool["spec"]["addresses"],
        json!(["192.168.8.240-192.168.8.250"])
    );
    // Never a second ExternalDNS nor a second pool.
    let out = cluster.kubectl(&["get", "deployments", "-A", "-o", "json"]);
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let edns = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .is_some_and(|i| i.contains("external-dns"))
        })
        .count();
    assert_eq!(edns, 1, "{err}");
    assert!(!cluster
        .kubectl(&["-n", "metallb-system", "get", "ipaddresspool", "wildrun"])
        .status
        .success());

    // 4. Adopted objects are wildrun's now: the same run without --adopt changes nothing.
    let (err, written) = succeeds(&conflicting);
    assert_eq!(written, 0, "{err}");

    // 5. --delete releases what was adopted: it stays, without wildrun's marks.
    let (err, _) = succeeds(&["--delete"]);
    for released in [
        "IPAddressPool metallb-system/first-pool",
        "Deployment externaldns/external-dns",
        "ClusterIssuer letsencrypt-prod",
    ] {
        assert!(
            err.contains(&format!("released   {released} (made by kubectl (field manager kubectl-client-side-apply): left in place, no longer managed by wildrun)")),
            "{released}:\n{err}"
        );
    }
    assert!(!err.contains("deleted "), "{err}");
    let deployment = get(
        cluster,
        &[
            "-n",
            "externaldns",
            "deployment",
            "external-dns",
            "--show-managed-fields",
        ],
    );
    let meta = &deployment["metadata"];
    assert!(
        meta["labels"].get("wildrun.dev/instance").is_none(),
        "{meta}"
    );
    assert!(
        meta["labels"].get("app.kubernetes.io/managed-by").is_none(),
        "{meta}"
    );
    assert_eq!(meta["labels"]["app"], "external-dns");
    assert!(
        meta["annotations"].get("wildrun.dev/adopted").is_none(),
        "{meta}"
    );
    let managers: Vec<&str> = meta["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert!(
        !managers.iter().any(|m| m.starts_with("wildrun")),
        "{managers:?}"
    );
    // What it set stays: the controller keeps running as it was configured.
    assert_eq!(
        deployment["spec"]["selector"],
        json!({"matchLabels": {"app": "external-dns"}})
    );
    assert!(get(
        cluster,
        &["-n", "metallb-system", "ipaddresspool", "first-pool"]
    )["metadata"]["labels"]
        .get("wildrun.dev/instance")
        .is_none());
}

/// The wildcard Secret in `namespace` of a certificate for `names`, valid
/// `days`, issued by a new CA named `issuer`, as cert-manager labels it.
fn tls_secret(namespace: &str, issuer: &str, names: &[&str], days: i64) -> Value {
    let options = wildrun::cert::Options {
        days,
        common_name: None,
    };
    let ca = wildrun::cert::ca(issuer, &options).unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let pair = wildrun::cert::issue(&ca, &names, &options).unwrap();
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
           "metadata": {"name": "wildcard-wild-cloud-tls", "namespace": namespace,
                        "labels": {"controller.cert-manager.io/fao": "true"},
                        "annotations": {"cert-manager.io/certificate-name": "wildcard-wild-cloud"}},
           "stringData": {"tls.crt": pair.cert, "tls.key": pair.key}})
}

/// The source of the copies in `namespace`: the wildcard Secret of the
/// domain, valid `days`.
fn wildcard_source(cluster: &TestCluster, namespace: &str, days: i64) {
    let names = [format!("*.{DOMAIN}"), DOMAIN.to_string()];
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    kubectl_apply(
        cluster,
        &[tls_secret(namespace, "wild test CA", &names, days)],
    );
}

/// What `kubectl get secret | sed | kubectl apply` makes of `source` in `namespace`.
fn kubectl_copy(cluster: &TestCluster, source_namespace: &str, namespace: &str) {
    let mut copy = get(
        cluster,
        &["-n", source_namespace, "secret", "wildcard-wild-cloud-tls"],
    );
    let meta = copy["metadata"].as_object_mut().unwrap();
    for server_set in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
    ] {
        meta.remove(server_set);
    }
    if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    meta.insert("namespace".into(), json!(namespace));
    kubectl_apply(cluster, &[copy]);
}

/// public.rhai with `args`, its TLS source `tls`.
fn public(cluster: &TestCluster, tls: &str, name: &str, args: &[&str]) -> Output {
    let source = format!("tls.sourceNamespace={tls}");
    let mut all = vec![
        "scripts/public.rhai",
        "--name",
        name,
        "--set",
        source.as_str(),
    ];
    all.extend_from_slice(args);
    wildrun(cluster, ONLY_DOMAIN_AND_ADDRESS, &all)
}

#[test]
fn a_kubectl_copy_of_the_secret_is_taken_when_identical_and_refused_naming_kubectl_when_not() {
    let cluster = TestCluster::shared();
    let tls = TestNamespace::new(cluster, "copy-src");
    let app = TestNamespace::new(cluster, "copy-app");
    let other = TestNamespace::new(cluster, "copy-other");
    wildcard_source(cluster, tls.name(), 90);

    // A byte-identical copy, as wild-cloud's scripts make it: taken as the copy.
    kubectl_copy(cluster, tls.name(), app.name());
    let out = public(
        cluster,
        tls.name(),
        app.name(),
        &["--namespace", app.name()],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        err.contains(&format!(
            "configured Secret {}/wildcard-wild-cloud-tls (taken as the copy of {}/wildcard-wild-cloud-tls: the same data, made by kubectl (field manager kubectl-client-side-apply))",
            app.name(), tls.name()
        )),
        "{err}"
    );
    // Kept in step from now on: a renewal reaches it.
    wildcard_source(cluster, tls.name(), 60);
    let out = public(
        cluster,
        tls.name(),
        app.name(),
        &["--namespace", app.name()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let source = get(
        cluster,
        &["-n", tls.name(), "secret", "wildcard-wild-cloud-tls"],
    );
    let copy = get(
        cluster,
        &["-n", app.name(), "secret", "wildcard-wild-cloud-tls"],
    );
    assert_eq!(copy["data"], source["data"]);
    assert_eq!(
        copy["metadata"]["annotations"]["wildrun.dev/adopted"],
        "kubectl-client-side-apply"
    );

    // A copy of another certificate: refused, naming kubectl and what differs.
    kubectl_apply(
        cluster,
        &[tls_secret(
            other.name(),
            "other CA",
            &["*.elsewhere.test"],
            10,
        )],
    );
    let name = unique_name("copy-differs");
    let out = public(cluster, tls.name(), &name, &["--namespace", other.name()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        err.contains(&format!("Secret {}/wildcard-wild-cloud-tls exists, made by kubectl (field manager kubectl-client-side-apply), and is not a copy of {}/wildcard-wild-cloud-tls", other.name(), tls.name()))
            && err.contains(&format!("its certificate names *.elsewhere.test (the source's: *.{DOMAIN}, {DOMAIN})"))
            && err.contains("its certificate is issued by CN=other CA (the source's: by CN=wild test CA)")
            && err.contains("its certificate expires "),
        "{err}"
    );
    // Before any write.
    assert!(!cluster
        .kubectl(&["-n", other.name(), "get", "deployment", &name])
        .status
        .success());
}

#[test]
fn a_kubectl_made_ingress_and_deployment_are_refused_unless_adopted_then_released() {
    let cluster = TestCluster::shared();
    let tls = TestNamespace::new(cluster, "adopt-src");
    let app = TestNamespace::new(cluster, "adopt-app");
    let name = app.name().to_string();
    wildcard_source(cluster, tls.name(), 90);
    let labels = json!({"component": "web", "app": name});
    kubectl_apply(
        cluster,
        &[
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "metadata": {"name": name, "namespace": name,
                                "annotations": {"kubernetes.io/ingress.class": "traefik"}},
                   "spec": {"rules": [{"host": format!("{name}.{DOMAIN}"), "http": {"paths": [{"path": "/", "pathType": "Prefix",
                            "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": name, "namespace": name},
                   "spec": {"selector": {"matchLabels": {"component": "web"}},
                            "template": {"metadata": {"labels": labels},
                                         "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}),
        ],
    );

    let out = public(cluster, tls.name(), &name, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for kind in ["Ingress", "Deployment"] {
        assert!(
            err.contains(&format!("{kind} {name}/{name} exists and was made by kubectl (field manager kubectl-client-side-apply), not by wildrun"))
                && err.contains("--adopt"),
            "{kind}:\n{err}"
        );
    }
    // Before any write: no Service, no copy.
    assert!(!cluster
        .kubectl(&["-n", &name, "get", "service", &name])
        .status
        .success());
    assert!(!cluster
        .kubectl(&["-n", &name, "get", "secret", "wildcard-wild-cloud-tls"])
        .status
        .success());

    // --adopt: managed in place; the Deployment keeps its selector, its pods match it.
    let out = public(cluster, tls.name(), &name, &["--adopt"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(err.contains(&format!("configured Ingress {name}/{name} (adopted: made by kubectl (field manager kubectl-client-side-apply); --delete releases it)")), "{err}");
    let deployment = get(cluster, &["-n", &name, "deployment", &name]);
    assert_eq!(
        deployment["spec"]["selector"],
        json!({"matchLabels": {"component": "web"}})
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["component"],
        "web"
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["app"],
        name
    );
    let ingress = get(cluster, &["-n", &name, "ingress", &name]);
    assert_eq!(
        ingress["metadata"]["labels"]["wildrun.dev/instance"],
        format!("public.{name}")
    );

    // --delete: what it made goes, what it adopted is released and stays.
    let out = public(cluster, tls.name(), &name, &["--delete"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        err.contains(&format!("deleted    Service {name}/{name}")),
        "{err}"
    );
    for kind in ["Ingress", "Deployment"] {
        assert!(
            err.contains(&format!("released   {kind} {name}/{name} (made by kubectl")),
            "{kind}:\n{err}"
        );
        let live = get(cluster, &["-n", &name, &kind.to_lowercase(), &name]);
        assert!(
            live["metadata"]["labels"]
                .get("wildrun.dev/instance")
                .is_none(),
            "{live}"
        );
        assert!(
            live["metadata"]["annotations"]
                .get("wildrun.dev/adopted")
                .is_none(),
            "{live}"
        );
    }
    assert!(
        err.contains("released") && err.contains("1 deleted"),
        "{err}"
    );
}

#[test]
fn a_diff_of_a_prune_says_an_adopted_object_is_released_as_the_prune_does() {
    let cluster = TestCluster::shared();
    let space = TestNamespace::new(cluster, "adopt-prune");
    let ns = space.name();
    let config_map = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": ns}, "data": {"a": "b"}})
    };
    // "theirs" made by kubectl, then adopted; "ours" made by wildrun.
    kubectl_apply(cluster, &[config_map("theirs")]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let recipe = dir.path().join(format!("{}.rhai", unique_name("objs")));
    let recipe_path = recipe.to_str().expect("a UTF-8 path");
    let write_recipe = |names: &[&str]| {
        let text: String = names
            .iter()
            .map(|n| {
                format!(
                    "kube::apply(yaml::parse({:?})[0]);\n",
                    config_map(n).to_string()
                )
            })
            .collect();
        std::fs::write(&recipe, text).expect("write the recipe");
    };
    write_recipe(&["kept", "theirs", "ours"]);
    let out = wildrun(cluster, &[], &[recipe_path, "--adopt"]);
    assert!(out.status.success(), "{}", text(&out));
    let theirs = get(cluster, &["-n", ns, "configmap", "theirs"]);
    assert_eq!(
        theirs["metadata"]["annotations"]["wildrun.dev/adopted"],
        "kubectl-client-side-apply"
    );

    // The recipe drops both: --diff --prune shows the adopted one released
    // (its marks go, it stays), the other removed.
    write_recipe(&["kept"]);
    let diff = wildrun(cluster, &[], &[recipe_path, "--diff", "--prune"]);
    let shown = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));
    assert!(
        shown.contains(&format!(
            "--- live ConfigMap {ns}/theirs\n+++ released ConfigMap {ns}/theirs\n"
        )) && shown.contains("-    wildrun.dev/adopted: kubectl-client-side-apply"),
        "{shown}"
    );
    assert!(
        !shown.contains(&format!("--- live ConfigMap {ns}/theirs\n+++ /dev/null")),
        "{shown}"
    );
    // What stays after the release: its data.
    let released = shown
        .split(&format!("--- live ConfigMap {ns}/theirs"))
        .nth(1)
        .and_then(|rest| rest.split("--- live").next())
        .unwrap_or_default();
    assert!(!released.contains("-  a: b"), "{shown}");
    assert!(
        shown.contains(&format!("--- live ConfigMap {ns}/ours\n+++ /dev/null\n")),
        "{shown}"
    );
    let said = format!(
        "released   ConfigMap {ns}/theirs (made by kubectl (field manager kubectl-client-side-apply): left in place, no longer managed by wildrun)"
    );
    assert!(stderr(&diff).contains(&said), "{}", text(&diff));
    // A diff changes nothing.
    assert_eq!(
        get(cluster, &["-n", ns, "configmap", "theirs"])["metadata"]["annotations"]
            ["wildrun.dev/adopted"],
        "kubectl-client-side-apply"
    );

    // --prune does what the diff said.
    let out = wildrun(cluster, &[], &[recipe_path, "--prune"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        err.contains(&said) && err.contains(&format!("deleted    ConfigMap {ns}/ours")),
        "{err}"
    );
    let theirs = get(cluster, &["-n", ns, "configmap", "theirs"]);
    assert!(
        theirs["metadata"]["annotations"]
            .get("wildrun.dev/adopted")
            .is_none(),
        "{theirs}"
    );
    assert_eq!(theirs["data"], json!({"a": "b"}));
    assert!(!cluster
        .kubectl(&["-n", ns, "get", "configmap", "ours"])
        .status
        .success());
}
