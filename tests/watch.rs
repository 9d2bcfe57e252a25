//! Long-running wildrun on the real control plane: `--watch` re-running on
//! edits, `kube::watch` handlers (events merged per object while a handler
//! runs), the tls-sync example, a watch that survives an API server
//! restart, and two copies of one script electing a leader.
//!
//! Every test on the shared plane gives its copies a Lease of its own
//! (`watch.leaseNamespace` in one of its namespaces): scripts of the same
//! name in parallel tests would otherwise wait for each other.

mod common;

use common::background::{Background, PATIENCE};
use common::cluster::unique_name;
use common::{TestCluster, TestNamespace};
use serde_json::{json, Value};

use std::path::Path;
use std::process::Command;

use std::time::{Duration, Instant};

/// wildrun to run in `dir`, with `args`.
fn wildrun(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wildrun"));
    command
        .current_dir(dir)
        .args(args)
        .env("CLOUD_DOMAIN", "cloud.example.test")
        .env_remove("WILDRUN_CONFIG");
    command
}

/// wildrun running in the background in `dir`, with `args`, on the cluster
/// of `kubeconfig`.
fn start(kubeconfig: &Path, dir: &Path, args: &[&str]) -> Background {
    let mut command = wildrun(dir, args);
    command.env("KUBECONFIG", kubeconfig);
    Background::spawn(command)
}

/// Rewrites a file the way an editor saving it does (write a new file, rename over).
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn get(cluster: &TestCluster, args: &[&str]) -> Option<Value> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let out = cluster.kubectl(&all);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn kubectl_ok(cluster: &TestCluster, args: &[&str]) {
    let out = cluster.kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn apply_json(cluster: &TestCluster, value: &Value) {
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &value.to_string());
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls until `check` is true.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn watch_reapplies_on_edits_of_recipe_module_and_template() {
    let cluster = TestCluster::shared();
    let ns = TestNamespace::new(cluster, "watch-files");
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("app.rhai");
    let module = dir.path().join("lib.rhai");
    let template = dir.path().join("cm.yaml.tmpl");
    let recipe_text = format!(
        "import \"lib\" as lib;\n\
         kube::apply(#{{ apiVersion: \"apps/v1\", kind: \"Deployment\",\n\
           metadata: #{{ name: \"web\", namespace: \"{ns}\" }},\n\
           spec: #{{ selector: #{{ matchLabels: #{{ app: \"web\" }} }},\n\
             template: #{{ metadata: #{{ labels: #{{ app: \"web\" }} }}, spec: #{{ containers: [#{{ name: \"web\", image: \"nginx:1\" }}] }} }} }} }});\n\
         kube::apply_all(yaml::parse(template::file(\"cm.yaml.tmpl\", #{{ NS: \"{ns}\", VALUE: lib::value() }})));\n",
        ns = ns.name()
    );
    std::fs::write(&recipe, &recipe_text).unwrap();
    std::fs::write(&module, "fn value() { \"one\" }\n").unwrap();
    std::fs::write(&template, "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: \"${NS}\" }\ndata: { value: \"${VALUE}\" }\n").unwrap();

    let mut run = start(
        cluster.kubeconfig_path(),
        dir.path(),
        &["--watch", "app.rhai"],
    );
    run.wait_for("run 1 done");
    assert!(run.text().contains("watching 3 file(s)"), "{}", run.text());

    // The recipe's image: only the Deployment is configured.
    save(&recipe, &recipe_text.replace("nginx:1", "nginx:2"));
    run.wait_for("run 2 done");
    let text = run.text();
    let second: Vec<&str> = text
        .split("run 1 done")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("configured") || l.starts_with("created"))
        .collect();
    assert_eq!(
        second,
        [format!("configured Deployment {}/web", ns.name())],
        "{text}"
    );
    let deployment = get(cluster, &["-n", ns.name(), "deployment", "web"]).unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );

    // An imported module re-runs too.
    save(&module, "fn value() { \"two\" }\n");
    run.wait_for("run 3 done");
    eventually("the module's value reaches the ConfigMap", || {
        get(cluster, &["-n", ns.name(), "configmap", "settings"])
            .is_some_and(|c| c["data"]["value"] == "two")
    });

    // And a template.
    save(&template, "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: \"${NS}\" }\ndata: { value: \"${VALUE}\", extra: \"x\" }\n");
    run.wait_for("run 4 done");
    eventually("the template's new key reaches the ConfigMap", || {
        get(cluster, &["-n", ns.name(), "configmap", "settings"])
            .is_some_and(|c| c["data"]["extra"] == "x")
    });

    // A syntax error is reported, the watch goes on, the next good edit applies.
    save(&recipe, &format!("{recipe_text}let broken = (;\n"));
    run.wait_for("run 5 failed");
    assert!(run.text().contains("syntax error"), "{}", run.text());
    save(&recipe, &recipe_text.replace("nginx:1", "nginx:3"));
    run.wait_for("run 6 done");
    let deployment = get(cluster, &["-n", ns.name(), "deployment", "web"]).unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:3"
    );

    // One save, one run: no burst of runs for a single edit.
    assert_eq!(
        run.count(" done in ") + run.count(" failed in "),
        6,
        "{}",
        run.text()
    );
    assert_eq!(run.interrupt(), Some(0));
}

