//! Command-line tests: run the built `wildrun` binary on the bundled recipes
//! and on bad inputs, and check stdout, stderr and the exit code.
//!
//! The dry-run output is parsed back from YAML and checked field by field
//! against the README's table.

mod common;

use common::command::{stderr, stdout, Wildrun};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs wildrun in the repository root with a clean configuration environment.
fn wildrun(args: &[&str], env: &[(&str, &str)]) -> Output {
    Wildrun::new().args(args).envs(env).output()
}

fn wildrun_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Wildrun::new().in_dir(dir).args(args).envs(env).output()
}

const DOMAIN: (&str, &str) = ("CLOUD_DOMAIN", "cloud.example.com");
const LB: (&str, &str) = ("CLUSTER_LOAD_BALANCER_IP", "192.168.8.240");

fn dry_run(args: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.push("--dry-run");
    let out = wildrun(&all, env);
    assert!(
        out.status.success(),
        "wildrun {args:?} failed: {}",
        stderr(&out)
    );
    wildrun::yaml::parse_documents(&stdout(&out), "stdout").expect("dry-run output is YAML")
}

fn kinds(objects: &[Value]) -> Vec<String> {
    common::offline::kind_names(objects)
}

/// A new temporary folder holding `files` (name, text).
fn folder<S: AsRef<str>>(files: &[(S, S)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name.as_ref()), text.as_ref()).expect("write a file");
    }
    dir
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", kinds(objects)))
}

fn assert_labels(objects: &[Value], name: &str, instance: &str) {
    for o in objects {
        let labels = &o["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/name"],
            json!(name),
            "{}",
            o["kind"]
        );
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            json!("wildrun"),
            "{}",
            o["kind"]
        );
        assert_eq!(
            labels["wildrun.dev/instance"],
            json!(instance),
            "{}",
            o["kind"]
        );
    }
}

#[test]
fn public_dry_run_matches_spec() {
    let objects = dry_run(&["scripts/public.rhai", "--name", "myservice"], &[DOMAIN]);
    assert_eq!(
        kinds(&objects),
        [
            "Namespace myservice",
            "Secret wildcard-wild-cloud-tls",
            "Deployment myservice",
            "Service myservice",
            "Ingress myservice",
        ]
    );
    assert_labels(&objects, "myservice", "public.myservice");

    let deployment = find(&objects, "Deployment");
    assert_eq!(deployment["metadata"]["namespace"], "myservice");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        json!({"app": "myservice"})
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["app"],
        "myservice"
    );
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "myservice");
    assert_eq!(container["image"], "nginx:latest");
    assert_eq!(container["ports"], json!([{"containerPort": 80}]));
    // Ready when it answers on its port, not when it starts.
    assert_eq!(
        container["readinessProbe"],
        json!({"httpGet": {"path": "/", "port": 80}})
    );

    let service = find(&objects, "Service");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["selector"], json!({"app": "myservice"}));
    assert_eq!(
        service["spec"]["ports"],
        json!([{"port": 80, "targetPort": 80}])
    );

    // The layer (scripts/cluster.rhai) owns the wildcard Certificate.
    assert!(!objects.iter().any(|o| o["kind"] == "Certificate"));

    let secret = find(&objects, "Secret");
    assert_eq!(secret["metadata"]["namespace"], "myservice");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(
        secret["metadata"]["annotations"]["wildrun.dev/copied-from"],
        "cert-manager/wildcard-wild-cloud-tls"
    );
    assert!(
        secret.get("data").is_none() && secret.get("stringData").is_none(),
        "secret data printed"
    );

    let ingress = find(&objects, "Ingress");
    assert_eq!(ingress["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(ingress["spec"]["ingressClassName"], "traefik");
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"], "myservice.cloud.example.com");
    let path = &rule["http"]["paths"][0];
    assert_eq!(path["path"], "/");
    assert_eq!(path["pathType"], "Prefix");
    assert_eq!(
        path["backend"]["service"],
        json!({"name": "myservice", "port": {"number": 80}})
    );
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"hosts": ["myservice.cloud.example.com"], "secretName": "wildcard-wild-cloud-tls"}])
    );
    assert_eq!(
        ingress["metadata"]["annotations"],
        json!({
            "external-dns.alpha.kubernetes.io/target": "cloud.example.com",
            "external-dns.alpha.kubernetes.io/ttl": "60",
            "external-dns.kubernetes.io/target": "cloud.example.com",
            "external-dns.kubernetes.io/ttl": "60",
        })
    );
}

#[test]
fn internal_dry_run_matches_spec() {
    let objects = dry_run(
        &[
            "scripts/internal.rhai",
            "--name",
            "adminpanel",
            "--image",
            "registry/admin:2",
            "--port",
            "8080",
        ],
        &[DOMAIN, LB],
    );
    assert_eq!(
        kinds(&objects),
        [
            "Namespace adminpanel",
            "Secret wildcard-internal-wild-cloud-tls",
            "Deployment adminpanel",
            "Service adminpanel",
            "Middleware internal-only",
            "Ingress adminpanel",
        ]
    );
    assert_labels(&objects, "adminpanel", "internal.adminpanel");

    let container = &find(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry/admin:2");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], 8080);
    assert_eq!(
        find(&objects, "Service")["spec"]["ports"],
        json!([{"port": 8080, "targetPort": 8080}])
    );

    let secret = find(&objects, "Secret");
    assert_eq!(
        secret["metadata"]["annotations"]["wildrun.dev/copied-from"],
        "cert-manager/wildcard-internal-wild-cloud-tls"
    );

    let middleware = find(&objects, "Middleware");
    assert_eq!(middleware["apiVersion"], "traefik.io/v1alpha1");
    assert_eq!(middleware["metadata"]["namespace"], "adminpanel");
    assert_eq!(
        middleware["spec"]["ipAllowList"]["sourceRange"],
        json!(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
    );

    let ingress = find(&objects, "Ingress");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "adminpanel.internal.cloud.example.com"
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"],
        8080
    );
    assert_eq!(
        ingress["spec"]["tls"][0]["secretName"],
        "wildcard-internal-wild-cloud-tls"
    );
    assert_eq!(
        ingress["metadata"]["annotations"],
        json!({
            "external-dns.alpha.kubernetes.io/target": "192.168.8.240",
            "external-dns.alpha.kubernetes.io/ttl": "60",
            "external-dns.kubernetes.io/target": "192.168.8.240",
            "external-dns.kubernetes.io/ttl": "60",
            "traefik.ingress.kubernetes.io/router.middlewares": "adminpanel-internal-only@kubernetescrd",
        })
    );
}

#[test]
fn namespace_parameter_and_config_file_are_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wildrun.yaml"),
        "cloud:\n  domain: lab.example.org\n  internalDomain: in.lab.example.org\ncluster:\n  loadBalancerIp: 10.1.2.3\n  internalSourceRanges: [10.0.0.0/8]\ningress:\n  className: edge\ndns:\n  ttl: 300\ntls:\n  sourceNamespace: certs\n  internalSecret: lab-internal-tls\n  issuer: lab-ca\n",
    )
    .unwrap();
    let script = repo().join("scripts/internal.rhai");
    let out = wildrun_in(
        dir.path(),
        &[
            script.to_str().unwrap(),
            "--name",
            "wiki",
            "--namespace",
            "tools",
            "--dry-run",
            "-o",
            "json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let objects: Vec<Value> =
        serde_json::from_slice(&out.stdout).expect("-o json prints one JSON array");
    let ingress = find(&objects, "Ingress");
    assert_eq!(ingress["metadata"]["namespace"], "tools");
    assert_eq!(ingress["spec"]["ingressClassName"], "edge");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "wiki.in.lab.example.org"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/target"],
        "10.1.2.3"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/ttl"],
        "300"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"],
        "tools-internal-only@kubernetescrd"
    );
    assert_eq!(
        find(&objects, "Secret")["metadata"]["annotations"]["wildrun.dev/copied-from"],
        "certs/lab-internal-tls"
    );
    assert_eq!(
        find(&objects, "Middleware")["spec"]["ipAllowList"]["sourceRange"],
        json!(["10.0.0.0/8"])
    );
    assert_eq!(find(&objects, "Namespace")["metadata"]["name"], "tools");
}

