//! A Secret of a copy's name that wildrun did not make, judged by its
//! content.
//!
//! Namespaces other tools prepared often hold a copy already (wild-cloud's
//! `kubectl get | sed | kubectl apply`). When its type and data equal the
//! source's, it is that copy and wildrun takes it as its own (and keeps it
//! in step from then on). Otherwise it is refused, and the message says what
//! differs (for TLS Secrets: the certificate's names, issuer and expiry)
//! and who wrote it.

use crate::plan::ObjectRef;
use serde_json::{Map, Value};

/// What a Secret in the way of a copy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Its type and data equal the source's: it is the copy.
    Same,
    /// It differs: what differs, in words.
    Differs(String),
}

fn secret_type(secret: &Value) -> &str {
    secret
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Opaque")
}

fn data(secret: &Value) -> Map<String, Value> {
    secret
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Judges `live`, a Secret of the copy's name, against `source`.
pub(crate) fn judge(source: &Value, live: &Value) -> Existing {
    let (want, have) = (data(source), data(live));
    let same_type = secret_type(source) == secret_type(live);
    if same_type && want == have {
        return Existing::Same;
    }
    let mut differences = Vec::new();
    if !same_type {
        differences.push(format!(
            "its type is {} (the source's: {})",
            secret_type(live),
            secret_type(source)
        ));
    }
    // Whatever `kind` the values carry, their data is a Secret's.
    let certificate = |data: &Map<String, Value>| {
        crate::cert::inspect_value(&serde_json::json!({"kind": "Secret", "data": data}))
    };
    let certificates = (certificate(&want), certificate(&have));
    if let (Ok(theirs), Ok(ours)) = &certificates {
        if theirs.fingerprint != ours.fingerprint {
            differences.extend(certificate_differences(theirs, ours));
        }
    }
    let mut keys: Vec<&String> = want
        .keys()
        .chain(have.keys())
        .filter(|k| want.get(*k) != have.get(*k))
        .collect();
    keys.sort();
    keys.dedup();
    // The certificate's key already said what differs in it.
    if matches!(certificates, (Ok(_), Ok(_))) {
        keys.retain(|k| k.as_str() != "tls.crt");
    }
    let missing: Vec<&str> = keys
        .iter()
        .filter(|k| !have.contains_key(k.as_str()))
        .map(|k| k.as_str())
        .collect();
    let extra: Vec<&str> = keys
        .iter()
        .filter(|k| !want.contains_key(k.as_str()))
        .map(|k| k.as_str())
        .collect();
    let changed: Vec<&str> = keys
        .iter()
        .filter(|k| want.contains_key(k.as_str()) && have.contains_key(k.as_str()))
        .map(|k| k.as_str())
        .collect();
    for (what, list) in [
        ("it lacks", missing),
        ("it has keys the source lacks:", extra),
        ("it holds other values under", changed),
    ] {
        if !list.is_empty() {
            differences.push(format!("{what} {}", list.join(", ")));
        }
    }
    if differences.is_empty() {
        differences.push("its data differs".into());
    }
    Existing::Differs(differences.join("; "))
}

/// What differs between the source's certificate and the one in the way.
fn certificate_differences(source: &crate::cert::Info, live: &crate::cert::Info) -> Vec<String> {
    let mut out = Vec::new();
    if source.dns_names != live.dns_names {
        out.push(format!(
            "its certificate names {} (the source's: {})",
            names(&live.dns_names),
            names(&source.dns_names)
        ));
    }
    if source.issuer != live.issuer {
        out.push(format!(
            "its certificate is issued by {} (the source's: by {})",
            live.issuer, source.issuer
        ));
    }
    if source.not_after != live.not_after {
        out.push(format!(
            "its certificate expires {} (the source's: {})",
            live.not_after, source.not_after
        ));
    }
    if out.is_empty() {
        out.push("it holds another certificate with the same names, issuer and expiry".into());
    }
    out
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "no DNS name".into()
    } else {
        list.join(", ")
    }
}

