//! The examples gallery (`examples/apps/`, the README's "Real apps"): each
//! recipe plans what its paragraph says (a dry run, no cluster), and in the
//! visibility lab (tests/common/lab.rs) the README's command for it
//! deploys it through the real controllers: its HTTP part answers 200 by
//! name over verified HTTPS, a second run writes nothing and keeps the
//! generated values, and `--delete` leaves its PersistentVolumeClaims.
//!
//! The lab has no storage provisioner: each test makes a PersistentVolume
//! for each claim, as a cluster's storage would have one, and Kubernetes'
//! own controller binds them. The database app's Postgres namespace and
//! Secret are made with kubectl first, as the cluster's own objects.

mod common;

use common::command::{text, Wildrun};
use common::lab::Lab;
use common::offline::kind_names;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const DOMAIN: (&str, &str) = ("CLOUD_DOMAIN", "cloud.example.test");
const LB: (&str, &str) = ("CLUSTER_LOAD_BALANCER_IP", "127.0.0.240");

/// How long a lab run's `--wait` waits.
const WAIT_LIMIT: [&str; 2] = ["--timeout", "120s"];

/// The label of the PersistentVolumes these tests make.
const VOLUME_LABEL: &str = "gallery.wildrun.dev/test";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README's command for `examples/apps/<recipe>.rhai`: the line of a
/// ```` ```sh ```` block of the "Real apps" section that runs it, its
/// words after `wildrun`.
fn readme_command(recipe: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = readme
        .find("\n### Real apps: `examples/apps/`")
        .expect("the README's Real apps section");
    let section = &readme[start + 1..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    let prefix = format!("wildrun examples/apps/{recipe}.rhai ");
    let mut in_sh = false;
    let mut found = Vec::new();
    for line in section.lines() {
        match line.trim_end() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && l.starts_with(&prefix) => found.push(l.to_string()),
            _ => {}
        }
    }
    assert_eq!(
        found.len(),
        1,
        "the README's Real apps section runs {recipe}.rhai once in a ```sh block: {found:?}"
    );
    found[0]
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect()
}

/// The value of `--name` in a command.
fn name_in(args: &[String]) -> String {
    let at = args
        .iter()
        .position(|a| a == "--name")
        .expect("the command names the app");
    args[at + 1].clone()
}

/// wildrun in `dir` with `args`, the configuration only from `env`; a
/// run that hangs panics.
fn wildrun_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Wildrun::new().in_dir(dir).args(args).envs(env).output()
}

/// The objects a dry run of `args` plans.
fn dry_run_in(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.push("--dry-run");
    let out = wildrun_in(dir, &all, &[DOMAIN, LB]);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    wildrun::yaml::parse_documents(&String::from_utf8_lossy(&out.stdout), "stdout")
        .expect("a dry run prints YAML")
}

/// A dry run of the README's command for `recipe` (without `--wait`,
/// which a dry run does not take).
fn dry_run_recipe(recipe: &str) -> Vec<Value> {
    let args = readme_command(recipe);
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--wait")
        .collect();
    dry_run_in(&repo(), &args)
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", kind_names(objects)))
}

/// The first container of a Deployment or Job.
fn container(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]["containers"][0]
}

/// The variable `name` of a container's env.
fn env_var<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .and_then(|env| env.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no env {name} in {container}"))
}

fn secret_ref(name: &str, key: &str) -> Value {
    json!({"secretKeyRef": {"name": name, "key": key}})
}

#[test]
fn env_and_volumes_give_a_container_its_variables_and_claims() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = r#"
import "visibility" as vis;
fn params() { import "visibility" as vis; vis::service_params() }
let svc = vis::inputs(args, config, "public");
svc.env = #{ TZ: "UTC", WORKERS: 4, DEBUG: false,
             PASSWORD: #{ secret: "app-db", key: "password" },
             SETTINGS: #{ config_map: "app", key: "settings.ini" } };
