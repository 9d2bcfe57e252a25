//! Every ExternalDNS Deployment, found by its image in any namespace, and
//! what its arguments say it does.
//!
//! Two ExternalDNS instances with different owner ids writing one zone
//! fight over its records; wildrun never makes a second one for a zone
//! another already writes, so it reads which zones each one writes: its
//! `--domain-filter`s (and for rfc2136 its `--rfc2136-zone`s), less its
//! `--exclude-domains`. The defaults of the release its image names fill
//! what its arguments leave out (see [`crate::externaldns`]).

use super::{containers, image, Identity, Wanted};
use crate::externaldns::{self as edns, flag_values};
use crate::objects::string_list;
use serde::Serialize;
use serde_json::Value;

/// One ExternalDNS Deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ExternalDns {
    /// Where it is and who made it.
    #[serde(flatten)]
    pub(crate) id: Identity,
    /// The name of its ExternalDNS container.
    pub(crate) container: String,
    /// The container's image.
    pub(crate) image: String,
    /// The release its image tag names (`0.13.4`), if it names one.
    pub(crate) version: Option<String>,
    /// `--provider`.
    pub(crate) provider: Option<String>,
    /// `--domain-filter`s.
    pub(crate) domain_filters: Vec<String>,
    /// `--exclude-domains`.
    pub(crate) exclude_domains: Vec<String>,
    /// `--rfc2136-zone`s.
    pub(crate) rfc2136_zones: Vec<String>,
    /// `--txt-owner-id`, or the default `default`.
    pub(crate) owner_id: String,
    /// `--source`s.
    pub(crate) sources: Vec<String>,
    /// The annotation prefix it reads.
    pub(crate) annotation_prefix: String,
    /// Why that prefix (its argument, or its release's default).
    pub(crate) prefix_reason: String,
    /// Its release knows `--annotation-prefix` (v0.20.0 and later; `false`
    /// for an image without a version, where writing it is not safe).
    pub(crate) knows_annotation_prefix: bool,
    /// `--policy`, or its release's default (`sync` before v0.22.0; empty
    /// from v0.22.0 on, where the flag is required).
    pub(crate) policy: String,
    /// `--registry`, or the default `txt`.
    pub(crate) registry: String,
    /// `spec.template.spec.serviceAccountName`.
    pub(crate) service_account: Option<String>,
    /// `spec.selector.matchLabels`.
    pub(crate) selector: Value,
    /// The labels of its pod template.
    pub(crate) pod_labels: Value,
    /// The container's `command`.
    pub(crate) command: Vec<String>,
    /// The container's `args`.
    pub(crate) args: Vec<String>,
    /// It writes records of the public domain.
    pub(crate) writes_domain: bool,
    /// It writes records of the internal domain (when that is given).
    pub(crate) writes_internal_domain: bool,
}

