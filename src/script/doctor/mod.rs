//! `doctor::` for scripts: the chain's rules and names (`crate::chain`), so
//! the doctor's stdlib reads them instead of restating them. The stdlib
//! reads the cluster and chooses, orders and prints the checks; every
//! verdict and its words come from here.

mod args;
mod gateway;

use super::support::{script_error, to_json, to_script, RhaiResultOf, RunHandle};
use crate::chain::check::Check;
use crate::chain::checks::client_address;
use crate::chain::subject::SubjectError;
use crate::chain::{checks, ingress, names, route};
use args::{
    check, checks_to_script, lookups, object, objects, optional_text, route_of, subject, text,
    typed,
};
use rhai::plugin::*;
use rhai::{Array, Map};
use serde_json::Value;

/// The `doctor` module scripts call as `doctor::subject(...)`.
#[export_module]
pub mod doctor_api {
    /// A check: `#{ name, status, found, hint }`, status `"pass"` when
    /// `ok`, else `"fail"` with `hint`.
    #[rhai_fn(return_raw)]
    pub fn check(
        ctx: NativeCallContext,
        name: &str,
        ok: bool,
        found: &str,
        hint: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let hint = super::text(&hint).unwrap_or_default();
        super::check(&ctx, &Check::judged(name, ok, found, hint))
    }

    /// A check not made, and why: status `"skip"`.
    #[rhai_fn(return_raw)]
    pub fn skip(ctx: NativeCallContext, name: &str, why: &str) -> RhaiResultOf<Dynamic> {
        super::check(&ctx, &Check::skip(name, why))
    }

    /// The inputs map `subject` completed from the Ingress (`()` when there
    /// is none): `internal` (`--visibility`, else whether it names a router
    /// middleware), `host`, and the ExternalDNS `target` it should carry.
    #[rhai_fn(return_raw)]
    pub fn subject(
        ctx: NativeCallContext,
        subject: rhai::Map,
        ingress: Dynamic,
    ) -> RhaiResultOf<Map> {
        let s = super::subject(&ctx, "subject", &Dynamic::from_map(subject.clone()))?;
        let ingress = super::object(&ingress)?;
        let decided = match s.decide(ingress.as_ref()) {
            Ok(d) => d,
            // Said as `config::require` says it: the key and how to set it.
            Err(SubjectError::NoLoadBalancerIp) => {
                let run = RunHandle::from_context(&ctx)?;
                let e = run
                    .context()
                    .config
                    .require("cluster.loadBalancerIp")
                    .map(|_| SubjectError::NoLoadBalancerIp.to_string())
                    .unwrap_or_else(|e| e.to_string());
                return Err(script_error(&ctx, e));
            }
            Err(e) => return Err(script_error(&ctx, e)),
        };
        let mut out = subject;
        out.insert("internal".into(), decided.internal.into());
        out.insert("host".into(), super::optional_text(decided.host));
        out.insert("target".into(), super::optional_text(decided.target));
        Ok(out)
    }

    /// The backend of the Ingress's first path: `#{ service, port }` (port
    /// a number or a name), or `()`.
    #[rhai_fn(return_raw)]
    pub fn backend(ctx: NativeCallContext, ingress: rhai::Map) -> RhaiResultOf<Dynamic> {
        let ing = to_json(&Dynamic::from_map(ingress))?;
        match ingress::first_backend(&ing) {
            Some(b) => to_script(&ctx, &b),
            None => Ok(Dynamic::UNIT),
        }
    }

    /// The TLS Secret the Ingress names for `host` (else its first), or `()`.
    #[rhai_fn(return_raw)]
    pub fn tls_secret(ingress: rhai::Map, host: &str) -> RhaiResultOf<Dynamic> {
        let ing = to_json(&Dynamic::from_map(ingress))?;
        Ok(super::optional_text(
            ingress::tls_secret_for(&ing, host).or_else(|| ingress::first_tls_secret(&ing)),
        ))
    }

    /// The ExternalDNS target an object's annotations name (either prefix), or `()`.
    #[rhai_fn(return_raw)]
    pub fn externaldns_target(object: rhai::Map) -> RhaiResultOf<Dynamic> {
        let value = to_json(&Dynamic::from_map(object))?;
        Ok(super::optional_text(ingress::externaldns_target(&value)))
    }

