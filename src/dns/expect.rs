//! What ExternalDNS should have published: whether a name points at its
//! target (a CNAME to a name, an A/AAAA record with an address), and when it
//! does not, what DNS says instead, in words a person can act on.

use super::{absolute, bare, resolve, Answer, DnsError, FoundRecord, Query};
use hickory_resolver::proto::rr::RecordType;
use serde::Serialize;
use std::net::IpAddr;

/// What `dns::expect` found: whether `name` points where it should.
#[derive(Debug, Clone, Serialize, PartialEq)]
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
    /// The status of the lookup that decided it (see [`Answer::status`]).
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
fn describe_found(answer: &Answer) -> String {
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
fn failed_lookup(answer: &Answer, target: &str, expected: &str) -> Expectation {
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
fn judge_address(name: &str, target: &str, ip: IpAddr, answer: Answer) -> Expectation {
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
fn judge_alias(name: &str, target: &str, answer: Answer) -> Expectation {
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
