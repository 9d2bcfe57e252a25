//! The Gateway API links of a service routed by an HTTPRoute: the route
//! exists and serves the host, its parent Gateway listener accepted it and
//! resolved its references, the listener and its certificate (with the
//! ReferenceGrant a Secret in another namespace needs), the Gateway's
//! address, and whether ExternalDNS reads the route (its source, and the
//! target annotation on the Gateway).

use super::super::check::Check;
use super::super::httproute::{self, ParentRef, StatusCondition};
use super::super::ingress;
use super::super::names::{GATEWAY_CONTROLLER, INTERNAL_ONLY_MIDDLEWARE, TARGET};
use super::super::subject::Subject;
use super::text;
use serde_json::Value;

use super::super::names::EXTERNALDNS_HTTPROUTE_SOURCE as SOURCE;

/// The fix that re-applies the layer's Gateway API part.
const LAYER_FIX: &str = "wildrun scripts/cluster.rhai --set ingress.api=gateway";

/// `route`: the HTTPRoute exists.
pub(crate) fn exists(s: &Subject, route: Option<&Value>) -> Check {
    Check::judged(
        "route",
        route.is_some(),
        match route {
            Some(_) => format!("HTTPRoute {}/{}", s.namespace, s.name),
            None => format!("no HTTPRoute {}/{}", s.namespace, s.name),
        },
        "deploy the service with ingress.api=gateway (--set ingress.api=gateway): the recipe applies the HTTPRoute",
    )
}

/// `route-host`: the route serves the host.
pub(crate) fn host(s: &Subject, route: &Value) -> Check {
    let wanted = s.host.clone().unwrap_or_default();
    let hosts = httproute::hosts(route);
    Check::judged(
        "route-host",
        hosts.contains(&wanted),
        format!("hostnames {hosts:?}"),
        format!("the HTTPRoute should serve {wanted}: redeploy with the recipe (cloud.domain, cloud.internalDomain)"),
    )
}

/// The route's first parent, or a failed check named `name`.
fn first_parent(route: &Value, name: &str) -> Result<ParentRef, Check> {
    httproute::parents(route).into_iter().next().ok_or_else(|| {
        Check::fail(
            name,
            "the HTTPRoute names no parent Gateway",
            "give the HTTPRoute a parentRef to the Gateway of its visibility path; redeploy with the recipe",
        )
    })
}

/// The condition `kind` of the route's status for `parent`, or why there is none.
fn parent_condition(
    route: &Value,
    parent: &ParentRef,
    kind: &str,
) -> Result<StatusCondition, String> {
    let status = httproute::parent_status(route, parent).ok_or_else(|| {
        format!("no status from {parent}: no controller has taken the route (Traefik's kubernetesGateway provider off, or the Gateway missing)")
    })?;
    httproute::condition(status, kind).ok_or_else(|| format!("{parent} wrote no {kind} condition"))
}

/// `route-accepted`: the parent Gateway listener accepted the route.
pub(crate) fn accepted(route: &Value, gateway: Option<&Value>) -> Check {
    const NAME: &str = "route-accepted";
    let parent = match first_parent(route, NAME) {
        Ok(p) => p,
        Err(check) => return check,
    };
    let condition = match parent_condition(route, &parent, "Accepted") {
        Ok(c) => c,
        Err(why) => {
            let hint = match gateway {
                None => format!("{parent} does not exist: {LAYER_FIX} makes it"),
                Some(_) => "run Traefik with --providers.kubernetesgateway=true and the layer's GatewayClass (scripts/cluster.rhai with ingress.api=gateway)".to_string(),
            };
            return Check::fail(NAME, why, hint);
        }
    };
    let listeners = gateway.map(httproute::listener_names).unwrap_or_default();
    let named_exists = parent
        .section
        .as_ref()
        .is_some_and(|section| listeners.contains(section));
    let hint = match condition.reason.as_str() {
        // Traefik says so too when the listener exists but is broken.
        "NoMatchingParent" if named_exists => format!(
            "listener {} exists but takes no routes: mend it first (see the listener check)",
            parent.section.as_deref().unwrap_or_default()
        ),
        "NoMatchingParent" => format!(
            "the parentRef names a listener the Gateway does not have: its listeners are {listeners:?}; set sectionName to one of them (the recipes use https)"
        ),
        "NotAllowedByListeners" => format!(
            "{parent} does not admit routes from namespace {}: widen its allowedRoutes ({LAYER_FIX} admits all)",
            httproute::namespace(route)
        ),
        "NoMatchingListenerHostname" => format!(
            "no listener of {parent} serves the route's hostnames: the host must be under the listener's *.<domain>"
        ),
        _ => format!("read the route's status: kubectl -n {} describe httproute", httproute::namespace(route)),
    };
    Check::judged(
        NAME,
        condition.holds(),
        format!("{parent}: Accepted {condition}"),
        hint,
    )
}

