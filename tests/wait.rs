//! `--wait` against the plain control plane, which has no scheduler: a
//! Deployment never rolls out, and the wait times out on that link, naming
//! it. The rest of the chain (the DNS record at the zone's nameservers, the
//! TLS Secret copied by the wait once cert-manager issues it, the HTTPS
//! request) is waited for on the visibility lab, with the real controllers
//! (tests/lab.rs).

mod common;

use common::cluster::unique_name;
use common::dns::ZONE;
use common::{TestCluster, TestNamespace};
use serde_json::json;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wildrun::cert::{Options, Pair};

fn options(days: i64) -> Options {
    Options {
        days,
        common_name: None,
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wildrun"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .args(["--set", &format!("tls.sourceNamespace={tls_namespace}")])
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .env("CLOUD_DOMAIN", ZONE)
        .env("CLUSTER_LOAD_BALANCER_IP", "127.0.0.1")
        .env_remove("WILDRUN_CONFIG")
        .env_remove("DNS_SERVER")
        .env_remove("TLS_CA_FILE")
        .env_remove("INGRESS_HTTPS_PORT")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn wait_times_out_naming_the_rollout() {
    let cluster = TestCluster::shared();
    let tls = TestNamespace::new(cluster, "wait-rollout-tls");
    let name = unique_name("wait-rollout");
    let ca = wildrun::cert::ca("wait test CA", &options(30)).unwrap();
    let pair = wildrun::cert::issue(&ca, &[format!("*.{ZONE}")], &options(30)).unwrap();
    write_secret(cluster, tls.name(), "wildcard-wild-cloud-tls", &pair);
    let started = Instant::now();
    let out = wildrun(
        cluster,
        tls.name(),
        &[
            "scripts/public.rhai",
            "--name",
            &name,
            "--wait",
            "--timeout",
            "3s",
        ],
        &[],
    )
    .output()
    .expect("wildrun runs");
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
    let ca = wildrun::cert::ca("wait test CA", &options(30)).unwrap();
    let pair = wildrun::cert::issue(&ca, &[format!("*.{ZONE}")], &options(30)).unwrap();
    write_secret(cluster, tls.name(), "wildcard-wild-cloud-tls", &pair);
    let out = wildrun(
        cluster,
        tls.name(),
        &[
            "scripts/public.rhai",
            "--name",
            &name,
            "--wait",
            "--timeout",
            "6s",
        ],
        &[],
    )
    .output()
    .expect("wildrun runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "timed out after 6s waiting for rollout of Deployment {name}/{name}"
        )),
        "{err}"
    );
    // The API server logs a watch once it ends (wildrun has exited).
    std::thread::sleep(Duration::from_millis(500));
    let requests: Vec<(String, String)> = plane
        .audit_events()
        .iter()
        .filter(|e| {
            e["userAgent"]
                .as_str()
                .is_some_and(|a| a.starts_with("wildrun/"))
                && e["objectRef"]["resource"] == "deployments"
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
    // controller-manager makes to its status.
    let reads = requests.iter().filter(|(verb, _)| verb == "get").count();
    assert!(reads <= 4, "{reads} reads of the Deployment: {requests:#?}");
}
