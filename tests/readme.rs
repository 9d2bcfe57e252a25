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
use common::command::{text, Wildrun};
use common::TestCluster;
use std::path::{Path, PathBuf};

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

fn wildrun(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Wildrun {
    Wildrun::new().in_dir(dir).args(args).envs(env)
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
    let out = wildrun(dir.path(), &all, env).output();
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
    .output();
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
    let mut bg = Background::spawn(
        wildrun(
            dir.path(),
            &["recipe.rhai"],
            &[("KUBECONFIG", kubeconfig.as_str())],
        )
        .into_command(),
    );
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

/// The doctor's fork, on a service deployed with one replica: its own
/// check is reported with the doctor's, and fails.
fn run_doctor_fork(example: &Example) {
    let cluster = TestCluster::shared();
    let kubeconfig = kubeconfig();
    let env = [
        ("KUBECONFIG", kubeconfig.as_str()),
        ("CLOUD_DOMAIN", "example.com"),
    ];
    let name = common::cluster::unique_name("readme-doctor");
    let out = wildrun(&repo(), &["scripts/public.rhai", "--name", &name], &env).output();
    assert!(out.status.success(), "deploy: {}", text(&out));
    let (dir, _) = recipe(example);
    // Only the cluster is read: no nameserver but a closed loopback port,
    // no HTTPS request.
    let out = wildrun(
        dir.path(),
        &[
            "recipe.rhai",
            "--name",
            &name,
            "--dns-server",
            "127.0.0.1:1",
            "--skip",
            "https",
        ],
        &env,
    )
    .output();
    cluster.delete_namespace_later(&name);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("✗ replicas") && all.contains("1 replica(s)"),
        "the fork's check is not reported: {all}"
    );
    assert!(
        all.contains(&format!(
            "wildrun scripts/public.rhai --name {name} --replicas 2"
        )),
        "{all}"
    );
    assert!(all.contains("✓ ingress "), "{all}");
}

/// The app of "Apply, diff, prune, delete": `examples/wiki.rhai` as it is
/// (its transcript runs that file on a plane, tests/transcripts.rs), here
/// as a dry run.
fn run_lifecycle(example: &Example) {
    let file =
        std::fs::read_to_string(repo().join("examples/wiki.rhai")).expect("examples/wiki.rhai");
    assert_eq!(
        example.code, file,
        "README.md:{}: the example is not examples/wiki.rhai",
        example.line
    );
    run_to_end(example, &["--dry-run"], &[], |_| {});
}

/// The multi-component recipe, a dry run: what its text says it makes.
fn run_components(example: &Example) {
    let (dir, _) = recipe(example);
    let out = wildrun(
        dir.path(),
        &["recipe.rhai", "--name", "shop", "--dry-run"],
        &[("CLOUD_DOMAIN", "example.com")],
    )
    .output();
    assert!(
        out.status.success(),
        "README.md:{}: the example failed: {}",
        example.line,
        text(&out)
    );
    let objects = wildrun::yaml::parse_documents(&String::from_utf8_lossy(&out.stdout), "stdout")
        .expect("YAML");
    let names = common::offline::kind_names(&objects);
    for expected in [
        "Deployment shop",
        "Deployment api",
        "Deployment worker",
        "Service shop",
        "Service api",
        "Ingress shop",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "README.md:{}: no {expected} in {names:?}",
            example.line
        );
    }
    assert!(!names.iter().any(|n| n == "Service worker"), "{names:?}");
    let ingress = objects
        .iter()
        .find(|o| o["kind"] == "Ingress")
        .expect("the Ingress");
    let hosts: Vec<&str> = ingress["spec"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["host"].as_str())
        .collect();
    assert_eq!(hosts, ["shop.example.com", "www.example.com"], "{ingress}");
    let api = objects
        .iter()
        .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "api")
        .expect("Service api");
    assert_eq!(api["spec"]["ports"][0]["port"], 80);
    assert_eq!(api["spec"]["ports"][0]["targetPort"], 3000);
}