/// `route-refs`: the parent resolved the route's references (backends).
pub(crate) fn resolved_refs(route: &Value) -> Check {
    const NAME: &str = "route-refs";
    let parent = match first_parent(route, NAME) {
        Ok(p) => p,
        Err(check) => return check,
    };
    let condition = match parent_condition(route, &parent, "ResolvedRefs") {
        Ok(c) => c,
        Err(why) => return Check::skip(NAME, why),
    };
    let ns = httproute::namespace(route);
    let hint = match condition.reason.as_str() {
        "BackendNotFound" => format!(
            "the backendRef names a Service that does not exist in {ns}: create it, or fix the HTTPRoute's backendRefs"
        ),
        "RefNotPermitted" => format!(
            "a backendRef names a Service in another namespace ({:?}): add a ReferenceGrant there from HTTPRoutes in {ns}",
            httproute::foreign_backends(route)
        ),
        "InvalidKind" => "a backendRef names a kind other than Service".to_string(),
        _ => format!("read the route's status: kubectl -n {ns} describe httproute"),
    };
    Check::judged(
        NAME,
        condition.holds(),
        format!("{parent}: ResolvedRefs {condition}"),
        hint,
    )
}

/// `listener`: the route's parent Gateway exists, has the listener, and
/// its controller reports it resolved (certificate) and programmed.
pub(crate) fn listener(s: &Subject, route: &Value, gateway: Option<&Value>) -> Check {
    const NAME: &str = "listener";
    let parent = match first_parent(route, NAME) {
        Ok(p) => p,
        Err(check) => return check,
    };
    let Some(gateway) = gateway else {
        return Check::fail(
            NAME,
            format!("no Gateway {}/{}", parent.namespace, parent.name),
            format!("{LAYER_FIX} makes the layer's Gateways"),
        );
    };
    let host = s.host.clone().unwrap_or_default();
    let Some(listener) = httproute::listener(gateway, &parent, &host) else {
        return Check::fail(
            NAME,
            format!(
                "{parent} has no such listener (listeners {:?})",
                httproute::listener_names(gateway)
            ),
            "set the HTTPRoute's sectionName to a listener of the Gateway (the recipes use https)",
        );
    };
    match listener_state(gateway, listener) {
        Ok(described) => Check::pass(NAME, format!("{described}: resolved and programmed")),
        Err((found, hint)) => Check::fail(NAME, found, hint),
    }
}

