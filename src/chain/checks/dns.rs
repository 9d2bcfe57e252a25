//! The name: the ExternalDNS annotations, the prefix the cluster's
//! ExternalDNS reads, and the record itself.

use super::super::check::Check;
use super::super::ingress;
use super::super::names::{EXTERNALDNS_ALPHA_PREFIX, EXTERNALDNS_PREFIX, TARGET, TTL};
use super::super::subject::Subject;
use crate::dns::Expectation;
use serde_json::Value;

/// `externaldns`: wildrun's own Ingress carries the target (under either
/// prefix) and a TTL (a route found by host: [`super::publisher`]).
pub(crate) fn annotations(s: &Subject, ing: &Value) -> Check {
    let target = ingress::externaldns_annotation(ing, TARGET, s.target.as_deref());
    let ttl = ingress::externaldns_annotation(ing, TTL, None);
    let kind = if s.internal { "an A record" } else { "a CNAME" };
    Check::judged(
        "externaldns",
        target == s.target.as_deref() && target.is_some() && ttl.is_some(),
        format!(
            "target {}, ttl {}",
            target.unwrap_or("(missing)"),
            ttl.unwrap_or("(missing)")
        ),
        format!(
            "annotate the Ingress {EXTERNALDNS_PREFIX}{TARGET}={} ({kind}) and .../{TTL} (and the same under {EXTERNALDNS_ALPHA_PREFIX} for ExternalDNS before v0.22.0); redeploy with the recipe",
            s.target()
        ),
    )
}

