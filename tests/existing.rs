//! The lab's second shape, a layer wildrun did not make
//! (`tests/cluster/up --lab --existing-layer`, tests/common/lab.rs
//! [`Lab::existing`]): set up as wild-cloud's scripts set a cluster up, with
//! plain manifests applied by kubectl under that project's names, an older
//! ExternalDNS, and two apps deployed the way its app scripts deploy them.
//!
//! These tests hold the shape to what it claims, so that the work on
//! discovering and adopting such a layer (issue 18) has a tested base: no
//! wildrun label or field manager anywhere in the layer; each part under its
//! other name; the old ExternalDNS really is the old release and writes the
//! records; both apps answer 200 by name over verified HTTPS; the
//! wild-cloud-shaped configuration fixture describes this cluster.

mod common;

use common::lab::{check, text, Lab, Restore};
use serde_json::{json, Value};

/// The namespaces of the existing layer and its apps.
const LAYER_NAMESPACES: [&str; 6] = [
    "metallb-system",
    "traefik",
    "cert-manager",
    "externaldns",
    "gitea",
    "whoami",
];

/// The kinds of object the layer and the apps are made of, per namespace.
const NAMESPACED_KINDS: &str = "deployments,services,ingresses,secrets,serviceaccounts,\
    ipaddresspools.metallb.io,l2advertisements.metallb.io,certificates.cert-manager.io,\
    ingressroutes.traefik.io";

/// The wild-cloud-shaped configuration fixture.
const WILD_CLOUD_CONFIG: &str = "tests/fixtures/wild-cloud-lab-config.yaml";

/// The items of a `kubectl get ... -o json` list.
fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

/// `kind/namespace/name` of an object, for messages.
fn id(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or("?"),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("?")
    )
}

fn ready(obj: &Value) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// The field managers of an object got with `--show-managed-fields`.
fn managers(obj: &Value) -> Vec<&str> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str())
        .collect()
}

/// Where an object says wildrun: a label or annotation (key or value),
/// or a field manager. Empty when nowhere.
fn wildrun_marks(obj: &Value) -> Vec<String> {
    let mut marks = Vec::new();
    for field in ["labels", "annotations"] {
        if let Some(map) = obj["metadata"][field].as_object() {
            for (k, v) in map {
                // last-applied-configuration repeats the object, labels included.
                if k == "kubectl.kubernetes.io/last-applied-configuration" {
                    continue;
                }
                if k.contains("wildrun") || v.as_str().is_some_and(|v| v.contains("wildrun")) {
                    marks.push(format!("{field} {k}={v}"));
                }
            }
        }
    }
    for m in managers(obj) {
        if m.contains("wildrun") {
            marks.push(format!("field manager {m}"));
        }
    }
    marks
}

/// The ExternalDNS process's args as its Deployment would carry them: its
/// command line less the binary, the kubeconfig and the TSIG secret (which
/// the Deployment takes from a Secret).
fn externaldns_process_args(lab: &Lab) -> Vec<String> {
    let argv = lab.process_argv("external-dns");
    let mut args = Vec::new();
    let mut it = argv.into_iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--kubeconfig" {
            it.next();
        } else if !a.starts_with("--rfc2136-tsig-secret=") {
            args.push(a);
        }
    }
    args
}

/// The wild-cloud-shaped configuration fixture, parsed.
fn wild_cloud_config() -> Value {
    let path = common::cluster::repo_root().join(WILD_CLOUD_CONFIG);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{WILD_CLOUD_CONFIG}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{WILD_CLOUD_CONFIG}: {e}"))
}