/// What the controller says of one listener of `gateway`: its description
/// (`Gateway ns/name listener https (HTTPS *.example.com port 443)`) when
/// it is resolved and programmed, else what is wrong and the fix.
fn listener_state(gateway: &Value, listener: &Value) -> Result<String, (String, String)> {
    let (ns, gateway_name) = (
        text(gateway, "/metadata/namespace").unwrap_or_default(),
        text(gateway, "/metadata/name").unwrap_or_default(),
    );
    let name = text(listener, "/name").unwrap_or_default();
    let port = listener.get("port").and_then(Value::as_i64).unwrap_or(0);
    let described = format!(
        "Gateway {ns}/{gateway_name} listener {name} ({} {} port {port})",
        text(listener, "/protocol").unwrap_or("?"),
        text(listener, "/hostname").unwrap_or("any host"),
    );
    let Some(status) = httproute::listener_status(gateway, name) else {
        return Err((
            format!("{described}: no status (no controller serves the Gateway)"),
            format!("run Traefik with --providers.kubernetesgateway=true; the Gateway's class must name {GATEWAY_CONTROLLER}"),
        ));
    };
    for kind in ["ResolvedRefs", "Programmed"] {
        if let Some(c) = httproute::condition(status, kind).filter(|c| !c.holds()) {
            let hint = match c.reason.as_str() {
                "RefNotPermitted" => format!(
                    "the listener's certificate is a Secret in another namespace: add a ReferenceGrant there from Gateways in {ns} ({LAYER_FIX} makes it)"
                ),
                "InvalidCertificateRef" => "the listener's certificate Secret is missing or holds no certificate: is the wildcard Certificate issued? (kubectl -n cert-manager describe certificate)".to_string(),
                "PortUnavailable" => format!("Traefik has no entry point on port {port}: a listener names the port Traefik's websecure entry point listens on in its pods (the targetPort behind ingress.httpsPort on Traefik's Service, 8443 with Traefik's Helm chart); {LAYER_FIX} sets it from Traefik's Service and pods"),
                _ => format!("read the Gateway's status: kubectl -n {ns} describe gateway {gateway_name}"),
            };
            return Err((format!("{described}: {kind} {c}"), hint));
        }
    }
    Ok(described)
}

/// `gateway-class` of `doctor --layer`: the GatewayClass `name` (the one
/// the layer's Gateways name) among `classes` names Traefik's controller
/// and Traefik accepted it.
pub(crate) fn gateway_class(name: &str, classes: &[Value]) -> Check {
    const NAME: &str = "gateway-class";
    let Some(class) = classes
        .iter()
        .find(|c| text(c, "/metadata/name") == Some(name))
    else {
        return Check::fail(
            NAME,
            format!("no GatewayClass {name}"),
            format!("{LAYER_FIX} makes it, for {GATEWAY_CONTROLLER}"),
        );
    };
    let controller = text(class, "/spec/controllerName").unwrap_or_default();
    if controller != GATEWAY_CONTROLLER {
        return Check::fail(
            NAME,
            format!("GatewayClass {name} names controller {controller}, not Traefik's {GATEWAY_CONTROLLER}"),
            format!("Traefik serves only Gateways of a class naming {GATEWAY_CONTROLLER}: remove or rename that GatewayClass, then {LAYER_FIX}"),
        );
    }
    let status = class.get("status").unwrap_or(&Value::Null);
    match httproute::condition(status, "Accepted") {
        Some(c) => Check::judged(
            NAME,
            c.holds(),
            format!("GatewayClass {name} ({controller}): Accepted {c}"),
            format!("read its status: kubectl describe gatewayclass {name}"),
        ),
        None => Check::fail(
            NAME,
            format!("GatewayClass {name} ({controller}): no Accepted condition: Traefik has not taken it"),
            "run Traefik with --providers.kubernetesgateway=true (its kubernetesGateway provider accepts the class)",
        ),
    }
}

/// The Secret the first listener of `gateway` terminates TLS with, as
/// (namespace, name).
pub(crate) fn gateway_secret(gateway: &Value) -> Option<(String, String)> {
    let listeners = gateway.pointer("/spec/listeners")?.as_array()?;
    httproute::listener_secret(gateway, listeners.first()?)
}

