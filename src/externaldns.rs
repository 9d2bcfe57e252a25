//! Which annotation prefix an ExternalDNS reads.
//!
//! ExternalDNS v0.22.0 reads only `external-dns.kubernetes.io/` annotations
//! by default (no fallback); earlier releases read
//! `external-dns.alpha.kubernetes.io/`. Its `--annotation-prefix` argument
//! overrides either. [`detect`] reads a Deployment's container (image tag,
//! arguments) and says which prefix that ExternalDNS reads and why; the
//! recipes write the target and TTL under the prefixes configuration key
//! `dns.annotationPrefix` names ([`prefixes`]).

use crate::objects::string_list;
use serde::Serialize;
use serde_json::Value;

/// The prefix ExternalDNS v0.22.0 and later read by default.
pub(crate) const PREFIX: &str = "external-dns.kubernetes.io/";
/// The prefix releases before v0.22.0 read by default.
pub(crate) const ALPHA_PREFIX: &str = "external-dns.alpha.kubernetes.io/";
/// The `dns.annotationPrefix` value that writes both.
pub(crate) const BOTH: &str = "both";
/// Every value `dns.annotationPrefix` takes.
pub(crate) const CHOICES: &[&str] = &[BOTH, PREFIX, ALPHA_PREFIX];
/// The first release whose default is [`PREFIX`] (kubernetes-sigs/external-dns
/// #6424, "switch default annotations prefix to GA", in v0.22.0; v0.21.0
/// still defaults to [`ALPHA_PREFIX`]).
pub(crate) const NEW_DEFAULT_SINCE: (u64, u64, u64) = (0, 22, 0);
/// The first release that knows `--annotation-prefix` (#5889, "add custom
/// annotation prefix support for split horizon DNS", first tagged in
/// v0.20.0). Earlier releases stop at start-up on the unknown flag, so it
/// is never written to them.
pub(crate) const PREFIX_FLAG_SINCE: (u64, u64, u64) = (0, 20, 0);
/// The first release that has no default `--policy` and refuses to start
/// without one (#6508, v0.22.0); earlier releases default to
/// [`POLICY_BEFORE_REQUIRED`].
pub(crate) const POLICY_REQUIRED_SINCE: (u64, u64, u64) = (0, 22, 0);
/// The first release that knows `--rfc2136-axfr` and calls
/// `--rfc2136-tsig-axfr` deprecated (v0.22.0; v0.21.0 and earlier know
/// only `--rfc2136-tsig-axfr`, read from each release's flag definitions).
pub(crate) const RFC2136_AXFR_SINCE: (u64, u64, u64) = (0, 22, 0);
/// The policy of releases before [`POLICY_REQUIRED_SINCE`] when none is given.
pub(crate) const POLICY_BEFORE_REQUIRED: &str = "sync";
/// The values of `--policy` (every release since v0.13 knows the three):
/// `sync` also deletes the records its owner id owns that no source asks
/// for any more; `upsert-only` never deletes; `create-only` only creates.
pub(crate) const POLICIES: &[&str] = &["sync", "upsert-only", "create-only"];
/// The flag configuration key `dns.policy` writes; `externalDns.extraArgs`
/// may not give it too (ExternalDNS refuses a repeated flag).
pub(crate) const POLICY_FLAG: &str = "--policy";
/// `--txt-owner-id` when none is given (every release).
pub(crate) const DEFAULT_OWNER_ID: &str = "default";
/// `--registry` when none is given (every release).
pub(crate) const DEFAULT_REGISTRY: &str = "txt";

/// What the release an image names knows and needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Release {
    /// The version its tag names (`0.14.2`), if any.
    pub(crate) version: Option<String>,
    /// It knows `--annotation-prefix` ([`PREFIX_FLAG_SINCE`]); `false`
    /// without a version, where writing the flag is not safe.
    pub(crate) knows_annotation_prefix: bool,
    /// It refuses to start without `--policy` ([`POLICY_REQUIRED_SINCE`]).
    pub(crate) policy_required: bool,
    /// The policy it uses when none is given: `sync`, or empty when it
    /// requires one.
    pub(crate) default_policy: String,
}

