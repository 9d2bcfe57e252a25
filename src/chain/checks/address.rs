//! `dns` of `doctor --host`: the host's address, as the user's resolver
//! and as the zone's authoritative servers answer it.
//!
//! Where they disagree, both are shown. A LAN resolver that answers the
//! load balancer's address for every name under the domain (split horizon,
//! as wild-cloud's dnsmasq `address=/<domain>/<LB>` does) is recognised by
//! its answer for a name nobody made, and explained rather than failed.

use super::super::check::Check;
use crate::dns::DnsAnswer;
use serde::Deserialize;

/// What DNS says of a host, as the script looked it up.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Lookups {
    /// The user's resolver (the system's, or `--dns-server`): the host's A answer.
    pub(crate) asked: Option<DnsAnswer>,
    /// The apex of the zone the host lies in, when its servers were found.
    pub(crate) zone: Option<String>,
    /// The zone's nameservers.
    pub(crate) nameservers: Vec<String>,
    /// What the zone's servers answer for the host.
    pub(crate) authoritative: Option<DnsAnswer>,
    /// The user's resolver's answer for a name beside the host that nobody
    /// made (`wildrun-probe-<n>.<parent>`).
    pub(crate) probe: Option<DnsAnswer>,
}

/// Whether an answer has an address of Traefik's (`traefik_ips`), or any
/// address when Traefik's is not known.
fn leads(answer: &DnsAnswer, traefik_ips: &[String]) -> bool {
    if traefik_ips.is_empty() {
        !answer.values.is_empty()
    } else {
        answer.values.iter().any(|v| traefik_ips.contains(v))
    }
}

/// How an answer leads to Traefik.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Way {
    /// One of its addresses is Traefik's.
    Direct,
    /// It is a CNAME to the name the route is published at (its ExternalDNS
    /// target, else the zone's apex), whose address is another: the way in
    /// from outside, e.g. a home router's public address forwarding port
    /// 443 to Traefik's.
    Forwarded,
}

/// Two DNS names are the same, whatever their case and final dot.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// An answer's way to Traefik, if it has one. `way_in` is the name a
/// public host is a CNAME to (see [`Way::Forwarded`]).
fn way(answer: &DnsAnswer, traefik_ips: &[String], way_in: Option<&str>) -> Option<Way> {
    if leads(answer, traefik_ips) {
        return Some(Way::Direct);
    }
    let through = answer.cname.as_deref().zip(way_in);
    let forwarded =
        through.is_some_and(|(alias, name)| same_name(alias, name)) && !answer.values.is_empty();
    forwarded.then_some(Way::Forwarded)
}

/// An answer's addresses, or its status.
fn said(answer: &DnsAnswer) -> String {
    if answer.values.is_empty() {
        format!("no address ({})", answer.status)
    } else {
        answer.values.join(", ")
    }
}

fn same(a: &DnsAnswer, b: &DnsAnswer) -> bool {
    let sorted = |x: &DnsAnswer| {
        let mut v = x.values.clone();
        v.sort();
        v
    };
    sorted(a) == sorted(b) && (!a.values.is_empty() || a.status == b.status)
}

/// The parent domain of a host (`cloud.example.test` for `gitea.cloud.example.test`).
pub(crate) fn parent(host: &str) -> &str {
    host.split_once('.').map_or(host, |(_, rest)| rest)
}

/// The made-up name beside `host` whose answer tells a resolver that
/// answers every name of the domain (`wildrun-probe-<n>.<parent>`).
pub(crate) fn probe_name(host: &str, nonce: u64) -> String {
    format!("wildrun-probe-{nonce:x}.{}", parent(host))
}

impl Lookups {
    /// The zone's servers, for people: `the zone Z's servers (ns1, ns2)`.
    fn servers(&self) -> String {
        format!(
            "the zone {}'s servers ({})",
            self.zone.as_deref().unwrap_or("?"),
            self.nameservers.join(", ")
        )
    }

