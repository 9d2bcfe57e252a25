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
pub struct Authority {
    /// The zone's apex (`cloud.example.test`).
    pub zone: String,
    /// Its nameservers, by name (the NS records).
    pub nameservers: Vec<String>,
    /// Their addresses (`ip:53`), as the resolver found them.
    pub addresses: Vec<String>,
}

/// The names from `name` up to (not including) the root: `a.b.c`, `b.c`, `c`.
fn upward(name: &str) -> Vec<String> {
    let name = name.trim_end_matches('.');
    let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
    (0..labels.len().min(MAX_LABELS))
        .map(|i| labels[i..].join("."))
        .collect()
}

/// The zone `name` lies in and its servers, asked through `base`'s
/// resolver (its server, timeout and transport); `None` when no name from
/// it upward has NS records or none of their servers has an address.
pub async fn authority(name: &str, base: &Query) -> Result<Option<Authority>, DnsError> {
    let ask = |name: &str, record_type: RecordType| Query {
        name: name.to_string(),
        record_type,
        ..base.clone()
    };
    for candidate in upward(name) {
        let answer = resolve(&ask(&candidate, RecordType::NS)).await?;
        let nameservers: Vec<String> = answer
            .records
            .iter()
            .filter(|r| r.record_type == "NS" && r.name.eq_ignore_ascii_case(&candidate))
            .map(|r| r.value.trim_end_matches('.').to_string())
            .collect();
        if nameservers.is_empty() {
            continue;
        }
        let mut addresses = Vec::new();
        for ns in &nameservers {
            let found = resolve(&ask(ns, RecordType::A)).await?;
            addresses.extend(
                found
                    .values
                    .iter()
                    .filter_map(|ip| ip.parse().ok())
                    .map(|ip| SocketAddr::new(ip, 53).to_string()),
            );
        }
        if addresses.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Authority {
            zone: candidate,
            nameservers,
            addresses,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_upward_to_the_top_label() {
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
    }
}
