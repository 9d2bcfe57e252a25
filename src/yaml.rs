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

/// Why YAML could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// The text is not valid YAML (or not of the expected shape):
    /// `name:line:column: message`, so a person can open the file there.
    #[error("{name}{}: {message}", at(.location))]
    Parse {
        /// The file or source the text came from, as shown to people.
        name: String,
        /// Line and column of the problem, when the parser knows them.
        location: Option<(u64, u64)>,
        /// The parser's first line, or wildrun's words for its limits.
        message: String,
    },
    /// A value could not be written as YAML.
    #[error("cannot write YAML: {0}")]
    Emit(String),
}

/// `:line:column`, or nothing when the location is unknown.
fn at(location: &Option<(u64, u64)>) -> String {
    location
        .map(|(line, column)| format!(":{line}:{column}"))
        .unwrap_or_default()
}

impl YamlError {
    /// The error for a parser failure in the text named `name` (one line,
    /// no snippet: the location says where to look).
    pub fn parse(err: &serde_saphyr::Error, name: &str) -> YamlError {
        let location = err.location().map(|l| (l.line(), l.column()));
        let msg = err.without_snippet().to_string();
        let first = msg.lines().next().unwrap_or_default();
        // The parser's limits (alias bombs, huge documents) speak of its internals.
        let message = match first.strip_prefix("budget breached: ") {
            Some(rest) => {
                let what = rest
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap_or_default()
                    .to_lowercase();
                format!("the YAML is larger than wildrun reads once its aliases are expanded (too many {what}): is it an alias bomb?")
            }
            None => first.to_string(),
        };
        YamlError::Parse {
            name: name.to_string(),
            location,
            message,
        }
    }
}

/// Parses every document of `text` (empty documents are skipped).
pub fn parse_documents(text: &str, name: &str) -> Result<Vec<Value>, YamlError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options())
        .map_err(|e| YamlError::parse(&e, name))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Emits one value as a YAML document.
pub fn emit_document(value: &Value) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|e| YamlError::Emit(e.to_string()))
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
        let err = parse_documents("a: [1, 2\n", "m.yaml")
            .unwrap_err()
            .to_string();
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

    #[test]
    fn a_parse_error_reads_name_line_column_message() {
        let located = YamlError::Parse {
            name: "wildrun.yaml".into(),
            location: Some((3, 7)),
            message: "invalid type".into(),
        };
        assert_eq!(located.to_string(), "wildrun.yaml:3:7: invalid type");
        let nowhere = YamlError::Parse {
            name: "yaml::parse".into(),
            location: None,
            message: "invalid type".into(),
        };
        assert_eq!(nowhere.to_string(), "yaml::parse: invalid type");
        assert_eq!(
            YamlError::Emit("boom".into()).to_string(),
            "cannot write YAML: boom"
        );
    }

    #[test]
    fn a_parser_error_keeps_its_first_line_and_location() {
        let err = parse_documents("a: 1\nb: [1, 2\n", "m.yaml").unwrap_err();
        let YamlError::Parse {
            name,
            location,
            message,
        } = &err
        else {
            panic!("expected a parse error, got {err:?}");
        };
        assert_eq!(name, "m.yaml");
        assert!(location.is_some(), "{err}");
        assert!(!message.contains('\n'), "one line: {message}");
    }

    #[test]
    fn an_alias_bomb_is_named_in_plain_words() {
        // Eight levels of nine aliases each: 9^9 nodes once expanded.
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for level in b'b'..=b'h' {
            let (name, prev) = (level as char, (level - 1) as char);
            let refs = vec![format!("*{prev}"); 9].join(", ");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let err = parse_documents(&text, "bomb.yaml").unwrap_err().to_string();
        assert!(err.starts_with("bomb.yaml:"), "{err}");
        assert!(
            err.contains(
                ": the YAML is larger than wildrun reads once its aliases are expanded (too many "
            ) && err.ends_with("): is it an alias bomb?"),
            "{err}"
        );
    }
}