/// `gateway-public` / `gateway-internal` of `doctor --layer`: the layer's
/// Gateway `namespace/name` exists; each listener is resolved and
/// programmed; its certificate `secret` (as read from where the first
/// listener names it; `None`: missing) exists and, in another namespace,
/// one of `grants` there grants it; the Gateway has an address
/// (`load_balancer_ip` when given) and is programmed. The first problem
/// fails it, with its fix.
pub(crate) fn layer_gateway(
    check: &str,
    at: (&str, &str),
    gateway: Option<&Value>,
    secret: Option<&Value>,
    grants: &[Value],
    load_balancer_ip: Option<&str>,
) -> Check {
    let (ns, name) = at;
    let Some(gateway) = gateway else {
        return Check::fail(
            check,
            format!("no Gateway {ns}/{name}"),
            format!("{LAYER_FIX} makes it"),
        );
    };
    let fail = |c: Check| Check::fail(check, c.found, c.hint.unwrap_or_default());
    let certificate = gateway_secret(gateway);
    // First: a missing Secret is what a refused listener then says
    // (Traefik reports it as not permitted when no grant names it).
    if let (Some((secret_ns, secret_name)), None) = (&certificate, secret) {
        return Check::fail(
            check,
            format!("Gateway {ns}/{name}: its certificate Secret {secret_ns}/{secret_name} does not exist"),
            format!("the wildcard Certificate writes it: is it issued? (kubectl -n {secret_ns} describe certificate); scripts/cluster.rhai makes the Certificates, and its Gateways name their Secrets"),
        );
    }
    let mut said = Vec::new();
    for listener in gateway
        .pointer("/spec/listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match listener_state(gateway, listener) {
            Ok(described) => said.push(format!("{described} resolved and programmed")),
            Err((found, hint)) => return Check::fail(check, found, hint),
        }
    }
    if let Some(certificate) = &certificate {
        let granted = reference_grant(gateway, Some(certificate), grants);
        if !granted.passed() {
            return fail(granted);
        }
        said.push(granted.found);
    }
    let address = self::address(gateway, load_balancer_ip);
    if !address.passed() {
        return fail(address);
    }
    said.push(address.found);
    let status = gateway.get("status").unwrap_or(&Value::Null);
    match httproute::condition(status, "Programmed") {
        Some(c) if c.holds() => Check::pass(check, said.join("; ")),
        Some(c) => Check::fail(
            check,
            format!("Gateway {ns}/{name}: Programmed {c}"),
            format!("read the Gateway's status: kubectl -n {ns} describe gateway {name}"),
        ),
        None => Check::fail(
            check,
            format!("Gateway {ns}/{name}: no status (no controller serves it)"),
            format!("run Traefik with --providers.kubernetesgateway=true; the Gateway's class must name {GATEWAY_CONTROLLER}"),
        ),
    }
}

/// `externaldns-httproute` of `doctor --layer`: an ExternalDNS (found by
/// image among `deployments`) reads HTTPRoutes, the one that holds
/// `domain` first.
pub(crate) fn externaldns_source(domain: &str, deployments: &[Value]) -> Check {
    const NAME: &str = "externaldns-httproute";
    let found = super::publisher::external_dns_for(domain, deployments);
    let reading: Vec<String> = found
        .iter()
        .filter(|e| e.sources.iter().any(|v| v == SOURCE))
        .map(|e| e.id.path())
        .collect();
    Check::judged(
        NAME,
        !reading.is_empty(),
        if reading.is_empty() {
            format!(
                "no ExternalDNS reads HTTPRoutes (--source={SOURCE}); found: {}",
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.iter().map(|e| e.id.path()).collect::<Vec<_>>().join(", ")
                }
            )
        } else {
            format!("ExternalDNS {} read HTTPRoutes (--source={SOURCE})", reading.join(", "))
        },
        format!("add --source={SOURCE} to ExternalDNS's args, and read access to Gateways, HTTPRoutes and Namespaces ({LAYER_FIX} does for the layer's own)"),
    )
}

/// `reference-grant`: a listener certificate in another namespace than
/// the Gateway's is granted to it by a ReferenceGrant among `grants`
/// (those of the Secret's namespace); passes when they share a namespace.
pub(crate) fn reference_grant(
    gateway: &Value,
    secret: Option<&(String, String)>,
    grants: &[Value],
) -> Check {
    const NAME: &str = "reference-grant";
    let gateway_ns = text(gateway, "/metadata/namespace").unwrap_or_default();
    let Some((ns, name)) = secret else {
        return Check::skip(NAME, "the listener names no certificate Secret");
    };
    if ns == gateway_ns {
        return Check::pass(
            NAME,
            format!("Secret {ns}/{name} is in the Gateway's namespace: none needed"),
        );
    }
    let granting: Vec<&str> = grants
        .iter()
        .filter(|g| httproute::grants_secret(g, gateway_ns, name))
        .filter_map(|g| text(g, "/metadata/name"))
        .collect();
    Check::judged(
        NAME,
        !granting.is_empty(),
        match granting.first() {
            Some(g) => format!("ReferenceGrant {ns}/{g} lets Gateways in {gateway_ns} use Secret {name}"),
            None => format!("no ReferenceGrant in {ns} lets Gateways in {gateway_ns} use Secret {name}"),
        },
        format!("apply a ReferenceGrant in {ns} from Gateways in {gateway_ns} to Secret {name} ({LAYER_FIX} makes it)"),
    )
}