svc.volumes = [#{ claim: "data", path: "/data" }, #{ claim: "cache", path: "/cache" }];
kube::apply(vis::volume_claim(svc, "data", "5Gi"));
kube::apply(vis::deployment(svc));
kube::apply(vis::deployment(vis::component(svc, "worker")));
"#;
    std::fs::write(dir.path().join("app.rhai"), script).expect("write the recipe");
    let objects = dry_run_in(dir.path(), &["app.rhai", "--name", "app"]);
    let web = container(named(&objects, "Deployment", "app"));
    // In the order of the names; values as text.
    assert_eq!(
        web["env"],
        json!([
            {"name": "DEBUG", "value": "false"},
            {"name": "PASSWORD", "valueFrom": secret_ref("app-db", "password")},
            {"name": "SETTINGS", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "settings.ini"}}},
            {"name": "TZ", "value": "UTC"},
            {"name": "WORKERS", "value": "4"},
        ])
    );
    assert_eq!(
        web["volumeMounts"],
        json!([{"name": "data", "mountPath": "/data"}, {"name": "cache", "mountPath": "/cache"}])
    );
    assert_eq!(
        named(&objects, "Deployment", "app")["spec"]["template"]["spec"]["volumes"],
        json!([
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "cache", "persistentVolumeClaim": {"claimName": "cache"}},
        ])
    );
    let claim = named(&objects, "PersistentVolumeClaim", "data");
    assert_eq!(claim["metadata"]["namespace"], "app");
    assert_eq!(claim["metadata"]["labels"]["app.kubernetes.io/name"], "app");
    assert_eq!(
        claim["spec"],
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}})
    );
    // A component has variables and volumes of its own only.
    let worker = named(&objects, "Deployment", "worker");
    assert_eq!(
        worker["spec"]["template"]["spec"],
        json!({"containers": [{"name": "worker", "image": "nginx:latest"}]})
    );

    for (code, expected) in [
        (
            "svc.env = #{ HOSTS: [\"a\"] };",
            "env HOSTS: a value is a text, a number, a bool or a map",
        ),
        (
            "svc.env = #{ PASSWORD: #{ secret: \"app-db\" } };",
            "env PASSWORD: a value from elsewhere is #{ secret: NAME, key: KEY }",
        ),
        (
            "svc.volumes = [#{ claim: \"data\" }];",
            "component app: the volume",
        ),
    ] {
        let script = format!(
            "import \"visibility\" as vis;\nfn params() {{ import \"visibility\" as vis; vis::service_params() }}\n\
             let svc = vis::inputs(args, config, \"public\");\n{code}\nkube::apply(vis::deployment(svc));\n"
        );
        std::fs::write(dir.path().join("bad.rhai"), script).expect("write the recipe");
        let out = wildrun_in(
            dir.path(),
            &["bad.rhai", "--name", "app", "--dry-run"],
            &[DOMAIN],
        );
        assert_eq!(out.status.code(), Some(1), "{code}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{code}: {}",
            text(&out)
        );
    }
}

