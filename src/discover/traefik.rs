//! Traefik's LoadBalancer Service, found by what it serves: a Service of
//! type LoadBalancer whose selector matches the pod template of a
//! Deployment or DaemonSet running Traefik's image, whatever the names and
//! labels its chart or manifests gave them.

use super::Identity;
use crate::kube::owner::wildrun_owns;
use crate::objects::ports::{declared_ports, service_ports, PortRef};
use serde::Serialize;
use serde_json::Value;

/// The annotation MetalLB reads the address a Service asks for from.
pub(crate) const ADDRESS_ANNOTATION: &str = "metallb.io/loadBalancerIPs";
/// The annotation MetalLB releases before v0.13 read (still honoured).
pub(crate) const OLD_ADDRESS_ANNOTATION: &str = "metallb.universe.tf/loadBalancerIPs";

/// Traefik's Service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TraefikService {
    /// Where it is and who made it.
    #[serde(flatten)]
    pub(crate) id: Identity,
    /// The workload whose pods it selects (`Deployment traefik/traefik`);
    /// empty for the configured Service when no Traefik workload was found.
    pub(crate) workload: String,
    /// That workload's Traefik image (empty likewise).
    pub(crate) image: String,
    /// The address it asks MetalLB for, if it asks for one.
    pub(crate) asked_ip: Option<String>,
    /// Where it asks: the annotation's name, or `spec.loadBalancerIP`.
    pub(crate) asked_by: Option<String>,
    /// wildrun's patch manager set the address annotation (an earlier run
    /// of scripts/cluster.rhai pinned it).
    pub(crate) pinned_by_wildrun: bool,
    /// The addresses MetalLB gave it (`status.loadBalancer.ingress`).
    pub(crate) addresses: Vec<String>,
    /// Each of its ports and where Traefik's pods listen for it.
    pub(crate) ports: Vec<ServedPort>,
}

/// A port of Traefik's Service and the port Traefik's pods listen on for
/// it: the port of an entry point. Traefik gives a Gateway listener the
/// entry point whose port it names, so a listener must name this one, not
/// the Service's (Traefik's Helm chart: Service port 443 → `websecure`,
/// container port 8443).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ServedPort {
    /// The Service's port, as clients ask it.
    pub(crate) port: i64,
    /// Its name, if it has one.
    pub(crate) name: Option<String>,
    /// The port in the pods: its `targetPort`, a name resolved through the
    /// workload's container ports; `None` when a name cannot be resolved
    /// (the workload was not found, or declares no such port).
    pub(crate) pod_port: Option<i64>,
}

/// The container port named `name` in `workload`'s pod template.
fn named_port(workload: Option<&Value>, name: &str) -> Option<i64> {
    declared_ports(workload?.pointer("/spec/template/spec"))
        .into_iter()
        .find(|d| d.name == Some(name))
        .map(|d| d.port)
}

/// `service`'s ports, each with the port the pods of `workload` listen on.
fn served_ports(service: &Value, workload: Option<&Value>) -> Vec<ServedPort> {
    service_ports(service)
        .into_iter()
        .map(|p| ServedPort {
            pod_port: match &p.target {
                PortRef::Number(n) => Some(*n),
                PortRef::Name(name) => named_port(workload, name),
            },
            port: p.port,
            name: p.name,
        })
        .collect()
}

