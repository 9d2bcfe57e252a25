//! `config::` for scripts: the merged configuration's keys.

/// The `config` module scripts call as `config::require(...)`.
#[rhai::export_module]
pub mod config_api {
    use crate::script::support::RhaiResultOf;
    use rhai::plugin::*;

    /// The value of a configuration key (`"cluster.loadBalancerIp"`), or an
    /// error naming the key and the three ways to set it.
    #[rhai_fn(return_raw)]
    pub fn require(ctx: NativeCallContext, path: &str) -> RhaiResultOf<Dynamic> {
        let run = crate::script::support::RunHandle::from_context(&ctx)?;
        let value = run
            .context()
            .config
            .require(path)
            .map_err(|e| crate::script::support::script_error(&ctx, e))?;
        crate::script::support::from_json(value)
    }

    /// Where the configuration key at `path` was given: the file's path,
    /// `environment variable X` or `--set k=v`; `()` when the key has its
    /// default or is not set (so a recipe can tell a choice from a default).
    #[rhai_fn(return_raw)]
    pub fn source(ctx: NativeCallContext, path: &str) -> RhaiResultOf<Dynamic> {
        let run = crate::script::support::RunHandle::from_context(&ctx)?;
        Ok(match run.context().config.origin(path) {
            Some(origin) => origin.to_string().into(),
            None => Dynamic::UNIT,
        })
    }
}

rhai::def_package! {
    /// The `config::` namespace, installed by the engine under that name.
    pub ConfigPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "config", config_api);
    }
}
