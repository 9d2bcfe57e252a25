//! The checks of `doctor --host`: which route serves the host and path,
//! whoever made it, and what it goes through to reach a pod: its class,
//! the Service's target port in the pods, its middlewares (chains
//! followed), and the name's address.

use super::super::check::Check;
use super::super::ingress::Backend;
use super::super::ingress::MiddlewareRef;
use super::super::route::{middleware_names, Route};
use super::super::subject::Subject;
use super::{at, text};
use crate::objects::ports::{declared_ports, service_ports, PortRef};
use serde_json::Value;

/// How deep a chain of Middleware chains is followed (a loop stops there).
const MAX_CHAIN_DEPTH: usize = 8;

/// `route`: some Ingress, IngressRoute or HTTPRoute routes `host` and `path`; the
/// first of `routes` is the one Traefik picks.
pub(crate) fn routes(host: &str, path: &str, routes: &[Route], unreadable: &[String]) -> Check {
    const NAME: &str = "route";
    let unread = if unreadable.is_empty() {
        String::new()
    } else {
        format!(
            " ({} unreadable: {})",
            unreadable.len(),
            unreadable.join("; ")
        )
    };
    let Some(first) = routes.first() else {
        return Check::fail(
            NAME,
            format!("no Ingress, IngressRoute or HTTPRoute routes {host}{path}{unread}"),
            format!("deploy the app with an Ingress whose rule's host is {host} (or an IngressRoute whose match names it, or an HTTPRoute whose hostnames do); check the host's spelling"),
        );
    };
    let others = routes[1..]
        .iter()
        .map(|r| format!("{} {}/{} ({})", r.kind, r.namespace, r.name, r.rule))
        .collect::<Vec<_>>();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!("; also matching, at lower priority: {}", others.join(", "))
    };
    Check::pass(
        NAME,
        format!(
            "{} {}/{}: {} (priority {}){also}{unread}",
            first.kind, first.namespace, first.name, first.rule, first.priority
        ),
    )
}

/// The controller Traefik's IngressClasses name.
pub(crate) const TRAEFIK_INGRESS_CONTROLLER: &str = "traefik.io/ingress-controller";

/// The annotation marking the cluster's default IngressClass.
pub(crate) const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// `ingress-class`: an Ingress is Traefik's: its class (by field or
/// annotation) is `wanted` or an IngressClass of Traefik's controller among
/// `classes`, or it names none and Traefik's IngressClass is the default.
/// An IngressRoute is Traefik's own kind; an HTTPRoute has no class (its
/// Gateway's GatewayClass decides: see `route-accepted`).
pub(crate) fn class(route: &Route, wanted: &str, classes: &[Value]) -> Check {
    const NAME: &str = "ingress-class";
    if route.kind == super::super::httproute::KIND {
        return Check::skip(
            NAME,
            "HTTPRoute: no class; its Gateway's GatewayClass decides (see route-accepted)",
        );
    }
    if route.kind != "Ingress" {
        return Check::pass(
            NAME,
            format!("{}: Traefik's own kind, no class", route.kind),
        );
    }
    let traefiks: Vec<&Value> = classes
        .iter()
        .filter(|c| text(c, "/spec/controller") == Some(TRAEFIK_INGRESS_CONTROLLER))
        .collect();
    let class_name = |c: &Value| text(c, "/metadata/name").unwrap_or_default().to_string();
    let hint = format!(
        "Traefik serves Ingresses of class {wanted} (configuration ingress.className): set spec.ingressClassName (or the annotation kubernetes.io/ingress.class) of Ingress {}/{} to {wanted}",
        route.namespace, route.name
    );
    let Some(class) = route.class.as_deref() else {
        let default = traefiks.iter().find(|c| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .and_then(Value::as_str)
                == Some("true")
        });
        return match default {
            Some(c) => Check::pass(
                NAME,
                format!(
                    "no class: IngressClass {} (Traefik's) is the cluster's default",
                    class_name(c)
                ),
            ),
            None => Check::fail(
                NAME,
                "no class, and no IngressClass of Traefik's is the cluster's default",
                hint,
            ),
        };
    };
    let by = if route
        .object
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty())
    {
        "spec.ingressClassName"
    } else {
        "annotation kubernetes.io/ingress.class"
    };
    let traefiks_class = traefiks.iter().any(|c| class_name(c) == class);
    Check::judged(
        NAME,
        class == wanted || traefiks_class,
        format!("class {class} ({by})"),
        hint,
    )
}