#[test]
fn environment_overrides_file_and_set_overrides_environment() {
    let out = wildrun(
        &[
            "scripts/public.rhai",
            "--name",
            "a",
            "--dry-run",
            "-o",
            "json",
            "--set",
            "cloud.domain=set.example.net",
            "--set",
            "dns.ttl=5",
        ],
        &[
            ("WILDRUN_CONFIG", "tests/fixtures/typo-config.yaml"),
            ("CLOUD_DOMAIN", "env.example.net"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let objects: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ingress = find(&objects, "Ingress");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "a.set.example.net");
    assert_eq!(
        ingress["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/ttl"],
        "5"
    );
}

#[test]
fn dry_run_is_deterministic() {
    let args = ["scripts/internal.rhai", "--name", "x", "--dry-run"];
    let first = wildrun(&args, &[DOMAIN, LB]);
    let second = wildrun(&args, &[DOMAIN, LB]);
    assert!(first.status.success());
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn recipe_help_lists_parameters() {
    let out = wildrun(&["scripts/internal.rhai", "--help"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "--name <label>",
        "(required)",
        "--namespace <label>",
        "--image <string>",
        "[default: nginx:latest]",
        "--port <port>",
        "[default: 80]",
        "--replicas <int>",
        "internal networks",
    ] {
        assert!(text.contains(expected), "help lacks {expected:?}:\n{text}");
    }
}

#[test]
fn program_help_and_version() {
    let out = wildrun(&["--help"], &[]);
    assert!(out.status.success());
    for option in [
        "--config",
        "--set",
        "--dry-run",
        "--diff",
        "--delete",
        "--prune",
        "--watch",
        "--context",
        "--kubeconfig",
        "--output",
        "--verbose",
        "--quiet",
    ] {
        assert!(stdout(&out).contains(option), "--help lacks {option}");
    }
    let out = wildrun(&["--version"], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains(env!("CARGO_PKG_VERSION")));
}

/// Runs a failing command and checks: exit code, nothing on stdout, and the
/// expected fragments in the message.
fn assert_fails(args: &[&str], env: &[(&str, &str)], code: i32, expected: &[&str]) {
    let out = wildrun(args, env);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "wildrun {args:?}: {err}");
    assert!(
        out.stdout.is_empty(),
        "wildrun {args:?} printed manifests: {}",
        stdout(&out)
    );
    for e in expected {
        assert!(
            err.contains(e),
            "wildrun {args:?}: message lacks {e:?}:\n{err}"
        );
    }
}

#[test]
fn the_longest_valid_name_deploys_with_an_instance_label_that_fits() {
    let name = "a".repeat(63);
    let mut labels = Vec::new();
    for recipe in ["scripts/public.rhai", "scripts/internal.rhai"] {
        let objects = dry_run(&[recipe, "--name", &name], &[DOMAIN, LB]);
        let label = objects[0]["metadata"]["labels"]["wildrun.dev/instance"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(label.len() <= 63, "{label}");
        assert_labels(&objects, &name, &label);
        labels.push(label);
    }
    assert_ne!(
        labels[0], labels[1],
        "each recipe's instance has its own label"
    );
    let again = dry_run(&["scripts/public.rhai", "--name", &name], &[DOMAIN, LB]);
    assert_eq!(
        again[0]["metadata"]["labels"]["wildrun.dev/instance"],
        json!(labels[0]),
        "the same name gets the same label, so --delete and --prune find it"
    );
}

#[test]
fn bad_names_are_usage_errors() {
    let long = "a".repeat(64);
    for (name, why) in [
        ("My_App", "contains 'M'"),
        (long.as_str(), "64 characters"),
        ("", "must not be empty"),
    ] {
        assert_fails(
            &["scripts/public.rhai", "--name", name, "--dry-run"],
            &[DOMAIN],
            2,
            &["--name", why],
        );
    }
}

#[test]
fn bad_ports_are_usage_errors() {
    for port in ["0", "70000", "abc"] {
        assert_fails(
            &[
                "scripts/public.rhai",
                "--name",
                "a",
                "--port",
                port,
                "--dry-run",
            ],
            &[DOMAIN],
            2,
            &["--port", "not a port number"],
        );
    }
}

#[test]
fn unknown_and_missing_parameters() {
    assert_fails(
        &["scripts/public.rhai", "--nmae", "a", "--dry-run"],
        &[DOMAIN],
        2,
        &["unknown parameter --nmae", "did you mean --name?"],
    );
    assert_fails(
        &["scripts/public.rhai", "--dry-run"],
        &[DOMAIN],
        2,
        &["missing required parameter --name"],
    );
    assert_fails(&["--dry-run"], &[DOMAIN], 2, &["no recipe given"]);
    assert_fails(
        &["scripts/nope.rhai", "--dry-run"],
        &[DOMAIN],
        2,
        &["scripts/nope.rhai does not exist"],
    );
    assert_fails(
        &["--no-such-option", "scripts/public.rhai"],
        &[DOMAIN],
        2,
        &["--no-such-option"],
    );
}

#[test]
fn missing_configuration_names_the_three_ways() {
    assert_fails(
        &["scripts/public.rhai", "--name", "a", "--dry-run"],
        &[],
        1,
        &[
            "cloud.domain is not set",
            "wildrun.yaml",
            "CLOUD_DOMAIN",
            "--set cloud.domain=",
        ],
    );
    // internal.rhai with nothing configured names the domain the same way.
    assert_fails(
        &["scripts/internal.rhai", "--name", "a", "--dry-run"],
        &[],
        1,
        &[
            "cloud.domain is not set",
            "wildrun.yaml",
            "CLOUD_DOMAIN",
            "--set cloud.domain=",
        ],
    );
    assert_fails(
        &["scripts/internal.rhai", "--name", "a", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "scripts/internal.rhai:",
            "cluster.loadBalancerIp is not set",
            "CLUSTER_LOAD_BALANCER_IP",
            "--set cluster.loadBalancerIp=",
        ],
    );
}

#[test]
fn malformed_config_file_reports_line_and_column() {
    assert_fails(
        &[
            "--config",
            "tests/fixtures/bad-config.yaml",
            "scripts/public.rhai",
            "--name",
            "a",
            "--dry-run",
        ],
        &[],
        1,
        &["tests/fixtures/bad-config.yaml:4:"],
    );
}

#[test]
fn a_bad_value_in_a_config_file_is_placed_at_its_line_and_column() {
    // Block style, flow style, and a wild-cloud key read as wildrun's.
    let cases = [
        (
            "cloud:\n  domain: example.com\ncluster:\n  loadBalancerIp: 300.1.2.3\n",
            "wildrun.yaml:4:19: configuration key cluster.loadBalancerIp: \"300.1.2.3\" is not an IP address",
        ),
        (
            "cloud: {domain: example.com}\ncluster: {internalSourceRanges: [10.0.0.0/33]}\n",
            "wildrun.yaml:2:33: configuration key cluster.internalSourceRanges: prefix length \"33\" is not between 0 and 32",
        ),
        (
            "cloud:\n  domain: example.com\ncluster:\n  name: lab\n  ipAddressPool: lan\n",
            "wildrun.yaml:5:18 (cluster.ipAddressPool): configuration key cluster.addressPool: \"lan\" is not an address range",
        ),
    ];
    for (text, expected) in cases {
        let dir = folder(&[("wildrun.yaml", text)]);
        let out = wildrun_in(
            dir.path(),
            &[
                repo().join("scripts/public.rhai").to_str().unwrap(),
                "--name",
                "a",
                "--dry-run",
            ],
            &[],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(err.contains(expected), "{text}: {err}");
        assert!(stdout(&out).is_empty(), "{text}: nothing is rendered");
    }
}

#[test]
fn unknown_config_key_warns_with_suggestion() {
    let out = wildrun(
        &[
            "--config",
            "tests/fixtures/typo-config.yaml",
            "scripts/public.rhai",
            "--name",
            "a",
            "--dry-run",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: tests/fixtures/typo-config.yaml: unknown configuration key dns.tll (did you mean dns.ttl?)"), "{}", stderr(&out));
}

/// A wild-cloud instance's config.yaml, read as it is.
const WILD_CLOUD_CONFIG: &str = "tests/fixtures/wild-cloud-config.yaml";

/// The object of `kind` named `name`.
fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", kinds(objects)))
}

#[test]
fn a_wild_cloud_config_drives_the_layer_and_both_service_recipes() {
    let config = ["--config", WILD_CLOUD_CONFIG];

    let layer = dry_run(&[&config[..], &["scripts/cluster.rhai"]].concat(), &[]);
    // cluster.ipAddressPool, operator.email, cloud.internalDomain,
    // cluster.externalDns.ownerId, cluster.certManager.cloudflare.domain.
    assert_eq!(
        named(&layer, "IPAddressPool", "wildrun")["spec"]["addresses"],
        json!(["192.168.8.240-192.168.8.250"])
    );
    assert_eq!(
        named(&layer, "ClusterIssuer", "letsencrypt-prod")["spec"]["acme"]["email"],
        "ops@example.com"
    );
    assert_eq!(
        named(&layer, "Certificate", "wildcard-internal-wild-cloud")["spec"]["dnsNames"],
        json!(["*.local.cloud.example.com", "local.cloud.example.com"])
    );
    assert_eq!(
        named(&layer, "Certificate", "wildcard-wild-cloud")["spec"]["dnsNames"],
        json!(["*.cloud.example.com", "cloud.example.com"])
    );
    let args = &named(&layer, "Deployment", "external-dns")["spec"]["template"]["spec"]
        ["containers"][0]["args"];
    for arg in [
        "--txt-owner-id=wild-cloud-home",
        "--domain-filter=example.com",
    ] {
        assert!(
            args.as_array().is_some_and(|a| a.contains(&json!(arg))),
            "{arg} not in {args}"
        );
    }
    assert_eq!(
        named(&layer, "Service", "traefik")["metadata"]["annotations"]
            ["metallb.io/loadBalancerIPs"],
        "192.168.8.240"
    );

    let public = dry_run(
        &[&config[..], &["scripts/public.rhai", "--name", "x"]].concat(),
        &[],
    );
    let ingress = find(&public, "Ingress");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "x.cloud.example.com");
    assert_eq!(
        ingress["metadata"]["annotations"]["external-dns.kubernetes.io/target"],
        "cloud.example.com"
    );

    let internal = dry_run(
        &[&config[..], &["scripts/internal.rhai", "--name", "x"]].concat(),
        &[],
    );
    let ingress = find(&internal, "Ingress");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "x.local.cloud.example.com"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["external-dns.kubernetes.io/target"],
        "192.168.8.240"
    );
    assert_eq!(
        find(&internal, "Secret")["metadata"]["annotations"]["wildrun.dev/copied-from"],
        "cert-manager/wildcard-internal-wild-cloud-tls"
    );
}

#[test]
fn a_wild_cloud_config_is_read_quietly_and_its_mapping_said_at_v() {
    let args = [
        "--config",
        WILD_CLOUD_CONFIG,
        "scripts/cluster.rhai",
        "--dry-run",
    ];
    let out = wildrun(&args, &[]);
    let quiet = stderr(&out);
    assert!(out.status.success(), "{quiet}");
    assert!(!quiet.contains("unknown configuration key"), "{quiet}");
    assert!(!quiet.contains(" → "), "said without -v: {quiet}");

    let out = wildrun(&[&args[..], &["-v"]].concat(), &[]);
    let verbose = stderr(&out);
    assert!(out.status.success(), "{verbose}");
    for line in [
        "cluster.ipAddressPool → cluster.addressPool",
        "cluster.externalDns.ownerId → dns.ownerId",
        "operator.email → tls.acmeEmail",
        "cluster.certManager.cloudflare.domain → dns.zones",
    ] {
        assert_eq!(verbose.matches(line).count(), 1, "{line}: {verbose}");
    }
    assert!(
        verbose.contains("read as a wild-cloud config.yaml") && verbose.contains("cluster.nodes"),
        "{verbose}"
    );
}

#[test]
fn script_errors_name_file_and_line() {
    assert_fails(
        &["tests/fixtures/syntax-error.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &["tests/fixtures/syntax-error.rhai:3:", "syntax error"],
    );
    assert_fails(
        &["tests/fixtures/throws.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/throws.rhai:3:",
            "cannot deploy: the database is not ready",
        ],
    );
    assert_fails(
        &["tests/fixtures/endless-loop.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/endless-loop.rhai:3:",
            "stopped after",
            "operations",
        ],
    );
}

#[test]
fn rhais_raw_messages_come_in_plain_words_with_the_way_out() {
    assert_fails(
        &["tests/fixtures/reserved-key.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/reserved-key.rhai:2:",
            "'match' is a reserved keyword",
            r#"#{ "match": ... }"#,
        ],
    );
    assert_fails(
        &["tests/fixtures/missing-section.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/missing-section.rhai:3:",
            "cannot read .gitea: the value before it is missing",
            "?.gitea",
        ],
    );
}

#[test]
fn files_read_gives_a_files_text_unchanged_inside_the_sandbox_only() {
    let out = wildrun(&["tests/fixtures/files/read.rhai", "--dry-run"], &[DOMAIN]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[server]\nDOMAIN = git.example.com\nROOT_URL = https://git.example.com/\n\n"
    );
    assert_fails(
        &["tests/fixtures/files/as-yaml.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/files/as-yaml.rhai:2:",
            "app.ini.tmpl:",
            "probably a Helm/Go or Jinja template",
            "files::read",
        ],
    );
    assert_fails(
        &["tests/fixtures/files/outside.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/files/outside.rhai:2:",
            "files::read:",
            "--allow-read",
        ],
    );
}

#[test]
fn template_with_undefined_variable() {
    assert_fails(
        &["tests/fixtures/undefined-var.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/undefined-var.rhai:2:",
            "service.yaml.tmpl:5: variable NAMESPACE is not defined",
        ],
    );
}

#[test]
fn template_and_yaml_become_typed_objects() {
    let objects = dry_run(&["tests/fixtures/template-ok.rhai"], &[DOMAIN]);
    assert_eq!(kinds(&objects), ["Service web"]);
    assert_eq!(objects[0]["metadata"]["namespace"], "shop");
    assert_eq!(
        objects[0]["metadata"]["labels"]["wildrun.dev/instance"],
        "template-ok"
    );
}

#[test]
fn unknown_field_and_wrong_type_name_the_path_and_line() {
    assert_fails(
        &["tests/fixtures/unknown-field.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/unknown-field.rhai:2:",
            "Deployment myservice: unknown field spec.replica (did you mean replicas?)",
        ],
    );
    assert_fails(
        &["tests/fixtures/wrong-type.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/wrong-type.rhai:2:",
            "Service web: spec.ports[0].protocol: invalid type",
        ],
    );
}

#[test]
fn gateway_api_kinds_are_typed_objects() {
    assert_fails(
        &["tests/fixtures/httproute-unknown-field.rhai", "--dry-run"],
        &[DOMAIN],
        1,
        &[
            "tests/fixtures/httproute-unknown-field.rhai:2:",
            "HTTPRoute web: unknown field spec.rules[0].backendRef (did you mean backendRefs?)",
        ],
    );
}

/// `ingress.api: gateway`, set by its environment variable.
const GATEWAY_API: (&str, &str) = ("INGRESS_API", "gateway");

#[test]
fn with_the_gateway_api_the_service_recipes_render_an_httproute_and_no_secret_copy() {
    let internal = dry_run(
        &["scripts/internal.rhai", "--name", "web"],
        &[DOMAIN, LB, GATEWAY_API],
    );
    assert_eq!(
        kinds(&internal),
        [
            "Namespace web",
            "Deployment web",
            "Service web",
            "Middleware internal-only",
            "HTTPRoute web"
        ]
    );
    let route = named(&internal, "HTTPRoute", "web");
    assert_eq!(
        route["spec"]["parentRefs"],
        json!([{"name": "internal", "namespace": "traefik", "sectionName": "https"}])
    );
    assert_eq!(
        route["spec"]["hostnames"],
        json!(["web.internal.cloud.example.com"])
    );
    let rule = &route["spec"]["rules"][0];
    assert_eq!(rule["backendRefs"], json!([{"name": "web", "port": 80}]));
    assert_eq!(
        rule["filters"],
        json!([{"type": "ExtensionRef", "extensionRef":
            {"group": "traefik.io", "kind": "Middleware", "name": "internal-only"}}])
    );

    let public = dry_run(
        &["scripts/public.rhai", "--name", "web"],
        &[DOMAIN, GATEWAY_API],
    );
    let route = named(&public, "HTTPRoute", "web");
    assert_eq!(route["spec"]["parentRefs"][0]["name"], "public");
    assert!(
        route["spec"]["rules"][0].get("filters").is_none(),
        "{route}"
    );
    assert!(!kinds(&public)
        .iter()
        .any(|k| k.starts_with("Secret") || k.starts_with("Ingress")));

    // A value that is not a routing API is refused, with the nearest one.
    assert_fails(
        &["scripts/public.rhai", "--name", "web", "--dry-run"],
        &[DOMAIN, ("INGRESS_API", "gatway")],
        1,
        &["configuration key ingress.api", "did you mean gateway?"],
    );
}

/// `--probe false` takes the readiness probe away and changes nothing
/// else: both bundled recipes, both routing APIs.
#[test]
fn probe_false_drops_only_the_readiness_probe() {
    for recipe in ["scripts/public.rhai", "scripts/internal.rhai"] {
        for api in ["ingress", "gateway"] {
            let env = [DOMAIN, LB, ("INGRESS_API", api)];
            let with = dry_run(&[recipe, "--name", "web"], &env);
            let mut without = dry_run(&[recipe, "--name", "web", "--probe", "false"], &env);
            let container = &mut without
                .iter_mut()
                .find(|o| o["kind"] == "Deployment")
                .expect("a Deployment")["spec"]["template"]["spec"]["containers"][0];
            assert!(container.get("readinessProbe").is_none(), "{container}");
            container["readinessProbe"] = json!({"httpGet": {"path": "/", "port": 80}});
            assert_eq!(with, without, "{recipe} {api}");
        }
    }
}

/// `--host` and `--domain` put a bundled recipe's service on another
/// host, on the Ingress and on the HTTPRoute alike; the DNS target stays
/// the configured one, and a host the wildcard does not cover is warned
/// about.
#[test]
fn host_and_domain_parameters_move_the_service() {
    for (recipe, target) in [
        ("scripts/public.rhai", "cloud.example.com"),
        ("scripts/internal.rhai", "192.168.8.240"),
    ] {
        let objects = dry_run(
            &[recipe, "--name", "web", "--host", "shop.cloud.example.com"],
            &[DOMAIN, LB],
        );
        let ingress = find(&objects, "Ingress");
        assert_eq!(
            ingress["spec"]["rules"][0]["host"],
            "shop.cloud.example.com"
        );
        assert_eq!(
            ingress["spec"]["tls"][0]["hosts"],
            json!(["shop.cloud.example.com"])
        );
        assert_eq!(
            ingress["metadata"]["annotations"]["external-dns.kubernetes.io/target"],
            target
        );
        let objects = dry_run(
            &[recipe, "--name", "web", "--domain", "shop.example.org"],
            &[DOMAIN, LB, GATEWAY_API],
        );
        let route = find(&objects, "HTTPRoute");
        assert_eq!(route["spec"]["hostnames"], json!(["web.shop.example.org"]));
    }
    let out = wildrun(
        &[
            "scripts/public.rhai",
            "--name",
            "web",
            "--domain",
            "example.org",
            "--dry-run",
        ],
        &[DOMAIN],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "web.example.org is not covered by wildcard-wild-cloud-tls (*.cloud.example.com)"
        ),
        "{}",
        stderr(&out)
    );
    let out = wildrun(
        &[
            "scripts/public.rhai",
            "--name",
            "web",
            "--host",
            "a.cloud.example.com",
            "--dry-run",
        ],
        &[DOMAIN],
    );
    assert!(!stderr(&out).contains("is not covered"), "{}", stderr(&out));
}

/// The builders' keys, on both routes: named ports, a Service port other
/// than the container's, several hosts and paths, probes, resources.
const BUILDERS: &str = r#"
import "visibility" as vis;
fn params() {
    import "visibility" as vis;
    vis::service_params_with(#{ port: 3000, image: "gitea/gitea:1.22.0" })
}
let svc = vis::inputs(args, config, "internal");
svc = vis::override(svc, #{ ports: [#{ name: "http", port: 80, container_port: 3000 }, #{ name: "ssh", container_port: 2222 }] });
svc.hosts = [svc.host, `git.${svc.domain}`];
svc.paths = [#{ path: "/" }, #{ path: "/api", service: "api", port: 8080 }];
svc.liveness = vis::http_probe("/healthz", "http");
svc.resources = #{ requests: #{ cpu: "100m" }, limits: #{ memory: "256Mi" } };
vis::deploy(svc);
let worker = vis::component(svc, "worker", #{ image: "busybox:1" });
kube::apply(vis::deployment(worker));
"#;

#[test]
fn the_builders_make_what_real_apps_need_on_either_route() {
    let dir = folder(&[("app.rhai", BUILDERS)]);
    let run = |api: &str| {
        let out = wildrun_in(
            dir.path(),
            &["app.rhai", "--name", "gitea", "--dry-run"],
            &[DOMAIN, LB, ("INGRESS_API", api)],
        );
        assert!(out.status.success(), "{api}: {}", stderr(&out));
        wildrun::yaml::parse_documents(&stdout(&out), "stdout").expect("YAML")
    };
    let objects = run("ingress");
    let deployment = named(&objects, "Deployment", "gitea");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "gitea/gitea:1.22.0");
    assert_eq!(
        container["ports"],
        json!([{"containerPort": 3000, "name": "http"}, {"containerPort": 2222, "name": "ssh"}])
    );
    assert_eq!(
        container["readinessProbe"],
        json!({"httpGet": {"path": "/", "port": "http"}})
    );
    assert_eq!(
        container["livenessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": "http"}})
    );
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi"}})
    );
    assert_eq!(
        named(&objects, "Service", "gitea")["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": 3000}, {"name": "ssh", "port": 2222, "targetPort": 2222}])
    );
    // The worker: the instance's labels, a selector of its own, no port,
    // no probe, no Service.
    let worker = named(&objects, "Deployment", "worker");
    assert_eq!(
        worker["metadata"]["labels"]["wildrun.dev/instance"],
        "app.gitea"
    );
    assert_eq!(
        worker["spec"]["selector"]["matchLabels"],
        json!({"app": "worker"})
    );
    assert_eq!(
        worker["spec"]["template"]["spec"]["containers"],
        json!([{"name": "worker", "image": "busybox:1"}])
    );
    assert!(!kinds(&objects).contains(&"Service worker".to_string()));

    let hosts = json!([
        "gitea.internal.cloud.example.com",
        "git.internal.cloud.example.com"
    ]);
    let ingress = named(&objects, "Ingress", "gitea");
    let paths = json!([
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "gitea", "port": {"number": 80}}}},
        {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
    ]);
    let rules = ingress["spec"]["rules"].as_array().expect("rules");
    assert_eq!(
        rules.iter().map(|r| r["host"].clone()).collect::<Vec<_>>(),
        hosts.as_array().expect("hosts").clone()
    );
    assert!(
        rules.iter().all(|r| r["http"]["paths"] == paths),
        "{ingress}"
    );
    assert_eq!(ingress["spec"]["tls"][0]["hosts"], hosts);

    // The HTTPRoute says the same: both hosts, a rule per path, each
    // with the internal-only filter.
    let objects = run("gateway");
    let route = named(&objects, "HTTPRoute", "gitea");
    assert_eq!(route["spec"]["hostnames"], hosts);
    let rules = route["spec"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 2, "{route}");
    assert_eq!(
        rules[1]["matches"],
        json!([{"path": {"type": "PathPrefix", "value": "/api"}}])
    );
    assert_eq!(
        rules[1]["backendRefs"],
        json!([{"name": "api", "port": 8080}])
    );
    assert!(
        rules
            .iter()
            .all(|r| r["filters"][0]["type"] == "ExtensionRef"),
        "{route}"
    );
}

