//! `yaml::` for scripts: parse and emit YAML, multi-document aware, so a
//! team's existing manifests and templates become maps a recipe can check
//! and apply as typed objects.

use crate::engine::{from_json, to_json, RunHandle};
use rhai::plugin::*;
use serde_json::Value;

/// Parses every document of `text` (empty documents are skipped).
pub fn parse_documents(text: &str, name: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        let msg = e.without_snippet().to_string();
        format!("{name}{at}: invalid YAML: {}", msg.lines().next().unwrap_or_default())
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Emits one value as a YAML document.
pub fn emit_document(value: &Value) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| format!("cannot write YAML: {e}"))
}

fn to_array(docs: Vec<Value>) -> Result<rhai::Array, Box<EvalAltResult>> {
    docs.iter().map(from_json).collect()
}

/// The `yaml` module scripts call as `yaml::parse(...)`.
#[export_module]
pub mod yaml_api {
    /// Parses YAML text into a list with one entry per document.
    #[rhai_fn(return_raw)]
    pub fn parse(text: &str) -> Result<rhai::Array, Box<EvalAltResult>> {
        super::to_array(super::parse_documents(text, "yaml::parse")?)
    }

    /// Reads a YAML file (relative to the calling script) into a list of documents.
    #[rhai_fn(return_raw)]
    pub fn file(ctx: NativeCallContext, path: &str) -> Result<rhai::Array, Box<EvalAltResult>> {
        let run = RunHandle::from_context(&ctx)?;
        let full = run.resolve_path(&ctx, path);
        run.track_file(&full);
        let text = std::fs::read_to_string(&full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        super::to_array(super::parse_documents(&text, &crate::engine::display_path(&full))?)
    }

    /// Writes a value as one YAML document.
    #[rhai_fn(return_raw)]
    pub fn emit(value: Dynamic) -> Result<String, Box<EvalAltResult>> {
        Ok(super::emit_document(&to_json(&value)?)?)
    }

    /// Writes each item of a list as its own document, separated by `---`.
    #[rhai_fn(return_raw)]
    pub fn emit_all(values: rhai::Array) -> Result<String, Box<EvalAltResult>> {
        let mut out = String::new();
        for v in &values {
            out.push_str("---\n");
            out.push_str(&super::emit_document(&to_json(v)?)?);
        }
        Ok(out)
    }
}

/// Registers `yaml::` with the engine.
pub fn register(engine: &mut rhai::Engine) {
    engine.register_static_module("yaml", exported_module!(yaml_api).into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_document_round_trip() {
        let docs = parse_documents("a: 1\n---\nb: [x, y]\n---\n", "t").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": ["x", "y"]})]);
        let text = emit_document(&docs[1]).unwrap();
        assert_eq!(parse_documents(&text, "t").unwrap()[0], docs[1]);
    }

    #[test]
    fn invalid_yaml_names_location() {
        let err = parse_documents("a: [1, 2\n", "m.yaml").unwrap_err();
        assert!(err.starts_with("m.yaml:"), "{err}");
    }
}
