//! The local control plane for integration tests.
//!
//! [`TestCluster::shared`] returns one handle per test process. It uses the
//! kubeconfig named by `WILDRUN_TEST_KUBECONFIG` when that is set (`tests/run`
//! sets it), and otherwise runs `tests/cluster/up`, which starts the plane or
//! reuses the one already running (stop it with `tests/cluster/down`).
//!
//! Every test works in namespaces of its own ([`TestNamespace`]), deleted when
//! the guard is dropped, so tests can run in parallel against one plane.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// A running control plane: its kubeconfigs and the pinned `kubectl`.
#[derive(Debug, Clone)]
pub struct TestCluster {
    kubeconfig: PathBuf,
    limited_kubeconfig: PathBuf,
    kubectl: PathBuf,
    /// kubectl's discovery cache: inside the plane's state directory when the
    /// kubeconfig is one of `up`'s, so `down` removes it too.
    kube_cache_dir: Option<PathBuf>,
}

static SHARED: OnceLock<TestCluster> = OnceLock::new();

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs one of the `tests/cluster/` scripts (`up`, `down`, `build`, ...) with
/// `WILDRUN_CLUSTER_DIR` set to `state_dir` when given. Its stderr (progress)
/// goes to the test's stderr; its stdout is returned.
pub fn cluster_script(name: &str, args: &[&str], state_dir: Option<&Path>) -> Output {
    cluster_script_with(name, args, state_dir, &[])
}

/// [`cluster_script`] with further environment variables (`WILDRUN_CLUSTER_AUDIT=1`).
pub fn cluster_script_with(
    name: &str,
    args: &[&str],
    state_dir: Option<&Path>,
    env: &[(&str, &str)],
) -> Output {
    super::require_cluster_tests(&format!("tests/cluster/{name}"));
    let script = repo_root().join("tests/cluster").join(name);
    let mut cmd = Command::new(&script);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(dir) = state_dir {
        cmd.env("WILDRUN_CLUSTER_DIR", dir);
    }
    cmd.envs(env.iter().copied());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()))
}

