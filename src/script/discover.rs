//! `discover::` for scripts: the layer a cluster already runs, each part
//! found by what it is (see [`crate::discover`]).

use super::options::{self, ScriptOptions, Shown};
use super::support::{script_error, to_script, RhaiResultOf, RunHandle};
use crate::discover::{self, Layer, Wanted};
use rhai::plugin::*;
use serde::Deserialize;

const FUNCTION: &str = "discover::layer";

/// The options of `discover::layer`; `()` counts as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LayerOptions {
    domain: Option<String>,
    internal_domain: Option<String>,
    load_balancer_ip: Option<String>,
    /// Each range is checked below, to name the one that is not text.
    address_pool: Option<Vec<Dynamic>>,
    traefik_service: Option<String>,
}

impl ScriptOptions for LayerOptions {
    fn expected(key: &str) -> (&'static str, Shown) {
        match key {
            "address_pool" => ("a list of ranges", Shown::Value),
            _ => ("a string", Shown::Value),
        }
    }
}

/// What the options say is wanted.
fn wanted(ctx: &NativeCallContext, options: &rhai::Map) -> RhaiResultOf<Wanted> {
    let given: LayerOptions = options::parse(ctx, FUNCTION, options)?;
    let mut wanted = Wanted {
        domain: given.domain.unwrap_or_default(),
        internal_domain: given.internal_domain,
        traefik_service: given.traefik_service,
        ..Wanted::default()
    };
    wanted.load_balancer_ip = given
        .load_balancer_ip
        .map(|ip| discover::address(&ip))
        .transpose()
        .map_err(|e| script_error(ctx, format!("{FUNCTION}: {e}")))?;
    for range in given.address_pool.unwrap_or_default() {
        let text = match range.is_unit() {
            true => String::new(),
            false => range.clone().into_string().map_err(|_| {
                script_error(
                    ctx,
                    format!("{FUNCTION}: option address_pool must be a string, not {range}"),
                )
            })?,
        };
        wanted.address_pool.push(text);
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
