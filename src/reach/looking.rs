//! Looking at one link: the cluster's objects, the zone's nameservers,
//! the HTTPS request (sent ahead while the DNS record is missing).

use super::judging::{judge, LinkState};
use super::links::{Link, GATEWAY_API_VERSION, HTTPS_POLL};
use super::settings::Settings;
use super::wake;
use crate::chain;
use crate::chain::checks::load_balancer;
use crate::dns::{self, parents, Query};
use crate::https;
use crate::kube::cluster::Cluster;
use crate::plan::{Condition, ObjectRef, SecretCopy};
use hickory_resolver::proto::rr::RecordType;
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How old an answer to the request sent ahead may be when the record
/// appears and still count: two of its rounds.
pub(super) const AHEAD_FRESH: Duration = Duration::from_millis(200);

/// The longest one HTTPS request of the wait may take.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The nameservers to ask for records under a zone, found once per zone.
pub(super) struct Nameservers {
    pub(super) fixed: Option<SocketAddr>,
    pub(super) zones: HashMap<String, (String, Vec<SocketAddr>)>,
}

impl Nameservers {
    /// The authoritative servers for `host`: the nearest parent with NS
    /// records (asked through the system's resolver: the parent names exist,
    /// so nothing negative is cached for the host), their addresses on port 53.
    async fn for_host(&mut self, host: &str) -> Result<(String, Vec<SocketAddr>), String> {
        if let Some(s) = self.fixed {
            return Ok((format!("{s} (dns.server)"), vec![s]));
        }
        for zone in parents(host) {
            if let Some(found) = self.zones.get(&zone) {
                return Ok(found.clone());
            }
            let base = Query::new(&zone, RecordType::NS);
            let Some(authority) = dns::first_zone(std::slice::from_ref(&zone), &base)
                .await
                .map_err(|e| e.to_string())?
            else {
                continue;
            };
            let names = authority.nameservers;
            let servers: Vec<SocketAddr> = authority
                .addresses
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect();
            let found = (format!("{} for zone {zone}", names.join(", ")), servers);
            self.zones.insert(zone, found.clone());
            return Ok(found);
        }
        Err(format!(
            "no zone above {host} has NS records the system's resolver knows; set dns.server (DNS_SERVER) to the zone's nameserver"
        ))
    }
}

/// Looks at one link.
pub(super) struct Looker<'a> {
    pub(super) cluster: &'a Cluster,
    pub(super) settings: &'a Settings,
    pub(super) nameservers: Nameservers,
}

