//! `run::` for scripts: what this run of wildrun was asked to do, so a
//! recipe can refuse what it must not do (the visibility layer refuses
//! `--delete` while services use it, unless `--force`).

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
        let name = run.state().action.name();
        Ok(name.to_string())
    }

    /// Whether `--force` was given.
    #[rhai_fn(return_raw)]
    pub fn force(ctx: NativeCallContext) -> RhaiResultOf<bool> {
        let run = RunHandle::from_context(&ctx)?;
        let force = run.state().force;
        Ok(force)
    }
}

rhai::def_package! {
    /// The `run::` namespace, installed by the engine under that name.
    pub RunPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "run", run_api);
    }
}
