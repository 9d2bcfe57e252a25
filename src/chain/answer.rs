//! What an HTTPS answer says about a service: one rule for `--wait` and the
//! doctor, which word it differently.
//!
//! An internal service sits behind Traefik's allowlist, which admits only
//! `cluster.internalSourceRanges`. So who asked matters: a 403 to an asker
//! outside the ranges is the allowlist at work, and an answer to such an
//! asker means the allowlist is not in force ([`Verdict::LetIn`]).

use serde::Serialize;
use std::net::IpAddr;

/// Where the asker's address lies against `cluster.internalSourceRanges`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Asker {
    /// Inside one of the ranges.
    Inside,
    /// Outside every range.
    Outside,
    /// The request did not say where it came from.
    Unknown,
}

/// Where `source` (the request's local address) lies against `ranges`; a
/// range that cannot be read holds nothing.
pub(crate) fn asker(source: Option<&str>, ranges: &[String]) -> Asker {
    let Some(ip) = source.and_then(|s| s.trim().parse::<IpAddr>().ok()) else {
        return Asker::Unknown;
    };
    if ranges
        .iter()
        .any(|range| crate::dns::ip_in_range(ip, range).unwrap_or(false))
    {
        Asker::Inside
    } else {
        Asker::Outside
    }
}

/// What a status says about the service behind Traefik.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
    /// The service answers.
    Answers,
    /// Internal: Traefik refuses an asker outside the ranges, as it should.
    AllowlistAtWork,
    /// Internal: Traefik refuses an asker inside the ranges.
    RefusedInsider,
    /// Internal: an asker outside the ranges got through; the internal-only
    /// middleware is not in force.
    LetIn,
    /// 404: Traefik has no route for the host.
    NoRoute,
    /// 5xx: Traefik has no ready backend.
    NoBackend,
}

impl Verdict {
    /// Whether the link holds: the service answers, or its allowlist works.
    #[cfg(test)]
    fn holds(self) -> bool {
        matches!(self, Verdict::Answers | Verdict::AllowlistAtWork)
    }
}

/// The verdict on `status`, for an `internal` service asked by `asker`.
pub(crate) fn judge_status(status: u16, internal: bool, asker: Asker) -> Verdict {
    match status {
        403 if internal && asker == Asker::Inside => Verdict::RefusedInsider,
        403 if internal => Verdict::AllowlistAtWork,
        ..400 if internal && asker == Asker::Outside => Verdict::LetIn,
        404 => Verdict::NoRoute,
        500.. => Verdict::NoBackend,
        _ => Verdict::Answers,
    }
}

/// What the served certificate is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Served {
    /// It names the host and is trusted (it verifies, or it is the one in
    /// the Ingress's TLS Secret).
    Trusted,
    /// It does not name the host: Traefik serves another (its default).
    NotNamed,
    /// It names the host but neither verifies nor is the Secret's.
    Unverified,
}

/// The verdict on a served certificate: whether it `covers` the host,
/// `verified` against the trusted roots, and is `the_secrets` own.
pub(crate) fn judge_certificate(covers: Option<bool>, verified: bool, the_secrets: bool) -> Served {
    if covers != Some(true) {
        Served::NotNamed
    } else if verified || the_secrets {
        Served::Trusted
    } else {
        Served::Unverified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges() -> Vec<String> {
        vec!["10.0.0.0/8".into(), "192.168.0.0/16".into()]
    }

    #[test]
    fn the_askers_side() {
        assert_eq!(asker(Some("10.1.2.3"), &ranges()), Asker::Inside);
        assert_eq!(asker(Some("127.0.0.1"), &ranges()), Asker::Outside);
        assert_eq!(asker(None, &ranges()), Asker::Unknown);
        assert_eq!(asker(Some("not an address"), &ranges()), Asker::Unknown);
        assert_eq!(asker(Some("10.1.2.3"), &["bad".into()]), Asker::Outside);
    }

    #[test]
    fn an_outsider_let_into_an_internal_service_fails() {
        for status in [200, 204, 301, 302] {
            let v = judge_status(status, true, Asker::Outside);
            assert_eq!(v, Verdict::LetIn, "{status}");
            assert!(!v.holds());
        }
        // The same answer to an insider, or from a public service, holds.
        assert_eq!(judge_status(200, true, Asker::Inside), Verdict::Answers);
        assert_eq!(judge_status(200, false, Asker::Outside), Verdict::Answers);
        assert_eq!(judge_status(200, true, Asker::Unknown), Verdict::Answers);
    }

    #[test]
    fn a_403_depends_on_who_asked() {
        assert_eq!(
            judge_status(403, true, Asker::Outside),
            Verdict::AllowlistAtWork
        );
        assert!(Verdict::AllowlistAtWork.holds());
        assert_eq!(
            judge_status(403, true, Asker::Inside),
            Verdict::RefusedInsider
        );
        assert_eq!(judge_status(403, false, Asker::Inside), Verdict::Answers);
    }

    #[test]
    fn no_route_and_no_backend() {
        assert_eq!(judge_status(404, false, Asker::Inside), Verdict::NoRoute);
        assert_eq!(judge_status(404, true, Asker::Inside), Verdict::NoRoute);
        assert_eq!(judge_status(503, true, Asker::Inside), Verdict::NoBackend);
        assert_eq!(judge_status(502, false, Asker::Unknown), Verdict::NoBackend);
        assert_eq!(judge_status(401, true, Asker::Outside), Verdict::Answers);
    }

    #[test]
    fn certificates() {
        assert_eq!(judge_certificate(Some(true), true, false), Served::Trusted);
        assert_eq!(judge_certificate(Some(true), false, true), Served::Trusted);
        assert_eq!(
            judge_certificate(Some(true), false, false),
            Served::Unverified
        );
        assert_eq!(judge_certificate(Some(false), true, true), Served::NotNamed);
        assert_eq!(judge_certificate(None, true, true), Served::NotNamed);
    }
}
