//! How wildrun talks to the API server: every request bounded
//! (`--request-timeout`), a word on stderr when the run waits, one error
//! for a cluster that cannot be reached, no credentials over plain HTTP,
//! and a context that does not exist named with those that do.
//!
//! The servers that do not answer are a closed port, a listener this test
//! holds (it accepts connections and never answers), and the real API
//! server of a private plane stopped with SIGSTOP.

mod common;

use common::cluster::PrivatePlane;
use common::command::{stderr, Wildrun};
use common::{TestCluster, TestNamespace};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The longest any run here may take: a run that takes longer hangs.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs wildrun in `dir` with `args` (and `KUBECONFIG` when given), at most
/// [`DEADLINE`]; its output and how long it took.
fn wildrun(dir: &Path, kubeconfig: Option<&Path>, args: &[&str]) -> (Output, Duration) {
    let cmd = Wildrun::new()
        .in_dir(dir)
        .args(args)
        .env("CLOUD_DOMAIN", "cloud.example.test");
    match kubeconfig {
        Some(path) => cmd.kubeconfig(path),
        None => cmd.env_remove("KUBECONFIG"),
    }
    .deadline(DEADLINE)
    .output_timed()
}

/// The lines of `text` that contain `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// A kubeconfig for `server` whose user has `user` (kubeconfig fields),
/// with one context per name in `contexts` (the first is current).
fn kubeconfig(dir: &Path, server: &str, user: serde_json::Value, contexts: &[&str]) -> PathBuf {
    let config = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": true}}],
        "users": [{"name": "u", "user": user}],
        "contexts": contexts.iter().map(|name| serde_json::json!(
            {"name": name, "context": {"cluster": "c", "user": "u"}})).collect::<Vec<_>>(),
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, config.to_string()).expect("write the kubeconfig");
    path
}

/// A recipe of fifty objects: a Namespace and 49 ConfigMaps in it.
fn fifty_objects(dir: &Path, namespace: &str) -> PathBuf {
    let path = dir.join("fifty.rhai");
    std::fs::write(
        &path,
        format!(
            "kube::ensure_namespace(\"{namespace}\");\n\
             for i in 0..49 {{\n\
                 kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: `c${{i}}`, namespace: \"{namespace}\" }}, data: #{{ i: `${{i}}` }} }});\n\
             }}\n"
        ),
    )
    .expect("write the recipe");
    path
}

/// A kubeconfig (in `dir`, with `contexts`) for a port on 127.0.0.1 where
/// nothing listens, and that server's URL.
fn closed_port_kubeconfig(dir: &Path, contexts: &[&str]) -> (PathBuf, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("its address").port();
    let server = format!("https://127.0.0.1:{port}");
    let config = kubeconfig(dir, &server, serde_json::json!({"token": "t"}), contexts);
    (config, server)
}

#[test]
fn a_closed_port_is_one_error_said_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (config, server) = closed_port_kubeconfig(dir.path(), &["c"]);
    fifty_objects(dir.path(), "closed");
    // Applying resolves each object's kind; --delete and --diff look
    // through many kinds: each would wait for discovery again.
    for action in [None, Some("--delete"), Some("--diff")] {
        let mut args = vec!["fifty.rhai"];
        args.extend(action);
        let (out, took) = wildrun(dir.path(), Some(&config), &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{action:?}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{action:?}: one error, said once:\n{err}"
        );
        assert!(
            err.contains(&format!("cannot reach the API server at {server}"))
                && err.contains("Connection refused"),
            "{action:?}: {err}"
        );
        // Connection failures are retried for under 2 s, not once per kind.
        assert!(
            took < Duration::from_secs(10),
            "{action:?}: took {took:?}:\n{err}"
        );
    }
}