/// Whether every pair of `selector` is among `labels` (an empty selector
/// selects nothing here: it is no Service of Traefik's).
fn selects(selector: Option<&serde_json::Map<String, Value>>, labels: &Value) -> bool {
    selector.is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

impl TraefikService {
    /// The LoadBalancer Services among `services` that select the pods of a
    /// Traefik workload among `workloads`, then the Service `named`
    /// (`namespace/name`, the configured one) if it is not among them.
    pub(crate) fn find<'w>(
        services: &[Value],
        workloads: impl IntoIterator<Item = &'w Value>,
        named: Option<&str>,
    ) -> Vec<TraefikService> {
        let mut found = Vec::new();
        for workload in workloads {
            let Some(traefik) = super::image_of(workload, super::is_traefik_image) else {
                continue;
            };
            let namespace = workload.pointer("/metadata/namespace");
            let labels = workload
                .pointer("/spec/template/metadata/labels")
                .cloned()
                .unwrap_or(Value::Null);
            for service in services {
                let selector = service.pointer("/spec/selector").and_then(Value::as_object);
                if service.pointer("/metadata/namespace") != namespace
                    || service.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer")
                    || !selects(selector, &labels)
                {
                    continue;
                }
                let id = Identity::of(service);
                if found.iter().any(|f: &TraefikService| f.id == id) {
                    continue;
                }
                found.push(TraefikService::read(service, Some(workload), traefik));
            }
        }
        let named = services
            .iter()
            .find(|s| named.is_some_and(|n| Identity::of(s).path() == n));
        if let Some(service) = named {
            let id = Identity::of(service);
            if !found.iter().any(|f| f.id == id) {
                found.push(TraefikService::read(service, None, ""));
            }
        }
        found
    }

    fn read(service: &Value, workload: Option<&Value>, image: &str) -> TraefikService {
        let annotation = |key: &str| {
            service
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(|v| (v.to_string(), key.to_string()))
        };
        let spec_ip = service
            .pointer("/spec/loadBalancerIP")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(|v| (v.to_string(), "spec.loadBalancerIP".to_string()));
        let asked = annotation(ADDRESS_ANNOTATION)
            .or_else(|| annotation(OLD_ADDRESS_ANNOTATION))
            .or(spec_ip);
        let described = workload.map(|w| {
            let id = Identity::of(w);
            crate::objects::describe(
                w["kind"].as_str().unwrap_or("Deployment"),
                id.namespace.as_deref(),
                &id.name,
            )
        });
        TraefikService {
            ports: served_ports(service, workload),
            id: Identity::of(service),
            workload: described.unwrap_or_default(),
            image: image.to_string(),
            pinned_by_wildrun: wildrun_owns(service, "annotations", ADDRESS_ANNOTATION),
            asked_ip: asked.as_ref().map(|(ip, _)| ip.clone()),
            asked_by: asked.map(|(_, by)| by),
            addresses: service
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("ip").and_then(Value::as_str).map(str::to_string))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn traefik(image: &str) -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "traefik", "namespace": "traefik"},
               "spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"}},
                                     "spec": {"containers": [{"name": "traefik", "image": image,
                                         "ports": [{"name": "web", "containerPort": 8000}, {"name": "websecure", "containerPort": 8443}]}]}}}})
    }

    fn service(name: &str, kind: &str, selector: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "traefik",
                            "annotations": {"metallb.universe.tf/loadBalancerIPs": "192.168.8.240"}},
               "spec": {"type": kind, "selector": selector,
                        "ports": [{"name": "web", "port": 80, "targetPort": "web"},
                                  {"name": "websecure", "port": 443, "targetPort": "websecure"},
                                  {"name": "metrics", "port": 9100, "targetPort": 9101}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "192.168.8.240"}]}}})
    }

    #[test]
    fn the_load_balancer_selecting_traefik_pods_is_found() {
        let selector = json!({"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"});
        let services = vec![
            service("traefik", "LoadBalancer", selector.clone()),
            service("traefik-internal", "ClusterIP", selector),
            service("other", "LoadBalancer", json!({"app": "other"})),
            service("everything", "LoadBalancer", json!({})),
        ];
        let found = TraefikService::find(&services, &[traefik("docker.io/traefik:v3.4.1")], None);
        assert_eq!(found.len(), 1, "{found:?}");
        let t = &found[0];
        assert_eq!(t.id.path(), "traefik/traefik");
        assert_eq!(t.workload, "Deployment traefik/traefik");
        assert_eq!(t.asked_ip.as_deref(), Some("192.168.8.240"));
        assert_eq!(t.asked_by.as_deref(), Some(OLD_ADDRESS_ANNOTATION));
        assert_eq!(t.addresses, ["192.168.8.240"]);
        assert!(!t.pinned_by_wildrun);
        // As Traefik's chart makes it: 443 → websecure → 8443 in the pods.
        let pod_ports: Vec<_> = t.ports.iter().map(|p| (p.port, p.pod_port)).collect();
        assert_eq!(
            pod_ports,
            [(80, Some(8000)), (443, Some(8443)), (9100, Some(9101))]
        );
        assert!(TraefikService::find(&services, &[traefik("nginx:1")], None).is_empty());
        // The configured one is read without a Traefik workload.
        let named = TraefikService::find(&services, &[], Some("traefik/other"));
        assert_eq!(named.len(), 1);
        assert_eq!(
            (named[0].id.name.as_str(), named[0].workload.as_str()),
            ("other", "")
        );
        // Without its workload, a port's name cannot be resolved; a number can.
        let pod_ports: Vec<_> = named[0].ports.iter().map(|p| p.pod_port).collect();
        assert_eq!(pod_ports, [None, None, Some(9101)]);
    }
}