    /// The external addresses MetalLB gave a LoadBalancer Service.
    #[rhai_fn(return_raw)]
    pub fn external_ips(service: rhai::Map) -> RhaiResultOf<Array> {
        let value = to_json(&Dynamic::from_map(service))?;
        Ok(checks::load_balancer::external_ips(&value)
            .into_iter()
            .map(Dynamic::from)
            .collect())
    }

    /// The annotation prefixes a `dns.annotationPrefix` value writes under.
    pub fn annotation_prefixes(choice: &str) -> rhai::Array {
        crate::externaldns::prefixes(choice)
            .into_iter()
            .map(Dynamic::from)
            .collect()
    }

    /// The reference to a namespace's internal-only Middleware that an
    /// Ingress's router-middlewares annotation carries.
    pub fn internal_only_reference(namespace: &str) -> String {
        names::internal_only_reference(namespace)
    }

    /// The forms of a Traefik Middleware current releases dropped, each
    /// named with its replacement (`ipWhiteList is ipAllowList in Traefik v3`).
    #[rhai_fn(return_raw)]
    pub fn deprecated_forms(middleware: rhai::Map) -> RhaiResultOf<Array> {
        let value = to_json(&Dynamic::from_map(middleware))?;
        Ok(checks::middleware::deprecated_forms(&value)
            .into_iter()
            .map(Dynamic::from)
            .collect())
    }

    /// `--host H` or `--url https://H/path`: `#{ host, path }` (the path
    /// without its query), or an error naming what is wrong.
    #[rhai_fn(return_raw)]
    pub fn host_and_path(ctx: NativeCallContext, url: &str) -> RhaiResultOf<Map> {
        let target = crate::https::parse_url(url).map_err(|e| script_error(&ctx, e))?;
        let path = target.path.split('?').next().unwrap_or("/").to_string();
        let mut out = rhai::Map::new();
        out.insert("host".into(), target.host.to_ascii_lowercase().into());
        out.insert("path".into(), path.into());
        Ok(out)
    }

    /// The hosts a route object (an Ingress, IngressRoute or HTTPRoute as
    /// `kube::list` returns it) serves, each `#{ host, path }` (the first
    /// path it names for it, else `/`), for `doctor --instance`.
    #[rhai_fn(return_raw)]
    pub fn route_hosts(ctx: NativeCallContext, route: rhai::Map) -> RhaiResultOf<Dynamic> {
        let value = to_json(&Dynamic::from_map(route))?;
        to_script(&ctx, &route::addresses(&value))
    }

    /// The routes to `host` and `path` among `ingresses` and
    /// `ingress_routes` (as `kube::list` returns them), the one Traefik
    /// picks first: `#{ routes, check }`, `check` the `route` check. Each
    /// route is `#{ kind, namespace, name, class, rule, priority, backends,
    /// tls_secret, tls, middlewares, object }`.
    #[rhai_fn(return_raw)]
    pub fn routes(
        ctx: NativeCallContext,
        host: &str,
        path: &str,
        ingresses: Dynamic,
        ingress_routes: Dynamic,
    ) -> RhaiResultOf<Map> {
        routes_with_http_routes(ctx, host, path, ingresses, ingress_routes, Dynamic::UNIT)
    }

    /// As `routes`, with the Gateway API's HTTPRoutes (`http_routes`) too:
    /// a route of kind `HTTPRoute` serves `host` by its `hostnames` and
    /// `path` by its rules' matches.
    #[rhai_fn(name = "routes", return_raw)]
    pub fn routes_with_http_routes(
        ctx: NativeCallContext,
        host: &str,
        path: &str,
        ingresses: Dynamic,
        ingress_routes: Dynamic,
        http_routes: Dynamic,
    ) -> RhaiResultOf<Map> {
        let ingresses = super::objects(&ctx, "routes", &ingresses)?;
        let ingress_routes = super::objects(&ctx, "routes", &ingress_routes)?;
        let http_routes = super::objects(&ctx, "routes", &http_routes)?;
        let mut unreadable = Vec::new();
        let found = route::find(
            host,
            path,
            &ingresses,
            &ingress_routes,
            &http_routes,
            &mut unreadable,
        );
        let check = checks::route::routes(host, path, &found, &unreadable);
        let mut out = rhai::Map::new();
        out.insert("routes".into(), to_script(&ctx, &found)?);
        out.insert("check".into(), super::check(&ctx, &check)?);
        Ok(out)
    }

