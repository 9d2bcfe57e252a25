//! The certificate: the TLS Secret, what it holds, and the cert-manager
//! Certificate that writes it.

use super::super::check::Check;
use super::super::subject::Subject;
use crate::cert::{covers, inspect_value, CertificateStatus};
use serde_json::Value;

/// The fix for wildrun's own service (`recipe`), or for one found by host.
fn recipe_or(s: &Subject, recipe: &'static str, other: &'static str) -> &'static str {
    if s.by_recipe() {
        recipe
    } else {
        other
    }
}

const AFTER_SECRET: [&str; 3] = ["cert-covers", "cert-valid", "cert-days"];

fn skipped_after(first: Check, why: &str) -> Vec<Check> {
    let mut checks = vec![first];
    checks.extend(AFTER_SECRET.iter().map(|n| Check::skip(n, why)));
    checks
}

/// `tls-secret`, `cert-covers`, `cert-valid`, `cert-days`: the Secret
/// `secret_name` (as read: `secret`) holds a certificate whose key matches,
/// that names the host, is valid now and has more than `--days` days left.
pub(crate) fn secret(s: &Subject, secret_name: Option<&str>, secret: Option<&Value>) -> Vec<Check> {
    const NAME: &str = "tls-secret";
    let ns = &s.namespace;
    let Some(secret_name) = secret_name else {
        return skipped_after(
            Check::fail(
                NAME,
                "the Ingress has no tls secretName",
                "add spec.tls with the wildcard secret; redeploy with the recipe",
            ),
            "no TLS secret",
        );
    };
    let Some(secret) = secret else {
        let hint = if s.by_recipe() {
            format!(
                "copy it from {} by running the recipe again (wildrun copies it once cert-manager has issued it; see the Certificate check)",
                s.tls_namespace.as_deref().unwrap_or_default()
            )
        } else {
            format!(
                "create Secret {secret_name} in {ns} (a copy of the wildcard certificate's Secret, or a cert-manager Certificate writing it), or name an existing one in the {}'s TLS: without it Traefik serves its default certificate",
                s.route_kind()
            )
        };
        return skipped_after(
            Check::fail(NAME, format!("no Secret {ns}/{secret_name}"), hint),
            "no TLS secret",
        );
    };
    let info = match inspect_value(secret) {
        Ok(info) => info,
        Err(e) => {
            return skipped_after(
                Check::fail(
                    NAME,
                    format!("Secret {ns}/{secret_name}: cert::inspect: {e}"),
                    recipe_or(
                        s,
                        "the Secret must hold a PEM certificate in tls.crt; delete it and run the recipe again",
                        "the Secret must hold a PEM certificate in tls.crt",
                    ),
                ),
                "no readable certificate",
            )
        }
    };
    let key = match info.key_matches {
        Some(true) => "key matches",
        Some(false) => "KEY DOES NOT MATCH",
        None => "no key",
    };
    let names = if info.dns_names.is_empty() {
        "no DNS names".to_string()
    } else {
        info.dns_names.join(", ")
    };
    // cert-manager leaves the subject empty: name the certificate by its names then.
    let who = if info.subject.is_empty() {
        format!("names {names}")
    } else {
        info.subject.clone()
    };
    let host = s.host();
    let parent = host.split_once('.').map_or("", |(_, p)| p);
    vec![
        Check::judged(
            NAME,
            info.key_matches != Some(false),
            format!("Secret {secret_name}: {who}, issued by {}, {key}", info.issuer),
            recipe_or(
                s,
                "tls.key does not belong to tls.crt; delete the copy and run the recipe again",
                "tls.key does not belong to tls.crt: write the pair again",
            ),
        ),
        Check::judged(
            "cert-covers",
            covers(&info, host),
            format!("names {names}"),
            format!("the certificate must name {host} or *.{parent}; fix the Certificate's dnsNames"),
        ),
        Check::judged(
            "cert-valid",
            info.valid_now,
            format!("valid {} to {}", info.not_before, info.not_after),
            if info.expired {
                recipe_or(
                    s,
                    "the certificate expired: check the Certificate's renewal (kubectl describe certificate) and run the recipe again to copy the renewed secret",
                    "the certificate expired: check its renewal (kubectl describe certificate)",
                )
            } else {
                "the certificate is not valid yet: check the clocks"
            },
        ),
        Check::judged(
            "cert-days",
            info.days_left > s.days,
            format!("{} days left (more than {} wanted)", info.days_left, s.days),
            recipe_or(
                s,
                "renewal is late: check cert-manager and the Certificate (kubectl describe certificate), then run the recipe again to copy the renewed secret",
                "renewal is late: check cert-manager and the Certificate (kubectl describe certificate)",
            ),
        ),
    ]
}

/// `tls-secret` for a route that names no TLS Secret: Traefik serves its
/// default certificate (or the one its ACME `resolver` gets); the
/// certificate checks are left to the request (`https`).
pub(crate) fn default_certificate(s: &Subject, resolver: Option<&str>) -> Vec<Check> {
    let served = match resolver {
        Some(r) => format!("the certificate its resolver {r} gets"),
        None => "its default certificate (its TLSStore's, else its own)".to_string(),
    };
    skipped_after(
        Check::pass(
            "tls-secret",
            format!(
                "the {} names no TLS Secret: Traefik serves {served}",
                s.route_kind()
            ),
        ),
        "no TLS Secret: see https for the certificate served",
    )
}

