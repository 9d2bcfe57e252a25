//! `run::` for scripts: what this run of wildrun was asked to do, so a
//! recipe can refuse what it must not do (the visibility layer refuses
//! `--delete` while services use it, unless `--force`, and a part of the
//! layer another tool made unless `--adopt`), and `once`, for
//! what a recipe checks or says once however many services it deploys.

use super::support::{RhaiResultOf, RunHandle};
use rhai::plugin::*;

/// The `run` module scripts call as `run::action()`.
#[export_module]
pub mod run_api {
    /// What this run does with the plan: `"apply"`, `"render"` (`--dry-run`),
    /// `"server-dry-run"`, `"diff"` or `"delete"`.
    #[rhai_fn(return_raw)]
    pub fn action(ctx: NativeCallContext) -> RhaiResultOf<String> {
        let run = RunHandle::from_context(&ctx)?;
        Ok(run.context().action.name().to_string())
    }

    /// `true` the first time this run (or this call of a watch handler)
    /// asks with `key`, `false` after: for what a recipe that deploys many
    /// services needs to check or say once, not once per service.
    #[rhai_fn(return_raw)]
    pub fn once(ctx: NativeCallContext, key: &str) -> RhaiResultOf<bool> {
        let run = RunHandle::from_context(&ctx)?;
        run.record(|evaluation| evaluation.once.insert(key.to_string()))
    }

    /// Whether `--force` was given.
    #[rhai_fn(return_raw)]
    pub fn force(ctx: NativeCallContext) -> RhaiResultOf<bool> {
        let run = RunHandle::from_context(&ctx)?;
        Ok(run.context().force)
    }

    /// Whether `--adopt` was given: objects another tool made may be
    /// managed in place (marked adopted; `--delete` releases them).
    #[rhai_fn(return_raw)]
    pub fn adopt(ctx: NativeCallContext) -> RhaiResultOf<bool> {
        let run = RunHandle::from_context(&ctx)?;
        Ok(run.context().adopt)
    }
}

rhai::def_package! {
    /// The `run::` namespace, installed by the engine under that name.
    pub RunPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "run", run_api);
    }
}
