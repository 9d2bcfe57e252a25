//! `--wait` against the plain control plane, which has no scheduler: a
//! Deployment never rolls out, and the wait times out on that link, naming
//! it. The rest of the chain (the DNS record at the zone's nameservers, the
//! TLS Secret copied by the wait once cert-manager issues it, the HTTPS
//! request) is waited for on the visibility lab, with the real controllers
//! (tests/lab.rs).

mod common;

use common::cluster::unique_name;
use common::command::{stderr, Wildrun};
use common::dns::ZONE;
use common::{TestCluster, TestNamespace};
use serde_json::json;
use std::process::Output;
use std::time::{Duration, Instant};
use wildrun::cert::{Options, Pair};

fn options(days: i64) -> Options {
    Options {
        days,
        common_name: None,
    }
}

fn write_secret(cluster: &TestCluster, namespace: &str, name: &str, pair: &Pair) {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"tls.crt": pair.cert, "tls.key": pair.key}});
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &secret.to_string());
    assert!(out.status.success(), "{}", stderr(&out));
}

fn wildrun(
    cluster: &TestCluster,
    tls_namespace: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Wildrun {
    Wildrun::new()
        .args(args)
        .args(["--set", &format!("tls.sourceNamespace={tls_namespace}")])
        .kubeconfig(cluster.kubeconfig_path())
        .env("CLOUD_DOMAIN", ZONE)
        .env("CLUSTER_LOAD_BALANCER_IP", "127.0.0.1")
        .envs(env)
}

/// `scripts/public.rhai --name NAME --wait --timeout TIMEOUT`, with the
/// wildcard Secret to copy made first in `tls`: the wait's rollout never
/// ends on the plain plane.
fn deploy_and_wait(
    cluster: &TestCluster,
    tls: &TestNamespace,
    name: &str,
    timeout: &str,
) -> Output {
    let ca = wildrun::cert::ca("wait test CA", &options(30)).unwrap();
    let pair = wildrun::cert::issue(&ca, &[format!("*.{ZONE}")], &options(30)).unwrap();
    write_secret(cluster, tls.name(), "wildcard-wild-cloud-tls", &pair);
    wildrun(
        cluster,
        tls.name(),
        &[
            "scripts/public.rhai",
            "--name",
            name,
            "--wait",
            "--timeout",
            timeout,
        ],
        &[],
    )
    .output()
}

#[test]
fn wait_times_out_naming_the_rollout() {
    let cluster = TestCluster::shared();
    let tls = TestNamespace::new(cluster, "wait-rollout-tls");
    let name = unique_name("wait-rollout");
    let started = Instant::now();
    let out = deploy_and_wait(cluster, &tls, &name, "3s");
    cluster.delete_namespace_later(&name);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
    // Applied first, then waited: a line per change, then the timeout with the link and its reason.
    assert!(
        err.contains(&format!("created    Deployment {name}/{name}")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "waiting for rollout of Deployment {name}/{name}: "
        )),
        "{err}"
    );
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: timed out after 3s waiting for rollout of Deployment {name}/{name}: "
        )),
        "{err}"
    );
    assert!(
        last.contains("available") || last.contains("generation"),
        "{err}"
    );
}

#[test]
fn wait_watches_the_rollout_rather_than_polling_it() {
    // An audited plane of its own: the requests the wait sends are counted.
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    let tls = TestNamespace::new(cluster, "wait-watch-tls");
    let name = unique_name("wait-watch");
    let out = deploy_and_wait(cluster, &tls, &name, "6s");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "timed out after 6s waiting for rollout of Deployment {name}/{name}"
        )),
        "{err}"
    );
    let requests: Vec<(String, String)> = plane
        .wildrun_requests()
        .iter()
        .filter(|e| {
            e["objectRef"]["resource"] == "deployments"
                && e["objectRef"]["namespace"] == name.as_str()
        })
        .map(|e| {
            (
                e["verb"].as_str().unwrap_or_default().to_string(),
                e["requestURI"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // Watched by name: the rollout is looked at when the Deployment changes.
    assert!(
        requests.iter().any(|(verb, uri)| verb == "watch"
            && uri.contains(&format!("fieldSelector=metadata.name%3D{name}"))),
        "{requests:#?}"
    );
    // Not read again every second of the six (6 reads or more): the first
    // look, one after the watch's first list, one per change the
    // controller-manager made to its status.
    let changes = plane
        .audit_events()
        .iter()
        .filter(|e| {
            e["objectRef"]["resource"] == "deployments"
                && e["objectRef"]["subresource"] == "status"
                && e["objectRef"]["name"] == name.as_str()
                && matches!(e["verb"].as_str(), Some("update" | "patch"))
        })
        .count();
    let reads = requests.iter().filter(|(verb, _)| verb == "get").count();
    assert!(
        reads <= 2 + changes,
        "{reads} reads of the Deployment for {changes} changes of its status: {requests:#?}"
    );
}