/// The fingerprint of the certificate in a TLS Secret, if it holds one.
pub(crate) fn fingerprint(secret: Option<&Value>) -> Option<String> {
    secret
        .and_then(|s| inspect_value(s).ok())
        .map(|info| info.fingerprint)
}

/// `certificate`: the cert-manager Certificate in `tls.sourceNamespace`
/// that writes `secret_name` (among `certificates`) is Ready.
pub(crate) fn certificate(s: &Subject, secret_name: Option<&str>, certificates: &[Value]) -> Check {
    const NAME: &str = "certificate";
    let Some(secret_name) = secret_name else {
        return Check::skip(NAME, "no TLS secret");
    };
    let tls_namespace = s.tls_namespace.as_deref().unwrap_or_default();
    let Some(found) = certificates
        .iter()
        .find(|c| c.pointer("/spec/secretName").and_then(Value::as_str) == Some(secret_name))
    else {
        return Check::fail(
            NAME,
            format!("no Certificate in {tls_namespace} writes {secret_name}"),
            format!("run wildrun scripts/cluster.rhai: the visibility layer applies the wildcard Certificates in {tls_namespace} (configuration tls.sourceNamespace)"),
        );
    };
    let name = found
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hint =
        format!("check cert-manager: kubectl -n {tls_namespace} describe certificate {name}");
    match crate::cert::certificate_status(found) {
        Ok(status) => Check::judged(NAME, status.ready, describe(&status), hint),
        Err(e) => Check::fail(NAME, e.to_string(), hint),
    }
}

fn describe(s: &CertificateStatus) -> String {
    let renewal = s
        .renewal_time
        .as_ref()
        .map(|t| format!(", renews {t}"))
        .unwrap_or_default();
    format!(
        "Certificate {}: {} ({}: {}){renewal}",
        s.name,
        if s.ready { "Ready" } else { "not Ready" },
        s.reason.as_deref().unwrap_or("no reason"),
        s.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{ca, issue, Options};
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    fn tls_secret(names: &[&str], days: i64) -> Value {
        let options = Options {
            days,
            common_name: None,
        };
        let authority = ca(
            "test CA",
            &Options {
                days: 365,
                common_name: None,
            },
        )
        .unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let pair = issue(&authority, &names, &options).unwrap();
        json!({"kind": "Secret", "metadata": {"name": "wild-tls", "namespace": "shop"},
               "stringData": {"tls.crt": pair.cert, "tls.key": pair.key}})
    }

    #[test]
    fn a_good_secret_passes_all_four() {
        let secret = tls_secret(&["*.example.com"], 90);
        let checks = super::secret(&Subject::example(), Some("wild-tls"), Some(&secret));
        let names: Vec<(&str, CheckStatus)> =
            checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            names,
            [
                ("tls-secret", CheckStatus::Pass),
                ("cert-covers", CheckStatus::Pass),
                ("cert-valid", CheckStatus::Pass),
                ("cert-days", CheckStatus::Pass)
            ]
        );
        assert!(
            checks[0].found.contains("key matches"),
            "{}",
            checks[0].found
        );
        assert!(fingerprint(Some(&secret)).is_some());
    }

    #[test]
    fn what_fails_and_what_is_skipped() {
        let s = Subject::example();
        let c = super::secret(&s, Some("wild-tls"), None);
        assert_eq!(c[0].found, "no Secret shop/wild-tls");
        assert!(c[1..].iter().all(|c| c.status == CheckStatus::Skip));
        let c = super::secret(
            &s,
            Some("wild-tls"),
            Some(&json!({"kind": "Secret", "stringData": {"ca.crt": "x"}})),
        );
        assert!(
            c[0].found.contains("has no tls.crt (only ca.crt)"),
            "{}",
            c[0].found
        );
        let other = tls_secret(&["*.other.org"], 3);
        let c = super::secret(&s, Some("wild-tls"), Some(&other));
        assert_eq!(c[1].status, CheckStatus::Fail);
        assert_eq!(c[1].hint.as_deref(), Some("the certificate must name web.example.com or *.example.com; fix the Certificate's dnsNames"));
        assert_eq!(c[3].status, CheckStatus::Fail);
        assert_eq!(
            super::secret(&s, None, None)[0].found,
            "the Ingress has no tls secretName"
        );
    }

    #[test]
    fn the_certificate_that_writes_it() {
        let s = Subject::example();
        let cert = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "wild", "namespace": "cert-manager"},
            "spec": {"secretName": "wild-tls"},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Issuing", "message": "waiting"}]}});
        let c = certificate(&s, Some("wild-tls"), std::slice::from_ref(&cert));
        assert_eq!(
            c.found,
            "Certificate cert-manager/wild: not Ready (Issuing: waiting)"
        );
        assert_eq!(
            c.hint.as_deref(),
            Some("check cert-manager: kubectl -n cert-manager describe certificate wild")
        );
        assert_eq!(
            certificate(&s, Some("other-tls"), &[cert]).found,
            "no Certificate in cert-manager writes other-tls"
        );
        assert_eq!(certificate(&s, None, &[]).status, CheckStatus::Skip);
    }
}
