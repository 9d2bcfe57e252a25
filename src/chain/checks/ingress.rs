//! The Ingress: it exists, Traefik's class, the host.

use super::super::check::Check;
use super::super::ingress;
use super::super::subject::Subject;
use serde_json::Value;

/// `ingress`: the Ingress `<namespace>/<name>` exists.
pub(crate) fn exists(s: &Subject, found: Option<&Value>) -> Check {
    match found {
        Some(_) => Check::pass(
            "ingress",
            format!("Ingress {}/{} exists", s.namespace, s.name),
        ),
        None => Check::fail(
            "ingress",
            format!("no Ingress {}/{}", s.namespace, s.name),
            format!(
                "deploy the service (wildrun scripts/public.rhai --name {}), or pass --namespace",
                s.name
            ),
        ),
    }
}

/// `ingress-class`: its class (field or annotation) is `ingress.className`.
pub(crate) fn class(s: &Subject, ing: &Value) -> Check {
    let class = ingress::class(ing);
    let wanted = s.ingress_class.as_deref().unwrap_or_default();
    Check::judged(
        "ingress-class",
        class == Some(wanted),
        format!("class {}", class.unwrap_or("(none)")),
        format!(
            "set spec.ingressClassName to {wanted} (configuration ingress.className), or fix the configuration"
        ),
    )
}

/// `ingress-host`: a rule serves the host.
pub(crate) fn host(s: &Subject, ing: &Value) -> Check {
    let hosts = ingress::hosts(ing);
    let listed = if hosts.is_empty() {
        "(none)".to_string()
    } else {
        hosts.join(", ")
    };
    Check::judged(
        "ingress-host",
        hosts.iter().any(|h| h == s.host()),
        format!("host {listed}"),
        format!(
            "the Ingress should serve {}; redeploy with the recipe, or check cloud.domain / cloud.internalDomain",
            s.host()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    #[test]
    fn the_ingress_and_its_class_and_host() {
        let s = Subject::example();
        assert_eq!(exists(&s, None).found, "no Ingress shop/web");
        let ing = json!({"metadata": {"annotations": {"kubernetes.io/ingress.class": "traefik"}},
                         "spec": {"rules": [{"host": "web.example.com"}]}});
        assert_eq!(exists(&s, Some(&ing)).status, CheckStatus::Pass);
        assert_eq!(class(&s, &ing).status, CheckStatus::Pass);
        assert_eq!(host(&s, &ing).found, "host web.example.com");
        let other =
            json!({"spec": {"ingressClassName": "nginx", "rules": [{"host": "x.example.com"}]}});
        let c = class(&s, &other);
        assert_eq!(
            (c.status, c.found.as_str()),
            (CheckStatus::Fail, "class nginx")
        );
        assert!(c.hint.unwrap().contains("ingress.className"));
        let h = host(&s, &other);
        assert_eq!(h.status, CheckStatus::Fail);
        assert!(h.hint.unwrap().contains("should serve web.example.com"));
        assert_eq!(host(&s, &json!({})).found, "host (none)");
    }
}
