//! The wildcard Certificates of the two domains, found by the names they
//! ask for: `*.<domain>` is the public one; `*.<internal domain>` the
//! internal one, and so is a wildcard one label below the domain
//! (`*.local.<domain>`, `*.internal.<domain>`), which says what the cluster
//! uses as its internal domain (wild-cloud's installers default to
//! `local.<domain>`) when it differs from the configured one.

use super::{Identity, Wanted};
use crate::objects::string_list;
use serde::Serialize;
use serde_json::Value;

/// One wildcard Certificate of the layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct WildcardCertificate {
    /// Where it is and who made it.
    #[serde(flatten)]
    pub(crate) id: Identity,
    /// `public` or `internal`.
    pub(crate) role: String,
    /// The domain its wildcard covers (`cloud.example.test` for
    /// `*.cloud.example.test`).
    pub(crate) domain: String,
    /// `spec.dnsNames`.
    pub(crate) dns_names: Vec<String>,
    /// `spec.secretName`: the Secret cert-manager writes.
    pub(crate) secret: String,
    /// `spec.issuerRef.name`.
    pub(crate) issuer: String,
    /// `spec.issuerRef.kind` (`Issuer` when not set, as cert-manager reads it).
    pub(crate) issuer_kind: String,
    /// Its `Ready` condition, when it has one.
    pub(crate) ready: Option<bool>,
}

/// The domain a wildcard name covers: `a.b` for `*.a.b`.
fn wildcard_base(name: &str) -> Option<String> {
    name.strip_prefix("*.")
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
}

impl WildcardCertificate {
    /// Reads a listed Certificate: `None` unless it is a wildcard of the
    /// public or the internal domain.
    pub(crate) fn read(object: &Value, wanted: &Wanted) -> Option<WildcardCertificate> {
        let dns_names = string_list(object.pointer("/spec/dnsNames"));
        let domain = wanted.domain.trim_end_matches('.').to_ascii_lowercase();
        let bases: Vec<String> = dns_names.iter().filter_map(|n| wildcard_base(n)).collect();
        let internal = wanted
            .internal_domain
            .as_deref()
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase());
        let below = format!(".{domain}");
        let one_label_below = |b: &String| {
            b.strip_suffix(&below)
                .is_some_and(|label| !label.is_empty() && !label.contains('.'))
        };
        let (role, base) = if bases.contains(&domain) {
            ("public", domain.clone())
        } else if let Some(base) = bases
            .iter()
            .find(|b| Some(b.as_str()) == internal.as_deref())
        {
            ("internal", base.clone())
        } else {
            ("internal", bases.into_iter().find(one_label_below)?)
        };
        let text = |p: &str| object.pointer(p).and_then(Value::as_str);
        Some(WildcardCertificate {
            id: Identity::of(object),
            role: role.to_string(),
            domain: base,
            secret: text("/spec/secretName").unwrap_or_default().to_string(),
            issuer: text("/spec/issuerRef/name").unwrap_or_default().to_string(),
            issuer_kind: text("/spec/issuerRef/kind").unwrap_or("Issuer").to_string(),
            ready: object
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True"),
            dns_names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn certificate(names: &[&str]) -> Value {
        json!({"metadata": {"name": "wildcard", "namespace": "cert-manager"},
               "spec": {"secretName": "wildcard-tls", "dnsNames": names,
                        "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}})
    }

    fn wanted(internal: Option<&str>) -> Wanted {
        Wanted {
            domain: "cloud.example.test".into(),
            internal_domain: internal.map(str::to_string),
            ..Wanted::default()
        }
    }

    #[test]
    fn the_public_and_internal_wildcards_are_found_by_their_names() {
        let public = WildcardCertificate::read(
            &certificate(&["*.cloud.example.test", "cloud.example.test"]),
            &wanted(None),
        )
        .unwrap();
        assert_eq!(
            (public.role.as_str(), public.domain.as_str()),
            ("public", "cloud.example.test")
        );
        assert_eq!(public.secret, "wildcard-tls");
        assert_eq!(public.issuer, "letsencrypt-prod");
        assert_eq!(public.issuer_kind, "ClusterIssuer");
        // Without a configured internal domain, one label below the domain.
        let local = certificate(&["*.local.cloud.example.test", "local.cloud.example.test"]);
        let internal = WildcardCertificate::read(&local, &wanted(None)).unwrap();
        assert_eq!(internal.role, "internal");
        assert_eq!(internal.domain, "local.cloud.example.test");
        // With another one configured, still found: the domain tells.
        let found = WildcardCertificate::read(&local, &wanted(Some("internal.cloud.example.test")));
        assert_eq!(found.unwrap().domain, "local.cloud.example.test");
        // A configured internal domain anywhere.
        let elsewhere = certificate(&["*.lan.example.org"]);
        assert!(WildcardCertificate::read(&elsewhere, &wanted(None)).is_none());
        let found = WildcardCertificate::read(&elsewhere, &wanted(Some("lan.example.org")));
        assert_eq!(found.unwrap().role, "internal");
        assert!(WildcardCertificate::read(
            &certificate(&["*.a.b.cloud.example.test"]),
            &wanted(None)
        )
        .is_none());
        assert!(WildcardCertificate::read(
            &certificate(&["www.cloud.example.test"]),
            &wanted(None)
        )
        .is_none());
    }
}
