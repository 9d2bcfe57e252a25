//! Long-running wildrun on the real control plane: `--watch` re-running on
//! edits, `kube::watch` handlers (events merged per object while a handler
//! runs), the tls-sync example, a watch that survives an API server
//! restart, two copies of one script electing a leader, and their writes
//! fenced by the Lease (a leader stopped in the middle of a plan, a plan
//! longer than the Lease).
//!
//! Every test on the shared plane gives its copies a Lease of its own
//! (`watch.leaseNamespace` in one of its namespaces): scripts of the same
//! name in parallel tests would otherwise wait for each other.

mod common;

use common::background::{Background, PATIENCE};
use common::cluster::unique_name;
use common::command::Wildrun;
use common::{TestCluster, TestNamespace};
use serde_json::{json, Value};

use std::path::Path;
use std::process::Command;

use std::time::{Duration, Instant};

/// wildrun to run in `dir`, with `args`.
fn wildrun(dir: &Path, args: &[&str]) -> Command {
    Wildrun::new()
        .in_dir(dir)
        .args(args)
        .env("CLOUD_DOMAIN", "cloud.example.test")
        .into_command()
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
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

/// Two identities (ServiceAccounts `copy-a` and `copy-b` in namespace
/// `copies`, which must exist, bound to cluster-admin), so that the audit
/// log tells two copies apart: each one's user name and kubeconfig (in `dir`).
fn two_identities(cluster: &TestCluster, dir: &Path) -> Vec<(String, std::path::PathBuf)> {
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
        let kubeconfig = cluster.token_kubeconfig("copies", name, dir);
        copies.push((format!("system:serviceaccount:copies:{name}"), kubeconfig));
    }
    copies
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn two_copies_elect_one_leader_and_the_other_takes_over_when_it_is_killed() {
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    for ns in ["certs", "app1", "app2", "copies"] {
        kubectl_ok(cluster, &["create", "namespace", ns]);
    }
    apply_json(cluster, &tls_secret("certs", "wild-tls", "v1"));
    apply_json(cluster, &ingress("app1", "wild-tls"));
    apply_json(cluster, &ingress("app2", "wild-tls"));
    let dir = tempfile::tempdir().unwrap();
    let copies = two_identities(cluster, dir.path());
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

/// A handler that writes `count` ConfigMaps `cm-<i>` in namespace
/// `targets`, each with the `n` of the ConfigMap `source/source`: a plan
/// that takes a while, and whose every object says which trigger wrote it.
/// With `gated`, the plan waits halfway for the ConfigMap `source/gate` to
/// be deleted: a plan as long as the test wants.
fn fan_out_script(count: usize, gated: bool) -> String {
    let gate = if gated {
        format!(
            "if i == {} {{ kube::wait(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"gate\", namespace: \"source\" }} }}, \"deleted\", 120); }}",
            count / 2
        )
    } else {
        String::new()
    };
    format!(
        "kube::watch(\"v1\", \"ConfigMap\", #{{ namespace: \"source\", fields: \"metadata.name=source\" }}, |event, cm| {{\n\
             if event == \"deleted\" {{ return; }}\n\
             for i in 0..{count} {{\n\
                 {gate}\n\
                 kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\",\n\
                     metadata: #{{ name: `cm-${{i}}`, namespace: \"targets\" }}, data: #{{ n: cm.data.n }} }});\n\
             }}\n\
         }});\n"
    )
}

/// Sets `source/source`'s `n`.
fn set_source(cluster: &TestCluster, n: u32) {
    apply_json(
        cluster,
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "source", "namespace": "source"},
                "data": {"n": n.to_string()}}),
    );
}

/// How many of the targets hold `n`.
fn targets_holding(cluster: &TestCluster, n: u32) -> usize {
    let Some(list) = get(cluster, &["-n", "targets", "configmaps"]) else {
        return 0;
    };
    list["items"].as_array().map_or(0, |items| {
        items
            .iter()
            .filter(|cm| cm["data"]["n"] == n.to_string().as_str())
            .count()
    })
}