/// `gateway-address`: the controller published an address for the Gateway.
pub(crate) fn address(gateway: &Value, load_balancer_ip: Option<&str>) -> Check {
    let addresses = httproute::gateway_addresses(gateway);
    let ok = match load_balancer_ip {
        Some(ip) => addresses.iter().any(|a| a == ip),
        None => !addresses.is_empty(),
    };
    Check::judged(
        "gateway-address",
        ok,
        format!("addresses {addresses:?}"),
        match load_balancer_ip {
            Some(ip) => format!("the Gateway should have Traefik's address {ip}: run Traefik with --providers.kubernetesgateway.statusaddress.service.name/namespace naming its LoadBalancer Service"),
            None => "run Traefik with --providers.kubernetesgateway.statusaddress.service naming its LoadBalancer Service".to_string(),
        },
    )
}

/// `externaldns-gateway`: an ExternalDNS Deployment among `deployments`
/// (found by image, any namespace; the one whose zones hold the host
/// first) reads HTTPRoutes (`--source=gateway-httproute`), and the Gateway
/// carries the target `s.target` under the annotation prefix it reads.
pub(crate) fn externaldns(s: &Subject, gateway: &Value, deployments: &[Value]) -> Check {
    const NAME: &str = "externaldns-gateway";
    let mut readers: Vec<_> = super::publisher::external_dns_for(s.host(), deployments)
        .into_iter()
        .filter(|e| e.sources.iter().any(|v| v == SOURCE))
        .collect();
    readers.sort_by_key(|e| !e.writes_domain);
    let Some(reader) = readers.first() else {
        return Check::fail(
            NAME,
            format!("no ExternalDNS Deployment runs with --source={SOURCE}"),
            format!("add --source={SOURCE} to ExternalDNS's args ({LAYER_FIX} does for the layer's own)"),
        );
    };
    let key = format!("{}{TARGET}", reader.annotation_prefix);
    let on_gateway = ingress::annotation(gateway, &key).map(|t| t.trim_end_matches('.'));
    let wanted = s.target.as_deref();
    let ok = on_gateway.is_some() && (wanted.is_none() || on_gateway == wanted);
    Check::judged(
        NAME,
        ok,
        format!(
            "ExternalDNS {} reads HTTPRoutes and {} ({}); the Gateway's {key} is {}",
            reader.id.path(),
            reader.annotation_prefix,
            reader.prefix_reason,
            on_gateway.unwrap_or("(missing)")
        ),
        format!(
            "annotate the Gateway {key}={} ({LAYER_FIX} writes it)",
            wanted.unwrap_or("<target>")
        ),
    )
}