/// Why a Secret in the way of a copy is refused: the facts, worded when
/// shown (the preflight's problem, or [`KubeError::ForeignCopy`](super::error::KubeError::ForeignCopy)).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{target} exists, made by {made_by}, and is not a copy of {from}: {differs}. wildrun will not overwrite it: delete or rename it, or copy into another namespace")]
pub struct Refusal {
    /// The Secret in the way.
    target: ObjectRef,
    /// The copy's source, `namespace/name`.
    from: String,
    /// Who made it ([`crate::kube::owner::Owner::made_by`]).
    made_by: String,
    /// What differs from the source, in words.
    differs: String,
}

/// Why the Secret `live` at `target`, in the way of the copy of `from`,
/// made by `made_by`, is refused: what differs from `source` and who wrote it.
pub(crate) fn refusal(
    target: &ObjectRef,
    from: &str,
    made_by: &str,
    live: &Value,
    source: &Value,
) -> Refusal {
    let differs = match judge(source, live) {
        Existing::Differs(what) => what,
        Existing::Same => "nothing".into(),
    };
    Refusal {
        target: target.clone(),
        from: from.to_string(),
        made_by: made_by.to_string(),
        differs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{ca, issue, Options};
    use crate::kube::owner::Owner;
    use base64::Engine;
    use serde_json::json;

    fn tls(cert: &str, key: &str) -> Value {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        json!({"type": "kubernetes.io/tls", "data": {"tls.crt": b64(cert), "tls.key": b64(key)},
               "metadata": {"managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update",
                                               "time": "2026-01-01T00:00:00Z"}]}})
    }

    fn options(days: i64) -> Options {
        Options {
            days,
            common_name: None,
        }
    }

    #[test]
    fn an_identical_secret_is_the_copy_and_a_different_one_says_what_differs() {
        let authority = ca("wild CA", &options(3650)).unwrap();
        let pair = issue(
            &authority,
            &["*.a.test".into(), "a.test".into()],
            &options(90),
        )
        .unwrap();
        let source = tls(&pair.cert, &pair.key);
        assert_eq!(judge(&source, &source.clone()), Existing::Same);

        let other = issue(&authority, &["*.b.test".into()], &options(30)).unwrap();
        let live = tls(&other.cert, &other.key);
        let Existing::Differs(what) = judge(&source, &live) else {
            panic!("not judged different")
        };
        assert!(
            what.contains("its certificate names *.b.test (the source's: *.a.test, a.test)"),
            "{what}"
        );
        assert!(what.contains("its certificate expires "), "{what}");
        assert!(
            what.contains("it holds other values under tls.key"),
            "{what}"
        );
        assert!(!what.contains("issued by"), "{what}");

        let made_by = Owner::of(&live).made_by();
        let message = refusal(
            &ObjectRef::secret("app", "tls"),
            "cert-manager/tls",
            &made_by,
            &live,
            &source,
        )
        .to_string();
        assert!(
            message.contains("made by kubectl (field manager kubectl-client-side-apply)"),
            "{message}"
        );
        assert!(message.contains("delete or rename it"), "{message}");
    }

    #[test]
    fn secrets_without_certificates_name_the_keys_that_differ() {
        let source = json!({"data": {"a": "MQ==", "b": "Mg=="}});
        let live = json!({"type": "Opaque", "data": {"a": "MQ==", "c": "Mw=="}});
        assert_eq!(
            judge(&source, &live),
            Existing::Differs("it lacks b; it has keys the source lacks: c".into())
        );
        let typed = json!({"type": "kubernetes.io/tls", "data": {"a": "MQ==", "b": "Mg=="}});
        assert_eq!(
            judge(&source, &typed),
            Existing::Differs("its type is kubernetes.io/tls (the source's: Opaque)".into())
        );
    }
}
