//! The routes to a host and path: every Ingress rule and Traefik
//! IngressRoute route that matches, whoever made them, with what each sends
//! the request through (middlewares) and to (backends), and its TLS.
//!
//! Traefik picks the matching router of the highest priority: by default
//! the length of its rule, the rule an Ingress path becomes
//! (`Host(`h`) && PathPrefix(`/p`)`) or an IngressRoute's `match`.

use super::httproute::{self, KIND as HTTP_ROUTE};
use super::ingress::{self, host_matches, path_matches, Backend, MiddlewareRef};
use super::names::CRD_PROVIDER;
use super::rule::Rule;
use super::{array, text};
use crate::objects::ports::PortRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What serves a host and path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Route {
    /// `Ingress`, `IngressRoute` or `HTTPRoute`.
    pub(crate) kind: String,
    /// Its namespace.
    pub(crate) namespace: String,
    /// Its name.
    pub(crate) name: String,
    /// The Ingress's class (field or annotation); `None` for an IngressRoute.
    pub(crate) class: Option<String>,
    /// The rule, in Traefik's words.
    pub(crate) rule: String,
    /// Traefik's priority: the route's own, else the length of its rule.
    pub(crate) priority: i64,
    /// Where requests go.
    pub(crate) backends: Vec<Backend>,
    /// The TLS Secret it names; `None` with `tls` set: Traefik's default
    /// certificate (or its ACME resolver).
    pub(crate) tls_secret: Option<String>,
    /// Whether it serves TLS at all (an Ingress with `spec.tls` or on
    /// Traefik's websecure entry point; an IngressRoute with `spec.tls`).
    pub(crate) tls: bool,
    /// The middlewares it names, in order, as `namespace/name` where the
    /// reference says which (an Ingress's `<namespace>-<name>@kubernetescrd`
    /// is resolved against the Middlewares that exist, see [`middleware_names`]).
    pub(crate) middlewares: Vec<MiddlewareRef>,
    /// The object itself.
    pub(crate) object: Value,
}

/// The routes `ingresses`, `ingress_routes` and `http_routes` (Gateway
/// API HTTPRoutes; as `kube::list` returns them) have for `host` and
/// `path`, the one Traefik picks first (highest priority; on a tie, the
/// longer rule). An IngressRoute whose rule cannot be read is left out,
/// with the reason in `unreadable`.
pub(crate) fn find(
    host: &str,
    path: &str,
    ingresses: &[Value],
    ingress_routes: &[Value],
    http_routes: &[Value],
    unreadable: &mut Vec<String>,
) -> Vec<Route> {
    let mut found: Vec<Route> = Vec::new();
    for ing in ingresses {
        found.extend(ingress_routes_of(ing, host, path));
    }
    found.extend(
        http_routes
            .iter()
            .filter_map(|r| http_route_of(r, host, path)),
    );
    for ir in ingress_routes {
        for (route, problem) in ingress_route_routes(ir, host, path) {
            match problem {
                Some(p) => unreadable.push(p),
                None => found.extend(route),
            }
        }
    }
    found.sort_by_key(|r| std::cmp::Reverse(r.priority));
    found
}

/// A host a route serves and a path to ask it at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Address {
    /// The host.
    pub(crate) host: String,
    /// The path: the first the route names for that host, else `/`.
    pub(crate) path: String,
}

