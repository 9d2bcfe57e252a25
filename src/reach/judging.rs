//! Whether what a look at the HTTPS link found means the service answers,
//! by the chain's rules ([`crate::chain::answer`]).

use crate::chain::answer::{self, Served, Verdict};
use crate::https;

/// What looking at a link found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LinkState {
    /// It holds; what it looks like.
    Holds(String),
    /// Not yet; why.
    NotYet(String),
}

/// Whether an HTTPS response means the service answers, by the chain's
/// rules ([`chain::answer`]); for an internal service, Traefik's 403 to an
/// asker outside `ranges` counts, with a note, and an answer to such an
/// asker does not: the internal-only middleware is not in force (yet).
pub(crate) fn judge(r: &https::Response, internal: bool, ranges: &[String]) -> LinkState {
    let Some(status) = r.status.filter(|_| r.answered) else {
        return LinkState::NotYet(format!(
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
        Served::NotNamed => return LinkState::NotYet(format!(
            "Traefik serves a certificate that does not name {} ({subject}): it has not loaded the TLS Secret yet",
            r.host
        )),
        Served::Unverified => return LinkState::NotYet(format!(
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
        Verdict::AllowlistAtWork => LinkState::Holds(format!(
            "{answered}: Traefik's allowlist refuses {from}, which is outside cluster.internalSourceRanges, as it should; askers inside the ranges reach the service"
        )),
        Verdict::RefusedInsider => LinkState::NotYet(format!(
            "{answered}: Traefik refuses {from}, which is inside cluster.internalSourceRanges (the middleware's ranges differ, or Traefik sees another client address)"
        )),
        Verdict::LetIn => LinkState::NotYet(format!(
            "{answered}: {from} is outside cluster.internalSourceRanges and was let in: the internal-only middleware is not in force (Traefik has not loaded it yet, or it does not apply to this router)"
        )),
        Verdict::NoRoute => LinkState::NotYet(format!(
            "{answered}: Traefik has no route for the host yet"
        )),
        Verdict::NoBackend => LinkState::NotYet(format!(
            "{answered}: Traefik has no ready backend yet"
        )),
        Verdict::Answers => LinkState::Holds(answered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            LinkState::Holds(_)
        ));
        let LinkState::NotYet(why) = judge(&response(None, "192.0.2.9"), false, &ranges) else {
            panic!()
        };
        assert!(why.contains("connect failed"), "{why}");
        assert!(
            matches!(judge(&response(Some(404), "192.0.2.9"), false, &ranges), LinkState::NotYet(w) if w.contains("no route"))
        );
        assert!(
            matches!(judge(&response(Some(503), "192.0.2.9"), false, &ranges), LinkState::NotYet(w) if w.contains("no ready backend"))
        );
        // Internal: 403 to an outsider is the allowlist working; to an insider it is not an answer.
        let LinkState::Holds(note) = judge(&response(Some(403), "192.0.2.9"), true, &ranges) else {
            panic!()
        };
        assert!(
            note.contains("outside cluster.internalSourceRanges"),
            "{note}"
        );
        assert!(
            matches!(judge(&response(Some(403), "10.1.2.3"), true, &ranges), LinkState::NotYet(w) if w.contains("inside"))
        );
        assert!(matches!(
            judge(&response(Some(403), "192.0.2.9"), false, &ranges),
            LinkState::Holds(_)
        ));
        // Internal: an answer to an outsider is not reaching the service:
        // the allowlist is not in force, so the wait goes on, saying why.
        let LinkState::NotYet(why) = judge(&response(Some(200), "192.0.2.9"), true, &ranges) else {
            panic!("an outsider let into an internal service must not count as answering")
        };
        assert!(
            why.contains("192.0.2.9 is outside cluster.internalSourceRanges and was let in"),
            "{why}"
        );
        assert!(matches!(
            judge(&response(Some(200), "10.1.2.3"), true, &ranges),
            LinkState::Holds(_)
        ));
        // A certificate that does not verify or does not name the host is not an answer yet.
        let mut r = response(Some(200), "192.0.2.9");
        r.verified = false;
        r.verify_error = Some("it is not signed by a trusted CA (unknown issuer)".into());
        assert!(
            matches!(judge(&r, false, &ranges), LinkState::NotYet(w) if w.contains("tls.caFile"))
        );
        r.covers = Some(false);
        assert!(
            matches!(judge(&r, false, &ranges), LinkState::NotYet(w) if w.contains("does not name"))
        );
    }
}
