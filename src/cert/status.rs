//! cert-manager's view of a Certificate: whether it is ready, why not, and
//! when it will be renewed.

use super::CertError;
use serde::Serialize;
use serde_json::Value;

/// The readiness of a cert-manager Certificate, as `cert::status` returns it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct CertificateStatus {
    /// `namespace/name`.
    pub(crate) name: String,
    /// Whether the Ready condition is True.
    pub(crate) ready: bool,
    /// The Ready condition's reason (`Ready`, `Issuing`, `DoesNotExist`, ...), or `None`.
    pub(crate) reason: Option<String>,
    /// The Ready condition's message, or a note that there is none.
    pub(crate) message: String,
    /// `status.notAfter`.
    pub(crate) not_after: Option<String>,
    /// `status.renewalTime`: when cert-manager will renew it.
    pub(crate) renewal_time: Option<String>,
    /// `spec.secretName`.
    pub(crate) secret: Option<String>,
    /// `spec.dnsNames`.
    pub(crate) dns_names: Vec<String>,
}

/// Reads a Certificate object (cert-manager.io) as the API server returns it.
pub(crate) fn certificate_status(object: &Value) -> Result<CertificateStatus, CertError> {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let kind = text("/kind").unwrap_or_default();
    let api = text("/apiVersion").unwrap_or_default();
    if kind != "Certificate" || !api.starts_with("cert-manager.io/") {
        // An empty field says as little as a missing one.
        let given = |t: String| Some(t).filter(|t| !t.is_empty());
        return Err(CertError::NotACertificateObject {
            api_version: given(api),
            kind: given(kind),
        });
    }
    let name = match (text("/metadata/namespace"), text("/metadata/name")) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n,
        _ => "(unnamed)".into(),
    };
    let ready = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        });
    let field = |c: Option<&Value>, k: &str| {
        c.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(CertificateStatus {
        name,
        ready: field(ready, "status").as_deref() == Some("True"),
        reason: field(ready, "reason"),
        message: field(ready, "message").unwrap_or_else(|| {
            "no Ready condition yet (cert-manager has not processed it; is cert-manager running?)"
                .into()
        }),
        not_after: text("/status/notAfter"),
        renewal_time: text("/status/renewalTime"),
        secret: text("/spec/secretName"),
        dns_names: crate::objects::string_list(object.pointer("/spec/dnsNames")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_status_reads_ready() {
        let object = serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "wild", "namespace": "cert-manager"},
            "spec": {"secretName": "wild-tls", "dnsNames": ["*.example.com"]},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Issuing", "message": "Issuing certificate"}],
                       "renewalTime": "2030-01-01T00:00:00Z"}});
        let s = certificate_status(&object).unwrap();
        assert!(!s.ready);
        assert_eq!(s.reason.as_deref(), Some("Issuing"));
        assert_eq!(s.renewal_time.as_deref(), Some("2030-01-01T00:00:00Z"));
        assert_eq!(s.secret.as_deref(), Some("wild-tls"));
        let err = certificate_status(&serde_json::json!({"apiVersion": "v1", "kind": "Secret"}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expected a cert-manager.io Certificate"),
            "{err}"
        );
    }

    #[test]
    fn a_ready_certificate() {
        let object = serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "wild", "namespace": "web"},
            "spec": {"secretName": "wild-tls", "dnsNames": ["*.example.com", "example.com"]},
            "status": {"conditions": [
                    {"type": "Issuing", "status": "False"},
                    {"type": "Ready", "status": "True", "reason": "Ready", "message": "Certificate is up to date and has not expired"}],
                "notAfter": "2030-03-01T00:00:00Z"}});
        let s = certificate_status(&object).unwrap();
        assert_eq!(
            s,
            CertificateStatus {
                name: "web/wild".into(),
                ready: true,
                reason: Some("Ready".into()),
                message: "Certificate is up to date and has not expired".into(),
                not_after: Some("2030-03-01T00:00:00Z".into()),
                renewal_time: None,
                secret: Some("wild-tls".into()),
                dns_names: vec!["*.example.com".into(), "example.com".into()],
            }
        );
    }

    #[test]
    fn not_ready_says_why() {
        let object = serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "wild"},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "DoesNotExist",
                "message": "Issuing certificate as Secret does not exist"}]}});
        let s = certificate_status(&object).unwrap();
        assert!(!s.ready);
        assert_eq!(s.name, "wild");
        assert_eq!(s.reason.as_deref(), Some("DoesNotExist"));
        assert_eq!(s.message, "Issuing certificate as Secret does not exist");
    }

    #[test]
    fn without_status_it_is_not_ready_and_says_so() {
        let object = serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate"});
        let s = certificate_status(&object).unwrap();
        assert!(!s.ready);
        assert_eq!(s.name, "(unnamed)");
        assert_eq!(s.reason, None);
        assert_eq!(
            s.message,
            "no Ready condition yet (cert-manager has not processed it; is cert-manager running?)"
        );
        assert_eq!((s.not_after, s.renewal_time, s.secret), (None, None, None));
        assert!(s.dns_names.is_empty());
    }

    #[test]
    fn other_objects_are_named_in_the_error() {
        let err = |v: Value| certificate_status(&v).unwrap_err().to_string();
        assert_eq!(
            err(serde_json::json!({"apiVersion": "v1", "kind": "Secret"})),
            "expected a cert-manager.io Certificate, got v1 Secret"
        );
        assert_eq!(
            err(serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer"})),
            "expected a cert-manager.io Certificate, got cert-manager.io/v1 Issuer"
        );
        // Another group's Certificate is not cert-manager's.
        assert_eq!(
            err(serde_json::json!({"apiVersion": "example.com/v1", "kind": "Certificate"})),
            "expected a cert-manager.io Certificate, got example.com/v1 Certificate"
        );
        assert_eq!(
            err(serde_json::json!({})),
            "expected a cert-manager.io Certificate, got no apiVersion and no kind"
        );
        assert_eq!(
            err(serde_json::json!({"apiVersion": "", "kind": ""})),
            "expected a cert-manager.io Certificate, got no apiVersion and no kind"
        );
    }
}