/// One port a container of the pods declares.
#[derive(Debug, Clone, PartialEq)]
struct ContainerPort {
    pod: String,
    container: String,
    name: Option<String>,
    port: i64,
}

fn container_ports(pods: &[Value]) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    for pod in pods {
        let pod_name = text(pod, "/metadata/name").unwrap_or_default();
        out.extend(
            declared_ports(pod.get("spec"))
                .into_iter()
                .map(|d| ContainerPort {
                    pod: pod_name.to_string(),
                    container: d.container.to_string(),
                    name: d.name.map(str::to_string),
                    port: d.port,
                }),
        );
    }
    out
}

/// `target-port`: the Service port the backend names sends to a port a
/// container of the selected `pods` declares (by number, or by name).
pub(crate) fn target_port(backend: &Backend, service: &Value, pods: &[Value]) -> Check {
    const NAME: &str = "target-port";
    let Some(port) = service_ports(service)
        .into_iter()
        .find(|p| p.is(&backend.port))
    else {
        return Check::skip(NAME, "the Service has no such port (see service)");
    };
    if pods.is_empty() {
        return Check::skip(
            NAME,
            "no pod matches the Service's selector (see endpoints)",
        );
    }
    let declared = container_ports(pods);
    let listed = declared
        .iter()
        .map(|c| match &c.name {
            Some(n) => format!("{} ({n})", c.port),
            None => c.port.to_string(),
        })
        .collect::<Vec<_>>();
    let mut listed_unique = listed.clone();
    listed_unique.dedup();
    let chain = format!("port {} → targetPort {}", backend.port, port.target);
    let hit = declared.iter().find(|c| match &port.target {
        PortRef::Number(n) => c.port == *n,
        PortRef::Name(n) => c.name.as_deref() == Some(n.as_str()),
    });
    let svc = at(service);
    match (hit, &port.target) {
        (Some(c), _) => Check::pass(
            NAME,
            format!("{chain} → container port {} ({} in pod {})", c.port, c.container, c.pod),
        ),
        (None, PortRef::Number(_)) if declared.is_empty() => Check::pass(
            NAME,
            format!("{chain}; the pods declare no ports (Kubernetes does not need them to): not checked"),
        ),
        (None, _) => Check::fail(
            NAME,
            format!("{chain}, which no container of the pods declares (they declare {})", listed_unique.join(", ")),
            format!("set targetPort of Service {svc} to a port its pods listen on ({}), by number or by the container port's name", listed_unique.join(", ")),
        ),
    }
}

/// What a Middleware does: the first key of its spec (`ipAllowList`, `chain`, ...).
fn kind_of(middleware: &Value) -> String {
    middleware
        .get("spec")
        .and_then(Value::as_object)
        .and_then(|spec| spec.keys().next().cloned())
        .unwrap_or_else(|| "(empty)".into())
}

/// What following a route's middlewares found.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Followed {
    /// Each middleware, chains nested, for people.
    pub(crate) shown: Vec<String>,
    /// What is wrong, each with its fix.
    pub(crate) problems: Vec<(String, String)>,
    /// The source ranges of the allowlists in the way, if any.
    pub(crate) allowlist: Option<Vec<String>>,
}

