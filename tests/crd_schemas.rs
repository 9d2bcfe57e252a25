//! Our typed custom resources must declare exactly the fields the upstream
//! CRDs declare, at every level we model: a missing field would make a valid
//! recipe fail with "unknown field", an extra one would hide a typo.
//!
//! The upstream CRDs are the ones the local control plane installs, read
//! from the pinned Go modules by `tests/cluster/build`.

use kube::CustomResourceExt;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use wildrun::objects::crds::{Certificate, ClusterIssuer, IPAddressPool, Middleware};
use wildrun::objects::gateway::{Gateway, GatewayClass, HTTPRoute, ReferenceGrant};

fn crd_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("tests/cluster/build"))
        .arg("--print-crd-dir")
        .output()
        .expect("tests/cluster/build runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        dir.is_dir(),
        "{} does not exist: run tests/cluster/build (or tests/run) first",
        dir.display()
    );
    dir
}

/// The served version's openAPIV3Schema of the upstream CRD for `group`/`plural`.
fn upstream_schema(group: &str, plural: &str) -> Value {
    let name = format!("{plural}.{group}");
    for entry in std::fs::read_dir(crd_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in wildrun::yaml::parse_documents(&text, &path.display().to_string()).unwrap() {
            if doc["kind"] == "CustomResourceDefinition" && doc["metadata"]["name"] == name.as_str()
            {
                let versions = doc["spec"]["versions"].as_array().unwrap();
                let served = versions.iter().find(|v| v["storage"] == true).unwrap();
                return served["schema"]["openAPIV3Schema"].clone();
            }
        }
    }
    panic!("no CRD {name} in {}", crd_dir().display());
}

fn ours<K: CustomResourceExt>() -> Value {
    let crd = serde_json::to_value(K::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Walks both schemas and collects every place where the property names differ.
fn compare(ours: &Value, theirs: &Value, path: &str, diffs: &mut Vec<String>) {
    let ours = unwrap_items(ours);
    let theirs = unwrap_items(theirs);
    let Some(our_props) = ours.get("properties").and_then(Value::as_object) else {
        return; // free-form in our type: the API server's schema validates it
    };
    let their_props = theirs.get("properties").and_then(Value::as_object);
    let a: BTreeSet<&String> = our_props.keys().collect();
    let b: BTreeSet<&String> = their_props.map(|p| p.keys().collect()).unwrap_or_default();
    for missing in b.difference(&a) {
        diffs.push(format!(
            "{path}.{missing}: upstream has it, our type does not"
        ));
    }
    for extra in a.difference(&b) {
        diffs.push(format!(
            "{path}.{extra}: our type has it, upstream does not"
        ));
    }
    for key in a.intersection(&b) {
        compare(
            &our_props[*key],
            &their_props.unwrap()[*key],
            &format!("{path}.{key}"),
            diffs,
        );
    }
}

fn unwrap_items(schema: &Value) -> &Value {
    match schema.get("items") {
        Some(items) => items,
        None => schema,
    }
}

fn assert_same_fields<K: CustomResourceExt>(group: &str, plural: &str) {
    let mut diffs = Vec::new();
    compare(
        &ours::<K>()["properties"]["spec"],
        &upstream_schema(group, plural)["properties"]["spec"],
        "spec",
        &mut diffs,
    );
    assert!(
        diffs.is_empty(),
        "{plural}.{group} differs from upstream:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn certificate_fields_match_cert_manager() {
    assert_same_fields::<Certificate>("cert-manager.io", "certificates");
}

#[test]
fn cluster_issuer_fields_match_cert_manager() {
    assert_same_fields::<ClusterIssuer>("cert-manager.io", "clusterissuers");
}

#[test]
fn middleware_fields_match_traefik() {
    assert_same_fields::<Middleware>("traefik.io", "middlewares");
}

#[test]
fn ip_address_pool_fields_match_metallb() {
    assert_same_fields::<IPAddressPool>("metallb.io", "ipaddresspools");
}

#[test]
fn gateway_api_fields_match_the_standard_channel() {
    let group = wildrun::objects::gateway::GROUP;
    assert_same_fields::<GatewayClass>(group, "gatewayclasses");
    assert_same_fields::<Gateway>(group, "gateways");
    assert_same_fields::<HTTPRoute>(group, "httproutes");
    assert_same_fields::<ReferenceGrant>(group, "referencegrants");
}