    /// The doctor's `inputs` completed from the route Traefik picks: its
    /// namespace and name, kind, the allowlist among `middlewares` (every
    /// Traefik Middleware) as the ranges an asker must be in, its
    /// ExternalDNS target, and the pods of `service` (`()`: none).
    #[rhai_fn(return_raw)]
    pub fn route_subject(
        ctx: NativeCallContext,
        inputs: rhai::Map,
        route: Dynamic,
        middlewares: Dynamic,
        service: Dynamic,
    ) -> RhaiResultOf<Map> {
        let s = super::subject(&ctx, "route_subject", &Dynamic::from_map(inputs.clone()))?;
        let route = super::route_of(&ctx, "route_subject", &route)?;
        let all = super::objects(&ctx, "route_subject", &middlewares)?;
        let svc = super::object(&service)?;
        let completed = checks::route::subject(&s, &route, &all, svc.as_ref());
        let mut out = inputs;
        let fields = to_script(&ctx, &completed)?;
        if let Some(map) = fields.read_lock::<rhai::Map>() {
            for key in [
                "name",
                "namespace",
                "route_kind",
                "internal",
                "source_ranges",
                "target",
                "pods",
            ] {
                if let Some(v) = map.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
        }
        Ok(out)
    }

    /// `ingress-class` of a route: an Ingress's class (field or annotation)
    /// is `ingress.className` or one of Traefik's among `ingress_classes`
    /// (as `kube::list` returns them), or it names none and Traefik's is
    /// the default.
    #[rhai_fn(return_raw)]
    pub fn route_class(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Dynamic,
        ingress_classes: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "route_class", &subject)?;
        let route = super::route_of(&ctx, "route_class", &route)?;
        let classes = super::objects(&ctx, "route_class", &ingress_classes)?;
        let wanted = s.ingress_class.clone().unwrap_or_default();
        super::check(&ctx, &checks::route::class(&route, &wanted, &classes))
    }

    /// `externaldns` of a route: the ExternalDNS that should publish the
    /// subject's host, found by image among `deployments` (every
    /// Deployment, as `kube::list` returns them): its domain filter holds
    /// the host, it reads the route's source and the prefix of its target.
    /// `lookups` and `traefik_ips` as for `dns_address`: a host published
    /// all the same was published another way (said, not failed).
    #[rhai_fn(return_raw)]
    pub fn route_externaldns(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Dynamic,
        deployments: Dynamic,
        lookups: Dynamic,
        traefik_ips: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        route_externaldns_through(
            ctx,
            subject,
            route,
            Dynamic::UNIT,
            deployments,
            lookups,
            traefik_ips,
        )
    }

    /// As `route_externaldns`, for an HTTPRoute: ExternalDNS reads it with
    /// its `gateway-httproute` source and takes the target from its parent
    /// `gateway` (`()`: missing).
    #[rhai_fn(name = "route_externaldns", return_raw)]
    pub fn route_externaldns_through(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Dynamic,
        gateway: Dynamic,
        deployments: Dynamic,
        lookups: Dynamic,
        traefik_ips: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let gateway = super::object(&gateway)?;
        let s = super::subject(&ctx, "route_externaldns", &subject)?;
        let route = super::route_of(&ctx, "route_externaldns", &route)?;
        let deployments = super::objects(&ctx, "route_externaldns", &deployments)?;
        let lookups = super::lookups(&ctx, "route_externaldns", &lookups)?;
        let ips: Vec<String> = super::typed(
            &ctx,
            "route_externaldns",
            "Traefik's addresses",
            &traefik_ips,
        )?;
        super::check(
            &ctx,
            &checks::publisher::publisher(
                s.host(),
                &route,
                gateway.as_ref(),
                &deployments,
                lookups.published(&ips, s.target.as_deref()),
            ),
        )
    }