/// `middleware-ref`: the route applies the internal-only Middleware as an
/// ExtensionRef filter.
pub(crate) fn middleware_ref(s: &Subject, route: &Value) -> Check {
    let names: Vec<String> = httproute::middlewares(route)
        .iter()
        .map(ToString::to_string)
        .collect();
    let wanted = format!("{}/{INTERNAL_ONLY_MIDDLEWARE}", s.namespace);
    Check::judged(
        "middleware-ref",
        names.contains(&wanted),
        format!("ExtensionRef Middlewares {names:?}"),
        format!("give the HTTPRoute's rule an ExtensionRef filter to Middleware {wanted} (group traefik.io); redeploy with the internal recipe"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    fn route(conditions: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "shop"},
               "spec": {"hostnames": ["web.example.com"],
                        "parentRefs": [{"name": "public", "namespace": "traefik", "sectionName": "web"}],
                        "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]},
               "status": {"parents": [{"parentRef": {"name": "public", "namespace": "traefik", "sectionName": "web"},
                                       "conditions": conditions}]}})
    }

    fn gateway() -> Value {
        json!({"metadata": {"name": "public", "namespace": "traefik",
                            "annotations": {"external-dns.kubernetes.io/target": "example.com"}},
               "spec": {"listeners": [{"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "*.example.com",
                                       "tls": {"certificateRefs": [{"name": "wild", "namespace": "cert-manager"}]}}]},
               "status": {"addresses": [{"value": "10.0.0.9"}],
                          "listeners": [{"name": "https", "conditions": [
                              {"type": "ResolvedRefs", "status": "False", "reason": "RefNotPermitted", "message": "not granted"}]}]}})
    }

    #[test]
    fn a_wrong_listener_is_not_accepted_and_names_the_listeners() {
        let r = route(
            json!([{"type": "Accepted", "status": "False", "reason": "NoMatchingParent", "message": ""}]),
        );
        let c = accepted(&r, Some(&gateway()));
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.hint
                .as_deref()
                .unwrap_or_default()
                .contains("[\"https\"]"),
            "{c:?}"
        );
        let s = Subject {
            host: Some("web.example.com".into()),
            ..Subject::default()
        };
        let l = listener(&s, &r, Some(&gateway()));
        assert_eq!(l.status, CheckStatus::Fail);
        assert!(l.found.contains("no such listener"), "{l:?}");
    }

    #[test]
    fn a_missing_backend_and_a_missing_grant_name_their_fix() {
        let r = route(
            json!([{"type": "ResolvedRefs", "status": "False", "reason": "BackendNotFound", "message": "svc"}]),
        );
        let c = resolved_refs(&r);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("Service that does not exist"));
        let g = gateway();
        let secret = ("cert-manager".to_string(), "wild".to_string());
        let c = reference_grant(&g, Some(&secret), &[]);
        assert_eq!(c.status, CheckStatus::Fail);
        let grant = json!({"metadata": {"name": "g"}, "spec": {
            "from": [{"group": httproute::GROUP, "kind": "Gateway", "namespace": "traefik"}],
            "to": [{"group": "", "kind": "Secret"}]}});
        assert!(reference_grant(&g, Some(&secret), &[grant]).passed());
        // The listener itself says so too.
        let mut good = route(json!([]));
        good["spec"]["parentRefs"][0]["sectionName"] = json!("https");
        let s = Subject {
            host: Some("web.example.com".into()),
            ..Subject::default()
        };
        let l = listener(&s, &good, Some(&g));
        assert!(
            l.hint
                .as_deref()
                .unwrap_or_default()
                .contains("ReferenceGrant"),
            "{l:?}"
        );
    }

    #[test]
    fn externaldns_reads_routes_and_the_gateway_target() {
        let s = Subject {
            target: Some("example.com".into()),
            ..Subject::default()
        };
        let edns = json!({"metadata": {"name": "external-dns", "namespace": "external-dns"},
            "spec": {"template": {"spec": {"containers": [{
                "image": "registry.k8s.io/external-dns/external-dns:v0.22.0", "args": [
                "--source=ingress", "--source=gateway-httproute", "--annotation-prefix=external-dns.kubernetes.io/"]}]}}}});
        assert!(externaldns(&s, &gateway(), std::slice::from_ref(&edns)).passed());
        // Found by image: another program with the same flags is not ExternalDNS.
        let mut other = edns.clone();
        other["spec"]["template"]["spec"]["containers"][0]["image"] = json!("example/dns-sync:1");
        assert!(!externaldns(&s, &gateway(), &[other]).passed());
        let mut no_source = edns;
        no_source["spec"]["template"]["spec"]["containers"][0]["args"] =
            json!(["--source=ingress"]);
        assert!(!externaldns(&s, &gateway(), &[no_source]).passed());
        assert!(address(&gateway(), Some("10.0.0.9")).passed());
        assert!(!address(&gateway(), Some("10.0.0.8")).passed());
    }
}
