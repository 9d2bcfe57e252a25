//! Every console transcript in README.md is a real run, checked: each
//! ```` ```console ```` block is preceded by a marker line
//! `<!-- transcript: NAME -->` that says where it runs, and its commands run
//! there (a block without a marker, or with one this file does not know,
//! fails). Their output (stdout and stderr, interleaved as a terminal shows
//! them) is compared with the block by snapbox, which prints the difference
//! of a transcript that drifted.
//!
//! Why snapbox from a test and not trycmd's own files: these runs need a
//! control plane (or the visibility lab) made ready first, files the README
//! names copied into a scratch folder, and some are driven (a file edited
//! under `--watch`, an Ingress created under tls-sync, Ctrl-C), which a
//! trycmd case cannot hold.
//!
//! What varies from run to run is matched as a placeholder, on both sides:
//! durations, pod addresses, loopback ports, dates, days left, a copy's
//! identity, and line numbers in `stdlib/` modules (the line of the
//! recipe or example a message names is compared as written). In the block,
//! `...` on a line of its own stands for any lines, `[..]` for any text in
//! a line, a trailing `  # comment` is a note for the reader (`# exit code N`
//! on a command: the exit code it must give), and a `^C` line is the key the
//! reader pressed.
//!
//! The transcripts of the visibility lab run with `WILDRUN_TEST_LAB` set,
//! as `tests/lab.rs` does.

mod common;

use common::background::Background;
use common::cluster::PrivatePlane;
use common::command::Wildrun;
use common::lab::{Lab, Restore};
use common::TestCluster;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One `$ command` of a transcript (or the lines before any) and the
/// output the README shows for it.
#[derive(Debug)]
struct Step {
    /// 1-based README line of the command.
    line: usize,
    command: Option<String>,
    /// What `# exit code N` on the command says (default 0).
    exit: i32,
    /// The output lines, notes stripped.
    output: String,
}

/// One ```` ```console ```` block.
#[derive(Debug)]
struct Transcript {
    /// 1-based README line of the opening fence.
    line: usize,
    marker: Option<String>,
    steps: Vec<Step>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A line without its reader's note (`  # ...`), and the note.
fn without_note(line: &str) -> (&str, Option<&str>) {
    match line.find("  # ") {
        Some(at) => (line[..at].trim_end(), Some(line[at + 4..].trim())),
        None => (line, None),
    }
}

fn transcripts_in(text: &str) -> Vec<Transcript> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```console" {
            i += 1;
            continue;
        }
        let marker = i.checked_sub(1).and_then(|p| {
            let line = lines[p].trim();
            line.strip_prefix("<!-- transcript:")
                .and_then(|m| m.strip_suffix("-->"))
                .map(|m| m.trim().to_string())
        });
        let mut transcript = Transcript {
            line: i + 1,
            marker,
            steps: Vec::new(),
        };
        i += 1;
        while i < lines.len() && lines[i].trim_end() != "```" {
            let line = lines[i];
            if let Some(command) = line.strip_prefix("$ ") {
                let (command, note) = without_note(command);
                let exit = note
                    .and_then(|n| n.strip_prefix("exit code "))
                    .and_then(|n| n.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                transcript.steps.push(Step {
                    line: i + 1,
                    command: Some(command.to_string()),
                    exit,
                    output: String::new(),
                });
            } else if line.trim() != "^C" {
                if transcript.steps.is_empty() {
                    transcript.steps.push(Step {
                        line: i + 1,
                        command: None,
                        exit: 0,
                        output: String::new(),
                    });
                }
                let step = transcript.steps.last_mut().expect("a step");
                step.output.push_str(without_note(line).0);
                step.output.push('\n');
            }
            i += 1;
        }
        for step in &mut transcript.steps {
            let kept = step.output.trim_end_matches('\n').len();
            step.output.truncate(kept);
            if kept > 0 {
                step.output.push('\n');
            }
        }
        found.push(transcript);
        i += 1;
    }
    found
}

fn transcripts() -> Vec<Transcript> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    transcripts_in(&text)
}

