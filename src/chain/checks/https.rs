//! The request itself: what Traefik answered, with which certificate, to
//! whom.

use super::super::answer::{asker, judge_certificate, judge_status, Served, Verdict};
use super::super::check::Check;
use super::super::subject::Subject;
use crate::https::Response;

/// `https`: the answer `r` to `GET https://<host>/`, sent to the address
/// found `via` (words: `from DNS`, `--address`, ...). `secret_fingerprint`
/// is the TLS Secret's certificate's, when it holds one.
pub(crate) fn answer(
    s: &Subject,
    r: &Response,
    via: &str,
    secret_fingerprint: Option<&str>,
) -> Check {
    const NAME: &str = "https";
    let host = s.host();
    let url = format!("https://{host}{}", s.path());
    let by = s.route_kind();
    let ranges = s.ranges_name();
    let address = r.address.as_deref();
    let at = format!("{}:{} ({via})", address.unwrap_or("?"), r.port);
    let Some(status) = r.status.filter(|_| r.answered) else {
        let hint = match r.stage.as_deref() {
            Some("connect") => format!(
                "nothing accepts connections at {}:{}: is Traefik running, and is its websecure port ingress.httpsPort ({})?",
                address.unwrap_or_default(),
                r.port,
                s.https_port
            ),
            Some("tls") => "the TLS handshake failed: check Traefik's websecure entrypoint and its TLS options".into(),
            Some("http") => "Traefik accepted TLS but sent no HTTP answer: check its logs".into(),
            _ => "fix the dns check first, or pass --address".into(),
        };
        return Check::fail(
            NAME,
            format!(
                "GET {url} at {at}: {}",
                r.error.as_deref().unwrap_or_default()
            ),
            hint,
        );
    };
    let served = r.certificate.as_ref();
    let the_secrets = served
        .zip(secret_fingerprint)
        .is_some_and(|(c, f)| c.fingerprint == f);
    let certificate = if the_secrets {
        "the Secret's certificate".to_string()
    } else if r.verified {
        format!(
            "a certificate from {} that verifies",
            served.map_or("?", |c| c.issuer.as_str())
        )
    } else {
        format!(
            "certificate {} from {}, not the Secret's, does not verify ({})",
            served.map_or("?", |c| c.subject.as_str()),
            served.map_or("?", |c| c.issuer.as_str()),
            r.verify_error.as_deref().unwrap_or_default()
        )
    };
    let source = r.source.as_deref();
    let found = format!(
        "GET {url} from {} at {at}: {status} {} in {} ms; {certificate}",
        source.unwrap_or_default(),
        r.reason.as_deref().unwrap_or_default(),
        r.elapsed_ms
    );
    let why = match judge_certificate(r.covers, r.verified, the_secrets) {
        Served::Trusted => None,
        Served::NotNamed => Some(format!("it does not name {host}")),
        Served::Unverified => Some("it is not the one in the TLS Secret".to_string()),
    };
    if let Some(why) = why {
        return Check::fail(
            NAME,
            found,
            format!(
                "Traefik serves another certificate ({why}): it has not loaded the {by}'s TLS Secret (it must be in namespace {}; see tls-secret) and falls back to its default; or set tls.caFile to the CA that signs it",
                s.namespace
            ),
        );
    }
    let asked = asker(source, s.ranges());
    let who = source.unwrap_or("?");
    let (note, hint) = match judge_status(status, s.internal, asked) {
        Verdict::RefusedInsider => (
            Some(format!("Traefik refused {who}, which is inside {ranges}")),
            Some(format!("Traefik saw another client address than {who}: asked from a cluster node, kube-proxy masquerades a request to the load balancer's address whatever the Service's externalTrafficPolicy, so ask from another machine inside {ranges} to see what clients get; asked from elsewhere, something translates the source before Traefik (set externalTrafficPolicy: Local on its Service; see client-address), or the middleware's ranges differ (see middleware-ranges)")),
        ),
        Verdict::AllowlistAtWork => (
            Some(format!("the asker {who} is outside {ranges}, so 403 is the allowlist at work; ask from inside the ranges (--source) to reach the service")),
            None,
        ),
        Verdict::LetIn => (
            Some(format!("{who} is outside {ranges} and was let in")),
            Some("the internal-only middleware does not apply to this router: check the middleware checks and Traefik's kubernetescrd provider".to_string()),
        ),
        Verdict::NoRoute => (
            Some(format!("Traefik has no route for the host (or the service has nothing at {})", s.path())),
            Some(format!("Traefik did not pick up the {by}: check ingress-class, and Traefik's logs (kubectl -n traefik logs deploy/traefik)")),
        ),
        Verdict::NoBackend => (
            Some("Traefik could not reach a backend".to_string()),
            Some(format!("check the endpoints check and the pods (kubectl -n {} get pods -l {})", s.namespace, s.pods())),
        ),
        Verdict::Answers if s.internal => (
            Some(format!("the asker {who} is inside {ranges}")),
            None,
        ),
        Verdict::Answers => (None, None),
    };
    let found = match note {
        Some(note) => format!("{found}; {note}"),
        None => found,
    };
    match hint {
        Some(hint) => Check::fail(NAME, found, hint),
        None => Check::pass(NAME, found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::Info;
    use crate::chain::check::CheckStatus;

    fn subject(internal: bool) -> Subject {
        Subject {
            internal,
            ..Subject::example()
        }
    }

    fn response(status: u16, source: &str) -> Response {
        Response {
            host: "web.example.com".into(),
            port: 443,
            address: Some("192.168.8.240".into()),
            source: Some(source.into()),
            answered: true,
            status: Some(status),
            reason: Some("OK".into()),
            verified: true,
            covers: Some(true),
            certificate: Some(Info {
                issuer: "CN=CA".into(),
                fingerprint: "ab".into(),
                ..Info::default()
            }),
            elapsed_ms: 5,
            ..Response::default()
        }
    }

    #[test]
    fn an_outsider_let_into_an_internal_service_fails() {
        let c = answer(
            &subject(true),
            &response(200, "127.0.0.1"),
            "from DNS",
            Some("ab"),
        );
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found
                .ends_with("127.0.0.1 is outside cluster.internalSourceRanges and was let in"),
            "{}",
            c.found
        );
        assert!(c
            .hint
            .unwrap()
            .contains("internal-only middleware does not apply"));
        // From inside the ranges, the same answer passes.
        let c = answer(
            &subject(true),
            &response(200, "10.1.1.1"),
            "from DNS",
            Some("ab"),
        );
        assert_eq!(c.status, CheckStatus::Pass);
        assert_eq!(c.found, "GET https://web.example.com/ from 10.1.1.1 at 192.168.8.240:443 (from DNS): 200 OK in 5 ms; the Secret's certificate; the asker 10.1.1.1 is inside cluster.internalSourceRanges");
        // A public service answers anyone.
        assert_eq!(
            answer(&subject(false), &response(200, "127.0.0.1"), "x", None).status,
            CheckStatus::Pass
        );
    }

    #[test]
    fn refusals_routes_and_backends() {
        let c = answer(&subject(true), &response(403, "127.0.0.1"), "x", None);
        assert_eq!(c.status, CheckStatus::Pass);
        assert!(
            c.found.contains("so 403 is the allowlist at work"),
            "{}",
            c.found
        );
        assert!(
            c.found.contains("a certificate from CN=CA that verifies"),
            "{}",
            c.found
        );
        let c = answer(&subject(true), &response(403, "10.0.0.9"), "x", None);
        assert!(
            c.found
                .contains("Traefik refused 10.0.0.9, which is inside"),
            "{}",
            c.found
        );
        assert!(
            c.hint.as_deref().is_some_and(|h| h.starts_with(
                "Traefik saw another client address than 10.0.0.9: asked from a cluster node, kube-proxy masquerades"
            )),
            "{c:?}"
        );
        assert_eq!(
            answer(&subject(false), &response(404, "1.2.3.4"), "x", None).status,
            CheckStatus::Fail
        );
        let c = answer(&subject(false), &response(503, "1.2.3.4"), "x", None);
        assert_eq!(
            c.hint.as_deref(),
            Some("check the endpoints check and the pods (kubectl -n shop get pods -l app=web)")
        );
    }

    #[test]
    fn another_certificate_or_no_answer() {
        let mut r = response(200, "10.0.0.1");
        r.covers = Some(false);
        let c = answer(&subject(false), &r, "x", None);
        assert!(c
            .hint
            .unwrap()
            .starts_with("Traefik serves another certificate (it does not name web.example.com)"));
        let mut r = response(200, "10.0.0.1");
        r.verified = false;
        assert_eq!(
            answer(&subject(false), &r, "x", Some("ab")).status,
            CheckStatus::Pass
        );
        assert_eq!(
            answer(&subject(false), &r, "x", None).status,
            CheckStatus::Fail
        );
        let r = Response {
            port: 443,
            address: Some("192.168.8.240".into()),
            stage: Some("connect".into()),
            error: Some("refused".into()),
            ..Response::default()
        };
        let c = answer(&subject(false), &r, "from DNS", None);
        assert_eq!(
            c.found,
            "GET https://web.example.com/ at 192.168.8.240:443 (from DNS): refused"
        );
        assert!(c
            .hint
            .unwrap()
            .starts_with("nothing accepts connections at 192.168.8.240:443"));
    }
}
