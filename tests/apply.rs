//! Applying recipes to the real local control plane (tests/cluster/):
//! the objects the README describes, idempotence, --diff, --delete, --prune,
//! --dry-run=server, secret copies, field-manager conflicts, the real CRD
//! schemas, and permissions.
//!
//! Every test uses its own service names and TLS source namespace
//! (`--set tls.sourceNamespace=...`), so tests run in parallel on one plane.

mod common;

use common::background::Background;
use common::cluster::unique_name;
use common::command::{stderr, stdout, Wildrun};
use common::{TestCluster, TestNamespace};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

const DOMAIN: &str = "cloud.example.test";
const LB_IP: &str = "192.168.8.240";

/// Deletes a namespace wildrun created, when the test ends (pass or fail).
struct Leftover {
    cluster: &'static TestCluster,
    namespace: String,
}

impl Drop for Leftover {
    fn drop(&mut self) {
        self.cluster.delete_namespace_later(&self.namespace);
    }
}

/// One test's world: the plane, a TLS source namespace with (optionally) its
/// wildcard secrets, and the service's name.
struct World {
    cluster: &'static TestCluster,
    tls: TestNamespace,
    name: String,
    _leftovers: Vec<Leftover>,
}

impl World {
    fn new(test: &str, with_secrets: bool) -> World {
        let cluster = TestCluster::shared();
        let tls = TestNamespace::new(cluster, &format!("{test}-tls"));
        if with_secrets {
            for secret in [
                "wildcard-wild-cloud-tls",
                "wildcard-internal-wild-cloud-tls",
            ] {
                create_tls_secret(cluster, tls.name(), secret, "first");
            }
        }
        let name = unique_name(test);
        let leftovers = vec![Leftover {
            cluster,
            namespace: name.clone(),
        }];
        World {
            cluster,
            tls,
            name,
            _leftovers: leftovers,
        }
    }

    /// Also clean up another namespace this test makes wildrun create.
    fn cleanup_namespace(&mut self, namespace: &str) {
        self._leftovers.push(Leftover {
            cluster: self.cluster,
            namespace: namespace.to_string(),
        });
    }

    fn wildrun(&self, args: &[&str]) -> Output {
        self.wildrun_as(self.cluster.kubeconfig_path(), args)
    }

    fn wildrun_as(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        wildrun_for(kubeconfig, self.tls.name(), args).output()
    }

    /// wildrun with `args` in the background, as [`World::wildrun`] runs it.
    fn spawn(&self, args: &[&str]) -> Background {
        Background::spawn(
            wildrun_for(self.cluster.kubeconfig_path(), self.tls.name(), args).into_command(),
        )
    }

    fn get(&self, args: &[&str]) -> Option<Value> {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let out = self.cluster.kubectl(&all);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("kubectl prints JSON"))
    }

    fn must_get(&self, args: &[&str]) -> Value {
        self.get(args)
            .unwrap_or_else(|| panic!("kubectl get {args:?} found nothing"))
    }
}

fn create_tls_secret(cluster: &TestCluster, namespace: &str, name: &str, content: &str) {
    let manifest = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"tls.crt": format!("cert-{content}"), "tls.key": format!("key-{content}")},
    });
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &manifest.to_string());
    assert!(
        out.status.success(),
        "create secret: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}",
        out.status.code(),
        stderr(out)
    );
}

/// The report lines (`created    Deployment a/b`) of a run's stderr.
fn report(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .map(|l| l.strip_prefix("warning: ").unwrap_or(l))
        .filter(|l| {
            [
                "created ",
                "configured ",
                "unchanged ",
                "skipped ",
                "deleted ",
                "kept ",
            ]
            .iter()
            .any(|w| l.starts_with(w))
        })
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect()
}

/// Asserts that the report of `out` has each of `lines` (`kept Namespace a`).
fn assert_reported(out: &Output, lines: &[String]) {
    let reported = report(out);
    for line in lines {
        assert!(
            reported.contains(line),
            "{line} not in {reported:?}:\n{}",
            stderr(out)
        );
    }
}

fn labels_of(obj: &Value) -> &Value {
    &obj["metadata"]["labels"]
}

#[test]
fn public_recipe_applies_spec_objects_and_converges() {
    let w = World::new("public", true);
    let (name, tls) = (w.name.as_str(), w.tls.name());
    let out = w.wildrun(&["scripts/public.rhai", "--name", name]);
    assert_ok(&out, "first apply");
    assert_eq!(
        report(&out),
        [
            format!("created Namespace {name}"),
            format!("created Secret {name}/wildcard-wild-cloud-tls"),
            format!("created Deployment {name}/{name}"),
            format!("created Service {name}/{name}"),
            format!("created Ingress {name}/{name}"),
        ]
    );

    let instance = format!("public.{name}");
    for (kind, ns) in [
        ("deployment", name),
        ("service", name),
        ("ingress", name),
        ("secret", name),
    ] {
        let obj_name = if kind == "secret" {
            "wildcard-wild-cloud-tls"
        } else {
            name
        };
        let obj = w.must_get(&["-n", ns, kind, obj_name]);
        assert_eq!(labels_of(&obj)["app.kubernetes.io/name"], name, "{kind}");
        assert_eq!(
            labels_of(&obj)["app.kubernetes.io/managed-by"],
            "wildrun",
            "{kind}"
        );
        assert_eq!(
            labels_of(&obj)["wildrun.dev/instance"],
            instance.as_str(),
            "{kind}"
        );
    }
    let ns = w.must_get(&["namespace", name]);
    assert_eq!(labels_of(&ns)["wildrun.dev/instance"], instance.as_str());

    let deployment = w.must_get(&["-n", name, "deployment", name]);
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        json!({"app": name})
    );
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], name);
    assert_eq!(container["image"], "nginx:latest");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], 80);

    let service = w.must_get(&["-n", name, "service", name]);
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 80);

    // The layer (scripts/cluster.rhai) owns the wildcard Certificate: the
    // service only says that it is missing.
    assert!(
        w.get(&[
            "-n",
            tls,
            "certificates.cert-manager.io",
            "wildcard-wild-cloud"
        ])
        .is_none(),
        "a service recipe applied the layer's Certificate"
    );
    assert!(
        stderr(&out).contains(&format!(
            "Certificate {tls}/wildcard-wild-cloud does not exist: the visibility layer makes it (wildrun scripts/cluster.rhai)"
        )),
        "{}",
        stderr(&out)
    );

    let source = w.must_get(&["-n", tls, "secret", "wildcard-wild-cloud-tls"]);
    let copy = w.must_get(&["-n", name, "secret", "wildcard-wild-cloud-tls"]);
    assert_eq!(
        copy["data"], source["data"],
        "the copy holds the source's data"
    );
    assert_eq!(copy["type"], "kubernetes.io/tls");
    assert_eq!(
        copy["metadata"]["annotations"]["wildrun.dev/copied-from"],
        format!("{tls}/wildcard-wild-cloud-tls")
    );

    let ingress = w.must_get(&["-n", name, "ingress", name]);
    let host = format!("{name}.{DOMAIN}");
    assert_eq!(ingress["spec"]["ingressClassName"], "traefik");
    assert_eq!(ingress["spec"]["rules"][0]["host"], host.as_str());
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"],
        json!({"name": name, "port": {"number": 80}})
    );
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"hosts": [host], "secretName": "wildcard-wild-cloud-tls"}])
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/target"],
        DOMAIN
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/ttl"],
        "60"
    );

    // A second run changes nothing, and --diff agrees.
    let again = w.wildrun(&["scripts/public.rhai", "--name", name]);
    assert_ok(&again, "second apply");
    let lines = report(&again);
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.starts_with("unchanged ")),
        "{lines:?}"
    );
    let diff = w.wildrun(&["scripts/public.rhai", "--name", name, "--diff"]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "diff after converging: {}{}",
        stdout(&diff),
        stderr(&diff)
    );
    assert!(diff.stdout.is_empty());

    // A new image: --diff shows only that line, apply configures only the Deployment.
    let diff = w.wildrun(&[
        "scripts/public.rhai",
        "--name",
        name,
        "--image",
        "nginx:1.27",
        "--diff",
    ]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    let text = stdout(&diff);
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        ["-        image: nginx:latest", "+        image: nginx:1.27"],
        "{text}"
    );
    assert!(
        text.contains(&format!("--- live Deployment {name}/{name}")),
        "{text}"
    );
    let out = w.wildrun(&[
        "scripts/public.rhai",
        "--name",
        name,
        "--image",
        "nginx:1.27",
    ]);
    assert_ok(&out, "apply new image");
    let lines = report(&out);
    assert_eq!(
        lines
            .iter()
            .filter(|l| !l.starts_with("unchanged "))
            .collect::<Vec<_>>(),
        [&format!("configured Deployment {name}/{name}")]
    );
    let deployment = w.must_get(&["-n", name, "deployment", name]);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
}

#[test]
fn internal_recipe_applies_middleware_and_internal_ingress() {
    let w = World::new("internal", true);
    let name = w.name.as_str();
    let out = w.wildrun(&["scripts/internal.rhai", "--name", name, "--port", "8080"]);
    assert_ok(&out, "apply");
    let middleware = w.must_get(&["-n", name, "middlewares.traefik.io", "internal-only"]);
    assert_eq!(
        middleware["spec"]["ipAllowList"]["sourceRange"],
        json!(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
    );
    let ingress = w.must_get(&["-n", name, "ingress", name]);
    let annotations = &ingress["metadata"]["annotations"];
    assert_eq!(
        annotations["external-dns.alpha.kubernetes.io/target"],
        LB_IP
    );
    assert_eq!(
        annotations["traefik.ingress.kubernetes.io/router.middlewares"],
        format!("{name}-internal-only@kubernetescrd")
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        format!("{name}.internal.{DOMAIN}")
    );
    assert_eq!(
        ingress["spec"]["tls"][0]["secretName"],
        "wildcard-internal-wild-cloud-tls"
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"],
        8080
    );
    let copy = w.must_get(&["-n", name, "secret", "wildcard-internal-wild-cloud-tls"]);
    let source = w.must_get(&[
        "-n",
        w.tls.name(),
        "secret",
        "wildcard-internal-wild-cloud-tls",
    ]);
    assert_eq!(copy["data"], source["data"]);
}

#[test]
fn secret_copy_follows_its_source_and_never_overwrites_foreign_secrets() {
    let w = World::new("copy", true);
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply",
    );
    create_tls_secret(
        w.cluster,
        w.tls.name(),
        "wildcard-wild-cloud-tls",
        "renewed",
    );
    let out = w.wildrun(&["scripts/public.rhai", "--name", name]);
    assert_ok(&out, "apply after renewal");
    assert!(
        report(&out).contains(&format!("configured Secret {name}/wildcard-wild-cloud-tls")),
        "{:?}",
        report(&out)
    );
    let copy = w.must_get(&["-n", name, "secret", "wildcard-wild-cloud-tls"]);
    let source = w.must_get(&["-n", w.tls.name(), "secret", "wildcard-wild-cloud-tls"]);
    assert_eq!(copy["data"], source["data"]);

    // A Secret of the same name that wildrun did not make is left alone, and nothing is applied.
    let other = unique_name("foreign");
    let mut w2 = World::new("foreign", true);
    w2.cleanup_namespace(&other);
    let out = w2.cluster.kubectl(&["create", "namespace", &other]);
    assert!(out.status.success());
    create_tls_secret(w2.cluster, &other, "wildcard-wild-cloud-tls", "foreign");
    let out = w2.wildrun(&[
        "scripts/public.rhai",
        "--name",
        &w2.name,
        "--namespace",
        &other,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("nothing was applied")
            && err.contains(
                "made by kubectl (field manager kubectl-client-side-apply), and is not a copy of"
            )
            && err.contains("it holds other values under tls.crt, tls.key")
            && err.contains("will not overwrite"),
        "{err}"
    );
    let foreign = w2.must_get(&["-n", &other, "secret", "wildcard-wild-cloud-tls"]);
    assert_eq!(
        foreign["data"]["tls.crt"],
        json!("Y2VydC1mb3JlaWdu"),
        "base64 of cert-foreign: untouched"
    );
    assert!(
        w2.get(&["-n", &other, "deployment", &w2.name]).is_none(),
        "nothing applied"
    );
}

#[test]
fn missing_source_secret_warns_or_fails_with_require_tls() {
    let w = World::new("notls", false);
    let name = w.name.as_str();
    let out = w.wildrun(&["scripts/public.rhai", "--name", name, "--require-tls"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("nothing was applied")
            && err.contains("does not exist yet")
            && err.contains("--require-tls"),
        "{err}"
    );
    assert!(
        w.get(&["namespace", name]).is_none(),
        "no partial change with --require-tls"
    );

    let out = w.wildrun(&["scripts/public.rhai", "--name", name]);
    assert_ok(&out, "apply without the source secret");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: skipped    Secret {name}/wildcard-wild-cloud-tls"
        )),
        "{err}"
    );
    assert!(
        err.contains("describe certificate"),
        "the warning carries a hint: {err}"
    );
    let lines = report(&out);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("created ")).count(),
        4,
        "everything else applied: {lines:?}"
    );
}