#[test]
fn the_layer_and_the_apps_carry_no_wildrun_label_annotation_or_field_manager() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let mut objects = Vec::new();
    for ns in LAYER_NAMESPACES {
        objects.push(lab.get_json(&["namespace", ns, "--show-managed-fields"]));
        objects.extend(items(&lab.get_json(&[
            "-n",
            ns,
            NAMESPACED_KINDS,
            "--show-managed-fields",
        ])));
    }
    objects.extend(items(&lab.get_json(&[
        "clusterissuers.cert-manager.io,ingressclasses",
        "--show-managed-fields",
    ])));
    objects.push(lab.get_json(&["clusterrole", "external-dns", "--show-managed-fields"]));
    objects.push(lab.get_json(&[
        "clusterrolebinding",
        "external-dns-viewer",
        "--show-managed-fields",
    ]));
    // Enough to mean something: every part and both apps were looked at.
    assert!(objects.len() >= 35, "only {} objects", objects.len());
    let marked: Vec<String> = objects
        .iter()
        .filter_map(|o| {
            let marks = wildrun_marks(o);
            (!marks.is_empty()).then(|| format!("{}: {}", id(o), marks.join(", ")))
        })
        .collect();
    assert!(
        marked.is_empty(),
        "wildrun's marks in the existing layer:\n{}",
        marked.join("\n")
    );

    // What the set-up scripts applied, they applied with kubectl.
    let pool = lab.get_json(&[
        "-n",
        "metallb-system",
        "ipaddresspool",
        "first-pool",
        "--show-managed-fields",
    ]);
    assert!(
        managers(&pool).contains(&"kubectl-client-side-apply"),
        "{pool:#}"
    );
}

#[test]
fn each_part_of_the_layer_is_there_under_wild_clouds_names() {
    let lab = Lab::existing();
    let _use = lab.shared_use();

    // MetalLB: one pool, wild-cloud's, over the lab's range, advertised;
    // the controller by the native manifests' labels.
    let pools = items(&lab.get_json(&["-n", "metallb-system", "ipaddresspools.metallb.io"]));
    assert_eq!(pools.len(), 1, "{pools:#?}");
    assert_eq!(pools[0]["metadata"]["name"], "first-pool");
    assert_eq!(
        pools[0]["spec"]["addresses"],
        json!(["127.0.0.240-127.0.0.243"])
    );
    let l2 = lab.get_json(&[
        "-n",
        "metallb-system",
        "l2advertisement",
        "l2-advertisement",
    ]);
    assert_eq!(l2["spec"]["ipAddressPools"], json!(["first-pool"]));
    let metallb = lab.get_json(&["-n", "metallb-system", "deployment", "controller"]);
    assert_eq!(
        metallb["spec"]["selector"]["matchLabels"],
        json!({"app": "metallb", "component": "controller"})
    );

    // Traefik's Service: no pinned address, yet MetalLB gave it one from
    // wild-cloud's pool.
    let traefik = lab.get_json(&["-n", "traefik", "service", "traefik"]);
    let annotations = &traefik["metadata"]["annotations"];
    let pinned: Vec<&String> = annotations
        .as_object()
        .into_iter()
        .flat_map(|a| a.keys())
        .filter(|k| k.ends_with("/loadBalancerIPs") || k.ends_with("/address-pool"))
        .collect();
    assert!(pinned.is_empty(), "{pinned:?}");
    assert!(traefik["spec"]["loadBalancerIP"].is_null(), "{traefik:#}");
    assert_eq!(
        traefik["status"]["loadBalancer"]["ingress"][0]["ip"],
        lab.lb_ip()
    );
    assert_eq!(
        annotations["metallb.io/ip-allocated-from-pool"],
        "first-pool"
    );

    // cert-manager: a CA ClusterIssuer of the cluster's own, both wildcard
    // Certificates under wild-cloud's names, issued.
    let issuer = lab.get_json(&["clusterissuer", "wild-cloud-ca"]);
    assert!(issuer["spec"]["ca"]["secretName"].is_string(), "{issuer:#}");
    assert!(ready(&issuer), "{issuer:#}");
    for (name, domain) in [
        ("wildcard-wild-cloud", lab.domain().to_string()),
        ("wildcard-internal-wild-cloud", lab.internal_domain()),
    ] {
        let cert = lab.get_json(&["-n", "cert-manager", "certificate", name]);
        assert_eq!(cert["spec"]["secretName"], format!("{name}-tls"));
        assert_eq!(
            cert["spec"]["dnsNames"],
            json!([format!("*.{domain}"), domain])
        );
        assert_eq!(cert["spec"]["issuerRef"]["name"], "wild-cloud-ca");
        assert!(ready(&cert), "{cert:#}");
    }
    assert_eq!(lab.internal_domain(), format!("local.{}", lab.domain()));

    // ExternalDNS: namespace externaldns, app: labels, its own owner id,
    // the old release's image, no --annotation-prefix.
    let edns = lab.get_json(&["-n", "externaldns", "deployment", "external-dns"]);
    assert_eq!(
        edns["spec"]["selector"]["matchLabels"],
        json!({"app": "external-dns"})
    );
    let container = &edns["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        "registry.k8s.io/external-dns/external-dns:v0.14.2"
    );
    let args = container["args"].as_array().cloned().unwrap_or_default();
    assert!(
        args.contains(&json!("--txt-owner-id=external-dns-wild-cloud-lab")),
        "{args:?}"
    );
    assert!(
        !args.iter().any(|a| a
            .as_str()
            .is_some_and(|a| a.starts_with("--annotation-prefix"))),
        "{args:?}"
    );
}