#[test]
fn watch_reports_an_import_cycle_and_goes_on_watching() {
    // No cluster: each run renders (--dry-run).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rhai"),
        "import \"b\" as b;\nfn f() { 1 }\n",
    )
    .unwrap();
    let b = dir.path().join("b.rhai");
    std::fs::write(&b, "import \"a\" as a;\nfn g() { 2 }\n").unwrap();
    std::fs::write(
        dir.path().join("app.rhai"),
        "import \"a\" as a;\nout::line(\"ran\");\n",
    )
    .unwrap();
    let mut run = Background::spawn(wildrun(dir.path(), &["--watch", "--dry-run", "app.rhai"]));
    run.wait_for("run 1 failed");
    assert!(
        run.text()
            .contains("import cycle: a.rhai → b.rhai → a.rhai"),
        "{}",
        run.text()
    );
    // The cycle is broken: the next run goes through.
    save(&b, "fn g() { 2 }\n");
    run.wait_for("run 2 done");
    assert_eq!(run.interrupt(), Some(0), "{}", run.text());
}

#[test]
fn watch_handler_sees_events_in_order_and_survives_its_errors() {
    let cluster = TestCluster::shared();
    let ns = TestNamespace::new(cluster, "kube-watch");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("events.rhai"),
        format!(
            "run::once(\"key\");\n\
             kube::watch(\"v1\", \"ConfigMap\", #{{ namespace: \"{}\", labels: \"test=events\" }}, |event, cm| {{\n\
                 if cm.metadata.name == \"bad\" {{ throw \"bad object\"; }}\n\
                 // Each call is an evaluation of its own: run::once starts afresh.\n\
                 let first = run::once(\"key\") && !run::once(\"key\");\n\
                 log::info(`EVENT ${{event}} ${{cm.metadata.name}} ${{cm.data?.v ?? \"\"}} ${{first}}`);\n\
             }});\n",
            ns.name()
        ),
    )
    .unwrap();
    let lease = format!("watch.leaseNamespace={}", ns.name());
    let mut run = start(
        cluster.kubeconfig_path(),
        dir.path(),
        &["events.rhai", "--set", &lease],
    );
    run.wait_for("watching v1 ConfigMap");
    let cm = |name: &str, v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns.name(), "labels": {"test": "events"}}, "data": {"v": v}});
    apply_json(cluster, &cm("a", "1"));
    run.wait_for("EVENT added a 1 ");
    apply_json(cluster, &cm("bad", "0"));
    run.wait_for("handler for ConfigMap");
    apply_json(cluster, &cm("a", "2"));
    run.wait_for("EVENT modified a 2");
    kubectl_ok(cluster, &["-n", ns.name(), "delete", "configmap", "a"]);
    run.wait_for("EVENT deleted a");

    let events: Vec<String> = run
        .text()
        .lines()
        .filter(|l| l.contains("EVENT "))
        .map(|l| l.split("EVENT ").nth(1).unwrap().trim().to_string())
        .collect();
    assert_eq!(
        events,
        ["added a 1 true", "modified a 2 true", "deleted a 2 true"]
    );
    let text = run.text();
    assert!(
        text.contains(&format!(
            "handler for ConfigMap {}/bad (added) failed",
            ns.name()
        )) && text.contains("events.rhai:3"),
        "{text}"
    );
    assert_eq!(run.interrupt(), Some(0));
}

