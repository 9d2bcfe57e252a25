//! What ExternalDNS should have published: whether a name points at its
//! target (a CNAME to a name, an A/AAAA record with an address), and when it
//! does not, what DNS says instead, in words a person can act on.

use super::{absolute, bare, resolve, Answer, FoundRecord, Query};
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
        _ => answer
            .records
            .iter()
            .map(|r| format!("{} {}", r.record_type, r.value))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

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
pub async fn expect(base: &Query, target: &str) -> Result<Expectation, String> {
    let target = target.trim_end_matches('.');
    let name = bare(&absolute(&base.name)?);
    if let Ok(ip) = target.parse::<IpAddr>() {
        let record_type = if ip.is_ipv4() {
            RecordType::A
        } else {
            RecordType::AAAA
        };
        let expected = record_type.to_string();
        let answer = resolve(&Query {
            record_type,
            follow: false,
            ..base.clone()
        })
        .await?;
        if let Some(alias) = &answer.cname {
            return Ok(Expectation {
                ok: false,
                name: name.clone(),
                target: target.into(),
                expected: expected.clone(),
                found: format!("CNAME {alias}"),
                status: answer.status,
                message: format!(
                    "{name} is a CNAME to {alias}; expected an {expected} record {target}"
                ),
                records: answer.records,
            });
        }
        if answer.status != "ok" {
            return Ok(failed_lookup(&answer, target, &expected));
        }
        let ok = answer.values.iter().any(|v| v.parse::<IpAddr>() == Ok(ip));
        let found = describe_found(&answer);
        let message = if ok {
            format!("{name} has {expected} {target}")
        } else {
            format!("{name} points at {found}; expected {expected} {target}")
        };
        return Ok(Expectation {
            ok,
            name,
            target: target.into(),
            expected,
            found,
            status: answer.status,
            message,
            records: answer.records,
        });
    }
    absolute(target)?;
    let answer = resolve(&Query {
        record_type: RecordType::CNAME,
        follow: false,
        ..base.clone()
    })
    .await?;
    match (&answer.cname, answer.status.as_str()) {
        (Some(alias), _) => {
            let ok = alias.eq_ignore_ascii_case(target);
            Ok(Expectation {
                ok,
                message: if ok {
                    format!("{name} is a CNAME to {target}")
                } else {
                    format!("{name} is a CNAME to {alias}; expected a CNAME to {target}")
                },
                name,
                target: target.into(),
                expected: "CNAME".into(),
                found: format!("CNAME {alias}"),
                status: answer.status,
                records: answer.records,
            })
        }
        (None, "nodata") | (None, "ok") => {
            // The name exists but is no alias: say what it is instead.
            let mut records = Vec::new();
            for record_type in [RecordType::A, RecordType::AAAA] {
                let other = resolve(&Query {
                    record_type,
                    follow: false,
                    ..base.clone()
                })
                .await?;
                records.extend(other.records);
            }
            let what = if records.is_empty() {
                "no CNAME record".to_string()
            } else {
                records
                    .iter()
                    .map(|r| format!("{} {}", r.record_type, r.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let kind = records
                .first()
                .map(|r| format!("an {} record", r.record_type))
                .unwrap_or_else(|| "not an alias".into());
            Ok(Expectation {
                ok: false,
                message: if records.is_empty() {
                    format!("{name} has no CNAME record; expected a CNAME to {target}")
                } else {
                    format!("{name} is {kind} ({what}), not a CNAME to {target}")
                },
                name,
                target: target.into(),
                expected: "CNAME".into(),
                found: what,
                status: "nodata".into(),
                records,
            })
        }
        _ => Ok(failed_lookup(&answer, target, "a CNAME to")),
    }
}
