//! The visibility lab for integration tests: the control plane plus the real
//! kube-scheduler, kwok, kube-proxy, Knot, MetalLB, cert-manager, Traefik and
//! ExternalDNS (`tests/cluster/up --lab`, see `tests/cluster/README.md`), on
//! a network: the node, a router, a LAN client and an internet client.
//!
//! The lab lives in network namespaces of its own; every client of it runs
//! inside (`ip netns exec`), so [`Lab::command`] is how a test runs wildrun,
//! curl, kdig or kubectl on the node, and [`Lab::command_in`] on the LAN or
//! internet client. [`Lab::shared`] uses the lab named by `WILDRUN_TEST_LAB`
//! (its state directory; `tests/run` sets it) and otherwise runs
//! `tests/cluster/up --lab`, which starts the lab or reuses the running one.
//!
//! Tests that break a link of the lab for real (stop ExternalDNS or Traefik,
//! exhaust the MetalLB pool) hold [`Lab::exclusive`]; every other test holds
//! [`Lab::shared_use`], so no test sees another's breakage.
//!
//! [`Lab::existing`] is the lab's second shape, whose layer wildrun did not
//! make (`tests/cluster/up --lab --existing-layer`), on the node's loopback:
//! the one named by `WILDRUN_TEST_EXISTING_LAB`, or started (or reused) on
//! first use. It has a lock of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use super::cluster::{repo_root, unique_name};

/// A running lab: its state directory and what `up --lab` exported.
#[derive(Debug)]
pub struct Lab {
    dir: PathBuf,
    env: BTreeMap<String, String>,
    kubectl: PathBuf,
    lock: &'static RwLock<()>,
}

static SHARED: OnceLock<Lab> = OnceLock::new();
static USE: RwLock<()> = RwLock::new(());
static EXISTING: OnceLock<Lab> = OnceLock::new();
static EXISTING_USE: RwLock<()> = RwLock::new(());

/// The LAN client's address (`tests/cluster/lab/network.sh`).
pub const LAN_CLIENT: &str = "192.168.8.20";
/// The internet client's address.
pub const INTERNET_CLIENT: &str = "203.0.113.10";
/// The node's address on the LAN: the source of the requests wildrun sends
/// from the node, as wildrun sees it.
pub const NODE_LAN: &str = "192.168.8.10";
/// The node's address on the pods' bridge: what kube-proxy masquerades
/// forwarded connections to, and the source Traefik sees for a request the
/// node itself sends to MetalLB's address.
pub const NODE_BRIDGE: &str = "10.244.0.1";
/// Internal services that admit only the LAN client: asked from the node
/// (which wildrun's `--wait` does), they answer 403, which `--wait` takes
/// as the allowlist at work.
pub const ADMIT_LAN_CLIENT: [&str; 2] = ["--set", "cluster.internalSourceRanges=192.168.8.20/32"];

/// The check named `name` of a doctor report (panics naming it when absent).
pub fn check<'r>(report: &'r serde_json::Value, name: &str) -> &'r serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
}

pub use super::command::text;