/// The hosts a route object serves, each once, in order: an Ingress's
/// rules, a Traefik IngressRoute's `match` rules (its `Host(...)`
/// matchers), an HTTPRoute's `hostnames`. Wildcard hosts and host
/// patterns are left out: no one request checks them. An IngressRoute
/// rule that cannot be read adds nothing (`doctor::routes` names it).
pub(crate) fn addresses(object: &Value) -> Vec<Address> {
    let mut found: Vec<Address> = Vec::new();
    let mut add = |host: &str, path: Option<&str>| {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.contains('*') || found.iter().any(|a| a.host == host) {
            return;
        }
        let path = path.filter(|p| p.starts_with('/')).unwrap_or("/");
        found.push(Address {
            host,
            path: path.to_string(),
        });
    };
    match text(object, "/kind").unwrap_or_default() {
        "Ingress" => {
            for rule in array(object, "/spec/rules") {
                if let Some(host) = text(rule, "/host") {
                    add(host, text(rule, "/http/paths/0/path"));
                }
            }
        }
        "IngressRoute" => {
            for route in array(object, "/spec/routes") {
                let Ok(rule) = Rule::parse(text(route, "/match").unwrap_or_default()) else {
                    continue;
                };
                let (hosts, path) = rule.hosts_and_path();
                for host in hosts {
                    add(&host, path.as_deref());
                }
            }
        }
        "HTTPRoute" => {
            let path = text(object, "/spec/rules/0/matches/0/path/value");
            for host in httproute::hosts(object) {
                add(&host, path);
            }
        }
        _ => {}
    }
    found
}

/// The route as one of the [`Route`]s to a host, in Traefik's words: the
/// rule its router gets for `host` (`Host` and, per match, `PathPrefix`),
/// its backends, its ExtensionRef middlewares. `None` when it does not
/// serve `host`. TLS ends at the Gateway: `tls_secret` is `None` here,
/// the listener's certificate is the Gateway's (see [`httproute::listener_secret`]).
pub(super) fn http_route_of(route: &Value, host: &str, path: &str) -> Option<Route> {
    let served = httproute::hosts(route);
    let covers = served.is_empty() || served.iter().any(|h| host_matches(h, host));
    if !covers {
        return None;
    }
    // A rule without matches matches every path (a `PathPrefix /`); a
    // PathPrefix matches whole segments, as an Ingress's `Prefix`.
    let (matcher, prefix) = super::array(route, "/spec/rules")
        .iter()
        .flat_map(|r| match array(r, "/matches") {
            [] => vec![("Prefix", "/")],
            matches => matches
                .iter()
                .map(|m| match text(m, "/path/type") {
                    Some("Exact") => ("Exact", text(m, "/path/value").unwrap_or("/")),
                    _ => ("Prefix", text(m, "/path/value").unwrap_or("/")),
                })
                .collect(),
        })
        .filter(|(matcher, p)| path_matches(p, matcher, path))
        .max_by_key(|(_, p)| p.len())?;
    let matcher = if matcher == "Exact" {
        "Path"
    } else {
        "PathPrefix"
    };
    let rule = format!("Host(`{host}`) && {matcher}(`{prefix}`)");
    Some(Route {
        kind: HTTP_ROUTE.to_string(),
        namespace: httproute::namespace(route).to_string(),
        name: super::text(route, "/metadata/name")
            .unwrap_or_default()
            .to_string(),
        class: None,
        priority: rule.len() as i64,
        rule,
        backends: httproute::backends(route),
        tls_secret: None,
        tls: true,
        middlewares: httproute::middlewares(route),
        object: route.clone(),
    })
}

