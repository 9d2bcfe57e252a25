//! `--wait` against the real control plane, a real DNS server (Knot) and a
//! real HTTPS server standing in for Traefik.
//!
//! The plane has no scheduler, so a Deployment never rolls out: a recipe
//! with one times out on that link, naming it. A recipe without a workload
//! waits through the rest of the chain: the DNS record at the zone's
//! nameserver (`dns.server`), the TLS Secret (copied by the wait itself once
//! the source appears), and an HTTPS request verified against `tls.caFile`.

mod common;

#[path = "common/https.rs"]
mod traefik;

use common::cluster::unique_name;
use common::dns::{DnsServer, ZONE};
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

/// A recipe without a workload: Namespace, the TLS copy, Service, Ingress.
const EDGE_RECIPE: &str = r#"
import "visibility" as vis;
fn params() { import "visibility" as vis; vis::service_params() }
let svc = vis::inputs(args, config, "public");
kube::apply(vis::namespace(svc));
kube::copy_secret(svc.tls_namespace, svc.tls_secret, svc.namespace,
                  #{ type: "kubernetes.io/tls", labels: vis::labels(svc) });
kube::apply(vis::cluster_service(svc));
kube::apply(vis::ingress(svc));
"#;

/// The setting of a test of the edge recipe: its TLS source namespace, the
/// recipe file, a Knot server holding the record ExternalDNS would write
/// (and the domain's address, 127.0.0.1), and a CA with a wildcard pair.
struct Edge {
    cluster: &'static TestCluster,
    tls: TestNamespace,
    name: String,
    host: String,
    dir: tempfile::TempDir,
    dns: DnsServer,
    pair: Pair,
    ca: Pair,
}

impl Edge {
    fn new(test: &str) -> Edge {
        let cluster = TestCluster::shared();
        let tls = TestNamespace::new(cluster, &format!("{test}-tls"));
        let name = unique_name(test);
        let host = format!("{name}.{ZONE}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("edge.rhai"), EDGE_RECIPE).unwrap();
        let dns = DnsServer::start();
        dns.add(&host, "CNAME", ZONE);
        dns.add(ZONE, "A", "127.0.0.1");
        let ca = wildrun::cert::ca("wait test CA", &options(30)).unwrap();
        let pair =
            wildrun::cert::issue(&ca, &[format!("*.{ZONE}"), ZONE.to_string()], &options(30))
                .unwrap();
        Edge {
            cluster,
            tls,
            name,
            host,
            dir,
            dns,
            pair,
            ca,
        }
    }

    /// `wildrun edge.rhai --name <name> --wait --timeout <timeout>` with `env`.
    fn wait(&self, timeout: &str, env: &[(&str, &str)]) -> Command {
        let recipe = self.dir.path().join("edge.rhai");
        let mut env = env.to_vec();
        let dns = self.dns.addr();
        env.push(("DNS_SERVER", &dns));
        let mut cmd = wildrun(
            self.cluster,
            self.tls.name(),
            &[
                recipe.to_str().unwrap(),
                "--name",
                &self.name,
                "--wait",
                "--timeout",
                timeout,
            ],
            &env,
        );
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.cluster.delete_namespace_later(&self.name);
    }
}

#[test]
fn wait_copies_the_secret_once_issued_and_ends_when_https_answers() {
    let edge = Edge::new("wait-edge");
    let (name, host) = (&edge.name, &edge.host);
    let ca_file = edge.dir.path().join("ca.pem");
    std::fs::write(&ca_file, &edge.ca.cert).unwrap();
    let stand_in = traefik::StandIn::start(&edge.pair.cert, &edge.pair.key, 200);
    let port = stand_in.port.to_string();
    let dns_addr = edge.dns.addr();
    let ca_path = ca_file.display().to_string();
    // The source secret does not exist yet: the run skips the copy, the wait makes it.
    let child = edge
        .wait(
            "60s",
            &[("INGRESS_HTTPS_PORT", &port), ("TLS_CA_FILE", &ca_path)],
        )
        .spawn()
        .expect("wildrun runs");
    std::thread::sleep(Duration::from_secs(3));
    write_secret(
        edge.cluster,
        edge.tls.name(),
        "wildcard-wild-cloud-tls",
        &edge.pair,
    );
    let out = child.wait_with_output().expect("wildrun ends");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for expected in [
        &format!("skipped    Secret {name}/wildcard-wild-cloud-tls"),
        &format!("✓ DNS record {host} (a CNAME to {ZONE}): {host} is a CNAME to {ZONE} (asked {dns_addr}"),
        &format!("waiting for TLS Secret {name}/wildcard-wild-cloud-tls: cert-manager has not issued"),
        &"now that cert-manager has issued it".to_string(),
        &format!("✓ TLS Secret {name}/wildcard-wild-cloud-tls: CN="),
        &format!("✓ HTTPS https://{host}/: 200 "),
        &format!("at 127.0.0.1:{port}"),
        &"the service answers".to_string(),
    ] {
        assert!(err.contains(expected), "stderr lacks {expected:?}:\n{err}");
    }
    // The copy is wildrun's, made from the source.
    let copy = edge.cluster.kubectl(&[
        "get",
        "secret",
        "-n",
        name,
        "wildcard-wild-cloud-tls",
        "-o",
        "json",
    ]);
    assert!(copy.status.success(), "{}", stderr(&copy));
    let copy: serde_json::Value = serde_json::from_slice(&copy.stdout).unwrap();
    assert_eq!(
        copy["metadata"]["annotations"]["wildrun.dev/copied-from"],
        format!("{}/wildcard-wild-cloud-tls", edge.tls.name())
    );
}

#[test]
fn wait_without_an_answer_names_the_https_link() {
    let edge = Edge::new("wait-nohttps");
    write_secret(
        edge.cluster,
        edge.tls.name(),
        "wildcard-wild-cloud-tls",
        &edge.pair,
    );
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = edge
        .wait("4s", &[("INGRESS_HTTPS_PORT", &port)])
        .output()
        .expect("wildrun runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: timed out after 4s waiting for HTTPS https://{}/: cannot connect to 127.0.0.1:{port}",
            edge.host
        )),
        "{err}"
    );
}
