//! DNS lookups, as plain Rust: what the `dns::` script namespace
//! (`src/script/dns.rs`), `--wait` and the HTTPS checks build on. This file
//! resolves names (A, AAAA, CNAME, TXT, and NS for `--wait`); [`expect`](fn@expect)
//! (`expect.rs`) says whether a name points where ExternalDNS should have
//! pointed it.
//!
//! A lookup never fails for what DNS answers: a name that does not exist
//! (`"nxdomain"`), a name without records of the type (`"nodata"`), a server
//! that does not answer in time (`"timeout"`) or refuses (`"error"`) are all
//! an [`DnsAnswer`] whose `status` a caller tests. Only a malformed query (an
//! unknown record type, a bad nameserver address, a name that is no DNS
//! name) or a resolver that cannot be set up is an `Err`.
//!
//! Every call builds a fresh resolver without a cache: a check must see what
//! the server says now, not what it said a minute ago.

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::TokioResolver;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

mod authority;
mod expect;

pub(crate) use authority::{authority, first_zone, parents, AuthorityError};
pub use expect::{expect, Expectation};

/// Why a query could not be made. What DNS answers (NXDOMAIN, no data, a
/// timeout, a refusal) is never one of these but an [`DnsAnswer`]. Each message
/// quotes the input at fault and says what is accepted instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DnsError {
    /// A record type scripts may not ask for.
    #[error("record type {text:?} is not supported; use one of {}", TYPES.join(", "))]
    UnsupportedRecordType {
        /// The type as written.
        text: String,
    },
    /// A supported record type name hickory still does not read.
    #[error("record type {text:?}: {reason}")]
    RecordType {
        /// The type as written.
        text: String,
        /// What hickory said.
        reason: String,
    },
    /// A nameserver that is not an address.
    #[error(
        "nameserver {text:?} is not an address: use ip:port (127.0.0.1:5353, [::1]:53) or an IP"
    )]
    ServerAddress {
        /// The nameserver as written.
        text: String,
    },
    /// A name that is not a DNS name.
    #[error("{name:?} is not a DNS name: {reason}")]
    Name {
        /// The name as written.
        name: String,
        /// What hickory said.
        reason: String,
    },
    /// `/etc/resolv.conf` cannot be read (only without a nameserver of one's own).
    #[error("cannot read the system's DNS configuration: {0}")]
    SystemConfig(String),
    /// `/etc/resolv.conf` names no nameserver.
    #[error("the system's DNS configuration (/etc/resolv.conf) names no nameserver")]
    NoSystemNameserver,
    /// The resolver cannot be built from its configuration.
    #[error("cannot set up the resolver: {0}")]
    Resolver(String),
    /// One end of a `first-last` address range is not an address.
    #[error("range {range:?}: {text:?} is not an IP address")]
    RangeAddress {
        /// The range as written (trimmed).
        range: String,
        /// The part that is not an address.
        text: String,
    },
    /// A range that is not a CIDR or an address.
    #[error("range {range:?}: {reason}")]
    Range {
        /// The range as written (trimmed).
        range: String,
        /// Why it is no CIDR.
        reason: String,
    },
    /// A CIDR whose prefix length is not a number.
    #[error("range {range:?}: bad prefix length")]
    RangePrefix {
        /// The range as written (trimmed).
        range: String,
    },
}

/// Seconds a lookup waits for an answer unless the script says otherwise.
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 3;

/// The record types `dns::resolve` asks for.
pub(crate) const TYPES: &[&str] = &["A", "AAAA", "CNAME", "TXT"];

/// How to look a name up.
#[derive(Debug, Clone)]
pub struct Query {
    /// The name, with or without the final dot (always treated as absolute).
    pub name: String,
    /// One of [`TYPES`].
    pub record_type: RecordType,
    /// The nameserver to ask; `None`: the system's (`/etc/resolv.conf`).
    pub server: Option<SocketAddr>,
    /// Ask over TCP only (default: UDP, TCP when an answer is truncated).
    pub tcp: bool,
    /// Follow CNAMEs to the records of the asked type (default). When false,
    /// a name that is a CNAME answers with that CNAME only.
    pub follow: bool,
    /// How long to wait for an answer.
    pub timeout: Duration,
}

impl Query {
    /// A query of `record_type` for `name` through the system's resolver.
    pub fn new(name: &str, record_type: RecordType) -> Query {
        Query {
            name: name.to_string(),
            record_type,
            server: None,
            tcp: false,
            follow: true,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
        }
    }
}

/// One record of an answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FoundRecord {
    /// Owner name, without the final dot.
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, `TXT`, ...
    #[serde(rename = "type")]
    pub record_type: String,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The data: an address, a name without the final dot, or TXT text.
    pub value: String,
}

