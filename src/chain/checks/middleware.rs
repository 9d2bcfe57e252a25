//! The internal-only middleware of an internal service: it exists, the
//! Ingress names it, and it admits `cluster.internalSourceRanges`.

use super::super::check::Check;
use super::super::ingress;
use super::super::names::{
    internal_only_reference, INTERNAL_ONLY_MIDDLEWARE, MIDDLEWARES_ANNOTATION,
};
use super::super::subject::Subject;
use serde_json::Value;

/// The ranges an allowlist Middleware admits (`ipAllowList.sourceRange`).
pub(crate) fn allowed_ranges(middleware: &Value) -> Vec<String> {
    crate::objects::string_list(middleware.pointer("/spec/ipAllowList/sourceRange"))
}

/// The forms of a Traefik Middleware that current releases dropped, each
/// named with its replacement.
pub(crate) fn deprecated_forms(middleware: &Value) -> Vec<String> {
    let mut forms = Vec::new();
    if middleware.pointer("/spec/ipWhiteList").is_some() {
        forms.push("ipWhiteList is ipAllowList in Traefik v3".to_string());
    }
    forms
}

/// `middleware`, `middleware-ref`, `middleware-ranges`.
pub(crate) fn internal_only(s: &Subject, ing: &Value, middleware: Option<&Value>) -> Vec<Check> {
    let ns = &s.namespace;
    let wanted = internal_only_reference(ns);
    let refs = ingress::middlewares(ing);
    let listed = ingress::annotation(ing, MIDDLEWARES_ANNOTATION).unwrap_or("(missing)");
    let mut checks = vec![
        Check::judged(
            "middleware",
            middleware.is_some(),
            if middleware.is_some() {
                format!("Middleware {ns}/{INTERNAL_ONLY_MIDDLEWARE} exists")
            } else {
                format!("no Middleware {ns}/{INTERNAL_ONLY_MIDDLEWARE}")
            },
            "run the internal recipe: it applies the internal-only middleware",
        ),
        Check::judged(
            "middleware-ref",
            refs.contains(&wanted),
            format!("router.middlewares {listed}"),
            format!("annotate the Ingress {MIDDLEWARES_ANNOTATION}={wanted}"),
        ),
    ];
    checks.push(match middleware {
        None => Check::skip("middleware-ranges", "no middleware"),
        Some(mw) => {
            let ranges = allowed_ranges(mw);
            let expected = s.ranges();
            let same = ranges.len() == expected.len() && ranges.iter().all(|r| expected.contains(r));
            Check::judged(
                "middleware-ranges",
                same,
                format!("sourceRange {ranges:?}"),
                format!("expected {expected:?} (cluster.internalSourceRanges); run the internal recipe again"),
            )
        }
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    #[test]
    fn the_internal_only_middleware() {
        let s = Subject {
            namespace: "shop".into(),
            source_ranges: Some(vec!["10.0.0.0/8".into()]),
            ..Subject::default()
        };
        let ing = json!({"metadata": {"annotations": {
            "traefik.ingress.kubernetes.io/router.middlewares": "shop-internal-only@kubernetescrd"}}});
        let mw = json!({"spec": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}}});
        let checks = internal_only(&s, &ing, Some(&mw));
        assert!(checks.iter().all(Check::passed), "{checks:?}");
        let wide = json!({"spec": {"ipAllowList": {"sourceRange": ["0.0.0.0/0"]}}});
        let c = &internal_only(&s, &json!({}), Some(&wide));
        assert_eq!(c[1].found, "router.middlewares (missing)");
        assert_eq!(c[2].found, "sourceRange [\"0.0.0.0/0\"]");
        assert_eq!(c[2].status, CheckStatus::Fail);
        let c = internal_only(&s, &ing, None);
        assert_eq!(c[0].found, "no Middleware shop/internal-only");
        assert_eq!(c[2].status, CheckStatus::Skip);
    }

    #[test]
    fn ip_white_list_is_named_with_its_replacement() {
        let old = json!({"spec": {"ipWhiteList": {"sourceRange": ["10.0.0.0/8"]}}});
        assert_eq!(
            deprecated_forms(&old),
            ["ipWhiteList is ipAllowList in Traefik v3"]
        );
        let current = json!({"spec": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}}});
        assert!(deprecated_forms(&current).is_empty());
    }
}
