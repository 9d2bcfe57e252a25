//! A Service's ports and how other objects name them: a route's backend
//! names its Service's port, a Service's `targetPort` its pods'. Read by
//! the reachability chain and by discovery (the port Traefik's pods serve
//! behind its Service's).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How an object names a port: a route's backend its Service's, a
/// Service's `targetPort` its pods'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum PortRef {
    /// By number.
    Number(i64),
    /// By name.
    Name(String),
}

impl PortRef {
    /// A port as a field holds it: a number, a name, or a number written
    /// as text (`"8443"`); `None` when absent or neither.
    pub(crate) fn written(port: Option<&Value>) -> Option<PortRef> {
        match port? {
            Value::Number(n) => n.as_i64().map(PortRef::Number),
            Value::String(text) => Some(match text.parse::<i64>() {
                Ok(n) => PortRef::Number(n),
                Err(_) => PortRef::Name(text.clone()),
            }),
            _ => None,
        }
    }

    /// The port a backend's `port` map names (`number`, else `name`).
    pub(crate) fn from_value(port: Option<&Value>) -> Option<PortRef> {
        let port = port?;
        if let Some(n) = port.get("number").and_then(Value::as_i64) {
            return Some(PortRef::Number(n));
        }
        port.get("name")
            .and_then(Value::as_str)
            .map(|n| PortRef::Name(n.to_string()))
    }
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(n) => write!(f, "{n}"),
        }
    }
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServicePort {
    /// Its name, if it has one.
    pub(crate) name: Option<String>,
    /// The port the Service serves.
    pub(crate) port: i64,
    /// Where it sends to in the pods: a number or a container port's name
    /// (default: the port itself).
    pub(crate) target: PortRef,
}

impl ServicePort {
    /// Whether a backend's port reference names this port.
    pub(crate) fn is(&self, wanted: &PortRef) -> bool {
        match wanted {
            PortRef::Number(n) => self.port == *n,
            PortRef::Name(n) => self.name.as_deref() == Some(n.as_str()),
        }
    }
}

/// The ports of a Service.
pub(crate) fn service_ports(service: &Value) -> Vec<ServicePort> {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    let port = p.get("port")?.as_i64()?;
                    let target =
                        PortRef::written(p.get("targetPort")).unwrap_or(PortRef::Number(port));
                    Some(ServicePort {
                        name: p.get("name").and_then(Value::as_str).map(str::to_string),
                        port,
                        target,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One port a container declares (`containers[].ports[]` of a pod spec).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeclaredPort<'a> {
    /// The container's name.
    pub(crate) container: &'a str,
    /// The port's name, if it has one.
    pub(crate) name: Option<&'a str>,
    /// Its `containerPort`.
    pub(crate) port: i64,
}

/// The ports the containers of `pod_spec` declare: a pod's `spec`, or a
/// workload's pod template's (`/spec/template/spec`). Entries without a
/// `containerPort` are left out.
pub(crate) fn declared_ports(pod_spec: Option<&Value>) -> Vec<DeclaredPort<'_>> {
    let containers = pod_spec
        .and_then(|spec| spec.get("containers"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    containers
        .iter()
        .flat_map(|c| {
            let container = c.get("name").and_then(Value::as_str).unwrap_or_default();
            c.get("ports")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(move |p| {
                    Some(DeclaredPort {
                        container,
                        name: p.get("name").and_then(Value::as_str),
                        port: p.get("containerPort")?.as_i64()?,
                    })
                })
        })
        .collect()
}