/// Whether `name` is `zone` or lies below it.
pub(crate) fn within(name: &str, zone: &str) -> bool {
    let (name, zone) = (name.trim_end_matches('.'), zone.trim_end_matches('.'));
    !zone.is_empty()
        && (name.eq_ignore_ascii_case(zone)
            || name
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", zone.to_ascii_lowercase())))
}

impl ExternalDns {
    /// Reads a listed Deployment: `None` unless one of its containers runs
    /// ExternalDNS's image.
    pub(crate) fn read(object: &Value, wanted: &Wanted) -> Option<ExternalDns> {
        let container = containers(object)
            .iter()
            .find(|c| edns::is_external_dns_image(image(c)))?;
        let image = image(container).to_string();
        let command = string_list(container.get("command"));
        let container_args = string_list(container.get("args"));
        // Flags may stand in either.
        let args: Vec<String> = command.iter().chain(&container_args).cloned().collect();
        let last = |flag: &str| flag_values(&args, flag).pop();
        let release = edns::release(&image);
        let detected = edns::detect(object);
        let policy = last(edns::POLICY_FLAG).unwrap_or(release.default_policy);
        let mut found = ExternalDns {
            id: Identity::of(object),
            container: container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            version: release.version,
            provider: last("--provider"),
            domain_filters: flag_values(&args, "--domain-filter")
                .into_iter()
                .filter(|f| !f.is_empty())
                .collect(),
            exclude_domains: flag_values(&args, "--exclude-domains"),
            rfc2136_zones: flag_values(&args, "--rfc2136-zone"),
            owner_id: last("--txt-owner-id").unwrap_or_else(|| edns::DEFAULT_OWNER_ID.into()),
            sources: flag_values(&args, "--source"),
            annotation_prefix: detected.prefix,
            prefix_reason: detected.reason,
            knows_annotation_prefix: release.knows_annotation_prefix,
            policy,
            registry: last("--registry").unwrap_or_else(|| edns::DEFAULT_REGISTRY.into()),
            service_account: object
                .pointer("/spec/template/spec/serviceAccountName")
                .and_then(Value::as_str)
                .map(str::to_string),
            selector: object
                .pointer("/spec/selector/matchLabels")
                .cloned()
                .unwrap_or(Value::Null),
            pod_labels: object
                .pointer("/spec/template/metadata/labels")
                .cloned()
                .unwrap_or(Value::Null),
            image,
            command,
            args: container_args,
            writes_domain: false,
            writes_internal_domain: false,
        };
        found.writes_domain = found.writes(&wanted.domain);
        found.writes_internal_domain = wanted
            .internal_domain
            .as_deref()
            .is_some_and(|d| found.writes(d));
        Some(found)
    }

    /// Whether it writes records of `domain`: its domain filters (if any)
    /// hold the domain, and with rfc2136 a zone it updates holds it too
    /// (ExternalDNS publishes only what passes both); its exclusions do
    /// not cover it. Without any filter it writes every zone its
    /// provider's account holds (so any domain), except with rfc2136,
    /// which updates only the zones it is given. One limited to a zone
    /// below the domain (`internal.<domain>`) writes that zone only, not
    /// the domain's records.
    pub(crate) fn writes(&self, domain: &str) -> bool {
        if domain.is_empty() || self.exclude_domains.iter().any(|e| within(domain, e)) {
            return false;
        }
        let holds = |zones: &[String]| zones.iter().any(|z| within(domain, z));
        let filtered_in = self.domain_filters.is_empty() || holds(&self.domain_filters);
        let in_a_zone = self.provider.as_deref() != Some("rfc2136") || holds(&self.rfc2136_zones);
        filtered_in && in_a_zone
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::by_kubectl;
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, args: &[&str]) -> Value {
        by_kubectl(json!({"kind": "Deployment",
            "metadata": {"name": "external-dns", "namespace": "externaldns", "labels": {"app": "external-dns"}},
            "spec": {"selector": {"matchLabels": {"app": "external-dns"}},
                     "template": {"metadata": {"labels": {"app": "external-dns"}},
                                  "spec": {"serviceAccountName": "external-dns",
                                           "containers": [{"name": "external-dns", "image": image, "args": args}]}}}}))
    }

    fn wanted() -> Wanted {
        Wanted {
            domain: "cloud.example.test".into(),
            internal_domain: Some("internal.cloud.example.test".into()),
            ..Wanted::default()
        }
    }

    /// wild-cloud's ExternalDNS, as its set-up applies it.
    fn wild_cloud(filter: &str) -> Value {
        deployment(
            "registry.k8s.io/external-dns/external-dns:v0.13.4",
            &[
                "--source=service",
                "--source=ingress",
                "--txt-owner-id=wild-owner",
                "--provider=cloudflare",
                filter,
                "--cloudflare-dns-records-per-page=5000",
                "--publish-internal-services",
                "--no-cloudflare-proxied",
                "--log-level=debug",
            ],
        )
    }

    #[test]
    fn an_older_release_is_read_with_its_defaults() {
        let found = ExternalDns::read(&wild_cloud("--domain-filter=cloud.example.test"), &wanted())
            .unwrap();
        assert_eq!(found.id.path(), "externaldns/external-dns");
        assert_eq!(found.version.as_deref(), Some("0.13.4"));
        assert_eq!(found.provider.as_deref(), Some("cloudflare"));
        assert_eq!(found.domain_filters, ["cloud.example.test"]);
        assert_eq!(found.owner_id, "wild-owner");
        assert_eq!(found.sources, ["service", "ingress"]);
        assert_eq!(found.annotation_prefix, edns::ALPHA_PREFIX);
        assert!(!found.knows_annotation_prefix);
        assert_eq!(found.policy, "sync");
        assert_eq!(found.registry, "txt");
        assert_eq!(found.selector, json!({"app": "external-dns"}));
        assert_eq!(found.service_account.as_deref(), Some("external-dns"));
        assert!(found.writes_domain);
        // The internal domain lies below the filter.
        assert!(found.writes_internal_domain);
        assert!(!found.id.ours);
    }

    #[test]
    fn a_hard_coded_filter_for_another_domain_writes_nothing_here() {
        let found = ExternalDns::read(&wild_cloud("--domain-filter=payne.io"), &wanted()).unwrap();
        assert!(!found.writes_domain && !found.writes_internal_domain);
    }

    #[test]
    fn current_releases_know_the_prefix_flag_and_need_a_policy() {
        let found = ExternalDns::read(
            &deployment(
                "registry.k8s.io/external-dns/external-dns:v0.22.0",
                &[
                    "--provider=rfc2136",
                    "--rfc2136-zone=cloud.example.test",
                    "--exclude-domains=internal.cloud.example.test",
                    "--annotation-prefix=external-dns.alpha.kubernetes.io/",
                ],
            ),
            &wanted(),
        )
        .unwrap();
        assert!(found.knows_annotation_prefix);
        assert_eq!(found.policy, "");
        assert_eq!(found.owner_id, "default");
        assert_eq!(found.annotation_prefix, edns::ALPHA_PREFIX);
        assert!(found.writes_domain);
        assert!(!found.writes_internal_domain);
        assert!(
            ExternalDns::read(
                &deployment("registry.k8s.io/external-dns/external-dns:v0.20.0", &[]),
                &wanted()
            )
            .unwrap()
            .knows_annotation_prefix
        );
        assert!(
            !ExternalDns::read(
                &deployment("registry.k8s.io/external-dns/external-dns:v0.19.0", &[]),
                &wanted()
            )
            .unwrap()
            .knows_annotation_prefix
        );
    }

    #[test]
    fn a_stated_policy_is_read_whatever_the_release() {
        for image in [
            "registry.k8s.io/external-dns/external-dns:v0.14.2",
            "registry.k8s.io/external-dns/external-dns:v0.22.0",
        ] {
            let found = ExternalDns::read(
                &deployment(image, &["--provider=cloudflare", "--policy", "upsert-only"]),
                &wanted(),
            )
            .unwrap();
            assert_eq!(found.policy, "upsert-only", "{image}");
            let found = ExternalDns::read(
                &deployment(image, &["--policy=sync", "--policy=create-only"]),
                &wanted(),
            )
            .unwrap();
            // kingpin refuses a repeated flag; were it taken, the last would win.
            assert_eq!(found.policy, "create-only", "{image}");
        }
    }

    #[test]
    fn zones_are_read_by_suffix_and_rfc2136_writes_only_its_zones() {
        let read = |args: &[&str]| {
            ExternalDns::read(
                &deployment("docker.io/bitnami/external-dns:0.14.2", args),
                &wanted(),
            )
            .unwrap()
        };
        // No filter: every zone of the account.
        assert!(read(&["--provider=cloudflare"]).writes_domain);
        // rfc2136 without a zone updates none.
        assert!(!read(&["--provider=rfc2136"]).writes_domain);
        // A filter above the domain; one below it writes that zone only.
        assert!(read(&["--domain-filter=example.test"]).writes_domain);
        let below = read(&["--domain-filter=internal.cloud.example.test"]);
        assert!(!below.writes_domain && below.writes_internal_domain);
        assert!(!read(&["--domain-filter=notcloud.example.test"]).writes_domain);
        assert!(!read(&["--exclude-domains=example.test"]).writes_domain);
        // rfc2136 publishes only what passes the filter and lies in a zone.
        assert!(
            !read(&[
                "--provider=rfc2136",
                "--rfc2136-zone=cloud.example.test",
                "--domain-filter=payne.io"
            ])
            .writes_domain
        );
        assert!(
            read(&[
                "--provider=rfc2136",
                "--rfc2136-zone=cloud.example.test",
                "--domain-filter=cloud.example.test"
            ])
            .writes_domain
        );
        // Not an ExternalDNS image.
        assert!(ExternalDns::read(&deployment("nginx:1", &[]), &wanted()).is_none());
    }
}