/// The routes an Ingress has for `host` and `path` (one per matching path).
fn ingress_routes_of(ing: &Value, host: &str, path: &str) -> Vec<Route> {
    let mut out = Vec::new();
    let middlewares: Vec<MiddlewareRef> = ingress::middlewares(ing)
        .into_iter()
        .map(MiddlewareRef::Joined)
        .collect();
    let tls_secret = ingress::tls_secret_for(ing, host);
    let tls = tls_secret.is_some()
        || !array(ing, "/spec/tls").is_empty()
        || ingress::annotation(ing, "traefik.ingress.kubernetes.io/router.tls") == Some("true")
        || ingress::annotation(ing, "traefik.ingress.kubernetes.io/router.entrypoints")
            .is_some_and(|e| e.split(',').any(|e| e.trim() == "websecure"));
    for rule in array(ing, "/spec/rules") {
        let rule_host = rule.get("host").and_then(Value::as_str);
        if rule_host.is_some_and(|h| !host_matches(h, host)) {
            continue;
        }
        for p in array(rule, "/http/paths") {
            let pattern = p.get("path").and_then(Value::as_str).unwrap_or("/");
            let path_type = p
                .get("pathType")
                .and_then(Value::as_str)
                .unwrap_or("Prefix");
            if !path_matches(pattern, path_type, path) {
                continue;
            }
            let matcher = if path_type == "Exact" {
                "Path"
            } else {
                "PathPrefix"
            };
            let rule_text = match rule_host {
                Some(h) => format!("Host(`{h}`) && {matcher}(`{pattern}`)"),
                None => format!("{matcher}(`{pattern}`)"),
            };
            out.push(Route {
                kind: "Ingress".into(),
                namespace: text(ing, "/metadata/namespace").unwrap_or_default().into(),
                name: text(ing, "/metadata/name").unwrap_or_default().into(),
                class: ingress::class(ing).map(str::to_string),
                priority: rule_text.len() as i64,
                rule: rule_text,
                backends: Backend::of_path(p).into_iter().collect(),
                tls_secret: tls_secret.clone(),
                tls,
                middlewares: middlewares.clone(),
                object: ing.clone(),
            });
        }
    }
    out
}

/// The routes of an IngressRoute that match, or why one cannot be read.
fn ingress_route_routes(
    ir: &Value,
    host: &str,
    path: &str,
) -> Vec<(Option<Route>, Option<String>)> {
    let namespace = text(ir, "/metadata/namespace").unwrap_or_default();
    let name = text(ir, "/metadata/name").unwrap_or_default();
    let tls = ir.pointer("/spec/tls").is_some_and(|t| !t.is_null());
    let tls_secret = text(ir, "/spec/tls/secretName").map(str::to_string);
    let mut out = Vec::new();
    for route in array(ir, "/spec/routes") {
        let Some(rule_text) = route.get("match").and_then(Value::as_str) else {
            continue;
        };
        let rule = match Rule::parse(rule_text) {
            Ok(r) => r,
            Err(e) => {
                out.push((None, Some(format!("IngressRoute {namespace}/{name}: {e}"))));
                continue;
            }
        };
        if !rule.may_match(host, path) {
            continue;
        }
        let backends = array(route, "/services")
            .iter()
            .filter(|s| s.get("kind").and_then(Value::as_str).unwrap_or("Service") == "Service")
            .filter_map(|s| {
                let port = PortRef::written(s.get("port"))?;
                Some(Backend {
                    service: s.get("name")?.as_str()?.to_string(),
                    port,
                })
            })
            .collect();
        let middlewares = array(route, "/middlewares")
            .iter()
            .filter_map(|m| {
                let name = m.get("name")?.as_str()?;
                Some(match name.split_once('@') {
                    Some(_) => MiddlewareRef::Joined(name.to_string()),
                    None => MiddlewareRef::Named {
                        namespace: m
                            .get("namespace")
                            .and_then(Value::as_str)
                            .unwrap_or(namespace)
                            .to_string(),
                        name: name.to_string(),
                    },
                })
            })
            .collect();
        let priority = route
            .get("priority")
            .and_then(Value::as_i64)
            .filter(|p| *p > 0)
            .unwrap_or(rule_text.len() as i64);
        out.push((
            Some(Route {
                kind: "IngressRoute".into(),
                namespace: namespace.into(),
                name: name.into(),
                class: None,
                rule: rule_text.to_string(),
                priority,
                backends,
                tls_secret: tls_secret.clone(),
                tls,
                middlewares,
                object: ir.clone(),
            }),
            None,
        ));
    }
    out
}

