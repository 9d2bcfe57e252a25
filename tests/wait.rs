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