/// What the ExternalDNS release of `image` knows and needs. An image
/// without a version is taken as a current release, except that the
/// prefix flag is not written to it.
pub(crate) fn release(image: &str) -> Release {
    let version = version_of(image);
    let policy_required = version.is_none_or(|v| v >= POLICY_REQUIRED_SINCE);
    Release {
        version: version.map(|(a, b, c)| format!("{a}.{b}.{c}")),
        knows_annotation_prefix: version.is_some_and(|v| v >= PREFIX_FLAG_SINCE),
        policy_required,
        default_policy: if policy_required {
            String::new()
        } else {
            POLICY_BEFORE_REQUIRED.to_string()
        },
    }
}

/// Whether an image is ExternalDNS's, whatever its registry: the last part
/// of its path is `external-dns` (`registry.k8s.io/external-dns/external-dns:v0.14.2`,
/// `docker.io/bitnami/external-dns`, a mirror's `registry.lan/external-dns`).
pub(crate) fn is_external_dns_image(image: &str) -> bool {
    image_name(image) == "external-dns"
}

/// The last part of an image reference's path, without tag or digest:
/// `traefik` for `docker.io/traefik:v3.4.1`, `controller` for
/// `quay.io/metallb/controller:v0.15.0`.
pub(crate) fn image_name(image: &str) -> &str {
    let path = image.split('@').next().unwrap_or(image);
    let last = path.rsplit('/').next().unwrap_or(path);
    last.split(':').next().unwrap_or(last)
}

/// The values of `flag` (`--domain-filter`) in a container's words, in
/// order: `--flag=value` and `--flag value`.
pub(crate) fn flag_values(words: &[String], flag: &str) -> Vec<String> {
    let inline = format!("{flag}=");
    let mut found = Vec::new();
    let mut iter = words.iter().peekable();
    while let Some(word) = iter.next() {
        if let Some(v) = word.strip_prefix(&inline) {
            found.push(v.to_string());
        } else if word == flag {
            if let Some(v) = iter.next_if(|next| !next.starts_with("--")) {
                found.push(v.clone());
            }
        }
    }
    found
}

/// The check of configuration key `dns.annotationPrefix`.
pub(crate) fn check_choice(value: &str) -> Result<(), String> {
    if CHOICES.contains(&value) {
        return Ok(());
    }
    // A cut-off prefix (no slash, no `.kubernetes.io/`) is the likeliest slip.
    let started = (!value.is_empty())
        .then(|| CHOICES.iter().find(|c| c.starts_with(value)))
        .flatten()
        .map(|c| c.to_string());
    let hint = crate::objects::strict::did_you_mean(
        &started.or_else(|| crate::objects::strict::nearest(value, CHOICES.iter().copied())),
    );
    Err(format!(
        "{value:?} is not an annotation prefix ExternalDNS reads{hint}; use one of {}",
        CHOICES.join(", ")
    ))
}

/// The prefixes a `dns.annotationPrefix` value writes annotations under.
pub(crate) fn prefixes(choice: &str) -> Vec<&'static str> {
    match choice {
        PREFIX => vec![PREFIX],
        ALPHA_PREFIX => vec![ALPHA_PREFIX],
        _ => vec![ALPHA_PREFIX, PREFIX],
    }
}

/// What [`detect`] found for one ExternalDNS Deployment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Detected {
    /// `namespace/name` of the Deployment.
    pub(crate) deployment: String,
    /// The prefix it reads.
    pub(crate) prefix: String,
    /// Why, in words (`image tag v0.22.0: ...`, `--annotation-prefix=...`).
    pub(crate) reason: String,
    /// The container's image.
    pub(crate) image: Option<String>,
    /// The version read from the image tag (`0.22.0`), if it has one.
    pub(crate) version: Option<String>,
    /// Whether `--annotation-prefix` decided it.
    pub(crate) from_args: bool,
}