#[test]
fn the_old_externaldns_is_the_old_release_and_runs_as_its_deployment_says() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let edns = lab.get_json(&["-n", "externaldns", "deployment", "external-dns"]);
    assert_eq!(
        json!(externaldns_process_args(lab)),
        edns["spec"]["template"]["spec"]["containers"][0]["args"]
    );

    // The binary that runs is v0.14.2 and does not know --annotation-prefix.
    let binary = lab.process_argv("external-dns")[0].clone();
    let version = lab
        .command(&binary)
        .arg("--version")
        .output()
        .expect("external-dns --version");
    // kingpin prints the version on stderr.
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&version.stdout),
        String::from_utf8_lossy(&version.stderr)
    );
    assert_eq!(printed.trim(), "v0.14.2", "{}", text(&version));
    let refused = lab
        .command(&binary)
        .args([
            "--annotation-prefix=external-dns.kubernetes.io/",
            "--version",
        ])
        .output()
        .expect("external-dns --annotation-prefix");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("unknown long flag"),
        "{}",
        text(&refused)
    );
}

#[test]
fn both_apps_answer_200_by_name_through_the_old_externaldns_records() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let owner = "external-dns/owner=external-dns-wild-cloud-lab";
    for (app, resource, port) in [
        ("gitea", "ingress/gitea/gitea-public", 3000),
        ("whoami", "ingressroute/whoami/whoami-https", 80),
    ] {
        let host = format!("{app}.{}", lab.domain());
        // The record and its ownership record, written by the old ExternalDNS.
        assert_eq!(lab.dig(&host, "A"), vec![lab.lb_ip().to_string()], "{host}");
        let txt = lab.dig(&host, "TXT").join(" ");
        assert!(
            txt.contains(owner) && txt.contains(&format!("external-dns/resource={resource}")),
            "no ownership record of {resource} for {host}: {txt:?}"
        );
        // Resolved through Knot, verified against the lab CA, routed by
        // Traefik to the app's pod.
        let pod_ip = lab.kubectl_ok(&[
            "-n",
            app,
            "get",
            "pods",
            "-l",
            &format!("app={app}"),
            "-o",
            "jsonpath={.items[0].status.podIP}",
        ]);
        let (status, body) = lab.https_get(&format!("https://{host}/"), &[]);
        assert_eq!(status, 200, "{host}: {body}");
        assert!(
            body.contains(&format!("host={host}\n"))
                && body.contains(&format!("addr={pod_ip}:{port}\n")),
            "{host}: {body}"
        );
    }
    // The old release read the TTL from the alpha prefix.
    let answer = lab.dig_answer(&format!("gitea.{}", lab.domain()), "A");
    let ttl = answer
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    assert_eq!(ttl, "60", "{answer:?}");
}

