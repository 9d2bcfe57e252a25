//! `yaml::` for scripts: parse and emit YAML, multi-document aware, so a
//! team's existing manifests and templates become maps a recipe can check
//! and apply as typed objects.

use serde_json::Value;

/// Most values (scalars, lists and maps) one YAML text
/// may hold: a size bound. A 16 MiB file (the most wildrun reads) of list
/// items of a few fields holds about 2,000,000; a text over it is refused as
/// too large, in those words.
pub(crate) const MAX_NODES: usize = 2_000_000;
/// Most documents one YAML text may hold: as many as a script's list.
pub(crate) const MAX_DOCUMENTS: usize = 100_000;
/// Most parser events aliases may replay. Expansion, not size, is what makes
/// an alias bomb: a few lines whose aliases expand a billion-fold.
pub(crate) const MAX_ALIAS_REPLAY: usize = 1_000_000;

/// wildrun reads YAML 1.2: only `true`/`false` are booleans, so `y`, `no`
/// or `on` stay strings (a country code or a flag value is never flipped).
/// Its limits tell a large text (a size bound) from an alias expansion.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_nodes: MAX_NODES,
            // A value is one or two events (a list or map starts and ends).
            max_events: 2 * MAX_NODES,
            max_documents: MAX_DOCUMENTS,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_REPLAY,
        },
    }
}

/// Deserializes one YAML document with wildrun's YAML rules.
pub(crate) fn from_str<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, serde_saphyr::Error> {
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
    pub(crate) fn parse(err: &serde_saphyr::Error, name: &str) -> YamlError {
        let location = err.location().map(|l| (l.line(), l.column()));
        // The parser's limits speak of its internals.
        let message = limit_message(err).unwrap_or_else(|| {
            let msg = err.without_snippet().to_string();
            msg.lines().next().unwrap_or_default().to_string()
        });
        YamlError::Parse {
            name: name.to_string(),
            location,
            message,
        }
    }
}

/// wildrun's words for a limit of the parser that `err` reached: a size
/// bound says it is one, an alias expansion says so; `None` for any other error.
fn limit_message(err: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    use serde_saphyr::Error;
    let mut err = err;
    while let Error::WithSnippet { error, .. } | Error::AliasError { error, .. } = err {
        err = error;
    }
    let too_large = |what: String| Some(format!("the YAML is larger than wildrun reads: {what}"));
    let alias_bomb = |what: &str| {
        Some(format!(
            "the YAML's aliases expand to more than wildrun reads ({what}): is it an alias bomb?"
        ))
    };
    match err {
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => too_large(format!(
                "more than {MAX_NODES} values (scalars, lists and maps)"
            )),
            BudgetBreach::Documents { .. } => {
                too_large(format!("more than {MAX_DOCUMENTS} documents"))
            }
            BudgetBreach::ScalarBytes { .. } => {
                too_large("more than 64 MiB of text in its values".to_string())
            }
            BudgetBreach::Depth { .. } => {
                too_large("lists and maps nested more than 64 levels deep".to_string())
            }
            BudgetBreach::Aliases { .. } => alias_bomb("too many aliases"),
            BudgetBreach::Anchors { .. } => alias_bomb("too many anchors"),
            BudgetBreach::AliasAnchorRatio { aliases, anchors } => {
                alias_bomb(&format!("{aliases} aliases of {anchors} anchors"))
            }
            BudgetBreach::MergeKeys { .. } => alias_bomb("too many merge keys"),
            BudgetBreach::RecordedAnchorEvents { .. }
            | BudgetBreach::RecordedAnchorBytes { .. } => alias_bomb("too much anchored content"),
            other => too_large(format!("{other:?}")),
        },
        Error::AliasReplayLimitExceeded { .. } => {
            alias_bomb(&format!("more than {MAX_ALIAS_REPLAY} events replayed"))
        }
        Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => alias_bomb("aliases nested too deep"),
        _ => None,
    }
}

/// Parses every document of `text` (empty documents are skipped).
pub fn parse_documents(text: &str, name: &str) -> Result<Vec<Value>, YamlError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options())
        .map_err(|e| YamlError::parse(&e, name).with_template_hint(text))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// What a parse error says when the text holds `{{ }}`: the parser's words
/// ("expected string scalar") do not say that the file is a template.
const TEMPLATE_HINT: &str = "the text holds {{ }}, so it is probably a Helm/Go or Jinja template, which is not YAML until it is filled in: read it with files::read and fill it in the script, or write its variables as ${VAR} and use template::file";

impl YamlError {
    /// Adds [`TEMPLATE_HINT`] to a parse error of a text that holds `{{`.
    fn with_template_hint(self, text: &str) -> YamlError {
        match self {
            YamlError::Parse {
                name,
                location,
                message,
            } if text.contains("{{") => YamlError::Parse {
                name,
                location,
                message: format!("{message}; {TEMPLATE_HINT}"),
            },
            other => other,
        }
    }
}

/// Emits one value as a YAML document.
pub(crate) fn emit_document(value: &Value) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|e| YamlError::Emit(e.to_string()))
}