    /// Traefik's LoadBalancer Service among `services`: the one selecting
    /// the pods of a Deployment or DaemonSet among `workloads` that runs
    /// Traefik's image, whatever its names and labels (as `kube::list`
    /// returns them); `()` when none does.
    #[rhai_fn(return_raw)]
    pub fn traefik_service(
        ctx: NativeCallContext,
        services: Dynamic,
        workloads: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let services = super::objects(&ctx, "traefik_service", &services)?;
        let workloads = super::objects(&ctx, "traefik_service", &workloads)?;
        let found = crate::discover::traefik::TraefikService::find(&services, &workloads, None);
        let service = found.first().and_then(|t| {
            services
                .iter()
                .find(|s| crate::discover::Identity::of(s) == t.id)
        });
        match service {
            Some(s) => to_script(&ctx, s),
            None => Ok(Dynamic::UNIT),
        }
    }

    /// The deprecated flags of an ExternalDNS Deployment (found by image:
    /// none for another Deployment), each with its replacement, for the
    /// release its image names.
    #[rhai_fn(return_raw)]
    pub fn externaldns_deprecations(deployment: rhai::Map) -> RhaiResultOf<Array> {
        let value = to_json(&Dynamic::from_map(deployment))?;
        let found = crate::discover::external_dns::ExternalDns::read(
            &value,
            &crate::discover::Wanted::default(),
        );
        Ok(found
            .map(|e| {
                let words: Vec<String> = e.command.iter().chain(&e.args).cloned().collect();
                crate::externaldns::deprecated_flags(&e.image, &words)
            })
            .unwrap_or_default()
            .into_iter()
            .map(Dynamic::from)
            .collect())
    }

    /// `controller-<app>` of `doctor --layer`: a Deployment or DaemonSet
    /// among `workloads` runs the controller's image (`app`: `metallb`,
    /// `cert-manager`, `traefik`, `external-dns`), and each that does is
    /// available.
    #[rhai_fn(return_raw)]
    pub fn controller(
        ctx: NativeCallContext,
        app: &str,
        workloads: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let Some(kind) = crate::discover::controller_kind(app) else {
            let known: Vec<&str> = crate::discover::CONTROLLER_KINDS
                .iter()
                .map(|k| k.app)
                .collect();
            return Err(script_error(
                &ctx,
                format!(
                    "doctor::controller: no controller {app:?}; the layer's are {}",
                    known.join(", ")
                ),
            ));
        };
        let workloads = super::objects(&ctx, "controller", &workloads)?;
        super::check(&ctx, &checks::layer::controller(kind, &workloads))
    }