/// The placeholders for what varies between runs.
fn redactions() -> snapbox::Redactions {
    let mut redactions = snapbox::Redactions::new();
    let patterns: &[(&'static str, &str)] = &[
        ("[TIMESTAMP]", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        ("[IDENTITY]", r"[\w.-]+_\d+_[0-9a-f]{8}"),
        ("[PODIP]", r"\b10\.244\.\d+\.\d+\b"),
        ("[PORT]", r"\b127\.0\.0\.1:(?<redacted>\d{4,5})\b"),
        ("[LINE]", r"\bstdlib/\w+\.rhai:(?<redacted>\d+(:\d+)?)"),
        ("[DAYS]", r"\b(?<redacted>\d+) days left"),
        ("[COUNT]", r"\b(?<redacted>\d+) ownership record"),
        ("[DURATION]", r"\b\d+(\.\d+)? ?(ms|s)\b"),
    ];
    for (placeholder, pattern) in patterns {
        redactions
            .insert(placeholder, regex::Regex::new(pattern).expect("a pattern"))
            .expect("a placeholder");
    }
    redactions
}

/// Compares `actual` with what the README shows, failing with the
/// difference.
fn compare(step: &Step, actual: &str) {
    let redactions = redactions();
    let expected = redactions.redact(&step.output);
    let assert = snapbox::Assert::new()
        .redact_with(redactions)
        .palette(snapbox::report::Palette::plain())
        .action(snapbox::assert::Action::Verify);
    let name = format!(
        "README.md:{}: `{}`",
        step.line,
        step.command.as_deref().unwrap_or("(output)")
    );
    if let Err(error) = assert.try_eq(Some(&name), actual.into(), expected.into()) {
        panic!("{name}: the transcript differs from the real run (- README, + run):\n{error}");
    }
}

/// A folder with what the README's commands name: `scripts/`, `stdlib/`,
/// `examples/`, `tests/fixtures/`, `tests/cluster/`, copied, and `wildrun` (this build) in a
/// `bin/` of its own for PATH.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in [
            "scripts",
            "stdlib",
            "examples",
            "tests/fixtures",
            "tests/cluster",
        ] {
            copy_tree(&repo().join(sub), &dir.path().join(sub));
        }
        let bin = dir.path().join(".bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        // curl draws its progress meter only when its output is not a
        // terminal, as here: without it, as the reader sees it.
        std::fs::write(bin.join(".curlrc"), "silent\nshow-error\n").expect("curlrc");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wildrun"), bin.join("wildrun"))
            .expect("link wildrun");
        Scratch { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// PATH with this build's wildrun and `kubectl_dir` first.
    fn path_var(&self, kubectl_dir: &Path) -> String {
        format!(
            "{}:{}:{}",
            self.path().join(".bin").display(),
            kubectl_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// `bash -c command` here, with `env` and this build's wildrun and
    /// `kubectl_dir` first on PATH.
    fn command(&self, command: &str, env: &[(&str, &str)], kubectl_dir: &Path) -> Command {
        let path = self.path_var(kubectl_dir);
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(command)
            .current_dir(self.path())
            .stdin(Stdio::null())
            .env("PATH", path)
            .env("CURL_HOME", self.path().join(".bin"))
            .env_remove("WILDRUN_CONFIG");
        for key in wildrun::config::KEYS.iter().map(|k| k.env_var()) {
            cmd.env_remove(key);
        }
        cmd.envs(env.iter().copied());
        cmd
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Runs `cmd` to its end with stdout and stderr in one file, as a terminal
/// interleaves them: its exit code and output.
fn run_merged(mut cmd: Command) -> (Option<i32>, String) {
    use std::io::{Read, Seek};
    let mut file = tempfile::tempfile().expect("temp file");
    cmd.stdout(file.try_clone().expect("clone"))
        .stderr(file.try_clone().expect("clone"));
    let status = cmd.status().expect("bash runs");
    let mut text = String::new();
    file.rewind().expect("rewind");
    file.read_to_string(&mut text).expect("read output");
    (status.code(), text)
}

/// Runs a step's command and compares its exit code and output.
fn run_step(step: &Step, scratch: &Scratch, env: &[(&str, &str)], kubectl_dir: &Path) {
    let command = step.command.as_deref().expect("a command");
    let (code, output) = run_merged(scratch.command(command, env, kubectl_dir));
    judge(step, command, code, &output);
}

/// The exit code `command` (as run) gave must be the step's, and its
/// output what the README shows.
fn judge(step: &Step, command: &str, code: Option<i32>, output: &str) {
    assert_eq!(
        code,
        Some(step.exit),
        "README.md:{}: `{command}` exits {code:?}, the README says {}:\n{output}",
        step.line,
        step.exit
    );
    compare(step, output);
}

/// The transcripts, by marker; panics naming a block without a known one.
fn by_marker<'a>(all: &'a [Transcript], marker: &str) -> &'a Transcript {
    all.iter()
        .find(|t| t.marker.as_deref() == Some(marker))
        .unwrap_or_else(|| panic!("README.md has no transcript marked {marker}"))
}

/// Where each marker runs: `plane` on a control plane of this test's own,
/// `lab` in the visibility lab (with WILDRUN_TEST_LAB), `local` with no
/// cluster, `existing-lab` in the existing-layer lab
/// (`WILDRUN_TEST_EXISTING_LAB`).
const MARKERS: &[(&str, &str)] = &[
    ("try", "lab"),
    ("layer", "lab"),
    ("existing-layer-used", "existing-lab"),
    ("existing-layer-conflict", "existing-lab"),
    ("existing-layer-adopt", "existing-lab"),
    ("existing-layer-secret", "existing-lab"),
    ("existing-layer-runs", "existing-lab"),
    ("existing-layer-rerun", "existing-lab"),
    ("try-internal", "lab"),
    ("apply", "plane"),
    ("lifecycle", "plane"),
    ("wait", "lab"),
    ("doctor", "lab"),
    ("doctor-broken", "lab"),
    ("gateway-wait", "lab"),
    ("gateway-move", "lab"),
    ("gateway-doctor", "lab"),
    ("gateway-doctor-grant", "lab"),
    ("doctor-host", "existing-lab"),
    ("doctor-host-filter", "existing-lab"),
    ("watch", "plane"),
    ("lease", "plane"),
    ("tls-sync", "plane"),
    ("deployer", "plane"),
    ("wild-cloud", "local"),
];

#[test]
fn every_console_block_has_a_known_marker() {
    let all = transcripts();
    assert!(all.len() >= 10, "{all:?}");
    for transcript in &all {
        let marker = transcript.marker.as_deref().unwrap_or_else(|| {
            panic!(
                "README.md:{}: a ```console block needs a marker line `<!-- transcript: NAME -->` that tests/transcripts.rs knows",
                transcript.line
            )
        });
        assert!(
            MARKERS.iter().any(|(m, _)| *m == marker),
            "README.md:{}: tests/transcripts.rs does not know the transcript {marker}",
            transcript.line
        );
    }
}

/// A drifted transcript fails, with the difference; placeholders match.
#[test]
fn a_drifted_transcript_fails_with_the_difference() {
    let readme = "<!-- transcript: x -->\n```console\n$ wildrun x  # exit code 1\nrun 1 done in 0.08s; watching 3 file(s)\n...\ndone\n^C\n```\n";
    let all = transcripts_in(readme);
    let step = &all[0].steps[0];
    assert_eq!(step.exit, 1);
    compare(
        step,
        "run 1 done in 1.27s; watching 3 file(s)\nmore\nlines\ndone\n",
    );
    let drifted = std::panic::catch_unwind(|| {
        compare(step, "run 1 done in 0.08s; watching 2 file(s)\ndone\n")
    });
    let message = drifted
        .err()
        .and_then(|e| e.downcast::<String>().ok())
        .expect("a drift fails with a message");
    assert!(message.contains("README.md:3"), "{message}");
    assert!(message.contains("2 file(s)"), "{message}");
}

#[test]
fn the_wild_cloud_transcript_is_a_real_run() {
    let all = transcripts();
    let scratch = Scratch::new();
    for step in &by_marker(&all, "wild-cloud").steps {
        run_step(step, &scratch, &[], Path::new("/nonexistent"));
    }
}

/// The wildcard Secret cert-manager would write (a new certificate each
/// call, as a renewal makes), and its Certificate.
fn wildcard_source(cluster: &TestCluster) {
    let options = wildrun::cert::Options {
        days: 90,
        common_name: None,
    };
    let names = vec!["*.example.com".to_string(), "example.com".to_string()];
    let pair = wildrun::cert::self_signed(&names, &options).expect("a certificate");
    let objects = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
         "metadata": {"name": "wildcard-wild-cloud", "namespace": "cert-manager"},
         "spec": {"secretName": "wildcard-wild-cloud-tls", "dnsNames": names,
                  "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
         "metadata": {"name": "wildcard-wild-cloud-tls", "namespace": "cert-manager"},
         "stringData": {"tls.crt": pair.cert, "tls.key": pair.key}}]});
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &objects.to_string());
    assert!(out.status.success(), "{out:?}");
}