/// A TLS-looking Secret (the API server checks only that both keys exist).
fn tls_secret(namespace: &str, name: &str, content: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
           "metadata": {"name": name, "namespace": namespace},
           "stringData": {"tls.crt": format!("cert-{content}"), "tls.key": format!("key-{content}")}})
}

fn ingress(namespace: &str, secret: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "web", "namespace": namespace},
           "spec": {"rules": [{"host": "web.cloud.example.test"}], "tls": [{"hosts": ["web.cloud.example.test"], "secretName": secret}]}})
}

fn secret_data(cluster: &TestCluster, namespace: &str, name: &str) -> Option<Value> {
    get(cluster, &["-n", namespace, "secret", name]).map(|s| s["data"].clone())
}

#[test]
fn tls_sync_distributes_refreshes_and_removes_copies() {
    let cluster = TestCluster::shared();
    let source = TestNamespace::new(cluster, "tls-source");
    let app1 = TestNamespace::new(cluster, "tls-app1");
    let app2 = TestNamespace::new(cluster, "tls-app2");
    let labelled = TestNamespace::new(cluster, "tls-labelled");
    let foreign = TestNamespace::new(cluster, "tls-foreign");
    // Secret names of this test only: other tests' Ingresses must not matter.
    let public = format!("{}-tls", unique_name("pub"));
    let internal = format!("{}-tls", unique_name("int"));
    apply_json(cluster, &tls_secret(source.name(), &public, "v1"));
    apply_json(cluster, &tls_secret(source.name(), &internal, "i1"));
    apply_json(cluster, &ingress(app1.name(), &public));
    apply_json(cluster, &tls_secret(foreign.name(), &public, "theirs"));
    apply_json(cluster, &ingress(foreign.name(), &public));

    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = [
        format!("tls.sourceNamespace={}", source.name()),
        format!("tls.publicSecret={public}"),
        format!("tls.internalSecret={internal}"),
        format!("watch.leaseNamespace={}", source.name()),
    ];
    let mut args = vec!["examples/tls-sync.rhai"];
    for s in &sets {
        args.extend(["--set", s.as_str()]);
    }
    let mut run = start(cluster.kubeconfig_path(), repo, &args);
    let source_data = secret_data(cluster, source.name(), &public).unwrap();

    // An Ingress that existed before the start gets its copy.
    eventually("app1 gets its copy", || {
        secret_data(cluster, app1.name(), &public).as_ref() == Some(&source_data)
    });
    // A new namespace with a matching Ingress gets one.
    apply_json(cluster, &ingress(app2.name(), &public));
    eventually("app2 gets its copy", || {
        secret_data(cluster, app2.name(), &public).as_ref() == Some(&source_data)
    });
    // A namespace asks by label.
    kubectl_ok(
        cluster,
        &[
            "label",
            "namespace",
            labelled.name(),
            "wildrun.dev/tls=internal",
        ],
    );
    let internal_data = secret_data(cluster, source.name(), &internal).unwrap();
    eventually("the labelled namespace gets the internal copy", || {
        secret_data(cluster, labelled.name(), &internal).as_ref() == Some(&internal_data)
    });

    // Renewal: every copy follows.
    apply_json(cluster, &tls_secret(source.name(), &public, "v2"));
    let renewed = secret_data(cluster, source.name(), &public).unwrap();
    assert_ne!(renewed, source_data);
    for ns in [app1.name(), app2.name()] {
        eventually("copies follow the renewed source", || {
            secret_data(cluster, ns, &public).as_ref() == Some(&renewed)
        });
    }

    // The Ingress goes: so does the copy. The label goes: so does that copy.
    kubectl_ok(cluster, &["-n", app2.name(), "delete", "ingress", "web"]);
    eventually("app2's copy is removed", || {
        secret_data(cluster, app2.name(), &public).is_none()
    });
    kubectl_ok(
        cluster,
        &["label", "namespace", labelled.name(), "wildrun.dev/tls-"],
    );
    eventually("the unlabelled namespace's copy is removed", || {
        secret_data(cluster, labelled.name(), &internal).is_none()
    });

    // The foreign Secret was never touched, and the refusal was said.
    let theirs = secret_data(cluster, foreign.name(), &public).unwrap();
    assert_eq!(
        theirs["tls.crt"],
        json!("Y2VydC10aGVpcnM="),
        "base64 of cert-theirs"
    );
    assert!(
        run.text().contains("is not a copy wildrun made"),
        "{}",
        run.text()
    );
    assert!(
        secret_data(cluster, app1.name(), &public).is_some(),
        "app1 still needs its copy"
    );
    assert_eq!(run.interrupt(), Some(0));
}

