//! cert-manager's ClusterIssuers: of what type each is, and for ACME the
//! account it uses (server, e-mail and the Secret holding the account's
//! key). Rewriting an ACME issuer with another account key Secret makes
//! cert-manager register a new account, so wildrun reads the one in use.

use super::Identity;
use serde::Serialize;
use serde_json::Value;

/// One ClusterIssuer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Issuer {
    /// Its name and who made it.
    #[serde(flatten)]
    pub(crate) id: Identity,
    /// `acme`, `ca`, `selfSigned`, `vault`, `venafi` or the key its spec has.
    #[serde(rename = "type")]
    pub(crate) issuer_type: String,
    /// ACME: the directory URL.
    pub(crate) server: Option<String>,
    /// ACME: the account's e-mail.
    pub(crate) email: Option<String>,
    /// ACME: the Secret holding the account's private key.
    pub(crate) account_key: Option<String>,
    /// ACME: each solver in words (`dns01 cloudflare`, `http01 ingress`).
    pub(crate) solvers: Vec<String>,
    /// ACME: the solvers as they are (`spec.acme.solvers`), kept when
    /// wildrun adopts the issuer.
    pub(crate) acme_solvers: Value,
    /// CA: the Secret holding the CA.
    pub(crate) ca_secret: Option<String>,
    /// Its `Ready` condition, when it has one.
    pub(crate) ready: Option<bool>,
}

impl Issuer {
    /// Reads a listed ClusterIssuer.
    pub(crate) fn read(object: &Value) -> Issuer {
        let spec = object.get("spec").and_then(Value::as_object);
        let issuer_type = spec
            .and_then(|s| {
                ["acme", "ca", "selfSigned", "vault", "venafi"]
                    .into_iter()
                    .find(|k| s.contains_key(*k))
                    .map(str::to_string)
                    .or_else(|| s.keys().next().cloned())
            })
            .unwrap_or_default();
        let text = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let acme_solvers = object
            .pointer("/spec/acme/solvers")
            .cloned()
            .unwrap_or(Value::Null);
        let solvers = acme_solvers
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let (challenge, how) = s
                    .as_object()?
                    .iter()
                    .find(|(k, _)| *k == "dns01" || *k == "http01")?;
                let provider = how.as_object().and_then(|h| h.keys().next().cloned());
                Some(match provider {
                    Some(p) => format!("{challenge} {p}"),
                    None => challenge.clone(),
                })
            })
            .collect();
        let ready = object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map(|c| c["status"] == "True");
        Issuer {
            id: Identity::of(object),
            issuer_type,
            server: text("/spec/acme/server"),
            email: text("/spec/acme/email"),
            account_key: text("/spec/acme/privateKeySecretRef/name"),
            solvers,
            acme_solvers,
            ca_secret: text("/spec/ca/secretName"),
            ready,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::by_kubectl;
    use super::*;
    use serde_json::json;

    #[test]
    fn an_acme_issuer_says_its_account_and_solvers() {
        let issuer = Issuer::read(&by_kubectl(
            json!({"metadata": {"name": "letsencrypt-prod"},
            "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory",
                              "email": "ops@example.test",
                              "privateKeySecretRef": {"name": "letsencrypt-prod"},
                              "solvers": [{"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "t", "key": "k"}}},
                                           "selector": {"dnsZones": ["example.test"]}},
                                          {"http01": {"ingress": {"class": "traefik"}}}]}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        ));
        assert_eq!(issuer.issuer_type, "acme");
        assert_eq!(issuer.email.as_deref(), Some("ops@example.test"));
        assert_eq!(issuer.account_key.as_deref(), Some("letsencrypt-prod"));
        assert_eq!(issuer.solvers, ["dns01 cloudflare", "http01 ingress"]);
        assert_eq!(issuer.ready, Some(true));
        assert_eq!(issuer.id.name, "letsencrypt-prod");
        assert_eq!(issuer.id.namespace, None);
        let ca = Issuer::read(
            &json!({"metadata": {"name": "ca"}, "spec": {"ca": {"secretName": "root"}}}),
        );
        assert_eq!(ca.issuer_type, "ca");
        assert_eq!(ca.ca_secret.as_deref(), Some("root"));
        assert_eq!(ca.ready, None);
    }
}
