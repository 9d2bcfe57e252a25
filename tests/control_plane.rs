//! Checks the local control plane that the integration tests run against
//! (tests/cluster/): version, CRDs, controllers, RBAC, and that `down` cleans up.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::cluster::{cluster_script, unique_name};
use common::{TestCluster, TestNamespace};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::Api;

/// A value from tests/cluster/versions.
fn pinned(key: &str) -> String {
    let path = common::cluster::repo_root().join("tests/cluster/versions");
    let text = std::fs::read_to_string(&path).expect("read tests/cluster/versions");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} not in {}", path.display()))
        .trim()
        .to_string()
}

/// Polls `check` every 200 ms until it returns true or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn api_status(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[tokio::test]
async fn api_server_and_kubectl_report_the_pinned_version() {
    let cluster = TestCluster::shared();
    let want = pinned("KUBERNETES_VERSION");

    let info = cluster
        .client()
        .await
        .apiserver_version()
        .await
        .expect("GET /version");
    assert_eq!(info.git_version, want, "kube-apiserver version");

    // kubectl is built with the same version ldflags as upstream's release.
    let out = cluster.kubectl(&["version", "-o", "json"]);
    assert!(
        out.status.success(),
        "kubectl version: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("kubectl version json");
    assert_eq!(
        v["clientVersion"]["gitVersion"],
        want.as_str(),
        "kubectl client version"
    );
    assert_eq!(
        v["serverVersion"]["gitVersion"],
        want.as_str(),
        "server version seen by kubectl"
    );
}

#[tokio::test]
async fn upstream_crds_are_established() {
    let cluster = TestCluster::shared();
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client().await);
    let names = [
        "certificates.cert-manager.io",
        "clusterissuers.cert-manager.io",
        "issuers.cert-manager.io",
        "middlewares.traefik.io",
        "ingressroutes.traefik.io",
        "ipaddresspools.metallb.io",
        "l2advertisements.metallb.io",
    ];
    for name in names {
        let crd = crds
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("CRD {name}: {e}"));
        let established = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(
            established,
            "CRD {name} is not Established: {:?}",
            crd.status
        );
    }
    // Every CRD that `up` installed, not just the ones named above.
    let all = crds.list(&ListParams::default()).await.expect("list CRDs");
    for crd in &all.items {
        let ok = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(ok, "CRD {:?} is not Established", crd.metadata.name);
    }
}

#[tokio::test]
async fn crd_schemas_are_enforced_by_strict_field_validation() {
    let cluster = TestCluster::shared();
    let ns = TestNamespace::new(cluster, "crd-schemas");
    let middleware = |extra: &str| {
        format!(
            "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata:\n  name: internal-only\n  namespace: {}\n\
             spec:\n  ipAllowList:\n    sourceRange: [10.0.0.0/8]\n{extra}",
            ns.name()
        )
    };
    let apply = [
        "apply",
        "--server-side",
        "--field-manager=wildrun-test",
        "--validate=strict",
        "-f",
        "-",
    ];

    let out = cluster.kubectl_stdin(&apply, &middleware(""));
    assert!(
        out.status.success(),
        "valid Middleware refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = cluster.kubectl_stdin(&apply, &middleware("    notAField: true\n"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "Middleware with an unknown field was accepted"
    );
    assert!(
        stderr.contains("notAField"),
        "error does not name the unknown field: {stderr}"
    );
}

#[tokio::test]
async fn controller_manager_reconciles_deployments_and_deletes_namespaces() {
    let cluster = TestCluster::shared();
    let client = cluster.client().await;

    // A Deployment gets a ReplicaSet only if the deployment controller runs.
    let ns = TestNamespace::new(cluster, "kcm-deploy");
    let deploy: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}
            }
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &deploy)
        .await
        .expect("create Deployment");
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), ns.name());
    let rs_api = &rs_api;
    let got_rs = eventually(Duration::from_secs(60), move || async move {
        match rs_api.list(&ListParams::default()).await {
            Ok(list) => list.items.iter().any(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.kind == "Deployment" && o.name == "web")
            }),
            Err(_) => false,
        }
    })
    .await;
    assert!(got_rs, "no ReplicaSet owned by Deployment web within 60s");

    // A namespace with content disappears after deletion only if the
    // namespace controller empties and finalizes it.
    let name = unique_name("kcm-ns-delete");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut ns_obj = Namespace::default();
    ns_obj.metadata.name = Some(name.clone());
    namespaces
        .create(&PostParams::default(), &ns_obj)
        .await
        .expect("create namespace");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("content".into());
    Api::<ConfigMap>::namespaced(client.clone(), &name)
        .create(&PostParams::default(), &cm)
        .await
        .expect("create ConfigMap");
    namespaces
        .delete(&name, &DeleteParams::default())
        .await
        .expect("delete namespace");
    let (namespaces, name) = (&namespaces, &name);
    let gone = eventually(Duration::from_secs(90), move || async move {
        matches!(namespaces.get(name).await, Err(ref e) if api_status(e) == Some(404))
    })
    .await;
    assert!(gone, "namespace {name} still exists 90s after deletion");
}