    /// `service` of a route: its first backend's Service (`()` when
    /// missing) has the port it names.
    #[rhai_fn(return_raw)]
    pub fn route_service(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Dynamic,
        service: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "route_service", &subject)?;
        let route = super::route_of(&ctx, "route_service", &route)?;
        let svc = super::object(&service)?;
        super::check(
            &ctx,
            &checks::backend::service(&s, s.route_kind(), route.backends.first(), svc.as_ref()),
        )
    }

    /// `target-port`: the route's Service port sends to a port the
    /// containers of `pods` declare.
    #[rhai_fn(return_raw)]
    pub fn target_port(
        ctx: NativeCallContext,
        route: Dynamic,
        service: rhai::Map,
        pods: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let route = super::route_of(&ctx, "target_port", &route)?;
        let svc = to_json(&Dynamic::from_map(service))?;
        let pods = super::objects(&ctx, "target_port", &pods)?;
        match route.backends.first() {
            Some(backend) => super::check(&ctx, &checks::route::target_port(backend, &svc, &pods)),
            None => super::check(&ctx, &Check::skip("target-port", "no backend Service")),
        }
    }

    /// `tls-secret`, `cert-covers`, `cert-valid`, `cert-days` of a route:
    /// its Secret (as read; `()`: missing), or Traefik's default
    /// certificate when it names none.
    #[rhai_fn(return_raw)]
    pub fn route_tls(
        ctx: NativeCallContext,
        subject: Dynamic,
        route: Dynamic,
        secret: Dynamic,
    ) -> RhaiResultOf<Array> {
        let s = super::subject(&ctx, "route_tls", &subject)?;
        let route = super::route_of(&ctx, "route_tls", &route)?;
        let secret = super::object(&secret)?;
        let checks = match &route.tls_secret {
            Some(name) => checks::tls::secret(&s, Some(name), secret.as_ref()),
            None => {
                let resolver = route
                    .object
                    .pointer("/spec/tls/certResolver")
                    .and_then(Value::as_str);
                checks::tls::default_certificate(&s, resolver)
            }
        };
        super::checks_to_script(&ctx, &checks)
    }

    /// `middlewares`: every middleware the route names exists among
    /// `middlewares` (chains followed), none in a form Traefik v3 dropped.
    #[rhai_fn(return_raw)]
    pub fn middlewares(
        ctx: NativeCallContext,
        route: Dynamic,
        middlewares: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let route = super::route_of(&ctx, "middlewares", &route)?;
        let all = super::objects(&ctx, "middlewares", &middlewares)?;
        super::check(&ctx, &checks::route::middlewares(&route, &all))
    }

    /// `dns` of a host: what `lookups` found (`#{ asked, zone, nameservers,
    /// authoritative, probe }`: the user's resolver's answer, the zone and
    /// its servers as `dns::authority` found them, their answer, and the
    /// resolver's answer for `doctor::probe_name(host)`) against Traefik's
    /// addresses (`traefik_ips`), asking `server` (or `()`). A public host
    /// may lead instead through the subject's ExternalDNS target (else the
    /// zone's apex) to another address: the way in from outside, which
    /// must forward to Traefik (a home router's port forward).
    #[rhai_fn(return_raw)]
    pub fn dns_address(
        ctx: NativeCallContext,
        subject: Dynamic,
        lookups: Dynamic,
        traefik_ips: Dynamic,
        server: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "dns_address", &subject)?;
        let lookups = super::lookups(&ctx, "dns_address", &lookups)?;
        let ips: Vec<String> =
            super::typed(&ctx, "dns_address", "Traefik's addresses", &traefik_ips)?;
        let server = super::text(&server);
        super::check(
            &ctx,
            &checks::address::address(
                s.host(),
                &lookups,
                &ips,
                s.target.as_deref(),
                server.as_deref(),
            ),
        )
    }

    /// A name beside `host` that nobody made (`wildrun-probe-<n>.<parent>`):
    /// a resolver that answers it answers every name of the domain.
    pub fn probe_name(host: &str) -> String {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        checks::address::probe_name(host, nonce ^ u64::from(std::process::id()))
    }

    /// `ingress`: the Ingress (`()` when missing) exists.
    #[rhai_fn(return_raw)]
    pub fn ingress(
        ctx: NativeCallContext,
        subject: Dynamic,
        ingress: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "ingress", &subject)?;
        let ing = super::object(&ingress)?;
        super::check(&ctx, &checks::ingress::exists(&s, ing.as_ref()))
    }

    /// `ingress-class`: its class (field or annotation) is `ingress.className`.
    #[rhai_fn(return_raw)]
    pub fn ingress_class(
        ctx: NativeCallContext,
        subject: Dynamic,
        ingress: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "ingress_class", &subject)?;
        let ing = to_json(&Dynamic::from_map(ingress))?;
        super::check(&ctx, &checks::ingress::class(&s, &ing))
    }

    /// `ingress-host`: a rule serves the subject's host.
    #[rhai_fn(return_raw)]
    pub fn ingress_host(
        ctx: NativeCallContext,
        subject: Dynamic,
        ingress: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "ingress_host", &subject)?;
        let ing = to_json(&Dynamic::from_map(ingress))?;
        super::check(&ctx, &checks::ingress::host(&s, &ing))
    }

    /// `externaldns`: the Ingress carries the target and a TTL.
    #[rhai_fn(return_raw)]
    pub fn externaldns(
        ctx: NativeCallContext,
        subject: Dynamic,
        ingress: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "externaldns", &subject)?;
        let ing = to_json(&Dynamic::from_map(ingress))?;
        super::check(&ctx, &checks::dns::annotations(&s, &ing))
    }

    /// `externaldns-prefix`: the Ingress carries the target under the
    /// prefix each ExternalDNS Deployment of `deployments` reads.
    #[rhai_fn(return_raw)]
    pub fn externaldns_prefix(
        ctx: NativeCallContext,
        subject: Dynamic,
        ingress: rhai::Map,
        deployments: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "externaldns_prefix", &subject)?;
        let ing = to_json(&Dynamic::from_map(ingress))?;
        let deployments = super::objects(&ctx, "externaldns_prefix", &deployments)?;
        super::check(&ctx, &checks::dns::prefix(&s, &ing, &deployments))
    }

    /// `dns`: what `dns::expect(host, target)` found, asking `server` (or `()`).
    #[rhai_fn(return_raw)]
    pub fn dns(
        ctx: NativeCallContext,
        subject: Dynamic,
        found: Dynamic,
        server: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "dns", &subject)?;
        let found = super::typed(&ctx, "dns", "the answer of dns::expect", &found)?;
        let server = super::text(&server);
        super::check(&ctx, &checks::dns::record(&s, &found, server.as_deref()))
    }

    /// `service`: the Ingress's backend Service (`()` when missing) has the
    /// port the Ingress names.
    #[rhai_fn(return_raw)]
    pub fn service(
        ctx: NativeCallContext,
        subject: Dynamic,
        ingress: rhai::Map,
        service: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "service", &subject)?;
        let ing = to_json(&Dynamic::from_map(ingress))?;
        let svc = super::object(&service)?;
        let backend = ingress::first_backend(&ing);
        super::check(
            &ctx,
            &checks::backend::service(&s, "Ingress", backend.as_ref(), svc.as_ref()),
        )
    }

    /// `endpoints`: an EndpointSlice of `slices` has a ready endpoint.
    #[rhai_fn(return_raw)]
    pub fn endpoints(
        ctx: NativeCallContext,
        service: rhai::Map,
        slices: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let svc = to_json(&Dynamic::from_map(service))?;
        let slices = super::objects(&ctx, "endpoints", &slices)?;
        super::check(&ctx, &checks::backend::endpoints(&svc, &slices))
    }

    /// `tls-secret`, `cert-covers`, `cert-valid`, `cert-days`: the Secret
    /// named `secret_name` (`()`: the Ingress names none), as read (`()`:
    /// missing).
    #[rhai_fn(return_raw)]
    pub fn tls(
        ctx: NativeCallContext,
        subject: Dynamic,
        secret_name: Dynamic,
        secret: Dynamic,
    ) -> RhaiResultOf<Array> {
        let s = super::subject(&ctx, "tls", &subject)?;
        let name = super::text(&secret_name);
        let secret = super::object(&secret)?;
        super::checks_to_script(
            &ctx,
            &checks::tls::secret(&s, name.as_deref(), secret.as_ref()),
        )
    }

    /// `certificate`: the cert-manager Certificate among `certificates` that
    /// writes `secret_name` is Ready.
    #[rhai_fn(return_raw)]
    pub fn certificate(
        ctx: NativeCallContext,
        subject: Dynamic,
        secret_name: Dynamic,
        certificates: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "certificate", &subject)?;
        let name = super::text(&secret_name);
        let certificates = super::objects(&ctx, "certificate", &certificates)?;
        super::check(
            &ctx,
            &checks::tls::certificate(&s, name.as_deref(), &certificates),
        )
    }

    /// `middleware`, `middleware-ref`, `middleware-ranges`: the internal-only
    /// Middleware (`()` when missing), the Ingress's reference to it, its ranges.
    #[rhai_fn(return_raw)]
    pub fn middleware(
        ctx: NativeCallContext,
        subject: Dynamic,
        ingress: rhai::Map,
        middleware: Dynamic,
    ) -> RhaiResultOf<Array> {
        let s = super::subject(&ctx, "middleware", &subject)?;
        let ing = to_json(&Dynamic::from_map(ingress))?;
        let mw = super::object(&middleware)?;
        super::checks_to_script(
            &ctx,
            &checks::middleware::internal_only(&s, &ing, mw.as_ref()),
        )
    }

    /// `load-balancer`: Traefik's Service (`()` when not found) has an
    /// address in one of `pools` (MetalLB's IPAddressPools; a string: why
    /// they could not be listed).
    #[rhai_fn(return_raw)]
    pub fn load_balancer(
        ctx: NativeCallContext,
        subject: Dynamic,
        traefik: Dynamic,
        pools: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "load_balancer", &subject)?;
        let svc = super::object(&traefik)?;
        let pools = match pools.clone().into_string() {
            Ok(error) => Err(error),
            Err(_) => Ok(super::objects(&ctx, "load_balancer", &pools)?),
        };
        let pools = pools.as_deref().map_err(Clone::clone);
        super::check(
            &ctx,
            &checks::load_balancer::traefik(&s, svc.as_ref(), pools),
        )
    }

    /// `client-address`: whether Traefik, behind its Service `traefik`
    /// (`()`: not found) and run as `pods` say (their command lines), sees
    /// each client's own address as `mode` (`ingress.clientAddress`) wants.
    #[rhai_fn(return_raw)]
    pub fn client_address(
        ctx: NativeCallContext,
        traefik: Dynamic,
        pods: Dynamic,
        mode: &str,
    ) -> RhaiResultOf<Dynamic> {
        let svc = super::object(&traefik)?;
        let pods = super::objects(&ctx, "client_address", &pods)?;
        let mode = super::typed(
            &ctx,
            "client_address",
            "the mode (ingress.clientAddress: local or proxy-protocol)",
            &Dynamic::from(mode.to_string()),
        )?;
        let args = client_address::container_args(&pods);
        super::check(&ctx, &client_address::judge(svc.as_ref(), &args, mode))
    }

    /// A Service's `externalTrafficPolicy` (`Cluster` when it names none).
    #[rhai_fn(return_raw)]
    pub fn traffic_policy(service: rhai::Map) -> RhaiResultOf<String> {
        let svc = to_json(&Dynamic::from_map(service))?;
        Ok(client_address::traffic_policy(&svc).to_string())
    }

    /// `https`: the answer of `https::get` to the host, sent to an address
    /// found `via` (words), judged by the chain's rules; `secret` is the TLS
    /// Secret (`()`: none), whose certificate the served one is compared with.
    #[rhai_fn(return_raw)]
    pub fn https(
        ctx: NativeCallContext,
        subject: Dynamic,
        response: Dynamic,
        via: &str,
        secret: Dynamic,
    ) -> RhaiResultOf<Dynamic> {
        let s = super::subject(&ctx, "https", &subject)?;
        let response = super::typed(&ctx, "https", "the answer of https::get", &response)?;
        let secret = super::object(&secret)?;
        let fingerprint = checks::tls::fingerprint(secret.as_ref());
        super::check(
            &ctx,
            &checks::https::answer(&s, &response, via, fingerprint.as_deref()),
        )
    }
}

