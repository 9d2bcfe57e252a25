//! Checks of `doctor --layer` that need more than a lookup: the layer's
//! controllers, found by their image whatever their names and labels.

use super::super::check::Check;
use super::{at, text};
use crate::discover::{image_of, ControllerKind};
use serde_json::Value;

/// Whether a Deployment is Available, or a DaemonSet has all its pods ready;
/// with the counts for people.
fn available(workload: &Value) -> (bool, String) {
    let number = |p: &str| workload.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    if text(workload, "/kind") == Some("DaemonSet") {
        let (ready, wanted) = (
            number("/status/numberReady"),
            number("/status/desiredNumberScheduled"),
        );
        return (
            ready > 0 && ready >= wanted,
            format!("{ready} of {wanted} ready"),
        );
    }
    let ok = crate::kube::wait::condition(workload, "Available")
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True");
    let replicas = workload
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    (
        ok,
        format!("{} of {replicas} ready", number("/status/readyReplicas")),
    )
}

/// `controller-<app>`: a Deployment or DaemonSet among `workloads` runs the
/// controller's image, and all that do are available.
pub(crate) fn controller(kind: ControllerKind, workloads: &[Value]) -> Check {
    let name = format!("controller-{}", kind.app);
    let found: Vec<(&Value, &str)> = workloads
        .iter()
        .filter_map(|w| Some((w, image_of(w, kind.is_image)?)))
        .collect();
    if found.is_empty() {
        return Check::fail(
            &name,
            format!(
                "no Deployment or DaemonSet runs {}'s controller image (any namespace, any labels)",
                kind.project
            ),
            format!(
                "install {}{}",
                kind.project,
                if kind.app == "external-dns" {
                    " (wildrun scripts/cluster.rhai makes it)"
                } else {
                    ""
                }
            ),
        );
    }
    let mut up = Vec::new();
    let mut down = Vec::new();
    for (workload, image) in &found {
        let (ok, counts) = available(workload);
        let what = format!(
            "{} {} ({image})",
            text(workload, "/kind").unwrap_or("Deployment"),
            at(workload)
        );
        if ok {
            up.push(what);
        } else {
            down.push((format!("{what}: {counts}"), *workload));
        }
    }
    let Some((_, first_down)) = down.first() else {
        return Check::pass(&name, format!("{} available", up.join(", ")));
    };
    Check::fail(
        &name,
        format!(
            "{} not available",
            down.iter()
                .map(|(w, _)| w.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "its pods are not ready: kubectl -n {} describe {} {}",
            text(first_down, "/metadata/namespace").unwrap_or_default(),
            text(first_down, "/kind")
                .unwrap_or("Deployment")
                .to_ascii_lowercase(),
            text(first_down, "/metadata/name").unwrap_or_default()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use crate::discover::controller_kind;
    use serde_json::json;

    fn workload(
        kind: &str,
        ns: &str,
        name: &str,
        labels: Value,
        image: &str,
        status: Value,
    ) -> Value {
        json!({"kind": kind, "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
               "status": status})
    }

    fn available_status() -> Value {
        json!({"readyReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]})
    }

    #[test]
    fn controllers_are_found_by_image_not_by_label() {
        // wild-cloud's: MetalLB's native manifests and ExternalDNS with app: labels only.
        let all = [
            workload(
                "Deployment",
                "metallb-system",
                "controller",
                json!({"app": "metallb", "component": "controller"}),
                "quay.io/metallb/controller:v0.15.0",
                available_status(),
            ),
            workload(
                "DaemonSet",
                "metallb-system",
                "speaker",
                json!({"app": "metallb", "component": "speaker"}),
                "quay.io/metallb/speaker:v0.15.0",
                json!({}),
            ),
            workload(
                "Deployment",
                "externaldns",
                "external-dns",
                json!({"app": "external-dns"}),
                "registry.k8s.io/external-dns/external-dns:v0.13.4",
                json!({"readyReplicas": 0, "conditions": [{"type": "Available", "status": "False"}]}),
            ),
            workload(
                "Deployment",
                "cert-manager",
                "cert-manager",
                json!({}),
                "quay.io/jetstack/cert-manager-controller:v1.13.1",
                available_status(),
            ),
        ];
        let kind = |app| controller_kind(app).unwrap();
        let c = controller(kind("metallb"), &all);
        assert_eq!(c.status, CheckStatus::Pass);
        assert_eq!(
            c.found,
            "Deployment metallb-system/controller (quay.io/metallb/controller:v0.15.0) available"
        );
        assert_eq!(
            controller(kind("cert-manager"), &all).status,
            CheckStatus::Pass
        );
        let c = controller(kind("external-dns"), &all);
        assert_eq!(c.status, CheckStatus::Fail);
        assert_eq!(c.found, "Deployment externaldns/external-dns (registry.k8s.io/external-dns/external-dns:v0.13.4): 0 of 1 ready not available");
        assert_eq!(
            c.hint.as_deref(),
            Some("its pods are not ready: kubectl -n externaldns describe deployment external-dns")
        );
        let c = controller(kind("traefik"), &all);
        assert_eq!(c.status, CheckStatus::Fail);
        assert_eq!(c.hint.as_deref(), Some("install Traefik"));
        let ds = [workload(
            "DaemonSet",
            "traefik",
            "traefik",
            json!({}),
            "traefik:v3.4",
            json!({"numberReady": 2, "desiredNumberScheduled": 2}),
        )];
        assert_eq!(controller(kind("traefik"), &ds).status, CheckStatus::Pass);
    }
}