impl Looker<'_> {
    /// Sends the HTTPS request of the host whose DNS record `link` waits
    /// for ahead (when the next link is that request), keeps it for the
    /// request's link, and stops it otherwise.
    pub(super) async fn send_ahead(
        &mut self,
        link: &Link,
        upcoming: &[Link],
        ahead: &mut Option<wake::Ahead>,
    ) {
        if matches!(link, Link::Https { .. }) {
            return;
        }
        let Some(host) = link.record_host() else {
            *ahead = None;
            return;
        };
        if ahead.as_ref().is_some_and(|a| a.host() == host) {
            return;
        }
        *ahead = None;
        let requested = matches!(upcoming.first(), Some(Link::Https { host: h, .. }) if h == host);
        if !requested {
            return;
        }
        let target = match link {
            Link::Dns { target, .. } => Some(target.clone()),
            Link::RouteDns { parent, .. } => self.gateway_target(parent).await.ok().flatten(),
            _ => None,
        };
        let Some(target) = target else {
            return;
        };
        // The address the record will lead to: its own, or its target's.
        let address = match target.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => match self.address_of(host, &target).await {
                Ok((ip, _)) => ip,
                Err(_) => return,
            },
        };
        let request = self.https_request(host, address);
        *ahead = Some(wake::Ahead::start(host, address, request, HTTPS_POLL));
    }

    /// The ExternalDNS target a Gateway carries, if any.
    async fn gateway_target(
        &self,
        parent: &chain::httproute::ParentRef,
    ) -> Result<Option<String>, anyhow::Error> {
        let gateway = self
            .get(
                GATEWAY_API_VERSION,
                "Gateway",
                &parent.namespace,
                &parent.name,
            )
            .await?;
        Ok(gateway.as_ref().and_then(chain::httproute::gateway_target))
    }

    pub(super) async fn look(
        &mut self,
        link: &Link,
        ahead: &mut Option<wake::Ahead>,
    ) -> Result<LinkState, anyhow::Error> {
        match link {
            Link::Rollout(target) => {
                let kind = self
                    .cluster
                    .resolve(&target.api_version, &target.kind)
                    .await?;
                let obj = crate::kube::objects::get(self.cluster, &kind, target).await?;
                let (done, status) =
                    crate::kube::wait::evaluate(&target.kind, &Condition::Rollout, obj.as_ref());
                Ok(if done {
                    LinkState::Holds(status)
                } else {
                    LinkState::NotYet(status)
                })
            }
            Link::Dns { host, target } => Ok(self.look_dns(host, target).await),
            Link::TlsSecret {
                namespace,
                name,
                copy,
            } => self.look_secret(namespace, name, copy.as_ref()).await,
            Link::Https { host, internal } => {
                let sent = ahead.take().filter(|a| a.host() == host);
                Ok(self.look_https(host, *internal, sent).await)
            }
            Link::RouteAccepted {
                namespace,
                name,
                parent,
            } => self.look_route(namespace, name, parent).await,
            Link::RouteDns { host, parent } => {
                let target = self.gateway_target(parent).await?;
                Ok(match target {
                    Some(target) => self.look_dns(host, &target).await,
                    None => LinkState::NotYet(format!(
                        "{} has no ExternalDNS target annotation (scripts/cluster.rhai with ingress.api=gateway writes it)",
                        parent
                    )),
                })
            }
        }
    }

    /// The live namespaced object `kind` `namespace/name`, if it exists.
    async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, anyhow::Error> {
        let resolved = self.cluster.resolve(api_version, kind).await?;
        let target = ObjectRef {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        };
        Ok(crate::kube::objects::get(self.cluster, &resolved, &target).await?)
    }

    async fn look_route(
        &self,
        namespace: &str,
        name: &str,
        parent: &chain::httproute::ParentRef,
    ) -> Result<LinkState, anyhow::Error> {
        let route = self
            .get(GATEWAY_API_VERSION, chain::httproute::KIND, namespace, name)
            .await?;
        let Some(route) = route else {
            return Ok(LinkState::NotYet(format!(
                "HTTPRoute {namespace}/{name} does not exist"
            )));
        };
        let Some(status) = chain::httproute::parent_status(&route, parent) else {
            return Ok(LinkState::NotYet(format!(
                "no controller has written a status for {parent} yet (does Traefik run its kubernetesGateway provider?)"
            )));
        };
        for kind in ["Accepted", "ResolvedRefs"] {
            match chain::httproute::condition(status, kind) {
                Some(c) if c.holds() => {}
                Some(c) => return Ok(LinkState::NotYet(format!("{kind} is {c}"))),
                None => return Ok(LinkState::NotYet(format!("no {kind} condition yet"))),
            }
        }
        Ok(LinkState::Holds(
            "Accepted, references resolved".to_string(),
        ))
    }

    async fn look_dns(&mut self, host: &str, target: &str) -> LinkState {
        let (which, servers) = match self.nameservers.for_host(host).await {
            Ok(found) => found,
            Err(e) => return LinkState::NotYet(e),
        };
        let mut last = String::new();
        for server in servers {
            let mut query = Query::new(host, RecordType::A);
            query.server = Some(server);
            match dns::expect(&query, target).await {
                Ok(e) if e.ok => {
                    return LinkState::Holds(format!("{} (asked {server}, {which})", e.message))
                }
                Ok(e) if e.status == "timeout" || e.status == "error" => {
                    last = format!("{} (asked {server}, {which})", e.message);
                }
                Ok(e) => {
                    let hint = if e.status == "nxdomain" {
                        "; ExternalDNS has not written it yet"
                    } else {
                        ""
                    };
                    return LinkState::NotYet(format!(
                        "{}{hint} (asked {server}, {which})",
                        e.message
                    ));
                }
                Err(e) => return LinkState::NotYet(e.to_string()),
            }
        }
        LinkState::NotYet(last)
    }

    async fn look_secret(
        &self,
        namespace: &str,
        name: &str,
        copy: Option<&SecretCopy>,
    ) -> Result<LinkState, anyhow::Error> {
        let target = ObjectRef::secret(namespace, name);
        let kind = self.cluster.resolve("v1", "Secret").await?;
        if let Some(secret) = crate::kube::objects::get(self.cluster, &kind, &target).await? {
            let info = crate::cert::inspect_value(&secret);
            return Ok(match info {
                Ok(i) => {
                    // cert-manager leaves the subject empty: say the names instead.
                    let who = if i.subject.is_empty() {
                        format!("names {}", i.dns_names.join(", "))
                    } else {
                        i.subject
                    };
                    LinkState::Holds(format!("{who}, issued by {}", i.issuer))
                }
                Err(e) => LinkState::NotYet(format!("it holds no usable certificate: {e}")),
            });
        }
        let Some(copy) = copy else {
            return Ok(LinkState::NotYet(format!(
                "Secret {namespace}/{name} does not exist (the recipe does not copy it)"
            )));
        };
        if !crate::kube::objects::copy_secret_now(self.cluster, copy).await? {
            return Ok(LinkState::NotYet(format!(
                "cert-manager has not issued {}/{} yet, so there is nothing to copy (kubectl -n {} describe certificate)",
                copy.from_namespace, copy.name, copy.from_namespace
            )));
        }
        tracing::info!(
            "created    Secret {namespace}/{name} (copied from {}/{} now that cert-manager has issued it)",
            copy.from_namespace,
            copy.name
        );
        Ok(LinkState::NotYet(format!(
            "copied from {}/{}; reading it back",
            copy.from_namespace, copy.name
        )))
    }

    async fn address(&mut self, host: &str) -> Result<(IpAddr, String), String> {
        self.address_of(host, host).await
    }

    /// The address of `name` at the nameservers of `host`'s zone (`name` may
    /// be the zone's apex, which has no zone above it), else the
    /// load balancer's.
    async fn address_of(&mut self, host: &str, name: &str) -> Result<(IpAddr, String), String> {
        if let Ok((which, servers)) = self.nameservers.for_host(host).await {
            for server in servers {
                let mut query = Query::new(name, RecordType::A);
                query.server = Some(server);
                if let Ok(answer) = dns::resolve(&query).await {
                    if let Some(ip) = answer.values.iter().find_map(|v| v.parse().ok()) {
                        return Ok((ip, format!("from {server}, {which}")));
                    }
                }
            }
        }
        if let Some(ip) = self.settings.load_balancer_ip {
            return Ok((ip, "cluster.loadBalancerIp; DNS gave no address".into()));
        }
        match traefik_address(self.cluster).await {
            Some(ip) => Ok((ip, "Traefik's LoadBalancer address; DNS gave no address".into())),
            None => Err(format!(
                "{name} has no address at its nameservers, cluster.loadBalancerIp is not set and no Traefik LoadBalancer Service has one"
            )),
        }
    }

    /// The wait's HTTPS request to `host` at `address`.
    fn https_request(&self, host: &str, address: IpAddr) -> https::Request {
        https::Request {
            url: format!("https://{host}/"),
            address: Some(address),
            port: Some(self.settings.https_port),
            ca: self.settings.ca_file.clone(),
            timeout: Some(REQUEST_TIMEOUT),
            ..https::Request::default()
        }
    }

    /// The request to `host` at the address DNS gives: the answer to the
    /// request `sent` ahead to that address when it is fresh and holds,
    /// else a request now.
    async fn look_https(
        &mut self,
        host: &str,
        internal: bool,
        sent: Option<wake::Ahead>,
    ) -> LinkState {
        let (ip, via) = match self.address(host).await {
            Ok(found) => found,
            Err(e) => return LinkState::NotYet(e),
        };
        let ranges = &self.settings.internal_ranges;
        let early = sent
            .filter(|a| a.address() == ip)
            .and_then(|a| a.recent(AHEAD_FRESH))
            .map(|(_, r)| r)
            .filter(|r| matches!(judge(r, internal, ranges), LinkState::Holds(_)));
        let answer = match early {
            Some(r) => Ok(r),
            None => https::get(&self.https_request(host, ip)).await,
        };
        match answer {
            Ok(r) => match judge(&r, internal, &self.settings.internal_ranges) {
                LinkState::Holds(note) => {
                    LinkState::Holds(format!("{note}, at {ip}:{} ({via})", r.port))
                }
                LinkState::NotYet(reason) => {
                    LinkState::NotYet(format!("{reason}, at {ip}:{} ({via})", r.port))
                }
            },
            Err(e) => LinkState::NotYet(e.to_string()),
        }
    }
}

/// The external address of a LoadBalancer Service labelled
/// `app.kubernetes.io/name=traefik`, if any.
pub(super) async fn traefik_address(cluster: &Cluster) -> Option<IpAddr> {
    let kind = cluster.resolve("v1", "Service").await.ok()?;
    let params = kube::api::ListParams::default().labels(chain::names::TRAEFIK_SELECTOR);
    let services = cluster.list(&kind, None, &params).await.ok()?;
    services
        .iter()
        .filter(|s| load_balancer::is_load_balancer(s))
        .flat_map(load_balancer::external_ips)
        .find_map(|ip| ip.parse().ok())
}
