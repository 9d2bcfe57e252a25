//! `yaml::` for scripts: parse and write YAML, read YAML files.

use super::support::{from_json, script_error, to_json, RhaiResultOf, RunHandle};
use rhai::plugin::*;
use rhai::Array;
use serde_json::Value;

fn to_array(docs: Vec<Value>) -> RhaiResultOf<Array> {
    docs.iter().map(from_json).collect()
}

/// The `yaml` module scripts call as `yaml::parse(...)`.
#[export_module]
pub mod yaml_api {
    /// Parses YAML text into a list with one entry per document.
    #[rhai_fn(return_raw)]
    pub fn parse(ctx: NativeCallContext, text: &str) -> RhaiResultOf<Array> {
        let docs =
            crate::yaml::parse_documents(text, "yaml::parse").map_err(|e| script_error(&ctx, e))?;
        super::to_array(docs)
    }

    /// Reads a YAML file (relative to the calling script) into a list of documents.
    #[rhai_fn(return_raw)]
    pub fn file(ctx: NativeCallContext, path: &str) -> RhaiResultOf<Array> {
        let run = RunHandle::from_context(&ctx)?;
        let full = run.resolve_path(&ctx, path);
        run.track_file(&full);
        let text = run
            .read_file(&full)
            .map_err(|e| script_error(&ctx, format!("yaml::file: {e}")))?;
        let docs = crate::yaml::parse_documents(&text, &crate::files::display_path(&full))
            .map_err(|e| script_error(&ctx, e))?;
        super::to_array(docs)
    }

    /// Writes a value as one YAML document.
    #[rhai_fn(return_raw)]
    pub fn emit(ctx: NativeCallContext, value: Dynamic) -> RhaiResultOf<String> {
        crate::yaml::emit_document(&to_json(&value)?).map_err(|e| script_error(&ctx, e))
    }

    /// Writes each item of a list as its own document, separated by `---`.
    #[rhai_fn(return_raw)]
    pub fn emit_all(ctx: NativeCallContext, values: rhai::Array) -> RhaiResultOf<String> {
        let mut out = String::new();
        for v in &values {
            out.push_str("---\n");
            out.push_str(
                &crate::yaml::emit_document(&to_json(v)?).map_err(|e| script_error(&ctx, e))?,
            );
        }
        Ok(out)
    }
}

rhai::def_package! {
    /// The `yaml::` namespace, installed by the engine under that name.
    pub YamlPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "yaml", yaml_api);
    }
}
