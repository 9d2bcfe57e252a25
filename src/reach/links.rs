//! The links to wait on: what the plan applied, from its workloads to
//! each host's HTTPS answer, and how soon each is looked at again.

use crate::chain;
use crate::plan::{ObjectRef, Plan, SecretCopy, Step};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

/// The Gateway API version the wait reads routes and Gateways at.
pub(super) const GATEWAY_API_VERSION: &str = "gateway.networking.k8s.io/v1";

/// How often a link of the cluster's objects that does not hold yet is
/// looked at again when its objects cannot be watched (an API request each
/// time).
pub(super) const POLL: Duration = Duration::from_secs(1);

/// How often the DNS record is asked for again: one query to the zone's own
/// servers, so the wait sees the record within this of ExternalDNS writing it.
pub(super) const DNS_POLL: Duration = Duration::from_millis(50);

/// How often the HTTPS request is sent again while it does not answer, and
/// sent ahead while the DNS record is missing (start to start, one at a time).
pub(super) const HTTPS_POLL: Duration = Duration::from_millis(100);

/// One link of the chain from an applied recipe to an answering service.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Link {
    /// A workload rolls out.
    Rollout(ObjectRef),
    /// ExternalDNS has written the record of `host`: a CNAME to `target`
    /// (a name) or an A/AAAA record with it (an address).
    Dns {
        /// The Ingress host.
        host: String,
        /// The ExternalDNS target annotation.
        target: String,
    },
    /// The Ingress's TLS Secret exists in its namespace; `copy` is the run's
    /// copy of it, made here if it was skipped.
    TlsSecret {
        /// The namespace of the Ingress.
        namespace: String,
        /// The Secret's name.
        name: String,
        /// The plan's copy into that namespace, if it has one.
        copy: Option<SecretCopy>,
    },
    /// An HTTPRoute is `Accepted` by its parent Gateway listener, with
    /// its references (backends) resolved.
    RouteAccepted {
        /// The route's namespace.
        namespace: String,
        /// The route's name.
        name: String,
        /// The Gateway listener it attaches to.
        parent: chain::httproute::ParentRef,
    },
    /// ExternalDNS has written the record of an HTTPRoute's `host`, to the
    /// target its parent Gateway carries (read when looked at).
    RouteDns {
        /// The route host.
        host: String,
        /// The Gateway whose ExternalDNS target the record points to.
        parent: chain::httproute::ParentRef,
    },
    /// An HTTPS request to the host answers.
    Https {
        /// The Ingress host.
        host: String,
        /// The Ingress names a router middleware (an internal service):
        /// Traefik's 403 to an asker outside the ranges counts as an answer.
        internal: bool,
    },
}

impl Link {
    /// How soon the link is looked at again while it does not hold: the
    /// record and the request, which come last and cost one query or
    /// request, soon; the cluster's objects once a second.
    pub(crate) fn poll_interval(&self) -> Duration {
        match self {
            Link::Dns { .. } | Link::RouteDns { .. } => DNS_POLL,
            Link::Https { .. } => HTTPS_POLL,
            Link::Rollout(_) | Link::TlsSecret { .. } | Link::RouteAccepted { .. } => POLL,
        }
    }
}

impl Link {
    /// The objects whose changes can make the link hold, watched while it
    /// is waited on: the workload, the TLS Secret and the source of the
    /// run's copy of it, the HTTPRoute.
    pub(crate) fn watched(&self) -> Vec<ObjectRef> {
        match self {
            Link::Rollout(target) => vec![target.clone()],
            Link::TlsSecret {
                namespace,
                name,
                copy,
            } => {
                let mut objects = vec![ObjectRef::secret(namespace, name)];
                if let Some(c) = copy {
                    objects.push(ObjectRef::secret(&c.from_namespace, &c.name));
                }
                objects
            }
            Link::RouteAccepted {
                namespace, name, ..
            } => vec![ObjectRef {
                api_version: GATEWAY_API_VERSION.to_string(),
                kind: chain::httproute::KIND.to_string(),
                namespace: Some(namespace.clone()),
                name: name.clone(),
            }],
            Link::Dns { .. } | Link::RouteDns { .. } | Link::Https { .. } => Vec::new(),
        }
    }