#[test]
fn a_server_that_never_answers_is_given_up_on_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    // The kernel accepts connections to a listening socket; nobody answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let server = format!(
        "https://127.0.0.1:{}",
        silent.local_addr().expect("its address").port()
    );
    let config = kubeconfig(
        dir.path(),
        &server,
        serde_json::json!({"token": "t"}),
        &["c"],
    );
    fifty_objects(dir.path(), "silent");
    let bound = 7;
    let (out, took) = wildrun(
        dir.path(),
        Some(&config),
        &["fifty.rhai", "--request-timeout", &format!("{bound}s")],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // After 5 s, once: what the run waits on, and where.
    let waiting = lines_with(&err, "waiting for the API server");
    assert_eq!(waiting.len(), 1, "{err}");
    assert!(
        waiting[0].contains(&format!("at {server} to answer GET /api"))
            && waiting[0].contains("--request-timeout"),
        "{err}"
    );
    let errors = lines_with(&err, "error:");
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains(&format!("within {bound}s from the API server at {server}")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    let bound = Duration::from_secs(bound);
    assert!(
        took >= bound && took < bound + Duration::from_secs(5),
        "took {took:?}:\n{err}"
    );
}

/// Thaws a frozen API server when the test ends, also when it fails.
struct Thaw<'a>(&'a PrivatePlane);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        self.0.apiserver("thaw");
    }
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn a_frozen_api_server_is_given_up_on_and_a_run_after_it_resumes_converges() {
    let plane = PrivatePlane::start();
    let dir = tempfile::tempdir().unwrap();
    fifty_objects(dir.path(), "frozen");
    let kubeconfig = plane.cluster.kubeconfig_path();
    plane.apiserver("freeze");
    let thaw = Thaw(&plane);
    let (out, took) = wildrun(
        dir.path(),
        Some(kubeconfig),
        &["fifty.rhai", "--request-timeout", "6s"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        lines_with(&err, "waiting for the API server").len(),
        1,
        "{err}"
    );
    let errors = lines_with(&err, "error:");
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("within 6s from the API server at https://127.0.0.1:"));
    assert!(took < Duration::from_secs(11), "took {took:?}:\n{err}");
    assert!(
        !plane
            .cluster
            .kubectl(&["get", "namespace", "frozen"])
            .status
            .success(),
        "nothing was written"
    );

    drop(thaw);
    let (out, _) = wildrun(
        dir.path(),
        Some(kubeconfig),
        &["fifty.rhai", "--request-timeout", "6s"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = plane
        .cluster
        .kubectl(&["-n", "frozen", "get", "configmaps", "-o", "name"]);
    let names = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        names
            .lines()
            .filter(|l| l.starts_with("configmap/c"))
            .count(),
        49,
        "{names}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn a_watch_runs_longer_than_the_request_bound() {
    let cluster = TestCluster::shared();
    let ns = TestNamespace::new(cluster, "bound");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("watch.rhai"),
        format!(
            "kube::watch(\"v1\", \"ConfigMap\", #{{ namespace: \"{ns}\" }}, |event, cm| {{\n\
                 log::info(`CALL ${{event}} ${{cm.metadata.name}}`);\n\
             }});\n",
            ns = ns.name()
        ),
    )
    .unwrap();
    let command = Wildrun::new()
        .in_dir(dir.path())
        .args(["watch.rhai", "--request-timeout", "2s"])
        .args(["--set", &format!("watch.leaseNamespace={}", ns.name())])
        .kubeconfig(cluster.kubeconfig_path())
        .into_command();
    let mut run = common::background::Background::spawn(command);
    run.wait_for("watching");
    // Twice the bound with no event: the watch is still the same one.
    std::thread::sleep(Duration::from_secs(4));
    let out = cluster.kubectl(&["-n", ns.name(), "create", "configmap", "late"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run.wait_for("CALL added late");
    let text = run.text();
    assert!(
        lines_with(&text, "warning").is_empty() && lines_with(&text, "error").is_empty(),
        "{text}"
    );
    assert_eq!(run.interrupt(), Some(0), "{}", run.text());
}

#[test]
fn credentials_are_never_sent_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    // A plain-HTTP listener: any request would arrive here.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    listener.set_nonblocking(true).expect("nonblocking");
    let server = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("its address").port()
    );
    std::fs::write(
        dir.path().join("read.rhai"),
        "kube::exists(\"v1\", \"Namespace\", \"\", \"default\");\n",
    )
    .unwrap();
    for (user, words) in [
        (serde_json::json!({"token": "s3cret"}), "a bearer token"),
        (
            serde_json::json!({"username": "admin", "password": "s3cret"}),
            "a username and password (basic auth)",
        ),
    ] {
        let config = kubeconfig(dir.path(), &server, user, &["plain"]);
        let (out, _) = wildrun(
            dir.path(),
            Some(&config),
            &["read.rhai", "--request-timeout", "3s"],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("the server {server} is plain HTTP"))
                && err.contains(&format!("user \"u\" has {words}"))
                && err.contains("https://")
                && !err.contains("s3cret"),
            "{err}"
        );
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("wildrun connected to {server}: {other:?}\n{err}"),
        }
    }
}