#[test]
fn the_database_app_plans_its_secrets_its_job_and_its_volume() {
    let objects = dry_run_recipe("gitea");
    assert_eq!(
        kind_names(&objects),
        [
            "Namespace gitea",
            "Secret gitea-secrets",
            "Secret postgres-secrets",
            "Job db-init",
            "PersistentVolumeClaim gitea-data",
            "Secret wildcard-wild-cloud-tls",
            "Deployment gitea",
            "Service gitea",
            "Ingress gitea",
        ]
    );
    let generated = named(&objects, "Secret", "gitea-secrets");
    assert_eq!(
        generated["data"],
        json!({"dbPassword": "***", "internalToken": "***", "jwtSecret": "***", "secretKey": "***"})
    );
    assert_eq!(
        named(&objects, "Secret", "postgres-secrets")["metadata"]["annotations"]
            ["wildrun.dev/copied-from"],
        "postgres/postgres-secrets"
    );
    let job = container(named(&objects, "Job", "db-init"));
    assert_eq!(
        env_var(job, "PGPASSWORD")["valueFrom"],
        secret_ref("postgres-secrets", "password")
    );
    assert_eq!(
        env_var(job, "DB_PASSWORD")["valueFrom"],
        secret_ref("gitea-secrets", "dbPassword")
    );
    assert_eq!(
        env_var(job, "PGHOST")["value"],
        "postgres.postgres.svc.cluster.local"
    );
    let app = container(named(&objects, "Deployment", "gitea"));
    assert_eq!(
        env_var(app, "GITEA__database__PASSWD")["valueFrom"],
        secret_ref("gitea-secrets", "dbPassword")
    );
    assert_eq!(env_var(app, "GITEA__server__HTTP_PORT")["value"], "3000");
    assert_eq!(
        app["volumeMounts"],
        json!([{"name": "gitea-data", "mountPath": "/data"}])
    );
    assert_eq!(app["ports"], json!([{"containerPort": 3000}]));
    assert_eq!(
        named(&objects, "Ingress", "gitea")["spec"]["rules"][0]["host"],
        "gitea.cloud.example.test"
    );
}

#[test]
fn the_app_of_several_components_plans_each_with_its_port() {
    let objects = dry_run_recipe("immich");
    assert_eq!(
        kind_names(&objects),
        [
            "Namespace immich",
            "Secret immich-db",
            "PersistentVolumeClaim library",
            "PersistentVolumeClaim model-cache",
            "Secret wildcard-wild-cloud-tls",
            "Deployment server",
            "Service server",
            "Ingress immich",
            "Deployment microservices",
            "Deployment machine-learning",
            "Service machine-learning",
        ]
    );
    assert_eq!(
        named(&objects, "Service", "server")["spec"]["ports"],
        json!([{"port": 3001, "targetPort": 2283}])
    );
    assert_eq!(
        named(&objects, "Service", "machine-learning")["spec"]["ports"],
        json!([{"name": "http", "port": 3003, "targetPort": 3003}])
    );
    assert_eq!(
        named(&objects, "Ingress", "immich")["spec"]["rules"][0]["http"]["paths"][0]["backend"],
        json!({"service": {"name": "server", "port": {"number": 3001}}})
    );
    let server = container(named(&objects, "Deployment", "server"));
    let worker = container(named(&objects, "Deployment", "microservices"));
    let ml = container(named(&objects, "Deployment", "machine-learning"));
    assert_eq!(worker.get("ports"), None, "{worker}");
    assert_eq!(worker["image"], server["image"]);
    assert_eq!(worker["volumeMounts"], server["volumeMounts"]);
    assert_eq!(
        env_var(worker, "DB_PASSWORD")["valueFrom"],
        secret_ref("immich-db", "password")
    );
    assert_eq!(env_var(worker, "IMMICH_WORKERS_EXCLUDE")["value"], "api");
    assert_eq!(env_var(server, "IMMICH_WORKERS_INCLUDE")["value"], "api");
    assert_eq!(
        ml["image"],
        "ghcr.io/immich-app/immich-machine-learning:release"
    );
    assert_eq!(
        ml["ports"],
        json!([{"name": "http", "containerPort": 3003}])
    );
    assert_eq!(
        ml["volumeMounts"],
        json!([{"name": "model-cache", "mountPath": "/cache"}])
    );
}

#[test]
fn the_internal_app_plans_its_port_its_volume_and_its_allowlist() {
    let objects = dry_run_recipe("registry");
    assert_eq!(
        kind_names(&objects),
        [
            "Namespace registry",
            "PersistentVolumeClaim images",
            "Secret wildcard-internal-wild-cloud-tls",
            "Deployment registry",
            "Service registry",
            "Middleware internal-only",
            "Ingress registry",
        ]
    );
    let deployment = named(&objects, "Deployment", "registry");
    assert_eq!(deployment["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        container(deployment)["ports"],
        json!([{"containerPort": 5000}])
    );
    assert_eq!(
        env_var(container(deployment), "REGISTRY_HTTP_ADDR")["value"],
        ":5000"
    );
    assert_eq!(
        named(&objects, "Service", "registry")["spec"]["ports"],
        json!([{"port": 5000, "targetPort": 5000}])
    );
    let ingress = named(&objects, "Ingress", "registry");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "registry.internal.cloud.example.test"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"],
        "registry-internal-only@kubernetescrd"
    );
}