#[test]
fn the_gitea_app_is_shaped_as_wild_clouds_with_a_kubectl_copy_of_the_wildcard() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let ingress = lab.get_json(&["-n", "gitea", "ingress", "gitea-public"]);
    assert_eq!(
        ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"],
        "traefik"
    );
    assert!(ingress["spec"]["ingressClassName"].is_null(), "{ingress:#}");
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(
        backend,
        &json!({"name": "gitea-http", "port": {"name": "http"}})
    );
    assert_eq!(
        ingress["spec"]["tls"][0]["secretName"],
        "wildcard-wild-cloud-tls"
    );
    let service = lab.get_json(&["-n", "gitea", "service", "gitea-http"]);
    assert_eq!(
        service["spec"]["ports"][0],
        json!({"name": "http", "port": 3000, "protocol": "TCP", "targetPort": 3000})
    );

    // Both wildcards copied in by `kubectl get | sed | kubectl apply`: the
    // source's data, type and cert-manager annotations, applied by kubectl.
    for name in [
        "wildcard-wild-cloud-tls",
        "wildcard-internal-wild-cloud-tls",
    ] {
        let source = lab.get_json(&["-n", "cert-manager", "secret", name]);
        let copy = lab.get_json(&["-n", "gitea", "secret", name, "--show-managed-fields"]);
        assert_eq!(copy["data"], source["data"], "{name}");
        assert_eq!(copy["type"], source["type"], "{name}");
        assert_eq!(
            copy["metadata"]["annotations"]["cert-manager.io/certificate-name"],
            source["metadata"]["annotations"]["cert-manager.io/certificate-name"]
        );
        assert_eq!(managers(&copy), ["kubectl-client-side-apply"], "{name}");
    }

    let route = lab.get_json(&["-n", "whoami", "ingressroute", "whoami-https"]);
    assert_eq!(
        route["spec"]["routes"][0]["match"],
        format!("Host(`whoami.{}`)", lab.domain())
    );
}

#[test]
fn the_wild_cloud_config_fixture_describes_the_existing_lab() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let config = wild_cloud_config();
    assert_eq!(config["cloud"]["domain"], lab.domain());
    assert_eq!(config["cloud"]["internalDomain"], lab.internal_domain());
    assert_eq!(config["cluster"]["loadBalancerIp"], lab.lb_ip());
    let pool = lab.get_json(&["-n", "metallb-system", "ipaddresspool", "first-pool"]);
    assert_eq!(
        config["cluster"]["ipAddressPool"],
        pool["spec"]["addresses"][0]
    );
    let owner = config["cluster"]["externalDns"]["ownerId"]
        .as_str()
        .unwrap_or_else(|| panic!("{WILD_CLOUD_CONFIG}: no cluster.externalDns.ownerId"));
    assert!(
        externaldns_process_args(lab).contains(&format!("--txt-owner-id={owner}")),
        "the lab's ExternalDNS does not run as owner {owner}"
    );
    assert!(config["operator"]["email"].is_string(), "{config:#}");
    let ingress = lab.get_json(&["-n", "gitea", "ingress", "gitea-public"]);
    assert_eq!(
        config["apps"]["gitea"]["domain"],
        ingress["spec"]["rules"][0]["host"]
    );
    let service = lab.get_json(&["-n", "gitea", "service", "gitea-http"]);
    assert_eq!(
        config["apps"]["gitea"]["port"],
        service["spec"]["ports"][0]["port"]
    );
}

/// The parts of the existing layer scripts/cluster.rhai must report in use.
const PARTS_IN_USE: [&str; 7] = [
    "IPAddressPool metallb-system/first-pool",
    "L2Advertisement metallb-system/l2-advertisement",
    "Service traefik/traefik",
    "ClusterIssuer wild-cloud-ca",
    "Certificate cert-manager/wildcard-wild-cloud",
    "Certificate cert-manager/wildcard-internal-wild-cloud",
    "Deployment externaldns/external-dns",
];