/// `externaldns-prefix`: the Ingress carries the target under the prefix
/// each ExternalDNS of `deployments` reads (its `--annotation-prefix`, else
/// its release's default).
pub(crate) fn prefix(s: &Subject, ing: &Value, deployments: &[Value]) -> Check {
    const NAME: &str = "externaldns-prefix";
    // Found by image, whatever their labels.
    let deployments: Vec<&Value> = deployments
        .iter()
        .filter(|d| crate::discover::runs_image(d, crate::externaldns::is_external_dns_image))
        .collect();
    if deployments.is_empty() {
        return Check::skip(
            NAME,
            "no ExternalDNS Deployment found (by image, any namespace): cannot tell which annotation prefix it reads",
        );
    }
    // Grouped by prefix and reason: which Deployments read what, and why.
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for found in deployments.into_iter().map(crate::externaldns::detect) {
        match groups
            .iter_mut()
            .find(|(p, r, _)| *p == found.prefix && *r == found.reason)
        {
            Some(group) => group.2.push(found.deployment),
            None => groups.push((found.prefix, found.reason, vec![found.deployment])),
        }
    }
    let mut missing: Vec<&str> = Vec::new();
    for (prefix, _, _) in &groups {
        let carried = ingress::annotation(ing, &format!("{prefix}{TARGET}"));
        if carried != s.target.as_deref() && !missing.contains(&prefix.as_str()) {
            missing.push(prefix);
        }
    }
    let what = groups
        .iter()
        .map(|(prefix, reason, names)| {
            let verb = if names.len() > 1 { "read" } else { "reads" };
            format!("{} {verb} {prefix} ({reason})", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let Some(prefix) = missing.first() else {
        return Check::pass(
            NAME,
            format!("ExternalDNS {what}: the Ingress has its target"),
        );
    };
    let setting = if missing.len() > 1 { "both" } else { prefix };
    let target = s.target();
    Check::fail(
        NAME,
        format!("ExternalDNS {what}; the Ingress has no {prefix}{TARGET} {target}"),
        format!(
            "ExternalDNS ignores this Ingress's target (it writes an A record to Traefik, or nothing): redeploy with dns.annotationPrefix=both (the default) or {setting} (DNS_ANNOTATION_PREFIX), or annotate the Ingress {prefix}{TARGET}={target} and {prefix}{TTL}"
        ),
    )
}

/// `dns`: the host points at the target, as `dns::expect` found
/// (asking `server` when one was named).
pub(crate) fn record(s: &Subject, found: &Expectation, server: Option<&str>) -> Check {
    let host = s.host();
    let target = s.target();
    let hint = match found.status.as_str() {
        "nxdomain" => "no record yet: is ExternalDNS running and watching Ingresses? Find it and read its logs (kubectl get deployments -A | grep external-dns)".to_string(),
        "timeout" => "the nameserver did not answer; check --dns-server and that it is reachable".to_string(),
        "error" => "the nameserver failed the query; check --dns-server and the zone".to_string(),
        _ if s.internal => format!(
            "{host} must be an A record to {target}; fix the record or the Ingress's external-dns target annotation"
        ),
        _ => format!(
            "{host} must be a CNAME to {target}; remove the other record so ExternalDNS can write the CNAME"
        ),
    };
    let via = server
        .filter(|s| !s.is_empty())
        .map(|s| format!(" (asked {s})"))
        .unwrap_or_default();
    Check::judged("dns", found.ok, format!("{}{via}", found.message), hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    fn subject() -> Subject {
        Subject::example()
    }

    fn ing(annotations: Value) -> Value {
        json!({"metadata": {"annotations": annotations}})
    }

    fn externaldns(image: &str, args: &[&str]) -> Value {
        json!({"metadata": {"name": "external-dns", "namespace": "dns"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "external-dns", "image": image, "args": args}]}}}})
    }

    #[test]
    fn target_and_ttl() {
        let s = subject();
        let good = ing(
            json!({"external-dns.alpha.kubernetes.io/target": "example.com",
                              "external-dns.alpha.kubernetes.io/ttl": "60"}),
        );
        let c = annotations(&s, &good);
        assert_eq!(
            (c.status, c.found.as_str()),
            (CheckStatus::Pass, "target example.com, ttl 60")
        );
        let c = annotations(
            &s,
            &ing(json!({"external-dns.kubernetes.io/target": "other.com"})),
        );
        assert_eq!(c.found, "target other.com, ttl (missing)");
        assert!(c.hint.unwrap().starts_with(
            "annotate the Ingress external-dns.kubernetes.io/target=example.com (a CNAME)"
        ));
        assert_eq!(
            annotations(&s, &ing(json!({}))).found,
            "target (missing), ttl (missing)"
        );
    }

    #[test]
    fn the_prefix_each_externaldns_reads() {
        let s = subject();
        let alpha_only = ing(json!({"external-dns.alpha.kubernetes.io/target": "example.com"}));
        let new = externaldns("registry.k8s.io/external-dns/external-dns:v0.22.0", &[]);
        let c = prefix(&s, &alpha_only, std::slice::from_ref(&new));
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found
                .contains("the Ingress has no external-dns.kubernetes.io/target example.com"),
            "{}",
            c.found
        );
        assert!(c
            .hint
            .unwrap()
            .contains("or external-dns.kubernetes.io/ (DNS_ANNOTATION_PREFIX)"));
        let old = externaldns("registry.k8s.io/external-dns/external-dns:v0.21.0", &[]);
        let c = prefix(&s, &alpha_only, &[old.clone(), old]);
        assert_eq!(c.status, CheckStatus::Pass);
        assert!(c.found.starts_with("ExternalDNS dns/external-dns, dns/external-dns read external-dns.alpha.kubernetes.io/"), "{}", c.found);
        assert_eq!(prefix(&s, &alpha_only, &[]).status, CheckStatus::Skip);
    }

    #[test]
    fn the_record() {
        let s = subject();
        let mut found = Expectation {
            ok: false,
            name: "web.example.com".into(),
            target: "example.com".into(),
            expected: "CNAME".into(),
            found: "NXDOMAIN".into(),
            status: "nxdomain".into(),
            message: "web.example.com does not exist (NXDOMAIN)".into(),
            records: Vec::new(),
        };
        let c = record(&s, &found, Some("127.0.0.1:53"));
        assert_eq!(
            c.found,
            "web.example.com does not exist (NXDOMAIN) (asked 127.0.0.1:53)"
        );
        assert!(c.hint.unwrap().starts_with("no record yet"));
        found.status = "ok".into();
        let c = record(&s, &found, None);
        assert_eq!(c.hint.as_deref(), Some("web.example.com must be a CNAME to example.com; remove the other record so ExternalDNS can write the CNAME"));
        found.ok = true;
        assert_eq!(record(&s, &found, None).status, CheckStatus::Pass);
    }
}
