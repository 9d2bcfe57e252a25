//! The ExternalDNS that should publish a host found by `doctor --host`:
//! found by its image in any namespace (whatever its labels), judged by
//! what its arguments say: the zones its domain filter limits it to, the
//! sources it reads, and the annotation prefix it reads.

use super::super::check::Check;
use super::super::names::TARGET;
use super::super::route::Route;
use crate::discover::external_dns::ExternalDns;
use crate::discover::Wanted;
use serde_json::Value;

/// The check's name.
const NAME: &str = "externaldns";

/// The `--source` of ExternalDNS that reads a route of `kind`.
pub(crate) fn source_for(kind: &str) -> &'static str {
    match kind {
        "IngressRoute" => "traefik-proxy",
        super::super::httproute::KIND => super::super::names::EXTERNALDNS_HTTPROUTE_SOURCE,
        _ => "ingress",
    }
}

/// The ExternalDNS Deployments among `deployments` (found by image), read
/// for `host`: each one's `writes_domain` says whether its zones hold it.
pub(crate) fn external_dns_for(host: &str, deployments: &[Value]) -> Vec<ExternalDns> {
    let wanted = Wanted {
        domain: host.to_string(),
        ..Wanted::default()
    };
    deployments
        .iter()
        .filter_map(|d| ExternalDns::read(d, &wanted))
        .collect()
}

/// What limits an ExternalDNS to its zones, for people.
fn limits(e: &ExternalDns) -> String {
    let mut words: Vec<String> = e
        .domain_filters
        .iter()
        .map(|f| format!("--domain-filter={f}"))
        .collect();
    if e.provider.as_deref() == Some("rfc2136") {
        words.extend(
            e.rfc2136_zones
                .iter()
                .map(|z| format!("--rfc2136-zone={z}")),
        );
    }
    words.extend(
        e.exclude_domains
            .iter()
            .map(|x| format!("--exclude-domains={x}")),
    );
    if words.is_empty() {
        "no domain filter".to_string()
    } else {
        words.join(" ")
    }
}

/// `externaldns` for a route found by host: an ExternalDNS (found by image
/// among `deployments`) holds `host` in its domain filter, reads the
/// route's source, and reads the prefix the route's target annotation (if
/// any) is written under. The TTL annotation is optional. When none does
/// but the host is `published` all the same (the zone's servers lead to
/// Traefik, or to the way in a public host's target leads through), the
/// record was made another way: said, not failed.
///
/// `gateway`: an HTTPRoute's parent Gateway, where ExternalDNS reads the
/// target of the routes attached to it (`None`: the route's own annotations).
pub(crate) fn publisher(
    host: &str,
    route: &Route,
    gateway: Option<&Value>,
    deployments: &[Value],
    published: bool,
) -> Check {
    let check = judge(host, route, gateway, deployments);
    if published && check.status == super::super::check::CheckStatus::Fail {
        return Check::pass(
            NAME,
            format!(
                "{}; {host} is published all the same (the zone's servers lead to Traefik or to its way in): its record was made another way",
                check.found
            ),
        );
    }
    check
}

