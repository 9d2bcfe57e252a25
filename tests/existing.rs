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

use common::lab::{text, Lab};
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
        // Nothing written but the policy that keeps client addresses
        // (wild-cloud's Traefik Service leaves it at Cluster).
        let written: Vec<&str> = all
            .lines()
            .filter(|l| {
                ["created ", "configured ", "unchanged "]
                    .iter()
                    .any(|w| l.starts_with(w))
            })
            .collect();
        assert!(
            all.contains("externalTrafficPolicy was Cluster, now Local")
                && written == ["configured Service traefik/traefik [server dry run]"],
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
