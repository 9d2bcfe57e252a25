//! `run::` for scripts: what this run of wildrun was asked to do, so a
//! recipe can refuse what it must not do (the visibility layer refuses
//! `--delete` while services use it, unless `--force`).

use crate::engine::RunHandle;
use rhai::plugin::*;

/// What a run does with the plan a recipe builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Apply it (also `--watch`).
    #[default]
    Apply,
    /// `--dry-run`: print it.
    Render,
    /// `--dry-run=server`: apply with `dryRun=All`.
    ServerDryRun,
    /// `--diff`.
    Diff,
    /// `--delete`: delete what the instance made.
    Delete,
}

impl Action {
    /// The name scripts see.
    pub fn name(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Render => "render",
            Action::ServerDryRun => "server-dry-run",
            Action::Diff => "diff",
            Action::Delete => "delete",
        }
    }
}

/// The `run` module scripts call as `run::action()`.
#[export_module]
pub mod run_api {
    /// What this run does with the plan: `"apply"`, `"render"` (`--dry-run`),
    /// `"server-dry-run"`, `"diff"` or `"delete"`.
    #[rhai_fn(return_raw)]
    pub fn action(ctx: NativeCallContext) -> Result<String, Box<EvalAltResult>> {
        let run = RunHandle::from_context(&ctx)?;
        let name = run.state().action.name();
        Ok(name.to_string())
    }

    /// Whether `--force` was given.
    #[rhai_fn(return_raw)]
    pub fn force(ctx: NativeCallContext) -> Result<bool, Box<EvalAltResult>> {
        let run = RunHandle::from_context(&ctx)?;
        let force = run.state().force;
        Ok(force)
    }
}

/// Registers `run::` with the engine.
pub fn register(engine: &mut rhai::Engine) {
    engine.register_static_module("run", exported_module!(run_api).into());
}