    /// The user's resolver answers the same addresses as for the host for
    /// a name nobody made: it answers for the whole domain.
    pub(crate) fn split_horizon(&self) -> bool {
        match (&self.asked, &self.probe) {
            (Some(asked), Some(probe)) => !probe.values.is_empty() && same(asked, probe),
            _ => false,
        }
    }

    /// The name a public host's record leads through: `target` (the
    /// route's ExternalDNS target) when it has one, else the zone's apex.
    /// None for an internal host, whose target is an address: only
    /// Traefik's will do.
    fn way_in<'a>(&'a self, target: Option<&'a str>) -> Option<&'a str> {
        match target.filter(|t| !t.is_empty()) {
            Some(t) if t.parse::<std::net::IpAddr>().is_ok() => None,
            Some(name) => Some(name),
            None => self.zone.as_deref(),
        }
    }

    /// Whether the host is published where everyone asks: the zone's
    /// servers lead to Traefik (or to the way in, see [`Way::Forwarded`]);
    /// without them, the user's resolver does, unless it answers for the
    /// whole domain.
    pub(crate) fn published(&self, traefik_ips: &[String], target: Option<&str>) -> bool {
        let way_in = self.way_in(target);
        match (&self.authoritative, &self.asked) {
            (Some(a), _) => way(a, traefik_ips, way_in).is_some(),
            (None, Some(asked)) => {
                !self.split_horizon() && way(asked, traefik_ips, way_in).is_some()
            }
            (None, None) => false,
        }
    }
}

