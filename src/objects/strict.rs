//! A strict deserializer over `serde_json::Value`.
//!
//! k8s-openapi's types (and serde-derived types without `deny_unknown_fields`)
//! silently drop fields they do not know, so a typo such as `spec.replica`
//! would vanish from the object without a word. This deserializer sees the
//! list of fields every struct declares (`deserialize_struct`'s `fields`),
//! records each key that is not among them together with its path and the
//! nearest known name, and prefixes every type error with the path of the
//! value that caused it.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// A field the target type does not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownField {
    /// Dotted path of the field, e.g. `spec.replica` or `spec.template.spec.containers[0].imge`.
    pub(crate) path: String,
    /// The closest field name the type does declare at that place, if one is close enough.
    pub(crate) suggestion: Option<String>,
}

impl fmt::Display for UnknownField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown field {}{}",
            self.path,
            did_you_mean(&self.suggestion)
        )
    }
}

/// ` (did you mean NAME?)` for the name [`nearest`] found, or nothing.
pub(crate) fn did_you_mean(nearest: &Option<String>) -> String {
    nearest
        .as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

/// A deserialization failure, with the path of the value that caused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StrictError {
    /// A value has the wrong type or form: `path: message`, where `path`
    /// (`spec.replicas`, `spec.containers[0].ports`) is the field to fix.
    #[error("{path}: {message}")]
    At {
        /// Dotted path of the value that failed.
        path: String,
        /// What the target type expected.
        message: String,
    },
    /// A failure not placed in the object: at its root, or raised by a type
    /// before the deserializer knew where it was.
    #[error("{0}")]
    Unplaced(String),
}

impl StrictError {
    /// Places the error at `path`, unless an inner, more precise path placed it first.
    fn at(self, path: &str) -> Self {
        match self {
            StrictError::Unplaced(message) if !path.is_empty() => StrictError::At {
                path: path.to_string(),
                message,
            },
            placed => placed,
        }
    }
}

/// serde's types report their failures through this.
///
/// serde's wording is kept, but a string value is named by its type only
/// (`invalid type: string, expected i32`): it may have been read from a
/// Secret, and the path already says which value to fix.
impl de::Error for StrictError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        StrictError::Unplaced(msg.to_string())
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: {}, expected {expected}",
            Unshown(unexpected)
        ))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: {}, expected {expected}",
            Unshown(unexpected)
        ))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        let quoted: Vec<String> = expected.iter().map(|v| format!("`{v}`")).collect();
        Self::custom(match quoted.as_slice() {
            [] => "unknown variant, there are no variants".to_string(),
            [one] => format!("unknown variant, expected {one}"),
            [first, second] => format!("unknown variant, expected {first} or {second}"),
            all => format!("unknown variant, expected one of {}", all.join(", ")),
        })
    }
}

/// A value serde did not expect, as serde names it, except that text
/// (a string, a character, bytes) is named by its type alone.
struct Unshown<'a>(de::Unexpected<'a>);

impl fmt::Display for Unshown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            de::Unexpected::Str(_) => f.write_str("string"),
            de::Unexpected::Char(_) => f.write_str("character"),
            de::Unexpected::Bytes(_) => f.write_str("byte array"),
            other => other.fmt(f),
        }
    }
}

/// Deserialize `value` into `T`, returning the value and every unknown field found.
///
/// `ignore_top_level` names keys at the root that the caller checks itself
/// (for custom resources: `apiVersion` and `kind`, which kube-derive's
/// root struct does not declare as fields).
pub(crate) fn from_value<T: de::DeserializeOwned>(
    value: &Value,
    ignore_top_level: &[&str],
) -> Result<(T, Vec<UnknownField>), StrictError> {
    let unknown = RefCell::new(Vec::new());
    let de = StrictDeserializer {
        value,
        path: String::new(),
        unknown: &unknown,
        ignore: ignore_top_level,
    };
    let out = T::deserialize(de)?;
    Ok((out, unknown.into_inner()))
}