#[test]
fn watch_survives_an_api_server_restart() {
    let plane = common::cluster::PrivatePlane::start();
    let cluster = &plane.cluster;
    let apiserver = |action: &str| plane.apiserver(action);
    kubectl_ok(cluster, &["create", "namespace", "restart"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("events.rhai"),
        "kube::watch(\"v1\", \"ConfigMap\", #{ namespace: \"restart\" }, |event, cm| { log::info(`EVENT ${event} ${cm.metadata.name}`); });\n",
    )
    .unwrap();
    let mut run = start(cluster.kubeconfig_path(), dir.path(), &["events.rhai"]);
    run.wait_for("EVENT added kube-root-ca.crt");
    kubectl_ok(cluster, &["-n", "restart", "create", "configmap", "before"]);
    run.wait_for("EVENT added before");

    apiserver("stop");
    run.wait_for("retrying with backoff");
    apiserver("start");
    kubectl_ok(cluster, &["-n", "restart", "create", "configmap", "after"]);
    run.wait_for("EVENT added after");
    kubectl_ok(cluster, &["-n", "restart", "delete", "configmap", "before"]);
    run.wait_for("EVENT deleted before");
    assert_eq!(
        run.count("EVENT added before"),
        1,
        "no duplicate events after the reconnect:\n{}",
        run.text()
    );
    assert_eq!(run.interrupt(), Some(0));
}

#[test]
fn tls_sync_deployment_manifests_apply_and_their_permissions_suffice() {
    let cluster = TestCluster::shared();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deploy = repo.join("examples/deploy");
    let out = cluster.kubectl(&["apply", "-k", deploy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "kubectl apply -k examples/deploy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deployment = get(
        cluster,
        &["-n", "wildrun", "deployment", "wildrun-tls-sync"],
    )
    .expect("the Deployment exists");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        "wildrun-tls-sync"
    );
    assert_eq!(
        deployment["spec"]["replicas"], 2,
        "two replicas: one leads, one stands by"
    );

    // Run tls-sync as that ServiceAccount, as it runs in the cluster.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = cluster.token_kubeconfig("wildrun", "wildrun-tls-sync", dir.path());
    let source = TestNamespace::new(cluster, "deploy-source");
    let app = TestNamespace::new(cluster, "deploy-app");
    let public = format!("{}-tls", unique_name("deploy"));
    apply_json(cluster, &tls_secret(source.name(), &public, "v1"));
    apply_json(cluster, &ingress(app.name(), &public));
    // The Lease the replicas share, in the namespace they run in: what the
    // Role of rbac.yaml allows (outside a pod it is not the default).
    let sets = [
        format!("tls.sourceNamespace={}", source.name()),
        format!("tls.publicSecret={public}"),
        format!("tls.internalSecret={public}-int"),
        "watch.leaseNamespace=wildrun".to_string(),
    ];
    let mut args = vec!["examples/tls-sync.rhai"];
    for s in &sets {
        args.extend(["--set", s.as_str()]);
    }
    let mut run = start(&kubeconfig, repo, &args);
    eventually("the ServiceAccount can make the copy", || {
        secret_data(cluster, app.name(), &public).is_some()
    });
    assert!(!run.text().contains("may not"), "{}", run.text());
    assert!(
        run.text()
            .contains("Lease wildrun/wildrun-tls-sync: this copy"),
        "{}",
        run.text()
    );
    assert_eq!(run.interrupt(), Some(0));
}

#[test]
fn tls_sync_copies_a_renewal_within_5s_after_an_api_server_outage() {
    let plane = common::cluster::PrivatePlane::start();
    let cluster = &plane.cluster;
    kubectl_ok(cluster, &["create", "namespace", "certs"]);
    kubectl_ok(cluster, &["create", "namespace", "app"]);
    apply_json(cluster, &tls_secret("certs", "wild-tls", "v1"));
    apply_json(cluster, &ingress("app", "wild-tls"));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut run = start(
        cluster.kubeconfig_path(),
        repo,
        &[
            "examples/tls-sync.rhai",
            "--set",
            "tls.sourceNamespace=certs",
            "--set",
            "tls.publicSecret=wild-tls",
        ],
    );
    let first = secret_data(cluster, "certs", "wild-tls").unwrap();
    eventually("app gets its copy", || {
        secret_data(cluster, "app", "wild-tls").as_ref() == Some(&first)
    });

    plane.apiserver("stop");
    run.wait_for("retrying with backoff");
    // Long enough for kube-runtime's default backoff to reach 12.8 s.
    std::thread::sleep(Duration::from_secs(12));
    plane.apiserver("start");
    apply_json(cluster, &tls_secret("certs", "wild-tls", "v2"));
    let renewed_at = Instant::now();
    let renewed = secret_data(cluster, "certs", "wild-tls").unwrap();
    assert_ne!(renewed, first);
    let limit = Duration::from_secs(5);
    while secret_data(cluster, "app", "wild-tls").as_ref() != Some(&renewed) {
        assert!(
            renewed_at.elapsed() < limit,
            "the renewal was not copied within {limit:?} of the API server's return:\n{}",
            run.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(run.interrupt(), Some(0));
}

#[test]
fn tls_sync_says_each_skip_once() {
    let cluster = TestCluster::shared();
    let source = TestNamespace::new(cluster, "tls-once-src");
    let app = TestNamespace::new(cluster, "tls-once-app");
    // The source secret does not exist: every event skips the copy.
    let public = format!("{}-tls", unique_name("once"));
    apply_json(cluster, &ingress(app.name(), &public));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = [
        format!("tls.sourceNamespace={}", source.name()),
        format!("tls.publicSecret={public}"),
        format!("watch.leaseNamespace={}", app.name()),
    ];
    let mut run = start(
        cluster.kubeconfig_path(),
        repo,
        &[
            "-v",
            "examples/tls-sync.rhai",
            "--set",
            &sets[0],
            "--set",
            &sets[1],
            "--set",
            &sets[2],
        ],
    );
    let copy = format!("Secret {}/{public}", app.name());
    run.wait_for(&copy);
    for n in 1..=3 {
        kubectl_ok(
            cluster,
            &[
                "-n",
                app.name(),
                "annotate",
                "--overwrite",
                "ingress",
                "web",
                &format!("touch={n}"),
            ],
        );
    }
    // The events are handled (those that come while a handler runs merged
    // into one); the later ones say the skip at debug level only.
    let said = |level: &str| {
        run.text()
            .lines()
            .filter(|l| l.starts_with(level) && l.contains("skipped") && l.contains(&copy))
            .count()
    };
    eventually("the events after the first are handled", || {
        said("debug") >= 3
    });
    assert_eq!(said("warning"), 1, "{}", run.text());
    assert_eq!(run.interrupt(), Some(0));
}

/// The handler calls a script logged as `CALL <event> <name> <v>`, in order.
fn calls(run: &Background) -> Vec<String> {
    run.text()
        .lines()
        .filter_map(|l| l.split("CALL ").nth(1))
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn events_that_come_while_a_handler_runs_merge_per_object() {
    let cluster = TestCluster::shared();
    let ns = TestNamespace::new(cluster, "burst");
    // A server that takes connections and never answers: a DNS query over
    // TCP to it waits for its timeout, the script's way to hold a handler.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = silent.local_addr().expect("its address").port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("burst.rhai"),
        format!(
            "kube::watch(\"v1\", \"ConfigMap\", #{{ namespace: \"{ns}\", labels: \"test=burst\" }}, |event, cm| {{\n\
                 log::info(`CALL ${{event}} ${{cm.metadata.name}} ${{cm.data?.v ?? \"\"}}`);\n\
                 // The first change holds its handler (at most ~60 s) until the test's burst is over.\n\
                 if event == \"modified\" && cm.data?.v == \"1\" {{\n\
                     let n = 0;\n\
                     while !kube::exists(\"v1\", \"ConfigMap\", \"{ns}\", \"gate\") && n < 30 {{\n\
                         try {{ dns::resolve(\"gate.test\", \"A\", #{{ server: \"127.0.0.1:{port}\", tcp: true, timeout: 1 }}); }} catch {{}}\n\
                         n += 1;\n\
                     }}\n\
                 }}\n\
             }});\n",
            ns = ns.name()
        ),
    )
    .unwrap();
    let cm = |name: &str, v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns.name(), "labels": {"test": "burst"}}, "data": {"v": v}});
    let names = ["target", "b", "c", "d", "e"];
    for name in names {
        apply_json(cluster, &cm(name, "0"));
    }
    let lease = format!("watch.leaseNamespace={}", ns.name());
    let mut run = start(
        cluster.kubeconfig_path(),
        dir.path(),
        &["burst.rhai", "--set", &lease],
    );
    // Start-up: one call per object.
    run.wait_for_count("CALL added", names.len());
    for name in names {
        assert_eq!(
            run.count(&format!("CALL added {name} 0")),
            1,
            "{}",
            run.text()
        );
    }

    // A burst of changes to one object while its handler runs.
    apply_json(cluster, &cm("target", "1"));
    run.wait_for("CALL modified target 1");
    let burst = 10;
    for v in 2..=burst {
        apply_json(cluster, &cm("target", &v.to_string()));
    }
    kubectl_ok(cluster, &["-n", ns.name(), "create", "configmap", "gate"]);
    run.wait_for(&format!("CALL modified target {burst}"));
    // Give a stray third call the time to show.
    std::thread::sleep(Duration::from_secs(1));
    let target: Vec<String> = calls(&run)
        .into_iter()
        .filter(|c| c.contains(" target "))
        .collect();
    assert_eq!(
        target,
        [
            "added target 0".to_string(),
            "modified target 1".to_string(),
            format!("modified target {burst}")
        ],
        "a burst of {} changes made more than two calls:\n{}",
        burst,
        run.text()
    );
    assert_eq!(calls(&run).len(), names.len() + 2, "{}", run.text());
    drop(silent);
    assert_eq!(run.interrupt(), Some(0));
}