#[test]
fn cluster_rhai_finds_every_part_in_use_and_writes_nothing() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    // The lab's own wildrun.yaml (only the domain and the address), then
    // the wild-cloud config.yaml of this cluster. A server dry run, so that
    // a regression cannot change the lab other tests hold to its shape.
    for extra in [&[][..], &["--config", WILD_CLOUD_CONFIG][..]] {
        let mut args = vec!["scripts/cluster.rhai", "--dry-run=server", "-v"];
        args.extend_from_slice(extra);
        let out = lab.wildrun(&args);
        let all = text(&out);
        assert!(out.status.success(), "{extra:?}: {all}");
        for part in PARTS_IN_USE {
            assert!(
                all.contains(&format!("using existing {part} (not made by wildrun)")),
                "{extra:?}: {part} not reported in use: {all}"
            );
        }
        // Nothing written: the lab's Traefik Service already keeps client
        // addresses (externalTrafficPolicy Local), so not even the policy.
        let written: Vec<&str> = all
            .lines()
            .filter(|l| {
                ["created ", "configured ", "unchanged "]
                    .iter()
                    .any(|w| l.starts_with(w))
            })
            .collect();
        assert!(
            !all.contains("externalTrafficPolicy was") && written.is_empty(),
            "{extra:?}: {all}"
        );
        // What it was not given came from the cluster, and -v says so.
        assert!(
            all.contains("dns.provider = rfc2136 (found: ExternalDNS externaldns/external-dns)"),
            "{extra:?}: {all}"
        );
    }
}

#[test]
fn cluster_rhai_refuses_a_conflicting_setting_naming_both_ways_out() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let out = lab.wildrun(&[
        "scripts/cluster.rhai",
        "--dry-run=server",
        "--set",
        "dns.ownerId=wildrun",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Deployment externaldns/external-dns (made by kubectl (field manager kubectl-client-side-apply)) is the cluster's and differs from the configuration: dns.ownerId is wildrun, it has external-dns-wild-cloud-lab")
            && all.contains("(dns.ownerId: external-dns-wild-cloud-lab)")
            && all.contains("or pass --adopt"),
        "{all}"
    );
}

// ---------------------------------------------------------------------------
// wildrun on this layer for real (issue 18, item 6): runs that write, or
// could, hold the lab alone and leave it as they found it.
// ---------------------------------------------------------------------------

/// The kinds whose objects a run of scripts/cluster.rhai could write or
/// make, in every namespace (cluster-scoped ones too).
const WRITABLE_KINDS: &str = "namespaces,deployments,services,secrets,serviceaccounts,ingresses,\
    ipaddresspools.metallb.io,l2advertisements.metallb.io,certificates.cert-manager.io,\
    clusterissuers.cert-manager.io,ingressroutes.traefik.io,clusterroles,clusterrolebindings";

/// `wildrun scripts/cluster.rhai -v` on the layer as it is.
const JOIN: &[&str] = &["scripts/cluster.rhai", "-v"];
/// `wildrun scripts/doctor.rhai --layer`.
const LAYER_DOCTOR: &[&str] = &["scripts/doctor.rhai", "--layer"];
/// A configuration that conflicts with two parts of the layer.
const CONFLICTING: &[&str] = &[
    "scripts/cluster.rhai",
    "--set",
    "dns.ownerId=wildrun",
    "--set",
    "cluster.addressPool=127.0.0.240-127.0.0.242",
];
/// The two parts taken over, then released.
const ADOPT: &[&str] = &[
    "scripts/cluster.rhai",
    "--set",
    "dns.ownerId=wildrun-lab-adopted",
    "--set",
    "cluster.addressPool=127.0.0.240-127.0.0.242",
    "--adopt",
];
const RELEASE: &[&str] = &[
    "scripts/cluster.rhai",
    "--set",
    "dns.ownerId=wildrun-lab-adopted",
    "--set",
    "cluster.addressPool=127.0.0.240-127.0.0.242",
    "--delete",
];
/// A service into namespace `shop`, prepared as wild-cloud prepares an app's.
const PUBLIC_SHOP: &[&str] = &[
    "scripts/public.rhai",
    "--name",
    "shop",
    "--namespace",
    "shop",
    "--wait",
];
/// The wild-cloud config.yaml of the lab, for scripts/cluster.rhai.
const WILD_CLOUD_JOIN: &[&str] = &["--config", WILD_CLOUD_CONFIG, "scripts/cluster.rhai"];

/// `kind/namespace/name` → resourceVersion of every object of
/// [`WRITABLE_KINDS`]: a write anywhere, or a new object, changes it.
fn resource_versions(lab: &Lab) -> std::collections::BTreeMap<String, String> {
    items(&lab.get_json(&[WRITABLE_KINDS, "-A"]))
        .iter()
        .map(|o| {
            let version = o["metadata"]["resourceVersion"].as_str().unwrap_or("");
            (id(o), version.to_string())
        })
        .collect()
}