fn judge(host: &str, route: &Route, gateway: Option<&Value>, deployments: &[Value]) -> Check {
    let found = external_dns_for(host, deployments);
    if found.is_empty() {
        return Check::skip(
            NAME,
            "no ExternalDNS Deployment found (by image, any namespace): the record is not published by one (see dns)",
        );
    }
    let holding: Vec<&ExternalDns> = found.iter().filter(|e| e.writes_domain).collect();
    if holding.is_empty() {
        let each = found
            .iter()
            .map(|e| format!("Deployment {} ({})", e.id.path(), limits(e)))
            .collect::<Vec<_>>()
            .join(", ");
        let within = crate::discover::external_dns::within;
        let first = &found[0];
        let at = first.id.path();
        let zone = super::address::parent(host);
        let filtered_out = !first.domain_filters.is_empty()
            && !first.domain_filters.iter().any(|f| within(host, f));
        let fix = if first.exclude_domains.iter().any(|x| within(host, x)) {
            format!("{host} is excluded (--exclude-domains): remove the exclusion from Deployment {at}'s args, or publish {host} another way")
        } else if filtered_out || first.provider.as_deref() != Some("rfc2136") {
            format!("add --domain-filter={zone} to the args of Deployment {at} (it publishes only names under its filters), or serve {host} under a domain it holds")
        } else {
            format!("add --rfc2136-zone={zone} to the args of Deployment {at} (with rfc2136 it updates only the zones it is given), or serve {host} under a zone it updates")
        };
        let what = if found.iter().any(|e| !e.domain_filters.is_empty()) {
            "the domain filter"
        } else {
            "the zones"
        };
        return Check::fail(
            NAME,
            format!("{host} is outside {what} of every ExternalDNS: {each}"),
            fix,
        );
    }
    let source = source_for(&route.kind);
    let reading: Vec<&&ExternalDns> = holding
        .iter()
        .filter(|e| e.sources.iter().any(|s| s == source))
        .collect();
    let Some(publisher) = reading.first() else {
        let e = holding[0];
        return Check::fail(
            NAME,
            format!(
                "ExternalDNS {} holds {host} ({}) but reads sources {}, not {source}: it never sees the {} {}/{}",
                e.id.path(),
                limits(e),
                if e.sources.is_empty() { "(none)".to_string() } else { e.sources.join(", ") },
                route.kind,
                route.namespace,
                route.name
            ),
            format!(
                "add --source={source} to the args of Deployment {} (and read access to {}s in its ClusterRole)",
                e.id.path(),
                route.kind
            ),
        );
    };
    // The object ExternalDNS reads the route's target from (an HTTPRoute's
    // is its Gateway's), for people; the TTL is always the route's own.
    let (object, annotated) = match gateway {
        Some(g) => (g, format!("Gateway {}", super::at(g))),
        None => (
            &route.object,
            format!("{} {}/{}", route.kind, route.namespace, route.name),
        ),
    };
    let prefix = &publisher.annotation_prefix;
    let target_here = super::super::ingress::annotation(object, &format!("{prefix}{TARGET}"));
    let target_elsewhere = super::super::ingress::externaldns_target(object);
    let ttl = super::super::ingress::annotation(
        &route.object,
        &format!("{prefix}{}", super::super::names::TTL),
    );
    let what = format!(
        "ExternalDNS {} ({}{}, owner {}) publishes {host}: {}, sources {}, reads {prefix}",
        publisher.id.path(),
        publisher
            .version
            .as_deref()
            .map(|v| format!("v{v} "))
            .unwrap_or_default(),
        publisher.provider.as_deref().unwrap_or("no provider"),
        publisher.owner_id,
        limits(publisher),
        publisher.sources.join(", "),
    );
    let others = holding.len() - 1;
    let also = if others > 0 {
        format!(
            "; {others} other ExternalDNS hold {host} too: {}",
            holding[1..]
                .iter()
                .map(|e| format!("{} (owner {})", e.id.path(), e.owner_id))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    match (target_here, target_elsewhere) {
        (None, Some(t)) => Check::fail(
            NAME,
            format!("{what}; the {annotated} names its target {t} under another prefix only{also}"),
            format!(
                "annotate {annotated} {prefix}{TARGET}={t} ({}): it ignores the other prefix and publishes Traefik's address instead",
                publisher.prefix_reason
            ),
        ),
        (Some(t), _) => Check::pass(
            NAME,
            format!(
                "{what}; target {t}, ttl {}{also}",
                ttl.unwrap_or("(its default)")
            ),
        ),
        (None, None) => Check::pass(
            NAME,
            format!(
                "{what}; no target annotation: it publishes {}{also}",
                match (route.kind.as_str(), gateway) {
                    ("Ingress", _) => "the address in the Ingress's status",
                    (_, Some(_)) => "the Gateway's addresses",
                    _ => "Traefik's address",
                }
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    fn deployment(labels: Value, args: &[&str]) -> Value {
        json!({"kind": "Deployment",
               "metadata": {"name": "external-dns", "namespace": "externaldns", "labels": labels},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "external-dns", "image": "registry.k8s.io/external-dns/external-dns:v0.14.2", "args": args}]}}}})
    }

    fn route(kind: &str, annotations: Value) -> Route {
        Route {
            kind: kind.into(),
            namespace: "gitea".into(),
            name: "gitea-public".into(),
            class: None,
            rule: "Host(`gitea.cloud.example.test`)".into(),
            priority: 30,
            backends: vec![],
            tls_secret: None,
            tls: true,
            middlewares: vec![],
            object: json!({"metadata": {"annotations": annotations}}),
        }
    }

    const HOST: &str = "gitea.cloud.example.test";

    #[test]
    fn found_by_image_whatever_its_labels() {
        let d = deployment(
            json!({"app": "external-dns"}),
            &[
                "--source=service",
                "--source=ingress",
                "--provider=rfc2136",
                "--rfc2136-zone=cloud.example.test",
                "--domain-filter=cloud.example.test",
                "--txt-owner-id=lab",
            ],
        );
        let c = publisher(HOST, &route("Ingress", json!({})), None, &[d], false);
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        assert!(
            c.found.starts_with("ExternalDNS externaldns/external-dns (v0.14.2 rfc2136, owner lab) publishes gitea.cloud.example.test: --domain-filter=cloud.example.test --rfc2136-zone=cloud.example.test, sources service, ingress, reads external-dns.alpha.kubernetes.io/"),
            "{}",
            c.found
        );
        let none = publisher(
            HOST,
            &route("Ingress", json!({})),
            None,
            &[json!({"kind": "Deployment"})],
            false,
        );
        assert_eq!(none.status, CheckStatus::Skip);
    }

    #[test]
    fn a_host_outside_the_domain_filter_fails_with_the_fix() {
        // wild-cloud's hard-coded filter.
        let d = deployment(
            json!({"app": "external-dns"}),
            &[
                "--source=ingress",
                "--provider=cloudflare",
                "--domain-filter=payne.io",
            ],
        );
        let c = publisher(HOST, &route("Ingress", json!({})), None, &[d], false);
        assert_eq!(c.status, CheckStatus::Fail);
        assert_eq!(
            c.found,
            "gitea.cloud.example.test is outside the domain filter of every ExternalDNS: Deployment externaldns/external-dns (--domain-filter=payne.io)"
        );
        assert_eq!(
            c.hint.as_deref(),
            Some("add --domain-filter=cloud.example.test to the args of Deployment externaldns/external-dns (it publishes only names under its filters), or serve gitea.cloud.example.test under a domain it holds")
        );
        // rfc2136 without a zone holding the host.
        let d = deployment(
            json!({}),
            &["--provider=rfc2136", "--rfc2136-zone=example.org"],
        );
        let c = publisher(HOST, &route("Ingress", json!({})), None, &[d], false);
        assert_eq!(c.found, "gitea.cloud.example.test is outside the zones of every ExternalDNS: Deployment externaldns/external-dns (--rfc2136-zone=example.org)");
        assert!(c
            .hint
            .unwrap()
            .starts_with("add --rfc2136-zone=cloud.example.test"));
        // Published all the same (another way): said, not failed.
        let d = deployment(
            json!({}),
            &["--provider=cloudflare", "--domain-filter=payne.io"],
        );
        let c = publisher(HOST, &route("Ingress", json!({})), None, &[d], true);
        assert_eq!(c.status, CheckStatus::Pass);
        assert!(c.found.ends_with("is published all the same (the zone's servers lead to Traefik or to its way in): its record was made another way"), "{}", c.found);
    }

    #[test]
    fn the_route_kind_needs_its_source() {
        let d = deployment(
            json!({}),
            &[
                "--source=ingress",
                "--provider=cloudflare",
                "--domain-filter=example.test",
            ],
        );
        let c = publisher(
            HOST,
            &route("IngressRoute", json!({})),
            None,
            std::slice::from_ref(&d),
            false,
        );
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found.contains("reads sources ingress, not traefik-proxy"),
            "{}",
            c.found
        );
        assert!(c.hint.unwrap().starts_with("add --source=traefik-proxy"));
        assert_eq!(
            publisher(HOST, &route("Ingress", json!({})), None, &[d], false).status,
            CheckStatus::Pass
        );
    }

    #[test]
    fn the_target_must_be_under_the_prefix_it_reads_and_the_ttl_is_optional() {
        let d = deployment(json!({}), &["--source=ingress", "--provider=cloudflare"]);
        let current = route(
            "Ingress",
            json!({"external-dns.kubernetes.io/target": "cloud.example.test"}),
        );
        let c = publisher(HOST, &current, None, std::slice::from_ref(&d), false);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.hint.unwrap().starts_with("annotate Ingress gitea/gitea-public external-dns.alpha.kubernetes.io/target=cloud.example.test"));
        let alpha = route(
            "Ingress",
            json!({"external-dns.alpha.kubernetes.io/target": "cloud.example.test"}),
        );
        let c = publisher(HOST, &alpha, None, &[d], false);
        assert_eq!(c.status, CheckStatus::Pass);
        assert!(
            c.found
                .ends_with("target cloud.example.test, ttl (its default)"),
            "{}",
            c.found
        );
    }

    #[test]
    fn an_httproute_is_read_by_the_gateway_source_and_its_gateway_carries_the_target() {
        let ingress_only = deployment(json!({}), &["--source=ingress", "--provider=cloudflare"]);
        let r = route(
            "HTTPRoute",
            json!({"external-dns.alpha.kubernetes.io/ttl": "60"}),
        );
        let gateway = json!({"metadata": {"name": "public", "namespace": "traefik",
            "annotations": {"external-dns.alpha.kubernetes.io/target": "cloud.example.test"}}});
        let c = publisher(HOST, &r, Some(&gateway), &[ingress_only], false);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.hint
                .as_deref()
                .unwrap_or_default()
                .starts_with("add --source=gateway-httproute"),
            "{c:?}"
        );
        let reading = deployment(
            json!({}),
            &["--source=gateway-httproute", "--provider=cloudflare"],
        );
        let c = publisher(
            HOST,
            &r,
            Some(&gateway),
            std::slice::from_ref(&reading),
            false,
        );
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        assert!(
            c.found.ends_with("target cloud.example.test, ttl 60"),
            "{}",
            c.found
        );
        // The target under the other prefix only: the Gateway is named.
        let other = json!({"metadata": {"name": "public", "namespace": "traefik",
            "annotations": {"external-dns.kubernetes.io/target": "cloud.example.test"}}});
        let c = publisher(HOST, &r, Some(&other), &[reading], false);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.hint.as_deref().unwrap_or_default().starts_with(
                "annotate Gateway traefik/public external-dns.alpha.kubernetes.io/target"
            ),
            "{c:?}"
        );
    }
}
