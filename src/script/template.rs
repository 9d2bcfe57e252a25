//! `template::` for scripts: envsubst-compatible `${VAR}` rendering of
//! text and files.

use super::support::{script_error, RhaiResultOf, RunHandle};
use rhai::plugin::*;

fn value_text(value: &Dynamic) -> Result<String, String> {
    if value.is_string() || value.is_int() || value.is_bool() || value.is_float() || value.is_char()
    {
        Ok(value.to_string())
    } else {
        Err(format!(
            "template variables must be strings, numbers or booleans, not {}",
            value.type_name()
        ))
    }
}

fn render_with_map(
    ctx: &NativeCallContext,
    text: &str,
    name: &str,
    vars: &rhai::Map,
) -> RhaiResultOf<String> {
    // Check every value's type first so the lookup itself cannot fail.
    let mut texts = std::collections::HashMap::new();
    for (k, v) in vars {
        let text =
            value_text(v).map_err(|e| script_error(ctx, format!("{name}: variable {k}: {e}")))?;
        texts.insert(k.as_str(), text);
    }
    crate::template::render(text, name, &|var| texts.get(var).cloned())
        .map_err(|e| script_error(ctx, e))
}

/// The `template` module scripts call as `template::render(...)`.
#[export_module]
pub mod template_api {
    /// Substitutes `${VAR}`/`$VAR` in `text` with the values of the map `vars`.
    /// An undefined variable is an error naming it and the line.
    #[rhai_fn(return_raw)]
    pub fn render(ctx: NativeCallContext, text: &str, vars: rhai::Map) -> RhaiResultOf<String> {
        super::render_with_map(&ctx, text, "template", &vars)
    }

    /// Reads the file `path` (relative to the calling script) and renders it like `render`.
    #[rhai_fn(return_raw)]
    pub fn file(ctx: NativeCallContext, path: &str, vars: rhai::Map) -> RhaiResultOf<String> {
        let run = RunHandle::from_context(&ctx)?;
        let full = run.resolve_path(&ctx, path);
        run.track_file(&full);
        let text = run
            .read_file(&full)
            .map_err(|e| script_error(&ctx, format!("template::file: {e}")))?;
        super::render_with_map(&ctx, &text, &crate::files::display_path(&full), &vars)
    }
}

rhai::def_package! {
    /// The `template::` namespace, installed by the engine under that name.
    pub TemplatePackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "template", template_api);
    }
}