/// What differs between two [`resource_versions`]: objects changed, made or gone.
fn changed(
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut out: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    out.extend(
        before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .map(|k| format!("{k} (gone)")),
    );
    out
}

/// `wildrun scripts/doctor.rhai --layer --json ARGS`: the report and exit code.
fn layer_doctor(lab: &Lab, args: &[&str]) -> (Value, Option<i32>) {
    lab.doctor(&[&["--layer"][..], args].concat())
}

#[test]
fn cluster_rhai_joins_the_layer_for_real_writing_nothing_and_doctor_layer_is_green() {
    let lab = Lab::existing();
    let _only = lab.exclusive();
    let before = resource_versions(lab);
    let out = lab.wildrun(JOIN);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for part in PARTS_IN_USE {
        assert!(
            all.contains(&format!("using existing {part} (not made by wildrun)")),
            "{part} not reported in use: {all}"
        );
    }
    assert!(
        all.contains(
            "the cluster runs every part of the visibility layer already: nothing to write"
        ),
        "{all}"
    );
    // The policy it runs with, read from it (v0.14.2 without --policy: sync).
    assert!(
        all.contains("dns.policy = sync (found: ExternalDNS externaldns/external-dns)"),
        "{all}"
    );
    assert_eq!(
        changed(&before, &resource_versions(lab)),
        Vec::<String>::new(),
        "{all}"
    );

    // The layer as it is, its controllers found by image and its parts under
    // their own names: every check passes.
    let out = lab.wildrun(LAYER_DOCTOR);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(" passed, 0 failed"),
        "{}",
        text(&out)
    );
    let (report, code) = layer_doctor(lab, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    for (name, found) in [
        (
            "controller-metallb",
            "Deployment metallb-system/controller (",
        ),
        (
            "controller-external-dns",
            "Deployment externaldns/external-dns (",
        ),
        ("pool", "IPAddressPool metallb-system/first-pool"),
        (
            "l2advertisement",
            "L2Advertisement metallb-system/l2-advertisement announces first-pool",
        ),
        ("traefik-address", &format!("has {}", lab.lb_ip())),
        ("issuer-wild-cloud-ca", "ClusterIssuer wild-cloud-ca: Ready"),
        (
            "certificate-internal",
            &format!("*.{}", lab.internal_domain()),
        ),
    ] {
        let c = check(&report, name);
        assert_eq!(c["status"], "pass", "{c:#}");
        assert!(c["found"].as_str().unwrap_or("").contains(found), "{c:#}");
    }
}

#[test]
fn a_conflicting_setting_is_refused_before_any_write() {
    let lab = Lab::existing();
    let _only = lab.exclusive();
    let before = resource_versions(lab);
    let out = lab.wildrun(CONFLICTING);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("conflicts with the configuration; nothing was written")
            && all.contains("IPAddressPool metallb-system/first-pool (made by kubectl (field manager kubectl-client-side-apply)) is the cluster's and differs from the configuration: cluster.addressPool is [\"127.0.0.240-127.0.0.242\"], it has [\"127.0.0.240-127.0.0.243\"]")
            && all.contains("Deployment externaldns/external-dns (made by kubectl"),
        "{all}"
    );
    // Nothing changed, nothing was made (no second ExternalDNS, no pool).
    assert_eq!(
        changed(&before, &resource_versions(lab)),
        Vec::<String>::new(),
        "{all}"
    );
}