/// The `major.minor.patch` of an image reference's tag
/// (`registry.k8s.io/external-dns/external-dns:v0.22.0`, `...:0.21.1-debian`,
/// a digest after `@` ignored); `None` for `latest` or no tag.
pub(crate) fn version_of(image: &str) -> Option<(u64, u64, u64)> {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last.split_once(':')?.1;
    let tag = tag.strip_prefix('v').unwrap_or(tag);
    let core = tag.split(['-', '+']).next().unwrap_or(tag);
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The value of `--annotation-prefix` in a container's words, if given
/// (`--annotation-prefix=X` or `--annotation-prefix X`; the last one wins).
pub(crate) fn prefix_from_args(words: &[String]) -> Option<String> {
    flag_values(words, "--annotation-prefix").pop()
}

/// Which prefix the ExternalDNS of `deployment` (a Deployment as
/// `kube::get` returns it) reads: its `--annotation-prefix` argument if
/// given, otherwise the default of the release its image tag names.
pub(crate) fn detect(deployment: &Value) -> Detected {
    let text = |p: &str| deployment.pointer(p).and_then(Value::as_str).unwrap_or("?");
    let name = format!("{}/{}", text("/metadata/namespace"), text("/metadata/name"));
    let containers = deployment
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let container = containers
        .iter()
        .find(|c| {
            c.get("name").and_then(Value::as_str) == Some("external-dns")
                || c.get("image")
                    .and_then(Value::as_str)
                    .is_some_and(|i| i.contains("external-dns"))
        })
        .or(containers.first());
    let image = container
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut words = string_list(container.and_then(|c| c.get("command")));
    words.extend(string_list(container.and_then(|c| c.get("args"))));
    let version = image.as_deref().and_then(version_of);
    let version_text = version.map(|(a, b, c)| format!("{a}.{b}.{c}"));
    let image_text = image.clone().unwrap_or_else(|| "(no image)".into());
    let (prefix, reason, from_args) = if let Some(p) = prefix_from_args(&words) {
        (p.clone(), format!("--annotation-prefix={p}"), true)
    } else {
        match version {
            Some(v) if v >= NEW_DEFAULT_SINCE => (
                PREFIX.to_string(),
                format!("image {image_text}: v0.22.0 and later read {PREFIX} by default"),
                false,
            ),
            Some(_) => (
                ALPHA_PREFIX.to_string(),
                format!("image {image_text}: releases before v0.22.0 read {ALPHA_PREFIX} by default"),
                false,
            ),
            None => (
                PREFIX.to_string(),
                format!("image {image_text} names no version; assuming the default of current releases, {PREFIX}"),
                false,
            ),
        }
    };
    Detected {
        deployment: name,
        prefix,
        reason,
        image,
        version: version_text,
        from_args,
    }
}

/// The deprecated flags among an ExternalDNS container's `words` (its
/// command and args), each with its replacement, for the release `image`
/// names: a flag is named only when that release knows the replacement.
pub(crate) fn deprecated_flags(image: &str, words: &[String]) -> Vec<String> {
    let knows_axfr = version_of(image).is_some_and(|v| v >= RFC2136_AXFR_SINCE);
    words
        .iter()
        .filter(|w| {
            knows_axfr && (*w == "--rfc2136-tsig-axfr" || w.starts_with("--rfc2136-tsig-axfr="))
        })
        .map(|_| "--rfc2136-tsig-axfr is deprecated, use --rfc2136-axfr".to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, args: &[&str]) -> Value {
        json!({"metadata": {"name": "external-dns", "namespace": "dns"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "sidecar", "image": "busybox:1.36"},
                   {"name": "external-dns", "image": image, "args": args}]}}}})
    }

    #[test]
    fn versions_from_image_tags() {
        assert_eq!(
            version_of("registry.k8s.io/external-dns/external-dns:v0.22.0"),
            Some((0, 22, 0))
        );
        assert_eq!(version_of("external-dns:0.21.1-debian"), Some((0, 21, 1)));
        assert_eq!(
            version_of("localhost:5000/external-dns:v0.23.1@sha256:abcd"),
            Some((0, 23, 1))
        );
        assert_eq!(version_of("localhost:5000/external-dns"), None);
        assert_eq!(version_of("external-dns:latest"), None);
    }

    #[test]
    fn tag_decides_without_the_argument() {
        let d = detect(&deployment(
            "registry.k8s.io/external-dns/external-dns:v0.22.0",
            &["--source=ingress"],
        ));
        assert_eq!(d.prefix, PREFIX);
        assert_eq!(d.deployment, "dns/external-dns");
        assert_eq!(d.version.as_deref(), Some("0.22.0"));
        assert!(!d.from_args);
        assert!(d.reason.contains("v0.22.0 and later"), "{}", d.reason);
        let d = detect(&deployment(
            "registry.k8s.io/external-dns/external-dns:v0.21.3",
            &[],
        ));
        assert_eq!(d.prefix, ALPHA_PREFIX);
        assert!(d.reason.contains("before v0.22.0"), "{}", d.reason);
        let d = detect(&deployment("external-dns:latest", &[]));
        assert_eq!(d.prefix, PREFIX);
        assert!(d.reason.contains("names no version"), "{}", d.reason);
    }

    #[test]
    fn the_argument_wins() {
        let d = detect(&deployment(
            "registry.k8s.io/external-dns/external-dns:v0.22.0",
            &[
                "--source=ingress",
                "--annotation-prefix=external-dns.alpha.kubernetes.io/",
            ],
        ));
        assert_eq!(d.prefix, ALPHA_PREFIX);
        assert!(d.from_args);
        let d = detect(&deployment(
            "external-dns:v0.14.0",
            &["--annotation-prefix", "external-dns.kubernetes.io/"],
        ));
        assert_eq!(d.prefix, PREFIX);
        assert_eq!(d.reason, "--annotation-prefix=external-dns.kubernetes.io/");
    }

    #[test]
    fn what_each_release_knows() {
        let old = release("registry.k8s.io/external-dns/external-dns:v0.14.2");
        assert_eq!(old.version.as_deref(), Some("0.14.2"));
        assert!(!old.knows_annotation_prefix && !old.policy_required);
        assert_eq!(old.default_policy, "sync");
        let flag = release("registry.k8s.io/external-dns/external-dns:v0.20.0");
        assert!(flag.knows_annotation_prefix && !flag.policy_required);
        let current = release("registry.k8s.io/external-dns/external-dns:v0.22.0");
        assert!(current.knows_annotation_prefix && current.policy_required);
        assert_eq!(current.default_policy, "");
        let untagged = release("registry.lan/external-dns");
        assert!(!untagged.knows_annotation_prefix && untagged.policy_required);
    }

    #[test]
    fn images_and_flags() {
        assert!(is_external_dns_image(
            "registry.k8s.io/external-dns/external-dns:v0.13.4"
        ));
        assert!(is_external_dns_image(
            "docker.io/bitnami/external-dns@sha256:ab"
        ));
        assert!(!is_external_dns_image(
            "registry.k8s.io/external-dns/other:v1"
        ));
        assert_eq!(image_name("docker.io/traefik:v3.4.1"), "traefik");
        assert_eq!(image_name("localhost:5000/traefik"), "traefik");
        let words: Vec<String> = [
            "--domain-filter=a.test",
            "--events",
            "--domain-filter",
            "b.test",
            "--txt-owner-id",
            "--policy=sync",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(flag_values(&words, "--domain-filter"), ["a.test", "b.test"]);
        // A flag followed by another flag has no value.
        assert!(flag_values(&words, "--txt-owner-id").is_empty());
        assert!(flag_values(&words, "--domain").is_empty());
    }

    #[test]
    fn configuration_choices() {
        assert_eq!(prefixes("both"), [ALPHA_PREFIX, PREFIX]);
        assert_eq!(prefixes(PREFIX), [PREFIX]);
        assert!(check_choice(ALPHA_PREFIX).is_ok());
        let err = check_choice("external-dns.kubernetes.io").unwrap_err();
        assert!(
            err.contains("did you mean external-dns.kubernetes.io/?"),
            "{err}"
        );
        assert!(err.contains("both"), "{err}");
    }

    #[test]
    fn tsig_axfr_is_deprecated_only_where_its_replacement_exists() {
        let words = vec![
            "--provider=rfc2136".to_string(),
            "--rfc2136-tsig-axfr".to_string(),
        ];
        assert_eq!(
            deprecated_flags("registry.k8s.io/external-dns/external-dns:v0.22.0", &words),
            ["--rfc2136-tsig-axfr is deprecated, use --rfc2136-axfr"]
        );
        // v0.14.2 has no --rfc2136-axfr: nothing to move to.
        assert!(
            deprecated_flags("registry.k8s.io/external-dns/external-dns:v0.14.2", &words)
                .is_empty()
        );
    }
}