fn kubectl_ok(cluster: &TestCluster, args: &[&str]) {
    let out = cluster.kubectl(args);
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
}

/// The transcripts of "Apply, diff, prune, delete" (a service, then an
/// app's lifecycle), `--watch` and
/// `kube::watch`, in that order, on a plane of their own (the namespaces
/// they name are fixed, and tls-sync reconciles every namespace).
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_transcripts_on_a_control_plane_are_real_runs() {
    let all = transcripts();
    let plane = PrivatePlane::start();
    let cluster = &plane.cluster;
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let kubectl_dir = cluster
        .kubectl_path()
        .parent()
        .expect("kubectl's folder")
        .to_path_buf();
    let env = [
        ("KUBECONFIG", kubeconfig.as_str()),
        ("CLOUD_DOMAIN", "example.com"),
    ];
    wildcard_source(cluster);
    let scratch = Scratch::new();

    for step in &by_marker(&all, "apply").steps {
        run_step(step, &scratch, &env, &kubectl_dir);
    }
    // A generated Secret, a claim and a Job re-created on each deploy.
    for step in &by_marker(&all, "lifecycle").steps {
        run_step(step, &scratch, &env, &kubectl_dir);
    }

    // --watch: the recipe edited twice (a change, then a syntax error).
    let watch = &by_marker(&all, "watch").steps[0];
    let args: Vec<&str> = watch
        .command
        .as_deref()
        .and_then(|c| c.strip_prefix("wildrun "))
        .expect("wildrun ...")
        .split_whitespace()
        .collect();
    let recipe = scratch.path().join("scripts/public.rhai");
    let original = std::fs::read_to_string(&recipe).expect("the recipe");
    let mut bg = Background::spawn(wildrun_in(&scratch, &args, &env));
    bg.wait_for("run 1 done");
    std::fs::write(
        &recipe,
        original.replace("vis::deploy(svc);", "svc.replicas = 2;\nvis::deploy(svc);"),
    )
    .expect("edit the recipe");
    bg.wait_for("run 2 done");
    std::fs::write(&recipe, format!("{original}let broken = ;\n")).expect("break the recipe");
    bg.wait_for("run 3 failed");
    assert_eq!(bg.interrupt(), Some(0), "{}", bg.text());
    compare(watch, &(bg.text() + "\n"));
    std::fs::write(&recipe, original).expect("restore the recipe");
    run_merged(scratch.command(
        "wildrun scripts/public.rhai --name myservice --delete",
        &env,
        &kubectl_dir,
    ));

    // tls-sync: an Ingress in shop uses the wildcard Secret, cert-manager
    // renews it, the Ingress goes; Ctrl-C.
    let sync = &by_marker(&all, "tls-sync").steps[0];
    kubectl_ok(cluster, &["create", "namespace", "shop"]);
    let mut bg = Background::spawn(wildrun_in(&scratch, &["examples/tls-sync.rhai"], &env));
    bg.wait_for("watching v1 Secret in cert-manager");
    let ingress = serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"tls": [{"hosts": ["web.example.com"], "secretName": "wildcard-wild-cloud-tls"}],
                 "rules": [{"host": "web.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &ingress.to_string());
    assert!(out.status.success(), "{out:?}");
    bg.wait_for("created    Secret shop/");
    wildcard_source(cluster);
    bg.wait_for("configured Secret shop/");
    kubectl_ok(cluster, &["-n", "shop", "delete", "ingress", "web"]);
    bg.wait_for("deleted    Secret shop/");
    assert_eq!(bg.interrupt(), Some(0), "{}", bg.text());
    compare(sync, &(bg.text() + "\n"));

    // Two copies: one leads, the other waits.
    let lease = &by_marker(&all, "lease").steps[0];
    kubectl_ok(cluster, &["create", "namespace", "wildrun"]);
    let env = [
        ("KUBECONFIG", kubeconfig.as_str()),
        ("CLOUD_DOMAIN", "example.com"),
        ("WATCH_LEASE_NAMESPACE", "wildrun"),
    ];
    let mut leader = Background::spawn(wildrun_in(&scratch, &["examples/tls-sync.rhai"], &env));
    leader.wait_for("leads and handles the events");
    let mut other = Background::spawn(wildrun_in(&scratch, &["examples/tls-sync.rhai"], &env));
    other.wait_for("waits, sends no write");
    let said: Vec<String> = [&leader, &other]
        .iter()
        .map(|bg| {
            bg.text()
                .lines()
                .find(|l| l.starts_with("Lease "))
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    other.interrupt();
    leader.interrupt();
    compare(lease, &(said.join("\n") + "\n"));

    // A kubeconfig of its own for the ServiceAccount examples/rbac.yaml is
    // bound to, and a run with it.
    for step in &by_marker(&all, "deployer").steps {
        run_step(step, &scratch, &env, &kubectl_dir);
    }
}

/// This build's wildrun in the scratch folder (stderr collected by
/// [`Background`]).
fn wildrun_in(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Command {
    Wildrun::new()
        .in_dir(scratch.path())
        .args(args)
        .envs(env)
        .into_command()
}

/// A lab as the README names it (`tests/cluster/up`'s defaults for its
/// shape: `/tmp/wildrun-lab`, network namespace `wildrun-lab`, and the
/// `-existing` ones) and as this run has it.
struct LabNames {
    dir: String,
    netns: String,
    readme_dir: &'static str,
    readme_netns: &'static str,
}

impl LabNames {
    fn of(lab: &Lab) -> LabNames {
        let (readme_dir, readme_netns) = match lab.var("WILDRUN_LAB_SHAPE") {
            "existing-layer" => ("/tmp/wildrun-lab-existing", "wildrun-lab-existing"),
            _ => ("/tmp/wildrun-lab", "wildrun-lab"),
        };
        LabNames {
            dir: lab.dir().display().to_string(),
            netns: lab.var("WILDRUN_LAB_NETNS").to_string(),
            readme_dir,
            readme_netns,
        }
    }

    /// A README command as this lab runs it: the README's directory and
    /// network namespaces (the lab's own, and those named after it: `-lan`,
    /// `-internet`) made this lab's.
    fn command(&self, command: &str) -> String {
        command
            .replace(&format!("{}/", self.readme_dir), &format!("{}/", self.dir))
            .replace(
                &format!("ip netns exec {}", self.readme_netns),
                &format!("ip netns exec {}", self.netns),
            )
    }

    /// This lab's output as the README names it.
    fn output(&self, output: &str) -> String {
        output
            .replace(&self.dir, self.readme_dir)
            .replace(
                &format!("namespace {}", self.netns),
                &format!("namespace {}", self.readme_netns),
            )
            .replace(
                &format!("ip netns exec {}", self.netns),
                &format!("ip netns exec {}", self.readme_netns),
            )
            .replace(
                &format!("({}-", self.netns),
                &format!("({}-", self.readme_netns),
            )
    }
}

/// Runs a step in the lab: `tests/...` and `ip netns exec ...` on the host
/// (as the reader types them), the rest inside the lab's network namespace
/// with its configuration; then compares.
fn run_lab_step(step: &Step, lab: &Lab, scratch: &Scratch) {
    let names = LabNames::of(lab);
    let command = names.command(step.command.as_deref().expect("a command"));
    let path = scratch.path_var(&lab_kubectl_dir(lab));
    let on_host = command.starts_with("tests/") || command.starts_with("ip netns exec ");
    let mut cmd = if on_host {
        let mut cmd = Command::new("bash");
        cmd.env("WILDRUN_LAB_DIR", &names.dir)
            .env("WILDRUN_LAB_NETNS_NAME", &names.netns)
            .env("WILDRUN_BIN", env!("CARGO_BIN_EXE_wildrun"))
            .stdin(Stdio::null());
        cmd
    } else {
        lab.command("bash")
    };
    cmd.arg("-c")
        .arg(&command)
        .current_dir(scratch.path())
        .env("CURL_HOME", scratch.path().join(".bin"))
        .env("PATH", path);
    let (code, output) = run_merged(cmd);
    judge(step, &command, code, &names.output(&output));
}

fn lab_kubectl_dir(lab: &Lab) -> PathBuf {
    let bin_dir = std::fs::read_to_string(lab.dir().join("bin-dir")).expect("the lab's bin-dir");
    PathBuf::from(bin_dir.trim())
}

/// Deletes service `name` of scripts/public.rhai in the lab, and waits
/// until ExternalDNS has removed its record.
fn delete_lab_service(lab: &Lab, name: &str) {
    let out = lab.wildrun(&["scripts/public.rhai", "--name", name, "--delete"]);
    assert!(out.status.success(), "{out:?}");
    let host = format!("{name}.{}", lab.domain());
    lab.eventually(
        &format!("ExternalDNS removes {host}"),
        std::time::Duration::from_secs(60),
        || lab.dig(&host, "CNAME").is_empty().then_some(()),
    );
}

/// The transcripts of the visibility lab: `tests/cluster/try`, the layer,
/// `--wait`, and the doctor on a healthy service and with ExternalDNS
/// stopped.
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_transcripts_in_the_visibility_lab_are_real_runs() {
    let all = transcripts();
    let lab = Lab::shared();
    let scratch = Scratch::new();
    {
        let _use = lab.shared_use();
        // From a lab without them (an earlier run may have failed midway).
        delete_lab_service(lab, "hello");
        delete_lab_service(lab, "myservice");
        for step in &by_marker(&all, "try").steps {
            run_lab_step(step, lab, &scratch);
        }
        delete_lab_service(lab, "hello");

        for step in &by_marker(&all, "wait").steps {
            run_lab_step(step, lab, &scratch);
        }

        // The layer's first run is the one the lab's start made: its log.
        let layer = &by_marker(&all, "layer").steps;
        let first = std::fs::read_to_string(lab.dir().join("logs/cluster-rhai.log"))
            .expect("the lab's log of scripts/cluster.rhai");
        compare(&layer[0], &first);
        for step in &layer[1..] {
            run_lab_step(step, lab, &scratch);
        }

        for step in &by_marker(&all, "doctor").steps {
            run_lab_step(step, lab, &scratch);
        }
    }

    // With ExternalDNS stopped, a new deployment has no record.
    let _alone = lab.exclusive();
    delete_lab_service(lab, "myservice");
    lab.ctl(&["stop", "external-dns"]);
    let out = lab.wildrun(&["scripts/public.rhai", "--name", "myservice"]);
    assert!(out.status.success(), "{out:?}");
    let rollout = lab.kubectl(&[
        "-n",
        "myservice",
        "rollout",
        "status",
        "deployment/myservice",
        "--timeout=60s",
    ]);
    // Traefik serves the new Ingress (it picks it up in its own time): the
    // transcript shows DNS broken, not a route still on its way.
    let host = format!("myservice.{}", lab.domain());
    let resolve = format!("{host}:443:{}", lab.lb_ip());
    let url = format!("https://{host}/");
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lab.eventually(
            &format!("Traefik serves {host}"),
            std::time::Duration::from_secs(30),
            || (lab.https_get(&url, &["--resolve", &resolve]).0 == 200).then_some(()),
        )
    }));
    // ExternalDNS starts again whatever the outcome, before it is judged.
    let broken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Err(failure) = served {
            std::panic::resume_unwind(failure);
        }
        for step in &by_marker(&all, "doctor-broken").steps {
            run_lab_step(step, lab, &scratch);
        }
    }));
    lab.ctl(&["start", "external-dns"]);
    assert!(rollout.status.success(), "{rollout:?}");
    if let Err(failure) = broken {
        std::panic::resume_unwind(failure);
    }
    delete_lab_service(lab, "myservice");
}