#[tokio::test]
async fn limited_user_is_refused_outside_its_role() {
    let cluster = TestCluster::shared();
    let ns = TestNamespace::new(cluster, "rbac-limited");
    let limited = cluster.limited_client().await;

    // The identity: wildrun-limited, not an admin.
    let out = cluster.kubectl_limited(&["auth", "whoami", "-o", "json"]);
    assert!(
        out.status.success(),
        "auth whoami: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "wildrun-limited");
    let groups = who["status"]["userInfo"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !groups.iter().any(|g| g == "system:masters"),
        "limited user is in system:masters: {groups:?}"
    );

    // Allowed by ClusterRole wildrun-test-limited.
    let namespaces: Api<Namespace> = Api::all(limited.clone());
    namespaces
        .get(ns.name())
        .await
        .expect("limited user may get namespaces");
    namespaces
        .list(&ListParams::default())
        .await
        .expect("limited user may list namespaces");
    let cms: Api<ConfigMap> = Api::namespaced(limited.clone(), ns.name());
    cms.list(&ListParams::default())
        .await
        .expect("limited user may list configmaps");

    // Refused: writes, and resources the role does not name.
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("nope".into());
    let err = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("create configmap must be refused");
    assert_eq!(api_status(&err), Some(403), "create configmap: {err}");
    let mut other = Namespace::default();
    other.metadata.name = Some(unique_name("rbac-forbidden"));
    let err = namespaces
        .create(&PostParams::default(), &other)
        .await
        .expect_err("create namespace must be refused");
    assert_eq!(api_status(&err), Some(403), "create namespace: {err}");
    let err = namespaces
        .delete(ns.name(), &DeleteParams::default())
        .await
        .expect_err("delete namespace must be refused");
    assert_eq!(api_status(&err), Some(403), "delete namespace: {err}");
    let secrets: Api<Secret> = Api::namespaced(limited, ns.name());
    let err = secrets
        .list(&ListParams::default())
        .await
        .expect_err("list secrets must be refused");
    assert_eq!(api_status(&err), Some(403), "list secrets: {err}");

    // The same user through kubectl, and the admin for contrast.
    let out = cluster.kubectl_limited(&["auth", "can-i", "create", "configmaps", "-n", ns.name()]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    let out = cluster.kubectl(&["auth", "can-i", "create", "configmaps", "-n", ns.name()]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "yes");
}

/// Pids recorded by `up` in a state directory (`pids/NAME.pid`; beside them
/// lib.sh keeps each binary, `NAME.exe`, and the start `order`).
fn recorded_pids(state: &Path) -> Vec<(String, u32)> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(state.join("pids")).expect("pids dir") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pid") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let pid = std::fs::read_to_string(&path)
            .unwrap()
            .trim()
            .parse()
            .expect("pid");
        pids.push((name, pid));
    }
    pids.sort();
    pids
}

/// The binary a live (non-zombie) process runs, if it does.
fn running_binary(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

#[tokio::test]
async fn second_plane_is_idempotent_and_down_leaves_nothing_behind() {
    // A plane of its own, so the shared one the other tests use stays up.
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("plane");

    let started = Instant::now();
    let plane = TestCluster::up(Some(&state));
    eprintln!("second plane started in {:?}", started.elapsed());
    let pids = recorded_pids(&state);
    let names: Vec<&str> = pids.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["etcd", "kube-apiserver", "kube-controller-manager"]);
    for (name, pid) in &pids {
        let exe =
            running_binary(*pid).unwrap_or_else(|| panic!("{name} (pid {pid}) is not running"));
        assert!(exe.ends_with(name), "pid {pid} runs {exe:?}, not {name}");
    }
    let version = plane
        .client()
        .await
        .apiserver_version()
        .await
        .expect("second plane answers");
    assert_eq!(version.git_version, pinned("KUBERNETES_VERSION"));

    // `up` again reuses the running plane: same processes, same kubeconfig.
    let again = TestCluster::up(Some(&state));
    assert_eq!(again.kubeconfig_path(), plane.kubeconfig_path());
    assert_eq!(
        recorded_pids(&state),
        pids,
        "second `up` restarted the plane"
    );

    let ports = std::fs::read_to_string(state.join("ports")).expect("ports file");
    let out = cluster_script("down", &[], Some(&state));
    assert!(
        out.status.success(),
        "tests/cluster/down failed: {}",
        out.status
    );

    for (name, pid) in &pids {
        assert!(
            running_binary(*pid).is_none(),
            "{name} (pid {pid}) still runs after down"
        );
    }
    assert!(!state.exists(), "down left {} behind", state.display());
    // kubectl keeps its discovery cache in the state directory, not in ~/.kube.
    let api_port = ports
        .lines()
        .find_map(|l| l.strip_prefix("API_PORT="))
        .expect("API_PORT");
    if let Some(home) = std::env::var_os("HOME") {
        let cache = Path::new(&home).join(format!(".kube/cache/discovery/127.0.0.1_{api_port}"));
        assert!(
            !cache.exists(),
            "kubectl cache {} left behind",
            cache.display()
        );
    }
    for line in ports.lines() {
        let port: u16 = line.split('=').nth(1).unwrap().parse().unwrap();
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{line}: something still listens after down"
        );
    }

    // `down` again is a no-op, and the shared plane was not touched.
    let out = cluster_script("down", &[], Some(&state));
    assert!(out.status.success(), "second down failed");
    let shared = TestCluster::shared().client().await;
    shared
        .apiserver_version()
        .await
        .expect("shared plane still answers after the second plane's down");
}