/// Where each mapping value of a YAML document stands: its dotted key path
/// (`cluster.loadBalancerIp`) to its line and column, for the paths made of
/// mapping keys only (a list's items are not listed). serde-saphyr records
/// the places as it reads, so a value written in flow style
/// (`cluster: {loadBalancerIp: ...}`) is found as well as one in block
/// style. A text that is not YAML gives no places.
pub fn value_locations(text: &str) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut places = std::collections::BTreeMap::new();
    if let Ok(root) = from_str::<LocatedNode>(text) {
        root.collect("", &mut places);
    }
    places
}

/// A YAML node as [`value_locations`] reads it: a mapping's values with
/// their places, anything else passed over.
enum LocatedNode {
    Mapping(Vec<(String, serde_saphyr::Spanned<LocatedNode>)>),
    Other,
}

impl LocatedNode {
    fn collect(self, prefix: &str, places: &mut std::collections::BTreeMap<String, (u64, u64)>) {
        let LocatedNode::Mapping(entries) = self else {
            return;
        };
        for (key, value) in entries {
            let path = match prefix {
                "" => key,
                _ => format!("{prefix}.{key}"),
            };
            let at = value.referenced;
            places.insert(path.clone(), (at.line(), at.column()));
            value.value.collect(&path, places);
        }
    }
}

impl<'de> serde::Deserialize<'de> for LocatedNode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LocatedNodeVisitor)
    }
}

struct LocatedNodeVisitor;

impl<'de> serde::de::Visitor<'de> for LocatedNodeVisitor {
    type Value = LocatedNode;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LocatedNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Value>()? {
            let value = map.next_value::<serde_saphyr::Spanned<LocatedNode>>()?;
            // A key that is a list or a map has no dotted path.
            let key = match key {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            entries.push((key, value));
        }
        Ok(LocatedNode::Mapping(entries))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<LocatedNode, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(LocatedNode::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_i128<E>(self, _: i128) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_u128<E>(self, _: u128) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_unit<E>(self) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_none<E>(self) -> Result<LocatedNode, E> {
        Ok(LocatedNode::Other)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<LocatedNode, D::Error> {
        d.deserialize_any(self)
    }
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
    fn a_go_template_is_named_as_one() {
        let err = parse_documents("metadata:\n  name: {{ .Values.name }}\n", "app.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("app.yaml:2:"), "{err}");
        assert!(
            err.contains("probably a Helm/Go or Jinja template") && err.contains("files::read"),
            "{err}"
        );
        let plain = parse_documents("a: [1, 2\n", "m.yaml")
            .unwrap_err()
            .to_string();
        assert!(!plain.contains("template"), "{plain}");
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
            err.contains(": the YAML's aliases expand to more than wildrun reads (")
                && err.ends_with("): is it an alias bomb?"),
            "{err}"
        );
    }

    #[test]
    fn a_large_document_without_aliases_is_read() {
        // More values than the parser's default bound (250,000), no alias.
        let text: String = std::iter::once("items:\n".to_string())
            .chain((0..300_000).map(|i| format!("- i{i}\n")))
            .collect();
        let docs = parse_documents(&text, "big.yaml").unwrap();
        assert_eq!(docs[0]["items"].as_array().map(Vec::len), Some(300_000));
    }

    #[test]
    fn a_size_bound_says_it_is_one() {
        let breach = |breach| serde_saphyr::Error::Budget {
            breach,
            location: serde_saphyr::Location::UNKNOWN,
        };
        use serde_saphyr::budget::BudgetBreach;
        let cases = [
            (
                BudgetBreach::Nodes { nodes: MAX_NODES + 1 },
                "the YAML is larger than wildrun reads: more than 2000000 values (scalars, lists and maps)",
            ),
            (
                BudgetBreach::Documents { documents: MAX_DOCUMENTS + 1 },
                "the YAML is larger than wildrun reads: more than 100000 documents",
            ),
        ];
        for (b, expected) in cases {
            let err = YamlError::parse(&breach(b), "big.yaml");
            assert_eq!(err.to_string(), format!("big.yaml: {expected}"));
            assert!(!err.to_string().contains("alias"), "{err}");
        }
    }

    #[test]
    fn value_locations_place_every_mapping_value_in_block_and_flow_style() {
        let text = "cloud:\n  domain: example.com\ncluster: {loadBalancerIp: 300.1.2.3}\n\
                    ingress:\n  # a comment\n  httpsPort: 8443\nlist:\n  - a: 1\n";
        let places = value_locations(text);
        assert_eq!(places.get("cloud"), Some(&(2, 3)), "{places:?}");
        assert_eq!(places.get("cloud.domain"), Some(&(2, 11)), "{places:?}");
        assert_eq!(
            places.get("cluster.loadBalancerIp"),
            Some(&(3, 27)),
            "{places:?}"
        );
        assert_eq!(
            places.get("ingress.httpsPort"),
            Some(&(6, 14)),
            "{places:?}"
        );
        assert_eq!(
            places.get("list.0.a"),
            None,
            "a list's items are not listed"
        );
        assert!(value_locations("a: [unclosed").is_empty());
    }
}
