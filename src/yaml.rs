//! `yaml::` for scripts: parse and emit YAML, multi-document aware, so a
//! team's existing manifests and templates become maps a recipe can check
//! and apply as typed objects.

use serde_json::Value;

/// wildrun reads YAML 1.2: only `true`/`false` are booleans, so `y`, `no`
/// or `on` stay strings (a country code or a flag value is never flipped).
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! { strict_booleans: true }
}

/// Deserializes one YAML document with wildrun's YAML rules.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// `name:line:column: message` for a YAML error (one line, no snippet).
pub fn located_message(err: &serde_saphyr::Error, name: &str) -> String {
    let at = err
        .location()
        .map(|l| format!(":{}:{}", l.line(), l.column()))
        .unwrap_or_default();
    let msg = err.without_snippet().to_string();
    let first = msg.lines().next().unwrap_or_default();
    // The parser's limits (alias bombs, huge documents) speak of its internals.
    if let Some(rest) = first.strip_prefix("budget breached: ") {
        let what = rest
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or_default()
            .to_lowercase();
        return format!("{name}{at}: the YAML is larger than wildrun reads once its aliases are expanded (too many {what}): is it an alias bomb?");
    }
    format!("{name}{at}: {first}")
}

/// Parses every document of `text` (empty documents are skipped).
pub fn parse_documents(text: &str, name: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options())
        .map_err(|e| located_message(&e, name))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Emits one value as a YAML document.
pub fn emit_document(value: &Value) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| format!("cannot write YAML: {e}"))
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

    #[test]
    fn yaml_1_1_booleans_stay_strings_and_are_quoted_on_output() {
        let docs = parse_documents("a: [y, no, on, true]\n", "t").unwrap();
        assert_eq!(docs[0], json!({"a": ["y", "no", "on", true]}));
        let text = emit_document(&json!({"a": "yes", "b": "80"})).unwrap();
        assert!(
            text.contains("\"yes\"") && text.contains("\"80\""),
            "{text}"
        );
    }
}
