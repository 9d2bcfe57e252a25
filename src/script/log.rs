//! `log::` for scripts: messages for people, through `tracing`, on stderr.
//! Each message names the script line that logged it.

use super::support::origin;
use rhai::plugin::*;

/// The `log` module scripts call as `log::info(...)`.
#[export_module]
pub mod log_api {
    /// Logs at debug level (shown with -v). Named `verbose` because `debug`
    /// is a Rhai keyword: `log::debug(...)` does not parse.
    pub fn verbose(ctx: NativeCallContext, message: &str) {
        tracing::debug!(target: "script", at = %origin(&ctx), "{message}");
    }

    /// Logs at info level.
    pub fn info(ctx: NativeCallContext, message: &str) {
        tracing::info!(target: "script", at = %origin(&ctx), "{message}");
    }

    /// Logs a warning.
    pub fn warn(ctx: NativeCallContext, message: &str) {
        tracing::warn!(target: "script", at = %origin(&ctx), "{message}");
    }

    /// Logs an error (the run goes on; `throw` stops it).
    pub fn error(ctx: NativeCallContext, message: &str) {
        tracing::error!(target: "script", at = %origin(&ctx), "{message}");
    }
}

rhai::def_package! {
    /// The `log::` namespace, installed by the engine under that name.
    pub LogPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "log", log_api);
    }
}
