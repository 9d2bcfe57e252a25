//! The Gateway API part of `doctor::` (installed in the same namespace by
//! [`super::DoctorPackage`]): the checks of a service routed by an
//! HTTPRoute ([`crate::chain::checks::gateway`]) and what the doctor's
//! stdlib reads from a route and its Gateway ([`crate::chain::httproute`]).

use super::super::support::{script_error, to_json, to_script, RhaiResultOf};
use super::args::{check, object, objects, subject};
use crate::chain::checks::{self, gateway};
use crate::chain::httproute;
use rhai::plugin::*;
use rhai::Map;
use serde_json::Value;

/// The `doctor::` functions for HTTPRoutes.
#[export_module]
pub mod gateway_api {
    /// The subject completed from the HTTPRoute (`()` when there is none):
    /// `internal` (`--visibility`, else whether the route applies a
    /// Middleware as an ExtensionRef filter), `host` and `target`.
    #[rhai_fn(return_raw)]
    pub fn httproute_subject(
        ctx: NativeCallContext,
        subject: Map,
        route: Dynamic,
    ) -> RhaiResultOf<Map> {
        let mut s = super::subject(
            &ctx,
            "httproute_subject",
            &Dynamic::from_map(subject.clone()),
        )?;
        let route = super::object(&route)?;
        if s.visibility.is_none() {
            let internal = route
                .as_ref()
                .is_some_and(|r| !httproute::middlewares(r).is_empty());
            s.visibility = Some(if internal { "internal" } else { "public" }.to_string());
        }
        let decided = s
            .decide(route.as_ref())
            .map_err(|e| script_error(&ctx, e))?;
        let mut out = subject;
        out.insert("internal".into(), decided.internal.into());
        out.insert(
            "host".into(),
            decided.host.map_or(Dynamic::UNIT, Dynamic::from),
        );
        out.insert(
            "target".into(),
            decided.target.map_or(Dynamic::UNIT, Dynamic::from),
        );
        Ok(out)
    }

    /// The route's first parent Gateway listener: `#{ namespace, name,
    /// section }`, or `()`.
    #[rhai_fn(return_raw)]
    pub fn httproute_parent(ctx: NativeCallContext, route: Map) -> RhaiResultOf<Dynamic> {
        let route = to_json(&Dynamic::from_map(route))?;
        match httproute::parents(&route).first() {
            Some(p) => to_script(&ctx, p),
            None => Ok(Dynamic::UNIT),
        }
    }

    /// The Secret the route's listener terminates TLS with, for `host`:
    /// `#{ namespace, name }`, or `()`.
    #[rhai_fn(return_raw)]
    pub fn listener_secret(route: Map, gateway: Map, host: &str) -> RhaiResultOf<Dynamic> {
        let route = to_json(&Dynamic::from_map(route))?;
        let gateway = to_json(&Dynamic::from_map(gateway))?;
        let found = httproute::parents(&route).first().and_then(|p| {
            let listener = httproute::listener(&gateway, p, host)?;
            httproute::listener_secret(&gateway, listener)
        });
        Ok(super::secret_ref(found))
    }

    /// The backend of the route's first rule: `#{ service, port }`, or `()`.
    #[rhai_fn(return_raw)]
    pub fn httproute_backend(ctx: NativeCallContext, route: Map) -> RhaiResultOf<Dynamic> {
        let route = to_json(&Dynamic::from_map(route))?;
        match httproute::backends(&route).first() {
            Some(b) => to_script(&ctx, b),
            None => Ok(Dynamic::UNIT),
        }
    }