impl TestCluster {
    /// The plane shared by all tests of this process, started on first use.
    ///
    /// Panics with the scripts' message (naming the log file to read) when the
    /// plane cannot be started.
    pub fn shared() -> &'static TestCluster {
        super::require_cluster_tests("the control plane");
        SHARED.get_or_init(|| match std::env::var_os("WILDRUN_TEST_KUBECONFIG") {
            Some(path) if !path.is_empty() => TestCluster::from_kubeconfig(PathBuf::from(path)),
            _ => TestCluster::up(None),
        })
    }

    /// Runs `tests/cluster/up` (idempotent) for `state_dir` (default: the
    /// script's default, `$WILDRUN_CLUSTER_DIR` or `/tmp/wildrun-cluster`) and
    /// returns a handle to that plane. Tests use [`TestCluster::shared`]; this
    /// is for tests about the plane itself.
    pub fn up(state_dir: Option<&Path>) -> TestCluster {
        TestCluster::up_with(state_dir, &[])
    }

    /// [`TestCluster::up`] with further environment variables for `up`.
    pub fn up_with(state_dir: Option<&Path>, env: &[(&str, &str)]) -> TestCluster {
        let out = cluster_script_with("up", &[], state_dir, env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "tests/cluster/up failed ({}); its messages above name the log to read",
            out.status
        );
        let path = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export KUBECONFIG="))
            .unwrap_or_else(|| {
                panic!("tests/cluster/up printed no `export KUBECONFIG=`: {stdout:?}")
            });
        TestCluster::from_kubeconfig(PathBuf::from(path.trim()))
    }

    /// A handle for an existing kubeconfig. The non-admin kubeconfig is
    /// `WILDRUN_TEST_LIMITED_KUBECONFIG` or `kubeconfig-limited` beside it;
    /// kubectl is the pinned one (from the state directory's `bin-dir`, else
    /// `tests/cluster/build --print-bin-dir`), else `kubectl` on PATH.
    pub fn from_kubeconfig(kubeconfig: PathBuf) -> TestCluster {
        assert!(
            kubeconfig.is_file(),
            "kubeconfig {} does not exist",
            kubeconfig.display()
        );
        let dir = kubeconfig.parent().unwrap_or(Path::new(".")).to_path_buf();
        let limited_kubeconfig = std::env::var_os("WILDRUN_TEST_LIMITED_KUBECONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join("kubeconfig-limited"));
        let bin_dir = std::fs::read_to_string(dir.join("bin-dir"))
            .ok()
            .map(|s| PathBuf::from(s.trim()))
            .or_else(|| {
                let out = cluster_script("build", &["--print-bin-dir"], None);
                out.status
                    .success()
                    .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            });
        let kubectl = bin_dir
            .map(|d| d.join("kubectl"))
            .filter(|k| k.is_file())
            .unwrap_or_else(|| PathBuf::from("kubectl"));
        let kube_cache_dir = dir
            .join(".wildrun-cluster")
            .exists()
            .then(|| dir.join("kube-cache"));
        TestCluster {
            kubeconfig,
            limited_kubeconfig,
            kubectl,
            kube_cache_dir,
        }
    }

    /// The admin kubeconfig (user `wildrun-admin`, group `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig of `wildrun-limited`, a non-admin user bound only to
    /// ClusterRole `wildrun-test-limited` (namespaces get/list/watch,
    /// configmaps get/list).
    pub fn limited_kubeconfig_path(&self) -> &Path {
        &self.limited_kubeconfig
    }

    /// The pinned kubectl (or `kubectl` from PATH when there is none).
    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// A client authenticated as the admin user.
    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig).await
    }

    /// A client authenticated as `wildrun-limited`.
    pub async fn limited_client(&self) -> kube::Client {
        client_for(&self.limited_kubeconfig).await
    }

    /// Writes a kubeconfig for ServiceAccount `namespace/name` (a token from
    /// the TokenRequest API) into `dir` and returns its path: a user of its
    /// own for a permission test.
    pub fn token_kubeconfig(&self, namespace: &str, name: &str, dir: &Path) -> PathBuf {
        let out = self.kubectl(&["-n", namespace, "create", "token", name]);
        assert!(
            out.status.success(),
            "create token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = self.kubectl(&[
            "config",
            "view",
            "--raw",
            "--minify",
            "--flatten",
            "-o",
            "json",
        ]);
        assert!(
            out.status.success(),
            "kubectl config view: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let admin: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("kubectl prints JSON");
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "sa",
            "clusters": [{"name": "local", "cluster": admin["clusters"][0]["cluster"]}],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": "local", "user": name}}],
        });
        let path = dir.join(format!("{namespace}-{name}.kubeconfig"));
        std::fs::write(&path, kubeconfig.to_string()).expect("write kubeconfig");
        path
    }

    /// Starts deleting a namespace a test made (or made wildrun make) and
    /// returns at once: cleanup code in `Drop` cannot be async, and the
    /// controller manager finishes the deletion in the background.
    pub fn delete_namespace_later(&self, name: &str) {
        let out = self.kubectl(&[
            "delete",
            "namespace",
            name,
            "--wait=false",
            "--ignore-not-found",
        ]);
        if !out.status.success() {
            eprintln!(
                "warning: could not delete test namespace {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Runs kubectl as the admin user and returns its output (not checked).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.kubeconfig, args, None)
    }

    /// Runs kubectl as `wildrun-limited` and returns its output (not checked).
    pub fn kubectl_limited(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.limited_kubeconfig, args, None)
    }

    /// Runs kubectl as the admin user with `stdin` fed to it (e.g. `apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.kubectl_with(&self.kubeconfig, args, Some(stdin))
    }

    fn kubectl_with(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new(&self.kubectl);
        if let Some(dir) = &self.kube_cache_dir {
            cmd.env("KUBECACHEDIR", dir);
        }
        let mut child = cmd
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.kubectl.display()));
        if let Some(input) = stdin {
            // Dropping the handle closes kubectl's stdin.
            let mut pipe = child.stdin.take().expect("piped stdin");
            pipe.write_all(input.as_bytes())
                .expect("write to kubectl stdin");
        }
        child.wait_with_output().expect("wait for kubectl")
    }
}

/// A `kube::Client` for a kubeconfig file (its current context).
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("read kubeconfig {}: {e}", kubeconfig.display()));
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("kubeconfig {}: {e}", kubeconfig.display()));
    kube::Client::try_from(config).expect("build kube client")
}

/// A namespace of one test, created on [`TestNamespace::new`] and deleted
/// (without waiting for it to go away) when dropped.
///
/// Its name is `<test name>-<random>-<counter>`, a valid DNS-1123 label, and it
/// carries the label `wildrun.dev/test=<test name>`.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    cluster: TestCluster,
}

