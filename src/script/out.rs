//! `out::` for scripts: the data a recipe prints on stdout, and its exit code.
//!
//! Messages for people go to stderr (`log::`, `print`); stdout carries only
//! data, so a script that reports (such as a doctor's checks) writes it here.
//! Output is printed when the run ends, after everything else succeeded.

use super::support::{script_error, to_json, RhaiResultOf, RunHandle};
use rhai::plugin::*;

/// The `out` module scripts call as `out::line(...)`.
#[export_module]
pub mod out_api {
    /// Writes a line of text to stdout.
    #[rhai_fn(return_raw)]
    pub fn line(ctx: NativeCallContext, text: &str) -> RhaiResultOf<()> {
        let run = RunHandle::from_context(&ctx)?;
        run.record(|evaluation| {
            let stdout = &mut evaluation.produced.stdout;
            stdout.push_str(text);
            stdout.push('\n');
        })
    }

    /// Writes a value to stdout as pretty-printed JSON.
    #[rhai_fn(return_raw)]
    pub fn json(ctx: NativeCallContext, value: Dynamic) -> RhaiResultOf<()> {
        let text =
            serde_json::to_string_pretty(&to_json(&value)?).map_err(|e| script_error(&ctx, e))?;
        line(ctx, &text)
    }

    /// Sets the exit code of a run that ends without error (0–255; 1 means
    /// "a check failed"). A `throw` still ends the run with 1 and a message.
    #[rhai_fn(return_raw)]
    pub fn exit_code(ctx: NativeCallContext, code: rhai::INT) -> RhaiResultOf<()> {
        let code = u8::try_from(code).map_err(|_| {
            script_error(
                &ctx,
                format!("out::exit_code: {code} is not between 0 and 255"),
            )
        })?;
        let run = RunHandle::from_context(&ctx)?;
        run.record(|evaluation| evaluation.produced.exit_code = Some(code))
    }
}

rhai::def_package! {
    /// The `out::` namespace, installed by the engine under that name.
    pub OutPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "out", out_api);
    }
}