/// Whether an audit event is a write (a failed one too).
fn is_write(event: &Value) -> bool {
    matches!(
        event["verb"].as_str(),
        Some("create" | "update" | "patch" | "delete" | "deletecollection")
    )
}

#[test]
fn two_copies_elect_one_leader_and_the_other_takes_over_when_it_is_killed() {
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    for ns in ["certs", "app1", "app2", "copies"] {
        kubectl_ok(cluster, &["create", "namespace", ns]);
    }
    apply_json(cluster, &tls_secret("certs", "wild-tls", "v1"));
    apply_json(cluster, &ingress("app1", "wild-tls"));
    apply_json(cluster, &ingress("app2", "wild-tls"));
    // Two identities, so that the audit log tells the copies apart.
    let dir = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for name in ["copy-a", "copy-b"] {
        kubectl_ok(cluster, &["-n", "copies", "create", "serviceaccount", name]);
        kubectl_ok(
            cluster,
            &[
                "create",
                "clusterrolebinding",
                name,
                "--clusterrole=cluster-admin",
                &format!("--serviceaccount=copies:{name}"),
            ],
        );
        let kubeconfig = cluster.token_kubeconfig("copies", name, dir.path());
        copies.push((format!("system:serviceaccount:copies:{name}"), kubeconfig));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = [
        "examples/tls-sync.rhai",
        "--set",
        "tls.sourceNamespace=certs",
        "--set",
        "tls.publicSecret=wild-tls",
    ];
    let mut runs: Vec<Background> = copies
        .iter()
        .map(|(_, kubeconfig)| start(kubeconfig, repo, &args))
        .collect();

    // Exactly one leads; the other says it waits.
    const LEADS: &str = "Lease default/wildrun-tls-sync: this copy";
    const WAITS: &str = "Lease default/wildrun-tls-sync is held by";
    eventually("one copy leads and the other waits", || {
        runs.iter().map(|r| r.count(LEADS)).sum::<usize>() == 1
            && runs.iter().map(|r| r.count(WAITS)).sum::<usize>() == 1
    });
    let first = secret_data(cluster, "certs", "wild-tls").unwrap();
    for ns in ["app1", "app2"] {
        eventually("the leader makes the copies", || {
            secret_data(cluster, ns, "wild-tls").as_ref() == Some(&first)
        });
    }
    // Through two renewals, still one leader.
    std::thread::sleep(Duration::from_secs(11));
    let leaders: Vec<usize> = (0..runs.len())
        .filter(|i| runs[*i].count(LEADS) > 0)
        .collect();
    assert_eq!(
        leaders.len(),
        1,
        "{}\n---\n{}",
        runs[0].text(),
        runs[1].text()
    );
    let leader = leaders[0];
    let follower = 1 - leader;

    // The leader dies without a word; the source is renewed.
    runs[leader].kill_hard();
    apply_json(cluster, &tls_secret("certs", "wild-tls", "v2"));
    let renewed_at = Instant::now();
    let renewed = secret_data(cluster, "certs", "wild-tls").unwrap();
    assert_ne!(renewed, first);
    let limit = Duration::from_secs(15 + 5);
    for ns in ["app1", "app2"] {
        while secret_data(cluster, ns, "wild-tls").as_ref() != Some(&renewed) {
            assert!(
                renewed_at.elapsed() < limit,
                "{ns}'s copy did not follow the renewal within {limit:?} of the leader's death:\n{}",
                runs[follower].text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    eprintln!(
        "the copies followed {:?} after the leader's death",
        renewed_at.elapsed()
    );
    assert_eq!(runs[follower].count(LEADS), 1, "{}", runs[follower].text());

    // The follower sent no write until it took the Lease (its first
    // successful write of it), and wrote the copies after.
    let user = &copies[follower].0;
    let events: Vec<Value> = plane
        .audit_events()
        .into_iter()
        .filter(|e| e["user"]["username"] == user.as_str())
        .collect();
    let took_over = events
        .iter()
        .find(|e| {
            e["objectRef"]["resource"] == "leases"
                && is_write(e)
                && e["responseStatus"]["code"]
                    .as_u64()
                    .is_some_and(|c| (200..300).contains(&c))
        })
        .unwrap_or_else(|| panic!("no write of the Lease by {user} in the audit log"))
        ["requestReceivedTimestamp"]
        .as_str()
        .expect("a timestamp")
        .to_string();
    let before: Vec<String> = events
        .iter()
        .filter(|e| is_write(e))
        .filter(|e| e["requestReceivedTimestamp"].as_str().unwrap_or_default() < took_over.as_str())
        // Losing the race to create the Lease at start is not a write.
        .filter(|e| !(e["objectRef"]["resource"] == "leases" && e["responseStatus"]["code"] == 409))
        .map(|e| {
            format!(
                "{} {} ({})",
                e["verb"], e["requestURI"], e["responseStatus"]["code"]
            )
        })
        .collect();
    assert!(
        before.is_empty(),
        "{user} wrote while it did not lead: {before:#?}"
    );
    let wrote_copies = events
        .iter()
        .filter(|e| is_write(e) && e["objectRef"]["resource"] == "secrets")
        .count();
    assert!(
        wrote_copies >= 2,
        "{user} made {wrote_copies} writes of Secrets after taking over"
    );
    let mut follower_run = runs.remove(follower);
    assert_eq!(follower_run.interrupt(), Some(0));
}