impl TestNamespace {
    /// Creates a fresh namespace for the test `test_name` (any text; it is
    /// lower-cased and shortened for the name). Panics if creation fails.
    pub fn new(cluster: &TestCluster, test_name: &str) -> TestNamespace {
        let name = unique_name(test_name);
        let manifest = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    wildrun.dev/test: \"{}\"\n",
            sanitize(test_name, 63)
        );
        let out = cluster.kubectl_stdin(&["create", "-f", "-"], &manifest);
        assert!(
            out.status.success(),
            "create namespace {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestNamespace {
            name,
            cluster: cluster.clone(),
        }
    }

    /// A fresh name for a namespace the test's wildrun run makes itself
    /// (so that it is wildrun's: one kubectl made is used as it is, never
    /// labelled as an instance's); deleted with the guard like the others.
    pub fn to_be_made(cluster: &TestCluster, test_name: &str) -> TestNamespace {
        TestNamespace {
            name: unique_name(test_name),
            cluster: cluster.clone(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        self.cluster.delete_namespace_later(&self.name);
    }
}

/// A DNS-1123 label for a new object: `<prefix>-<random hex>-<counter>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // RandomState is seeded randomly per process: unique across runs that
    // reuse a plane (a namespace of an earlier run may still be terminating).
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let suffix = format!("{:06x}-{n}", h.finish() & 0xff_ffff);
    let prefix = sanitize(prefix, 63 - suffix.len() - 1);
    let prefix = if prefix.is_empty() {
        "t".to_string()
    } else {
        prefix
    };
    format!("{prefix}-{suffix}")
}

/// Lower-case alphanumerics and single dashes, at most `max` characters,
/// starting and ending with an alphanumeric (or empty).
fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    out.trim_matches('-').to_string()
}

/// A control plane of one test's own, in a temporary state directory,
/// stopped (`tests/cluster/down`) when dropped: for tests that stop its API
/// server, which would break the shared plane's other tests.
pub struct PrivatePlane {
    dir: tempfile::TempDir,
    /// The running plane.
    pub cluster: TestCluster,
}

impl PrivatePlane {
    /// Starts a new plane (a few seconds with built binaries).
    pub fn start() -> PrivatePlane {
        PrivatePlane::start_with(&[])
    }

    /// Starts a new plane whose API server writes an audit log
    /// ([`PrivatePlane::audit_log`]): one JSON line per request, for tests
    /// that count the requests a client sends.
    pub fn start_audited() -> PrivatePlane {
        PrivatePlane::start_with(&[("WILDRUN_CLUSTER_AUDIT", "1")])
    }

    fn start_with(env: &[(&str, &str)]) -> PrivatePlane {
        let dir = tempfile::tempdir().expect("temporary state directory");
        let cluster = TestCluster::up_with(Some(dir.path()), env);
        PrivatePlane { dir, cluster }
    }

    /// The audit log of a plane from [`PrivatePlane::start_audited`].
    pub fn audit_log(&self) -> PathBuf {
        self.dir.path().join("logs/audit.log")
    }

    /// The requests the API server has answered so far (audit events at
    /// stage `ResponseComplete`), oldest first; empty without an audit log.
    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        self.audit_events_from(&mut 0)
    }

    /// The requests wildrun has sent so far (audit events whose user agent
    /// is wildrun's), after a moment: the API server logs an event once
    /// its answer is sent, a watch once it ends.
    pub fn wildrun_requests(&self) -> Vec<serde_json::Value> {
        std::thread::sleep(std::time::Duration::from_millis(500));
        self.audit_events()
            .into_iter()
            .filter(|e| {
                e["userAgent"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("wildrun/"))
            })
            .collect()
    }

    /// The requests answered since byte `offset` of the audit log, which
    /// moves past what was read: only complete lines (the API server may
    /// be writing the last one).
    pub fn audit_events_from(&self, offset: &mut u64) -> Vec<serde_json::Value> {
        use std::io::{Read, Seek};
        let mut text = Vec::new();
        if let Ok(mut file) = std::fs::File::open(self.audit_log()) {
            let read = file
                .seek(std::io::SeekFrom::Start(*offset))
                .and_then(|_| file.read_to_end(&mut text));
            if read.is_err() {
                text.clear();
            }
        }
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        *offset += complete as u64;
        String::from_utf8_lossy(&text[..complete])
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["stage"] == "ResponseComplete")
            .collect()
    }

    /// Kills (`"stop"`) or restarts (`"start"`) its API server, keeping
    /// etcd; or stops it with SIGSTOP (`"freeze"`: connections are still
    /// accepted, never answered) and resumes it (`"thaw"`).
    pub fn apiserver(&self, action: &str) {
        let out = cluster_script("apiserver", &[action], Some(self.dir.path()));
        assert!(
            out.status.success(),
            "tests/cluster/apiserver {action} failed"
        );
    }
}

impl Drop for PrivatePlane {
    fn drop(&mut self) {
        let _ = cluster_script("down", &[], Some(self.dir.path()));
    }
}