/// `service_port`: the Service listens on another port than the
/// container; the route goes to the Service's, the probe to the
/// container's.
#[test]
fn a_service_port_other_than_the_containers() {
    let script = "import \"visibility\" as vis;\n\
                  fn params() { import \"visibility\" as vis; vis::service_params() }\n\
                  let svc = vis::inputs(args, config, \"public\");\n\
                  svc.service_port = 80;\n\
                  vis::deploy(svc);\n";
    let dir = folder(&[("app.rhai", script)]);
    let out = wildrun_in(
        dir.path(),
        &[
            "app.rhai",
            "--name",
            "immich",
            "--port",
            "2283",
            "--dry-run",
        ],
        &[DOMAIN],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let objects = wildrun::yaml::parse_documents(&stdout(&out), "stdout").expect("YAML");
    assert_eq!(
        find(&objects, "Service")["spec"]["ports"],
        json!([{"port": 80, "targetPort": 2283}])
    );
    let container = &find(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["ports"], json!([{"containerPort": 2283}]));
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], 2283);
    assert_eq!(
        find(&objects, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"],
        json!({"name": "immich", "port": {"number": 80}})
    );
}

/// A misspelt key or parameter is an error naming it, not ignored.
#[test]
fn the_builders_refuse_keys_they_do_not_have() {
    for (code, expected) in [
        (
            "let svc = vis::override(vis::inputs(args, config, \"public\"), #{ prot: 81 });",
            "vis::override: \"prot\" is not a key of the service map",
        ),
        (
            "let p = vis::service_params_with(#{ imgae: \"x\" });",
            "service_params_with: no parameter \"imgae\"",
        ),
        (
            "let svc = vis::component(vis::inputs(args, config, \"public\"), \"worker\"); kube::apply(vis::cluster_service(svc));",
            "component worker has no ports",
        ),
    ] {
        let script = format!(
            "import \"visibility\" as vis;\nfn params() {{ import \"visibility\" as vis; vis::service_params() }}\n{code}\n"
        );
        let dir = folder(&[("app.rhai", script.as_str())]);
        let out = wildrun_in(dir.path(), &["app.rhai", "--name", "x", "--dry-run"], &[DOMAIN]);
        assert_eq!(out.status.code(), Some(1), "{code}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{code}: {}", stderr(&out));
    }
}

