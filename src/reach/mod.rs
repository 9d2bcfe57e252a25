//! `--wait`: after applying, wait until the service answers over HTTPS.
//!
//! The links to wait on come from what the plan applied ([`links`]):
//!
//! 1. every Deployment, StatefulSet and DaemonSet rolls out;
//! 2. for each Ingress host with an ExternalDNS target annotation, in order:
//!    - the TLS Secret the Ingress names, in its namespace; when the run's
//!      copy of it was skipped because cert-manager had not issued the source
//!      yet, the copy is made as soon as the source exists;
//!    - the DNS record ExternalDNS writes (a CNAME to a name target, an A
//!      record to an address), asked at the zone's **authoritative**
//!      nameservers, found from the zone's NS records through the system's
//!      resolver (or the nameserver `dns.server` names), never through the
//!      user's resolver for the host itself, so an early NXDOMAIN is never
//!      cached where the user will ask later;
//!    - an HTTPS request to the host that answers (see [`judge`]).
//! 3. for each HTTPRoute: `Accepted` (references resolved) by each parent
//!    Gateway listener, then per host the DNS record to the Gateway's
//!    ExternalDNS target and the HTTPS request (TLS ends at the Gateway).
//!
//! Links are waited on one after the other, each until it holds; the whole
//! wait ends at the timeout with the link and its last reason. A failed read
//! of the cluster (the API server restarting) is a reason like any other.
//!
//! The wait watches rather than polls where it can ([`wake`]): a link of
//! the cluster's objects is looked at again when a watch of the objects it
//! reads reports a change (once a second if a watch cannot run). The DNS
//! record cannot be watched: the zone's servers are asked every 50 ms
//! (at most 20 queries a second). While it is missing, the HTTPS request is
//! sent ahead to the address the record will lead to, one at a time and at
//! most every 100 ms, so the answer is known when the record appears; once
//! on the HTTPS link, a request every 100 ms at most.
//! Progress goes to stderr: a spinner on a terminal, one line per change
//! otherwise.

use crate::chain;
use crate::chain::answer::{self, Served, Verdict};
use crate::chain::checks::load_balancer;
use crate::config::Config;
use crate::dns::{self, Query};
use crate::https;
use crate::kube::cluster::Cluster;
use crate::plan::{Condition, ObjectRef, Plan, SecretCopy, Step};
use hickory_resolver::proto::rr::RecordType;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

mod wake;

/// The Gateway API version the wait reads routes and Gateways at.
const GATEWAY_API_VERSION: &str = "gateway.networking.k8s.io/v1";

/// How long `--wait` waits unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a link of the cluster's objects that does not hold yet is
/// looked at again when its objects cannot be watched (an API request each
/// time).
const POLL: Duration = Duration::from_secs(1);

/// How often a link of watched objects is looked at again when no event
/// came: a safety net for an event lost between a look and its watch.
const WATCHED_POLL: Duration = Duration::from_secs(10);

/// How often the DNS record is asked for again: one query to the zone's own
/// servers, so the wait sees the record within this of ExternalDNS writing it.
const DNS_POLL: Duration = Duration::from_millis(50);

/// How often the HTTPS request is sent again while it does not answer, and
/// sent ahead while the DNS record is missing (start to start, one at a time).
const HTTPS_POLL: Duration = Duration::from_millis(100);

/// How old an answer to the request sent ahead may be when the record
/// appears and still count: two of its rounds.
const AHEAD_FRESH: Duration = Duration::from_millis(200);

/// The longest one HTTPS request of the wait may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What stops the wait.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The timeout passed before every link held.
    #[error("timed out after {elapsed} waiting for {link}: {reason}")]
    Timeout {
        /// The link that did not hold.
        link: String,
        /// Why, as last seen.
        reason: String,
        /// The timeout, for people (`5m`, `30s`).
        elapsed: String,
    },
}

/// One link of the chain from an applied recipe to an answering service.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
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