    /// The host whose HTTPS request is worth sending ahead while this link
    /// waits: the host of a DNS record.
    pub(super) fn record_host(&self) -> Option<&str> {
        match self {
            Link::Dns { host, .. } | Link::RouteDns { host, .. } => Some(host),
            _ => None,
        }
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Rollout(target) => write!(f, "rollout of {target}"),
            Link::Dns { host, target } => {
                let record = if target.parse::<IpAddr>().is_ok() {
                    "an A record"
                } else {
                    "a CNAME"
                };
                write!(f, "DNS record {host} ({record} to {target})")
            }
            Link::TlsSecret {
                namespace, name, ..
            } => write!(f, "TLS Secret {namespace}/{name}"),
            Link::Https { host, .. } => write!(f, "HTTPS https://{host}/"),
            Link::RouteAccepted {
                namespace,
                name,
                parent,
            } => write!(f, "HTTPRoute {namespace}/{name} accepted by {parent}"),
            Link::RouteDns { host, parent } => write!(
                f,
                "DNS record {host} (to Gateway {}/{}'s target)",
                parent.namespace, parent.name
            ),
        }
    }
}

/// The links to wait on for what `plan` applies, in order: rollouts first,
/// then per Ingress host with an ExternalDNS target: TLS Secret, DNS, HTTPS.
pub(crate) fn links(plan: &Plan) -> Vec<Link> {
    let ordered = plan.ordered();
    let mut out = Vec::new();
    for p in &ordered {
        if let Step::Apply(a) = &p.step {
            if matches!(
                a.object.kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet"
            ) {
                out.push(Link::Rollout(ObjectRef::of(&a.object)));
            }
        }
    }
    let copies: Vec<&SecretCopy> = ordered
        .iter()
        .filter_map(|p| match &p.step {
            Step::CopySecret(c) => Some(c),
            _ => None,
        })
        .collect();
    for p in &ordered {
        if let Step::Apply(a) = &p.step {
            if a.object.kind == "Ingress" {
                ingress_links(&a.object, &copies, &mut out);
            }
            if a.object.kind == chain::httproute::KIND {
                route_links(&a.object.value, &mut out);
            }
        }
    }
    out
}

/// The links of one Ingress, per host: its TLS Secret (once, and the
/// plan's copy of it if any), its DNS record, the HTTPS request. An Ingress
/// without an ExternalDNS target publishes no name: it has none.
pub(super) fn ingress_links(
    object: &crate::objects::TypedObject,
    copies: &[&SecretCopy],
    out: &mut Vec<Link>,
) {
    let ingress = &object.value;
    let Some(target) = chain::ingress::externaldns_target(ingress) else {
        return;
    };
    let internal = chain::ingress::names_middlewares(ingress);
    let namespace = object.namespace.clone().unwrap_or_default();
    for host in chain::ingress::hosts(ingress) {
        if let Some(name) = chain::ingress::tls_secret_for(ingress, &host) {
            let copy = copies
                .iter()
                .find(|c| c.to_namespace == namespace && c.name == name)
                .map(|c| (*c).clone());
            let link = Link::TlsSecret {
                namespace: namespace.clone(),
                name,
                copy,
            };
            if !out.contains(&link) {
                out.push(link);
            }
        }
        // The record last before the request: it is the slow link (seconds,
        // ExternalDNS's), and the request is sent ahead while it is missing,
        // so the wait ends as soon as it appears.
        out.push(Link::Dns {
            host: host.clone(),
            target: target.clone(),
        });
        out.push(Link::Https { host, internal });
    }
}

