//! What ExternalDNS should have published: whether a name points at its
//! target (a CNAME to a name, an A/AAAA record with an address), and when it
//! does not, what DNS says instead, in words a person can act on.

use super::{absolute, bare, resolve, DnsAnswer, DnsError, FoundRecord, Query};
use hickory_resolver::proto::rr::RecordType;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What `dns::expect` found: whether `name` points where it should.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Expectation {
    /// Whether the name points at the target.
    pub ok: bool,
    /// The name checked.
    pub name: String,
    /// The target it should point at.
    pub target: String,
    /// The record that should exist: `"CNAME"` (target is a name) or `"A"`/`"AAAA"` (an address).
    pub expected: String,
    /// What DNS says instead, for people: `CNAME x`, `A 1.2.3.4`, `NXDOMAIN`, ...
    pub found: String,
    /// The status of the lookup that decided it (see [`DnsAnswer::status`]).
    pub status: String,
    /// One line for people: what is right or wrong.
    pub message: String,
    /// The records found.
    pub records: Vec<FoundRecord>,
}

/// The records, for people: `CNAME a.example.com, A 1.2.3.4`.
fn listing(records: &[FoundRecord]) -> String {
    records
        .iter()
        .map(|r| format!("{} {}", r.record_type, r.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a lookup found, for people: its records, or how it failed.
fn describe_found(answer: &DnsAnswer) -> String {
    match answer.status.as_str() {
        "nxdomain" => "NXDOMAIN".into(),
        "timeout" => format!(
            "no answer ({})",
            answer.error.as_deref().unwrap_or("timed out")
        ),
        "error" => format!(
            "an error ({})",
            answer.error.as_deref().unwrap_or("unknown")
        ),
        _ if answer.records.is_empty() => format!("no {} record", answer.record_type),
        _ => listing(&answer.records),
    }
}

/// The expectation when the lookup itself did not find what it asked for
/// (NXDOMAIN, no data, a timeout or an error). `expected` reads before the
/// target: `"A"`, or `"a CNAME to"`.
fn failed_lookup(answer: &DnsAnswer, target: &str, expected: &str) -> Expectation {
    let found = describe_found(answer);
    let message = match answer.status.as_str() {
        "nxdomain" => format!(
            "{} does not exist (NXDOMAIN); expected {expected} {target}",
            answer.name
        ),
        "timeout" | "error" => format!(
            "{} could not be looked up through {}: {found}",
            answer.name, answer.server
        ),
        _ => format!("{} has {found}; expected {expected} {target}", answer.name),
    };
    Expectation {
        ok: false,
        name: answer.name.clone(),
        target: target.to_string(),
        expected: expected.to_string(),
        found,
        status: answer.status.clone(),
        message: message.replace("  ", " "),
        records: answer.records.clone(),
    }
}

/// Checks that `base.name` points at `target`: a CNAME to it when `target`
/// is a name, an A (or AAAA) record with that address when it is an IP.
/// Only a malformed name or target, or a resolver that cannot be set up, is
/// an `Err`; what DNS answers is always an [`Expectation`].
pub async fn expect(base: &Query, target: &str) -> Result<Expectation, DnsError> {
    let target = target.trim_end_matches('.');
    let name = bare(&absolute(&base.name)?);
    // Never follow CNAMEs: an alias where an address belongs (or the other
    // way round) is what the check must report, not look through.
    let ask = |record_type| Query {
        record_type,
        follow: false,
        ..base.clone()
    };
    if let Ok(ip) = target.parse::<IpAddr>() {
        let answer = resolve(&ask(address_type(ip))).await?;
        return Ok(judge_address(&name, target, ip, answer));
    }
    absolute(target)?;
    let answer = resolve(&ask(RecordType::CNAME)).await?;
    if answer.cname.is_none() && matches!(answer.status.as_str(), "ok" | "nodata") {
        // The name exists but is no alias: ask what it is instead.
        let mut records = Vec::new();
        for record_type in [RecordType::A, RecordType::AAAA] {
            records.extend(resolve(&ask(record_type)).await?.records);
        }
        return Ok(not_an_alias(&name, target, records));
    }
    Ok(judge_alias(&name, target, answer))
}

/// The record type that holds `ip`: A for IPv4, AAAA for IPv6.
fn address_type(ip: IpAddr) -> RecordType {
    if ip.is_ipv4() {
        RecordType::A
    } else {
        RecordType::AAAA
    }
}

/// Whether `answer` (an A or AAAA lookup of `name` that did not follow
/// CNAMEs) holds the address `ip`, which the script wrote as `target`.
fn judge_address(name: &str, target: &str, ip: IpAddr, answer: DnsAnswer) -> Expectation {
    let expected = address_type(ip).to_string();
    if let Some(alias) = &answer.cname {
        return Expectation {
            ok: false,
            name: name.into(),
            target: target.into(),
            expected: expected.clone(),
            found: format!("CNAME {alias}"),
            message: format!(
                "{name} is a CNAME to {alias}; expected an {expected} record {target}"
            ),
            status: answer.status,
            records: answer.records,
        };
    }
    if answer.status != "ok" {
        return failed_lookup(&answer, target, &expected);
    }
    // Compared as addresses: `fd00::1` and `fd00:0::1` are the same.
    let ok = answer.values.iter().any(|v| v.parse::<IpAddr>() == Ok(ip));
    let found = describe_found(&answer);
    let message = if ok {
        format!("{name} has {expected} {target}")
    } else {
        format!("{name} points at {found}; expected {expected} {target}")
    };
    Expectation {
        ok,
        name: name.into(),
        target: target.into(),
        expected,
        found,
        status: answer.status,
        message,
        records: answer.records,
    }
}

/// Whether `answer` (a CNAME lookup of `name`) is an alias to `target`
/// (compared without regard to case, as DNS does). Without an alias the
/// lookup failed, and the expectation says how.
fn judge_alias(name: &str, target: &str, answer: DnsAnswer) -> Expectation {
    let Some(alias) = answer.cname.clone() else {
        return failed_lookup(&answer, target, "a CNAME to");
    };
    let ok = alias.eq_ignore_ascii_case(target);
    Expectation {
        ok,
        message: if ok {
            format!("{name} is a CNAME to {target}")
        } else {
            format!("{name} is a CNAME to {alias}; expected a CNAME to {target}")
        },
        name: name.into(),
        target: target.into(),
        expected: "CNAME".into(),
        found: format!("CNAME {alias}"),
        status: answer.status,
        records: answer.records,
    }
}

/// `name` exists but is no alias: says what it is instead, from its A and
/// AAAA `records` (none: it has no record of these types either).
fn not_an_alias(name: &str, target: &str, records: Vec<FoundRecord>) -> Expectation {
    let what = if records.is_empty() {
        "no CNAME record".to_string()
    } else {
        listing(&records)
    };
    let message = match records.first() {
        None => format!("{name} has no CNAME record; expected a CNAME to {target}"),
        Some(first) => format!(
            "{name} is an {} record ({what}), not a CNAME to {target}",
            first.record_type
        ),
    };
    Expectation {
        ok: false,
        name: name.into(),
        target: target.into(),
        expected: "CNAME".into(),
        found: what,
        status: "nodata".into(),
        message,
        records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "a.example.com";

    fn record(record_type: &str, value: &str) -> FoundRecord {
        FoundRecord {
            name: NAME.into(),
            record_type: record_type.into(),
            ttl: 60,
            value: value.into(),
        }
    }

    /// An answer for `NAME` from 127.0.0.1:53, as `resolve` builds it.
    fn answer(record_type: &str, status: &str, records: Vec<FoundRecord>) -> DnsAnswer {
        let cname = records
            .iter()
            .find(|r| r.record_type == "CNAME")
            .map(|r| r.value.clone());
        DnsAnswer {
            name: NAME.into(),
            record_type: record_type.into(),
            status: status.into(),
            values: records
                .iter()
                .filter(|r| r.record_type == record_type)
                .map(|r| r.value.clone())
                .collect(),
            cname,
            records,
            server: "127.0.0.1:53".into(),
            error: None,
        }
    }

    fn failed(record_type: &str, status: &str, error: Option<&str>) -> DnsAnswer {
        DnsAnswer {
            error: error.map(str::to_string),
            ..answer(record_type, status, vec![])
        }
    }

    fn judge_ip(target: &str, answer: DnsAnswer) -> Expectation {
        judge_address(NAME, target, target.parse().unwrap(), answer)
    }

    #[test]
    fn what_was_found_in_words() {
        assert_eq!(describe_found(&failed("A", "nxdomain", None)), "NXDOMAIN");
        assert_eq!(
            describe_found(&failed("A", "timeout", None)),
            "no answer (timed out)"
        );
        assert_eq!(
            describe_found(&failed("A", "timeout", Some("request timed out"))),
            "no answer (request timed out)"
        );
        assert_eq!(
            describe_found(&failed("A", "error", None)),
            "an error (unknown)"
        );
        assert_eq!(
            describe_found(&failed("A", "error", Some("REFUSED"))),
            "an error (REFUSED)"
        );
        assert_eq!(
            describe_found(&failed("AAAA", "nodata", None)),
            "no AAAA record"
        );
        let chain = answer(
            "A",
            "ok",
            vec![record("CNAME", "b.example.com"), record("A", "10.0.0.1")],
        );
        assert_eq!(describe_found(&chain), "CNAME b.example.com, A 10.0.0.1");
    }

    #[test]
    fn the_address_it_should_have() {
        let e = judge_ip("10.0.0.1", answer("A", "ok", vec![record("A", "10.0.0.1")]));
        assert!(e.ok, "{e:?}");
        assert_eq!(e.message, "a.example.com has A 10.0.0.1");
        assert_eq!((e.expected.as_str(), e.found.as_str()), ("A", "A 10.0.0.1"));
        // One of several addresses is enough.
        let e = judge_ip(
            "10.0.0.2",
            answer(
                "A",
                "ok",
                vec![record("A", "10.0.0.1"), record("A", "10.0.0.2")],
            ),
        );
        assert!(e.ok, "{e:?}");
        // IPv6 is compared as an address, not as text.
        let e = judge_ip(
            "fd00:0::1",
            answer("AAAA", "ok", vec![record("AAAA", "fd00::1")]),
        );
        assert!(e.ok, "{e:?}");
        assert_eq!(e.expected, "AAAA");
    }

    #[test]
    fn another_address_an_alias_or_nothing() {
        let e = judge_ip("10.0.0.1", answer("A", "ok", vec![record("A", "10.0.0.2")]));
        assert!(!e.ok);
        assert_eq!(
            e.message,
            "a.example.com points at A 10.0.0.2; expected A 10.0.0.1"
        );
        let e = judge_ip(
            "10.0.0.1",
            answer("A", "ok", vec![record("CNAME", "lb.example.com")]),
        );
        assert!(!e.ok);
        assert_eq!(e.found, "CNAME lb.example.com");
        assert_eq!(
            e.message,
            "a.example.com is a CNAME to lb.example.com; expected an A record 10.0.0.1"
        );
        let e = judge_ip("10.0.0.1", failed("A", "nxdomain", None));
        assert!(!e.ok);
        assert_eq!(e.status, "nxdomain");
        assert_eq!(
            e.message,
            "a.example.com does not exist (NXDOMAIN); expected A 10.0.0.1"
        );
        let e = judge_ip("10.0.0.1", failed("A", "nodata", None));
        assert_eq!(
            e.message,
            "a.example.com has no A record; expected A 10.0.0.1"
        );
        let e = judge_ip(
            "10.0.0.1",
            failed("A", "timeout", Some("request timed out")),
        );
        assert_eq!(
            e.message,
            "a.example.com could not be looked up through 127.0.0.1:53: no answer (request timed out)"
        );
    }

    #[test]
    fn the_alias_it_should_be() {
        let e = judge_alias(
            NAME,
            "lb.example.com",
            answer("CNAME", "ok", vec![record("CNAME", "LB.Example.com")]),
        );
        assert!(e.ok, "{e:?}");
        assert_eq!(e.message, "a.example.com is a CNAME to lb.example.com");
        assert_eq!(e.expected, "CNAME");
        let e = judge_alias(
            NAME,
            "lb.example.com",
            answer("CNAME", "ok", vec![record("CNAME", "old.example.com")]),
        );
        assert!(!e.ok);
        assert_eq!(
            e.message,
            "a.example.com is a CNAME to old.example.com; expected a CNAME to lb.example.com"
        );
        let e = judge_alias(NAME, "lb.example.com", failed("CNAME", "nxdomain", None));
        assert!(!e.ok);
        assert_eq!(e.expected, "a CNAME to");
        assert_eq!(
            e.message,
            "a.example.com does not exist (NXDOMAIN); expected a CNAME to lb.example.com"
        );
        let e = judge_alias(
            NAME,
            "lb.example.com",
            failed("CNAME", "error", Some("REFUSED")),
        );
        assert_eq!(
            e.message,
            "a.example.com could not be looked up through 127.0.0.1:53: an error (REFUSED)"
        );
    }

    #[test]
    fn a_name_that_is_no_alias_says_what_it_is() {
        let e = not_an_alias(NAME, "lb.example.com", vec![]);
        assert!(!e.ok);
        assert_eq!(e.status, "nodata");
        assert_eq!(e.found, "no CNAME record");
        assert_eq!(
            e.message,
            "a.example.com has no CNAME record; expected a CNAME to lb.example.com"
        );
        let e = not_an_alias(
            NAME,
            "lb.example.com",
            vec![record("AAAA", "fd00::1"), record("A", "10.0.0.1")],
        );
        assert!(!e.ok);
        assert_eq!(e.found, "AAAA fd00::1, A 10.0.0.1");
        assert_eq!(
            e.message,
            "a.example.com is an AAAA record (AAAA fd00::1, A 10.0.0.1), not a CNAME to lb.example.com"
        );
        assert_eq!(e.records.len(), 2);
    }
}