/// The transcripts of the existing-layer lab ("On a cluster you already
/// run" and `doctor --host`), in README order. What they change is put
/// back: the pool and ExternalDNS they adopt and release, gitea's Service
/// they break, the namespaces and the Ingress they make.
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_transcripts_in_the_existing_layer_lab_are_real_runs() {
    let all = transcripts();
    let lab = Lab::existing();
    let _only = lab.exclusive();
    let scratch = Scratch::new();
    let run = |marker: &str| {
        for step in &by_marker(&all, marker).steps {
            run_lab_step(step, lab, &scratch);
        }
    };
    let made_here = ["blog", "store", "shop"];
    let clear = |restore: &mut Restore| {
        for ns in made_here {
            restore.then(
                &[
                    "delete",
                    "namespace",
                    ns,
                    "--ignore-not-found",
                    "--wait=true",
                    "--timeout=90s",
                ],
                None,
            );
        }
        restore.then(
            &[
                "-n",
                "gitea",
                "delete",
                "ingress",
                "gitea-org",
                "--ignore-not-found",
            ],
            None,
        );
    };
    // From a lab without them (an earlier run may have failed midway).
    drop({
        let mut before = Restore::new(lab);
        clear(&mut before);
        before
    });
    let mut after = Restore::new(lab);
    clear(&mut after);

    run("existing-layer-used");
    run("existing-layer-rerun");
    run("existing-layer-conflict");
    {
        let mut adopted = Restore::new(lab);
        adopted.remember("metallb-system", "ipaddresspool", "first-pool");
        adopted.remember("externaldns", "deployment", "external-dns");
        run("existing-layer-adopt");
    }
    run("existing-layer-secret");
    run("existing-layer-runs");
    let out = lab.wildrun(&[
        "scripts/public.rhai",
        "--name",
        "shop",
        "--namespace",
        "shop",
        "--delete",
    ]);
    assert!(out.status.success(), "{out:?}");
    {
        let mut service = Restore::new(lab);
        service.remember("gitea", "service", "gitea-http");
        let steps = &by_marker(&all, "doctor-host").steps;
        run_lab_step(&steps[0], lab, &scratch);
        // Traefik follows the Service (its providers' throttle): the
        // transcript shows the 502 the broken port gives, not the route
        // before it.
        let url = format!("https://gitea.{}/explore", lab.domain());
        lab.eventually(
            "Traefik sends gitea's requests to the broken port",
            std::time::Duration::from_secs(30),
            || (lab.https_get(&url, &[]).0 == 502).then_some(()),
        );
        for step in &steps[1..] {
            run_lab_step(step, lab, &scratch);
        }
    }
    run("doctor-host-filter");
}

