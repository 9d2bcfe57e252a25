//! What the service doctor checks a service against: the inputs the
//! doctor's `inputs` gathered (its parameters and the configuration),
//! completed from the Ingress by [`Subject::decide`].

use super::ingress;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The service under check. Read from the script's inputs map; keys it does
/// not name are the script's own.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct Subject {
    /// `--name`.
    pub(crate) name: String,
    /// `--namespace` (default: the name).
    pub(crate) namespace: String,
    /// `--visibility`: `public`, `internal`, or decided from the Ingress.
    pub(crate) visibility: Option<String>,
    /// `cloud.domain`.
    pub(crate) domain: Option<String>,
    /// `cloud.internalDomain`.
    pub(crate) internal_domain: Option<String>,
    /// `cluster.loadBalancerIp`.
    pub(crate) load_balancer_ip: Option<String>,
    /// `cluster.internalSourceRanges`.
    pub(crate) source_ranges: Option<Vec<String>>,
    /// `ingress.className`.
    pub(crate) ingress_class: Option<String>,
    /// `tls.sourceNamespace`.
    pub(crate) tls_namespace: Option<String>,
    /// `--days`: fail at this many days left or fewer.
    pub(crate) days: i64,
    /// `ingress.httpsPort`.
    pub(crate) https_port: i64,
    /// Decided: the service is internal.
    pub(crate) internal: bool,
    /// Decided: the host the Ingress should serve.
    pub(crate) host: Option<String>,
    /// Decided: the ExternalDNS target it should carry (the domain, or for
    /// an internal service `cluster.loadBalancerIp`).
    pub(crate) target: Option<String>,
    /// `doctor --host`: the kind of the route that serves the host
    /// (`Ingress`, `IngressRoute`). `None`: wildrun's own service
    /// (`--name`), whose fixes name the bundled recipes.
    pub(crate) route_kind: Option<String>,
    /// The path asked for (default `/`).
    pub(crate) path: Option<String>,
    /// The pods behind it, as a label selector (default `app=<name>`).
    pub(crate) pods: Option<String>,
}

/// Why a subject cannot be decided.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum SubjectError {
    /// `--visibility` is neither public nor internal.
    #[error("--visibility must be public or internal, not \"{0}\"")]
    Visibility(String),
    /// An internal service's record points at `cluster.loadBalancerIp`, which is not set.
    #[error("cluster.loadBalancerIp is not set")]
    NoLoadBalancerIp,
}

/// What [`Subject::decide`] adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Decided {
    /// Internal or public.
    pub(crate) internal: bool,
    /// The host the Ingress should serve (none without an Ingress).
    pub(crate) host: Option<String>,
    /// The ExternalDNS target it should carry.
    pub(crate) target: Option<String>,
}

impl Subject {
    /// Internal or public, host and target: `--visibility` when given, else
    /// internal when the Ingress names a router middleware.
    pub(crate) fn decide(&self, ingress: Option<&Value>) -> Result<Decided, SubjectError> {
        let internal = match self.visibility.as_deref() {
            None => ingress.is_some_and(ingress::names_middlewares),
            Some("public") => false,
            Some("internal") => true,
            Some(other) => return Err(SubjectError::Visibility(other.to_string())),
        };
        if ingress.is_none() {
            return Ok(Decided {
                internal,
                host: None,
                target: None,
            });
        }
        let domain = if internal {
            &self.internal_domain
        } else {
            &self.domain
        };
        let target = if internal {
            Some(
                self.load_balancer_ip
                    .clone()
                    .ok_or(SubjectError::NoLoadBalancerIp)?,
            )
        } else {
            self.domain.clone()
        };
        Ok(Decided {
            internal,
            host: Some(format!(
                "{}.{}",
                self.name,
                domain.as_deref().unwrap_or_default()
            )),
            target,
        })
    }

    /// `cluster.internalSourceRanges`, or none.
    pub(crate) fn ranges(&self) -> &[String] {
        self.source_ranges.as_deref().unwrap_or_default()
    }

    /// The decided host, or `""` before there is one.
    pub(crate) fn host(&self) -> &str {
        self.host.as_deref().unwrap_or_default()
    }

    /// The path asked for.
    pub(crate) fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("/")
    }

    /// The pods behind the service, as a label selector.
    pub(crate) fn pods(&self) -> String {
        self.pods
            .clone()
            .unwrap_or_else(|| format!("app={}", self.name))
    }

    /// Whether this is wildrun's own service, deployed by a bundled recipe.
    pub(crate) fn by_recipe(&self) -> bool {
        self.route_kind.is_none()
    }

    /// The kind of object that routes to it (`Ingress` unless `--host` found another).
    pub(crate) fn route_kind(&self) -> &str {
        self.route_kind.as_deref().unwrap_or("Ingress")
    }

    /// What the allowlist admits, in words: the configuration key for
    /// wildrun's own service, the allowlist's field for a route found by host.
    pub(crate) fn ranges_name(&self) -> &'static str {
        if self.by_recipe() {
            "cluster.internalSourceRanges"
        } else {
            "the allowlist's sourceRange"
        }
    }

    /// The decided target, or `""`.
    pub(crate) fn target(&self) -> &str {
        self.target.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
impl Subject {
    /// For tests: the public service `web` in namespace `shop`, decided
    /// (host web.example.com, target example.com), with the defaults of the
    /// configuration.
    pub(crate) fn example() -> Subject {
        Subject {
            name: "web".into(),
            namespace: "shop".into(),
            domain: Some("example.com".into()),
            internal_domain: Some("internal.example.com".into()),
            load_balancer_ip: Some("192.168.8.240".into()),
            source_ranges: Some(vec!["10.0.0.0/8".into()]),
            ingress_class: Some("traefik".into()),
            tls_namespace: Some("cert-manager".into()),
            days: 14,
            https_port: 443,
            host: Some("web.example.com".into()),
            target: Some("example.com".into()),
            ..Subject::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject() -> Subject {
        Subject::example()
    }

    #[test]
    fn visibility_from_the_middleware_annotation() {
        let internal = json!({"metadata": {"annotations": {
            "traefik.ingress.kubernetes.io/router.middlewares": "web-internal-only@kubernetescrd"}}});
        let d = subject().decide(Some(&internal)).unwrap();
        assert!(d.internal);
        assert_eq!(d.host.as_deref(), Some("web.internal.example.com"));
        assert_eq!(d.target.as_deref(), Some("192.168.8.240"));
        let public = json!({"metadata": {}});
        let d = subject().decide(Some(&public)).unwrap();
        assert!(!d.internal);
        assert_eq!(d.host.as_deref(), Some("web.example.com"));
        assert_eq!(d.target.as_deref(), Some("example.com"));
        // Without an Ingress: no host, no target.
        assert_eq!(subject().decide(None).unwrap().host, None);
    }

    #[test]
    fn visibility_given() {
        let mut s = subject();
        s.visibility = Some("internal".into());
        assert!(s.decide(Some(&json!({}))).unwrap().internal);
        s.load_balancer_ip = None;
        assert_eq!(
            s.decide(Some(&json!({}))),
            Err(SubjectError::NoLoadBalancerIp)
        );
        s.visibility = Some("private".into());
        assert_eq!(
            s.decide(None).unwrap_err().to_string(),
            "--visibility must be public or internal, not \"private\""
        );
    }
}