#[test]
fn delete_removes_the_instance_and_spares_its_neighbour() {
    let w = World::new("delete", true);
    let shared_ns = w.name.clone();
    let neighbour = unique_name("neighbour");
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", &shared_ns]),
        "apply first",
    );
    assert_ok(
        &w.wildrun(&[
            "scripts/public.rhai",
            "--name",
            &neighbour,
            "--namespace",
            &shared_ns,
        ]),
        "apply neighbour",
    );

    let out = w.wildrun(&["scripts/public.rhai", "--name", &shared_ns, "--delete"]);
    assert_ok(&out, "delete first");
    for kind in ["deployment", "service", "ingress"] {
        assert!(
            w.get(&["-n", &shared_ns, kind, &shared_ns]).is_none(),
            "{kind} of the deleted instance remains"
        );
        assert!(
            w.get(&["-n", &shared_ns, kind, &neighbour]).is_some(),
            "{kind} of the neighbour was deleted"
        );
    }
    assert!(
        w.get(&["-n", &shared_ns, "secret", "wildcard-wild-cloud-tls"])
            .is_some(),
        "the neighbour's TLS copy was deleted"
    );
    assert!(
        w.get(&["namespace", &shared_ns]).is_some(),
        "the shared namespace was deleted"
    );

    let out = w.wildrun(&[
        "scripts/public.rhai",
        "--name",
        &neighbour,
        "--namespace",
        &shared_ns,
        "--delete",
    ]);
    assert_ok(&out, "delete neighbour");
    let ns = w.get(&["namespace", &shared_ns]);
    assert!(
        ns.is_none(),
        "the empty namespace should be gone after --delete waited: {ns:?}"
    );
    assert!(
        stderr(&out).contains(&format!("deleted    Namespace {shared_ns}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn prune_removes_what_the_recipe_stopped_producing() {
    let w = World::new("prune", true);
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply",
    );
    // The same recipe name (so the same instance), without its Ingress.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("public.rhai"),
        "import \"visibility\" as vis;\nfn params() { import \"visibility\" as vis; vis::service_params() }\nlet svc = vis::inputs(args, config, \"public\");\nkube::apply(vis::namespace(svc));\nkube::apply(vis::deployment(svc));\nkube::apply(vis::cluster_service(svc));\n",
    )
    .unwrap();
    let fork = dir.path().join("public.rhai");
    let fork = fork.to_str().unwrap();

    // Another tool's object beside the instance's: it may use the TLS copy.
    kubectl_ok(
        w.cluster,
        &["-n", name, "create", "configmap", "users-config"],
    );

    // --diff --prune shows exactly what --prune deletes: the Ingress, not
    // the TLS copy, which stays while the namespace holds another tool's
    // ConfigMap (the instance's own Deployment and Service, whose plan
    // dropped the copy, do not keep it).
    let diff = w.wildrun(&[fork, "--name", name, "--diff", "--prune"]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    let predicted: Vec<String> = stdout(&diff)
        .lines()
        .filter_map(|l| l.strip_prefix("--- live "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        predicted,
        [format!("Ingress {name}/{name}")],
        "{}",
        stdout(&diff)
    );
    assert!(
        stderr(&diff).contains(&format!(
            "kept       Secret {name}/wildcard-wild-cloud-tls (namespace {name} still holds ConfigMap users-config)"
        )),
        "{}",
        stderr(&diff)
    );

    let out = w.wildrun(&[fork, "--name", name]);
    assert_ok(&out, "apply fork without --prune");
    assert!(
        w.get(&["-n", name, "ingress", name]).is_some(),
        "without --prune nothing is deleted"
    );

    let out = w.wildrun(&[fork, "--name", name, "--prune"]);
    assert_ok(&out, "apply fork with --prune");
    assert!(
        w.get(&["-n", name, "ingress", name]).is_none(),
        "the Ingress was pruned"
    );
    assert!(
        w.get(&["-n", name, "deployment", name]).is_some(),
        "the Deployment stays"
    );
    let deleted: Vec<String> = report(&out)
        .iter()
        .filter_map(|l| l.strip_prefix("deleted "))
        .map(str::to_string)
        .collect();
    assert_eq!(deleted, predicted);
    assert!(w
        .get(&["-n", name, "secret", "wildcard-wild-cloud-tls"])
        .is_some());

    // Once nothing else is there, the copy the plan dropped goes: the
    // instance's own objects no longer use it.
    kubectl_ok(
        w.cluster,
        &["-n", name, "delete", "configmap", "users-config"],
    );
    let out = w.wildrun(&[fork, "--name", name, "--prune"]);
    assert_ok(&out, "prune the unused copy");
    assert_eq!(
        report(&out)
            .iter()
            .filter(|l| l.starts_with("deleted "))
            .collect::<Vec<_>>(),
        [&format!("deleted Secret {name}/wildcard-wild-cloud-tls")],
        "{}",
        stderr(&out)
    );
    assert!(w
        .get(&["-n", name, "secret", "wildcard-wild-cloud-tls"])
        .is_none());
    assert!(w.get(&["namespace", name]).is_some(), "the Namespace stays");
}

#[test]
fn server_dry_run_validates_and_persists_nothing() {
    let w = World::new("srvdry", true);
    let name = w.name.as_str();
    let out = w.wildrun(&["scripts/public.rhai", "--name", name, "--dry-run=server"]);
    assert_ok(&out, "server dry run of a new service");
    assert!(
        stderr(&out).contains("not validated: namespace"),
        "{}",
        stderr(&out)
    );
    assert!(
        w.get(&["namespace", name]).is_none(),
        "a server dry run persists nothing"
    );

    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply",
    );
    let out = w.wildrun(&[
        "scripts/public.rhai",
        "--name",
        name,
        "--image",
        "nginx:2",
        "--dry-run=server",
    ]);
    assert_ok(&out, "server dry run of a change");
    assert!(
        report(&out).contains(&format!("configured Deployment {name}/{name}")),
        "{:?}",
        report(&out)
    );
    let deployment = w.must_get(&["-n", name, "deployment", name]);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:latest"
    );
}

/// A recipe in a temp folder; returns (folder guard, path).
fn script(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.rhai");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn misspelled_field_in_free_form_crd_part_is_rejected_by_the_real_schema() {
    let w = World::new("schema", true);
    let name = w.name.as_str();
    // `headers` is checked by Traefik's CRD schema, not by wildrun's types.
    let (_dir, path) = script(&format!(
        "kube::ensure_namespace(\"{name}\");\n\
         kube::apply(#{{ apiVersion: \"traefik.io/v1alpha1\", kind: \"Middleware\",\n\
             metadata: #{{ name: \"headers\", namespace: \"{name}\" }},\n\
             spec: #{{ headers: #{{ customRequestHeader: #{{ \"X-A\": \"b\" }} }} }} }});\n"
    ));
    let out = w.wildrun(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("check.rhai:2"),
        "the error names the script line: {err}"
    );
    assert!(
        err.contains("customRequestHeader"),
        "the API server's field error is shown: {err}"
    );
    assert!(
        err.contains("done before the failure") && err.contains(&format!("Namespace {name}")),
        "{err}"
    );
}

/// Deploys the service of `w`, then lets field manager `hpa-like` take its
/// Deployment's `spec.replicas` (3), as an autoscaler would.
fn deploy_and_hand_replicas_to_another_manager(w: &World) {
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply",
    );
    let manifest = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": name}, "spec": {"replicas": 3}});
    let out = w.cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=hpa-like",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &manifest.to_string(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn conflicting_field_manager_needs_force() {
    let w = World::new("conflict", true);
    let name = w.name.as_str();
    deploy_and_hand_replicas_to_another_manager(&w);

    let out = w.wildrun(&["scripts/public.rhai", "--name", name, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("conflict") && err.contains("hpa-like") && err.contains(".spec.replicas"),
        "{err}"
    );
    assert!(
        err.contains("--force"),
        "the error says how to take over: {err}"
    );
    // The report on stdout all the same: done, failed, not done.
    let entries: Vec<Value> =
        serde_json::from_slice(&out.stdout).expect("-o json prints the report when a run fails");
    let action = |kind: &str| {
        entries
            .iter()
            .find(|e| e["kind"] == kind)
            .map(|e| e["action"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no {kind} in {entries:?}"))
    };
    assert_eq!(action("Namespace"), "unchanged", "{entries:?}");
    assert_eq!(action("Deployment"), "failed", "{entries:?}");
    assert_eq!(action("Ingress"), "not-done", "{entries:?}");
    let failed = entries.iter().find(|e| e["action"] == "failed").unwrap();
    assert!(
        failed["note"].as_str().unwrap().contains("conflict"),
        "{failed}"
    );

    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name, "--force"]),
        "apply --force",
    );
    let deployment = w.must_get(&["-n", name, "deployment", name]);
    assert_eq!(deployment["spec"]["replicas"], 1);
}

#[test]
fn diff_names_the_fields_another_manager_owns_and_what_force_does() {
    let w = World::new("diffconflict", true);
    let name = w.name.as_str();
    deploy_and_hand_replicas_to_another_manager(&w);

    let out = w.wildrun(&["scripts/public.rhai", "--name", name, "--diff"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("would fail with a conflict"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].contains(&format!("Deployment {name}/{name}"))
            && said[0].contains(".spec.replicas (manager \"hpa-like\")")
            && said[0].contains("--force"),
        "{err}"
    );
    // The diff is what --force would do.
    let diff = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        diff.contains("-  replicas: 3") && diff.contains("+  replicas: 1"),
        "{diff}"
    );

    let forced = w.wildrun(&["scripts/public.rhai", "--name", name, "--diff", "--force"]);
    assert_eq!(forced.status.code(), Some(1), "{}", stderr(&forced));
    assert!(
        !stderr(&forced).contains("would fail with a conflict"),
        "{}",
        stderr(&forced)
    );
    assert_eq!(String::from_utf8_lossy(&forced.stdout), diff);
    // Nothing was changed: the other manager keeps its field.
    let deployment = w.must_get(&["-n", name, "deployment", name]);
    assert_eq!(deployment["spec"]["replicas"], 3);
}

#[test]
fn scripts_read_the_cluster_and_wait() {
    let w = World::new("reads", true);
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply",
    );
    let (_dir, path) = script(&format!(
        "let d = kube::get(\"apps/v1\", \"Deployment\", \"{name}\", \"{name}\");\n\
         if d.spec.template.spec.containers[0].image != \"nginx:latest\" {{ throw \"wrong image\"; }}\n\
         if !kube::exists(#{{ apiVersion: \"v1\", kind: \"Namespace\", metadata: #{{ name: \"{name}\" }} }}) {{ throw \"no namespace\"; }}\n\
         if kube::get(\"v1\", \"Service\", \"{name}\", \"nope\") != () {{ throw \"phantom\"; }}\n\
         let all = kube::list(\"v1\", \"Service\", #{{ namespace: \"{name}\", labels: #{{ \"wildrun.dev/instance\": \"public.{name}\" }} }});\n\
         if all.len() != 1 {{ throw `expected 1 service, got ${{all.len()}}`; }}\n\
         if all[0].kind != \"Service\" || all[0].apiVersion != \"v1\" {{ throw \"listed items must name their kind\"; }}\n\
         kube::wait(#{{ apiVersion: \"apiextensions.k8s.io/v1\", kind: \"CustomResourceDefinition\", metadata: #{{ name: \"certificates.cert-manager.io\" }} }}, \"Established\", 10);\n\
         kube::wait(d, \"rollout\", 2);\n"
    ));
    let out = w.wildrun(&[path.to_str().unwrap()]);
    // No kubelet runs pods here: the rollout cannot complete, and the timeout says why.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ready      CustomResourceDefinition certificates.cert-manager.io"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "timed out after 2s waiting for Deployment {name}/{name} to be rolled out"
        )),
        "{err}"
    );
    assert!(
        err.contains("replicas updated") && err.contains("available"),
        "{err}"
    );
    // What blocks is named: the controller made the pod, no node took it.
    assert!(
        err.contains(&format!("not ready: pod {name}-"))
            && err.contains("Pending (not scheduled to a node yet)"),
        "{err}"
    );
    assert!(err.contains("check.rhai:9"), "{err}");
}