/// Every function of stdlib/visibility.rhai is in the `vis::` table.
#[test]
fn every_function_of_the_visibility_stdlib_is_documented() {
    let source =
        std::fs::read_to_string(repo().join("stdlib/visibility.rhai")).expect("visibility.rhai");
    let documented = documented_functions();
    let mut count = 0;
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("fn ") else {
            continue;
        };
        let signature = format!(
            "vis::{}",
            &rest[..rest.find(')').map_or(rest.len(), |p| p + 1)]
        );
        count += 1;
        assert!(
            documented.iter().any(|(_, s)| *s == signature),
            "stdlib/visibility.rhai's {signature} is not in the README's vis:: table as written"
        );
    }
    assert!(count >= 20, "{count} functions");
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
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn every_rhai_example_in_the_readme_runs() {
    let examples = examples();
    assert!(examples.len() >= 6, "{examples:?}");
    for example in &examples {
        match example.marker.as_deref() {
            Some("watch") => run_watch(example),
            Some("recipe") => run_recipe(example),
            Some("fork") => run_fork(example),
            Some("cert") => run_cert(example),
            Some("doctor-fork") => run_doctor_fork(example),
            Some("lifecycle") => run_lifecycle(example),
            Some("components") => run_components(example),
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

/// The functions the README's Script API tables list, as their first
/// column writes them (`kube::get(reference)`), each with its README line.
fn documented_functions() -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = text.find("\n### Script API").expect("a Script API section") + 1;
    let end = text[start..]
        .find("\n### ")
        .map_or(text.len(), |e| start + e);
    let first_line = text[..start].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (offset, line) in text[start..end].lines().enumerate() {
        let Some(cell) = line.strip_prefix('|').and_then(|l| l.split('|').next()) else {
            continue;
        };
        for code in cell.split('`').skip(1).step_by(2) {
            if code.contains("::") && code.ends_with(')') {
                found.push((first_line + offset, code.to_string()));
            }
        }
    }
    found
}

/// How many arguments a call or a signature's parentheses hold.
fn arity(call: &str) -> usize {
    let inside = &call[call.find('(').map_or(call.len(), |i| i + 1)..];
    let (mut depth, mut count, mut any, mut in_closure_params) = (0, 0, false, false);
    for c in inside.chars() {
        match c {
            // `|a, b|`: a closure's parameters.
            '|' => in_closure_params = !in_closure_params,
            ',' if in_closure_params => {}
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => count += 1,
            c if !c.is_whitespace() => any = true,
            _ => {}
        }
    }
    if any {
        count + 1
    } else {
        0
    }
}

/// What a call of the Script API table test must give: a value, or an
/// error of the function itself (not Rhai's "Function not found").
enum Gives {
    Value,
    Error(&'static str),
}

/// A call for every signature the Script API tables list, in a `--dry-run`
/// (reading the cluster is then the function's own error), talking only to
/// loopback. Values the calls use are made by [`PRELUDE`].
const CALLS: &[(&str, &str, Gives)] = &[
    ("kube::apply(object)", "kube::apply(cm)", Gives::Value),
    ("kube::apply(object, options)", "kube::apply(deploy, #{ force: true })", Gives::Value),
    ("kube::apply_all(objects)", "kube::apply_all([#{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{ name: \"readme-2\", namespace: \"readme\" } }])", Gives::Value),
    ("kube::ensure_namespace(name)", "kube::ensure_namespace(\"readme\")", Gives::Value),
    ("kube::generated_secret(namespace, name, options)", "kube::generated_secret(\"readme\", \"readme-db\", #{ keys: #{ password: #{ length: 40 }, pin: #{ length: 6, alphabet: \"0123456789\" } } })", Gives::Value),
    ("kube::copy_secret(from_ns, name, to_ns)", "kube::copy_secret(\"cert-manager\", \"wildcard-tls\", \"readme\")", Gives::Value),
    ("kube::copy_secret(from_ns, name, to_ns, options)", "kube::copy_secret(\"cert-manager\", \"other-tls\", \"readme\", #{ type: \"kubernetes.io/tls\" })", Gives::Value),
    ("kube::get(reference)", "kube::get(cm)", Gives::Error("--dry-run")),
    ("kube::get(api_version, kind, namespace, name)", "kube::get(\"v1\", \"ConfigMap\", \"readme\", \"readme\")", Gives::Error("--dry-run")),
    ("kube::exists(reference)", "kube::exists(cm)", Gives::Error("--dry-run")),
    ("kube::exists(api_version, kind, namespace, name)", "kube::exists(\"v1\", \"ConfigMap\", \"readme\", \"readme\")", Gives::Error("--dry-run")),
    ("kube::list(api_version, kind)", "kube::list(\"v1\", \"ConfigMap\")", Gives::Error("--dry-run")),
    ("kube::list(api_version, kind, options)", "kube::list(\"v1\", \"ConfigMap\", #{ namespace: \"readme\" })", Gives::Error("--dry-run")),
    ("kube::delete(reference)", "kube::delete(#{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{ name: \"old\", namespace: \"readme\" } })", Gives::Value),
    ("kube::delete(reference, options)", "kube::delete(#{ apiVersion: \"v1\", kind: \"ConfigMap\", metadata: #{ name: \"older\", namespace: \"readme\" } }, #{ propagation: \"Foreground\" })", Gives::Value),
    ("kube::watch(api_version, kind, handler)", "kube::watch(\"v1\", \"ConfigMap\", |event, object| {})", Gives::Value),
    ("kube::watch(api_version, kind, options, handler)", "kube::watch(\"v1\", \"Secret\", #{ namespace: \"readme\" }, |event, object| {})", Gives::Value),
    ("kube::wait(reference, condition, timeout)", "kube::wait(deploy, \"rollout\", 60)", Gives::Value),
    ("template::render(text, vars)", "template::render(\"a: ${X}\\n\", #{ X: 1 })", Gives::Value),
    ("template::render(text, vars, options)", "template::render(\"x=${X}\", #{ X: \"a: b\" }, #{ text: true })", Gives::Value),
    ("template::file(path, vars)", "template::file(\"readme.yaml.tmpl\", #{ X: \"x\" })", Gives::Value),
    ("template::file(path, vars, options)", "template::file(\"readme.yaml.tmpl\", #{ X: \"x\" }, #{ text: true })", Gives::Value),
    ("yaml::parse(text)", "yaml::parse(\"a: 1\\n\")", Gives::Value),
    ("yaml::file(path)", "yaml::file(\"readme.yaml.tmpl\")", Gives::Value),
    ("files::read(path)", "files::read(\"readme.yaml.tmpl\")", Gives::Value),
    ("yaml::emit(value)", "yaml::emit(cm)", Gives::Value),
    ("yaml::emit_all(list)", "yaml::emit_all([cm, deploy])", Gives::Value),
    ("run::action()", "run::action()", Gives::Value),
    ("run::force()", "run::force()", Gives::Value),
    ("run::adopt()", "run::adopt()", Gives::Value),
    ("run::once(key)", "run::once(\"readme\")", Gives::Value),
    ("config::require(key)", "config::require(\"cloud.domain\")", Gives::Value),
    ("config::source(key)", "config::source(\"cloud.domain\")", Gives::Value),
    // In a dry run it may not read the cluster: its own error says so.
    ("discover::layer(options)", "discover::layer(#{ domain: \"example.com\" })", Gives::Error("--dry-run")),
    ("discover::identity(object)", "discover::identity(cm)", Gives::Value),
    ("discover::external_dns_release(image)", "discover::external_dns_release(\"registry.k8s.io/external-dns/external-dns:v0.14.2\")", Gives::Value),
    ("out::line(text)", "out::line(\"readme\")", Gives::Value),
    ("out::json(value)", "out::json(#{ a: 1 })", Gives::Value),
    ("out::exit_code(code)", "out::exit_code(0)", Gives::Value),
    ("log::verbose(message)", "log::verbose(\"readme\")", Gives::Value),
    ("log::info(message)", "log::info(\"readme\")", Gives::Value),
    ("log::warn(message)", "log::warn(\"readme\")", Gives::Value),
    ("log::error(message)", "log::error(\"readme\")", Gives::Value),
    // Without a server it would ask the system's nameservers: a type it
    // does not take stops it before it asks.
    ("dns::resolve(name, type)", "dns::resolve(\"readme.example.test\", \"MX\")", Gives::Error("MX")),
    ("dns::resolve(name, type, options)", "dns::resolve(\"readme.example.test\", \"A\", #{ server: \"127.0.0.1:1\", timeout: 1 })", Gives::Value),
    ("dns::expect(name, target)", "dns::expect(\"not a name!\", \"example.test\")", Gives::Error("is not a DNS name")),
    ("dns::expect(name, target, options)", "dns::expect(\"readme.example.test\", \"example.test\", #{ server: \"127.0.0.1:1\", timeout: 1 })", Gives::Value),
    ("dns::externaldns_prefix(deployment)", "dns::externaldns_prefix(deploy)", Gives::Value),
    ("dns::authority(name)", "dns::authority(\"not a name!\")", Gives::Error("is not a DNS name")),
    ("dns::authority(name, options)", "dns::authority(\"readme.example.test\", #{ server: \"127.0.0.1:1\", timeout: 1 })", Gives::Value),
    ("dns::ip_in_ranges(ip, ranges)", "dns::ip_in_ranges(\"10.0.0.1\", [\"10.0.0.0/8\"])", Gives::Value),
    ("cert::inspect(cert)", "cert::inspect(pair.cert)", Gives::Value),
    ("cert::covers(cert, host)", "cert::covers(pair.cert, \"readme.example.com\")", Gives::Value),
    ("cert::status(certificate)", "cert::status(certificate)", Gives::Value),
    ("cert::self_signed(names)", "cert::self_signed([\"a.example.com\"])", Gives::Value),
    ("cert::self_signed(names, options)", "cert::self_signed(\"a.example.com\", #{ days: 1 })", Gives::Value),
    ("cert::ca(common_name)", "cert::ca(\"readme CA\")", Gives::Value),
    ("cert::ca(common_name, options)", "cert::ca(\"readme CA\", #{ days: 30 })", Gives::Value),
    ("cert::issue(ca, names)", "cert::issue(ca, [\"a.example.com\"])", Gives::Value),
    ("cert::issue(ca, names, options)", "cert::issue(ca, [\"a.example.com\"], #{ days: 1 })", Gives::Value),
    ("https::get(url)", "https::get(\"https://127.0.0.1:1/\")", Gives::Value),
    ("https::get(url, options)", "https::get(\"https://127.0.0.1:1/\", #{ timeout: 2 })", Gives::Value),
    // The doctor's rules, on an Ingress, Service and Middleware of PRELUDE's.
    ("doctor::check(name, ok, found, hint)", "doctor::check(\"readme\", true, \"found\", ())", Gives::Value),
    ("doctor::skip(name, why)", "doctor::skip(\"readme\", \"why\")", Gives::Value),
    ("doctor::subject(inputs, ingress)", "doctor::subject(inputs, ing)", Gives::Value),
    ("doctor::ingress(s, ingress)", "doctor::ingress(s, ing)", Gives::Value),
    ("doctor::ingress_class(s, ingress)", "doctor::ingress_class(s, ing)", Gives::Value),
    ("doctor::ingress_host(s, ingress)", "doctor::ingress_host(s, ing)", Gives::Value),
    ("doctor::externaldns(s, ingress)", "doctor::externaldns(s, ing)", Gives::Value),
    ("doctor::externaldns_prefix(s, ingress, deployments)", "doctor::externaldns_prefix(s, ing, [])", Gives::Value),
    ("doctor::dns(s, expectation, server)", "doctor::dns(s, dns::expect(\"web.example.com\", \"example.com\", #{ server: \"127.0.0.1:1\", timeout: 1 }), ())", Gives::Value),
    ("doctor::service(s, ingress, service)", "doctor::service(s, ing, svc)", Gives::Value),
    ("doctor::endpoints(service, slices)", "doctor::endpoints(svc, [])", Gives::Value),
    ("doctor::tls(s, secret_name, secret)", "doctor::tls(s, \"wildcard-tls\", ())", Gives::Value),
    ("doctor::certificate(s, secret_name, certificates)", "doctor::certificate(s, \"wildcard-tls\", [])", Gives::Value),
    ("doctor::middleware(s, ingress, middleware)", "doctor::middleware(s, ing, mw)", Gives::Value),
    ("doctor::load_balancer(s, traefik, pools)", "doctor::load_balancer(s, (), [])", Gives::Value),
    ("doctor::client_address(traefik, pods, mode)", "doctor::client_address(svc, [], \"local\")", Gives::Value),
    ("doctor::traffic_policy(service)", "doctor::traffic_policy(svc)", Gives::Value),
    ("doctor::https(s, response, via, secret)", "doctor::https(s, https::get(\"https://127.0.0.1:1/\", #{ timeout: 1 }), \"the readme\", ())", Gives::Value),
    ("doctor::backend(ingress)", "doctor::backend(ing)", Gives::Value),
    ("doctor::tls_secret(ingress, host)", "doctor::tls_secret(ing, \"web.example.com\")", Gives::Value),
    ("doctor::externaldns_target(object)", "doctor::externaldns_target(ing)", Gives::Value),
    ("doctor::external_ips(service)", "doctor::external_ips(svc)", Gives::Value),
    ("doctor::host_and_path(url)", "doctor::host_and_path(\"https://web.example.com/a?b\")", Gives::Value),
    ("doctor::routes(host, path, ingresses, ingress_routes)", "doctor::routes(\"web.example.com\", \"/\", [ing], [])", Gives::Value),
    ("doctor::route_subject(inputs, route, middlewares, service)", "doctor::route_subject(inputs, route, [mw], svc)", Gives::Value),
    ("doctor::route_class(s, route, ingress_classes)", "doctor::route_class(s, route, [])", Gives::Value),
    ("doctor::route_service(s, route, service)", "doctor::route_service(s, route, svc)", Gives::Value),
    ("doctor::target_port(route, service, pods)", "doctor::target_port(route, svc, [])", Gives::Value),
    ("doctor::route_tls(s, route, secret)", "doctor::route_tls(s, route, ())", Gives::Value),
    ("doctor::middlewares(route, middlewares)", "doctor::middlewares(route, [mw])", Gives::Value),
    ("doctor::dns_address(s, lookups, traefik_ips, server)", "doctor::dns_address(s, #{ asked: dns::resolve(\"web.example.com\", \"A\", #{ server: \"127.0.0.1:1\", timeout: 1 }) }, [], ())", Gives::Value),
    ("doctor::route_externaldns(s, route, deployments, lookups, traefik_ips)", "doctor::route_externaldns(s, route, [deploy], #{}, [])", Gives::Value),
    ("doctor::route_externaldns(s, route, gateway, deployments, lookups, traefik_ips)", "doctor::route_externaldns(s, http_route, gw, [deploy], #{}, [])", Gives::Value),
    ("doctor::routes(host, path, ingresses, ingress_routes, http_routes)", "doctor::routes(\"web.example.com\", \"/\", [], [], [hr])", Gives::Value),
    // The checks of ingress.api: gateway, on an HTTPRoute and Gateway of PRELUDE's.
    ("doctor::httproute_subject(inputs, route)", "doctor::httproute_subject(inputs, hr)", Gives::Value),
    ("doctor::httproute(s, route)", "doctor::httproute(gs, hr)", Gives::Value),
    ("doctor::httproute_host(s, route)", "doctor::httproute_host(gs, hr)", Gives::Value),
    ("doctor::httproute_accepted(route, gateway)", "doctor::httproute_accepted(hr, gw)", Gives::Value),
    ("doctor::httproute_refs(route)", "doctor::httproute_refs(hr)", Gives::Value),
    ("doctor::httproute_listener(s, route, gateway)", "doctor::httproute_listener(gs, hr, gw)", Gives::Value),
    ("doctor::reference_grant(gateway, secret, grants)", "doctor::reference_grant(gw, doctor::listener_secret(hr, gw, \"web.example.com\"), [])", Gives::Value),
    ("doctor::gateway_address(s, gateway)", "doctor::gateway_address(gs, gw)", Gives::Value),
    ("doctor::externaldns_gateway(s, gateway, deployments)", "doctor::externaldns_gateway(gs, gw, [deploy])", Gives::Value),
    ("doctor::httproute_service(s, route, service)", "doctor::httproute_service(gs, hr, svc)", Gives::Value),
    ("doctor::httproute_middleware_ref(s, route)", "doctor::httproute_middleware_ref(gs, hr)", Gives::Value),
    ("doctor::httproute_parent(route)", "doctor::httproute_parent(hr)", Gives::Value),
    ("doctor::httproute_backend(route)", "doctor::httproute_backend(hr)", Gives::Value),
    ("doctor::gateway_class(name, classes)", "doctor::gateway_class(\"traefik\", [])", Gives::Value),
    ("doctor::layer_gateway(namespace, name, gateway, secret, grants, load_balancer_ip)", "doctor::layer_gateway(\"traefik\", \"public\", gw, (), [], ())", Gives::Value),
    ("doctor::externaldns_source(domain, deployments)", "doctor::externaldns_source(\"example.com\", [deploy])", Gives::Value),
    ("doctor::gateway_secret(gateway)", "doctor::gateway_secret(gw)", Gives::Value),
    ("doctor::listener_secret(route, gateway, host)", "doctor::listener_secret(hr, gw, \"web.example.com\")", Gives::Value),
    ("doctor::traefik_service(services, workloads)", "doctor::traefik_service([svc], [])", Gives::Value),
    ("doctor::probe_name(host)", "doctor::probe_name(\"web.example.com\")", Gives::Value),
    ("doctor::route_hosts(route)", "doctor::route_hosts(ing)", Gives::Value),
    ("doctor::controller(app, workloads)", "doctor::controller(\"metallb\", [deploy])", Gives::Value),
    ("doctor::externaldns_deprecations(deployment)", "doctor::externaldns_deprecations(deploy)", Gives::Value),
    ("doctor::annotation_prefixes(choice)", "doctor::annotation_prefixes(\"both\")", Gives::Value),
    ("doctor::internal_only_reference(namespace)", "doctor::internal_only_reference(\"readme\")", Gives::Value),
    ("doctor::deprecated_forms(middleware)", "doctor::deprecated_forms(mw)", Gives::Value),
    ("vis::service_params()", "vis::service_params()", Gives::Value),
    ("vis::service_params_with(defaults)", "vis::service_params_with(#{ port: 3000 })", Gives::Value),
    ("vis::service_defaults()", "vis::service_defaults()", Gives::Value),
    ("vis::inputs(args, config, visibility)", "vis::inputs(#{ name: \"web\" }, config, \"outside\")", Gives::Error("visibility must be")),
    ("vis::override(svc, changes)", "vis::override(web, #{ image: \"nginx:1\" })", Gives::Value),
    ("vis::component(svc, name)", "vis::component(web, \"worker\")", Gives::Value),
    ("vis::component(svc, name, changes)", "vis::component(web, \"api\", #{ port: 3000 })", Gives::Value),
    ("vis::ports(svc)", "vis::ports(web)", Gives::Value),
    ("vis::hosts(svc)", "vis::hosts(web)", Gives::Value),
    ("vis::paths(svc)", "vis::paths(web)", Gives::Value),
    ("vis::http_probe(path, port)", "vis::http_probe(\"/healthz\", \"http\")", Gives::Value),
    ("vis::readiness_probe(svc)", "vis::readiness_probe(web)", Gives::Value),
    ("vis::namespace(svc)", "vis::namespace(web)", Gives::Value),
    ("vis::deployment(svc)", "vis::deployment(web)", Gives::Value),
    ("vis::cluster_service(svc)", "vis::cluster_service(vis::component(web, \"worker\"))", Gives::Error("has no ports")),
    ("vis::env(vars)", "vis::env(#{ TZ: \"UTC\", PASSWORD: #{ secret: \"app-db\", key: \"password\" } })", Gives::Value),
    ("vis::volume_claim(svc, name, size)", "vis::volume_claim(web, \"data\", \"1Gi\")", Gives::Value),
    ("vis::ingress(svc)", "vis::ingress(web)", Gives::Value),
    ("vis::http_route(svc)", "vis::http_route(web)", Gives::Value),
    ("vis::internal_only_middleware(svc)", "vis::internal_only_middleware(web)", Gives::Value),
    ("vis::wildcard_certificate(svc)", "vis::wildcard_certificate(web)", Gives::Value),
    ("vis::certificate_name(secret)", "vis::certificate_name(\"wildcard-wild-cloud-tls\")", Gives::Value),
    ("vis::labels(svc)", "vis::labels(web)", Gives::Value),
    ("vis::metadata(svc, name, namespace)", "vis::metadata(web, \"web\", ())", Gives::Value),
    ("vis::annotation_prefixes(choice)", "vis::annotation_prefixes(\"both\")", Gives::Value),
    ("vis::route_annotations(svc)", "vis::route_annotations(web)", Gives::Value),
    ("vis::check_certificate(svc)", "vis::check_certificate(web)", Gives::Value),
    ("vis::check_hosts(svc)", "vis::check_hosts(web)", Gives::Value),
    ("vis::check_client_address(svc)", "vis::check_client_address(web)", Gives::Value),
    ("vis::client_address_of(traefik, mode)", "vis::client_address_of((), \"local\")", Gives::Value),
    ("vis::deploy(svc)", "vis::deploy(web)", Gives::Value),
];

/// The values [`CALLS`] use.
const PRELUDE: &str = r#"
import "visibility" as vis;
let web = vis::inputs(#{ name: "web" }, config, "public");
let cm = #{ apiVersion: "v1", kind: "ConfigMap", metadata: #{ name: "readme", namespace: "readme" }, data: #{ a: "b" } };
let deploy = #{ apiVersion: "apps/v1", kind: "Deployment", metadata: #{ name: "web", namespace: "readme" },
                spec: #{ selector: #{ matchLabels: #{ app: "web" } },
                         template: #{ metadata: #{ labels: #{ app: "web" } }, spec: #{ containers: [#{ name: "web", image: "nginx:1" }] } } } };
let certificate = #{ apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: #{ name: "c", namespace: "readme" },
                     spec: #{ secretName: "s", dnsNames: ["readme.example.com"] } };
let pair = cert::self_signed(["readme.example.com"]);
let ca = cert::ca("readme CA");
let ing = #{ apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: #{ name: "web", namespace: "readme", annotations: #{ "external-dns.alpha.kubernetes.io/target": "example.com" } },
             spec: #{ ingressClassName: "traefik", tls: [#{ hosts: ["web.example.com"], secretName: "wildcard-tls" }],
                      rules: [#{ host: "web.example.com", http: #{ paths: [#{ path: "/", pathType: "Prefix", backend: #{ service: #{ name: "web", port: #{ number: 80 } } } }] } }] } };
let svc = #{ apiVersion: "v1", kind: "Service", metadata: #{ name: "web", namespace: "readme" },
             spec: #{ selector: #{ app: "web" }, ports: [#{ name: "http", port: 80, targetPort: 8080 }] } };
let mw = #{ apiVersion: "traefik.io/v1alpha1", kind: "Middleware", metadata: #{ name: "readme-internal-only", namespace: "readme" },
            spec: #{ ipAllowList: #{ sourceRange: ["10.0.0.0/8"] } } };
let inputs = #{ name: "web", namespace: "readme", domain: "example.com", days: 30, https_port: 443 };
let s = doctor::subject(inputs, ing);
let route = doctor::routes("web.example.com", "/", [ing], []).routes[0];
let hr = #{ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: #{ name: "web", namespace: "readme" },
            spec: #{ hostnames: ["web.example.com"], parentRefs: [#{ name: "public", namespace: "traefik", sectionName: "https" }],
                     rules: [#{ backendRefs: [#{ name: "web", port: 80 }] }] } };
let gw = #{ apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway",
            metadata: #{ name: "public", namespace: "traefik", annotations: #{ "external-dns.alpha.kubernetes.io/target": "example.com" } },
            spec: #{ gatewayClassName: "traefik", listeners: [#{ name: "https", hostname: "*.example.com", port: 443, protocol: "HTTPS",
                     tls: #{ certificateRefs: [#{ name: "wildcard-tls", namespace: "cert-manager" }] } }] } };
let gs = doctor::httproute_subject(inputs, hr);
let http_route = doctor::routes("web.example.com", "/", [], [], [hr]).routes[0];
"#;

#[test]
fn every_function_the_script_api_tables_list_is_called() {
    let documented = documented_functions();
    assert!(documented.len() >= 40, "{documented:?}");
    // Each documented signature has a call here, of its arity, and parses.
    for (line, signature) in &documented {
        let Some((_, call, _)) = CALLS.iter().find(|(s, _, _)| s == signature) else {
            panic!(
                "README.md:{line} lists {signature}: add a call of it to CALLS in tests/readme.rs"
            );
        };
        let name = &signature[..signature.find('(').unwrap_or(signature.len())];
        assert!(
            call.starts_with(&format!("{name}(")) && arity(call) == arity(signature),
            "the call of {signature} is {call}"
        );
        if let Err(e) = rhai::Engine::new().compile(call) {
            panic!("README.md:{line} lists {signature}, which cannot be called: {call}: {e}");
        }
    }
    for (signature, _, _) in CALLS {
        assert!(
            documented.iter().any(|(_, s)| s == signature),
            "{signature} is in CALLS but not in the README's tables"
        );
    }
    // And every function scripts have is in the tables.
    for function in wildrun::script::engine::script_functions() {
        assert!(
            documented
                .iter()
                .any(|(_, s)| s.starts_with(&format!("{function}("))),
            "{function} is missing from the README's Script API tables"
        );
    }

    // One run calls them all, each in a `try`, and says what each gave.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("readme.yaml.tmpl"), "a: ${X}\n").expect("template");
    let mut script = PRELUDE.to_string();
    for (index, (_, call, _)) in CALLS.iter().enumerate() {
        script.push_str(&format!(
            "try {{ let result = {call}; out::line(\"call {index} gave a value\"); }} catch (e) {{ out::line(`call {index} failed: ${{e}}`); }}\n"
        ));
    }
    std::fs::write(dir.path().join("recipe.rhai"), &script).expect("write the calls");
    let out = wildrun(
        dir.path(),
        &["recipe.rhai", "--dry-run"],
        &[("CLOUD_DOMAIN", "example.com")],
    )
    .output();
    assert!(out.status.success(), "the calls failed: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (index, (signature, _, gives)) in CALLS.iter().enumerate() {
        let prefix = format!("call {index} ");
        let said = stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{signature}: no outcome: {}", text(&out)));
        match gives {
            Gives::Value => assert_eq!(said, format!("{prefix}gave a value"), "{signature}"),
            Gives::Error(expected) => assert!(
                said.starts_with(&format!("{prefix}failed: ")) && said.contains(expected),
                "{signature}: {said}"
            ),
        }
        assert!(!said.contains("Function not found"), "{signature}: {said}");
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

/// The options the README's command-line table lists (`--dry-run=server`,
/// `-o`, `--output`, ...), each with its README line.
fn documented_options() -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = text
        .find("\n## Command line")
        .expect("a Command line section")
        + 1;
    let end = text[start..]
        .find("\n## ")
        .map_or(text.len(), |e| start + e);
    let first_line = text[..start].matches('\n').count() + 1;
    let option = regex::Regex::new(r"(?:^|[\s(])(--?[a-z][a-z-]*(?:=server)?)").expect("a pattern");
    let mut found = Vec::new();
    for (offset, line) in text[start..end].lines().enumerate() {
        let Some(cell) = line.strip_prefix('|').and_then(|l| l.split('|').next()) else {
            continue;
        };
        for code in cell.split('`').skip(1).step_by(2) {
            for m in option.captures_iter(code) {
                found.push((first_line + offset, m[1].to_string()));
            }
        }
    }
    found
}

/// Every option of the command-line table is used by a test: some test
/// file passes it as an argument (`"--prune"`, `"--dry-run=server"`).
#[test]
fn every_option_the_command_line_table_lists_is_used_by_a_test() {
    let options = documented_options();
    assert!(options.len() >= 25, "{options:?}");
    let mut tests = String::new();
    for entry in std::fs::read_dir(repo().join("tests"))
        .expect("tests/")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") {
            tests.push_str(&std::fs::read_to_string(&path).expect("a test file"));
        }
    }
    let unused: Vec<String> = options
        .iter()
        .filter(|(_, option)| {
            ["\"", "=", " "]
                .iter()
                .all(|after| !tests.contains(&format!("\"{option}{after}")))
        })
        .map(|(line, option)| format!("README.md:{line}: {option}"))
        .collect();
    assert!(
        unused.is_empty(),
        "options of the command-line table no test uses: {unused:?}"
    );
}

/// `-q` drops the report (warnings stay), `-qq` the warnings too, `-vv`
/// adds the Kubernetes client's own logs; `--quiet` and `--verbose` are
/// `-q` and `-v`.
#[test]
#[cfg_attr(
    not(feature = "cluster-tests"),
    ignore = "needs what tests/run starts: the plane or a lab"
)]
fn the_verbosity_options_say_what_the_table_says() {
    let kubeconfig = kubeconfig();
    let env = [
        ("KUBECONFIG", kubeconfig.as_str()),
        ("CLOUD_DOMAIN", "example.com"),
    ];
    let name = common::cluster::unique_name("readme-verbosity");
    let stderr = |verbosity: &str| {
        let args = [
            verbosity,
            "scripts/public.rhai",
            "--name",
            &name,
            "--diff",
            "--set",
            "dns.tll=1",
        ];
        let out = wildrun(&repo(), &args, &env).output();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let warning = "unknown configuration key dns.tll";
    let report = "object(s) differ";
    for quiet in ["-q", "--quiet"] {
        let said = stderr(quiet);
        assert!(
            said.contains(warning) && !said.contains(report),
            "{quiet}: {said}"
        );
    }
    let said = stderr("-qq");
    assert!(
        !said.contains(warning) && !said.contains(report),
        "-qq: {said}"
    );
    // --verbose: where each configuration value came from (a dry run).
    let args = [
        "--verbose",
        "--config",
        "tests/fixtures/wild-cloud-config.yaml",
        "scripts/cluster.rhai",
        "--dry-run",
    ];
    let out = wildrun(&repo(), &args, &[]).output();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("debug: stdlib/layer.rhai:") && said.contains("(default)"),
        "--verbose: {said}"
    );
    let said = stderr("-vv");
    assert!(said.contains("debug: requesting"), "-vv: {said}");
}