/// What a lookup found: the value scripts receive from `dns::resolve`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DnsAnswer {
    /// The name asked for, without the final dot.
    pub name: String,
    /// The record type asked for.
    #[serde(rename = "type")]
    pub record_type: String,
    /// `"ok"`, `"nxdomain"` (the name does not exist), `"nodata"` (it exists
    /// but has no record of the type), `"timeout"` or `"error"`.
    pub status: String,
    /// The values of the records of the asked type (after CNAMEs, when followed).
    pub values: Vec<String>,
    /// The CNAME target of the name itself, if it is an alias.
    pub cname: Option<String>,
    /// Every record of the answer, CNAMEs included, in order.
    pub records: Vec<FoundRecord>,
    /// The nameserver asked: `ip:port`, or `"system"`.
    pub server: String,
    /// What went wrong, for `"timeout"` and `"error"`; `None` otherwise.
    pub error: Option<String>,
}

/// Reads a record type name (case-insensitive).
pub(crate) fn record_type(text: &str) -> Result<RecordType, DnsError> {
    let upper = text.to_ascii_uppercase();
    if !TYPES.contains(&upper.as_str()) {
        return Err(DnsError::UnsupportedRecordType { text: text.into() });
    }
    RecordType::from_str(&upper).map_err(|e| DnsError::RecordType {
        text: text.into(),
        reason: e.to_string(),
    })
}

/// Reads a nameserver address: `ip:port`, `[ipv6]:port`, or a bare IP (port 53).
pub(crate) fn server_address(text: &str) -> Result<SocketAddr, DnsError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(DnsError::ServerAddress { text: text.into() })
}

fn bare(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_string()
}

fn data_text(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => bare(&c.0),
        RData::NS(n) => bare(&n.0),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect::<String>(),
        other => other.to_string(),
    }
}

fn found(record: &Record) -> FoundRecord {
    FoundRecord {
        name: bare(&record.name),
        record_type: record.record_type().to_string(),
        ttl: record.ttl,
        value: data_text(&record.data),
    }
}

fn resolver(query: &Query) -> Result<TokioResolver, DnsError> {
    let config = match query.server {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            ResolverConfig::from_name_servers(vec![server])
        }
        None => {
            let (config, _) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| DnsError::SystemConfig(e.to_string()))?;
            // Names are absolute: no search domains.
            let (_, _, servers) = config.into_parts();
            if servers.is_empty() {
                return Err(DnsError::NoSystemNameserver);
            }
            ResolverConfig::from_name_servers(servers)
        }
    };
    let (domain, search, mut servers) = config.into_parts();
    if query.tcp {
        for server in &mut servers {
            server
                .connections
                .retain(|c| matches!(c.protocol, ProtocolConfig::Tcp));
        }
    }
    let config = ResolverConfig::from_parts(domain, search, servers);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let options: &mut ResolverOpts = builder.options_mut();
    options.timeout = query.timeout;
    options.attempts = 1;
    options.cache_size = 0;
    options.preserve_intermediates = true;
    options.use_hosts_file = ResolveHosts::Never;
    options.ndots = 0;
    builder
        .build()
        .map_err(|e| DnsError::Resolver(e.to_string()))
}

fn classify(err: &NetError) -> &'static str {
    if err.is_nx_domain() {
        "nxdomain"
    } else if err.is_no_records_found() {
        "nodata"
    } else if matches!(err, NetError::Timeout) || err.to_string().contains("timed out") {
        "timeout"
    } else {
        "error"
    }
}

fn absolute(name: &str) -> Result<Name, DnsError> {
    let text = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_str(&text).map_err(|e| DnsError::Name {
        name: name.into(),
        reason: e.to_string(),
    })
}

async fn lookup_once(
    resolver: &TokioResolver,
    name: &Name,
    record_type: RecordType,
) -> Result<Vec<FoundRecord>, NetError> {
    let lookup = resolver.lookup(name.clone(), record_type).await?;
    Ok(lookup.answers().iter().map(found).collect())
}