rhai::def_package! {
    /// The `doctor::` namespace, installed by the engine under that name,
    /// with the chain's names as constants (`doctor::MIDDLEWARES_ANNOTATION`).
    pub DoctorPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "doctor", doctor_api);
        rhai::plugin::combine_with_exported_module!(module, "doctor_gateway", gateway::gateway_api);
        let prefixes: rhai::Array = names::EXTERNALDNS_PREFIXES.iter().map(|p| Dynamic::from(*p)).collect();
        module.set_var("EXTERNALDNS_PREFIXES", prefixes);
        module.set_var("MIDDLEWARES_ANNOTATION", names::MIDDLEWARES_ANNOTATION.to_string());
        module.set_var("INTERNAL_ONLY_MIDDLEWARE", names::INTERNAL_ONLY_MIDDLEWARE.to_string());
        module.set_var("TRAEFIK_SELECTOR", names::TRAEFIK_SELECTOR.to_string());
        module.set_var("GATEWAY_CONTROLLER", names::GATEWAY_CONTROLLER.to_string());
        module.set_var("MANAGED_BY_SELECTOR", names::managed_by_selector());
        module.set_var("INSTANCE_LABEL", names::INSTANCE_LABEL.to_string());
        module.set_var("LOCAL_TRAFFIC_POLICY", checks::client_address::LOCAL.to_string());
        module.set_var("CLIENT_ADDRESS_LEAK", checks::client_address::LEAK.to_string());
    }
}