/// The transcripts of "Gateway API": `--wait` over an HTTPRoute, the move
/// of an instance from its Ingress with `--prune`, the doctor on the route,
/// and the doctor with the layer's ReferenceGrant taken away (put back by
/// the layer's run afterwards, whatever the outcome).
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_gateway_transcripts_in_the_visibility_lab_are_real_runs() {
    let all = transcripts();
    let lab = Lab::shared();
    let scratch = Scratch::new();
    // Takes the layer's ReferenceGrant away: no other test may see it gone.
    let _alone = lab.exclusive();
    for name in ["gw3", "web"] {
        delete_lab_service(lab, name);
    }
    for step in &by_marker(&all, "gateway-wait").steps {
        run_lab_step(step, lab, &scratch);
    }

    // The instance answers over its Ingress first.
    let out = lab.wildrun(&["scripts/public.rhai", "--name", "web", "--wait"]);
    assert!(out.status.success(), "{}", common::lab::text(&out));
    for step in &by_marker(&all, "gateway-move").steps {
        run_lab_step(step, lab, &scratch);
    }
    for step in &by_marker(&all, "gateway-doctor").steps {
        run_lab_step(step, lab, &scratch);
    }

    let grant = &by_marker(&all, "gateway-doctor-grant").steps;
    let broken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_lab_step(&grant[0], lab, &scratch);
        // Traefik takes a moment to refuse the listener and the route.
        lab.eventually(
            "Traefik refuses the listener and the route",
            std::time::Duration::from_secs(60),
            || {
                let (report, _) = lab.doctor(&["--name", "web", "--set", "ingress.api=gateway"]);
                let failed = |name: &str| common::lab::check(&report, name)["status"] == "fail";
                (failed("route-accepted") && failed("listener")).then_some(())
            },
        );
        run_lab_step(&grant[1], lab, &scratch);
    }));
    lab.gateway_layer(&[]);
    if let Err(failure) = broken {
        std::panic::resume_unwind(failure);
    }
    for name in ["gw3", "web"] {
        delete_lab_service(lab, name);
    }
}

/// `tests/cluster/try` with an internal service: asked from the internet
/// client through the router (403) and from the LAN client (200).
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_transcript_of_try_with_an_internal_service_is_a_real_run() {
    let all = transcripts();
    let lab = Lab::shared();
    let _use = lab.shared_use();
    let scratch = Scratch::new();
    let delete = || {
        let out = lab.wildrun(&["scripts/internal.rhai", "--name", "trydemo", "--delete"]);
        assert!(out.status.success(), "{}", common::lab::text(&out));
    };
    delete();
    for step in &by_marker(&all, "try-internal").steps {
        run_lab_step(step, lab, &scratch);
    }
    delete();
}