/// Looks a name up. DNS outcomes (NXDOMAIN, no data, timeout, refusal) are
/// an [`DnsAnswer`] with that status; only a bad query is an `Err`.
pub async fn resolve(query: &Query) -> Result<DnsAnswer, DnsError> {
    let name = absolute(&query.name)?;
    let resolver = resolver(query)?;
    let mut answer = DnsAnswer {
        name: bare(&name),
        record_type: query.record_type.to_string(),
        status: "ok".into(),
        values: Vec::new(),
        cname: None,
        records: Vec::new(),
        server: query
            .server
            .map(|s| s.to_string())
            .unwrap_or_else(|| "system".into()),
        error: None,
    };
    // Not following: look for a CNAME at the name first; an alias answers as such.
    if !query.follow && query.record_type != RecordType::CNAME {
        match lookup_once(&resolver, &name, RecordType::CNAME).await {
            Ok(records) => {
                if let Some(alias) = records
                    .iter()
                    .find(|r| r.record_type == "CNAME" && r.name == answer.name)
                {
                    answer.cname = Some(alias.value.clone());
                    answer.records = vec![alias.clone()];
                    return Ok(answer);
                }
            }
            Err(e) if classify(&e) == "nodata" => {}
            Err(e) => {
                answer.status = classify(&e).into();
                answer.error =
                    (answer.status == "timeout" || answer.status == "error").then(|| e.to_string());
                return Ok(answer);
            }
        }
    }
    match lookup_once(&resolver, &name, query.record_type).await {
        Ok(records) => {
            let asked = query.record_type.to_string();
            answer.cname = records
                .iter()
                .find(|r| r.record_type == "CNAME" && r.name == answer.name)
                .map(|r| r.value.clone());
            answer.values = records
                .iter()
                .filter(|r| r.record_type == asked)
                .map(|r| r.value.clone())
                .collect();
            answer.records = records;
            if answer.values.is_empty() {
                // A CNAME whose target has no records of the type (or lies
                // outside the server's zones).
                answer.status = "nodata".into();
            }
        }
        Err(e) => {
            answer.status = classify(&e).into();
            if answer.status == "timeout" || answer.status == "error" {
                answer.error = Some(format!("{e}"));
            }
        }
    }
    Ok(answer)
}

/// Whether `ip` lies in `range`: a CIDR (`192.168.8.0/24`), a range of
/// addresses (`192.168.8.240-192.168.8.250`, as MetalLB writes pools) or one address.
pub(crate) fn ip_in_range(ip: IpAddr, range: &str) -> Result<bool, DnsError> {
    let (first, last) = address_bounds(range)?;
    Ok(first <= ip && ip <= last && first.is_ipv4() == ip.is_ipv4())
}

/// The first and last address of `range` (as [`ip_in_range`] reads it).
pub(crate) fn address_bounds(range: &str) -> Result<(IpAddr, IpAddr), DnsError> {
    let range = range.trim();
    if let Some((first, last)) = range.split_once('-') {
        let parse = |t: &str| {
            t.trim()
                .parse::<IpAddr>()
                .map_err(|_| DnsError::RangeAddress {
                    range: range.into(),
                    text: t.into(),
                })
        };
        return Ok((parse(first)?, parse(last)?));
    }
    crate::objects::validate::cidr(range).map_err(|reason| DnsError::Range {
        range: range.into(),
        reason,
    })?;
    let (addr, prefix) = range.split_once('/').unwrap_or((range, ""));
    let net: IpAddr = addr.parse().map_err(|_| DnsError::RangeAddress {
        range: range.into(),
        text: addr.into(),
    })?;
    let max = if net.is_ipv4() { 32u32 } else { 128 };
    let prefix: u32 = if prefix.is_empty() {
        max
    } else {
        prefix.parse().map_err(|_| DnsError::RangePrefix {
            range: range.into(),
        })?
    };
    let host_bits = max.saturating_sub(prefix.min(max));
    let mask: u128 = if host_bits == 0 {
        0
    } else {
        u128::MAX >> (128 - host_bits)
    };
    Ok(match net {
        IpAddr::V4(v) => {
            // At most 32 host bits: the mask fits in a u32.
            let mask = u32::try_from(mask).unwrap_or(u32::MAX);
            let base = u32::from(v) & !mask;
            (IpAddr::V4(base.into()), IpAddr::V4((base | mask).into()))
        }
        IpAddr::V6(v) => {
            let base = u128::from(v) & !mask;
            (IpAddr::V6(base.into()), IpAddr::V6((base | mask).into()))
        }
    })
}

