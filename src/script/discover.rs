//! `discover::` for scripts: the layer a cluster already runs, each part
//! found by what it is (see [`crate::discover`]).

use super::support::{
    bad_option, script_error, to_script, unknown_option, RhaiResultOf, RunHandle,
};
use crate::discover::{self, Layer, Wanted};
use rhai::plugin::*;

const FUNCTION: &str = "discover::layer";

/// The text of a string option, `None` when absent or `()`.
fn text(ctx: &NativeCallContext, key: &str, value: &Dynamic) -> RhaiResultOf<Option<String>> {
    if value.is_unit() {
        return Ok(None);
    }
    value
        .clone()
        .into_string()
        .map(Some)
        .map_err(|_| bad_option(ctx, FUNCTION, key, "a string", value))
}

/// What the options say is wanted.
fn wanted(ctx: &NativeCallContext, options: &rhai::Map) -> RhaiResultOf<Wanted> {
    const KNOWN: &[&str] = &[
        "domain",
        "internal_domain",
        "load_balancer_ip",
        "address_pool",
        "traefik_service",
    ];
    let mut wanted = Wanted::default();
    for (key, value) in options {
        match key.as_str() {
            "domain" => wanted.domain = text(ctx, key, value)?.unwrap_or_default(),
            "internal_domain" => wanted.internal_domain = text(ctx, key, value)?,
            "traefik_service" => wanted.traefik_service = text(ctx, key, value)?,
            "load_balancer_ip" => {
                wanted.load_balancer_ip = text(ctx, key, value)?
                    .map(|ip| discover::address(&ip))
                    .transpose()
                    .map_err(|e| script_error(ctx, format!("{FUNCTION}: {e}")))?;
            }
            "address_pool" if value.is_unit() => {}
            "address_pool" => {
                let list = value
                    .clone()
                    .into_array()
                    .map_err(|_| bad_option(ctx, FUNCTION, key, "a list of ranges", value))?;
                for range in list {
                    wanted
                        .address_pool
                        .push(text(ctx, key, &range)?.unwrap_or_default());
                }
            }
            other => return Err(unknown_option(ctx, FUNCTION, other, KNOWN)),
        }
    }
    if wanted.domain.is_empty() {
        return Err(script_error(
            ctx,
            format!("{FUNCTION}: option domain is required (cloud.domain): the wildcard Certificates and the zones ExternalDNS writes are found by it"),
        ));
    }
    Ok(wanted)
}

/// The `discover` module scripts call as `discover::layer(...)`.
#[export_module]
pub mod discover_api {
    /// The visibility layer the cluster already runs, each part found by
    /// what it is, not by its names or labels: MetalLB's controllers,
    /// pools and L2Advertisements, every ExternalDNS Deployment (by image),
    /// the ClusterIssuers, the wildcard Certificates of the two domains and
    /// Traefik's LoadBalancer Service. `options`: `domain` (required),
    /// `internal_domain`, `load_balancer_ip`, `address_pool` (a list of
    /// ranges), `traefik_service` (`namespace/name`), as far as the
    /// configuration gives them. Returns
    /// `#{ metallb, pools, l2_advertisements, external_dns, issuers,
    /// certificates, traefik, not_served }`; every part carries
    /// `namespace`, `name`, `ours`, `adopted`, `instance` and `made_by`.
    #[rhai_fn(return_raw)]
    pub fn layer(ctx: NativeCallContext, options: rhai::Map) -> RhaiResultOf<Dynamic> {
        let wanted = super::wanted(&ctx, &options)?;
        let run = RunHandle::from_context(&ctx)?;
        let cluster = run
            .cluster()
            .map_err(|e| script_error(&ctx, format!("{}: {e}", super::FUNCTION)))?;
        let listed = run
            .block_on(crate::discover::list(&cluster))
            .map_err(|e| script_error(&ctx, crate::kube::error::chain(&e)))?;
        let layer = Layer::read(&listed, &wanted);
        // The checks before the writes need not read these again.
        run.record(|evaluation| {
            for (api_version, kind, items) in listed.into_lists() {
                evaluation
                    .produced
                    .reads
                    .record_list(api_version, kind, None, None, None, items);
            }
        })?;
        to_script(&ctx, &layer)
    }

    /// Who made an object (as `kube::get` returns it; `()` gives `()`):
    /// `#{ namespace, name, ours, adopted, instance, made_by }`, as every
    /// part `discover::layer` finds carries it.
    #[rhai_fn(return_raw)]
    pub fn identity(ctx: NativeCallContext, object: Dynamic) -> RhaiResultOf<Dynamic> {
        if object.is_unit() {
            return Ok(Dynamic::UNIT);
        }
        let value = crate::script::support::to_json(&object)?;
        to_script(&ctx, &crate::discover::Identity::of(&value))
    }

    /// What the ExternalDNS release an image names knows and needs:
    /// `#{ version, knows_annotation_prefix, policy_required,
    /// default_policy }` (`--annotation-prefix` exists since v0.20.0;
    /// v0.22.0 and later refuse to start without `--policy`).
    #[rhai_fn(return_raw)]
    pub fn external_dns_release(ctx: NativeCallContext, image: &str) -> RhaiResultOf<Dynamic> {
        to_script(&ctx, &crate::externaldns::release(image))
    }
}

rhai::def_package! {
    /// The `discover::` namespace, installed by the engine under that name.
    pub DiscoverPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "discover", discover_api);
    }
}