/// `kubectl proxy` on a free port: a real plain-HTTP server that needs no
/// credentials. Stopped when dropped.
struct Proxy {
    child: std::process::Child,
    url: String,
}

impl Proxy {
    fn start(cluster: &TestCluster) -> Proxy {
        let mut child = Command::new(cluster.kubectl_path())
            .args(["proxy", "--port=0", "--kubeconfig"])
            .arg(cluster.kubeconfig_path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl proxy starts");
        let stdout = child.stdout.take().expect("piped stdout");
        // "Starting to serve on 127.0.0.1:PORT"
        let line = std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            line
        });
        let started = Instant::now();
        while !line.is_finished() && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(line.is_finished(), "kubectl proxy said nothing in 30 s");
        let line = line.join().unwrap_or_default();
        let address = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|a| a.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("kubectl proxy said {line:?}"))
            .to_string();
        Proxy {
            child,
            url: format!("http://{address}"),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn plain_http_without_credentials_works() {
    let cluster = TestCluster::shared();
    let ns = TestNamespace::new(cluster, "plain");
    let proxy = Proxy::start(cluster);
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &proxy.url, serde_json::json!({}), &["proxy"]);
    std::fs::write(
        dir.path().join("apply.rhai"),
        format!(
            "kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"via-proxy\", namespace: \"{}\" }}, data: #{{ a: \"b\" }} }});\n",
            ns.name()
        ),
    )
    .unwrap();
    let (out, _) = wildrun(dir.path(), Some(&config), &["apply.rhai"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = cluster.kubectl(&[
        "-n",
        ns.name(),
        "get",
        "configmap",
        "via-proxy",
        "-o",
        "jsonpath={.data.a}",
    ]);
    assert_eq!(String::from_utf8_lossy(&got.stdout), "b");
}

#[test]
fn a_context_that_does_not_exist_is_named_with_those_that_do() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = closed_port_kubeconfig(dir.path(), &["alpha", "beta"]);
    std::fs::write(
        dir.path().join("read.rhai"),
        "kube::get(\"v1\", \"Namespace\", \"\", \"default\");\n",
    )
    .unwrap();
    let path = config.to_str().expect("a UTF-8 path");
    // From $KUBECONFIG, as kubectl users run it, and from --kubeconfig.
    for (kubeconfig, args) in [
        (
            Some(config.as_path()),
            vec!["read.rhai", "--context", "nope"],
        ),
        (
            None,
            vec!["read.rhai", "--context", "nope", "--kubeconfig", path],
        ),
    ] {
        let (out, _) = wildrun(dir.path(), kubeconfig, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("has no context \"nope\" (named by --context)")
                && err.contains("it has alpha, beta"),
            "{err}"
        );
    }
}