struct StrictDeserializer<'a> {
    value: &'a Value,
    path: String,
    unknown: &'a RefCell<Vec<UnknownField>>,
    ignore: &'a [&'a str],
}

impl<'a> StrictDeserializer<'a> {
    fn child(&self, value: &'a Value, path: String) -> Self {
        StrictDeserializer {
            value,
            path,
            unknown: self.unknown,
            ignore: &[],
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The known name closest to `key`, if it is plausibly a typo of it: a few
/// edits away (swapped, missing or extra letters) or sharing most of its letters.
pub(crate) fn nearest<'n>(key: &str, known: impl IntoIterator<Item = &'n str>) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    let max_edits = (lower.len() / 3).max(1);
    known
        .into_iter()
        .filter_map(|k| {
            let candidate = k.to_ascii_lowercase();
            let similarity = strsim::jaro_winkler(&lower, &candidate);
            let edits = strsim::osa_distance(&lower, &candidate);
            (similarity >= 0.8 || edits <= max_edits).then_some((edits, -similarity, k))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, k)| k.to_string())
}

impl<'de, 'a> de::Deserializer<'de> for StrictDeserializer<'a> {
    type Error = StrictError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        let path = self.path.clone();
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(StrictSeq {
                parent: &self,
                items: items.iter(),
                index: 0,
            }),
            Value::Object(map) => visitor.visit_map(StrictMap::new(&self, map, None)),
        };
        result.map_err(|e| e.at(&path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        let path = self.path.clone();
        match self.value {
            Value::Object(map) => visitor
                .visit_map(StrictMap::new(&self, map, Some(fields)))
                .map_err(|e| e.at(&path)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        let path = self.path.clone();
        match self.value {
            Value::String(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: StrictError| e.at(&path)),
            // Externally tagged enums with data are not used by Kubernetes types.
            _ => Err(<StrictError as de::Error>::custom(format!(
                "expected a string, found {}",
                describe(self.value)
            ))
            .at(&path)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// A short description of a JSON value's type, for error messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

struct StrictSeq<'p, 'a> {
    parent: &'p StrictDeserializer<'a>,
    items: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'de, 'p, 'a> SeqAccess<'de> for StrictSeq<'p, 'a> {
    type Error = StrictError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, StrictError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{}]", self.parent.path, self.index);
        self.index += 1;
        let child = self.parent.child(item, path.clone());
        seed.deserialize(child).map(Some).map_err(|e| e.at(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct StrictMap<'p, 'a> {
    parent: &'p StrictDeserializer<'a>,
    entries: Vec<(&'a String, &'a Value)>,
    next: usize,
    current: Option<(&'a String, &'a Value)>,
}

impl<'p, 'a> StrictMap<'p, 'a> {
    /// With `fields`, keys the struct does not declare are recorded and skipped.
    fn new(
        parent: &'p StrictDeserializer<'a>,
        map: &'a Map<String, Value>,
        fields: Option<&'static [&'static str]>,
    ) -> Self {
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            let known = match fields {
                None => true,
                Some(fields) => {
                    fields.contains(&key.as_str()) || parent.ignore.contains(&key.as_str())
                }
            };
            if known {
                if !parent.ignore.contains(&key.as_str()) {
                    entries.push((key, value));
                }
            } else if let Some(fields) = fields {
                parent.unknown.borrow_mut().push(UnknownField {
                    path: join(&parent.path, key),
                    suggestion: nearest(key, fields.iter().copied()),
                });
            }
        }
        StrictMap {
            parent,
            entries,
            next: 0,
            current: None,
        }
    }
}

impl<'de, 'p, 'a> MapAccess<'de> for StrictMap<'p, 'a> {
    type Error = StrictError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, StrictError> {
        let Some(entry) = self.entries.get(self.next).copied() else {
            return Ok(None);
        };
        self.next += 1;
        self.current = Some(entry);
        let key: de::value::StrDeserializer<'_, StrictError> = entry.0.as_str().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, StrictError> {
        let Some((key, value)) = self.current.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        let path = join(&self.parent.path, key);
        let child = self.parent.child(value, path.clone());
        seed.deserialize(child).map_err(|e| e.at(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    #[test]
    fn reports_unknown_field_with_path_and_suggestion() {
        let v = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x"},
            "spec": {"replica": 2, "selector": {}, "template": {"spec": {"containers": [{"name": "a", "imge": "n"}]}}}
        });
        let (_, unknown) = from_value::<Deployment>(&v, &[]).unwrap();
        assert_eq!(
            unknown,
            vec![
                UnknownField {
                    path: "spec.replica".into(),
                    suggestion: Some("replicas".into())
                },
                UnknownField {
                    path: "spec.template.spec.containers[0].imge".into(),
                    suggestion: Some("image".into())
                },
            ]
        );
    }

    #[test]
    fn type_error_names_the_path() {
        let v = json!({"metadata": {"name": "x"}, "spec": {"replicas": "two", "selector": {}}});
        let err = from_value::<Deployment>(&v, &[]).unwrap_err().to_string();
        assert_eq!(err, "spec.replicas: invalid type: string, expected i32");
    }

    #[test]
    fn a_string_in_a_wrongly_typed_field_is_never_echoed() {
        // As a script would put a Secret's value into a number field.
        let secret = "Q0ZUT0tFTi1zZWNyZXQtdmFsdWU=";
        let v = json!({"metadata": {"name": "x"}, "spec": {"replicas": secret, "selector": {}}});
        let err = from_value::<Deployment>(&v, &[]).unwrap_err().to_string();
        assert!(!err.contains(secret), "{err}");
        assert_eq!(err, "spec.replicas: invalid type: string, expected i32");
        // Other values keep serde's words.
        let v = json!({"metadata": {"name": "x"}, "spec": {"replicas": true, "selector": {}}});
        let err = from_value::<Deployment>(&v, &[]).unwrap_err().to_string();
        assert_eq!(
            err,
            "spec.replicas: invalid type: boolean `true`, expected i32"
        );
    }

    #[test]
    fn invalid_values_and_unknown_variants_name_what_was_expected_only() {
        let e = <StrictError as de::Error>::invalid_value(
            de::Unexpected::Str("s3cr3t"),
            &"a port name",
        );
        assert_eq!(e.to_string(), "invalid value: string, expected a port name");
        let e = <StrictError as de::Error>::unknown_variant("s3cr3t", &["TCP", "UDP", "SCTP"]);
        assert_eq!(
            e.to_string(),
            "unknown variant, expected one of `TCP`, `UDP`, `SCTP`"
        );
        let e = <StrictError as de::Error>::unknown_variant("s3cr3t", &["Ready", "Failed"]);
        assert_eq!(
            e.to_string(),
            "unknown variant, expected `Ready` or `Failed`"
        );
    }

    #[test]
    fn known_fields_pass_untouched() {
        let v = json!({"metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {"replicas": 2, "selector": {}}});
        let (d, unknown) = from_value::<Deployment>(&v, &[]).unwrap();
        assert!(unknown.is_empty());
        assert_eq!(d.spec.replicas, Some(2));
    }

    #[test]
    fn nearest_rejects_unrelated_names() {
        assert_eq!(nearest("zzz", ["replicas", "selector"]), None);
        assert_eq!(
            nearest("selectr", ["replicas", "selector"]).as_deref(),
            Some("selector")
        );
        assert_eq!(nearest("tll", ["ttl"]).as_deref(), Some("ttl"));
        assert_eq!(
            nearest("nmae", ["name", "namespace", "image"]).as_deref(),
            Some("name")
        );
    }

    #[test]
    fn an_error_is_placed_at_the_innermost_path_only() {
        let root = <StrictError as de::Error>::custom("invalid type: null");
        assert_eq!(root.to_string(), "invalid type: null");
        assert_eq!(root.clone().at("").to_string(), "invalid type: null");
        let placed = root.at("spec.replicas");
        assert_eq!(placed.to_string(), "spec.replicas: invalid type: null");
        assert_eq!(
            placed.at("spec").to_string(),
            "spec.replicas: invalid type: null",
            "an outer path does not replace the inner one"
        );
    }
}
