//! What an HTTPRoute (Gateway API) says about the chain, and what its
//! parent Gateway says back: the parents it attaches to and their verdicts
//! (`Accepted`, `ResolvedRefs`), the listener it lands on with that
//! listener's certificate, the Gateway's address and ExternalDNS target,
//! the backends and the Traefik Middlewares it names as `ExtensionRef`
//! filters. Read by `--wait` (from the plan) and the doctor (from the
//! cluster); pure functions of the objects read.

use super::ingress::{self, host_matches, Backend, MiddlewareRef};
use super::names::TARGET;
use super::{array, text};
use crate::objects::ports::PortRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The group of every Gateway API kind.
pub(crate) const GROUP: &str = crate::objects::gateway::GROUP;

/// The kind [`Route::kind`] carries for an HTTPRoute.
pub(crate) const KIND: &str = "HTTPRoute";

/// A route's reference to a Gateway listener, its namespace filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ParentRef {
    /// The Gateway's namespace (the route's unless it says another).
    pub(crate) namespace: String,
    /// The Gateway's name.
    pub(crate) name: String,
    /// The listener (`sectionName`); every listener when unset.
    pub(crate) section: Option<String>,
}

impl std::fmt::Display for ParentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gateway {}/{}", self.namespace, self.name)?;
        match &self.section {
            Some(s) => write!(f, " listener {s}"),
            None => Ok(()),
        }
    }
}

impl ParentRef {
    /// Whether a `parentRef` map (of the spec or of a status entry) is this
    /// one, seen from a route in `route_namespace`.
    fn is(&self, value: &Value, route_namespace: &str) -> bool {
        let kind = text(value, "/kind").unwrap_or("Gateway");
        kind == "Gateway"
            && text(value, "/name") == Some(self.name.as_str())
            && text(value, "/namespace").unwrap_or(route_namespace) == self.namespace
            && text(value, "/sectionName").map(str::to_string) == self.section
    }
}

/// The route's namespace.
pub(crate) fn namespace(route: &Value) -> &str {
    text(route, "/metadata/namespace").unwrap_or_default()
}

/// The Gateways (and listeners) the route attaches to (`Gateway` parents only).
pub(crate) fn parents(route: &Value) -> Vec<ParentRef> {
    let ns = namespace(route);
    array(route, "/spec/parentRefs")
        .iter()
        .filter(|p| text(p, "/kind").unwrap_or("Gateway") == "Gateway")
        .filter_map(|p| {
            Some(ParentRef {
                namespace: text(p, "/namespace").unwrap_or(ns).to_string(),
                name: text(p, "/name")?.to_string(),
                section: text(p, "/sectionName").map(str::to_string),
            })
        })
        .collect()
}

/// The route's hosts (`spec.hostnames`), in order.
pub(crate) fn hosts(route: &Value) -> Vec<String> {
    array(route, "/spec/hostnames")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A condition of a status entry: its status, reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusCondition {
    /// `True`, `False` or `Unknown`.
    pub(crate) status: String,
    /// Its reason (`Accepted`, `NotAllowedByListeners`, `BackendNotFound`, ...).
    pub(crate) reason: String,
    /// The controller's message.
    pub(crate) message: String,
}

impl StatusCondition {
    /// Whether it is `True`.
    pub(crate) fn holds(&self) -> bool {
        self.status == "True"
    }
}

impl std::fmt::Display for StatusCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.status, self.reason)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// The condition `kind` of a `conditions` list's owner (`status` of a route
/// parent, a Gateway, a listener).
pub(crate) fn condition(owner: &Value, kind: &str) -> Option<StatusCondition> {
    array(owner, "/conditions")
        .iter()
        .find(|c| text(c, "/type") == Some(kind))
        .map(|c| StatusCondition {
            status: text(c, "/status").unwrap_or("Unknown").to_string(),
            reason: text(c, "/reason").unwrap_or_default().to_string(),
            message: text(c, "/message").unwrap_or_default().to_string(),
        })
}

/// What the Gateway's controller wrote about the route for `parent`
/// (`status.parents[]`), if it wrote anything.
pub(crate) fn parent_status<'a>(route: &'a Value, parent: &ParentRef) -> Option<&'a Value> {
    let ns = namespace(route);
    array(route, "/status/parents")
        .iter()
        .find(|p| p.get("parentRef").is_some_and(|r| parent.is(r, ns)))
}