/// Whether two ranges (as [`ip_in_range`] reads them) share an address.
pub(crate) fn ranges_overlap(a: &str, b: &str) -> Result<bool, DnsError> {
    let ((a_first, a_last), (b_first, b_last)) = (address_bounds(a)?, address_bounds(b)?);
    Ok(a_first.is_ipv4() == b_first.is_ipv4() && a_first <= b_last && b_first <= a_last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_types() {
        assert_eq!(record_type("a"), Ok(RecordType::A));
        assert_eq!(record_type("aaaa"), Ok(RecordType::AAAA));
        assert_eq!(record_type("Cname"), Ok(RecordType::CNAME));
        assert_eq!(record_type("TXT"), Ok(RecordType::TXT));
        assert_eq!(
            record_type("MX"),
            Err(DnsError::UnsupportedRecordType { text: "MX".into() })
        );
        assert_eq!(
            record_type("mx").unwrap_err().to_string(),
            "record type \"mx\" is not supported; use one of A, AAAA, CNAME, TXT"
        );
        assert!(record_type("").is_err());
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            server_address("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(
            server_address("10.0.0.1"),
            Ok("10.0.0.1:53".parse().unwrap())
        );
        assert_eq!(server_address("[::1]:53"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(server_address("::1"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(
            server_address("ns1:53").unwrap_err().to_string(),
            "nameserver \"ns1:53\" is not an address: use ip:port (127.0.0.1:5353, [::1]:53) or an IP"
        );
        // A port out of range, or an IPv6 address in brackets without one.
        assert!(server_address("127.0.0.1:65536").is_err());
        assert!(server_address("[::1]").is_err());
    }

    #[test]
    fn ranges() {
        let ip: IpAddr = "192.168.8.240".parse().unwrap();
        assert_eq!(ip_in_range(ip, "192.168.8.0/24"), Ok(true));
        assert_eq!(ip_in_range(ip, "192.168.9.0/24"), Ok(false));
        assert_eq!(ip_in_range(ip, "0.0.0.0/0"), Ok(true));
        assert_eq!(ip_in_range(ip, "192.168.8.240"), Ok(true));
        assert_eq!(ip_in_range(ip, "192.168.8.240/32"), Ok(true));
        assert_eq!(ip_in_range(ip, "192.168.8.241/32"), Ok(false));
        assert_eq!(ip_in_range(ip, " 192.168.0.0/16 "), Ok(true));
        assert_eq!(ip_in_range(ip, "192.168.8.240-192.168.8.250"), Ok(true));
        assert_eq!(ip_in_range(ip, "192.168.8.230 - 192.168.8.240"), Ok(true));
        assert_eq!(ip_in_range(ip, "192.168.8.241-192.168.8.250"), Ok(false));
        assert_eq!(ip_in_range(ip, "fd00::/8"), Ok(false));
        assert_eq!(ip_in_range(ip, "::/0"), Ok(false));
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(ip_in_range(v6, "fd00::/8"), Ok(true));
        assert_eq!(ip_in_range(v6, "fe80::/10"), Ok(false));
        assert_eq!(ip_in_range(v6, "fd00::1"), Ok(true));
        assert_eq!(ip_in_range(v6, "fd00::-fd00::ff"), Ok(true));
        assert_eq!(ip_in_range(v6, "fd00::2-fd00::ff"), Ok(false));
        // An address of the other family is never in range, whatever its bits.
        assert_eq!(ip_in_range(v6, "0.0.0.0/0"), Ok(false));
        assert_eq!(ip_in_range(ip, "::-ffff::"), Ok(false));
    }

    #[test]
    fn overlapping_ranges() {
        assert_eq!(
            address_bounds("192.168.8.0/30"),
            Ok((
                "192.168.8.0".parse().unwrap(),
                "192.168.8.3".parse().unwrap()
            ))
        );
        assert_eq!(
            ranges_overlap("192.168.8.240-192.168.8.250", "192.168.8.250/32"),
            Ok(true)
        );
        assert_eq!(
            ranges_overlap("192.168.8.240-192.168.8.250", "192.168.8.0/25"),
            Ok(false)
        );
        assert_eq!(ranges_overlap("10.0.0.0/8", "10.1.2.3"), Ok(true));
        assert_eq!(ranges_overlap("fd00::/8", "0.0.0.0/0"), Ok(false));
        assert!(ranges_overlap("10.0.0.0/8", "nope").is_err());
    }

    #[test]
    fn bad_ranges_are_named_in_the_error() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let err = |range: &str| ip_in_range(ip, range).unwrap_err().to_string();
        assert_eq!(err("a-b"), "range \"a-b\": \"a\" is not an IP address");
        assert_eq!(
            err("10.0.0.1-x"),
            "range \"10.0.0.1-x\": \"x\" is not an IP address"
        );
        assert_eq!(
            err("192.168.8.0/33"),
            "range \"192.168.8.0/33\": prefix length \"33\" is not between 0 and 32"
        );
        assert_eq!(
            err(" bogus "),
            "range \"bogus\": \"bogus\" is not an IP address"
        );
        assert_eq!(
            ip_in_range(ip, "10.0.0.0/x"),
            Err(DnsError::Range {
                range: "10.0.0.0/x".into(),
                reason: "prefix length \"x\" is not between 0 and 32".into()
            })
        );
    }

    #[test]
    fn names_are_absolute() {
        assert_eq!(bare(&absolute("a.example.com").unwrap()), "a.example.com");
        assert_eq!(bare(&absolute("a.example.com.").unwrap()), "a.example.com");
        let err = absolute("a..example.com").unwrap_err();
        assert!(matches!(&err, DnsError::Name { name, .. } if name == "a..example.com"));
        assert!(err
            .to_string()
            .starts_with("\"a..example.com\" is not a DNS name: "));
    }
}
