//! `template::` for scripts: envsubst-compatible `${VAR}` rendering of
//! YAML (values stay inside their scalars) and, with `text: true`, of text.

use super::options::{self, given, ScriptOptions, Shown};
use super::support::{script_error, RhaiResultOf, RunHandle};
use crate::template::TemplateKind;
use rhai::plugin::*;
use serde::Deserialize;

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

/// The options of `template::render` and `template::file`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TemplateOptions {
    #[serde(deserialize_with = "given")]
    text: Option<bool>,
}

impl ScriptOptions for TemplateOptions {
    fn expected(_key: &str) -> (&'static str, Shown) {
        ("true or false", Shown::Value)
    }
}

/// The format `options` ask for: YAML unless `text: true`.
fn format_from(
    ctx: &NativeCallContext,
    function: &str,
    options: &rhai::Map,
) -> RhaiResultOf<TemplateKind> {
    let given: TemplateOptions = options::parse(ctx, function, options)?;
    Ok(match given.text {
        Some(true) => TemplateKind::Text,
        _ => TemplateKind::Yaml,
    })
}

fn render_with_map(
    ctx: &NativeCallContext,
    text: &str,
    name: &str,
    vars: &rhai::Map,
    format: TemplateKind,
) -> RhaiResultOf<String> {
    // Check every value's type first so the lookup itself cannot fail.
    let mut texts = std::collections::HashMap::new();
    for (k, v) in vars {
        let text =
            value_text(v).map_err(|e| script_error(ctx, format!("{name}: variable {k}: {e}")))?;
        texts.insert(k.as_str(), text);
    }
    crate::template::render(text, name, format, &|var| texts.get(var).cloned())
        .map_err(|e| script_error(ctx, e))
}

fn render_file(
    ctx: &NativeCallContext,
    path: &str,
    vars: &rhai::Map,
    format: TemplateKind,
) -> RhaiResultOf<String> {
    let run = RunHandle::from_context(ctx)?;
    let full = run.resolve_path(ctx, path);
    run.track_file(&full);
    let text = run
        .read_file(&full)
        .map_err(|e| script_error(ctx, format!("template::file: {e}")))?;
    render_with_map(ctx, &text, &crate::files::display_path(&full), vars, format)
}

/// The `template` module scripts call as `template::render(...)`.
#[export_module]
pub mod template_api {
    /// Substitutes `${VAR}`/`$VAR` in the YAML `text` with the values of the
    /// map `vars`, each as part of the scalar its reference stands in: it
    /// cannot change the YAML's structure. An undefined variable is an error
    /// naming it and the line.
    #[rhai_fn(name = "render", return_raw)]
    pub fn render(ctx: NativeCallContext, text: &str, vars: rhai::Map) -> RhaiResultOf<String> {
        super::render_with_map(&ctx, text, "template", &vars, super::TemplateKind::Yaml)
    }

    /// As `render`; `options.text: true` renders text that is not YAML,
    /// writing the values as they are (never parse the result as YAML).
    #[rhai_fn(name = "render", return_raw)]
    pub fn render_with_options(
        ctx: NativeCallContext,
        text: &str,
        vars: rhai::Map,
        options: rhai::Map,
    ) -> RhaiResultOf<String> {
        let format = super::format_from(&ctx, "template::render", &options)?;
        super::render_with_map(&ctx, text, "template", &vars, format)
    }

    /// Reads the YAML file `path` (relative to the calling script) and renders it like `render`.
    #[rhai_fn(name = "file", return_raw)]
    pub fn file(ctx: NativeCallContext, path: &str, vars: rhai::Map) -> RhaiResultOf<String> {
        super::render_file(&ctx, path, &vars, super::TemplateKind::Yaml)
    }

    /// As `file`; `options.text: true` reads a file that is not YAML (a
    /// configuration file a ConfigMap carries) and writes the values as they are.
    #[rhai_fn(name = "file", return_raw)]
    pub fn file_with_options(
        ctx: NativeCallContext,
        path: &str,
        vars: rhai::Map,
        options: rhai::Map,
    ) -> RhaiResultOf<String> {
        let format = super::format_from(&ctx, "template::file", &options)?;
        super::render_file(&ctx, path, &vars, format)
    }
}

rhai::def_package! {
    /// The `template::` namespace, installed by the engine under that name.
    pub TemplatePackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "template", template_api);
    }
}
