//! What an Ingress says about the chain: its class, hosts, backend, TLS
//! Secret, the ExternalDNS annotations and the router middlewares it names.
//! Read by `--wait` (from the plan) and by the doctor (from the cluster).

use super::names::{
    EXTERNALDNS_PREFIXES, INGRESS_CLASS_ANNOTATION, MIDDLEWARES_ANNOTATION, TARGET,
};
use crate::objects::ports::PortRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A non-empty annotation of `object`.
pub(crate) fn annotation<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|m| m.get(name))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The ExternalDNS annotation `key` (`target`, `ttl`) under either prefix:
/// the first whose value is `wanted`, else the first set (the current
/// prefix before the alpha one).
pub(crate) fn externaldns_annotation<'a>(
    object: &'a Value,
    key: &str,
    wanted: Option<&str>,
) -> Option<&'a str> {
    let values: Vec<&str> = EXTERNALDNS_PREFIXES
        .iter()
        .filter_map(|prefix| annotation(object, &format!("{prefix}{key}")))
        .collect();
    values
        .iter()
        .find(|v| Some(**v) == wanted)
        .or(values.first())
        .copied()
}

/// The ExternalDNS target of an Ingress (either prefix; a trailing dot dropped).
pub(crate) fn externaldns_target(object: &Value) -> Option<String> {
    externaldns_annotation(object, TARGET, None).map(|t| t.trim_end_matches('.').to_string())
}

/// The ExternalDNS TTL of an Ingress (either prefix).
#[cfg(test)]
fn externaldns_ttl(object: &Value) -> Option<&str> {
    externaldns_annotation(object, super::names::TTL, None)
}

/// The Ingress's class: `spec.ingressClassName`, else the older annotation
/// `kubernetes.io/ingress.class`.
pub(crate) fn class(ingress: &Value) -> Option<&str> {
    ingress
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .or_else(|| annotation(ingress, INGRESS_CLASS_ANNOTATION))
}

