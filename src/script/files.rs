//! `files::` for scripts: a file's text as it is, for formats wildrun does
//! not parse (an ini template, a Helm or Jinja template a recipe fills in).

use super::support::{script_error, RhaiResultOf, RunHandle};
use rhai::plugin::*;

/// The `files` module scripts call as `files::read(...)`.
#[export_module]
pub mod files_api {
    /// Reads a file (relative to the calling script, inside the sandbox and
    /// the size bound of every read) and returns its text unchanged.
    #[rhai_fn(return_raw)]
    pub fn read(ctx: NativeCallContext, path: &str) -> RhaiResultOf<String> {
        let run = RunHandle::from_context(&ctx)?;
        let full = run.resolve_path(&ctx, path);
        run.track_file(&full);
        run.read_file(&full)
            .map_err(|e| script_error(&ctx, format!("files::read: {e}")))
    }
}

rhai::def_package! {
    /// The `files::` namespace, installed by the engine under that name.
    pub FilesPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "files", files_api);
    }
}