/// A reason without the time its look took (`404 Not Found in 12 ms`):
/// the same answer, slower or faster, is not news to print again.
fn without_timings(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(at) = rest.find(" in ") {
        let after = &rest[at + 4..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && after[digits..].starts_with(" ms") {
            rest = &after[digits + 3..];
        } else {
            out.push_str(" in ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

impl Link {
    /// How soon the link is looked at again while it does not hold: the
    /// record and the request, which come last and cost one query or
    /// request, soon; the cluster's objects once a second.
    pub fn poll_interval(&self) -> Duration {
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
    pub fn watched(&self) -> Vec<ObjectRef> {
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
    fn record_host(&self) -> Option<&str> {
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
pub fn links(plan: &Plan) -> Vec<Link> {
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
fn ingress_links(
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
fn route_links(route: &Value, out: &mut Vec<Link>) {
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

/// What looking at a link found.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// It holds; what it looks like.
    Holds(String),
    /// Not yet; why.
    NotYet(String),
}

/// A change worth telling people about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Now waiting on `link` because of `reason` (new link or new reason).
    Waiting {
        /// The link, in words.
        link: String,
        /// Why it does not hold.
        reason: String,
    },
    /// `link` holds after `after` (since the wait began).
    Holds {
        /// The link, in words.
        link: String,
        /// What it looks like.
        note: String,
        /// Since the wait began.
        after: Duration,
    },
    /// Every link holds.
    Done {
        /// Since the wait began.
        after: Duration,
    },
}

/// The wait's progress through its links: fed what each look found,
/// it says what changed.
#[derive(Debug)]
pub struct Progress {
    links: Vec<Link>,
    current: usize,
    reason: Option<String>,
}

impl Progress {
    /// Starts at the first link.
    pub fn new(links: Vec<Link>) -> Progress {
        Progress {
            links,
            current: 0,
            reason: None,
        }
    }

    /// The link waited on now, or `None` when all hold.
    pub fn current(&self) -> Option<&Link> {
        self.links.get(self.current)
    }

    /// The links after the current one.
    pub fn upcoming(&self) -> &[Link] {
        self.links.get(self.current + 1..).unwrap_or_default()
    }

    /// The last reason the current link gave.
    pub fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or("not looked at yet")
    }

    /// Records what a look at the current link found, `elapsed` since the
    /// wait began; returns what to tell people.
    pub fn observe(&mut self, seen: Seen, elapsed: Duration) -> Vec<Event> {
        let Some(link) = self.current().map(ToString::to_string) else {
            return Vec::new();
        };
        match seen {
            Seen::NotYet(reason) => {
                if self.reason.as_deref().map(without_timings) == Some(without_timings(&reason)) {
                    return Vec::new();
                }
                self.reason = Some(reason.clone());
                vec![Event::Waiting { link, reason }]
            }
            Seen::Holds(note) => {
                self.current += 1;
                self.reason = None;
                let mut events = vec![Event::Holds {
                    link,
                    note,
                    after: elapsed,
                }];
                if self.current().is_none() {
                    events.push(Event::Done { after: elapsed });
                }
                events
            }
        }
    }
}

/// `5m`, `90s`, `1h30m`, `1m30s`, or plain seconds (`300`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a duration: use e.g. 300, 90s, 5m, 1h30m");
    if let Ok(secs) = text.parse::<u64>() {
        return if secs > 0 {
            Ok(Duration::from_secs(secs))
        } else {
            Err(format!("{text:?}: the timeout must be more than 0"))
        };
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// A duration for people: `5m`, `90s` → `1m30s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Whether an HTTPS response means the service answers, by the chain's
/// rules ([`chain::answer`]); for an internal service, Traefik's 403 to an
/// asker outside `ranges` counts, with a note, and an answer to such an
/// asker does not: the internal-only middleware is not in force (yet).
pub fn judge(r: &https::Response, internal: bool, ranges: &[String]) -> Seen {
    let Some(status) = r.status.filter(|_| r.answered) else {
        return Seen::NotYet(format!(
            "{} ({} failed)",
            r.error.as_deref().unwrap_or("no answer"),
            r.stage.as_deref().unwrap_or("request")
        ));
    };
    let subject = r
        .certificate
        .as_ref()
        .map(|c| format!("{} from {}", c.subject, c.issuer))
        .unwrap_or_else(|| "no certificate".into());
    // The wait does not know the Secret's certificate: it must verify.
    match answer::judge_certificate(r.covers, r.verified, false) {
        Served::NotNamed => return Seen::NotYet(format!(
            "Traefik serves a certificate that does not name {} ({subject}): it has not loaded the TLS Secret yet",
            r.host
        )),
        Served::Unverified => return Seen::NotYet(format!(
            "the certificate does not verify: {} ({subject}); set tls.caFile (TLS_CA_FILE) to the CA of a private issuer",
            r.verify_error.as_deref().unwrap_or("unknown reason")
        )),
        Served::Trusted => {}
    }
    let from = r.source.as_deref().unwrap_or("?");
    let answered = format!(
        "{status} {} in {} ms, asked from {from}",
        r.reason.as_deref().unwrap_or(""),
        r.elapsed_ms
    )
    .replace("  ", " ");
    let asker = answer::asker(r.source.as_deref(), ranges);
    match answer::judge_status(status, internal, asker) {
        Verdict::AllowlistAtWork => Seen::Holds(format!(
            "{answered}: Traefik's allowlist refuses {from}, which is outside cluster.internalSourceRanges, as it should; askers inside the ranges reach the service"
        )),
        Verdict::RefusedInsider => Seen::NotYet(format!(
            "{answered}: Traefik refuses {from}, which is inside cluster.internalSourceRanges (the middleware's ranges differ, or Traefik sees another client address)"
        )),
        Verdict::LetIn => Seen::NotYet(format!(
            "{answered}: {from} is outside cluster.internalSourceRanges and was let in: the internal-only middleware is not in force (Traefik has not loaded it yet, or it does not apply to this router)"
        )),
        Verdict::NoRoute => Seen::NotYet(format!(
            "{answered}: Traefik has no route for the host yet"
        )),
        Verdict::NoBackend => Seen::NotYet(format!(
            "{answered}: Traefik has no ready backend yet"
        )),
        Verdict::Answers => Seen::Holds(answered),
    }
}

/// What the wait needs besides the plan.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The whole wait's limit.
    pub timeout: Duration,
    /// `dns.server`: ask this nameserver instead of finding the zone's.
    pub dns_server: Option<SocketAddr>,
    /// `ingress.httpsPort`.
    pub https_port: u16,
    /// `tls.caFile`.
    pub ca_file: Option<String>,
    /// `cluster.loadBalancerIp`: where to send the request when DNS gives no address.
    pub load_balancer_ip: Option<IpAddr>,
    /// `cluster.internalSourceRanges`.
    pub internal_ranges: Vec<String>,
}

impl Settings {
    /// The settings a run's configuration gives, with `timeout`.
    pub fn from_config(config: &Config, timeout: Duration) -> Settings {
        let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_string);
        Settings {
            timeout,
            dns_server: text("dns.server").and_then(|s| dns::server_address(&s).ok()),
            https_port: config
                .get("ingress.httpsPort")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(443),
            ca_file: text("tls.caFile"),
            load_balancer_ip: text("cluster.loadBalancerIp").and_then(|s| s.parse().ok()),
            internal_ranges: crate::objects::string_list(
                config.get("cluster.internalSourceRanges"),
            ),
        }
    }
}

/// How progress is shown: a spinner on a terminal, lines otherwise.
struct Display {
    terminal: bool,
    frame: usize,
    line: String,
}

const SPINNER: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

impl Display {
    fn new() -> Display {
        Display {
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            frame: 0,
            line: String::new(),
        }
    }

    fn clear(&mut self) {
        if self.terminal && !self.line.is_empty() {
            eprint!("\r\x1b[2K");
            self.line.clear();
        }
    }

    fn show(&mut self, event: &Event) {
        match event {
            Event::Waiting { link, reason } => {
                let text = format!("waiting for {link}: {reason}");
                if self.terminal {
                    self.line = text;
                    self.tick();
                } else {
                    tracing::info!("{text}");
                }
            }
            Event::Holds { link, note, after } => {
                self.clear();
                tracing::info!("✓ {link}: {note} ({:.1}s)", after.as_secs_f64());
            }
            Event::Done { after } => {
                self.clear();
                tracing::info!(
                    "the service answers ({:.1}s after applying)",
                    after.as_secs_f64()
                );
            }
        }
    }

    fn tick(&mut self) {
        if self.terminal && !self.line.is_empty() {
            self.frame = (self.frame + 1) % SPINNER.len();
            eprint!("\r\x1b[2K{} {}", SPINNER[self.frame], self.line);
            let _ = std::io::stderr().flush();
        }
    }
}

/// The nameservers to ask for records under a zone, found once per zone.
struct Nameservers {
    fixed: Option<SocketAddr>,
    zones: HashMap<String, (String, Vec<SocketAddr>)>,
}

use crate::dns::parents;

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
struct Looker<'a> {
    cluster: &'a Cluster,
    settings: &'a Settings,
    nameservers: Nameservers,
}

impl Looker<'_> {
    /// Sends the HTTPS request of the host whose DNS record `link` waits
    /// for ahead (when the next link is that request), keeps it for the
    /// request's link, and stops it otherwise.
    async fn send_ahead(
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

    async fn look(
        &mut self,
        link: &Link,
        ahead: &mut Option<wake::Ahead>,
    ) -> Result<Seen, anyhow::Error> {
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
                    Seen::Holds(status)
                } else {
                    Seen::NotYet(status)
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
                    None => Seen::NotYet(format!(
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
    ) -> Result<Seen, anyhow::Error> {
        let route = self
            .get(GATEWAY_API_VERSION, chain::httproute::KIND, namespace, name)
            .await?;
        let Some(route) = route else {
            return Ok(Seen::NotYet(format!(
                "HTTPRoute {namespace}/{name} does not exist"
            )));
        };
        let Some(status) = chain::httproute::parent_status(&route, parent) else {
            return Ok(Seen::NotYet(format!(
                "no controller has written a status for {parent} yet (does Traefik run its kubernetesGateway provider?)"
            )));
        };
        for kind in ["Accepted", "ResolvedRefs"] {
            match chain::httproute::condition(status, kind) {
                Some(c) if c.holds() => {}
                Some(c) => return Ok(Seen::NotYet(format!("{kind} is {c}"))),
                None => return Ok(Seen::NotYet(format!("no {kind} condition yet"))),
            }
        }
        Ok(Seen::Holds("Accepted, references resolved".to_string()))
    }

    async fn look_dns(&mut self, host: &str, target: &str) -> Seen {
        let (which, servers) = match self.nameservers.for_host(host).await {
            Ok(found) => found,
            Err(e) => return Seen::NotYet(e),
        };
        let mut last = String::new();
        for server in servers {
            let mut query = Query::new(host, RecordType::A);
            query.server = Some(server);
            match dns::expect(&query, target).await {
                Ok(e) if e.ok => {
                    return Seen::Holds(format!("{} (asked {server}, {which})", e.message))
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
                    return Seen::NotYet(format!("{}{hint} (asked {server}, {which})", e.message));
                }
                Err(e) => return Seen::NotYet(e.to_string()),
            }
        }
        Seen::NotYet(last)
    }

    async fn look_secret(
        &self,
        namespace: &str,
        name: &str,
        copy: Option<&SecretCopy>,
    ) -> Result<Seen, anyhow::Error> {
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
                    Seen::Holds(format!("{who}, issued by {}", i.issuer))
                }
                Err(e) => Seen::NotYet(format!("it holds no usable certificate: {e}")),
            });
        }
        let Some(copy) = copy else {
            return Ok(Seen::NotYet(format!(
                "Secret {namespace}/{name} does not exist (the recipe does not copy it)"
            )));
        };
        if !crate::kube::objects::copy_secret_now(self.cluster, copy).await? {
            return Ok(Seen::NotYet(format!(
                "cert-manager has not issued {}/{} yet, so there is nothing to copy (kubectl -n {} describe certificate)",
                copy.from_namespace, copy.name, copy.from_namespace
            )));
        }
        tracing::info!(
            "created    Secret {namespace}/{name} (copied from {}/{} now that cert-manager has issued it)",
            copy.from_namespace,
            copy.name
        );
        Ok(Seen::NotYet(format!(
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
    async fn look_https(&mut self, host: &str, internal: bool, sent: Option<wake::Ahead>) -> Seen {
        let (ip, via) = match self.address(host).await {
            Ok(found) => found,
            Err(e) => return Seen::NotYet(e),
        };
        let ranges = &self.settings.internal_ranges;
        let early = sent
            .filter(|a| a.address() == ip)
            .and_then(|a| a.recent(AHEAD_FRESH))
            .map(|(_, r)| r)
            .filter(|r| matches!(judge(r, internal, ranges), Seen::Holds(_)));
        let answer = match early {
            Some(r) => Ok(r),
            None => https::get(&self.https_request(host, ip)).await,
        };
        match answer {
            Ok(r) => match judge(&r, internal, &self.settings.internal_ranges) {
                Seen::Holds(note) => Seen::Holds(format!("{note}, at {ip}:{} ({via})", r.port)),
                Seen::NotYet(reason) => {
                    Seen::NotYet(format!("{reason}, at {ip}:{} ({via})", r.port))
                }
            },
            Err(e) => Seen::NotYet(e.to_string()),
        }
    }
}

/// The external address of a LoadBalancer Service labelled
/// `app.kubernetes.io/name=traefik`, if any.
async fn traefik_address(cluster: &Cluster) -> Option<IpAddr> {
    let kind = cluster.resolve("v1", "Service").await.ok()?;
    let params = kube::api::ListParams::default().labels(chain::names::TRAEFIK_SELECTOR);
    let services = cluster.list(&kind, None, &params).await.ok()?;
    services
        .iter()
        .filter(|s| load_balancer::is_load_balancer(s))
        .flat_map(load_balancer::external_ips)
        .find_map(|ip| ip.parse().ok())
}

/// Waits until every link of `plan` holds, showing progress on stderr.
pub async fn until_reachable(
    cluster: &Cluster,
    plan: &Plan,
    settings: &Settings,
) -> Result<(), WaitError> {
    let links = links(plan);
    if links.is_empty() {
        tracing::info!("--wait: the recipe applied no workload, no Ingress with an ExternalDNS target and no HTTPRoute; nothing to wait for");
        return Ok(());
    }
    let started = Instant::now();
    let mut progress = Progress::new(links);
    let mut display = Display::new();
    let mut looker = Looker {
        cluster,
        settings,
        nameservers: Nameservers {
            fixed: settings.dns_server,
            zones: HashMap::new(),
        },
    };
    let mut watches = wake::Watches::default();
    let mut ahead = None;
    while let Some(link) = progress.current().cloned() {
        let left = settings.timeout.saturating_sub(started.elapsed());
        // Watching starts before the look, so no change after it is missed.
        watches.follow(cluster, link.watched()).await;
        looker
            .send_ahead(&link, progress.upcoming(), &mut ahead)
            .await;
        let seen = match tokio::time::timeout(left, looker.look(&link, &mut ahead)).await {
            Ok(Ok(seen)) => seen,
            // The API server may be restarting: keep waiting, and say so.
            Ok(Err(e)) => Seen::NotYet(format!("{e:#}")),
            Err(_) => Seen::NotYet(format!(
                "{} (still looking when the time ran out)",
                progress.reason()
            )),
        };
        let holds = matches!(seen, Seen::Holds(_));
        for event in progress.observe(seen, started.elapsed()) {
            display.show(&event);
        }
        if holds {
            continue;
        }
        if started.elapsed() >= settings.timeout {
            display.clear();
            return Err(WaitError::Timeout {
                link: link.to_string(),
                reason: progress.reason().to_string(),
                elapsed: format_duration(settings.timeout),
            });
        }
        let pause = if watches.watching() {
            WATCHED_POLL
        } else {
            link.poll_interval()
        }
        .min(settings.timeout.saturating_sub(started.elapsed()));
        let tick = Duration::from_millis(100);
        let until = Instant::now() + pause;
        while Instant::now() < until {
            let nap = tick.min(until.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = watches.changed() => break,
                _ = tokio::time::sleep(nap) => display.tick(),
            }
        }
    }
    Ok(())
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
    fn progress_reports_changes_only() {
        let mut p = Progress::new(vec![
            Link::Rollout(ObjectRef::namespace("x")),
            Link::Https {
                host: "a.example.com".into(),
                internal: false,
            },
        ]);
        let s = Duration::from_secs(1);
        let first = p.observe(Seen::NotYet("0/1 available".into()), s);
        assert_eq!(first.len(), 1);
        assert!(matches!(&first[0], Event::Waiting { reason, .. } if reason == "0/1 available"));
        assert!(p
            .observe(Seen::NotYet("0/1 available".into()), s)
            .is_empty());
        assert_eq!(p.observe(Seen::NotYet("1/1 available".into()), s).len(), 1);
        let events = p.observe(Seen::Holds("rolled out".into()), s);
        assert!(
            matches!(&events[..], [Event::Holds { link, .. }] if link == "rollout of Namespace x")
        );
        assert_eq!(p.reason(), "not looked at yet");
        assert_eq!(
            p.current().unwrap().to_string(),
            "HTTPS https://a.example.com/"
        );
        let events = p.observe(Seen::Holds("200 OK".into()), s * 3);
        assert!(
            matches!(&events[..], [Event::Holds { .. }, Event::Done { after }] if *after == s * 3)
        );
        assert!(p.current().is_none());
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

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(3)), "3s");
    }

    fn response(status: Option<u16>, source: &str) -> https::Response {
        https::Response {
            host: "a.example.com".into(),
            answered: status.is_some(),
            status,
            reason: Some("X".into()),
            source: Some(source.into()),
            verified: true,
            covers: Some(true),
            error: status
                .is_none()
                .then(|| "cannot connect to 192.0.2.1:443: refused".into()),
            stage: status.is_none().then(|| "connect".into()),
            ..https::Response::default()
        }
    }

    #[test]
    fn what_counts_as_answering() {
        let ranges = vec!["10.0.0.0/8".to_string()];
        assert!(matches!(
            judge(&response(Some(200), "192.0.2.9"), false, &ranges),
            Seen::Holds(_)
        ));
        let Seen::NotYet(why) = judge(&response(None, "192.0.2.9"), false, &ranges) else {
            panic!()
        };
        assert!(why.contains("connect failed"), "{why}");
        assert!(
            matches!(judge(&response(Some(404), "192.0.2.9"), false, &ranges), Seen::NotYet(w) if w.contains("no route"))
        );
        assert!(
            matches!(judge(&response(Some(503), "192.0.2.9"), false, &ranges), Seen::NotYet(w) if w.contains("no ready backend"))
        );
        // Internal: 403 to an outsider is the allowlist working; to an insider it is not an answer.
        let Seen::Holds(note) = judge(&response(Some(403), "192.0.2.9"), true, &ranges) else {
            panic!()
        };
        assert!(
            note.contains("outside cluster.internalSourceRanges"),
            "{note}"
        );
        assert!(
            matches!(judge(&response(Some(403), "10.1.2.3"), true, &ranges), Seen::NotYet(w) if w.contains("inside"))
        );
        assert!(matches!(
            judge(&response(Some(403), "192.0.2.9"), false, &ranges),
            Seen::Holds(_)
        ));
        // Internal: an answer to an outsider is not reaching the service:
        // the allowlist is not in force, so the wait goes on, saying why.
        let Seen::NotYet(why) = judge(&response(Some(200), "192.0.2.9"), true, &ranges) else {
            panic!("an outsider let into an internal service must not count as answering")
        };
        assert!(
            why.contains("192.0.2.9 is outside cluster.internalSourceRanges and was let in"),
            "{why}"
        );
        assert!(matches!(
            judge(&response(Some(200), "10.1.2.3"), true, &ranges),
            Seen::Holds(_)
        ));
        // A certificate that does not verify or does not name the host is not an answer yet.
        let mut r = response(Some(200), "192.0.2.9");
        r.verified = false;
        r.verify_error = Some("it is not signed by a trusted CA (unknown issuer)".into());
        assert!(matches!(judge(&r, false, &ranges), Seen::NotYet(w) if w.contains("tls.caFile")));
        r.covers = Some(false);
        assert!(
            matches!(judge(&r, false, &ranges), Seen::NotYet(w) if w.contains("does not name"))
        );
    }
    #[test]
    fn the_same_answer_slower_or_faster_is_said_once() {
        assert_eq!(
            without_timings("404 Not Found in 12 ms, asked from 127.0.0.1: no route in it"),
            "404 Not Found, asked from 127.0.0.1: no route in it"
        );
        let mut progress = Progress::new(vec![Link::Https {
            host: "a.example.com".into(),
            internal: false,
        }]);
        let said =
            |p: &mut Progress, r: &str| p.observe(Seen::NotYet(r.into()), Duration::ZERO).len();
        assert_eq!(
            said(
                &mut progress,
                "404 Not Found in 12 ms, asked from 127.0.0.1"
            ),
            1
        );
        assert_eq!(
            said(&mut progress, "404 Not Found in 9 ms, asked from 127.0.0.1"),
            0
        );
        assert_eq!(
            said(
                &mut progress,
                "502 Bad Gateway in 9 ms, asked from 127.0.0.1"
            ),
            1
        );
    }
}