/// The hosts of the Ingress's rules, in order.
pub(crate) fn hosts(ingress: &Value) -> Vec<String> {
    rules(ingress)
        .iter()
        .filter_map(|r| r.get("host").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

fn rules(ingress: &Value) -> Vec<Value> {
    list(ingress, "/spec/rules")
}

fn list(object: &Value, pointer: &str) -> Vec<Value> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The router middlewares the Ingress names (Traefik's annotation,
/// comma-separated), in order.
pub(crate) fn middlewares(ingress: &Value) -> Vec<String> {
    annotation(ingress, MIDDLEWARES_ANNOTATION)
        .map(|refs| {
            refs.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the Ingress names a router middleware: the mark of an internal
/// service (its middleware admits only the internal networks).
pub(crate) fn names_middlewares(ingress: &Value) -> bool {
    annotation(ingress, MIDDLEWARES_ANNOTATION).is_some()
}

/// The TLS Secret serving `host`: the `spec.tls` entry listing it (or
/// listing no hosts).
pub(crate) fn tls_secret_for(ingress: &Value, host: &str) -> Option<String> {
    list(ingress, "/spec/tls")
        .iter()
        .find(|t| {
            t.get("hosts")
                .and_then(Value::as_array)
                .is_none_or(|hs| hs.iter().any(|h| h.as_str() == Some(host)))
        })
        .and_then(|t| t.get("secretName"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The first TLS Secret the Ingress names.
pub(crate) fn first_tls_secret(ingress: &Value) -> Option<String> {
    ingress
        .pointer("/spec/tls/0/secretName")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A backend Service a route sends requests to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Backend {
    /// The Service's name (in the route's namespace).
    pub(crate) service: String,
    /// Its port.
    pub(crate) port: PortRef,
}

impl Backend {
    /// The backend of an Ingress path (`backend.service`), if it names one.
    pub(crate) fn of_path(path: &Value) -> Option<Backend> {
        let service = path.pointer("/backend/service")?;
        Some(Backend {
            service: service.get("name")?.as_str()?.to_string(),
            port: PortRef::from_value(service.get("port"))?,
        })
    }
}

/// The backend of the Ingress's first rule's first path.
pub(crate) fn first_backend(ingress: &Value) -> Option<Backend> {
    ingress
        .pointer("/spec/rules/0/http/paths/0")
        .and_then(Backend::of_path)
}

/// A route's reference to a Traefik Middleware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum MiddlewareRef {
    /// A namespace and a name (IngressRoute, chain).
    Named {
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// An Ingress annotation's `<namespace>-<name>@<provider>`, which only
    /// the Middlewares that exist can split.
    Joined(String),
}

impl std::fmt::Display for MiddlewareRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MiddlewareRef::Named { namespace, name } => write!(f, "{namespace}/{name}"),
            MiddlewareRef::Joined(text) => write!(f, "{text}"),
        }
    }
}

/// Whether an Ingress host (`*.example.com`: exactly one label) covers `host`.
pub(crate) fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(parent)),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// Whether an Ingress path of `path_type` covers `path`: `Exact`, or a
/// prefix of whole segments (`Prefix`; Traefik reads
/// `ImplementationSpecific` as a plain prefix).
pub(crate) fn path_matches(pattern: &str, path_type: &str, path: &str) -> bool {
    match path_type {
        "Exact" => pattern == path,
        "Prefix" => {
            let pattern = pattern.trim_end_matches('/');
            pattern.is_empty()
                || path == pattern
                || path
                    .strip_prefix(pattern)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        _ => path.starts_with(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ingress(annotations: Value, spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "shop", "annotations": annotations}, "spec": spec})
    }

    #[test]
    fn externaldns_annotations_under_either_prefix() {
        let both = ingress(
            json!({"external-dns.kubernetes.io/target": "a.example.com.",
                   "external-dns.alpha.kubernetes.io/target": "b.example.com",
                   "external-dns.alpha.kubernetes.io/ttl": "60"}),
            json!({}),
        );
        assert_eq!(externaldns_target(&both).as_deref(), Some("a.example.com"));
        assert_eq!(
            externaldns_annotation(&both, TARGET, Some("b.example.com")),
            Some("b.example.com")
        );
        assert_eq!(externaldns_ttl(&both), Some("60"));
        let none = ingress(json!({"external-dns.kubernetes.io/target": ""}), json!({}));
        assert_eq!(externaldns_target(&none), None);
    }

    #[test]
    fn class_from_the_field_or_the_annotation() {
        let field = ingress(json!({}), json!({"ingressClassName": "traefik"}));
        assert_eq!(class(&field), Some("traefik"));
        let old = ingress(json!({"kubernetes.io/ingress.class": "traefik"}), json!({}));
        assert_eq!(class(&old), Some("traefik"));
        assert_eq!(class(&ingress(json!({}), json!({}))), None);
    }

    #[test]
    fn middlewares_tls_and_backend() {
        let ing = ingress(
            json!({"traefik.ingress.kubernetes.io/router.middlewares": "a-x@kubernetescrd, b-y@kubernetescrd"}),
            json!({"rules": [{"host": "a.example.com", "http": {"paths": [
                      {"path": "/", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}},
                             {"host": "b.example.com"}],
                   "tls": [{"hosts": ["b.example.com"], "secretName": "b-tls"},
                           {"secretName": "any-tls"}]}),
        );
        assert_eq!(
            middlewares(&ing),
            ["a-x@kubernetescrd", "b-y@kubernetescrd"]
        );
        assert!(names_middlewares(&ing));
        assert_eq!(hosts(&ing), ["a.example.com", "b.example.com"]);
        assert_eq!(
            tls_secret_for(&ing, "b.example.com").as_deref(),
            Some("b-tls")
        );
        assert_eq!(
            tls_secret_for(&ing, "a.example.com").as_deref(),
            Some("any-tls")
        );
        assert_eq!(first_tls_secret(&ing).as_deref(), Some("b-tls"));
        assert_eq!(
            first_backend(&ing),
            Some(Backend {
                service: "web".into(),
                port: PortRef::Name("http".into())
            })
        );
        assert!(!names_middlewares(&ingress(json!({}), json!({}))));
    }
}