/// A kubeconfig for a new ServiceAccount in `ns`, bound cluster-wide to
/// `cluster_role`.
fn service_account_kubeconfig(
    cluster: &TestCluster,
    ns: &str,
    cluster_role: &str,
    dir: &Path,
) -> PathBuf {
    let sa = unique_name("deployer");
    for args in [
        vec!["-n", ns, "create", "serviceaccount", &sa],
        vec![
            "create",
            "clusterrolebinding",
            &sa,
            &format!("--clusterrole={cluster_role}"),
            &format!("--serviceaccount={ns}:{sa}"),
        ],
    ] {
        let out = cluster.kubectl(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    cluster.token_kubeconfig(ns, &sa, dir)
}

/// examples/rbac.yaml's ClusterRole, applied under a new name (returned)
/// with the verbs on `resource` replaced by `verbs`.
fn reduced_rbac_role(w: &World, prefix: &str, resource: &str, verbs: &[&str]) -> String {
    let rbac =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rbac.yaml"))
            .unwrap();
    let docs: Vec<Value> = wildrun::yaml::parse_documents(&rbac, "rbac.yaml").unwrap();
    let mut role = docs[0].clone();
    let reduced = unique_name(prefix);
    role["metadata"]["name"] = json!(reduced);
    for rule in role["rules"].as_array_mut().unwrap() {
        if rule["resources"] == json!([resource]) {
            rule["verbs"] = json!(verbs);
        }
    }
    let out = w
        .cluster
        .kubectl_stdin(&["apply", "-f", "-"], &role.to_string());
    assert!(out.status.success(), "{}", stderr(&out));
    reduced
}

#[test]
fn rbac_example_is_enough_and_a_missing_permission_stops_before_any_write() {
    let w = World::new("rbac", true);
    let dir = tempfile::tempdir().unwrap();
    let rbac =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rbac.yaml"))
            .unwrap();
    let out = w.cluster.kubectl_stdin(&["apply", "-f", "-"], &rbac);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The example role: every mode works.
    let allowed =
        service_account_kubeconfig(w.cluster, w.tls.name(), "wildrun-recipes", dir.path());
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun_as(&allowed, &["scripts/internal.rhai", "--name", name]),
        "apply as the rbac.yaml user",
    );
    assert_ok(
        &w.wildrun_as(
            &allowed,
            &["scripts/internal.rhai", "--name", name, "--diff"],
        ),
        "diff as the rbac.yaml user",
    );
    // The doctor, in its three forms, reads all it needs (its checks may
    // fail here: no controllers; only loopback is asked).
    let host = format!("{name}.{DOMAIN}");
    for form in [
        &["--name", name][..],
        &["--host", &host][..],
        &["--layer"][..],
    ] {
        let mut args = vec!["scripts/doctor.rhai"];
        args.extend(form);
        args.extend(["--dns-server", "127.0.0.1:1", "--skip", "https"]);
        if form == ["--layer"] {
            args.truncate(args.len() - 2);
        }
        let out = w.wildrun_as(&allowed, &args);
        let said = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !said.contains("forbidden") && !said.contains("lacks this permission"),
            "doctor {form:?} as the rbac.yaml user: {said}"
        );
        assert!(said.contains("passed, "), "doctor {form:?}: {said}");
    }
    assert_ok(
        &w.wildrun_as(
            &allowed,
            &["scripts/internal.rhai", "--name", name, "--prune"],
        ),
        "prune as the rbac.yaml user",
    );
    assert_ok(
        &w.wildrun_as(
            &allowed,
            &["scripts/internal.rhai", "--name", name, "--delete"],
        ),
        "delete as the rbac.yaml user",
    );
    assert!(
        w.get(&["namespace", name]).is_none(),
        "the rbac.yaml user could delete the namespace"
    );

    // The same role without `create` on ingresses: refused before the first write.
    let reduced = reduced_rbac_role(
        &w,
        "no-ingress-create",
        "ingresses",
        &["get", "list", "patch", "delete"],
    );
    let denied = service_account_kubeconfig(w.cluster, w.tls.name(), &reduced, dir.path());
    let other = unique_name("denied");
    let out = w.wildrun_as(&denied, &["scripts/internal.rhai", "--name", &other]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing was applied"), "{err}");
    assert!(
        err.contains("may not create ingresses.networking.k8s.io in namespace")
            && err.contains("system:serviceaccount:"),
        "{err}"
    );
    assert!(
        w.get(&["namespace", &other]).is_none(),
        "nothing was written"
    );
    let _ = w.cluster.kubectl(&["delete", "clusterrole", &reduced]);
}

#[test]
fn api_server_outage_mid_run_fails_clearly_and_a_rerun_converges() {
    // A plane of this test's own: stopping the shared one would break the others.
    let plane = common::cluster::PrivatePlane::start();
    let cluster = &plane.cluster;
    let apiserver = |action: &str| plane.apiserver(action);
    let (_dir, waiting) = script(
        "kube::ensure_namespace(\"outage\");\n\
         kube::wait(#{ apiVersion: \"v1\", kind: \"Namespace\", metadata: #{ name: \"outage\" } }, \"Ready\", 120);\n\
         kube::apply(#{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{ name: \"after\", namespace: \"outage\" }, data: #{ a: \"b\" } });\n",
    );
    let run = |script: &Path| {
        Wildrun::new()
            .args([script])
            .kubeconfig(cluster.kubeconfig_path())
            .env("CLOUD_DOMAIN", DOMAIN)
            .into_command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("wildrun starts")
    };
    let child = run(&waiting);
    // The Namespace is applied, then the run waits for a condition that never comes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cluster
        .kubectl(&["get", "namespace", "outage"])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the namespace never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    apiserver("stop");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach the API server at https://127.0.0.1:"),
        "{err}"
    );
    assert!(
        err.contains("done before the failure") && err.contains("created    Namespace outage"),
        "{err}"
    );
    assert!(
        err.contains("not done") && err.contains("ConfigMap outage/after"),
        "{err}"
    );

    apiserver("start");
    let (_dir2, rest) = script(
        "kube::ensure_namespace(\"outage\");\n\
         kube::apply(#{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{ name: \"after\", namespace: \"outage\" }, data: #{ a: \"b\" } });\n",
    );
    // The re-run is a new instance name (another file): it takes over the Namespace's labels.
    let out = run(&rest).wait_with_output().unwrap();
    assert_ok(&out, "re-run after the restart");
    let lines = report(&out);
    assert!(
        lines.contains(&"created ConfigMap outage/after".to_string()),
        "{lines:?}"
    );
    let cm = cluster.kubectl(&[
        "-n",
        "outage",
        "get",
        "configmap",
        "after",
        "-o",
        "jsonpath={.data.a}",
    ]);
    assert_eq!(String::from_utf8_lossy(&cm.stdout), "b");
}

