//! Every Rhai example in README.md runs, as Rust runs the examples in its
//! documentation: an example that breaks fails the tests.
//!
//! Each ```` ```rhai ```` block is preceded by a marker line
//! `<!-- example: NAME -->` that says how it runs; a block without one, or
//! with a name this file does not know, fails. The examples that need a
//! cluster run against the real control plane. `no_run` examples (they ask
//! addresses on the reader's network, which a test may not) are compiled and
//! every `namespace::function` they call must exist.

mod common;

use common::background::Background;
use common::TestCluster;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// One ```rhai block of the README.
#[derive(Debug)]
struct Example {
    /// 1-based line of the opening fence.
    line: usize,
    /// The marker's name (`<!-- example: NAME -->` on the line before).
    marker: Option<String>,
    code: String,
}

fn examples() -> Vec<Example> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() == "```rhai" {
            let marker = i
                .checked_sub(1)
                .and_then(|p| lines[p].trim().strip_prefix("<!-- example:"))
                .and_then(|m| m.strip_suffix("-->"))
                .map(|m| m.trim().to_string());
            let start = i;
            let mut code = String::new();
            i += 1;
            while i < lines.len() && lines[i].trim_end() != "```" {
                code.push_str(lines[i]);
                code.push('\n');
                i += 1;
            }
            found.push(Example {
                line: start + 1,
                marker,
                code,
            });
        }
        i += 1;
    }
    found
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn wildrun(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wildrun"));
    cmd.current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("WILDRUN_CONFIG");
    for key in wildrun::config::KEYS.iter().map(|k| k.env_var()) {
        cmd.env_remove(key);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes the example as `recipe.rhai` in a folder of its own.
fn recipe(example: &Example) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("recipe.rhai");
    std::fs::write(&path, &example.code).expect("write example");
    (dir, path)
}

/// The cluster's kubeconfig, for examples that need one.
fn kubeconfig() -> String {
    TestCluster::shared()
        .kubeconfig_path()
        .display()
        .to_string()
}

fn run_to_end(example: &Example, args: &[&str], env: &[(&str, &str)], setup: impl Fn(&Path)) {
    let (dir, _) = recipe(example);
    setup(dir.path());
    let mut all = vec!["recipe.rhai"];
    all.extend(args);
    let out = wildrun(dir.path(), &all, env)
        .output()
        .expect("wildrun runs");
    assert!(
        out.status.success(),
        "README.md:{}: the example failed: {}",
        example.line,
        text(&out)
    );
}

/// The recipe of "Writing and forking recipes": a dry run.
fn run_recipe(example: &Example) {
    run_to_end(
        example,
        &["--name", "demo", "--dry-run"],
        &[("CLOUD_DOMAIN", "example.com")],
        |_| {},
    );
}

/// The fork: its template next to it, as in examples/.
fn run_fork(example: &Example) {
    run_to_end(
        example,
        &["--name", "demo", "--greeting", "Hi", "--dry-run"],
        &[("CLOUD_DOMAIN", "example.com")],
        |dir| {
            std::fs::copy(
                repo().join("examples/settings.yaml.tmpl"),
                dir.join("settings.yaml.tmpl"),
            )
            .expect("copy the template");
        },
    );
}

/// `cert::` on a Secret: the Secret it reads is made first.
fn run_cert(example: &Example) {
    let cluster = TestCluster::shared();
    let kubeconfig = kubeconfig();
    let setup = r#"
let pair = cert::self_signed(["myservice.example.com"]);
kube::apply(#{ apiVersion: "v1", kind: "Namespace", metadata: #{ name: "myservice" } });
kube::apply(#{ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls",
               metadata: #{ name: "wildcard-wild-cloud-tls", namespace: "myservice" },
               stringData: #{ "tls.crt": pair.cert, "tls.key": pair.key } });
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("setup.rhai"), setup).expect("write setup");
    let out = wildrun(
        dir.path(),
        &["setup.rhai"],
        &[("KUBECONFIG", kubeconfig.as_str())],
    )
    .output()
    .expect("wildrun runs");
    assert!(out.status.success(), "setup: {}", text(&out));
    run_to_end(example, &[], &[("KUBECONFIG", kubeconfig.as_str())], |_| {});
    cluster.delete_namespace_later("myservice");
}

/// The `kube::watch` example, verbatim, in namespace shop: a labelled
/// ConfigMap gets its copy, and Ctrl-C ends the run with exit 0.
fn run_watch(example: &Example) {
    let cluster = TestCluster::shared();
    let kubeconfig = kubeconfig();
    let out = cluster.kubectl(&["create", "namespace", "shop"]);
    assert!(
        out.status.success(),
        "create namespace shop: {}",
        text(&out)
    );
    let (dir, _) = recipe(example);
    let mut bg = Background::spawn(wildrun(
        dir.path(),
        &["recipe.rhai"],
        &[("KUBECONFIG", kubeconfig.as_str())],
    ));
    bg.wait_for("watching v1 ConfigMap in shop");
    for args in [
        &[
            "-n",
            "shop",
            "create",
            "configmap",
            "web",
            "--from-literal=a=b",
        ][..],
        &["-n", "shop", "label", "configmap", "web", "app=web"][..],
    ] {
        let out = cluster.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    }
    bg.wait_for("created    ConfigMap shop/web-copy");
    let copy = cluster.kubectl(&[
        "-n",
        "shop",
        "get",
        "configmap",
        "web-copy",
        "-o",
        "jsonpath={.data.a}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&copy.stdout),
        "b",
        "{}",
        text(&copy)
    );
    let code = bg.interrupt();
    let output = bg.text();
    cluster.delete_namespace_later("shop");
    assert_eq!(code, Some(0), "{output}");
    assert!(!output.contains("panicked"), "{output}");
}

/// Compiles the example and checks that each `ns::function` it calls exists.
fn check_no_run(example: &Example) {
    let engine = rhai::Engine::new();
    if let Err(e) = engine.compile(&example.code) {
        panic!(
            "README.md:{}: the example does not compile: {e}",
            example.line
        );
    }
    let known = wildrun::script::engine::script_functions();
    let code = &example.code;
    for (idx, _) in code.match_indices("::") {
        let start = code[..idx]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        let end = code[idx + 2..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(code.len(), |p| idx + 2 + p);
        let name = &code[start..end];
        assert!(
            known.iter().any(|k| k == name),
            "README.md:{}: the example calls {name}, which scripts do not have",
            example.line
        );
    }
}

#[test]
fn every_rhai_example_in_the_readme_runs() {
    let examples = examples();
    assert!(examples.len() >= 6, "{examples:?}");
    for example in &examples {
        match example.marker.as_deref() {
            Some("watch") => run_watch(example),
            Some("recipe") => run_recipe(example),
            Some("fork") => run_fork(example),
            Some("cert") => run_cert(example),
            Some("discover") => {
                let kubeconfig = kubeconfig();
                run_to_end(example, &[], &[("KUBECONFIG", kubeconfig.as_str())], |_| {})
            }
            Some(m) if m.starts_with("no_run") => check_no_run(example),
            other => panic!(
                "README.md:{}: a ```rhai example needs a marker line `<!-- example: NAME -->` that tests/readme.rs knows (found {other:?})",
                example.line
            ),
        }
    }
}

#[test]
fn a_broken_example_is_caught() {
    let broken = Example {
        line: 0,
        marker: Some("no_run".into()),
        code: "dns::resolv(\"a\", \"A\");\n".into(),
    };
    let caught = std::panic::catch_unwind(|| check_no_run(&broken));
    assert!(caught.is_err(), "a call of a missing function must fail");
}