/// Follows `refs` through `all`, adding problems and allowlists to `out`;
/// returns each middleware for people, chains nested.
fn follow(
    refs: &[MiddlewareRef],
    all: &[Value],
    trail: &mut Vec<String>,
    out: &mut Followed,
) -> Vec<String> {
    let mut shown = Vec::new();
    for r in middleware_names(refs, all) {
        let MiddlewareRef::Named { namespace, name } = &r else {
            let text = r.to_string();
            if text.ends_with(super::super::names::CRD_PROVIDER) {
                shown.push(format!("{text} (missing)"));
                out.problems.push((
                    format!("no Middleware {text} (Traefik drops the route: 404)"),
                    format!("create it, or remove {text} from the route"),
                ));
            } else {
                shown.push(format!("{text} (another provider: not checked)"));
            }
            continue;
        };
        let label = format!("{namespace}/{name}");
        let found = all.iter().find(|m| {
            text(m, "/metadata/namespace") == Some(namespace)
                && text(m, "/metadata/name") == Some(name)
        });
        let Some(mw) = found else {
            shown.push(format!("{label} (missing)"));
            out.problems.push((
                format!("no Middleware {label} (Traefik drops the route: 404)"),
                format!("create Middleware {label}, or remove it from the route"),
            ));
            continue;
        };
        let kind = kind_of(mw);
        for form in super::middleware::deprecated_forms(mw) {
            out.problems.push((
                format!("Middleware {label}: {form}"),
                format!("rename spec.ipWhiteList of Middleware {label} to spec.ipAllowList (same fields): Traefik v3 deprecates ipWhiteList"),
            ));
        }
        if let Some(ranges) = [
            "/spec/ipAllowList/sourceRange",
            "/spec/ipWhiteList/sourceRange",
        ]
        .iter()
        .find_map(|key| mw.pointer(key).and_then(Value::as_array))
        {
            let ranges: Vec<String> = ranges
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            shown.push(format!("{label} ({kind} {})", ranges.join(", ")));
            out.allowlist.get_or_insert_with(Vec::new).extend(ranges);
            continue;
        }
        let Some(chain) = mw
            .pointer("/spec/chain/middlewares")
            .and_then(Value::as_array)
        else {
            shown.push(format!("{label} ({kind})"));
            continue;
        };
        if trail.contains(&label) || trail.len() >= MAX_CHAIN_DEPTH {
            shown.push(format!("{label} (chain: ...)"));
            out.problems.push((
                format!("Middleware {label}: its chain loops back to itself"),
                format!("remove the loop from the chain of Middleware {label}"),
            ));
            continue;
        }
        let inner: Vec<MiddlewareRef> = chain
            .iter()
            .filter_map(|m| {
                let n = m.get("name")?.as_str()?;
                Some(if n.contains('@') {
                    MiddlewareRef::Joined(n.to_string())
                } else {
                    MiddlewareRef::Named {
                        namespace: m
                            .get("namespace")
                            .and_then(Value::as_str)
                            .unwrap_or(namespace)
                            .to_string(),
                        name: n.to_string(),
                    }
                })
            })
            .collect();
        trail.push(label.clone());
        let members = follow(&inner, all, trail, out);
        trail.pop();
        shown.push(format!("{label} (chain: {})", members.join(", ")));
    }
    shown
}

/// Follows a route's middlewares through `all` (every Traefik Middleware):
/// chains expanded, each found, allowlists gathered.
pub(crate) fn follow_middlewares(route: &Route, all: &[Value]) -> Followed {
    let mut out = Followed::default();
    let shown = follow(&route.middlewares, all, &mut Vec::new(), &mut out);
    out.shown = shown;
    out
}

/// `middlewares`: every middleware the route names exists (chains
/// followed), and none uses a form Traefik v3 dropped.
pub(crate) fn middlewares(route: &Route, all: &[Value]) -> Check {
    const NAME: &str = "middlewares";
    let followed = follow_middlewares(route, all);
    let shown = if followed.shown.is_empty() {
        "none".to_string()
    } else {
        followed.shown.join(", ")
    };
    if followed.problems.is_empty() {
        return Check::pass(NAME, shown);
    }
    let (what, fix): (Vec<String>, Vec<String>) = followed.problems.into_iter().unzip();
    Check::fail(
        NAME,
        format!("{shown}; {}", what.join("; ")),
        fix.join("; "),
    )
}