/// The `namespace/name` of each Middleware a route names, resolving an
/// Ingress's `<namespace>-<name>@kubernetescrd` against `middlewares` (all
/// that exist); a reference to another provider, or to none that exists,
/// stays as written.
pub(crate) fn middleware_names(
    refs: &[MiddlewareRef],
    middlewares: &[Value],
) -> Vec<MiddlewareRef> {
    refs.iter()
        .map(|r| match r {
            MiddlewareRef::Named { .. } => r.clone(),
            MiddlewareRef::Joined(text) => {
                let Some(joined) = text.strip_suffix(CRD_PROVIDER) else {
                    return r.clone();
                };
                middlewares
                    .iter()
                    .find_map(|m| {
                        let ns = m.pointer("/metadata/namespace")?.as_str()?;
                        let name = m.pointer("/metadata/name")?.as_str()?;
                        (format!("{ns}-{name}") == joined).then(|| MiddlewareRef::Named {
                            namespace: ns.into(),
                            name: name.into(),
                        })
                    })
                    .unwrap_or_else(|| r.clone())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gitea_ingress() -> Value {
        json!({"metadata": {"name": "gitea-public", "namespace": "gitea",
                            "annotations": {"kubernetes.io/ingress.class": "traefik",
                                            "traefik.ingress.kubernetes.io/router.middlewares": "gitea-lan@kubernetescrd"}},
               "spec": {"rules": [{"host": "git.example.com", "http": {"paths": [
                            {"path": "/", "pathType": "Prefix",
                             "backend": {"service": {"name": "gitea-http", "port": {"name": "http"}}}},
                            {"path": "/api", "pathType": "Prefix",
                             "backend": {"service": {"name": "gitea-api", "port": {"number": 8080}}}}]}}],
                        "tls": [{"hosts": ["git.example.com"], "secretName": "wildcard-tls"}]}})
    }

    fn ingress_route() -> Value {
        json!({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
               "metadata": {"name": "whoami", "namespace": "apps"},
               "spec": {"entryPoints": ["websecure"],
                        "routes": [{"match": "Host(`who.example.com`) && PathPrefix(`/`)", "kind": "Rule",
                                    "middlewares": [{"name": "lan"}, {"name": "auth", "namespace": "shared"}],
                                    "services": [{"name": "whoami", "port": "web"}]}],
                        "tls": {}}})
    }

    #[test]
    fn ingress_hosts_and_paths() {
        assert!(host_matches("*.example.com", "git.example.com"));
        assert!(!host_matches("*.example.com", "a.git.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(path_matches("/api", "Prefix", "/api/v1"));
        assert!(path_matches("/api/", "Prefix", "/api"));
        assert!(!path_matches("/api", "Prefix", "/apis"));
        assert!(path_matches("/", "Prefix", "/anything"));
        assert!(!path_matches("/a", "Exact", "/a/"));
        assert!(path_matches("/api", "ImplementationSpecific", "/apis"));
    }

    #[test]
    fn the_longest_ingress_path_wins() {
        let mut unreadable = Vec::new();
        let routes = find(
            "git.example.com",
            "/api/v1",
            &[gitea_ingress()],
            &[],
            &[],
            &mut unreadable,
        );
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].backends[0].service, "gitea-api");
        assert_eq!(
            routes[0].rule,
            "Host(`git.example.com`) && PathPrefix(`/api`)"
        );
        let routes = find(
            "git.example.com",
            "/",
            &[gitea_ingress()],
            &[],
            &[],
            &mut unreadable,
        );
        assert_eq!(routes.len(), 1);
        let r = &routes[0];
        assert_eq!(
            (r.kind.as_str(), r.class.as_deref()),
            ("Ingress", Some("traefik"))
        );
        assert_eq!(r.backends[0].port, PortRef::Name("http".into()));
        assert_eq!(r.tls_secret.as_deref(), Some("wildcard-tls"));
        assert!(find(
            "other.example.com",
            "/",
            &[gitea_ingress()],
            &[],
            &[],
            &mut unreadable
        )
        .is_empty());
        assert!(unreadable.is_empty());
    }

    #[test]
    fn ingress_routes_by_their_match() {
        let mut unreadable = Vec::new();
        let routes = find(
            "who.example.com",
            "/",
            &[],
            &[ingress_route()],
            &[],
            &mut unreadable,
        );
        assert_eq!(routes.len(), 1);
        let r = &routes[0];
        assert_eq!(r.kind, "IngressRoute");
        assert!(r.tls && r.tls_secret.is_none(), "{r:?}");
        assert_eq!(
            r.backends,
            [Backend {
                service: "whoami".into(),
                port: PortRef::Name("web".into())
            }]
        );
        assert_eq!(
            r.middlewares
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["apps/lan", "shared/auth"]
        );
        let mut bad = ingress_route();
        bad["spec"]["routes"][0]["match"] = json!("Host(`who.example.com`");
        assert!(find("who.example.com", "/", &[], &[bad], &[], &mut unreadable).is_empty());
        assert_eq!(unreadable.len(), 1);
        assert!(unreadable[0].starts_with("IngressRoute apps/whoami: cannot read the rule"));
    }

    #[test]
    fn http_routes_are_routes_too() {
        let http_route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"hostnames": ["git.example.com"],
                     "parentRefs": [{"name": "public", "namespace": "traefik", "sectionName": "https"}],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/api/v1"}}],
                                "backendRefs": [{"name": "web", "port": 80}]}]}});
        let mut unreadable = Vec::new();
        let routes = find(
            "git.example.com",
            "/api/v1/x",
            &[gitea_ingress()],
            &[],
            &[http_route],
            &mut unreadable,
        );
        // The longest rule first: the HTTPRoute's /api/v1 over the Ingress's paths.
        assert_eq!(
            routes
                .iter()
                .map(|r| format!("{} {}", r.kind, r.rule))
                .collect::<Vec<_>>(),
            [
                "HTTPRoute Host(`git.example.com`) && PathPrefix(`/api/v1`)",
                "Ingress Host(`git.example.com`) && PathPrefix(`/api`)",
                "Ingress Host(`git.example.com`) && PathPrefix(`/`)"
            ]
        );
        assert_eq!(routes[0].backends[0].service, "web");
    }

    #[test]
    fn joined_middleware_references_resolve_against_what_exists() {
        let refs = [
            MiddlewareRef::Joined("my-app-lan@kubernetescrd".into()),
            MiddlewareRef::Joined("gone-x@kubernetescrd".into()),
            MiddlewareRef::Joined("auth@file".into()),
        ];
        let existing = [json!({"metadata": {"namespace": "my-app", "name": "lan"}})];
        let names: Vec<String> = middleware_names(&refs, &existing)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["my-app/lan", "gone-x@kubernetescrd", "auth@file"]);
    }

    #[test]
    fn the_addresses_of_each_kind_of_route() {
        let ingress = json!({"kind": "Ingress", "spec": {"rules": [
            {"host": "git.example.com", "http": {"paths": [{"path": "/api"}]}},
            {"host": "*.example.com"},
            {"host": "Git.example.com."},
            {"host": "www.example.com"}]}});
        let hosts: Vec<(String, String)> = addresses(&ingress)
            .into_iter()
            .map(|a| (a.host, a.path))
            .collect();
        assert_eq!(
            hosts,
            [
                ("git.example.com".to_string(), "/api".to_string()),
                ("www.example.com".into(), "/".into())
            ]
        );
        let ingress_route = json!({"kind": "IngressRoute", "spec": {"routes": [
            {"match": "Host(`who.example.com`) && PathPrefix(`/x`)"},
            {"match": "Host(`who.example.com`"},
            {"match": "HostRegexp(`.+`)"}]}});
        assert_eq!(
            addresses(&ingress_route),
            [Address {
                host: "who.example.com".into(),
                path: "/x".into()
            }]
        );
        let http_route =
            json!({"kind": "HTTPRoute", "spec": {"hostnames": ["a.example.com", "b.example.com"]}});
        assert_eq!(addresses(&http_route).len(), 2);
        assert!(addresses(&json!({"kind": "Service"})).is_empty());
    }
}
