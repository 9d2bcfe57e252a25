//! The zone a name lies in and its authoritative servers, found from the
//! name upward (the first name with NS records of its own is the zone's
//! apex), and what those servers answer for the name.
//!
//! The doctor compares this with what the user's resolver answers: a LAN
//! resolver may answer otherwise (split horizon), a cache may be stale.

use super::{resolve, DnsError, Query};
use hickory_resolver::proto::rr::RecordType;
use serde::Serialize;
use std::net::SocketAddr;

/// The most labels walked up from a name to find its zone.
const MAX_LABELS: usize = 16;

/// A zone and its authoritative servers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Authority {
    /// The zone's apex (`cloud.example.test`).
    pub(crate) zone: String,
    /// Its nameservers, by name (the NS records).
    pub(crate) nameservers: Vec<String>,
    /// Their addresses (`ip:53`), as the resolver found them.
    pub(crate) addresses: Vec<String>,
}

/// Why a zone's servers could not be found.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthorityError {
    /// A name that cannot be asked.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// The resolver did not answer for a candidate zone.
    #[error("cannot find the nameservers of {zone} through the resolver: {reason}")]
    Unanswered {
        /// The name asked.
        zone: String,
        /// Its status or error.
        reason: String,
    },
    /// The zone's nameservers have no address.
    #[error("the nameservers of {zone} ({names}) have no address the resolver knows")]
    NoAddress {
        /// The zone.
        zone: String,
        /// Its nameservers, comma-separated.
        names: String,
    },
}

/// The names from `name` up to (not including) the root: `a.b.c`, `b.c`, `c`.
fn upward(name: &str) -> Vec<String> {
    let name = name.trim_end_matches('.');
    let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
    (0..labels.len().min(MAX_LABELS))
        .map(|i| labels[i..].join("."))
        .collect()
}

/// The names above `host`, nearest first (`a.b.example.com` →
/// `b.example.com`, `example.com`, `com`).
pub(crate) fn parents(host: &str) -> Vec<String> {
    upward(host).into_iter().skip(1).collect()
}

/// The first of `candidates` (nearest first) that has NS records of its
/// own: the zone, its nameservers and their addresses, asked through
/// `base`'s resolver (its server, timeout and transport). `None` when none
/// has.
pub(crate) async fn first_zone(
    candidates: &[String],
    base: &Query,
) -> Result<Option<Authority>, AuthorityError> {
    for zone in candidates {
        let answer = resolve(&Query {
            name: zone.clone(),
            record_type: RecordType::NS,
            follow: false,
            ..base.clone()
        })
        .await?;
        if answer.status == "timeout" || answer.status == "error" {
            return Err(AuthorityError::Unanswered {
                zone: zone.clone(),
                reason: answer.error.unwrap_or(answer.status),
            });
        }
        let nameservers: Vec<String> = answer
            .records
            .iter()
            .filter(|r| r.record_type == "NS" && r.name.eq_ignore_ascii_case(zone))
            .map(|r| r.value.trim_end_matches('.').to_string())
            .collect();
        if nameservers.is_empty() {
            continue;
        }
        let mut addresses = Vec::new();
        for ns in &nameservers {
            let found = resolve(&Query {
                name: ns.clone(),
                record_type: RecordType::A,
                follow: true,
                ..base.clone()
            })
            .await?;
            addresses.extend(
                found
                    .values
                    .iter()
                    .filter_map(|ip| ip.parse().ok())
                    .map(|ip| SocketAddr::new(ip, 53).to_string()),
            );
        }
        if addresses.is_empty() {
            return Err(AuthorityError::NoAddress {
                zone: zone.clone(),
                names: nameservers.join(", "),
            });
        }
        return Ok(Some(Authority {
            zone: zone.clone(),
            nameservers,
            addresses,
        }));
    }
    Ok(None)
}

/// The zone `name` lies in and its servers: the nearest name from `name`
/// itself upward with NS records of its own (`name` is the apex of a zone
/// of its own, or lies in a parent's).
pub(crate) async fn authority(
    name: &str,
    base: &Query,
) -> Result<Option<Authority>, AuthorityError> {
    first_zone(&upward(name), base).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_upward_and_parents_to_the_top_label() {
        assert_eq!(
            upward("gitea.cloud.example.test."),
            [
                "gitea.cloud.example.test",
                "cloud.example.test",
                "example.test",
                "test"
            ]
        );
        assert!(upward("").is_empty());
        assert_eq!(
            parents("a.b.example.com"),
            ["b.example.com", "example.com", "com"]
        );
        assert_eq!(parents("example.com."), ["com"]);
    }
}