/// The route's backends (Services) over all rules, in order.
pub(crate) fn backends(route: &Value) -> Vec<Backend> {
    array(route, "/spec/rules")
        .iter()
        .flat_map(|rule| array(rule, "/backendRefs"))
        .filter(|b| text(b, "/kind").unwrap_or("Service") == "Service")
        .filter_map(|b| {
            Some(Backend {
                service: text(b, "/name")?.to_string(),
                port: PortRef::Number(b.get("port")?.as_i64()?),
            })
        })
        .collect()
}

/// The backend Services the route names in another namespace, as
/// `namespace/name` (each needs a ReferenceGrant there).
pub(crate) fn foreign_backends(route: &Value) -> Vec<String> {
    let ns = namespace(route);
    array(route, "/spec/rules")
        .iter()
        .flat_map(|rule| array(rule, "/backendRefs"))
        .filter_map(|b| {
            let other = text(b, "/namespace").filter(|o| *o != ns)?;
            Some(format!("{other}/{}", text(b, "/name")?))
        })
        .collect()
}

/// The Traefik Middlewares the route's rules apply as `ExtensionRef`
/// filters (they live in the route's namespace).
pub(crate) fn middlewares(route: &Value) -> Vec<MiddlewareRef> {
    let ns = namespace(route);
    let mut out = Vec::new();
    for rule in array(route, "/spec/rules") {
        for filter in array(rule, "/filters") {
            let is_middleware = text(filter, "/type") == Some("ExtensionRef")
                && text(filter, "/extensionRef/group") == Some("traefik.io")
                && text(filter, "/extensionRef/kind") == Some("Middleware");
            if let (true, Some(name)) = (is_middleware, text(filter, "/extensionRef/name")) {
                let r = MiddlewareRef::Named {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
    }
    out
}

/// The listener of `gateway` that `parent` names (its `sectionName`), or
/// the first listener whose hostname covers `host` when it names none.
pub(crate) fn listener<'a>(
    gateway: &'a Value,
    parent: &ParentRef,
    host: &str,
) -> Option<&'a Value> {
    let listeners = array(gateway, "/spec/listeners");
    match &parent.section {
        Some(section) => listeners
            .iter()
            .find(|l| text(l, "/name") == Some(section.as_str())),
        None => listeners.iter().find(|l| match text(l, "/hostname") {
            Some(pattern) => host_matches(pattern, host),
            None => true,
        }),
    }
}

/// The names of a Gateway's listeners.
pub(crate) fn listener_names(gateway: &Value) -> Vec<String> {
    array(gateway, "/spec/listeners")
        .iter()
        .filter_map(|l| text(l, "/name"))
        .map(str::to_string)
        .collect()
}

/// What the controller wrote about the listener `name` of `gateway`.
pub(crate) fn listener_status<'a>(gateway: &'a Value, name: &str) -> Option<&'a Value> {
    array(gateway, "/status/listeners")
        .iter()
        .find(|l| text(l, "/name") == Some(name))
}

/// The Secret a listener terminates TLS with, as (namespace, name): its
/// first `certificateRef`, in the Gateway's namespace unless it says another.
pub(crate) fn listener_secret(gateway: &Value, listener: &Value) -> Option<(String, String)> {
    let first = array(listener, "/tls/certificateRefs").first()?;
    if text(first, "/kind").unwrap_or("Secret") != "Secret" {
        return None;
    }
    let gateway_ns = text(gateway, "/metadata/namespace").unwrap_or_default();
    Some((
        text(first, "/namespace").unwrap_or(gateway_ns).to_string(),
        text(first, "/name")?.to_string(),
    ))
}

/// Whether a ReferenceGrant lets Gateways of `from_namespace` use Secret
/// `name` in the grant's namespace.
pub(crate) fn grants_secret(grant: &Value, from_namespace: &str, name: &str) -> bool {
    let from = array(grant, "/spec/from").iter().any(|f| {
        text(f, "/group") == Some(GROUP)
            && text(f, "/kind") == Some("Gateway")
            && text(f, "/namespace") == Some(from_namespace)
    });
    let to = array(grant, "/spec/to").iter().any(|t| {
        text(t, "/group") == Some("")
            && text(t, "/kind") == Some("Secret")
            && text(t, "/name").is_none_or(|n| n == name)
    });
    from && to
}

/// The addresses the controller published for the Gateway.
pub(crate) fn gateway_addresses(gateway: &Value) -> Vec<String> {
    array(gateway, "/status/addresses")
        .iter()
        .filter_map(|a| text(a, "/value"))
        .map(str::to_string)
        .collect()
}