#[test]
fn cluster_rhai_adopts_the_parts_then_delete_releases_them_and_they_keep_running() {
    let lab = Lab::existing();
    let _only = lab.exclusive();
    let mut restore = Restore::new(lab);
    restore.remember("metallb-system", "ipaddresspool", "first-pool");
    restore.remember("externaldns", "deployment", "external-dns");
    let run = |args: &[&str]| {
        let out = lab.wildrun(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // --adopt: managed in place under their names, selector kept.
    let err = run(ADOPT);
    for part in [
        "IPAddressPool metallb-system/first-pool",
        "Deployment externaldns/external-dns",
    ] {
        assert!(
            err.contains(&format!("configured {part} (adopted: made by kubectl (field manager kubectl-client-side-apply); --delete releases it)")),
            "{part}: {err}"
        );
    }
    assert!(!err.contains("created "), "{err}");
    let edns = lab.get_json(&["-n", "externaldns", "deployment", "external-dns"]);
    assert_eq!(
        edns["metadata"]["annotations"]["wildrun.dev/adopted"],
        "kubectl-client-side-apply"
    );
    assert_eq!(
        edns["spec"]["selector"]["matchLabels"],
        json!({"app": "external-dns"})
    );
    let args = &edns["spec"]["template"]["spec"]["containers"][0]["args"];
    for arg in [
        "--txt-owner-id=wildrun-lab-adopted",
        "--policy=sync",
        "--publish-internal-services",
    ] {
        assert!(
            args.as_array().is_some_and(|a| a.contains(&json!(arg))),
            "{arg}: {args}"
        );
    }
    let pool = lab.get_json(&["-n", "metallb-system", "ipaddresspool", "first-pool"]);
    assert_eq!(
        pool["spec"]["addresses"],
        json!(["127.0.0.240-127.0.0.242"])
    );
    // Never a second one.
    let pools = items(&lab.get_json(&["ipaddresspools.metallb.io", "-A"]));
    assert_eq!(pools.len(), 1, "{pools:#?}");

    // --delete: released, not deleted; the report says which. The parts
    // it never managed are left, and said so.
    let err = run(&[RELEASE, &["-v"]].concat());
    assert!(
        err.contains(
            "leaving existing L2Advertisement metallb-system/l2-advertisement as it is (not made by wildrun)"
        )
            && !err.contains("using existing"),
        "{err}"
    );
    for part in [
        "IPAddressPool metallb-system/first-pool",
        "Deployment externaldns/external-dns",
    ] {
        assert!(
            err.contains(&format!("released   {part} (made by kubectl (field manager kubectl-client-side-apply): left in place, no longer managed by wildrun)")),
            "{part}: {err}"
        );
    }
    assert!(
        err.contains(", 2 released in ") && !err.contains("deleted "),
        "{err}"
    );
    for (ns, resource, name) in [
        ("metallb-system", "ipaddresspool", "first-pool"),
        ("externaldns", "deployment", "external-dns"),
    ] {
        let live = lab.get_json(&["-n", ns, resource, name, "--show-managed-fields"]);
        assert_eq!(wildrun_marks(&live), Vec::<String>::new(), "{live:#}");
        assert!(
            live["metadata"]["annotations"]
                .get("wildrun.dev/adopted")
                .is_none(),
            "{live:#}"
        );
    }
    // They keep running: ExternalDNS's Deployment rolls out, its process is
    // up, MetalLB keeps Traefik's address, and the apps answer by name.
    lab.kubectl_ok(&[
        "-n",
        "externaldns",
        "rollout",
        "status",
        "deployment/external-dns",
        "--timeout=60s",
    ]);
    let pid = std::fs::read_to_string(lab.dir().join("pids/external-dns.pid")).unwrap_or_default();
    assert!(
        std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the external-dns process (pid {pid}) is gone"
    );
    let traefik = lab.get_json(&["-n", "traefik", "service", "traefik"]);
    assert_eq!(
        traefik["status"]["loadBalancer"]["ingress"][0]["ip"],
        lab.lb_ip()
    );
    let (status, body) = lab.https_get(&format!("https://gitea.{}/", lab.domain()), &[]);
    assert_eq!(status, 200, "{body}");
}

/// A namespace prepared as wild-cloud's `wild-app-deploy` prepares an
/// app's: made by kubectl, both wildcard Secrets copied in with `kubectl
/// get | sed | kubectl apply`. Deleted when dropped.
struct AppNamespace {
    lab: &'static Lab,
    name: String,
}

impl AppNamespace {
    fn prepare(lab: &'static Lab, name: &str) -> AppNamespace {
        let name = name.to_string();
        // One of an earlier run may still be terminating.
        let _ = lab.kubectl(&[
            "wait",
            "--for=delete",
            &format!("namespace/{name}"),
            "--timeout=90s",
        ]);
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        lab.kubectl_stdin(&["apply", "-f", "-"], &namespace.to_string());
        for secret in [
            "wildcard-wild-cloud-tls",
            "wildcard-internal-wild-cloud-tls",
        ] {
            let mut copy = lab.get_json(&["-n", "cert-manager", "secret", secret]);
            if let Some(meta) = copy["metadata"].as_object_mut() {
                for server_set in [
                    "uid",
                    "resourceVersion",
                    "creationTimestamp",
                    "managedFields",
                ] {
                    meta.remove(server_set);
                }
                meta.insert("namespace".into(), json!(name));
            }
            lab.kubectl_stdin(&["apply", "-f", "-"], &copy.to_string());
        }
        AppNamespace { lab, name }
    }
}

impl Drop for AppNamespace {
    fn drop(&mut self) {
        let _ = self
            .lab
            .kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

/// `run` (public.rhai `--name <namespace> --namespace <namespace> --wait`)
/// into `app`'s namespace, then the same with `--delete` for `--wait`: the copy is taken as the
/// kubectl one, the service answers 200 by name, and the copy is released
/// at the end, without wildrun's marks.
fn public_into_prepared_namespace(lab: &'static Lab, app: &AppNamespace, run: &[&str]) {
    let ns = app.name.as_str();
    let out = lab.wildrun(run);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(&format!("configured Secret {ns}/wildcard-wild-cloud-tls (taken as the copy of cert-manager/wildcard-wild-cloud-tls: the same data, made by kubectl (field manager kubectl-client-side-apply))")),
        "{all}"
    );
    assert!(
        all.contains(&format!("✓ HTTPS https://{ns}.{}/: 200 OK", lab.domain()))
            && all.contains("the service answers"),
        "{all}"
    );
    let (status, body) = lab.https_get(&format!("https://{ns}.{}/", lab.domain()), &[]);
    assert_eq!(status, 200, "{body}");

    let delete: Vec<&str> = run
        .iter()
        .map(|a| if *a == "--wait" { "--delete" } else { a })
        .collect();
    let out = lab.wildrun(&delete);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    // The namespace still holds the other copy: the one taken over stays,
    // released, as the kubectl copy it was.
    assert!(
        all.contains(&format!(
            "released   Secret {ns}/wildcard-wild-cloud-tls (made by kubectl"
        )),
        "{all}"
    );
    let copy = lab.get_json(&[
        "-n",
        ns,
        "secret",
        "wildcard-wild-cloud-tls",
        "--show-managed-fields",
    ]);
    assert_eq!(wildrun_marks(&copy), Vec::<String>::new(), "{copy:#}");
}

#[test]
fn public_rhai_takes_the_kubectl_copy_in_an_apps_namespace_and_answers_200() {
    let lab = Lab::existing();
    let _use = lab.shared_use();
    let app = AppNamespace::prepare(lab, "shop");
    public_into_prepared_namespace(lab, &app, PUBLIC_SHOP);
}

#[test]
fn a_wild_cloud_config_yaml_drives_cluster_rhai_and_public_rhai() {
    let lab = Lab::existing();
    let app = {
        let _only = lab.exclusive();
        // For real: it uses every part and writes nothing.
        let before = resource_versions(lab);
        let out = lab.wildrun(WILD_CLOUD_JOIN);
        let all = text(&out);
        assert!(out.status.success(), "{all}");
        assert!(all.contains("nothing to write"), "{all}");
        assert_eq!(
            changed(&before, &resource_versions(lab)),
            Vec::<String>::new(),
            "{all}"
        );
        AppNamespace::prepare(lab, "blog")
    };
    let _use = lab.shared_use();
    public_into_prepared_namespace(
        lab,
        &app,
        &[
            "--config",
            WILD_CLOUD_CONFIG,
            "scripts/public.rhai",
            "--name",
            "blog",
            "--namespace",
            "blog",
            "--wait",
        ],
    );
}