    /// `route`: the HTTPRoute (`()`: missing) exists.
    #[rhai_fn(return_raw)]
    pub fn httproute(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "httproute", &subject)?;
        let route = super::object(&route)?;
        super::check(&ctx, &gateway::exists(&s, route.as_ref()))
    }

    /// `route-host`: the route serves the host.
    #[rhai_fn(return_raw)]
    pub fn httproute_host(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Map,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "httproute_host", &subject)?;
        let route = to_json(&Dynamic::from_map(route))?;
        super::check(&ctx, &gateway::host(&s, &route))
    }

    /// `route-accepted`: the parent Gateway (`()`: missing) accepted the route.
    #[rhai_fn(return_raw)]
    pub fn httproute_accepted(
        ctx: NativeCallContext,
        route: Map,
        gateway: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let route = to_json(&Dynamic::from_map(route))?;
        let gw = super::object(&gateway)?;
        super::check(&ctx, &gateway::accepted(&route, gw.as_ref()))
    }

    /// `route-refs`: the parent resolved the route's references.
    #[rhai_fn(return_raw)]
    pub fn httproute_refs(ctx: NativeCallContext, route: Map) -> RhaiResultOf<Dynamic> {
        let route = to_json(&Dynamic::from_map(route))?;
        super::check(&ctx, &gateway::resolved_refs(&route))
    }

    /// `listener`: the Gateway (`()`: missing) has the route's listener,
    /// resolved and programmed.
    #[rhai_fn(return_raw)]
    pub fn httproute_listener(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Map,
        gateway: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "httproute_listener", &subject)?;
        let route = to_json(&Dynamic::from_map(route))?;
        let gw = super::object(&gateway)?;
        super::check(&ctx, &gateway::listener(&s, &route, gw.as_ref()))
    }

    /// `reference-grant`: the listener's Secret (`#{ namespace, name }`,
    /// `()`: none) is granted to the Gateway by one of `grants`.
    #[rhai_fn(return_raw)]
    pub fn reference_grant(
        ctx: NativeCallContext,
        gateway: Map,
        secret: Dynamic,
        grants: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let gw = to_json(&Dynamic::from_map(gateway))?;
        let secret = super::object(&secret)?.and_then(|v| {
            let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            Some((text("namespace")?, text("name")?))
        });
        let grants = super::objects(&ctx, "reference_grant", &grants)?;
        super::check(
            &ctx,
            &gateway::reference_grant(&gw, secret.as_ref(), &grants),
        )
    }

    /// `gateway-address`: the Gateway has Traefik's address
    /// (`cluster.loadBalancerIp` when set).
    #[rhai_fn(return_raw)]
    pub fn gateway_address(
        ctx: NativeCallContext,
        subject: Dynamic,
        gateway: Map,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "gateway_address", &subject)?;
        let gw = to_json(&Dynamic::from_map(gateway))?;
        super::check(&ctx, &gateway::address(&gw, s.load_balancer_ip.as_deref()))
    }

    /// `externaldns-gateway`: an ExternalDNS of `deployments` reads
    /// HTTPRoutes and the Gateway carries the target under its prefix.
    #[rhai_fn(return_raw)]
    pub fn externaldns_gateway(
        ctx: NativeCallContext,
        subject: Dynamic,
        gateway: Map,
        deployments: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "externaldns_gateway", &subject)?;
        let gw = to_json(&Dynamic::from_map(gateway))?;
        let deployments = super::objects(&ctx, "externaldns_gateway", &deployments)?;
        super::check(&ctx, &gateway::externaldns(&s, &gw, &deployments))
    }

    /// `service`: the route's backend Service (`()`: missing) has its port.
    #[rhai_fn(return_raw)]
    pub fn httproute_service(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Map,
        service: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "httproute_service", &subject)?;
        let route = to_json(&Dynamic::from_map(route))?;
        let svc = super::object(&service)?;
        let backend = httproute::backends(&route).into_iter().next();
        super::check(
            &ctx,
            &checks::backend::service(&s, httproute::KIND, backend.as_ref(), svc.as_ref()),
        )
    }

    /// `middleware-ref`: the route applies the internal-only Middleware.
    #[rhai_fn(return_raw)]
    pub fn httproute_middleware_ref(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Map,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "httproute_middleware_ref", &subject)?;
        let route = to_json(&Dynamic::from_map(route))?;
        super::check(&ctx, &gateway::middleware_ref(&s, &route))
    }

    /// `gateway-class` of `doctor --layer`: the GatewayClass `name` among
    /// `classes` (as `kube::list` returns them) names Traefik's controller
    /// and is Accepted.
    #[rhai_fn(return_raw)]
    pub fn gateway_class(
        ctx: NativeCallContext,
        name: &str,
        classes: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let classes = super::objects(&ctx, "gateway_class", &classes)?;
        super::check(&ctx, &gateway::gateway_class(name, &classes))
    }

    /// The Secret the first listener of `gateway` terminates TLS with:
    /// `#{ namespace, name }`, or `()`.
    #[rhai_fn(return_raw)]
    pub fn gateway_secret(gateway: rhai::Map) -> RhaiResultOf<Dynamic> {
        let gw = to_json(&Dynamic::from_map(gateway))?;
        Ok(super::secret_ref(gateway::gateway_secret(&gw)))
    }

    /// `gateway-<name>` (`gateway-public`, `gateway-internal`) of `doctor
    /// --layer`: the Gateway `namespace/name` (`gateway`, `()`: missing), its
    /// certificate `secret` (`()`: missing), the ReferenceGrants of the
    /// Secret's namespace, and Traefik's address (`()`: any).
    #[rhai_fn(return_raw)]
    pub fn layer_gateway(
        ctx: NativeCallContext,
        namespace: &str,
        name: &str,
        gateway: Dynamic,
        secret: Dynamic,
        grants: Dynamic,
        load_balancer_ip: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let gw = super::object(&gateway)?;
        let secret = super::object(&secret)?;
        let grants = super::objects(&ctx, "layer_gateway", &grants)?;
        let ip = load_balancer_ip.into_string().ok();
        super::check(
            &ctx,
            &gateway::layer_gateway(
                &format!("gateway-{name}"),
                (namespace, name),
                gw.as_ref(),
                secret.as_ref(),
                &grants,
                ip.as_deref(),
            ),
        )
    }

    /// `externaldns-httproute` of `doctor --layer`: an ExternalDNS among
    /// `deployments` (found by image) reads HTTPRoutes.
    #[rhai_fn(return_raw)]
    pub fn externaldns_source(
        ctx: NativeCallContext,
        domain: &str,
        deployments: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let deployments = super::objects(&ctx, "externaldns_source", &deployments)?;
        super::check(&ctx, &gateway::externaldns_source(domain, &deployments))
    }
}

/// `#{ namespace, name }` of a Secret, or `()`.
fn secret_ref(found: Option<(String, String)>) -> Dynamic {
    match found {
        Some((namespace, name)) => {
            let mut map = rhai::Map::new();
            map.insert("namespace".into(), namespace.into());
            map.insert("name".into(), name.into());
            Dynamic::from_map(map)
        }
        None => Dynamic::UNIT,
    }
}