#[test]
fn with_the_gateway_api_the_layer_renders_its_gateways() {
    let env = [
        DOMAIN,
        LB,
        ("CLUSTER_ADDRESS_POOL", "192.168.8.240/29"),
        ("TLS_ACME_EMAIL", "ops@example.com"),
        GATEWAY_API,
    ];
    let layer = dry_run(&["scripts/cluster.rhai"], &env);
    assert_eq!(
        named(&layer, "GatewayClass", "traefik")["spec"]["controllerName"],
        "traefik.io/gateway-controller"
    );
    // One Gateway per visibility path, each with its own ExternalDNS target.
    for (name, host, target, secret) in [
        (
            "public",
            "*.cloud.example.com",
            "cloud.example.com",
            "wildcard-wild-cloud-tls",
        ),
        (
            "internal",
            "*.internal.cloud.example.com",
            "192.168.8.240",
            "wildcard-internal-wild-cloud-tls",
        ),
    ] {
        let gateway = named(&layer, "Gateway", name);
        assert_eq!(gateway["metadata"]["namespace"], "traefik");
        assert_eq!(
            gateway["metadata"]["annotations"]["external-dns.kubernetes.io/target"],
            target
        );
        let listener = &gateway["spec"]["listeners"][0];
        assert_eq!(listener["name"], "https");
        assert_eq!(listener["hostname"], host);
        assert_eq!(listener["protocol"], "HTTPS");
        assert_eq!(listener["port"], 443);
        assert_eq!(
            listener["tls"]["certificateRefs"],
            json!([{"kind": "Secret", "name": secret, "namespace": "cert-manager"}])
        );
        assert_eq!(listener["allowedRoutes"]["namespaces"]["from"], "All");
    }
    // The Gateways (namespace traefik) may use the Secrets in cert-manager.
    let grant = named(&layer, "ReferenceGrant", "wildrun-gateways");
    assert_eq!(grant["metadata"]["namespace"], "cert-manager");
    assert_eq!(
        grant["spec"]["from"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "traefik"}])
    );
    let args = &named(&layer, "Deployment", "external-dns")["spec"]["template"]["spec"]
        ["containers"][0]["args"];
    assert!(
        args.as_array()
            .is_some_and(|a| a.contains(&json!("--source=gateway-httproute"))),
        "{args}"
    );
    let rules = &named(&layer, "ClusterRole", "external-dns")["rules"];
    assert!(rules.to_string().contains("httproutes"), "{rules}");

    // Without it, none of that.
    let plain = dry_run(&["scripts/cluster.rhai"], &env[..4]);
    assert!(!kinds(&plain)
        .iter()
        .any(|k| k.starts_with("Gateway") || k.starts_with("ReferenceGrant")));

    // ingress.gateways: on gives the layer the same part while the services
    // stay on Ingresses.
    let both = [&env[..4], &[("INGRESS_GATEWAYS", "on")]].concat();
    let layer_of_both = dry_run(&["scripts/cluster.rhai"], &both);
    let gateway_kinds = |objects: &[Value]| -> Vec<String> {
        kinds(objects)
            .into_iter()
            .filter(|k| k.starts_with("Gateway") || k.starts_with("ReferenceGrant"))
            .collect()
    };
    assert_eq!(gateway_kinds(&layer_of_both), gateway_kinds(&layer));
    let service = dry_run(&["scripts/public.rhai", "--name", "web"], &both);
    assert!(kinds(&service).contains(&"Ingress web".to_string()));
}