/// Waits (at most `limit`) until all `count` targets hold `n`.
fn wait_for_targets(
    cluster: &TestCluster,
    count: usize,
    n: u32,
    limit: Duration,
    runs: &[Background],
) {
    let deadline = Instant::now() + limit;
    loop {
        let holding = targets_holding(cluster, n);
        if holding == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{holding} of {count} targets hold n={n} after {limit:?}:\n{}",
            outputs(runs)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Both copies' output, for failure messages.
fn outputs(runs: &[Background]) -> String {
    runs.iter()
        .enumerate()
        .map(|(i, r)| format!("--- copy {i}:\n{}", r.text()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether an audit event is a write by `user` to a target ConfigMap.
fn writes_target(event: &Value, user: &str) -> bool {
    is_write(event)
        && event["user"]["username"] == user
        && event["objectRef"]["resource"] == "configmaps"
        && event["objectRef"]["namespace"] == "targets"
}

/// The writes of a target ConfigMap by one of `users` (from the audit
/// log) that were not sent by the one that held the Lease `lease` at that
/// moment, as `<received> <user> <verb> <name>`: the holder is who last
/// wrote the Lease successfully, from the moment the API server received
/// that write. Also how many writes each user made.
fn writes_by_non_holders(
    events: &[Value],
    users: &[&str],
    lease: &str,
) -> (Vec<String>, Vec<usize>) {
    let mut sorted: Vec<&Value> = events
        .iter()
        .filter(|e| users.contains(&e["user"]["username"].as_str().unwrap_or_default()))
        .collect();
    sorted.sort_by_key(|e| {
        e["requestReceivedTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    let mut holder: Option<&str> = None;
    let mut wrong = Vec::new();
    let mut counts = vec![0; users.len()];
    for e in sorted {
        let user = e["user"]["username"].as_str().unwrap_or_default();
        if e["objectRef"]["resource"] == "leases"
            && e["objectRef"]["name"] == lease
            && is_write(e)
            && e["responseStatus"]["code"]
                .as_u64()
                .is_some_and(|c| (200..300).contains(&c))
        {
            // A reconcile request annotates the Lease and leaves its holder.
            let asks_to_reconcile = e["requestURI"]
                .as_str()
                .is_some_and(|uri| uri.contains("fieldManager=wildrun-reconcile-request"));
            if !asks_to_reconcile {
                holder = Some(user);
            }
        } else if writes_target(e, user) {
            if let Some(i) = users.iter().position(|u| *u == user) {
                counts[i] += 1;
            }
            if holder != Some(user) {
                wrong.push(audit_line(e));
            }
        }
    }
    (wrong, counts)
}

/// `<received> <user> <verb> <name>` of an audit event, for messages.
fn audit_line(e: &Value) -> String {
    format!(
        "{} {} {} {}",
        e["requestReceivedTimestamp"].as_str().unwrap_or_default(),
        e["user"]["username"].as_str().unwrap_or_default(),
        e["verb"].as_str().unwrap_or_default(),
        e["objectRef"]["name"].as_str().unwrap_or_default()
    )
}

/// `Lease default/<name>` of the fan-out script's copies.
const FAN_OUT_LEASE: &str = "wildrun-fan-out";
const LEADS: &str = "Lease default/wildrun-fan-out: this copy";
const STOPPED: &str = "the plan was stopped because this copy no longer leads";
const STEPS_DOWN: &str = "writes nothing more, and waits to lead again";
const ASKED: &str = "it asked the copy that leads to reconcile from a full list";
const RECONCILES: &str = "the handlers reconcile every object";

/// Starts `script` (a [`fan_out_script`]) as two copies (the identities of
/// [`two_identities`]) with a Lease of 3 s and `source/source` at `n` = 1;
/// waits until one leads. Returns the copies, and which one leads.
fn start_two_fan_outs(
    plane: &common::cluster::PrivatePlane,
    dir: &Path,
    copies: &[(String, std::path::PathBuf)],
    script: &str,
    extra: &[&str],
) -> (Vec<Background>, usize) {
    let cluster = &plane.cluster;
    std::fs::write(dir.join("fan-out.rhai"), script).unwrap();
    set_source(cluster, 1);
    let mut args = vec!["fan-out.rhai", "--set", "watch.leaseDuration=3"];
    args.extend_from_slice(extra);
    let runs: Vec<Background> = copies
        .iter()
        .map(|(_, kubeconfig)| start(kubeconfig, dir, &args))
        .collect();
    eventually("one copy leads", || {
        runs.iter().map(|r| r.count(LEADS)).sum::<usize>() == 1
    });
    let leader = (0..runs.len())
        .find(|i| runs[*i].count(LEADS) == 1)
        .expect("a leader");
    (runs, leader)
}

/// Which of `runs` holds the fan-out script's Lease now: the one whose
/// output names the Lease's `holderIdentity` as itself.
fn holder_of_lease(cluster: &TestCluster, runs: &[Background]) -> usize {
    let lease = get(cluster, &["-n", "default", "lease", FAN_OUT_LEASE]).expect("the Lease");
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or_default();
    let me = format!("this copy ({holder})");
    (0..runs.len())
        .find(|i| !holder.is_empty() && runs[*i].text().contains(&me))
        .unwrap_or_else(|| panic!("no copy holds the Lease ({holder:?}):\n{}", outputs(runs)))
}

/// The copies of the fan-out script in namespace `copies`, the source in
/// `source` and the targets in `targets`, on a plane of the test's own.
fn fan_out_plane() -> common::cluster::PrivatePlane {
    let plane = common::cluster::PrivatePlane::start_audited();
    for ns in ["source", "targets", "copies"] {
        kubectl_ok(&plane.cluster, &["create", "namespace", ns]);
    }
    plane
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn a_leader_stopped_mid_plan_writes_nothing_after_another_copy_took_over() {
    const COUNT: usize = 300;
    let plane = fan_out_plane();
    let cluster = &plane.cluster;
    let dir = tempfile::tempdir().unwrap();
    let copies = two_identities(cluster, dir.path());
    let script = fan_out_script(COUNT, false);
    let (mut runs, _) = start_two_fan_outs(&plane, dir.path(), &copies, &script, &[]);
    wait_for_targets(cluster, COUNT, 1, PATIENCE, &runs);
    let users: Vec<&str> = copies.iter().map(|(u, _)| u.as_str()).collect();

    let mut all_late = Vec::new();
    // Each round: the source changes, the leader is stopped after `at`
    // writes of its plan, the source changes again; the other copy takes
    // over and writes the new value; the stopped one is resumed.
    let mut n = 1;
    for at in [10, COUNT / 2] {
        let (old, new) = (n + 1, n + 2);
        n = new;
        let leader = holder_of_lease(cluster, &runs);
        let standby = 1 - leader;
        let user = users[leader];
        let mut offset = std::fs::metadata(plane.audit_log()).map_or(0, |m| m.len());
        set_source(cluster, old);
        let deadline = Instant::now() + PATIENCE;
        let mut written = 0;
        while written < at {
            written += plane
                .audit_events_from(&mut offset)
                .iter()
                .filter(|e| writes_target(e, user))
                .count();
            assert!(
                Instant::now() < deadline,
                "the leader wrote {written} of {at} targets:\n{}",
                outputs(&runs)
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        runs[leader].pause();
        set_source(cluster, new);
        let standby_leads = runs[standby].count(LEADS);
        wait_for_targets(cluster, COUNT, new, PATIENCE, &runs);
        assert_eq!(
            runs[standby].count(LEADS),
            standby_leads + 1,
            "{}",
            outputs(&runs)
        );

        // Everything the API server received so far came before the resume.
        let before: Vec<Value> = plane.audit_events();
        let last_before = before
            .iter()
            .filter_map(|e| e["requestReceivedTimestamp"].as_str())
            .max()
            .unwrap_or_default()
            .to_string();
        let steps_down = runs[leader].count(STEPS_DOWN);
        let resumed = Instant::now();
        runs[leader].resume();
        let deadline = resumed + PATIENCE;
        while runs[leader].count(STEPS_DOWN) == steps_down {
            assert!(
                Instant::now() < deadline,
                "the resumed copy did not step down:\n{}",
                outputs(&runs)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let stepped_down_after = resumed.elapsed();
        // Time for stray writes to show.
        std::thread::sleep(Duration::from_secs(1));
        let events = plane.audit_events();
        let late: Vec<String> = events
            .iter()
            .filter(|e| writes_target(e, user))
            .filter(|e| {
                e["requestReceivedTimestamp"].as_str().unwrap_or_default() > last_before.as_str()
            })
            .map(audit_line)
            .collect();
        eprintln!(
            "stopped after {at} writes: the resumed copy stepped down {stepped_down_after:?} after SIGCONT, with {} write(s) after it {:?}",
            late.len(),
            &late[..late.len().min(3)]
        );
        assert!(
            runs[leader].text().contains(STOPPED),
            "the resumed copy did not say its plan was stopped:\n{}",
            runs[leader].text()
        );
        // At most the one write on its way when the copy was stopped (no
        // check can come between the last one and the bytes leaving)...
        assert!(late.len() <= 1, "{late:#?}\n{}", outputs(&runs));
        all_late.extend(late.iter().cloned());
        let (wrong, _) = writes_by_non_holders(&events, &users, FAN_OUT_LEASE);
        assert!(
            wrong.iter().all(|w| all_late.contains(w)),
            "writes by a copy that did not hold the Lease: {wrong:#?}"
        );
        // ... which the copy that leads is asked to correct.
        if !late.is_empty() {
            assert!(
                runs[leader].text().contains(ASKED),
                "{}",
                runs[leader].text()
            );
            runs[standby].wait_for(RECONCILES);
        }
        wait_for_targets(cluster, COUNT, new, PATIENCE, &runs);
    }

    // A write the leader did not see (a late one of a resumed copy) stays
    // until a reconcile is asked for; then the leader corrects it.
    let mut stale = get(cluster, &["-n", "targets", "configmap", "cm-7"]).expect("cm-7");
    stale["data"]["n"] = json!("stale");
    for field in [
        "managedFields",
        "resourceVersion",
        "uid",
        "creationTimestamp",
    ] {
        stale["metadata"].as_object_mut().map(|m| m.remove(field));
    }
    // As wildrun's field manager, as a copy's own write would be.
    let out = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=wildrun",
            "-f",
            "-",
        ],
        &stale.to_string(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(targets_holding(cluster, n), COUNT - 1, "{}", outputs(&runs));
    let leader = holder_of_lease(cluster, &runs);
    let reconciles = runs[leader].count(RECONCILES);
    kubectl_ok(
        cluster,
        &[
            "-n",
            "default",
            "annotate",
            "--overwrite",
            "lease",
            FAN_OUT_LEASE,
            "wildrun.dev/reconcile-requested=a-test",
        ],
    );
    runs[leader].wait_for_count(RECONCILES, reconciles + 1);
    wait_for_targets(cluster, COUNT, n, PATIENCE, &runs);
    for mut run in runs {
        assert_eq!(run.interrupt(), Some(0));
    }
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn a_plan_longer_than_the_lease_keeps_one_writer_at_a_time() {
    const COUNT: usize = 400;
    // Over three durations of the 3 s Lease: a holder that renews only
    // between handlers loses it in the middle of the plan.
    const GATE_HELD: Duration = Duration::from_secs(10);
    let plane = fan_out_plane();
    let cluster = &plane.cluster;
    apply_json(
        cluster,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gate", "namespace": "source"}}),
    );
    let dir = tempfile::tempdir().unwrap();
    let copies = two_identities(cluster, dir.path());
    let users: Vec<&str> = copies.iter().map(|(u, _)| u.as_str()).collect();
    let script = fan_out_script(COUNT, true);
    let (runs, leader) = start_two_fan_outs(&plane, dir.path(), &copies, &script, &["-v"]);

    // The first half written, the plan waits for the gate.
    let mut offset = 0;
    let mut written = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while written < COUNT / 2 {
        written += plane
            .audit_events_from(&mut offset)
            .iter()
            .filter(|e| writes_target(e, users[leader]))
            .count();
        assert!(
            Instant::now() < deadline,
            "the leader wrote {written} of {} targets:\n{}",
            COUNT / 2,
            outputs(&runs)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(GATE_HELD);
    kubectl_ok(cluster, &["-n", "source", "delete", "configmap", "gate"]);
    wait_for_targets(cluster, COUNT, 1, Duration::from_secs(120), &runs);

    let events = plane.audit_events();
    let (wrong, counts) = writes_by_non_holders(&events, &users, FAN_OUT_LEASE);
    assert!(
        wrong.is_empty(),
        "{} write(s) by a copy that did not hold the Lease, the first: {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    let stamps: Vec<&str> = events
        .iter()
        .filter(|e| writes_target(e, users[leader]))
        .filter_map(|e| e["requestReceivedTimestamp"].as_str())
        .collect();
    eprintln!(
        "writes by each copy: {counts:?}; the leader's from {:?} to {:?}",
        stamps.first(),
        stamps.last()
    );
    let text = runs[leader].text();
    let Some(said) = text
        .lines()
        .find(|l| l.contains("longer than the Lease's 3s"))
    else {
        panic!(
            "the leader did not say its plan outlasted the Lease:\n{}",
            text.lines()
                .filter(|l| !l.starts_with("created") && !l.starts_with("debug"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    eprintln!("{said}");
    for mut run in runs {
        assert_eq!(run.interrupt(), Some(0));
    }
}

/// `objects` as one YAML file of JSON documents.
fn yaml_file(objects: &[Value]) -> String {
    objects.iter().map(|o| format!("---\n{o}\n")).collect()
}

/// Waits until the `nth` line holding `marker` is followed by a finished run.
fn wait_for_run_after(run: &mut Background, marker: &str, nth: usize) {
    run.wait_for_count(marker, nth);
    eventually(&format!("a run after {marker:?} #{nth}"), || {
        let text = run.text();
        text.match_indices(marker)
            .nth(nth - 1)
            .is_some_and(|(at, _)| text[at..].contains(" done in "))
    });
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn watch_prune_waits_for_a_half_saved_file_keeps_data_and_holds_a_large_removal() {
    let cluster = TestCluster::shared();
    // Made by the run, so the Namespace is one of the instance's objects.
    let guard = TestNamespace::to_be_made(cluster, "watch-prune");
    let ns = guard.name();
    let dir = tempfile::tempdir().unwrap();
    // A recipe of its own name: its instance is this test's alone.
    let instance = unique_name("wz");
    let recipe = format!("{instance}.rhai");
    std::fs::write(
        dir.path().join(&recipe),
        "kube::apply_all(yaml::file(\"objs.yaml\"));\n",
    )
    .unwrap();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": name}});
    let objs = dir.path().join("objs.yaml");
    let full = yaml_file(&[namespace.clone(), claim.clone(), cm("a"), cm("b"), cm("c")]);
    std::fs::write(&objs, &full).unwrap();

    let mut run = start(
        cluster.kubeconfig_path(),
        dir.path(),
        &["--watch", "--prune", &recipe],
    );
    run.wait_for("run 1 done");
    let uid = |kind: &str, name: &str| {
        get(cluster, &["-n", ns, kind, name]).map(|o| o["metadata"]["uid"].clone())
    };
    let before: Vec<_> = [
        ("pvc", "data"),
        ("configmap", "a"),
        ("configmap", "b"),
        ("configmap", "c"),
    ]
    .iter()
    .map(|(kind, name)| uid(kind, name).unwrap())
    .collect();
    let unchanged = |what: &str, run: &Background| {
        let now: Vec<_> = [
            ("pvc", "data"),
            ("configmap", "a"),
            ("configmap", "b"),
            ("configmap", "c"),
        ]
        .iter()
        .map(|(kind, name)| uid(kind, name))
        .collect();
        assert_eq!(
            now,
            before.iter().cloned().map(Some).collect::<Vec<_>>(),
            "{what}:\n{}",
            run.text()
        );
    };
    const AGAIN: &str = "running again to prune";

    // An editor writes the file in two steps: first without `c`, seconds
    // later whole. The run in between holds its prune; the one after finds
    // nothing to remove, and nothing is removed later either.
    let without_c = yaml_file(&[namespace.clone(), claim.clone(), cm("a"), cm("b")]);
    for (half_saved, pause, held) in [
        (
            without_c.as_str(),
            3,
            format!("ConfigMap {ns}/c (objs.yaml changed "),
        ),
        // The same with the file truncated to nothing, as the issue saw.
        ("", 4, format!("PersistentVolumeClaim {ns}/data")),
    ] {
        let runs = run.count(" done in ");
        std::fs::write(&objs, half_saved).unwrap();
        run.wait_for(&format!("run {} done", runs + 1));
        std::thread::sleep(Duration::from_secs(pause));
        std::fs::write(&objs, &full).unwrap();
        run.wait_for(&format!("run {} done", runs + 2));
        // Longer than the watch waits before it prunes what it held.
        std::thread::sleep(Duration::from_secs(11));
        unchanged(&format!("{half_saved:?} deleted something"), &run);
        // The held step was reported, with why.
        assert!(
            run.text().contains(&format!("held       {held}")),
            "{}",
            run.text()
        );
    }
    assert_eq!(run.count("deleted "), 0, "{}", run.text());
    assert_eq!(run.count(AGAIN), 0, "{}", run.text());

    // A removal made on purpose is pruned once the file has settled.
    std::fs::write(&objs, &without_c).unwrap();
    wait_for_run_after(&mut run, AGAIN, 1);
    assert!(
        run.text().contains(&format!("deleted    ConfigMap {ns}/c")),
        "{}",
        run.text()
    );
    assert_eq!(uid("configmap", "c"), None);

    // Most of the instance at once: held until a run without --watch.
    std::fs::write(&objs, yaml_file(std::slice::from_ref(&namespace))).unwrap();
    wait_for_run_after(&mut run, AGAIN, 2);
    let text = run.text();
    assert!(
        text.contains(&format!("held       ConfigMap {ns}/a (the plan dropped 3 of the 4 objects of instance {instance}, more than 50% in one --watch step: run the same command without --watch to confirm)")),
        "{text}"
    );
    assert!(uid("configmap", "a").is_some() && uid("configmap", "b").is_some());

    // The confirmation: the ConfigMaps go, the claim stays for its data.
    let out = Wildrun::new()
        .in_dir(dir.path())
        .args(["--prune", &recipe])
        .kubeconfig(cluster.kubeconfig_path())
        .output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "kept       PersistentVolumeClaim {ns}/data (PersistentVolumeClaim holds data"
        )),
        "{err}"
    );
    assert_eq!(uid("configmap", "a"), None, "{err}");
    assert_eq!(uid("pvc", "data"), Some(before[0].clone()), "{err}");
    assert_eq!(run.interrupt(), Some(0));
}