impl Lab {
    /// The lab of this test process, started on first use.
    pub fn shared() -> &'static Lab {
        SHARED.get_or_init(|| Lab::from_dir(Lab::dir_or_up("WILDRUN_TEST_LAB", &["--lab"]), &USE))
    }

    /// The existing-layer lab (a layer set up by kubectl-applied manifests
    /// under wild-cloud's names, and two apps), started on first use.
    pub fn existing() -> &'static Lab {
        EXISTING.get_or_init(|| {
            let args = ["--lab", "--existing-layer"];
            let lab = Lab::from_dir(
                Lab::dir_or_up("WILDRUN_TEST_EXISTING_LAB", &args),
                &EXISTING_USE,
            );
            assert_eq!(
                lab.var("WILDRUN_LAB_SHAPE"),
                "existing-layer",
                "{} holds a lab of another shape",
                lab.dir.display()
            );
            lab
        })
    }

    /// The state directory named by `env_var`, or else the one of the lab
    /// `tests/cluster/up ARGS` starts or reuses.
    fn dir_or_up(env_var: &str, args: &[&str]) -> PathBuf {
        super::require_cluster_tests("a lab");
        if let Some(d) = std::env::var_os(env_var).filter(|d| !d.is_empty()) {
            return PathBuf::from(d);
        }
        let out = Command::new(repo_root().join("tests/cluster/up"))
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/cluster/up");
        assert!(
            out.status.success(),
            "tests/cluster/up {args:?} failed ({}); its messages above name the log to read",
            out.status
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kubeconfig = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export KUBECONFIG="))
            .expect("up printed export KUBECONFIG=");
        PathBuf::from(kubeconfig)
            .parent()
            .expect("kubeconfig in the lab's directory")
            .to_path_buf()
    }

    fn from_dir(dir: PathBuf, lock: &'static RwLock<()>) -> Lab {
        let lab_env = std::fs::read_to_string(dir.join("lab-env")).unwrap_or_else(|e| {
            panic!(
                "{}/lab-env: {e} (is the lab running? tests/cluster/up --lab)",
                dir.display()
            )
        });
        let mut env: BTreeMap<String, String> = lab_env
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert(
            "KUBECONFIG".into(),
            dir.join("kubeconfig").display().to_string(),
        );
        env.insert(
            "KUBECACHEDIR".into(),
            dir.join("kube-cache").display().to_string(),
        );
        let bin_dir = std::fs::read_to_string(dir.join("bin-dir")).expect("lab's bin-dir");
        let kubectl = Path::new(bin_dir.trim()).join("kubectl");
        Lab {
            dir,
            env,
            kubectl,
            lock,
        }
    }

    /// Hold while using the lab as it is (many tests at once).
    pub fn shared_use(&self) -> RwLockReadGuard<'static, ()> {
        self.lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Hold while breaking a link of the lab (no other test meanwhile).
    pub fn exclusive(&self) -> RwLockWriteGuard<'static, ()> {
        self.lock.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A value `up --lab` exported (`CLOUD_DOMAIN`, `WILDRUN_LAB_CA`, ...).
    pub fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("the lab exported no {name}"))
    }

    /// The public domain.
    pub fn domain(&self) -> &str {
        self.var("CLOUD_DOMAIN")
    }

    /// The internal domain: the lab's export, else wildrun's default
    /// `internal.<domain>` (the existing-layer lab's is `local.<domain>`).
    pub fn internal_domain(&self) -> String {
        self.env
            .get("WILDRUN_LAB_INTERNAL_DOMAIN")
            .cloned()
            .unwrap_or_else(|| format!("internal.{}", self.domain()))
    }

    /// Traefik's address, assigned by MetalLB.
    pub fn lb_ip(&self) -> &str {
        self.var("CLUSTER_LOAD_BALANCER_IP")
    }

    /// The lab CA's certificate (PEM file).
    pub fn ca_file(&self) -> &str {
        self.var("WILDRUN_LAB_CA")
    }

    /// The lab's state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `program args` inside the lab's network namespace, with the lab's
    /// exports (KUBECONFIG, CLOUD_DOMAIN, ...) in its environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.command_in(self.var("WILDRUN_LAB_NETNS"), program)
    }

    /// `program args` inside the lab's network namespace `netns` (the
    /// lab's `WILDRUN_LAB_LAN_NETNS`, `WILDRUN_LAB_INTERNET_NETNS`), with
    /// the lab's exports in its environment.
    pub fn command_in(&self, netns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = if netns.is_empty() {
            Command::new(program)
        } else {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", netns]).arg(program);
            c
        };
        cmd.envs(&self.env).stdin(Stdio::null());
        cmd
    }

    /// Runs wildrun (this build) in the lab with `args`.
    pub fn wildrun(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_wildrun"))
            .current_dir(repo_root())
            .args(args)
            .output()
            .expect("run wildrun in the lab")
    }

    /// Runs wildrun (this build) on the LAN client with `args`: the API
    /// server at the node's LAN address, names through the LAN's resolver
    /// (split horizon), its requests from the LAN client's own address.
    pub fn wildrun_on_lan(&self, args: &[&str]) -> Output {
        self.command_in(
            self.var("WILDRUN_LAB_LAN_NETNS"),
            env!("CARGO_BIN_EXE_wildrun"),
        )
        .current_dir(repo_root())
        .env("KUBECONFIG", self.var("WILDRUN_LAB_LAN_KUBECONFIG"))
        .args(args)
        .output()
        .expect("run wildrun on the LAN client")
    }

    /// `https://HOST/` asked from `netns` at the router's public address
    /// (whatever DNS says), as a client on the internet sends it.
    pub fn https_at_public_address(&self, netns: &str, host: &str) -> (u16, String) {
        let resolve = format!("{host}:443:{}", self.var("WILDRUN_LAB_PUBLIC_IP"));
        self.https_get_in(netns, &format!("https://{host}/"), &["--resolve", &resolve])
    }

    /// Runs the lab's layer again, with the Gateway API's part
    /// (`scripts/cluster.rhai --set ingress.api=gateway` and `extra`), as
    /// its start did: puts back what a test took away. Panics with the
    /// output when it fails.
    pub fn gateway_layer(&self, extra: &[&str]) {
        let mut args = vec!["scripts/cluster.rhai", "--set", "ingress.api=gateway"];
        args.extend_from_slice(extra);
        let out = self.wildrun(&args);
        assert!(out.status.success(), "{}", text(&out));
    }

    /// Runs the pinned kubectl against the lab as its admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.command(&self.kubectl)
            .args(args)
            .output()
            .expect("run kubectl in the lab")
    }

    /// kubectl that must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get ARGS -o json`, which must succeed, parsed.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["get"];
        all.extend(args);
        all.extend(["-o", "json"]);
        let out = self.kubectl_ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {all:?}: {e}: {out}"))
    }

    /// kubectl with `stdin` (e.g. `apply -f -`); must succeed.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) {
        use std::io::Write;
        let mut child = self
            .command(&self.kubectl)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl in the lab");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write kubectl's stdin");
        let out = child.wait_with_output().expect("kubectl");
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    }

    /// What the lab's Knot answers for `name` `rtype`: kdig's `+short` lines.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        self.kdig(&["+short"], name, rtype)
    }

    /// Full kdig answer section lines (`name ttl class type data`).
    pub fn dig_answer(&self, name: &str, rtype: &str) -> Vec<String> {
        self.kdig(&["+noall", "+answer"], name, rtype)
    }

    /// kdig at the lab's Knot with `flags`; its stdout lines.
    fn kdig(&self, flags: &[&str], name: &str, rtype: &str) -> Vec<String> {
        let out = self
            .command("kdig")
            .args(["@127.0.0.1", "+time=1", "+retry=0"])
            .args(flags)
            .args([name, rtype])
            .output()
            .expect("run kdig in the lab");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `wildrun scripts/doctor.rhai ARGS --json` in the lab: the report and
    /// the exit code (panics, with the output, when it printed no JSON).
    /// The kubectl commands its fix hints suggest run as printed
    /// ([`Lab::run_hint_commands`]).
    pub fn doctor(&self, args: &[&str]) -> (serde_json::Value, Option<i32>) {
        self.doctor_by(|all| self.wildrun(all), args)
    }

    /// [`Lab::doctor`] on the LAN client ([`Lab::wildrun_on_lan`]), whose
    /// resolver answers every name of the domain with MetalLB's address
    /// (split horizon) and whose address the allowlists admit.
    pub fn doctor_on_lan(&self, args: &[&str]) -> (serde_json::Value, Option<i32>) {
        self.doctor_by(|all| self.wildrun_on_lan(all), args)
    }

    /// The doctor with `args`, run by `run`; see [`Lab::doctor`].
    fn doctor_by(
        &self,
        run: impl Fn(&[&str]) -> Output,
        args: &[&str],
    ) -> (serde_json::Value, Option<i32>) {
        let mut all = vec!["scripts/doctor.rhai"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = run(&all);
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor {args:?} printed no JSON ({e}): {}", text(&out)));
        self.run_hint_commands(&report);
        (report, out.status.code())
    }

    /// Runs, as printed, every kubectl command that only reads among the
    /// fix hints of a doctor's report, and panics naming the check and the
    /// command when one fails: a hint must work when pasted. `logs` runs
    /// as `get` (kwok's pods have no logs to show; that the object it
    /// names exists is what can be wrong).
    pub fn run_hint_commands(&self, report: &serde_json::Value) {
        let path = format!(
            "{}:{}",
            self.kubectl
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            std::env::var("PATH").unwrap_or_default()
        );
        for check in report["checks"].as_array().into_iter().flatten() {
            let Some(hint) = check["hint"].as_str() else {
                continue;
            };
            for command in reading_commands(hint) {
                let out = self
                    .command("bash")
                    .arg("-c")
                    .arg(command.replacen(" logs ", " get ", 1))
                    .env("PATH", &path)
                    .output()
                    .expect("run bash in the lab");
                assert!(
                    out.status.success(),
                    "the fix hint of check {} suggests `{command}`, which fails as printed: {}\nthe hint: {hint}",
                    check["name"],
                    text(&out)
                );
            }
        }
    }

    /// Polls `check` every 200 ms until it returns `Some`, for at most `limit`.
    pub fn eventually<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `curl` over HTTPS, verified against the lab CA, resolving through the
    /// lab's DNS; `extra` goes before the URL. Returns (status code, body);
    /// status 0 when no response came (curl's exit code is in the body).
    pub fn https_get(&self, url: &str, extra: &[&str]) -> (u16, String) {
        self.https_get_in(self.var("WILDRUN_LAB_NETNS"), url, extra)
    }

    /// [`Lab::https_get`] from the lab's network namespace `netns`, which
    /// resolves through its own resolver.
    pub fn https_get_in(&self, netns: &str, url: &str, extra: &[&str]) -> (u16, String) {
        let out = self
            .command_in(netns, "curl")
            .args(["-sS", "--max-time", "5", "--cacert", self.ca_file()])
            .args(["-w", "\n%{http_code}"])
            .args(extra)
            .arg(url)
            .output()
            .expect("run curl in the lab");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return (
                0,
                format!(
                    "curl exit {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ),
            );
        }
        let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// The command line lab process `name` was started with (its binary,
    /// then its args), as `tests/cluster/lib.sh` records it in `cmd/NAME`.
    pub fn process_argv(&self, name: &str) -> Vec<String> {
        let path = self.dir.join("cmd").join(name);
        let cmd = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (no lab process {name}?)", path.display()));
        cmd.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    /// `tests/cluster/lab-ctl ARGS` (stop/start a lab process); must succeed.
    pub fn ctl(&self, args: &[&str]) {
        let out = Command::new(repo_root().join("tests/cluster/lab-ctl"))
            .args(args)
            .env("WILDRUN_LAB_DIR", &self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("run tests/cluster/lab-ctl");
        assert!(out.status.success(), "lab-ctl {args:?}: {}", text(&out));
    }
}

/// Runs kubectl commands when dropped, last first: puts back what a test
/// changed in a lab, also when the test fails.
pub struct Restore<'l> {
    lab: &'l Lab,
    steps: Vec<(Vec<String>, Option<String>)>,
}

impl<'l> Restore<'l> {
    pub fn new(lab: &'l Lab) -> Self {
        Restore {
            lab,
            steps: Vec::new(),
        }
    }

    /// `kubectl ARGS` on drop (with `stdin`, if given, for an `-` argument).
    pub fn then(&mut self, args: &[&str], stdin: Option<String>) {
        self.steps
            .push((args.iter().map(|a| a.to_string()).collect(), stdin));
    }

    /// Applies `resource namespace/name` again as its set-up applied it
    /// (its last-applied-configuration) on drop, and for a Deployment
    /// waits until it has rolled out.
    pub fn remember(&mut self, namespace: &str, resource: &str, name: &str) {
        let live = self.lab.get_json(&["-n", namespace, resource, name]);
        let applied = live["metadata"]["annotations"]
            ["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("{resource} {namespace}/{name}: no last-applied-configuration")
            })
            .to_string();
        if resource == "deployment" {
            let target = format!("deployment/{name}");
            self.then(
                &[
                    "-n",
                    namespace,
                    "rollout",
                    "status",
                    &target,
                    "--timeout=60s",
                ],
                None,
            );
        }
        self.then(&["apply", "-f", "-"], Some(applied));
    }
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for (i, (mut args, stdin)) in self.steps.drain(..).enumerate().rev() {
            // A file, not stdin: kubectl_stdin would panic inside a panic.
            let file = stdin.map(|input| {
                let path = std::env::temp_dir().join(format!(
                    "lab-restore-{}-{i}-{:?}.json",
                    std::process::id(),
                    std::thread::current().id()
                ));
                std::fs::write(&path, input).expect("write the object to restore");
                path
            });
            if let Some(path) = &file {
                args = args
                    .into_iter()
                    .map(|a| {
                        if a == "-" {
                            path.display().to_string()
                        } else {
                            a
                        }
                    })
                    .collect();
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = self.lab.kubectl(&args);
            if let Some(path) = file {
                let _ = std::fs::remove_file(path);
            }
            if !out.status.success() {
                eprintln!("restoring: kubectl {args:?}: {}", text(&out));
                assert!(
                    std::thread::panicking(),
                    "restoring failed: kubectl {args:?}"
                );
            }
        }
    }
}

/// The kubectl commands in `hint` that only read (`get`, `describe`,
/// `logs`), as printed: each from `kubectl ` to the end of its clause (a
/// closing parenthesis or backquote, `: `, `; `, or the end).
pub fn reading_commands(hint: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = hint;
    while let Some(at) = rest.find("kubectl ") {
        let tail = &rest[at..];
        let end = [")", "`", ": ", "; "]
            .iter()
            .filter_map(|stop| tail.find(stop))
            .min()
            .unwrap_or(tail.len());
        let command = tail[..end].trim_end_matches(['.', ',', ' ']);
        let mut words = command.split_whitespace().skip(1);
        let verb = loop {
            match words.next() {
                Some("-n" | "--namespace") => {
                    words.next();
                }
                other => break other,
            }
        };
        if matches!(verb, Some("get" | "describe" | "logs")) {
            found.push(command.to_string());
        }
        rest = &tail[end..];
    }
    found
}

/// How long a [`Service`] deploy waits for its service to answer.
pub const SERVICE_WAIT: &str = "120s";

/// A service deployed by a bundled recipe; deleted (with `--delete`) on drop.
pub struct Service {
    pub lab: &'static Lab,
    pub recipe: &'static str,
    pub name: String,
    pub extra: Vec<String>,
}

impl Service {
    /// Deploys `scripts/<recipe>.rhai --name <unique> extra... --wait`;
    /// panics with wildrun's output when it does not exit 0.
    pub fn deploy(
        lab: &'static Lab,
        recipe: &'static str,
        prefix: &str,
        extra: &[&str],
    ) -> Service {
        let svc = Service::deploy_no_wait(lab, recipe, prefix, extra);
        let out = svc.run(&["--wait", "--timeout", SERVICE_WAIT]);
        assert!(
            out.status.success(),
            "deploy --wait {}: {}",
            svc.name,
            text(&out)
        );
        svc
    }

    /// Deploys without waiting (the apply itself must succeed).
    pub fn deploy_no_wait(
        lab: &'static Lab,
        recipe: &'static str,
        prefix: &str,
        extra: &[&str],
    ) -> Service {
        let svc = Service {
            lab,
            recipe,
            name: unique_name(prefix),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        let out = svc.run(&[]);
        assert!(out.status.success(), "deploy {}: {}", svc.name, text(&out));
        svc
    }

    /// Runs the recipe for this service with `more` arguments.
    pub fn run(&self, more: &[&str]) -> Output {
        let recipe = format!("scripts/{}.rhai", self.recipe);
        let mut args: Vec<&str> = vec![&recipe, "--name", &self.name];
        args.extend(self.extra.iter().map(String::as_str));
        args.extend(more);
        self.lab.wildrun(&args)
    }

    pub fn host(&self) -> String {
        let domain = if self.recipe == "internal" {
            self.lab.internal_domain()
        } else {
            self.lab.domain().to_string()
        };
        format!("{}.{domain}", self.name)
    }

    pub fn url(&self) -> String {
        format!("https://{}/", self.host())
    }

    /// The doctor's JSON report and exit code for this service.
    pub fn doctor(&self) -> (serde_json::Value, Option<i32>) {
        self.doctor_with(&[])
    }

    /// The doctor with more environment (configuration by variable).
    pub fn doctor_with(&self, env: &[(&str, &str)]) -> (serde_json::Value, Option<i32>) {
        let mut args = vec!["scripts/doctor.rhai", "--name", &self.name, "--json"];
        args.extend(self.extra.iter().map(String::as_str));
        let out = self
            .lab
            .command(env!("CARGO_BIN_EXE_wildrun"))
            .current_dir(repo_root())
            .args(&args)
            .envs(env.iter().copied())
            .output()
            .expect("run the doctor in the lab");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}): {}", text(&out)));
        self.lab.run_hint_commands(&report);
        (report, out.status.code())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let out = self.run(&["--delete"]);
        if !out.status.success() {
            eprintln!("cleanup of {} failed: {}", self.name, text(&out));
        }
    }
}

/// Names of the checks that did not pass.
pub fn not_passed(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c["status"] != "pass")
                .map(|c| format!("{} ({}): {}", c["name"], c["status"], c["found"]))
                .collect()
        })
        .unwrap_or_default()
}