#[test]
fn delete_and_prune_check_delete_permission_before_the_first_write() {
    let w = World::new("delperm", true);
    let dir = tempfile::tempdir().unwrap();
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply",
    );
    // examples/rbac.yaml's role without `delete` on deployments.
    let reduced = reduced_rbac_role(
        &w,
        "no-deployment-delete",
        "deployments",
        &["get", "list", "create", "patch"],
    );
    let user = service_account_kubeconfig(w.cluster, w.tls.name(), &reduced, dir.path());

    // --delete: refused before the Ingress and Service (deleted first) go.
    let out = w.wildrun_as(&user, &["scripts/public.rhai", "--name", name, "--delete"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("nothing was changed; --delete needs")
            && err.contains(&format!(
                "may not delete deployments.apps in namespace {name}"
            )),
        "{err}"
    );
    for kind in ["ingress", "service", "deployment"] {
        assert!(
            w.get(&["-n", name, kind, name]).is_some(),
            "--delete removed the {kind} before failing"
        );
    }

    // --prune: the recipe no longer makes the Deployment, and the user may
    // not delete it; the Service it changes stays as it was.
    let recipe_dir = tempfile::tempdir().unwrap();
    let recipe = recipe_dir.path().join("public.rhai");
    std::fs::write(
        &recipe,
        "fn params() { [#{ name: \"name\", type: \"label\", required: true }] }\n\
         kube::apply(#{ apiVersion: \"v1\", kind: \"Namespace\", metadata: #{ name: args.name } });\n\
         kube::apply(#{ apiVersion: \"v1\", kind: \"Service\", metadata: #{ name: args.name, namespace: args.name },\n\
             spec: #{ selector: #{ app: args.name }, ports: [#{ port: 8080, targetPort: 8080 }] } });\n",
    )
    .unwrap();
    let out = w.wildrun_as(
        &user,
        &[recipe.to_str().unwrap(), "--name", name, "--prune"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--prune needs") && err.contains("may not delete deployments.apps"),
        "{err}"
    );
    let service = w.must_get(&["-n", name, "service", name]);
    assert_eq!(service["spec"]["ports"][0]["port"], json!(80), "{err}");
    let _ = w.cluster.kubectl(&["delete", "clusterrole", &reduced]);
}

#[test]
fn another_instances_objects_are_refused_unless_adopted() {
    let w = World::new("clash", true);
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "public",
    );
    let host = |w: &World| {
        w.must_get(&["-n", name, "ingress", name])["spec"]["rules"][0]["host"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let public_host = host(&w);
    let out = w.wildrun(&["scripts/internal.rhai", "--name", name]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "Deployment {name}/{name} belongs to instance public.{name}"
        )) && err.contains("--adopt"),
        "{err}"
    );
    // The fix it names runs as printed, from where the run was made.
    let printed = format!("`wildrun scripts/public.rhai --name {name} --delete`");
    assert!(err.contains(&printed), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
    assert_eq!(host(&w), public_host, "the public host was replaced");
    let deployment = w.must_get(&["-n", name, "deployment", name]);
    assert_eq!(
        deployment["metadata"]["labels"]["wildrun.dev/instance"],
        json!(format!("public.{name}"))
    );

    assert_ok(
        &w.wildrun(&["scripts/internal.rhai", "--name", name, "--adopt"]),
        "internal --adopt",
    );
    let deployment = w.must_get(&["-n", name, "deployment", name]);
    assert_eq!(
        deployment["metadata"]["labels"]["wildrun.dev/instance"],
        json!(format!("internal.{name}"))
    );
    assert_ne!(host(&w), public_host);
    let words: Vec<&str> = printed.trim_matches('`').split(' ').skip(1).collect();
    assert_ok(&w.wildrun(&words), "the command the refusal printed");
}

#[test]
fn an_allow_list_open_to_everyone_is_refused_unless_forced() {
    let w = World::new("open", true);
    let name = w.name.as_str();
    let args = [
        "scripts/internal.rhai",
        "--name",
        name,
        "--set",
        "cluster.internalSourceRanges=10.0.0.0/8,0.0.0.0/0",
    ];
    let out = w.wildrun(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("source range 0.0.0.0/0 admits the whole internet")
            && err.contains("--force")
            && err.contains("nothing was applied"),
        "{err}"
    );
    assert!(
        w.get(&["namespace", name]).is_none(),
        "something was applied"
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_ok(&w.wildrun(&forced), "internal --force");
    let middleware = w.must_get(&["-n", name, "middlewares.traefik.io", "internal-only"]);
    assert_eq!(
        middleware["spec"]["ipAllowList"]["sourceRange"],
        json!(["10.0.0.0/8", "0.0.0.0/0"])
    );
}

#[test]
fn a_failed_step_is_reported_as_failed_not_as_not_done() {
    let w = World::new("failed-step", true);
    let name = w.name.as_str();
    // The API server's schema rejects the Middleware (wildrun's check passes it).
    let (_dir, path) = script(&format!(
        "kube::ensure_namespace(\"{name}\");\n\
         kube::apply(#{{ apiVersion: \"traefik.io/v1alpha1\", kind: \"Middleware\",\n\
             metadata: #{{ name: \"headers\", namespace: \"{name}\" }},\n\
             spec: #{{ headers: #{{ customRequestHeader: #{{ \"X-A\": \"b\" }} }} }} }});\n\
         kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"later\", namespace: \"{name}\" }} }});\n"
    ));
    let out = w.wildrun(&[path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let failed = err
        .split("  failed (not confirmed by the API server):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no failed section: {err}"));
    let (failed, not_done) = failed
        .split_once("  not done:\n")
        .unwrap_or_else(|| panic!("no not-done section: {err}"));
    assert!(
        failed.contains(&format!("Middleware {name}/headers")),
        "{err}"
    );
    assert!(
        not_done.contains(&format!("ConfigMap {name}/later")),
        "{err}"
    );
    assert!(!not_done.contains("Middleware"), "{err}");
}

#[test]
fn delete_does_not_count_what_is_already_being_deleted() {
    let w = World::new("terminating", true);
    let name = w.name.as_str();
    // A recipe of this test only: --delete removes its instance everywhere.
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join(format!("{}.rhai", unique_name("held")));
    std::fs::write(
        &recipe,
        format!(
            "kube::ensure_namespace(\"{name}\");\n\
             kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"held\", namespace: \"{name}\", finalizers: [\"wildrun.dev/test-hold\"] }} }});\n"
        ),
    )
    .unwrap();
    let recipe = recipe.to_str().unwrap();
    assert_ok(&w.wildrun(&[recipe]), "apply");
    // An earlier deletion that has not finished: a finalizer holds it.
    let out = w
        .cluster
        .kubectl(&["-n", name, "delete", "configmap", "held", "--wait=false"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut child = w.spawn(&[recipe, "--delete"]);
    let line = format!("ConfigMap {name}/held");
    child.wait_for(&line);
    // Let the earlier deletion finish, so --delete's wait ends.
    let out = w.cluster.kubectl(&[
        "-n",
        name,
        "patch",
        "configmap",
        "held",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = child.wait();
    let err = child.text();
    assert!(status.success(), "{err}");
    assert!(
        err.contains(&format!("{line} (already being deleted)")),
        "{err}"
    );
    assert!(!err.contains(&format!("deleted    {line}")), "{err}");
}

#[test]
fn of_two_runs_racing_to_create_an_object_only_the_one_that_made_it_says_created() {
    let w = World::new("race", true);
    let ns = TestNamespace::new(w.cluster, "race");
    let ns = ns.name();
    let out = w
        .cluster
        .kubectl(&["-n", ns, "create", "configmap", "gate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let raced = format!(
        "kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"raced\", namespace: \"{ns}\" }}, data: #{{ a: \"b\" }} }});\n"
    );
    // The slow run reads `raced` as absent before its first step, then waits
    // for the gate to go; the fast run makes `raced` in between.
    let (_slow_dir, slow) = script(&format!(
        "kube::wait(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"gate\", namespace: \"{ns}\" }} }}, \"deleted\", 60);\n{raced}"
    ));
    let (_fast_dir, fast) = script(&raced);
    let mut slow_run = w.spawn(&[slow.to_str().unwrap()]);
    slow_run.wait_for("gate");
    let fast_run = w.wildrun(&[fast.to_str().unwrap()]);
    assert_ok(&fast_run, "the fast run");
    let line = format!("ConfigMap {ns}/raced");
    assert!(
        report(&fast_run).contains(&format!("created {line}")),
        "{}",
        stderr(&fast_run)
    );
    let out = w
        .cluster
        .kubectl(&["-n", ns, "delete", "configmap", "gate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = slow_run.wait();
    let err = slow_run.text();
    assert!(status.success(), "{err}");
    assert!(!err.contains(&format!("created    {line}")), "{err}");
    assert!(
        err.contains(&line),
        "the slow run reports the object: {err}"
    );
}

#[test]
fn an_instance_with_the_longest_valid_name_is_applied_pruned_and_deleted() {
    let w = World::new("longest", true);
    // A 63-character name: the longest DNS label, so `public.<name>` is 70.
    let name = format!("{}{}", w.name, "x".repeat(63 - w.name.len()));
    let mut w = w;
    w.cleanup_namespace(&name);
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", &name]),
        "apply",
    );
    let deployment = w.must_get(&["-n", &name, "deployment", &name]);
    let label = labels_of(&deployment)["wildrun.dev/instance"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(label.len() <= 63, "{label}");
    let out = w.wildrun(&["scripts/public.rhai", "--name", &name, "--prune"]);
    assert_ok(&out, "prune");
    assert!(
        report(&out).iter().all(|l| !l.starts_with("deleted")),
        "nothing of the instance is stale: {}",
        stderr(&out)
    );
    let out = w.wildrun(&["scripts/public.rhai", "--name", &name, "--delete"]);
    assert_ok(&out, "delete");
    for kind in ["deployment", "service", "ingress"] {
        assert!(
            w.get(&["-n", &name, kind, &name]).is_none(),
            "--delete found the instance's {kind} by its label: {}",
            stderr(&out)
        );
    }
}

/// One request wildrun sent, from an audit log line.
#[derive(Debug)]
struct Sent {
    /// `get`, `patch`, ...; `discovery` for requests without an object
    /// (`/api`, `/apis`), `review` for permission reviews.
    what: String,
    /// The request's path.
    uri: String,
    /// When the API server received it and when it answered, in
    /// microseconds since the epoch.
    received: i64,
    answered: i64,
}

/// Microseconds since the epoch of an audit timestamp (`2026-11-29T16:25:23.735948Z`).
fn micros(stamp: &str) -> i64 {
    let number = |range: std::ops::Range<usize>| -> i64 {
        stamp
            .get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an audit timestamp: {stamp}"))
    };
    let (y, m, d) = (number(0..4), number(5..7), number(8..10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let seconds = days * 86_400 + number(11..13) * 3600 + number(14..16) * 60 + number(17..19);
    seconds * 1_000_000 + number(20..26)
}

/// Slack when comparing a request's arrival with the previous answer: the
/// audit timestamp of an answer is taken after it is sent, so a client's
/// next request can arrive a little before it.
const SLACK_MICROS: i64 = 1_000;

impl Sent {
    /// A request that changes the cluster (reviews create nothing stored).
    fn writes(&self) -> bool {
        matches!(
            self.what.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }
}

/// An audit log read from its end at the time of [`Audit::mark`].
struct Audit {
    log: PathBuf,
    from: u64,
}

impl Audit {
    fn mark(log: &Path) -> Audit {
        let from = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        Audit {
            log: log.to_path_buf(),
            from,
        }
    }

    /// wildrun's requests since the mark (by its User-Agent), in the order
    /// they were answered.
    fn sent(&self) -> Vec<Sent> {
        // The API server writes an event once the answer is sent: give it a moment.
        std::thread::sleep(std::time::Duration::from_millis(500));
        let text = std::fs::read(&self.log).expect("the audit log");
        let start = usize::try_from(self.from)
            .unwrap_or(usize::MAX)
            .min(text.len());
        String::from_utf8_lossy(&text[start..])
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|e| {
                e["stage"] == "ResponseComplete"
                    && e["userAgent"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("wildrun/"))
            })
            .map(|e| {
                let resource = e["objectRef"]["resource"].as_str().unwrap_or_default();
                let what = if e["objectRef"].is_null() {
                    "discovery".to_string()
                } else if resource.starts_with("selfsubject") {
                    "review".to_string()
                } else {
                    e["verb"].as_str().unwrap_or_default().to_string()
                };
                Sent {
                    what,
                    uri: e["requestURI"].as_str().unwrap_or_default().to_string(),
                    received: micros(e["requestReceivedTimestamp"].as_str().unwrap_or_default()),
                    answered: micros(e["stageTimestamp"].as_str().unwrap_or_default()),
                }
            })
            .collect()
    }
}

/// How many of `sent` were writes.
fn writes(sent: &[Sent]) -> usize {
    sent.iter().filter(|s| s.writes()).count()
}

/// `get 3, patch 2` for messages.
fn tally(sent: &[Sent]) -> String {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for s in sent {
        *counts.entry(s.what.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("{} requests ({})", sent.len(), parts.join(", "))
}

/// wildrun on a plane of a test's own, copying TLS from `tls_namespace`.
fn wildrun_on(cluster: &TestCluster, tls_namespace: &str, args: &[&str]) -> Output {
    wildrun_with(cluster.kubeconfig_path(), tls_namespace, args)
}

/// [`wildrun_on`] as the user of `kubeconfig`.
fn wildrun_with(kubeconfig: &Path, tls_namespace: &str, args: &[&str]) -> Output {
    wildrun_for(kubeconfig, tls_namespace, args).output()
}

/// wildrun with `args` as the tests of this file run it: as the user of
/// `kubeconfig`, the wildcard Secret copied from `tls_namespace`, the test
/// domain and load balancer address, no configuration file.
fn wildrun_for(kubeconfig: &Path, tls_namespace: &str, args: &[&str]) -> Wildrun {
    Wildrun::new()
        .args(args)
        .args(["--set", &format!("tls.sourceNamespace={tls_namespace}")])
        .kubeconfig(kubeconfig)
        .env("CLOUD_DOMAIN", DOMAIN)
        .env("CLUSTER_LOAD_BALANCER_IP", LB_IP)
}

fn kubectl_ok(cluster: &TestCluster, args: &[&str]) -> String {
    let out = cluster.kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_rerun_that_changes_nothing_writes_nothing_and_what_others_changed_is_put_back() {
    // An audit log shows every request; the shared plane has none.
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    let log = plane.audit_log();
    let tls = "tls-source";
    kubectl_ok(cluster, &["create", "namespace", tls]);
    create_tls_secret(cluster, tls, "wildcard-wild-cloud-tls", "first");
    let name = "web";
    let secret = "wildcard-wild-cloud-tls";
    let run = |extra: &[&str]| {
        let audit = Audit::mark(&log);
        let mut args = vec!["scripts/public.rhai", "--name", name];
        args.extend_from_slice(extra);
        let out = wildrun_on(cluster, tls, &args);
        (out, audit.sent())
    };
    let everything = |action: &str| {
        [
            format!("{action} Namespace {name}"),
            format!("{action} Secret {name}/{secret}"),
            format!("{action} Deployment {name}/{name}"),
            format!("{action} Service {name}/{name}"),
            format!("{action} Ingress {name}/{name}"),
        ]
    };

    // A new service: discovery once (/api, /apis), no read of what cannot
    // exist in a namespace that does not, the writes.
    let (out, sent) = run(&[]);
    assert_ok(&out, "first run");
    assert_eq!(report(&out), everything("created"));
    assert!(sent.len() <= 14, "{}", tally(&sent));
    assert_eq!(
        sent.iter().filter(|s| s.what == "discovery").count(),
        2,
        "{}",
        tally(&sent)
    );

    // The same again: reads only, not one write, every object unchanged.
    let (out, sent) = run(&[]);
    assert_ok(&out, "second run");
    assert_eq!(report(&out), everything("unchanged"));
    assert_eq!(writes(&sent), 0, "{}", tally(&sent));
    assert!(sent.len() <= 9, "{}", tally(&sent));

    // Someone removes an annotation wildrun sets and changes the copy's
    // data: both are put back, and only they are written.
    let ingress = kubectl_ok(cluster, &["-n", name, "get", "ingress", name, "-o", "json"]);
    let ingress: Value = serde_json::from_str(&ingress).unwrap();
    let (annotation, value) = ingress["metadata"]["annotations"]
        .as_object()
        .and_then(|a| a.iter().find(|(k, _)| k.ends_with("/target")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("an ExternalDNS target annotation");
    kubectl_ok(
        cluster,
        &[
            "-n",
            name,
            "annotate",
            "ingress",
            name,
            &format!("{annotation}-"),
        ],
    );
    kubectl_ok(
        cluster,
        &[
            "-n",
            name,
            "patch",
            "secret",
            secret,
            "-p",
            r#"{"data":{"tls.crt":"Y2hhbmdlZA=="}}"#,
        ],
    );
    let (out, sent) = run(&[]);
    assert_ok(&out, "run after the changes");
    assert_eq!(
        report(&out),
        [
            format!("unchanged Namespace {name}"),
            format!("configured Secret {name}/{secret}"),
            format!("unchanged Deployment {name}/{name}"),
            format!("unchanged Service {name}/{name}"),
            format!("configured Ingress {name}/{name}"),
        ]
    );
    let written: Vec<&str> = sent
        .iter()
        .filter(|s| s.writes())
        .map(|s| s.uri.as_str())
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    let ingress = kubectl_ok(cluster, &["-n", name, "get", "ingress", name, "-o", "json"]);
    let ingress: Value = serde_json::from_str(&ingress).unwrap();
    assert_eq!(ingress["metadata"]["annotations"][&annotation], value);
    let copy = kubectl_ok(
        cluster,
        &[
            "-n",
            name,
            "get",
            "secret",
            secret,
            "-o",
            "jsonpath={.data.tls\\.crt}",
        ],
    );
    assert_eq!(
        copy, "Y2VydC1maXJzdA==",
        "the copy holds the source's data again"
    );

    // kubectl edit of the image makes the field kubectl's: without --force
    // the apply conflicts (nothing is skipped that would hide that), with
    // --force the image is put back and wildrun owns it again.
    kubectl_ok(
        cluster,
        &[
            "-n",
            name,
            "patch",
            "deployment",
            name,
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:edited"}]"#,
        ],
    );
    let (out, _) = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("conflict"), "{}", stderr(&out));
    let (out, sent) = run(&["--force"]);
    assert_ok(&out, "run with --force");
    assert!(
        report(&out).contains(&format!("configured Deployment {name}/{name}")),
        "{:?}",
        report(&out)
    );
    assert_eq!(writes(&sent), 1, "{}", tally(&sent));
    let (out, sent) = run(&[]);
    assert_ok(&out, "run after taking the image back");
    assert_eq!(report(&out), everything("unchanged"));
    assert_eq!(writes(&sent), 0, "{}", tally(&sent));
}

#[test]
fn watch_reruns_share_one_discovery() {
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("config.rhai");
    let write = |value: &str| {
        // As an editor saves: a new file renamed over the old one.
        let tmp = dir.path().join(".config.rhai.swp");
        std::fs::write(
            &tmp,
            format!(
                "kube::ensure_namespace(\"watched\");\n\
                 kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\",\n\
                     metadata: #{{ name: \"settings\", namespace: \"watched\" }}, data: #{{ value: \"{value}\" }} }});\n"
            ),
        )
        .unwrap();
        std::fs::rename(&tmp, &recipe).unwrap();
    };
    write("one");
    let audit = Audit::mark(&plane.audit_log());
    let mut child = Wildrun::new()
        .args([std::ffi::OsStr::new("--watch"), recipe.as_os_str()])
        .kubeconfig(cluster.kubeconfig_path())
        .env("CLOUD_DOMAIN", DOMAIN)
        .into_command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wildrun starts");
    let stderr_pipe = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr_pipe)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !seen.iter().any(|l: &String| l.contains(needle)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("no {needle:?}; output:\n{}", seen.join("\n")),
            }
        }
    };
    wait_for("run 1 done");
    write("two");
    wait_for("run 2 done");
    write("three");
    wait_for("run 3 done");
    let _ = child.kill();
    let _ = child.wait();
    let sent = audit.sent();
    // Three runs, one discovery: the second and third resolve every kind
    // from the first run's answer.
    assert_eq!(
        sent.iter().filter(|s| s.what == "discovery").count(),
        2,
        "{}",
        tally(&sent)
    );
    let value = kubectl_ok(
        cluster,
        &[
            "-n",
            "watched",
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.value}",
        ],
    );
    assert_eq!(value, "three");
}

#[test]
fn what_a_script_just_read_is_not_read_again_before_the_writes() {
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    let tls = "tls-source";
    let secret = "wildcard-wild-cloud-tls";
    kubectl_ok(cluster, &["create", "namespace", tls]);
    create_tls_secret(cluster, tls, secret, "first");
    let targets = ["reads-a", "reads-b", "reads-c"];
    for ns in targets {
        kubectl_ok(cluster, &["create", "namespace", ns]);
    }
    // A controller's way: list what exists, read the source, plan what is
    // missing or stale.
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("spread.rhai");
    std::fs::write(
        &recipe,
        format!(
            r#"let copies = kube::list("v1", "Secret", #{{ fields: "metadata.name={secret}" }});
let namespaces = kube::list("v1", "Namespace");
let source = kube::get("v1", "Secret", "{tls}", "{secret}");
if source == () {{ throw "no source"; }}
for ns in {targets:?} {{
    kube::copy_secret("{tls}", "{secret}", ns, #{{ type: "kubernetes.io/tls" }});
}}
"#
        ),
    )
    .unwrap();
    let run = || {
        let audit = Audit::mark(&plane.audit_log());
        let out = wildrun_on(cluster, tls, &[recipe.to_str().unwrap()]);
        (out, audit.sent())
    };
    let reads_of = |sent: &[Sent], path: &str| {
        sent.iter()
            .filter(|s| s.what == "get" && s.uri.split('?').next() == Some(path))
            .count()
    };
    let source_path = format!("/api/v1/namespaces/{tls}/secrets/{secret}");
    let every_copy = |action: &str| -> Vec<String> {
        targets
            .iter()
            .map(|ns| format!("{action} Secret {ns}/{secret}"))
            .collect()
    };

    let (out, sent) = run();
    assert_ok(&out, "first run");
    assert_eq!(report(&out), every_copy("created"));
    // The source once (the script's own read), the targets and their
    // namespaces never: the lists said where the copies were missing and
    // that the namespaces are there.
    assert_eq!(reads_of(&sent, &source_path), 1, "{}", tally(&sent));
    for ns in targets {
        assert_eq!(
            reads_of(&sent, &format!("/api/v1/namespaces/{ns}")),
            0,
            "{sent:?}"
        );
        let target = format!("/api/v1/namespaces/{ns}/secrets/{secret}");
        assert_eq!(reads_of(&sent, &target), 0, "{sent:?}");
    }

    // Again: the list returns the copies, which hold the source's data:
    // nothing is written, and nothing read but by the script.
    let (out, sent) = run();
    assert_ok(&out, "second run");
    assert_eq!(report(&out), every_copy("unchanged"));
    assert_eq!(writes(&sent), 0, "{}", tally(&sent));
    assert_eq!(
        sent.iter().filter(|s| s.what == "get").count(),
        1,
        "{}",
        tally(&sent)
    );

    // The source renewed: every copy follows (the script's read of the new
    // source is what the copies are made of).
    create_tls_secret(cluster, tls, secret, "second");
    let (out, _) = run();
    assert_ok(&out, "run after the renewal");
    assert_eq!(report(&out), every_copy("configured"));
    let copy = kubectl_ok(
        cluster,
        &[
            "-n",
            targets[2],
            "get",
            "secret",
            secret,
            "-o",
            "jsonpath={.data.tls\\.crt}",
        ],
    );
    assert_eq!(copy, "Y2VydC1zZWNvbmQ=", "the copy holds the renewed data");
}

#[test]
fn writes_to_different_namespaces_run_side_by_side_and_the_report_keeps_plan_order() {
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    // Twelve namespaces of three ConfigMaps each; in one of them the second
    // object is refused by the API server's schema.
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..12 {
        text.push_str(&format!("kube::ensure_namespace(\"side-{i}\");\n"));
    }
    for i in 0..12 {
        expected.push(format!("created Namespace side-{i}"));
    }
    // Each ConfigMap carries 256 KiB, so the API server takes some
    // milliseconds over each write (storing it, auditing it): writes under
    // way at once overlap by more than the slack even on a busy machine.
    text.push_str("let bulk = \"x\"; for n in 0..18 { bulk += bulk; }\n");
    for i in 0..12 {
        for object in ["a", "b", "c"] {
            text.push_str(&format!(
                "kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"{object}\", namespace: \"side-{i}\" }}, data: #{{ x: \"{object}\", bulk: bulk }} }});\n"
            ));
            expected.push(format!("created ConfigMap side-{i}/{object}"));
        }
    }
    let (_dir, path) = script(&text);
    let audit = Audit::mark(&plane.audit_log());
    let out = wildrun_on(cluster, "unused", &[path.to_str().unwrap()]);
    assert_ok(&out, "apply");
    let sent = audit.sent();
    // Plan order in the report, whatever order the writes finished in.
    assert_eq!(report(&out), expected);
    // Some writes were under way at once: one was received well before
    // another was answered.
    let written: Vec<&Sent> = sent.iter().filter(|s| s.writes()).collect();
    assert_eq!(written.len(), 12 * 4, "{}", tally(&sent));
    let overlapping = written.iter().enumerate().any(|(i, a)| {
        written[i + 1..].iter().any(|b| {
            a.received + SLACK_MICROS < b.answered && b.received + SLACK_MICROS < a.answered
        })
    });
    assert!(overlapping, "every write waited for the previous one");
    // The Namespaces were written one after the other in plan order, and
    // each before anything in it; the ConfigMaps of one namespace one after
    // the other, in plan order.
    let in_namespace = |i: usize| format!("/api/v1/namespaces/side-{i}/");
    let namespaces: Vec<&&Sent> = (0..12)
        .map(|i| {
            written
                .iter()
                .find(|s| s.uri.starts_with(&format!("/api/v1/namespaces/side-{i}?")))
                .unwrap_or_else(|| panic!("no write of Namespace side-{i}: {written:?}"))
        })
        .collect();
    for pair in namespaces.windows(2) {
        assert!(
            pair[0].answered <= pair[1].received + SLACK_MICROS,
            "{pair:?}"
        );
    }
    for (i, namespace) in namespaces.iter().enumerate() {
        let objects: Vec<&&Sent> = written
            .iter()
            .filter(|s| s.uri.starts_with(&in_namespace(i)))
            .collect();
        let names: Vec<&str> = objects
            .iter()
            .filter_map(|s| s.uri.split("/configmaps/").nth(1))
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .collect();
        assert_eq!(names, ["a", "b", "c"], "{objects:?}");
        assert!(
            namespace.answered <= objects[0].received + SLACK_MICROS,
            "{objects:?}"
        );
        for pair in objects.windows(2) {
            assert!(
                pair[0].answered <= pair[1].received + SLACK_MICROS,
                "{pair:?}"
            );
        }
    }

    // A failure in one namespace: it is reported failed, the rest of its
    // namespace not done, and every other step as done or not done, each once.
    let mut text = String::new();
    for i in 0..6 {
        text.push_str(&format!("kube::ensure_namespace(\"fail-{i}\");\n"));
        text.push_str(&format!(
            "kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"first\", namespace: \"fail-{i}\" }} }});\n"
        ));
        if i == 2 {
            text.push_str(
                "kube::apply(#{ apiVersion: \"traefik.io/v1alpha1\", kind: \"Middleware\",\n\
                     metadata: #{ name: \"headers\", namespace: \"fail-2\" },\n\
                     spec: #{ headers: #{ customRequestHeader: #{ \"X-A\": \"b\" } } } });\n",
            );
        }
        text.push_str(&format!(
            "kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"last\", namespace: \"fail-{i}\" }} }});\n"
        ));
    }
    let (_dir, path) = script(&text);
    let out = wildrun_on(cluster, "unused", &[path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let (_, after) = err
        .split_once("  done before the failure:\n")
        .unwrap_or_else(|| panic!("no done section: {err}"));
    let (done, after) = after
        .split_once("  failed (not confirmed by the API server):\n")
        .unwrap_or_else(|| panic!("no failed section: {err}"));
    let (failed, after) = after
        .split_once("  not done:\n")
        .unwrap_or_else(|| panic!("no not-done section: {err}"));
    let not_done: String = after
        .lines()
        .take_while(|l| l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(failed.contains("Middleware fail-2/headers"), "{err}");
    assert!(not_done.contains("ConfigMap fail-2/last"), "{err}");
    // A namespace's writes start once its own Namespace is there, so when
    // fail-2 fails, later Namespaces may or may not have been written yet:
    // each is in exactly one section, and the cluster agrees with it.
    assert!(done.contains("ConfigMap fail-2/first"), "{err}");
    // In how many of the report's three sections `what` is.
    let sections_naming = |what: &str| {
        [&done, &failed, &not_done.as_str()]
            .iter()
            .filter(|section| section.contains(what))
            .count()
    };
    for i in 0..6 {
        let what = format!("Namespace fail-{i}");
        let places = sections_naming(&what);
        assert_eq!(places, 1, "{what} in {places} sections: {err}");
        let exists = cluster
            .kubectl(&["get", "namespace", &format!("fail-{i}")])
            .status
            .success();
        assert_eq!(exists, done.contains(&what), "{what}: {err}");
    }
    for i in 0..6 {
        for object in ["first", "last"] {
            let what = format!("ConfigMap fail-{i}/{object}");
            let places = sections_naming(&what);
            assert_eq!(places, 1, "{what} in {places} sections: {err}");
            // What the report says was done is there; what it says was not, is not.
            let exists = cluster
                .kubectl(&["-n", &format!("fail-{i}"), "get", "configmap", object])
                .status
                .success();
            assert_eq!(exists, done.contains(&what), "{what}: {err}");
        }
    }
}

/// A recipe applying ConfigMap `settings` into each of `namespaces`
/// (`ensure`: and making each namespace first).
fn config_maps_into(namespaces: &[&str], ensure: bool) -> String {
    let mut text = String::new();
    for ns in namespaces {
        if ensure {
            text.push_str(&format!("kube::ensure_namespace(\"{ns}\");\n"));
        }
        text.push_str(&format!(
            "kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"settings\", namespace: \"{ns}\" }}, data: #{{ a: \"b\" }} }});\n"
        ));
    }
    text
}

#[test]
fn a_plan_into_many_namespaces_is_reviewed_and_read_once_for_all_of_them() {
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    let dir = tempfile::tempdir().unwrap();
    kubectl_ok(cluster, &["create", "namespace", "deployers"]);
    // Bound cluster-wide through RBAC (the admin kubeconfig's
    // system:masters would be allowed without it).
    let admin = service_account_kubeconfig(cluster, "deployers", "cluster-admin", dir.path());
    // A ConfigMap into each of 20 new namespaces `prefix`N (more than the
    // preflight reads one by one: 16), as `user`.
    let spread = |user: &Path, prefix: &str| {
        let namespaces: Vec<String> = (0..20).map(|i| format!("{prefix}{i}")).collect();
        let namespaces: Vec<&str> = namespaces.iter().map(String::as_str).collect();
        let recipe = script(&config_maps_into(&namespaces, true));
        let audit = Audit::mark(&plane.audit_log());
        let out = wildrun_with(user, "unused", &[recipe.1.to_str().unwrap()]);
        assert_ok(&out, &format!("apply into {prefix}N"));
        let sent = audit.sent();
        (out, sent, recipe)
    };
    // The recipe's folder lives until the end: it is run again below.
    let (out, sent, (_dir, path)) = spread(&admin, "spread-");
    let namespaces: Vec<String> = (0..20).map(|i| format!("spread-{i}")).collect();
    for ns in &namespaces {
        assert!(
            report(&out).contains(&format!("created ConfigMap {ns}/settings")),
            "{}",
            stderr(&out)
        );
    }
    // One question for the Namespaces, one for ConfigMaps in all
    // namespaces; no namespace reviewed on its own.
    let reviews: Vec<&Sent> = sent.iter().filter(|s| s.what == "review").collect();
    assert!(
        !reviews
            .iter()
            .any(|s| s.uri.contains("selfsubjectrulesreviews")),
        "{reviews:?}"
    );
    assert_eq!(reviews.len(), 2, "{reviews:?}");
    // The Namespaces from one list, none read on its own.
    // Lists of Namespaces, and reads of Namespaces named `prefix`N.
    let namespace_reads = |sent: &[Sent], prefix: &str| -> (usize, usize) {
        let path = |s: &&Sent| s.uri.split('?').next().unwrap_or_default().to_string();
        let lists = sent
            .iter()
            .filter(|s| s.what == "list" && path(s) == "/api/v1/namespaces")
            .count();
        let gets = sent
            .iter()
            .filter(|s| {
                s.what == "get"
                    && path(s)
                        .strip_prefix(&format!("/api/v1/namespaces/{prefix}"))
                        .is_some_and(|rest| !rest.contains('/'))
            })
            .count();
        (lists, gets)
    };
    assert_eq!(
        namespace_reads(&sent, "spread-"),
        (1, 0),
        "{}",
        tally(&sent)
    );
    // Again: every Namespace is there, and holds what the plan applies.
    let audit = Audit::mark(&plane.audit_log());
    let out = wildrun_with(&admin, "unused", &[path.to_str().unwrap()]);
    assert_ok(&out, "the same again");
    let sent = audit.sent();
    assert!(
        report(&out)
            .iter()
            .all(|line| line.starts_with("unchanged ")),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&sent), 0, "{}", tally(&sent));
    assert_eq!(
        namespace_reads(&sent, "spread-"),
        (1, 0),
        "{}",
        tally(&sent)
    );

    // A user who may read Namespaces one by one but not list them: read
    // one by one, and the run goes through.
    kubectl_ok(
        cluster,
        &[
            "create",
            "clusterrole",
            "no-namespace-list",
            "--verb=get,create,patch",
            "--resource=namespaces,configmaps",
        ],
    );
    let no_list = service_account_kubeconfig(cluster, "deployers", "no-namespace-list", dir.path());
    let (out, sent, _) = spread(&no_list, "spread-more-");
    assert_eq!(
        report(&out)
            .iter()
            .filter(|line| line.starts_with("created "))
            .count(),
        40,
        "{}",
        stderr(&out)
    );
    // The list was refused (403), then each Namespace read.
    assert_eq!(
        namespace_reads(&sent, "spread-more-"),
        (1, 20),
        "{}",
        tally(&sent)
    );
}

#[test]
fn a_user_bound_per_namespace_writes_where_bound_and_is_refused_elsewhere() {
    let w = World::new("perns", false);
    let dir = tempfile::tempdir().unwrap();
    // Reads Namespaces and ConfigMaps everywhere (the plane's
    // wildrun-test-limited role), writes ConfigMaps only where a RoleBinding
    // lets it: in the first three of four namespaces.
    let user =
        service_account_kubeconfig(w.cluster, w.tls.name(), "wildrun-test-limited", dir.path());
    let namespaces: Vec<TestNamespace> = (0..4)
        .map(|i| TestNamespace::new(w.cluster, &format!("perns-{i}")))
        .collect();
    let names: Vec<&str> = namespaces.iter().map(TestNamespace::name).collect();
    let writer = unique_name("configmap-writer");
    kubectl_ok(
        w.cluster,
        &[
            "create",
            "clusterrole",
            &writer,
            "--verb=create,patch",
            "--resource=configmaps",
        ],
    );
    // The test's own namespace's ServiceAccounts: the one made above.
    let accounts = format!("--group=system:serviceaccounts:{}", w.tls.name());
    for ns in &names[..3] {
        kubectl_ok(
            w.cluster,
            &[
                "-n",
                ns,
                "create",
                "rolebinding",
                &writer,
                &format!("--clusterrole={writer}"),
                &accounts,
            ],
        );
    }

    // Into all four: refused for the one without the binding, nothing written.
    let (_dir, all) = script(&config_maps_into(&names, false));
    let out = w.wildrun_as(&user, &[all.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
    let refusals: Vec<&str> = err.lines().filter(|l| l.contains("may not")).collect();
    assert_eq!(refusals.len(), 1, "{err}");
    assert!(
        refusals[0].contains(&format!(
            "may not create configmaps in namespace {} (needed for ConfigMap {}/settings)",
            names[3], names[3]
        )) && refusals[0].contains("user \"system:serviceaccount:")
            && refusals[0].contains("check.rhai:4"),
        "{err}"
    );
    for ns in &names {
        assert!(
            w.get(&["-n", ns, "configmap", "settings"]).is_none(),
            "a ConfigMap was written in {ns}: {err}"
        );
    }

    // Into the three with the binding: applied.
    let (_dir, bound) = script(&config_maps_into(&names[..3], false));
    let out = w.wildrun_as(&user, &[bound.to_str().unwrap()]);
    assert_ok(&out, "apply where the RoleBindings allow it");
    for ns in &names[..3] {
        w.must_get(&["-n", ns, "configmap", "settings"]);
    }
    let _ = w.cluster.kubectl(&["delete", "clusterrole", &writer]);
}

/// A user's objects of kinds wildrun has no type for, made with kubectl
/// in `ns`: an IngressRoute (Traefik's CRD), a Lease and a ResourceQuota.
fn users_objects(ns: &str, labels: Value) -> Vec<Value> {
    vec![
        json!({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
               "metadata": {"name": "user-route", "namespace": ns, "labels": labels},
               "spec": {"entryPoints": ["web"], "routes": [{"match": "Host(`a.example.test`)", "kind": "Rule", "services": [{"name": "web", "port": 80}]}]}}),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": "user-lease", "namespace": ns, "labels": labels},
               "spec": {"holderIdentity": "someone"}}),
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
               "metadata": {"name": "user-quota", "namespace": ns, "labels": labels},
               "spec": {"hard": {"pods": "10"}}}),
    ]
}

/// The kinds and names of [`users_objects`], as the report names them.
const USERS_OBJECTS: [(&str, &str); 3] = [
    ("IngressRoute", "user-route"),
    ("Lease", "user-lease"),
    ("ResourceQuota", "user-quota"),
];

fn kubectl_apply(cluster: &TestCluster, objects: &[Value]) {
    for object in objects {
        let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &object.to_string());
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Whether each of [`USERS_OBJECTS`] is still in `ns`.
fn assert_users_objects_remain(w: &World, ns: &str) {
    for (kind, name) in USERS_OBJECTS {
        assert!(
            w.get(&["-n", ns, &kind.to_lowercase(), name]).is_some(),
            "{kind} {ns}/{name} was deleted"
        );
    }
}

#[test]
fn delete_keeps_a_namespace_that_holds_objects_of_kinds_wildrun_does_not_know_and_names_them() {
    let w = World::new("delete-keeps", true);
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply",
    );
    kubectl_apply(w.cluster, &users_objects(name, json!({})));

    let out = w.wildrun(&[
        "scripts/public.rhai",
        "--name",
        name,
        "--delete",
        "-o",
        "json",
    ]);
    assert_ok(&out, "delete");
    let err = stderr(&out);
    for kind in ["deployment", "service", "ingress"] {
        assert!(
            w.get(&["-n", name, kind, name]).is_none(),
            "the instance's {kind} remains: {err}"
        );
    }
    assert!(w.get(&["namespace", name]).is_some(), "{err}");
    assert_users_objects_remain(&w, name);
    let kept = err
        .lines()
        .find(|l| l.starts_with(&format!("kept       Namespace {name} (")))
        .unwrap_or_else(|| panic!("the Namespace is not reported kept: {err}"));
    assert!(
        kept.contains(&format!("namespace {name} still holds ")),
        "{kept}"
    );
    for (kind, object) in USERS_OBJECTS {
        assert!(kept.contains(&format!("{kind} {object}")), "{kept}");
    }
    // The report on stdout says the same.
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let namespace = entries
        .iter()
        .find(|e| e["kind"] == "Namespace")
        .expect("the Namespace is in the report");
    assert_eq!(namespace["action"], "kept", "{entries:?}");
    assert!(
        namespace["note"]
            .as_str()
            .unwrap()
            .contains("Lease user-lease"),
        "{namespace}"
    );
}

#[test]
fn delete_keeps_a_namespace_where_another_instance_has_objects_of_any_kind() {
    let w = World::new("shared-kinds", true);
    let shared = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", shared]),
        "apply the first instance",
    );
    // A second instance in the same namespace, of kinds wildrun has no type for.
    let dir = tempfile::tempdir().unwrap();
    let instance = unique_name("routes");
    let routes = dir.path().join(format!("{instance}.rhai"));
    let applies: String = users_objects(shared, json!({}))
        .iter()
        .take(2)
        .map(|o| format!("kube::apply(yaml::parse({:?})[0]);\n", o.to_string()))
        .collect();
    std::fs::write(&routes, &applies).unwrap();
    let routes = routes.to_str().unwrap();
    assert_ok(&w.wildrun(&[routes]), "apply the second instance");
    let lease = w.must_get(&["-n", shared, "lease", "user-lease"]);
    assert_eq!(labels_of(&lease)["wildrun.dev/instance"], instance.as_str());

    let out = w.wildrun(&["scripts/public.rhai", "--name", shared, "--delete"]);
    assert_ok(&out, "delete the first instance");
    let err = stderr(&out);
    assert!(w.get(&["namespace", shared]).is_some(), "{err}");
    for (kind, name) in &USERS_OBJECTS[..2] {
        assert!(
            w.get(&["-n", shared, &kind.to_lowercase(), name]).is_some(),
            "the other instance's {kind} was deleted: {err}"
        );
    }
    assert!(
        err.contains(&format!(
            "kept       Namespace {shared} (namespace {shared} still holds"
        )),
        "{err}"
    );
    // Once the second instance is gone too, nothing holds the namespace.
    let out = w.wildrun(&[routes, "--delete"]);
    assert_ok(&out, "delete the second instance");
    assert!(w.get(&["namespace", shared]).is_none(), "{}", stderr(&out));
}

#[test]
fn delete_keeps_a_namespace_holding_a_kind_the_user_may_not_list() {
    let w = World::new("delete-unlisted", true);
    let name = w.name.as_str();
    // examples/rbac.yaml's role, listing only the kinds wildrun has types
    // for (and Pods) instead of every kind: it may not list Leases.
    let rbac =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rbac.yaml"))
            .unwrap();
    let mut role = wildrun::yaml::parse_documents(&rbac, "rbac.yaml").unwrap()[0].clone();
    let narrow = unique_name("list-known-kinds");
    role["metadata"]["name"] = json!(narrow);
    let rules = role["rules"].as_array_mut().unwrap();
    rules.retain(|r| r["resources"] != json!(["*"]));
    rules.extend([
        json!({"apiGroups": [""], "resources": ["pods", "configmaps", "serviceaccounts", "persistentvolumeclaims", "secrets", "services"], "verbs": ["list"]}),
        json!({"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"], "verbs": ["list"]}),
        json!({"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]}),
        json!({"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": ["list"]}),
        json!({"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["list"]}),
        json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["list"]}),
        json!({"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": ["list"]}),
        json!({"apiGroups": ["traefik.io"], "resources": ["middlewares"], "verbs": ["list"]}),
        json!({"apiGroups": ["metallb.io"], "resources": ["ipaddresspools"], "verbs": ["list"]}),
    ]);
    let out = w
        .cluster
        .kubectl_stdin(&["apply", "-f", "-"], &role.to_string());
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let user = service_account_kubeconfig(w.cluster, w.tls.name(), &narrow, dir.path());

    assert_ok(
        &w.wildrun_as(&user, &["scripts/public.rhai", "--name", name]),
        "apply",
    );
    kubectl_apply(w.cluster, &users_objects(name, json!({}))[1..2]);
    let out = w.wildrun_as(&user, &["scripts/public.rhai", "--name", name, "--delete"]);
    assert_ok(&out, "delete");
    let err = stderr(&out);
    assert!(
        w.get(&["-n", name, "lease", "user-lease"]).is_some(),
        "the Lease the user cannot see was deleted: {err}"
    );
    assert!(
        err.contains(&format!(
            "kept       Namespace {name} (namespace {name} may hold objects wildrun cannot see: "
        )),
        "{err}"
    );
    assert!(
        err.contains("(not allowed to list them)"),
        "the kinds that could not be listed are named: {err}"
    );
    let _ = w.cluster.kubectl(&["delete", "clusterrole", &narrow]);
}

/// A recipe of `objects` (JSON) in namespace `ns`, which it makes.
fn recipe_of(ns: &str, objects: &[Value]) -> String {
    let mut text = format!("kube::ensure_namespace(\"{ns}\");\n");
    for object in objects {
        text.push_str(&format!(
            "kube::apply(yaml::parse({:?})[0]);\n",
            object.to_string()
        ));
    }
    text
}

fn config_map(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"a": "b"}})
}

fn volume_claim(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
}

#[test]
fn a_prune_that_would_remove_every_object_is_refused_unless_allowed() {
    let mut w = World::new("prune-all", false);
    let ns = w.name.clone();
    let ns = ns.as_str();
    let typo = format!("{ns}-typo");
    w.cleanup_namespace(&typo);
    let dir = tempfile::tempdir().unwrap();
    let instance = unique_name("objs");
    let recipe = dir.path().join(format!("{instance}.rhai"));
    let recipe_path = recipe.to_str().unwrap();
    let full = recipe_of(ns, &[config_map(ns, "one"), config_map(ns, "two")]);
    std::fs::write(&recipe, &full).unwrap();
    assert_ok(&w.wildrun(&[recipe_path]), "apply");
    let uid = |name: &str| w.must_get(&["-n", ns, "configmap", name])["metadata"]["uid"].clone();
    let before = [uid("one"), uid("two")];

    // An empty plan (a condition gone wrong), then a plan that keeps none of
    // the instance's objects (a renamed loop variable): refused, nothing changes.
    for (text, reason) in [
        (
            "let objects = [];\nfor o in objects { kube::apply(o); }\n".to_string(),
            "the plan is empty",
        ),
        (
            recipe_of(&typo, &[config_map(&typo, "one")]),
            "the plan keeps none of them",
        ),
    ] {
        std::fs::write(&recipe, &text).unwrap();
        let out = w.wildrun(&[recipe_path, "--prune", "-o", "json"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "nothing was changed; --prune would delete every object of instance {instance} ("
            )) && err.contains(reason)
                && err.contains("--allow-prune-all"),
            "{err}"
        );
        assert_eq!([uid("one"), uid("two")], before, "{err}");
        assert!(w.get(&["namespace", &typo]).is_none(), "{err}");
        let entries: Vec<Value> = serde_json::from_slice(&out.stdout).expect("a JSON report");
        assert!(
            entries.iter().all(|e| e["action"] == "not-done"),
            "{entries:?}"
        );
    }

    // Said explicitly, it goes ahead.
    std::fs::write(&recipe, "").unwrap();
    let out = w.wildrun(&[recipe_path, "--prune", "--allow-prune-all"]);
    assert_ok(&out, "prune with --allow-prune-all");
    assert!(w.get(&["-n", ns, "configmap", "one"]).is_none());
    assert!(w.get(&["namespace", ns]).is_none(), "{}", stderr(&out));
}

#[test]
fn prune_keeps_objects_that_hold_data_unless_allowed_and_diff_says_so() {
    let w = World::new("prune-data", false);
    let ns = w.name.as_str();
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join(format!("{}.rhai", unique_name("data")));
    let recipe_path = recipe.to_str().unwrap();
    std::fs::write(
        &recipe,
        recipe_of(ns, &[volume_claim(ns, "data"), config_map(ns, "state")]),
    )
    .unwrap();
    assert_ok(&w.wildrun(&[recipe_path]), "apply");
    let claim_uid = w.must_get(&["-n", ns, "pvc", "data"])["metadata"]["uid"].clone();
    // The recipe drops both; ConfigMaps hold data too, says prune.keepKinds.
    std::fs::write(&recipe, recipe_of(ns, &[])).unwrap();
    let keep = ["--set", "prune.keepKinds=StatefulSet,ConfigMap"];

    let mut args = vec![recipe_path, "--diff", "--prune"];
    args.extend(keep);
    let diff = w.wildrun(&args);
    assert_eq!(diff.status.code(), Some(0), "{}", stderr(&diff));
    assert!(
        !stdout(&diff).contains("PersistentVolumeClaim"),
        "{}",
        stdout(&diff)
    );
    assert!(
        stderr(&diff).contains(&format!("kept       PersistentVolumeClaim {ns}/data (PersistentVolumeClaim holds data: --prune leaves it unless --allow-prune-data is given)")),
        "{}",
        stderr(&diff)
    );

    let mut args = vec![recipe_path, "--prune"];
    args.extend(keep);
    let out = w.wildrun(&args);
    assert_ok(&out, "prune");
    let pvc = w.must_get(&["-n", ns, "pvc", "data"]);
    assert_eq!(pvc["metadata"]["uid"], claim_uid);
    assert!(w.get(&["-n", ns, "configmap", "state"]).is_some());
    let lines = report(&out);
    for kept in [
        format!("kept PersistentVolumeClaim {ns}/data"),
        format!("kept ConfigMap {ns}/state"),
    ] {
        assert!(lines.contains(&kept), "{lines:?}");
    }

    // Confirmed: the claim goes, and so does the ConfigMap once
    // prune.keepKinds no longer names it.
    let out = w.wildrun(&[recipe_path, "--prune", "--allow-prune-data"]);
    assert_ok(&out, "prune --allow-prune-data");
    assert!(w.get(&["-n", ns, "configmap", "state"]).is_none());
    let pvc = w.get(&["-n", ns, "pvc", "data"]);
    assert!(
        pvc.as_ref()
            .is_none_or(|p| p["metadata"]["deletionTimestamp"].is_string()),
        "{pvc:?}"
    );
}

/// A copy two instances keep (a recipe and tls-sync, or any script that
/// copies the same source into the same namespace) stays the instance's
/// that made it: the other keeps its data in step and says whose it is;
/// neither run takes it from the other; `--adopt` moves it.
#[test]
fn a_copy_two_instances_keep_stays_the_makers() {
    let w = World::new("copyowner", true);
    let name = w.name.as_str();
    let secret = "wildcard-wild-cloud-tls";
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "public",
    );
    let dir = tempfile::tempdir().unwrap();
    let sync = dir.path().join("sync.rhai");
    std::fs::write(
        &sync,
        format!(
            "kube::copy_secret(\"{}\", \"{secret}\", \"{name}\", #{{ type: \"kubernetes.io/tls\" }});\n",
            w.tls.name()
        ),
    )
    .unwrap();
    let sync = sync.to_str().unwrap();
    let instance = |w: &World| {
        w.must_get(&["-n", name, "secret", secret])["metadata"]["labels"]["wildrun.dev/instance"]
            .clone()
    };

    // cert-manager renews the source; the other instance updates the copy.
    create_tls_secret(w.cluster, w.tls.name(), secret, "renewed");
    let out = w.wildrun(&[sync]);
    assert_ok(&out, "the other instance");
    assert!(
        stderr(&out).contains(&format!(
            "configured Secret {name}/{secret} (kept in step with {}/{secret}; the copy stays instance public.{name}'s, which made it (--adopt moves it here))",
            w.tls.name()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(instance(&w), json!(format!("public.{name}")));
    let copy = w.must_get(&["-n", name, "secret", secret]);
    assert_eq!(copy["data"]["tls.crt"], json!(base64_of("cert-renewed")));

    // The recipe finds its own copy, up to date: nothing to take back.
    let out = w.wildrun(&["scripts/public.rhai", "--name", name]);
    assert_ok(&out, "public again");
    assert!(
        report(&out).contains(&format!("unchanged Secret {name}/{secret}")),
        "{}",
        stderr(&out)
    );

    // --adopt moves it.
    let out = w.wildrun(&[sync, "--adopt"]);
    assert_ok(&out, "the other instance --adopt");
    assert_eq!(instance(&w), json!("sync"));
}

#[test]
fn no_output_mode_prints_the_values_of_a_secret_the_recipe_builds() {
    let w = World::new("secretout", false);
    let ns = w.name.as_str();
    // The value in plain text (stringData) and as base64 (data), as a
    // recipe that generates an app's password would hold it.
    let recipe = |value: &str| {
        let encoded = base64_of(value);
        format!(
            "kube::apply(#{{ apiVersion: \"v1\", kind: \"Namespace\", metadata: #{{ name: \"{ns}\" }} }});\n\
             kube::apply(#{{ apiVersion: \"v1\", kind: \"Secret\", metadata: #{{ name: \"db\", namespace: \"{ns}\" }},\n\
                             stringData: #{{ dbPassword: \"{value}\" }}, data: #{{ token: \"{encoded}\" }} }});\n"
        )
    };
    let (_dir, path) = script(&recipe("S3cret-first-value"));
    let path = path.to_str().expect("a UTF-8 path");
    let leaks = |out: &Output, value: &str| {
        let all = format!("{}{}", stdout(out), stderr(out));
        all.contains(value) || all.contains(&base64_of(value))
    };

    for args in [
        vec![path, "--dry-run"],
        vec![path, "--dry-run", "-o", "json"],
        vec![path, "--dry-run=server"],
        vec![path, "--dry-run=server", "-o", "json"],
        vec![path, "-v"],
        vec![path, "-o", "json", "-v"],
    ] {
        let out = w.wildrun(&args);
        assert_ok(&out, &format!("{args:?}"));
        assert!(
            !leaks(&out, "S3cret-first-value"),
            "{args:?} printed the value:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    // A changed value: the diff says the Secret changes, without either value.
    std::fs::write(path, recipe("S3cret-second-value")).expect("rewrite the recipe");
    let diff = w.wildrun(&[path, "--diff"]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    for value in ["S3cret-first-value", "S3cret-second-value"] {
        assert!(
            !leaks(&diff, value),
            "--diff printed {value}:\n{}",
            stdout(&diff)
        );
    }
    let out = w.wildrun(&[path, "--delete", "-o", "json"]);
    assert_ok(&out, "--delete");
    assert!(!leaks(&out, "S3cret-first-value"), "{}", stdout(&out));

    // Asked for, the values are printed, for piping to another tool.
    let shown = w.wildrun(&[path, "--dry-run", "--show-secrets"]);
    assert_ok(&shown, "--show-secrets");
    assert!(
        stdout(&shown).contains("S3cret-second-value")
            && stdout(&shown).contains(&base64_of("S3cret-second-value")),
        "{}",
        stdout(&shown)
    );
}

/// Standard base64 with padding, as Kubernetes stores Secret data.
fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn a_namespace_another_tool_made_is_used_as_it_is_and_survives_delete() {
    let w = World::new("nsforeign", false);
    let ns = w.name.as_str();
    // As `kubectl create namespace` makes it, before any run of wildrun.
    let made = w.cluster.kubectl(&["create", "namespace", ns]);
    assert!(made.status.success(), "{}", stderr(&made));
    let (_dir, path) = script(&format!(
        "kube::ensure_namespace(\"{ns}\");\n\
         kube::apply(#{{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{{ name: \"app\", namespace: \"{ns}\" }}, data: #{{ a: \"b\" }} }});\n"
    ));
    let path = path.to_str().expect("a UTF-8 path");

    // The diff predicts what applying does: the ConfigMap, not the namespace.
    let diff = w.wildrun(&[path, "--diff"]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    let shown = stdout(&diff);
    assert!(
        shown.contains(&format!("ConfigMap {ns}/app")) && !shown.contains("Namespace"),
        "{shown}"
    );

    let out = w.wildrun(&[path]);
    assert_ok(&out, "apply");
    let said = stderr(&out);
    assert!(
        said.lines().any(|l| l.starts_with("unchanged")
            && l.contains(&format!("Namespace {ns} (made by kubectl"))
            && l.contains("used as it is")),
        "{said}"
    );
    let live = w.must_get(&["namespace", ns]);
    assert!(
        live["metadata"]["labels"]
            .get("wildrun.dev/instance")
            .is_none()
            && live["metadata"]["labels"]
                .get("app.kubernetes.io/managed-by")
                .is_none(),
        "labelled as wildrun's: {live:#}"
    );

    // --delete removes what the instance made and leaves the namespace.
    let out = w.wildrun(&[path, "--delete"]);
    assert_ok(&out, "delete");
    assert!(w.get(&["-n", ns, "configmap", "app"]).is_none());
    let live = w.must_get(&["namespace", ns]);
    assert!(live["metadata"]["deletionTimestamp"].is_null(), "{live:#}");
}

#[test]
fn a_prune_that_replaces_a_route_keeps_the_old_one_until_the_new_one_answers() {
    let w = World::new("route-move", true);
    let name = w.name.as_str();
    assert_ok(
        &w.wildrun(&["scripts/public.rhai", "--name", name]),
        "apply over an Ingress",
    );
    // The plane runs no Traefik: the HTTPRoute is never Accepted, so the
    // Ingress it replaces must stay.
    let out = w.wildrun(&[
        "scripts/public.rhai",
        "--name",
        name,
        "--set",
        "ingress.api=gateway",
        "--prune",
        "--wait",
        "--timeout",
        "2s",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "nothing was pruned: the plan replaces Ingress {name}/{name} but the new route does not answer yet"
        )),
        "{}",
        stderr(&out)
    );
    assert!(
        w.get(&["-n", name, "ingress", name]).is_some(),
        "the Ingress stays"
    );
    assert!(
        w.get(&["-n", name, "httproute", name]).is_some(),
        "the HTTPRoute is applied"
    );
}

/// `--delete` leaves what holds data (PersistentVolumeClaims, the kinds of
/// `prune.keepKinds`) and what is kept by label, with the namespace that
/// holds them; a later deploy of the same instance finds them and writes
/// nothing to them; `--allow-prune-data` deletes them too.
#[test]
fn delete_keeps_what_holds_data_and_its_namespace_and_a_later_deploy_finds_it() {
    let w = World::new("delete-data", false);
    let ns = w.name.as_str();
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join(format!("{}.rhai", unique_name("data")));
    let recipe_path = recipe.to_str().unwrap();
    let shared = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": ns}, "data": {"a": "b"}});
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "worker", "namespace": ns}});
    std::fs::write(
        &recipe,
        recipe_of(
            ns,
            &[volume_claim(ns, "data"), config_map(ns, "state"), account],
        ) + format!(
            "kube::apply(yaml::parse({:?})[0], #{{ keep: true }});\n",
            shared.to_string()
        )
        .as_str(),
    )
    .unwrap();
    let keep = ["--set", "prune.keepKinds=ServiceAccount"];
    let mut args = vec![recipe_path];
    args.extend(keep);
    assert_ok(&w.wildrun(&args), "apply");
    let uid =
        |kind: &str, name: &str| w.must_get(&["-n", ns, kind, name])["metadata"]["uid"].clone();
    let claim_uid = uid("pvc", "data");

    let mut args = vec![recipe_path, "--delete"];
    args.extend(keep);
    let out = w.wildrun(&args);
    assert_ok(&out, "delete");
    let said = stderr(&out);
    assert!(
        said.contains(&format!("kept       PersistentVolumeClaim {ns}/data (PersistentVolumeClaim holds data: --delete leaves it unless --allow-prune-data is given)")),
        "{said}"
    );
    assert_reported(
        &out,
        &[
            format!("kept ServiceAccount {ns}/worker"),
            format!("kept ConfigMap {ns}/shared"),
            format!("deleted ConfigMap {ns}/state"),
            format!("kept Namespace {ns}"),
        ],
    );
    assert!(
        said.contains(&format!("namespace {ns} still holds"))
            && said.contains("PersistentVolumeClaim data"),
        "{said}"
    );
    assert_eq!(uid("pvc", "data"), claim_uid);
    assert!(w.get(&["-n", ns, "configmap", "state"]).is_none());
    let live_ns = w.must_get(&["namespace", ns]);
    assert!(
        live_ns["metadata"]["deletionTimestamp"].is_null(),
        "{live_ns:#}"
    );

    // Deployed again, the instance finds its claim as it left it.
    let mut args = vec![recipe_path];
    args.extend(keep);
    let out = w.wildrun(&args);
    assert_ok(&out, "deploy again");
    assert_reported(
        &out,
        &[
            format!("unchanged PersistentVolumeClaim {ns}/data"),
            format!("unchanged ServiceAccount {ns}/worker"),
            format!("created ConfigMap {ns}/state"),
        ],
    );
    assert_eq!(uid("pvc", "data"), claim_uid);

    // Asked for, what holds data goes too (what is kept by label stays).
    let out = w.wildrun(&[recipe_path, "--delete", "--allow-prune-data"]);
    assert_ok(&out, "delete --allow-prune-data");
    assert_reported(
        &out,
        &[
            format!("deleted PersistentVolumeClaim {ns}/data"),
            format!("deleted ServiceAccount {ns}/worker"),
            format!("kept ConfigMap {ns}/shared"),
        ],
    );
    let pvc = w.get(&["-n", ns, "pvc", "data"]);
    assert!(pvc.is_none(), "{pvc:?}");
}

/// A Job applied with `#{ recreate: true }` is deleted and created again on
/// each deploy (a new uid, reported `re-created`); `--dry-run=server`
/// deletes nothing and `--diff` says it would be re-created. Without the
/// option, a changed template fails as the API server says, with the option
/// named.
#[test]
fn a_job_applied_with_recreate_is_a_new_one_on_each_deploy() {
    let w = World::new("recreate", false);
    let ns = w.name.as_str();
    let recipe = |image: &str, options: &str| {
        format!(
            "kube::ensure_namespace(\"{ns}\");\n\
             kube::apply(#{{ apiVersion: \"batch/v1\", kind: \"Job\", metadata: #{{ name: \"migrate\", namespace: \"{ns}\" }},\n\
                 spec: #{{ backoffLimit: 0, template: #{{ spec: #{{ restartPolicy: \"Never\",\n\
                     containers: [#{{ name: \"migrate\", image: \"{image}\", command: [\"true\"] }}] }} }} }} }}{options});\n"
        )
    };
    let (_dir, path) = script(&recipe("busybox:1.36", ", #{ recreate: true }"));
    let path = path.to_str().expect("a UTF-8 path");
    let uid = || w.must_get(&["-n", ns, "job", "migrate"])["metadata"]["uid"].clone();

    let out = w.wildrun(&[path]);
    assert_ok(&out, "first deploy");
    assert!(
        report(&out).contains(&format!("created Job {ns}/migrate")),
        "{}",
        stderr(&out)
    );
    let first = uid();

    let out = w.wildrun(&[path, "--dry-run=server"]);
    assert_ok(&out, "server dry run");
    assert!(
        stderr(&out).contains(&format!("re-created Job {ns}/migrate (#{{ recreate: true }}: would be deleted and created again) [server dry run]")),
        "{}",
        stderr(&out)
    );
    assert_eq!(uid(), first, "a dry run deleted the Job");
    let diff = w.wildrun(&[path, "--diff"]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    assert!(
        stdout(&diff).contains(&format!("+++ re-created Job {ns}/migrate")),
        "{}",
        stdout(&diff)
    );
    assert_eq!(uid(), first, "--diff deleted the Job");

    let out = w.wildrun(&[path, "-o", "json"]);
    assert_ok(&out, "second deploy");
    assert!(
        stderr(&out).contains(&format!(
            "re-created Job {ns}/migrate (#{{ recreate: true }}: deleted and created again)"
        )),
        "{}",
        stderr(&out)
    );
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "re-created" && e["name"] == "migrate"),
        "{entries:?}"
    );
    let second = uid();
    assert_ne!(second, first, "the second deploy's Job is the first one");

    // Without the option, a changed template is refused in place, and the
    // error names the way out.
    std::fs::write(path, recipe("busybox:1.37", "")).expect("rewrite the recipe");
    let out = w.wildrun(&[path]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "Job.batch \"migrate\" is invalid: spec.template: field is immutable (a field"
        ) && stderr(&out).contains("#{ recreate: true }")
            && !stderr(&out).contains("busybox:1.37"),
        "{}",
        stderr(&out)
    );
    assert_eq!(uid(), second);
    // With it, the Job is made again with the new template.
    std::fs::write(path, recipe("busybox:1.37", ", #{ recreate: true }")).expect("rewrite");
    let diff = w.wildrun(&[path, "--diff"]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    assert!(
        stdout(&diff).contains("-        image: busybox:1.36")
            && stdout(&diff).contains("+        image: busybox:1.37"),
        "{}",
        stdout(&diff)
    );
    assert_ok(&w.wildrun(&[path]), "deploy with a new template");
    let job = w.must_get(&["-n", ns, "job", "migrate"]);
    assert_ne!(job["metadata"]["uid"], second);
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        json!("busybox:1.37")
    );
}

/// A recipe's generated Secret and its claim, in namespace `ns`: `keys`
/// is the map of `kube::generated_secret`'s `keys`.
fn generated_recipe(ns: &str, keys: &str) -> String {
    format!(
        "kube::ensure_namespace(\"{ns}\");\n\
         kube::generated_secret(\"{ns}\", \"app-db\", #{{ keys: {keys} }});\n"
    ) + recipe_of(ns, &[volume_claim(ns, "data")])
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
        .as_str()
        + "\n"
}

/// The decoded value of `key` in Secret `ns/name`.
fn secret_value(w: &World, ns: &str, name: &str, key: &str) -> String {
    use base64::Engine;
    let secret = w.must_get(&["-n", ns, "secret", name]);
    let text = secret["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {secret:#}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64");
    String::from_utf8(bytes).expect("UTF-8")
}

/// A generated Secret is made once: a re-run reads its values and writes
/// nothing (the API server's audit log counts the writes), `--delete`
/// keeps it with the claim, and the next deploy finds both and writes
/// nothing to them.
#[test]
fn a_generated_secret_is_made_once_and_a_rerun_or_a_later_deploy_writes_nothing() {
    let plane = common::cluster::PrivatePlane::start_audited();
    let cluster = &plane.cluster;
    let log = plane.audit_log();
    let ns = "app";
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("app.rhai");
    std::fs::write(
        &recipe,
        generated_recipe(
            ns,
            "#{ password: #{ length: 40 }, pin: #{ length: 8, alphabet: \"0123456789\" } }",
        ),
    )
    .unwrap();
    let recipe = recipe.to_str().unwrap();
    let run = |extra: &[&str]| {
        let audit = Audit::mark(&log);
        let mut args = vec![recipe];
        args.extend_from_slice(extra);
        let out = wildrun_on(cluster, "unused", &args);
        assert_ok(&out, &format!("{args:?}"));
        (out, audit.sent())
    };
    let value = |key: &str| {
        let text = kubectl_ok(
            cluster,
            &[
                "-n",
                ns,
                "get",
                "secret",
                "app-db",
                "-o",
                &format!("jsonpath={{.data.{key}}}"),
            ],
        );
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .expect("base64");
        String::from_utf8(bytes).expect("UTF-8")
    };

    let (out, _) = run(&[]);
    assert!(
        report(&out).contains(&format!("created Secret {ns}/app-db")),
        "{}",
        stderr(&out)
    );
    let (password, pin) = (value("password"), value("pin"));
    assert!(
        password.len() == 40 && password.chars().all(|c| c.is_ascii_alphanumeric()),
        "{password}"
    );
    assert!(
        pin.len() == 8 && pin.chars().all(|c| c.is_ascii_digit()),
        "{pin}"
    );

    let (out, sent) = run(&[]);
    assert_eq!(writes(&sent), 0, "a re-run wrote: {}", tally(&sent));
    assert!(
        report(&out).contains(&format!("unchanged Secret {ns}/app-db")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        (value("password"), value("pin")),
        (password.clone(), pin.clone())
    );

    let (out, _) = run(&["--delete"]);
    let said = stderr(&out);
    assert!(
        said.contains(&format!("kept       Secret {ns}/app-db (Secret holds generated values: --delete leaves it unless --allow-prune-data is given)"))
            && report(&out).contains(&format!("kept PersistentVolumeClaim {ns}/data"))
            && report(&out).contains(&format!("kept Namespace {ns}")),
        "{said}"
    );

    let (out, sent) = run(&[]);
    assert_eq!(
        writes(&sent),
        0,
        "the deploy after --delete wrote: {}\n{}",
        tally(&sent),
        stderr(&out)
    );
    assert_reported(
        &out,
        &[
            format!("unchanged Secret {ns}/app-db"),
            format!("unchanged PersistentVolumeClaim {ns}/data"),
        ],
    );
    assert_eq!((value("password"), value("pin")), (password, pin));
}

/// A key added later is generated and the others kept; `--rotate-secret`
/// makes all of them again, and names only a Secret the recipe generates.
/// No output mode prints a generated value, except `--show-secrets`.
#[test]
fn generated_values_are_never_printed_and_rotate_only_when_asked() {
    let w = World::new("generated", false);
    let ns = w.name.as_str();
    let (_dir, path) = script(&generated_recipe(ns, "#{ password: #{} }"));
    let path = path.to_str().expect("a UTF-8 path");
    let out = w.wildrun(&[path]);
    assert_ok(&out, "first deploy");
    let password = secret_value(&w, ns, "app-db", "password");
    assert_eq!(password.len(), 32, "{password}");
    let leaks = |out: &Output, value: &str| {
        let all = format!("{}{}", stdout(out), stderr(out));
        all.contains(value) || all.contains(&base64_of(value))
    };
    assert!(!leaks(&out, &password), "{}", stderr(&out));

    // A key added later: generated; the password stays.
    std::fs::write(
        path,
        generated_recipe(ns, "#{ password: #{}, token: #{ length: 64 } }"),
    )
    .expect("rewrite the recipe");
    let diff = w.wildrun(&[path, "--diff"]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    assert!(
        stdout(&diff).contains("password: \"***\"")
            && stdout(&diff).contains("token: \"*** (after)\""),
        "{}",
        stdout(&diff)
    );
    let out = w.wildrun(&[path]);
    assert_ok(&out, "deploy with a new key");
    assert!(
        stderr(&out).contains(&format!(
            "Secret {ns}/app-db: new values for token (not in the cluster yet)"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(secret_value(&w, ns, "app-db", "password"), password);
    let token = secret_value(&w, ns, "app-db", "token");
    assert_eq!(token.len(), 64);

    // Every output mode, the values in none of them.
    for args in [
        vec![path],
        vec![path, "-v"],
        vec![path, "-o", "json"],
        vec![path, "--dry-run"],
        vec![path, "--dry-run", "-o", "json"],
        vec![path, "--dry-run=server", "-o", "json"],
        vec![path, "--diff"],
        vec![path, "--diff", "--rotate-secret", &format!("{ns}/app-db")],
        vec![path, "--delete", "-o", "json", "-v"],
    ] {
        let out = w.wildrun(&args);
        // --diff exits 1 when something differs (the rotated values).
        let differs = args.contains(&"--diff") && out.status.code() == Some(1);
        if !differs {
            assert_ok(&out, &format!("{args:?}"));
        }
        for value in [&password, &token] {
            assert!(
                !leaks(&out, value),
                "{args:?} printed a value:\n{}{}",
                stdout(&out),
                stderr(&out)
            );
        }
    }
    // --delete kept it: the values are still the same.
    assert_eq!(secret_value(&w, ns, "app-db", "password"), password);

    // Rotation: only the Secrets the recipe generates, and only when asked.
    let out = w.wildrun(&[path, "--rotate-secret", &format!("{ns}/app-dbx")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "--rotate-secret {ns}/app-dbx: the recipe generates no Secret {ns}/app-dbx with kube::generated_secret (it generates {ns}/app-db)"
        )),
        "{}",
        stderr(&out)
    );
    let out = w.wildrun(&[path, "--rotate-secret", &format!("{ns}/app-db")]);
    assert_ok(&out, "rotate");
    assert!(
        report(&out).contains(&format!("configured Secret {ns}/app-db")),
        "{}",
        stderr(&out)
    );
    let rotated = secret_value(&w, ns, "app-db", "password");
    assert!(rotated != password && rotated.len() == 32);
    assert_ne!(secret_value(&w, ns, "app-db", "token"), token);
    assert!(!leaks(&out, &rotated), "{}", stderr(&out));

    // Asked for, the dry run prints the values it would apply (new ones:
    // it reads no cluster), for piping to another tool.
    let shown = w.wildrun(&[path, "--dry-run", "--show-secrets", "-o", "json"]);
    assert_ok(&shown, "--show-secrets");
    let objects: Vec<Value> = serde_json::from_slice(&shown.stdout).expect("JSON");
    let secret = objects
        .iter()
        .find(|o| o["kind"] == "Secret")
        .expect("the Secret");
    assert!(
        secret["data"]["password"]
            .as_str()
            .is_some_and(|v| v != "***" && v.len() > 32),
        "{secret:#}"
    );
}

/// Every Gateway API release serves ReferenceGrant as v1beta1 (the only
/// version before v1.1, as in wild-cloud's CRDs): a recipe's v1beta1 grant
/// is checked as one, applied at that version, and deleted once (its v1
/// view is the same object).
#[test]
fn a_reference_grant_written_as_v1beta1_is_applied_at_that_version_and_deleted_once() {
    let w = World::new("grantbeta", false);
    let name = w.name.as_str();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("grant.rhai");
    std::fs::write(
        &script,
        format!(
            r#"kube::apply(#{{ apiVersion: "v1", kind: "Namespace", metadata: #{{ name: "{name}" }} }});
kube::apply(#{{ apiVersion: "gateway.networking.k8s.io/v1beta1", kind: "ReferenceGrant",
    metadata: #{{ name: "gateways", namespace: "{name}" }},
    spec: #{{ from: [#{{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "traefik" }}],
              to: [#{{ group: "", kind: "Secret" }}] }} }});
"#
        ),
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let out = w.wildrun(&[script]);
    assert_ok(&out, "apply a v1beta1 ReferenceGrant");
    assert!(
        report(&out).contains(&format!("created ReferenceGrant {name}/gateways")),
        "{}",
        stderr(&out)
    );
    let out = w.wildrun(&[script, "--delete"]);
    assert_ok(&out, "delete it");
    let deleted: Vec<String> = report(&out)
        .into_iter()
        .filter(|l| l.starts_with("deleted "))
        .collect();
    assert_eq!(
        deleted,
        [
            format!("deleted ReferenceGrant {name}/gateways"),
            format!("deleted Namespace {name}")
        ],
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(" 2 deleted "),
        "counted once: {}",
        stderr(&out)
    );
}