/// The links of one HTTPRoute: accepted by each parent listener, then per
/// host its DNS record (to the first parent Gateway's target) and the HTTPS
/// request. TLS ends at the Gateway, whose listener holds the certificate.
pub(super) fn route_links(route: &Value, out: &mut Vec<Link>) {
    let parents = chain::httproute::parents(route);
    let namespace = chain::httproute::namespace(route).to_string();
    let name = route
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for parent in &parents {
        out.push(Link::RouteAccepted {
            namespace: namespace.clone(),
            name: name.clone(),
            parent: parent.clone(),
        });
    }
    let Some(first) = parents.first() else {
        return;
    };
    let internal = !chain::httproute::middlewares(route).is_empty();
    for host in chain::httproute::hosts(route) {
        out.push(Link::RouteDns {
            host: host.clone(),
            parent: first.clone(),
        });
        out.push(Link::Https { host, internal });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Origin;
    use serde_json::json;

    fn plan(objects: &[Value], copies: &[SecretCopy]) -> Plan {
        let mut plan = Plan::default();
        for o in objects {
            let obj = crate::objects::TypedObject::from_value(o).unwrap();
            plan.add(
                Step::Apply(crate::plan::ApplyStep {
                    object: obj,
                    force: false,
                    recreate: false,
                }),
                Origin::default(),
            )
            .unwrap();
        }
        for c in copies {
            plan.add(Step::CopySecret(c.clone()), Origin::default())
                .unwrap();
        }
        plan
    }

    fn ingress(annotations: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
               "spec": {"rules": [{"host": "web.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}],
                        "tls": [{"hosts": ["web.example.com"], "secretName": "wild-tls"}]}})
    }

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    }

    fn copy() -> SecretCopy {
        SecretCopy {
            from_namespace: "cert-manager".into(),
            name: "wild-tls".into(),
            to_namespace: "shop".into(),
            expected_type: None,
            labels: Default::default(),
        }
    }

    #[test]
    fn links_follow_the_plan() {
        let p = plan(
            &[
                ingress(json!({"external-dns.kubernetes.io/target": "example.com"})),
                deployment(),
            ],
            &[copy()],
        );
        let found = links(&p);
        let names: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "rollout of Deployment shop/web",
                "TLS Secret shop/wild-tls",
                "DNS record web.example.com (a CNAME to example.com)",
                "HTTPS https://web.example.com/",
            ]
        );
        assert!(
            matches!(&found[1], Link::TlsSecret { copy: Some(c), .. } if c.from_namespace == "cert-manager")
        );
        // An internal Ingress: an A record, and the 403 rule applies.
        let p = plan(
            &[ingress(json!({
                "external-dns.alpha.kubernetes.io/target": "192.168.8.240",
                "traefik.ingress.kubernetes.io/router.middlewares": "shop-internal-only@kubernetescrd"}))],
            &[],
        );
        let found = links(&p);
        assert!(matches!(&found[0], Link::TlsSecret { copy: None, .. }));
        assert_eq!(
            found[1].to_string(),
            "DNS record web.example.com (an A record to 192.168.8.240)"
        );
        assert_eq!(
            found[2],
            Link::Https {
                host: "web.example.com".into(),
                internal: true
            }
        );
        // No ExternalDNS target: only rollouts.
        let p = plan(&[ingress(json!({})), deployment()], &[]);
        assert_eq!(links(&p).len(), 1);
    }

    #[test]
    fn an_httproute_is_followed_through_its_gateway() {
        let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"hostnames": ["web.internal.example.com"],
                     "parentRefs": [{"name": "internal", "namespace": "traefik", "sectionName": "https"}],
                     "rules": [{"filters": [{"type": "ExtensionRef", "extensionRef":
                                    {"group": "traefik.io", "kind": "Middleware", "name": "internal-only"}}],
                                "backendRefs": [{"name": "web", "port": 80}]}]}});
        let parent = chain::httproute::ParentRef {
            namespace: "traefik".into(),
            name: "internal".into(),
            section: Some("https".into()),
        };
        let links = links(&plan(&[route], &[]));
        assert_eq!(
            links,
            vec![
                Link::RouteAccepted {
                    namespace: "shop".into(),
                    name: "web".into(),
                    parent: parent.clone(),
                },
                Link::RouteDns {
                    host: "web.internal.example.com".into(),
                    parent,
                },
                Link::Https {
                    host: "web.internal.example.com".into(),
                    internal: true,
                },
            ]
        );
        assert_eq!(
            links[0].to_string(),
            "HTTPRoute shop/web accepted by Gateway traefik/internal listener https"
        );
    }

    #[test]
    fn the_record_and_the_request_are_asked_again_sooner_than_the_objects() {
        let dns = Link::Dns {
            host: "a.example.com".into(),
            target: "example.com".into(),
        };
        let https = Link::Https {
            host: "a.example.com".into(),
            internal: false,
        };
        assert_eq!(dns.poll_interval(), Duration::from_millis(50));
        assert_eq!(https.poll_interval(), Duration::from_millis(100));
        let rollout = Link::Rollout(ObjectRef::secret("web", "tls"));
        assert_eq!(rollout.poll_interval(), Duration::from_secs(1));
    }

    #[test]
    fn the_objects_a_link_reads_are_watched() {
        let rollout =
            ObjectRef::of(&crate::objects::TypedObject::from_value(&deployment()).unwrap());
        assert_eq!(Link::Rollout(rollout.clone()).watched(), vec![rollout]);
        // The Secret, and the source of the run's copy of it: its
        // appearing lets the wait make the copy.
        let secret = Link::TlsSecret {
            namespace: "shop".into(),
            name: "wild-tls".into(),
            copy: Some(copy()),
        };
        assert_eq!(
            secret.watched(),
            vec![
                ObjectRef::secret("shop", "wild-tls"),
                ObjectRef::secret("cert-manager", "wild-tls")
            ]
        );
        let route = Link::RouteAccepted {
            namespace: "shop".into(),
            name: "web".into(),
            parent: chain::httproute::ParentRef {
                namespace: "traefik".into(),
                name: "public".into(),
                section: None,
            },
        };
        assert_eq!(route.watched()[0].to_string(), "HTTPRoute shop/web");
        // The record and the request are asked, not watched.
        let dns = Link::Dns {
            host: "a.example.com".into(),
            target: "example.com".into(),
        };
        assert!(dns.watched().is_empty());
        assert_eq!(dns.record_host(), Some("a.example.com"));
    }
}