/// A gallery app in the lab: the README's command for its recipe, and a
/// PersistentVolume for each of its claims. On drop everything is removed
/// (`--delete --allow-prune-data`, the volumes), and the test waits until
/// Traefik no longer serves the host.
struct LabApp {
    lab: &'static Lab,
    recipe: &'static str,
    /// The README's command, without `wildrun`.
    command: Vec<String>,
    namespace: String,
    host: String,
}

impl LabApp {
    /// The app of `recipe`, whose claims are `claims`, at `<name>.<domain>`;
    /// what an earlier, interrupted run left is removed first.
    fn new(lab: &'static Lab, recipe: &'static str, claims: &[&str], domain: &str) -> LabApp {
        let command = readme_command(recipe);
        let name = name_in(&command);
        let app = LabApp {
            lab,
            recipe,
            command,
            namespace: name.clone(),
            host: format!("{name}.{domain}"),
        };
        app.remove();
        for claim in claims {
            lab.kubectl_stdin(
                &["apply", "-f", "-"],
                &json!({
                    "apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": format!("gallery-{recipe}-{claim}"),
                                 "labels": {VOLUME_LABEL: recipe}},
                    "spec": {"capacity": {"storage": "500Gi"}, "accessModes": ["ReadWriteOnce"],
                             "hostPath": {"path": format!("/tmp/gallery-volumes/{recipe}/{claim}")},
                             "claimRef": {"namespace": app.namespace, "name": claim}},
                })
                .to_string(),
            );
        }
        app
    }

    /// The README's command, as written, with `more`; `--wait` only when
    /// `wait`.
    fn run(&self, wait: bool, more: &[&str]) -> Output {
        let mut args: Vec<&str> = self
            .command
            .iter()
            .map(String::as_str)
            .filter(|a| wait || *a != "--wait")
            .collect();
        if wait {
            args.extend(WAIT_LIMIT);
        }
        args.extend(more);
        self.lab.wildrun(&args)
    }

    /// A run with `-o json` that must succeed: its report, `kind name` to action.
    fn report(&self, more: &[&str]) -> BTreeMap<String, String> {
        let mut all = more.to_vec();
        all.extend(["-o", "json"]);
        let out = self.run(false, &all);
        assert!(out.status.success(), "{more:?}: {}", text(&out));
        let entries: Vec<Value> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("-o json printed no report ({e}): {}", text(&out)));
        entries
            .iter()
            .map(|e| {
                (
                    format!(
                        "{} {}",
                        e["kind"].as_str().unwrap_or("?"),
                        e["name"].as_str().unwrap_or("?")
                    ),
                    e["action"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect()
    }

    fn url(&self) -> String {
        format!("https://{}/", self.host)
    }

    /// The data of the Secrets the app generated (`wildrun.dev/generated`).
    fn generated_secrets(&self) -> BTreeMap<String, Value> {
        let list = self.lab.get_json(&["-n", &self.namespace, "secrets"]);
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| !s["metadata"]["annotations"]["wildrun.dev/generated"].is_null())
            .map(|s| {
                (
                    s["metadata"]["name"].as_str().unwrap_or("?").to_string(),
                    s["data"].clone(),
                )
            })
            .collect()
    }

    /// Deploys with the README's command (`--wait`), checks the answer by
    /// name (`https_extra`: how the request is sent) and the doctor on the
    /// instance, runs again (no write, the generated values kept) and
    /// deletes (the claims stay, bound to their volumes).
    /// `curl` of the app's URL from the lab's LAN client, which the LAN's
    /// resolver sends to MetalLB's address whatever the domain, and which
    /// is inside the default `cluster.internalSourceRanges`.
    fn get_on_lan(&self) -> (u16, String) {
        let lan = self.lab.var("WILDRUN_LAB_LAN_NETNS");
        self.lab.https_get_in(lan, &self.url(), &[])
    }

    fn deploy_rerun_delete(&self, claims: &[&str]) {
        let out = self.run(true, &[]);
        assert!(
            out.status.success(),
            "deploy {}: {}",
            self.recipe,
            text(&out)
        );

        // By name, over HTTPS verified against the lab's CA, to a pod.
        let (status, body) = self.get_on_lan();
        assert_eq!(status, 200, "{}: {body}", self.url());
        assert!(
            body.lines().any(|l| l == format!("host={}", self.host)),
            "{body}"
        );
        // The doctor finds every part by the instance's label, all green.
        let instance = format!("{}.{}", self.recipe, name_in(&self.command));
        self.lab.eventually(
            &format!("doctor --instance {instance} green"),
            Duration::from_secs(60),
            || {
                let (report, code) = self.lab.doctor_on_lan(&["--instance", &instance]);
                (code == Some(0)).then_some(report)
            },
        );

        let generated = self.generated_secrets();
        let again = self.report(&[]);
        let written: Vec<_> = again.iter().filter(|(_, a)| *a != "unchanged").collect();
        assert!(written.is_empty(), "a second run wrote {written:?}");
        assert_eq!(
            self.generated_secrets(),
            generated,
            "the generated values changed"
        );

        let deleted = self.report(&["--delete"]);
        for claim in claims {
            assert_eq!(
                deleted
                    .get(&format!("PersistentVolumeClaim {claim}"))
                    .map(String::as_str),
                Some("kept"),
                "{deleted:?}"
            );
            let pvc = self
                .lab
                .get_json(&["-n", &self.namespace, "persistentvolumeclaim", claim]);
            assert_eq!(pvc["status"]["phase"], "Bound", "{pvc}");
            assert_eq!(
                pvc["spec"]["volumeName"],
                format!("gallery-{}-{claim}", self.recipe)
            );
        }
        for name in generated.keys() {
            assert_eq!(
                deleted.get(&format!("Secret {name}")).map(String::as_str),
                Some("kept"),
                "{deleted:?}"
            );
        }
        let left = self.lab.kubectl_ok(&[
            "-n",
            &self.namespace,
            "get",
            "deployments,services,ingresses,jobs",
            "-o",
            "name",
        ]);
        assert_eq!(left.trim(), "", "--delete left {left}");
    }

    /// Removes the app, its claims and generated Secrets too, and the
    /// volumes made for it.
    fn remove(&self) {
        let out = self.run(false, &["--delete", "--allow-prune-data"]);
        if !out.status.success() {
            eprintln!("removing {}: {}", self.recipe, text(&out));
        }
        let selector = format!("{VOLUME_LABEL}={}", self.recipe);
        let out = self.lab.kubectl(&[
            "delete",
            "persistentvolumes",
            "-l",
            &selector,
            "--wait=false",
        ]);
        if !out.status.success() {
            eprintln!("removing the volumes of {}: {}", self.recipe, text(&out));
        }
    }
}

impl Drop for LabApp {
    fn drop(&mut self) {
        self.remove();
        // Gone from Traefik too before another test looks at what it serves.
        let url = self.url();
        let gone = (0..150).any(|_| {
            let served = self.get_on_lan().0 == 200;
            if served {
                std::thread::sleep(Duration::from_millis(200));
            }
            !served
        });
        if !gone {
            eprintln!("Traefik still serves {url} after its removal");
        }
    }
}

/// The cluster's Postgres as wild-cloud's postgres app leaves it, made by
/// kubectl (another field manager); removed on drop.
struct Postgres {
    lab: &'static Lab,
}

impl Postgres {
    const PASSWORD: &'static str = "postgres-admin-S3cret";

    fn new(lab: &'static Lab) -> Postgres {
        let _ = lab.kubectl(&["delete", "namespace", "postgres", "--wait=true"]);
        lab.kubectl_ok(&["create", "namespace", "postgres"]);
        lab.kubectl_ok(&[
            "-n",
            "postgres",
            "create",
            "secret",
            "generic",
            "postgres-secrets",
            &format!("--from-literal=password={}", Postgres::PASSWORD),
        ]);
        lab.kubectl_ok(&[
            "-n",
            "postgres",
            "create",
            "service",
            "clusterip",
            "postgres",
            "--tcp=5432:5432",
        ]);
        Postgres { lab }
    }

    fn secret(&self) -> Value {
        self.lab.get_json(&[
            "-n",
            "postgres",
            "secret",
            "postgres-secrets",
            "--show-managed-fields",
        ])
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let out = self
            .lab
            .kubectl(&["delete", "namespace", "postgres", "--wait=false"]);
        if !out.status.success() {
            eprintln!("removing namespace postgres: {}", text(&out));
        }
    }
}

/// The managers of an object's fields.
fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str().map(String::from))
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn lab_the_database_app_copies_its_database_secret_and_runs_its_job_once() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let postgres = Postgres::new(lab);
    let before = postgres.secret();
    let app = LabApp::new(lab, "gitea", &["gitea-data"], lab.domain());

    let out = app.run(true, &[]);
    assert!(out.status.success(), "deploy: {}", text(&out));
    // The copy: the source's type and data, marked as a copy; the source
    // untouched, still kubectl's alone.
    let copy = lab.get_json(&["-n", &app.namespace, "secret", "postgres-secrets"]);
    assert_eq!(copy["data"], before["data"]);
    assert_eq!(copy["type"], "Opaque");
    assert_eq!(
        copy["metadata"]["annotations"]["wildrun.dev/copied-from"],
        "postgres/postgres-secrets"
    );
    let after = postgres.secret();
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(managers(&after), ["kubectl-create"], "{after}");
    // The Job ran (kwok completes its pod) and reads both Secrets; the
    // second run below leaves it as it is.
    let job = lab.eventually("Job db-init complete", Duration::from_secs(60), || {
        let job = lab.get_json(&["-n", &app.namespace, "job", "db-init"]);
        (job["status"]["succeeded"] == 1).then_some(job)
    });
    assert_eq!(
        env_var(container(&job), "PGPASSWORD")["valueFrom"],
        secret_ref("postgres-secrets", "password")
    );

    app.deploy_rerun_delete(&["gitea-data"]);
    // Deployed again, it finds its volume and its values as they were.
    let again = app.report(&[]);
    for kept in ["PersistentVolumeClaim gitea-data", "Secret gitea-secrets"] {
        assert_eq!(
            again.get(kept).map(String::as_str),
            Some("unchanged"),
            "{again:?}"
        );
    }
    assert_eq!(
        again.get("Job db-init").map(String::as_str),
        Some("created")
    );
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn lab_the_app_of_several_components_answers_and_keeps_its_volumes() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let claims = ["library", "model-cache"];
    let app = LabApp::new(lab, "immich", &claims, lab.domain());
    app.deploy_rerun_delete(&claims);
}

#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn lab_the_internal_app_answers_inside_its_ranges_and_keeps_its_volume() {
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let internal = lab.internal_domain();
    let app = LabApp::new(lab, "registry", &["images"], &internal);
    // Asked from the internet, through the router's public address:
    // outside cluster.internalSourceRanges, Traefik refuses.
    let out = app.run(true, &[]);
    assert!(out.status.success(), "deploy: {}", text(&out));
    let internet = lab.var("WILDRUN_LAB_INTERNET_NETNS");
    let (status, body) = lab.https_at_public_address(internet, &app.host);
    assert_eq!(status, 403, "the internet reached the registry: {body}");
    app.deploy_rerun_delete(&["images"]);
}