/// The Gateway's ExternalDNS target (either prefix; a trailing dot
/// dropped): what ExternalDNS writes for the routes attached to it.
pub(crate) fn gateway_target(gateway: &Value) -> Option<String> {
    ingress::externaldns_annotation(gateway, TARGET, None)
        .map(|t| t.trim_end_matches('.').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "hostnames": ["web.internal.example.com"],
                "parentRefs": [{"name": "internal", "namespace": "traefik", "sectionName": "https"}],
                "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "filters": [{"type": "ExtensionRef", "extensionRef":
                        {"group": "traefik.io", "kind": "Middleware", "name": "internal-only"}}],
                    "backendRefs": [{"name": "web", "port": 8080}, {"name": "db", "namespace": "data", "port": 5432}],
                }],
            },
            "status": {"parents": [{
                "parentRef": {"group": GROUP, "kind": "Gateway", "name": "internal", "namespace": "traefik", "sectionName": "https"},
                "conditions": [
                    {"type": "Accepted", "status": "True", "reason": "Accepted", "message": ""},
                    {"type": "ResolvedRefs", "status": "False", "reason": "BackendNotFound", "message": "no Service data/db"},
                ],
            }]},
        })
    }

    #[test]
    fn parents_backends_and_middlewares() {
        let r = route();
        let parent = &parents(&r)[0];
        assert_eq!(
            parent.to_string(),
            "Gateway traefik/internal listener https"
        );
        let status = parent_status(&r, parent).expect("the parent's status");
        assert!(condition(status, "Accepted").unwrap().holds());
        let refs = condition(status, "ResolvedRefs").unwrap();
        assert!(!refs.holds());
        assert_eq!(
            refs.to_string(),
            "False (BackendNotFound): no Service data/db"
        );
        assert_eq!(backends(&r)[0].service, "web");
        assert_eq!(foreign_backends(&r), ["data/db"]);
        assert_eq!(
            middlewares(&r),
            [MiddlewareRef::Named {
                namespace: "shop".into(),
                name: "internal-only".into()
            }]
        );
        // Another listener is another parent: no status for it.
        let other = ParentRef {
            section: Some("web".into()),
            ..parent.clone()
        };
        assert!(parent_status(&r, &other).is_none());
    }

    #[test]
    fn the_route_in_traefiks_words() {
        let r = crate::chain::route::http_route_of(&route(), "web.internal.example.com", "/x")
            .expect("serves the host");
        assert_eq!(
            r.rule,
            "Host(`web.internal.example.com`) && PathPrefix(`/`)"
        );
        assert_eq!(r.kind, "HTTPRoute");
        assert!(crate::chain::route::http_route_of(&route(), "other.example.com", "/").is_none());
        // A path no rule matches is not served.
        let mut api_only = route();
        api_only["spec"]["rules"][0]["matches"] =
            json!([{"path": {"type": "PathPrefix", "value": "/api"}}]);
        assert!(
            crate::chain::route::http_route_of(&api_only, "web.internal.example.com", "/")
                .is_none()
        );
        let r =
            crate::chain::route::http_route_of(&api_only, "web.internal.example.com", "/api/v1")
                .expect("/api");
        assert_eq!(
            r.rule,
            "Host(`web.internal.example.com`) && PathPrefix(`/api`)"
        );
    }

    #[test]
    fn listeners_certificates_grants_and_targets() {
        let gateway = json!({
            "metadata": {"name": "internal", "namespace": "traefik",
                         "annotations": {"external-dns.alpha.kubernetes.io/target": "192.168.8.240"}},
            "spec": {"listeners": [{"name": "https", "hostname": "*.internal.example.com", "port": 443,
                "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "wild", "namespace": "cert-manager"}]}}]},
            "status": {"addresses": [{"type": "IPAddress", "value": "192.168.8.240"}]},
        });
        let parent = &parents(&route())[0];
        let l = listener(&gateway, parent, "web.internal.example.com").expect("listener https");
        assert_eq!(
            listener_secret(&gateway, l),
            Some(("cert-manager".into(), "wild".into()))
        );
        let unnamed = ParentRef {
            section: None,
            ..parent.clone()
        };
        assert!(listener(&gateway, &unnamed, "web.internal.example.com").is_some());
        assert!(listener(&gateway, &unnamed, "web.example.com").is_none());
        assert_eq!(gateway_target(&gateway).as_deref(), Some("192.168.8.240"));
        assert_eq!(gateway_addresses(&gateway), ["192.168.8.240"]);
        let grant = json!({"spec": {
            "from": [{"group": GROUP, "kind": "Gateway", "namespace": "traefik"}],
            "to": [{"group": "", "kind": "Secret", "name": "wild"}]}});
        assert!(grants_secret(&grant, "traefik", "wild"));
        assert!(!grants_secret(&grant, "other", "wild"));
        assert!(!grants_secret(&grant, "traefik", "another"));
    }
}