#[test]
fn errors_inside_stdlib_point_at_the_recipe_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("fork.rhai");
    std::fs::write(
        &recipe,
        "import \"visibility\" as vis;\nlet svc = vis::inputs(#{ name: \"a\", port: 70000 }, config, \"public\");\nvis::deploy(svc);\n",
    )
    .unwrap();
    let out = wildrun_in(&repo(), &[recipe.to_str().unwrap(), "--dry-run"], &[DOMAIN]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("fork.rhai:3:"), "{err}");
    assert!(err.contains("70000 is not a port number"), "{err}");
    assert!(
        err.contains("stdlib>/visibility.rhai:"),
        "the embedded stdlib frame is named: {err}"
    );
}

#[test]
fn local_module_overrides_stdlib() {
    let dir = folder(&[
        ("visibility.rhai", "fn marker() { \"local\" }\n"),
        (
            "r.rhai",
            "import \"visibility\" as vis;\nkube::ensure_namespace(vis::marker());\n",
        ),
    ]);
    let out = wildrun_in(dir.path(), &["r.rhai", "--dry-run"], &[DOMAIN]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("name: local"), "{}", stdout(&out));
}

#[test]
fn embedded_stdlib_works_outside_the_source_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("scripts/public.rhai"),
        dir.path().join("public.rhai"),
    )
    .unwrap();
    let out = wildrun_in(
        dir.path(),
        &["public.rhai", "--name", "a", "--dry-run"],
        &[DOMAIN],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("kind: Ingress"));
}