/// `dns`: the user's resolver leads the host to Traefik's address
/// (`traefik_ips`), or, for a public host, through the name it is
/// published at (`target`, the route's ExternalDNS target, else the
/// zone's apex) to the way in from outside (a router's public address that
/// must forward port 443 to Traefik: the https check asks through it). The
/// zone's servers' answer is shown where it differs, and a split-horizon
/// resolver explained.
pub(crate) fn address(
    host: &str,
    lookups: &Lookups,
    traefik_ips: &[String],
    target: Option<&str>,
    server: Option<&str>,
) -> Check {
    const NAME: &str = "dns";
    let Some(asked) = &lookups.asked else {
        return Check::skip(NAME, "the host was not looked up");
    };
    let via = format!(
        " (asked {})",
        server
            .filter(|s| !s.is_empty())
            .unwrap_or("the system's resolver")
    );
    let alias = asked
        .cname
        .as_ref()
        .map(|c| format!(" (a CNAME to {c})"))
        .unwrap_or_default();
    let traefik = if traefik_ips.is_empty() {
        "Traefik's address is not known to compare (see load-balancer)".to_string()
    } else {
        format!("Traefik's address is {}", traefik_ips.join(", "))
    };
    let zone = lookups.authoritative.as_ref().map(|a| {
        if same(a, asked) {
            format!("{} agree", lookups.servers())
        } else {
            format!("{} say {}", lookups.servers(), said(a))
        }
    });
    let zone_text = zone.as_ref().map(|z| format!("; {z}")).unwrap_or_default();
    if asked.values.is_empty() {
        return Check::fail(
            NAME,
            format!("{host} has {}{via}{zone_text}", said(asked)),
            "no record: is ExternalDNS running, reading this route's source (ingress, traefik-proxy) and its domain filter holding the host? (the externaldns check names the ExternalDNS that should publish it: read its logs)",
        );
    }
    let values = asked.values.join(", ");
    let way_in = lookups.way_in(target);
    let found = format!("{host} has {values}{alias}{via}{zone_text}; {traefik}");
    let found = match way(asked, traefik_ips, way_in) {
        None => {
            let through = way_in
                .map(|name| format!(", or be a CNAME to {name} whose address forwards port 443 to it"))
                .unwrap_or_default();
            return Check::fail(
                NAME,
                found,
                format!("{host} must lead to Traefik's address {}{through}: fix the record (or the annotation external-dns.kubernetes.io/target ExternalDNS writes it from)", traefik_ips.join(", ")),
            );
        }
        Some(Way::Direct) => found,
        Some(Way::Forwarded) => format!(
            "{found}: {values} is {}'s address, the way in from outside, which must forward port 443 to Traefik (a router's port forward; the https check asks through it)",
            way_in.unwrap_or_default()
        ),
    };
    let Some(authoritative) = &lookups.authoritative else {
        return Check::pass(NAME, found);
    };
    if same(authoritative, asked) {
        return Check::pass(NAME, found);
    }
    if lookups.split_horizon() {
        let domain = parent(host);
        return Check::pass(
            NAME,
            format!(
                "{host} has {values}{via}: that resolver answers {values} for every name under {domain} (split horizon, as dnsmasq's address=/{domain}/{values} does), so it leads to Traefik on this network; {} say {}: that is what the rest of the world gets; {traefik}",
                lookups.servers(),
                said(authoritative)
            ),
        );
    }
    if way(authoritative, traefik_ips, way_in).is_some() {
        return Check::pass(NAME, found);
    }
    Check::fail(
        NAME,
        format!("your resolver and the zone's servers disagree: {found}"),
        format!(
            "{} answer {}: your resolver's answer is cached or overridden; fix the record at the zone (ExternalDNS writes it) and wait for its TTL, or fix the resolver",
            lookups.servers(),
            said(authoritative)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;

    fn answer(values: &[&str], status: &str) -> DnsAnswer {
        DnsAnswer {
            name: "web.example.com".into(),
            record_type: "A".into(),
            status: status.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            cname: None,
            records: vec![],
            server: "system".into(),
            error: None,
        }
    }

    fn ips() -> Vec<String> {
        vec!["192.168.8.240".to_string()]
    }

    const HOST: &str = "web.example.com";

    #[test]
    fn the_name_leads_to_traefik() {
        let mut asked = answer(&["192.168.8.240"], "ok");
        asked.cname = Some("example.com".into());
        let lookups = Lookups {
            asked: Some(asked.clone()),
            ..Lookups::default()
        };
        let c = address(HOST, &lookups, &ips(), None, None);
        assert_eq!(c.status, CheckStatus::Pass);
        assert_eq!(c.found, "web.example.com has 192.168.8.240 (a CNAME to example.com) (asked the system's resolver); Traefik's address is 192.168.8.240");
        assert_eq!(
            address(HOST, &lookups, &["10.0.0.1".into()], None, None).status,
            CheckStatus::Fail
        );
        let none = Lookups {
            asked: Some(answer(&[], "nxdomain")),
            ..Lookups::default()
        };
        assert_eq!(
            address(HOST, &none, &ips(), None, Some("127.0.0.1:53")).found,
            "web.example.com has no address (nxdomain) (asked 127.0.0.1:53)"
        );
        assert!(lookups.published(&ips(), None));
        assert!(!none.published(&ips(), None));
    }

    fn with_zone(asked: DnsAnswer, authoritative: DnsAnswer, probe: Option<DnsAnswer>) -> Lookups {
        Lookups {
            asked: Some(asked),
            zone: Some("example.com".into()),
            nameservers: vec!["ns1.example.com".into()],
            authoritative: Some(authoritative),
            probe,
        }
    }

    #[test]
    fn the_zones_servers_agree_or_are_shown() {
        let lan = answer(&["192.168.8.240"], "ok");
        let agree = with_zone(lan.clone(), lan.clone(), None);
        let c = address(HOST, &agree, &ips(), None, None);
        assert_eq!(c.status, CheckStatus::Pass);
        assert!(
            c.found
                .contains("the zone example.com's servers (ns1.example.com) agree"),
            "{}",
            c.found
        );
        // A stale or overridden answer: both shown, failed.
        let disagree = with_zone(
            lan.clone(),
            answer(&["203.0.113.9"], "ok"),
            Some(answer(&[], "nxdomain")),
        );
        let c = address(HOST, &disagree, &ips(), None, None);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found.starts_with(
                "your resolver and the zone's servers disagree: web.example.com has 192.168.8.240"
            ),
            "{}",
            c.found
        );
        assert!(
            c.found
                .contains("the zone example.com's servers (ns1.example.com) say 203.0.113.9"),
            "{}",
            c.found
        );
        assert!(!disagree.published(&ips(), None));
    }

    #[test]
    fn a_split_horizon_resolver_is_explained_not_failed() {
        let lan = answer(&["192.168.8.240"], "ok");
        // dnsmasq address=/example.com/192.168.8.240: any name answers it.
        let split = with_zone(lan.clone(), answer(&[], "nxdomain"), Some(lan.clone()));
        assert!(split.split_horizon());
        let c = address(HOST, &split, &ips(), None, None);
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        assert!(
            c.found
                .contains("answers 192.168.8.240 for every name under example.com (split horizon"),
            "{}",
            c.found
        );
        assert!(
            c.found.contains(
                "the zone example.com's servers (ns1.example.com) say no address (nxdomain)"
            ),
            "{}",
            c.found
        );
        // Not published for the rest of the world.
        assert!(!split.published(&ips(), None));
        // Without the zone's servers, a split-horizon answer proves nothing either.
        let no_zone = Lookups {
            authoritative: None,
            ..split
        };
        assert!(!no_zone.published(&ips(), None));
    }

    #[test]
    fn a_public_host_leads_through_its_target_to_the_way_in() {
        // Asked from outside: the host is a CNAME to the apex, whose address
        // is the router's public one (it forwards 443 to Traefik's).
        let mut outside = answer(&["203.0.113.10"], "ok");
        outside.cname = Some("Example.com.".into());
        let lookups = Lookups {
            asked: Some(outside.clone()),
            ..Lookups::default()
        };
        let c = address(HOST, &lookups, &ips(), Some("example.com"), None);
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        assert!(
            c.found.ends_with(": 203.0.113.10 is example.com's address, the way in from outside, which must forward port 443 to Traefik (a router's port forward; the https check asks through it)"),
            "{}",
            c.found
        );
        assert!(lookups.published(&ips(), Some("example.com")));
        // Without the route's target, the zone's apex is the name.
        let zoned = with_zone(outside.clone(), outside.clone(), None);
        assert_eq!(
            address(HOST, &zoned, &ips(), None, None).status,
            CheckStatus::Pass
        );
        assert!(zoned.published(&ips(), None));
        // A CNAME elsewhere is no way in: failed, naming both ways.
        let c = address(HOST, &lookups, &ips(), Some("old.example.org"), None);
        assert_eq!(c.status, CheckStatus::Fail);
        assert_eq!(
            c.hint.as_deref(),
            Some("web.example.com must lead to Traefik's address 192.168.8.240, or be a CNAME to old.example.org whose address forwards port 443 to it: fix the record (or the annotation external-dns.kubernetes.io/target ExternalDNS writes it from)")
        );
        assert!(!lookups.published(&ips(), Some("old.example.org")));
        // An internal host's target is an address: only Traefik's will do.
        assert_eq!(
            address(HOST, &lookups, &ips(), Some("203.0.113.10"), None).status,
            CheckStatus::Fail
        );
        // The zone's servers leading elsewhere than the resolver still fail.
        let mut stale = answer(&["198.51.100.7"], "ok");
        stale.cname = Some("old.example.org".into());
        let c = address(
            HOST,
            &with_zone(outside, stale, None),
            &ips(),
            Some("example.com"),
            None,
        );
        assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
    }

    #[test]
    fn the_probe_name_is_beside_the_host() {
        assert_eq!(
            probe_name("gitea.cloud.example.test", 255),
            "wildrun-probe-ff.cloud.example.test"
        );
    }
}