/// The subject of `doctor --host`: `inputs` (the doctor's, with `host`
/// and `path`) completed from the route Traefik picks: its namespace and
/// name, its kind, the allowlist in its middlewares (`all`: every
/// Middleware) as the ranges an asker must be in, its ExternalDNS target,
/// and the pods behind its Service.
pub(crate) fn subject(
    inputs: &Subject,
    route: &Route,
    all: &[Value],
    service: Option<&Value>,
) -> Subject {
    let followed = follow_middlewares(route, all);
    let pods = service
        .map(super::backend::selector)
        .filter(|p| !p.is_empty());
    Subject {
        name: route.name.clone(),
        namespace: route.namespace.clone(),
        route_kind: Some(route.kind.clone()),
        internal: followed.allowlist.is_some(),
        source_ranges: followed.allowlist,
        target: super::super::ingress::externaldns_target(&route.object),
        pods,
        ..inputs.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    fn route(kind: &str, class: Option<&str>, middlewares: Vec<MiddlewareRef>) -> Route {
        Route {
            kind: kind.into(),
            namespace: "apps".into(),
            name: "web".into(),
            class: class.map(str::to_string),
            rule: "Host(`web.example.com`) && PathPrefix(`/`)".into(),
            priority: 40,
            backends: vec![],
            tls_secret: None,
            tls: true,
            middlewares,
            object: json!({}),
        }
    }

    fn named(ns: &str, name: &str) -> MiddlewareRef {
        MiddlewareRef::Named {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn no_route_fails() {
        let c = routes("web.example.com", "/", &[], &[]);
        assert_eq!(c.status, CheckStatus::Fail);
        assert_eq!(
            c.found,
            "no Ingress, IngressRoute or HTTPRoute routes web.example.com/"
        );
        let r = route("Ingress", Some("traefik"), vec![]);
        let c = routes("web.example.com", "/", &[r.clone(), r], &[]);
        assert!(
            c.found
                .contains("also matching, at lower priority: Ingress apps/web"),
            "{}",
            c.found
        );
    }

    #[test]
    fn class_of_an_ingress() {
        assert_eq!(
            class(&route("Ingress", Some("traefik"), vec![]), "traefik", &[]).status,
            CheckStatus::Pass
        );
        assert_eq!(
            class(&route("Ingress", Some("nginx"), vec![]), "traefik", &[]).status,
            CheckStatus::Fail
        );
        assert_eq!(
            class(&route("IngressRoute", None, vec![]), "traefik", &[]).status,
            CheckStatus::Pass
        );
    }

    #[test]
    fn an_ingress_without_a_class_is_traefiks_when_its_class_is_the_default() {
        let default = json!({"metadata": {"name": "traefik",
                                          "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
                             "spec": {"controller": "traefik.io/ingress-controller"}});
        let c = class(
            &route("Ingress", None, vec![]),
            "traefik",
            std::slice::from_ref(&default),
        );
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        assert_eq!(
            c.found,
            "no class: IngressClass traefik (Traefik's) is the cluster's default"
        );
        let c = class(&route("Ingress", None, vec![]), "traefik", &[]);
        assert_eq!(c.status, CheckStatus::Fail);
        // Another name for Traefik's class is Traefik's too.
        let lan = json!({"metadata": {"name": "lan"}, "spec": {"controller": "traefik.io/ingress-controller"}});
        let c = class(&route("Ingress", Some("lan"), vec![]), "traefik", &[lan]);
        assert_eq!(c.status, CheckStatus::Pass);
        assert_eq!(
            c.found,
            "class lan (annotation kubernetes.io/ingress.class)"
        );
    }

    fn pods(ports: Value) -> Vec<Value> {
        vec![json!({"metadata": {"name": "web-0"},
                    "spec": {"containers": [{"name": "web", "ports": ports}]}})]
    }

    #[test]
    fn target_ports_by_number_and_name() {
        let svc = json!({"metadata": {"name": "web-http", "namespace": "apps"},
                         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web"}]}});
        let by_name = Backend {
            service: "web-http".into(),
            port: PortRef::Name("http".into()),
        };
        let c = target_port(
            &by_name,
            &svc,
            &pods(json!([{"name": "web", "containerPort": 3000}])),
        );
        assert_eq!(c.status, CheckStatus::Pass);
        assert_eq!(
            c.found,
            "port http → targetPort web → container port 3000 (web in pod web-0)"
        );
        let c = target_port(
            &by_name,
            &svc,
            &pods(json!([{"name": "other", "containerPort": 3000}])),
        );
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found
                .contains("no container of the pods declares (they declare 3000 (other))"),
            "{}",
            c.found
        );
        let numeric = json!({"metadata": {"name": "web-http", "namespace": "apps"},
                             "spec": {"ports": [{"port": 80, "targetPort": 3001}]}});
        let by_number = Backend {
            service: "web-http".into(),
            port: PortRef::Number(80),
        };
        assert_eq!(
            target_port(
                &by_number,
                &numeric,
                &pods(json!([{"containerPort": 3000}]))
            )
            .status,
            CheckStatus::Fail
        );
        assert_eq!(
            target_port(
                &by_number,
                &numeric,
                &pods(json!([{"containerPort": 3001}]))
            )
            .status,
            CheckStatus::Pass
        );
        assert_eq!(
            target_port(&by_number, &numeric, &pods(json!([]))).status,
            CheckStatus::Pass
        );
        assert_eq!(
            target_port(&by_number, &numeric, &[]).status,
            CheckStatus::Skip
        );
        assert_eq!(
            target_port(&by_name, &numeric, &pods(json!([]))).status,
            CheckStatus::Skip
        );
    }

    #[test]
    fn middlewares_chains_and_deprecated_forms() {
        let all = [
            json!({"metadata": {"namespace": "apps", "name": "lan"}, "spec": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}}}),
            json!({"metadata": {"namespace": "apps", "name": "secure"}, "spec": {"chain": {"middlewares": [{"name": "lan"}, {"name": "headers"}]}}}),
            json!({"metadata": {"namespace": "apps", "name": "headers"}, "spec": {"headers": {}}}),
            json!({"metadata": {"namespace": "apps", "name": "old"}, "spec": {"ipWhiteList": {"sourceRange": ["192.168.0.0/16"]}}}),
            json!({"metadata": {"namespace": "apps", "name": "loop"}, "spec": {"chain": {"middlewares": [{"name": "loop"}]}}}),
        ];
        let c = middlewares(
            &route("IngressRoute", None, vec![named("apps", "secure")]),
            &all,
        );
        assert_eq!(c.status, CheckStatus::Pass);
        assert_eq!(
            c.found,
            "apps/secure (chain: apps/lan (ipAllowList 10.0.0.0/8), apps/headers (headers))"
        );
        let followed = follow_middlewares(
            &route(
                "Ingress",
                None,
                vec![MiddlewareRef::Joined("apps-secure@kubernetescrd".into())],
            ),
            &all,
        );
        assert_eq!(followed.allowlist, Some(vec!["10.0.0.0/8".to_string()]));
        let c = middlewares(
            &route(
                "Ingress",
                None,
                vec![MiddlewareRef::Joined("apps-old@kubernetescrd".into())],
            ),
            &all,
        );
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found
                .contains("Middleware apps/old: ipWhiteList is ipAllowList in Traefik v3"),
            "{}",
            c.found
        );
        assert!(c.hint.unwrap().contains("to spec.ipAllowList"));
        let c = middlewares(
            &route("IngressRoute", None, vec![named("apps", "gone")]),
            &all,
        );
        assert!(c.found.contains("no Middleware apps/gone"), "{}", c.found);
        let c = middlewares(
            &route("IngressRoute", None, vec![named("apps", "loop")]),
            &all,
        );
        assert!(c.found.contains("loops back"), "{}", c.found);
        assert_eq!(
            middlewares(&route("Ingress", None, vec![]), &all).found,
            "none"
        );
    }
}