#[test]
fn option_combinations_that_make_no_sense_are_usage_errors() {
    let base = ["scripts/public.rhai", "--name", "a"];
    for (extra, why) in [
        (&["--diff", "--delete"][..], "--diff and --delete"),
        (&["--delete", "--prune"][..], "drop --prune"),
        (&["--dry-run", "--diff"][..], "contacts no cluster"),
        (&["--dry-run", "--delete"][..], "contacts no cluster"),
        (&["--dry-run=server", "--diff"][..], "drop --dry-run"),
        (
            &["--watch", "--diff"][..],
            "does not go with --diff or --delete",
        ),
        (
            &["--watch", "--delete"][..],
            "does not go with --diff or --delete",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        assert_fails(&args, &[DOMAIN], 2, &[why]);
    }
}

#[test]
fn wait_goes_only_with_an_apply() {
    let base = ["scripts/public.rhai", "--name", "a", "--wait"];
    for extra in [
        &["--dry-run"][..],
        &["--dry-run=server"][..],
        &["--diff"][..],
        &["--delete"][..],
        &["--watch"][..],
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        assert_fails(
            &args,
            &[DOMAIN],
            2,
            &[
                "--wait",
                "does not go with --dry-run, --diff, --delete or --watch",
            ],
        );
    }
    assert_fails(
        &["scripts/public.rhai", "--name", "a", "--timeout", "1m"],
        &[DOMAIN],
        2,
        &["--timeout is how long --wait waits; add --wait"],
    );
    assert_fails(
        &[
            "scripts/public.rhai",
            "--name",
            "a",
            "--wait",
            "--timeout",
            "soon",
        ],
        &[DOMAIN],
        2,
        &["\"soon\" is not a duration"],
    );
}

#[test]
fn annotation_prefix_is_configurable() {
    let prefixes = |env: &[(&str, &str)]| -> Vec<String> {
        let objects = dry_run(&["scripts/public.rhai", "--name", "a"], env);
        let ingress = find(&objects, "Ingress");
        let mut keys: Vec<String> = ingress["metadata"]["annotations"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        prefixes(&[
            DOMAIN,
            ("DNS_ANNOTATION_PREFIX", "external-dns.kubernetes.io/")
        ]),
        [
            "external-dns.kubernetes.io/target",
            "external-dns.kubernetes.io/ttl"
        ]
    );
    assert_eq!(
        prefixes(&[
            DOMAIN,
            ("DNS_ANNOTATION_PREFIX", "external-dns.alpha.kubernetes.io/")
        ]),
        [
            "external-dns.alpha.kubernetes.io/target",
            "external-dns.alpha.kubernetes.io/ttl"
        ]
    );
    assert_eq!(prefixes(&[DOMAIN]).len(), 4);
    // A value ExternalDNS does not read: the key, the source and the nearest value.
    assert_fails(
        &["scripts/public.rhai", "--name", "a", "--dry-run"],
        &[
            DOMAIN,
            ("DNS_ANNOTATION_PREFIX", "external-dns.kubernetes.io"),
        ],
        1,
        &[
            "environment variable DNS_ANNOTATION_PREFIX",
            "dns.annotationPrefix",
            "did you mean external-dns.kubernetes.io/?",
        ],
    );
}

#[test]
fn watch_with_a_command_line_error_stops_at_once() {
    assert_fails(
        &["scripts/public.rhai", "--watch", "--dry-run"],
        &[DOMAIN],
        2,
        &["missing required parameter --name"],
    );
    assert_fails(
        &["scripts/public.rhai", "--name", "a", "--watch", "--diff"],
        &[DOMAIN],
        2,
        &["does not go with --diff"],
    );
}

#[test]
fn no_cluster_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-kubeconfig");
    assert_fails(
        &[
            "scripts/public.rhai",
            "--name",
            "a",
            "--kubeconfig",
            missing.to_str().unwrap(),
        ],
        &[DOMAIN],
        1,
        &["cannot read kubeconfig", "no-such-kubeconfig"],
    );
    let home = dir.path().to_str().unwrap();
    assert_fails(
        &["scripts/public.rhai", "--name", "a"],
        &[DOMAIN, ("HOME", home), ("KUBECONFIG", "")],
        1,
        &["no cluster configuration", "--kubeconfig"],
    );
}

/// The plan of the example fork, service `hello`, with `--greeting`.
fn example_fork(greeting: &str) -> Vec<Value> {
    dry_run(
        &[
            "--config",
            "examples/wildrun.yaml",
            "examples/public-with-config.rhai",
            "--name",
            "hello",
            "--greeting",
            greeting,
        ],
        &[],
    )
}

#[test]
fn example_fork_and_configuration_work() {
    let objects = example_fork("Hi there");
    let config_map = find(&objects, "ConfigMap");
    assert_eq!(config_map["metadata"]["name"], "hello-settings");
    assert_eq!(config_map["data"]["greeting"], "Hi there");
    assert_eq!(
        find(&objects, "Ingress")["spec"]["rules"][0]["host"],
        "hello.cloud.example.com"
    );
    assert_eq!(objects.len(), 6, "{:?}", kinds(&objects));
}

#[test]
fn configuration_a_script_does_not_use_is_not_required() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.rhai"), "out::line(\"hello\");\n").unwrap();
    let out = wildrun_in(dir.path(), &["hello.rhai", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
}

#[test]
fn endless_and_huge_files_stop_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    for (name, script) in [
        ("t.rhai", "template::file(\"/dev/zero\", #{});\n"),
        ("y.rhai", "yaml::file(\"/dev/zero\");\n"),
    ] {
        std::fs::write(dir.path().join(name), script).unwrap();
        let out = wildrun_in(
            dir.path(),
            &["--allow-read", "/dev", name, "--dry-run"],
            &[],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("/dev/zero") && err.contains("16 MiB"),
            "{name}: {err}"
        );
    }
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; 17 * 1024 * 1024]).unwrap();
    std::fs::write(dir.path().join("b.rhai"), "yaml::file(\"big.yaml\");\n").unwrap();
    let out = wildrun_in(dir.path(), &["b.rhai", "--dry-run"], &[]);
    assert!(
        stderr(&out).contains("big.yaml is larger than the 16 MiB"),
        "{}",
        stderr(&out)
    );

    let out = wildrun_in(
        dir.path(),
        &["--config", "/dev/zero", "t.rhai", "--dry-run"],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("/dev/zero") && err.contains("16 MiB"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
}

#[test]
fn recipes_read_only_their_folder_tree_unless_widened() {
    let top = tempfile::tempdir().unwrap();
    let recipes = top.path().join("recipes");
    std::fs::create_dir_all(recipes.join("sub")).unwrap();
    std::fs::write(top.path().join("secret.txt"), "token").unwrap();
    std::fs::write(recipes.join("sub/ok.yaml"), "a: 1\n").unwrap();
    for (name, script) in [
        ("abs.rhai", "template::file(\"/etc/passwd\", #{});\n"),
        ("up.rhai", "template::file(\"../secret.txt\", #{});\n"),
        ("env.rhai", "yaml::file(\"/proc/self/environ\");\n"),
    ] {
        std::fs::write(recipes.join(name), script).unwrap();
        let out = wildrun_in(&recipes, &[name, "--dry-run"], &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains("outside the folders this run may read") && err.contains("--allow-read"),
            "{name}: {err}"
        );
    }
    std::fs::write(
        recipes.join("in.rhai"),
        "out::line(yaml::file(\"sub/ok.yaml\")[0].a.to_string());\n",
    )
    .unwrap();
    let out = wildrun_in(&recipes, &["in.rhai", "--dry-run"], &[]);
    assert_eq!(stdout(&out), "1\n", "{}", stderr(&out));

    std::fs::write(
        recipes.join("read.rhai"),
        "out::line(template::file(\"../secret.txt\", #{}));\n",
    )
    .unwrap();
    let top_dir = top.path().to_str().unwrap();
    let out = wildrun_in(
        &recipes,
        &["--allow-read", top_dir, "read.rhai", "--dry-run"],
        &[],
    );
    assert_eq!(stdout(&out), "token\n", "{}", stderr(&out));
    let set = format!("sandbox.allowRead={top_dir}");
    let out = wildrun_in(&recipes, &["--set", &set, "read.rhai", "--dry-run"], &[]);
    assert_eq!(stdout(&out), "token\n", "{}", stderr(&out));
    // The configuration file's folder is readable too.
    std::fs::write(top.path().join("wildrun.yaml"), "sandbox: {}\n").unwrap();
    let out = wildrun_in(&recipes, &["read.rhai", "--dry-run"], &[]);
    assert_eq!(stdout(&out), "token\n", "{}", stderr(&out));
    let out = wildrun_in(
        &recipes,
        &["--allow-read", "/no/such/dir", "read.rhai", "--dry-run"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn internal_source_ranges_empty_and_host_bits() {
    let args = ["scripts/internal.rhai", "--name", "a", "--dry-run"];
    let mut with_set = args.to_vec();
    with_set.extend(["--set", "cluster.internalSourceRanges="]);
    assert_fails(
        &with_set,
        &[DOMAIN, LB],
        1,
        &["cluster.internalSourceRanges is empty"],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("empty-ranges.yaml");
    std::fs::write(&file, "cluster:\n  internalSourceRanges: []\n").unwrap();
    let mut with_file = args.to_vec();
    with_file.extend(["--config", file.to_str().unwrap()]);
    assert_fails(
        &with_file,
        &[DOMAIN, LB],
        1,
        &["cluster.internalSourceRanges is empty"],
    );

    let mut host_bits = args.to_vec();
    host_bits.extend([
        "--set",
        "cluster.internalSourceRanges=10.0.0.1/8,192.168.0.0/16",
    ]);
    let out = wildrun(&host_bits, &[DOMAIN, LB]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("10.0.0.1/8 has host bits set; using 10.0.0.0/8"),
        "{}",
        stderr(&out)
    );
    let objects = wildrun::yaml::parse_documents(&stdout(&out), "stdout").unwrap();
    assert_eq!(
        find(&objects, "Middleware")["spec"]["ipAllowList"]["sourceRange"],
        json!(["10.0.0.0/8", "192.168.0.0/16"])
    );

    // A recipe's own Middleware with an empty list is refused too.
    std::fs::write(
        dir.path().join("mw.rhai"),
        "kube::apply(#{ apiVersion: \"traefik.io/v1alpha1\", kind: \"Middleware\",\n\
         metadata: #{ name: \"only\", namespace: \"x\" }, spec: #{ ipAllowList: #{ sourceRange: [] } } });\n",
    )
    .unwrap();
    let out = wildrun_in(dir.path(), &["mw.rhai", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("spec.ipAllowList.sourceRange is empty"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invalid_utf8_in_arguments_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"nginx:\xff1");
    let bad_set = std::ffi::OsStr::from_bytes(b"vars.team=\xfe");
    for (option, value) in [("--image", bad), ("--set", bad_set)] {
        let out = Wildrun::new()
            .args(["scripts/public.rhai", "--name", "a", "--dry-run"])
            .args([std::ffi::OsStr::new(option), value])
            .env("CLOUD_DOMAIN", "cloud.example.com")
            .output();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{option}: {err}");
        assert!(err.contains("not valid UTF-8"), "{option}: {err}");
        assert!(stdout(&out).is_empty(), "{option}: nothing is rendered");
    }
}

#[test]
fn deep_data_and_limits_are_refused_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = (b'b'..=b'h')
        .map(|c| {
            let prev = (c - 1) as char;
            let refs = vec![format!("*{prev}"); 9].join(",");
            format!("{}: &{} [{refs}]\\n", c as char, c as char)
        })
        .collect::<String>();
    for (name, script, expected) in [
        (
            "deep.rhai",
            "let m = #{}; for i in 0..300 { m = #{ a: m }; } out::json(m);\n".to_string(),
            "nested more than 100 levels deep",
        ),
        (
            // Each round copies the whole map: quadratic, stopped by CPU time.
            "grow.rhai",
            "let m = #{}; for i in 0..100000 { m = #{ a: m }; }\n".to_string(),
            "stopped after 10 s of computing",
        ),
        (
            "long.rhai",
            "let s = \"aaaaaaaa\"; loop { s += s; }\n".to_string(),
            "the script built a string longer than 16 MiB",
        ),
        (
            "bomb.rhai",
            format!("yaml::parse(\"a: &a [x,x,x,x,x,x,x,x,x]\\n{bomb}\");\n"),
            "is it an alias bomb?",
        ),
    ] {
        std::fs::write(dir.path().join(name), script).unwrap();
        let out = wildrun_in(dir.path(), &[name, "--dry-run"], &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(
            !err.contains("Length of string") && !err.contains("budget breached"),
            "{name}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{name}: nothing on stdout");
    }
}

#[test]
fn shell_completions_name_every_option() {
    for shell in ["bash", "zsh", "fish"] {
        let out = wildrun(&["--completions", shell], &[]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        for option in ["--dry-run", "--watch", "--allow-read", "--completions"] {
            // fish lists long options without their dashes.
            let name = option.trim_start_matches('-');
            assert!(text.contains(name), "{shell}: {option} missing");
        }
    }
    let out = wildrun(&["--completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn definition_files_describe_every_script_function_for_editors() {
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("defs");
    let out = wildrun(&["--definitions", defs.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut all = String::new();
    for line in stdout(&out).lines() {
        all.push_str(&std::fs::read_to_string(line).unwrap());
    }
    for function in wildrun::script::engine::script_functions() {
        let (module, name) = function.split_once("::").unwrap();
        let file = std::fs::read_to_string(defs.join(format!("{module}.d.rhai"))).unwrap();
        // A function named as a keyword (`debug`) would be written as an
        // `op`, and no script could call it.
        assert!(
            file.contains(&format!("fn {name}(")),
            "{function} missing from {module}.d.rhai"
        );
        assert!(
            !file.lines().any(|l| l.starts_with("op ")),
            "{module}.d.rhai: {file}"
        );
    }
    // Every declaration of wildrun's namespaces is well formed, as the
    // language server parses it (Rhai's own built-ins are Rhai's).
    let functions = wildrun::script::engine::script_functions();
    let modules: std::collections::BTreeSet<&str> = functions
        .iter()
        .filter_map(|f| f.split_once("::").map(|(module, _)| module))
        .collect();
    for module in modules {
        let file = std::fs::read_to_string(defs.join(format!("{module}.d.rhai"))).unwrap();
        for line in file.lines().map(str::trim).filter(|l| l.starts_with("fn ")) {
            assert!(
                well_formed_declaration(line),
                "{module}.d.rhai: malformed declaration: {line}"
            );
        }
    }
    let kube = std::fs::read_to_string(defs.join("kube.d.rhai")).unwrap();
    assert!(kube.starts_with("module kube;"), "{kube}");
    assert!(
        kube.contains("`patch: true` sets only"),
        "kube::apply's options are all described: {kube}"
    );
    assert!(
        kube.contains("/// Checks `object` and adds it to the run's plan"),
        "doc comments are carried: {kube}"
    );
    assert!(all.contains("const args"), "the recipe's args are declared");
}

/// `fn name(param: type, ...) -> type;`, strictly: the grammar of Rhai's
/// definition files (the rhai crate has no parser of them), with a type a
/// word, `?`, `()`, or a word with generic arguments (`Range<int>`),
/// brackets balanced and no stray text.
fn well_formed_declaration(line: &str) -> bool {
    fn well_formed_type(ty: &str) -> bool {
        if ty == "?" || ty == "()" {
            return true;
        }
        let (head, generic) = match ty.split_once('<') {
            Some((head, rest)) => match rest.strip_suffix('>') {
                Some(inner) => (head, Some(inner)),
                None => return false,
            },
            None => (ty, None),
        };
        let word =
            |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        word(head) && generic.is_none_or(|g| g.split(", ").all(well_formed_type))
    }
    let Some(rest) = line.strip_prefix("fn ").and_then(|r| r.strip_suffix(';')) else {
        return false;
    };
    let Some((call, returns)) = rest.rsplit_once(") -> ") else {
        return false;
    };
    let Some((_, params)) = call.split_once('(') else {
        return false;
    };
    let params_ok = params.is_empty()
        || params.split(", ").all(|p| {
            p.split_once(": ")
                .is_some_and(|(name, ty)| !name.is_empty() && well_formed_type(ty))
        });
    params_ok && well_formed_type(returns)
}

#[test]
fn a_malformed_declaration_is_caught() {
    assert!(well_formed_declaration(
        "fn list(api_version: string, kind: string) -> Array;"
    ));
    assert!(well_formed_declaration(
        "fn range(from: int, to: int) -> Range<int>;"
    ));
    assert!(well_formed_declaration(
        "fn watch(kind: string, handler: Fn) -> ();"
    ));
    assert!(!well_formed_declaration(
        "fn apply_all(objects: array) -> Array >;"
    ));
    assert!(!well_formed_declaration("fn x(a: Map >) -> ?;"));
}

#[test]
fn an_option_with_a_value_it_cannot_take_is_named_with_what_it_takes() {
    let dir = tempfile::tempdir().unwrap();
    for (script, expected) in [
        (
            "dns::resolve(\"example.test\", \"A\", #{ tcp: 3 });\n",
            "dns::resolve: option tcp must be true or false, not 3",
        ),
        (
            "https::get(\"https://example.test/\", #{ port: 0 });\n",
            "https::get: option port must be a port, 1-65535, not 0",
        ),
        (
            "dns::resolve(\"example.test\", \"A\", #{ timeout: 0 });\n",
            "dns::resolve: option timeout must be a positive number of seconds, not 0",
        ),
        (
            "https::get(\"https://example.test/\", #{ timeout: \"soon\" });\n",
            "https::get: option timeout must be a positive number of seconds, not soon",
        ),
    ] {
        std::fs::write(dir.path().join("bad.rhai"), script).unwrap();
        let out = wildrun_in(dir.path(), &["bad.rhai", "--dry-run"], &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("bad.rhai:1"), "names the line: {err}");
    }
}

#[test]
fn run_once_is_true_the_first_time_a_run_asks_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("once.rhai"),
        "fn check(name) { run::once(`check ${name}`) }\n\
         let seen = [];\n\
         for name in [\"a\", \"b\", \"a\", \"a\", \"b\", \"c\"] { seen.push(check(name)); }\n\
         out::line(`${seen}`);\n",
    )
    .unwrap();
    let out = wildrun_in(dir.path(), &["once.rhai", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "[true, true, false, false, false, true]"
    );
}

/// `--watch` re-runs a recipe on every edit; a script that calls kube::watch
/// runs until stopped by itself. Together they are a usage error (exit 2),
/// as `--prune` and `--wait` are, not an error logged while watching on.
#[test]
fn watch_with_a_script_that_calls_kube_watch_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("automation.rhai");
    std::fs::write(
        &script,
        "kube::watch(\"v1\", \"ConfigMap\", |event, object| { log::info(event); });\n",
    )
    .expect("write script");
    let out = wildrun(
        &["--watch", script.to_str().expect("utf-8 path")],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--watch does not go with a script that calls kube::watch"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_large_configuration_without_aliases_is_read() {
    // More values than the YAML parser's own default bound (250,000), as
    // the probe of issue 22 had (171,000 list items, 15 MB); the recipe
    // reads another key.
    let mut config = String::from("cloud:\n  domain: example.com\nvars:\n  hosts:\n");
    for i in 0..300_000 {
        config.push_str(&format!("  - host-{i:06}.internal.example.com\n"));
    }
    let dir = folder(&[
        ("big.yaml".to_string(), config),
        ("r.rhai".into(), "out::line(config.cloud.domain);\n".into()),
    ]);
    let out = wildrun_in(
        dir.path(),
        &["--config", "big.yaml", "r.rhai", "--dry-run"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "example.com\n");
}

#[test]
fn a_string_in_a_wrongly_typed_field_is_not_repeated() {
    // As a value read from a Secret (base64) put into a number field.
    let secret = "Q0ZUT0tFTi1zZWNyZXQtdmFsdWU=";
    let dir = folder(&[(
        "r.rhai".to_string(),
        format!(
            "let token = \"{secret}\";\n\
             kube::apply(#{{ apiVersion: \"apps/v1\", kind: \"Deployment\",\n\
               metadata: #{{ name: \"web\", namespace: \"web\" }},\n\
               spec: #{{ replicas: token, selector: #{{}}, template: #{{}} }} }});\n"
        ),
    )]);
    let out = wildrun_in(dir.path(), &["r.rhai", "--dry-run"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Deployment web: spec.replicas: invalid type: string, expected i32"),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
}

#[test]
fn an_import_cycle_is_an_error_naming_the_chain() {
    let dir = folder(&[
        ("a.rhai", "import \"b\" as b;\nfn f() { 1 }\n"),
        ("b.rhai", "import \"a\" as a;\nfn g() { 2 }\n"),
        ("r.rhai", "import \"a\" as a;\nout::line(\"ran\");\n"),
        ("self.rhai", "import \"self\" as me;\n"),
    ]);
    for (recipe, chain) in [
        ("r.rhai", "import cycle: a.rhai → b.rhai → a.rhai"),
        ("self.rhai", "import cycle: self.rhai → self.rhai"),
    ] {
        let out = wildrun_in(dir.path(), &[recipe, "--dry-run"], &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{recipe}: {err}");
        assert!(err.contains(&format!("{recipe}:1:")), "{recipe}: {err}");
        assert!(err.contains(chain), "{recipe}: {err}");
        assert!(stdout(&out).is_empty(), "{recipe}: nothing ran");
    }
}

#[test]
fn imports_nested_too_deep_are_stopped_in_plain_words() {
    let depth = wildrun::script::limits::MAX_IMPORT_DEPTH + 1;
    let mut files: Vec<(String, String)> = (0..depth)
        .map(|i| {
            (
                format!("m{i}.rhai"),
                format!("import \"m{}\" as next;\n", i + 1),
            )
        })
        .collect();
    files.push((format!("m{depth}.rhai"), "fn end() { 0 }\n".into()));
    files.push(("r.rhai".into(), "import \"m0\" as m;\n".into()));
    let dir = folder(&files);
    let out = wildrun_in(dir.path(), &["r.rhai", "--dry-run"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("imports nested more than 64 deep (r.rhai → … → m63.rhai → m64.rhai)"),
        "{err}"
    );
    // 64 modules deep is allowed.
    std::fs::write(dir.path().join("m63.rhai"), "fn end() { 0 }\n").unwrap();
    let out = wildrun_in(dir.path(), &["r.rhai", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// What the probe of issue 22 passed as `--greeting`: a quote, a line break,
/// `---` and a ClusterRoleBinding of `default` to `cluster-admin`.
const GREETING_INJECTION: &str = "Hi\"\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: pwned\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: default\n  namespace: default\n---\n# \"";

#[test]
fn a_template_value_cannot_add_documents_to_the_plan() {
    let objects = example_fork(GREETING_INJECTION);
    assert!(
        !kinds(&objects)
            .iter()
            .any(|k| k.starts_with("ClusterRoleBinding")),
        "{:?}",
        kinds(&objects)
    );
    assert_eq!(objects.len(), 6, "{:?}", kinds(&objects));
    // The value is the greeting, whole.
    assert_eq!(
        find(&objects, "ConfigMap")["data"]["greeting"],
        GREETING_INJECTION
    );
}

#[test]
fn a_template_value_that_cannot_stay_in_its_place_is_refused_with_variable_file_and_line() {
    let dir = folder(&[
        (
            "cm.yaml.tmpl",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\ndata:\n  greeting: '${GREETING}'\n",
        ),
        (
            "r.rhai",
            "kube::apply_all(yaml::parse(template::file(\"cm.yaml.tmpl\", #{ GREETING: \"a\\n---\\nkind: Secret\" })));\n",
        ),
    ]);
    let out = wildrun_in(dir.path(), &["r.rhai", "--dry-run"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("r.rhai:1:")
            && err.contains(
                "cm.yaml.tmpl:5: variable GREETING: a line break cannot stand in single quotes"
            ),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "nothing is rendered");
}

#[test]
fn recreate_is_refused_where_deleting_would_lose_what_the_object_holds() {
    let dir = folder(&[(
        "recreate.rhai",
        "let claim = #{ apiVersion: \"v1\", kind: \"PersistentVolumeClaim\", metadata: #{ name: \"data\", namespace: \"shop\" },\n\
         spec: #{ accessModes: [\"ReadWriteOnce\"], resources: #{ requests: #{ storage: \"1Gi\" } } } };\n\
         let ns = #{ apiVersion: \"v1\", kind: \"Namespace\", metadata: #{ name: \"shop\" } };\n\
         let job = #{ apiVersion: \"batch/v1\", kind: \"Job\", metadata: #{ name: \"migrate\", namespace: \"shop\" } };\n\
         if args.what == \"claim\" { kube::apply(claim, #{ recreate: true }); }\n\
         if args.what == \"ns\" { kube::apply(ns, #{ recreate: true }); }\n\
         if args.what == \"patch\" { kube::apply(job, #{ recreate: true, patch: true }); }\n\
         if args.what == \"job\" { kube::apply(job, #{ recreate: true }); }\n\
         fn params() { [#{ name: \"what\", required: true }] }\n",
    )]);
    let path = dir.path().join("recreate.rhai");
    let path = path.to_str().expect("a UTF-8 path");
    for (what, line, expected) in [
        (
            "claim",
            5,
            "would delete PersistentVolumeClaim shop/data and the data it holds",
        ),
        ("ns", 6, "would delete the Namespace and everything in it"),
        ("patch", 7, "recreate: true does not go with patch: true"),
    ] {
        assert_fails(
            &[path, "--what", what, "--dry-run"],
            &[],
            1,
            &[&format!("recreate.rhai:{line}:"), expected],
        );
    }
    let out = wildrun(&[path, "--what", "job", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_generated_secret_s_bad_settings_name_the_field_file_and_line() {
    let dir = folder(&[(
        "secret.rhai",
        "kube::ensure_namespace(\"shop\");\n\
         let keys = #{ password: #{ length: 32 }, pin: #{ length: args.length, alphabet: args.alphabet } };\n\
         kube::generated_secret(\"shop\", \"db\", #{ keys: keys });\n\
         fn params() { [#{ name: \"length\", type: \"int\", \"default\": 6 }, #{ name: \"alphabet\", \"default\": \"0123456789\" }] }\n",
    )]);
    let path = dir.path().join("secret.rhai");
    let path = path.to_str().expect("a UTF-8 path");
    for (args, expected) in [
        (
            &["--length", "0"][..],
            "keys.pin.length must be a whole number from 1 to 4096, not 0",
        ),
        (
            &["--alphabet", "0"],
            "keys.pin.alphabet must have at least 2 characters, not 1",
        ),
        (&["--alphabet", "0120"], "keys.pin.alphabet holds '0' twice"),
    ] {
        let mut all = vec![path, "--dry-run"];
        all.extend_from_slice(args);
        assert_fails(
            &all,
            &[],
            1,
            &["secret.rhai:3:", "kube::generated_secret: ", expected],
        );
    }
    // The defaults are fine; the values are masked.
    let out = wildrun(&[path, "--dry-run"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("pin: '***'") || stdout(&out).contains("pin: \"***\""),
        "{}",
        stdout(&out)
    );
}
