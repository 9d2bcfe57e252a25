//! The backend: the Service and its port, and its ready endpoints.

use super::super::check::Check;
use super::super::ingress::Backend;
use super::super::subject::Subject;
use super::text;
use crate::objects::ports::service_ports;
use serde_json::Value;

/// `service`: the backend Service exists and has the port the route (an
/// Ingress, or the `by` kind: `HTTPRoute`, `IngressRoute`) names.
pub(crate) fn service(
    s: &Subject,
    by: &str,
    backend: Option<&Backend>,
    service: Option<&Value>,
) -> Check {
    const NAME: &str = "service";
    let Some(backend) = backend else {
        return Check::fail(
            NAME,
            format!("the {by} names no backend service"),
            format!("give the {by} rule a backend Service; redeploy with the recipe"),
        );
    };
    let Some(service) = service else {
        let hint = if s.by_recipe() {
            format!(
                "create the Service {} (the recipe applies it), or fix the {by} backend",
                backend.service
            )
        } else {
            format!(
                "create the Service {} in {}, or fix the {by}'s backend",
                backend.service, s.namespace
            )
        };
        return Check::fail(
            NAME,
            format!("no Service {}/{}", s.namespace, backend.service),
            hint,
        );
    };
    let ports = service_ports(service);
    let listed = if ports.is_empty() {
        "none".to_string()
    } else {
        ports
            .iter()
            .map(|p| p.port.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let wanted = &backend.port;
    Check::judged(
        NAME,
        ports.iter().any(|p| p.is(wanted)),
        format!(
            "Service {} ports {listed}; the {by} wants {wanted}",
            backend.service
        ),
        if s.by_recipe() {
            format!(
                "make the {by} backend port {wanted} match a Service port ({listed}), or redeploy both with the same --port"
            )
        } else {
            format!("make the {by}'s backend port {wanted} match a Service port ({listed}), by number or name")
        },
    )
}

/// The Service's selector as `kubectl -l` takes it (`app=web`).
pub(crate) fn selector(service: &Value) -> String {
    service
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Ready and total endpoints of `slices` (an unset ready condition means
/// ready, as discovery.k8s.io/v1 says).
pub(crate) fn count_endpoints(slices: &[Value]) -> (usize, usize) {
    let endpoints: Vec<&Value> = slices
        .iter()
        .filter_map(|s| s.get("endpoints").and_then(Value::as_array))
        .flatten()
        .collect();
    let ready = endpoints
        .iter()
        .filter(|e| {
            e.pointer("/conditions/ready")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        })
        .count();
    (ready, endpoints.len())
}

/// `endpoints`: an EndpointSlice of the Service has a ready endpoint.
pub(crate) fn endpoints(service: &Value, slices: &[Value]) -> Check {
    let (ready, total) = count_endpoints(slices);
    let namespace = text(service, "/metadata/namespace").unwrap_or_default();
    let pods = selector(service);
    Check::judged(
        "endpoints",
        ready > 0,
        format!("{ready} of {total} endpoints ready"),
        if total == 0 {
            format!("no pods match the Service selector; check the Deployment (kubectl -n {namespace} get pods -l {pods})")
        } else {
            format!("no pod is ready; check why (kubectl -n {namespace} describe pods -l {pods})")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use crate::objects::ports::PortRef;
    use serde_json::json;

    fn service_value() -> Value {
        json!({"metadata": {"name": "web-http", "namespace": "shop"},
               "spec": {"selector": {"app": "web"},
                        "ports": [{"name": "http", "port": 80, "targetPort": "web"},
                                  {"port": 8443, "targetPort": 8443}]}})
    }

    #[test]
    fn a_port_by_number_or_name() {
        let s = Subject {
            namespace: "shop".into(),
            ..Subject::default()
        };
        let svc = service_value();
        let by_name = Backend {
            service: "web-http".into(),
            port: PortRef::Name("http".into()),
        };
        assert_eq!(
            service(&s, "Ingress", Some(&by_name), Some(&svc)).status,
            CheckStatus::Pass
        );
        let wrong = Backend {
            service: "web-http".into(),
            port: PortRef::Number(8080),
        };
        let c = service(&s, "Ingress", Some(&wrong), Some(&svc));
        assert_eq!(
            c.found,
            "Service web-http ports 80, 8443; the Ingress wants 8080"
        );
        assert_eq!(c.status, CheckStatus::Fail);
        assert_eq!(
            service(&s, "Ingress", Some(&wrong), None).found,
            "no Service shop/web-http"
        );
        assert_eq!(service(&s, "Ingress", None, None).status, CheckStatus::Fail);
        let ports = service_ports(&svc);
        assert_eq!(ports[0].target, PortRef::Name("web".into()));
        assert_eq!(ports[1].target, PortRef::Number(8443));
    }

    #[test]
    fn ready_endpoints() {
        let svc = service_value();
        let slices = [json!({"endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": false}},
            {"addresses": ["10.0.0.2"]}]})];
        assert_eq!(count_endpoints(&slices), (1, 2));
        assert_eq!(endpoints(&svc, &slices).status, CheckStatus::Pass);
        let c = endpoints(&svc, &[]);
        assert_eq!(c.found, "0 of 0 endpoints ready");
        assert_eq!(c.hint.as_deref(), Some("no pods match the Service selector; check the Deployment (kubectl -n shop get pods -l app=web)"));
    }
}
