//! Secrets an app owns (`kube::generated_secret`): random values made on
//! the first deploy and kept from then on.
//!
//! Each key of the Secret has a length and an alphabet. A value the live
//! Secret already holds is kept as it is (whatever its length: a spec
//! changed later never rotates a value silently); a key it lacks is
//! generated; every key is generated again only when the run is asked to
//! rotate the Secret (`--rotate-secret NAMESPACE/NAME`). The values come
//! from the operating system's random number generator (through `ring`,
//! which wildrun already uses for TLS), each character drawn uniformly
//! from the alphabet.

use crate::plan::{ObjectRef, GENERATED_ANNOTATION};
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Map, Value};

/// Length of a value when the recipe gives none.
pub(crate) const DEFAULT_LENGTH: usize = 32;
/// The longest value wildrun generates.
pub(crate) const MAX_LENGTH: usize = 4096;
/// Characters of a value when the recipe gives no alphabet: letters and
/// digits, safe in URLs, connection strings and shell words alike.
pub(crate) const DEFAULT_ALPHABET: &str =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The most characters an alphabet may have.
pub(crate) const MAX_ALPHABET: usize = 1024;
/// The fields of one key's map.
const KEY_FIELDS: &[&str] = &["length", "alphabet"];

/// Why a generated Secret cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum GeneratedError {
    /// `keys` is missing, not a map, or empty.
    #[error("keys must be a map of key names to #{{ length, alphabet }} with at least one key, e.g. #{{ keys: #{{ password: #{{ length: 32 }} }} }}")]
    NoKeys,
    /// A key name a Secret cannot hold.
    #[error("keys.{key}: a Secret key is made of letters, digits, '-', '_' and '.' (at most 253)")]
    KeyName {
        /// The key.
        key: String,
    },
    /// A key's settings are not a map.
    #[error("keys.{key} must be a map such as #{{ length: 32, alphabet: \"abc...\" }} (or #{{}} for the defaults), not {found}")]
    NotAMap {
        /// The key.
        key: String,
        /// The type found.
        found: String,
    },
    /// A field of a key's map that is not `length` or `alphabet`.
    #[error("keys.{key}.{field}: unknown field{}; known: length, alphabet", crate::objects::strict::did_you_mean(.nearest))]
    UnknownField {
        /// The key.
        key: String,
        /// The field.
        field: String,
        /// The known field nearest to it, if one is close.
        nearest: Option<String>,
    },
    /// A length that is not a whole number in range.
    #[error("keys.{key}.length must be a whole number from 1 to {MAX_LENGTH}, not {found}")]
    Length {
        /// The key.
        key: String,
        /// What was given.
        found: String,
    },
    /// An alphabet that is not a string of at least two distinct
    /// characters, each once, none of them blank.
    #[error("keys.{key}.alphabet {problem}")]
    Alphabet {
        /// The key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The operating system gave no random bytes.
    #[error("the operating system's random number generator failed")]
    Random,
}

/// How one value is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueSpec {
    /// Characters in the value.
    pub(crate) length: usize,
    /// The characters it is drawn from, each once.
    pub(crate) alphabet: Vec<char>,
}

/// A Secret of generated values: which keys, each made how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretSpec {
    /// The keys in the recipe's order, each with how its value is made.
    pub(crate) keys: Vec<(String, ValueSpec)>,
}

impl SecretSpec {
    /// Reads `keys` (a map of key name to `{ length, alphabet }`, either
    /// optional) as the recipe gave it.
    pub(crate) fn from_keys(keys: Option<&Value>) -> Result<SecretSpec, GeneratedError> {
        let Some(Value::Object(keys)) = keys else {
            return Err(GeneratedError::NoKeys);
        };
        if keys.is_empty() {
            return Err(GeneratedError::NoKeys);
        }
        let keys = keys
            .iter()
            .map(|(key, settings)| Ok((key.clone(), value_spec(key, settings)?)))
            .collect::<Result<_, GeneratedError>>()?;
        Ok(SecretSpec { keys })
    }
}

/// The name of a JSON value's type, as a script author knows it.
fn type_name(value: &Value) -> String {
    match value {
        Value::Null => "()".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "a map".into(),
    }
}

fn value_spec(key: &str, settings: &Value) -> Result<ValueSpec, GeneratedError> {
    let valid_key = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_key {
        return Err(GeneratedError::KeyName { key: key.into() });
    }
    let Value::Object(fields) = settings else {
        return Err(GeneratedError::NotAMap {
            key: key.into(),
            found: type_name(settings),
        });
    };
    if let Some(field) = fields.keys().find(|f| !KEY_FIELDS.contains(&f.as_str())) {
        return Err(GeneratedError::UnknownField {
            key: key.into(),
            field: field.clone(),
            nearest: crate::objects::strict::nearest(field, KEY_FIELDS.iter().copied()),
        });
    }
    let length = match fields.get("length") {
        None | Some(Value::Null) => DEFAULT_LENGTH,
        Some(given) => given
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_LENGTH).contains(n))
            .ok_or_else(|| GeneratedError::Length {
                key: key.into(),
                found: match given {
                    Value::String(s) => format!("{s:?}"),
                    other => type_name(other),
                },
            })?,
    };
    let alphabet = match fields.get("alphabet") {
        None | Some(Value::Null) => DEFAULT_ALPHABET.chars().collect(),
        Some(Value::String(text)) => alphabet(key, text)?,
        Some(other) => {
            return Err(GeneratedError::Alphabet {
                key: key.into(),
                problem: format!("must be a string of characters, not {}", type_name(other)),
            })
        }
    };
    Ok(ValueSpec { length, alphabet })
}

/// The characters of `text`, checked: each once (a character twice would
/// be drawn twice as often), none blank or a control character, at least
/// two, at most [`MAX_ALPHABET`].
fn alphabet(key: &str, text: &str) -> Result<Vec<char>, GeneratedError> {
    let problem = |problem: String| GeneratedError::Alphabet {
        key: key.into(),
        problem,
    };
    let chars: Vec<char> = text.chars().collect();
    if let Some(c) = chars.iter().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem(format!(
            "holds a blank or control character (U+{:04X}): values must survive being pasted and quoted",
            u32::from(*c)
        )));
    }
    for (i, c) in chars.iter().enumerate() {
        if chars[..i].contains(c) {
            return Err(problem(format!(
                "holds {c:?} twice: write each character once, so that each is as likely"
            )));
        }
    }
    if chars.len() < 2 {
        return Err(problem(format!(
            "must have at least 2 characters, not {}",
            chars.len()
        )));
    }
    if chars.len() > MAX_ALPHABET {
        return Err(problem(format!(
            "must have at most {MAX_ALPHABET} characters, not {}",
            chars.len()
        )));
    }
    Ok(chars)
}

/// One value of `spec.length` characters, each drawn uniformly from
/// `spec.alphabet`: 32-bit draws above the largest multiple of the
/// alphabet's size are drawn again, so no character is more likely.
pub(crate) fn random_value(
    spec: &ValueSpec,
    random: &dyn SecureRandom,
) -> Result<String, GeneratedError> {
    let size = u32::try_from(spec.alphabet.len()).map_err(|_| GeneratedError::Random)?;
    if size < 2 {
        return Err(GeneratedError::Random);
    }
    let zone = u32::MAX - (u32::MAX % size);
    let mut value = String::with_capacity(spec.length);
    let mut bytes = [0u8; 4];
    while value.chars().count() < spec.length {
        random
            .fill(&mut bytes)
            .map_err(|_| GeneratedError::Random)?;
        let draw = u32::from_le_bytes(bytes);
        if draw < zone {
            value.push(spec.alphabet[(draw % size) as usize]);
        }
    }
    Ok(value)
}

/// What [`build`] made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Generated {
    /// The Secret to apply: its keys' values in `data` (base64), the
    /// generated keys named in [`GENERATED_ANNOTATION`].
    pub(crate) secret: Value,
    /// The keys whose values are new this run (not in the live Secret, or rotated).
    pub(crate) new_keys: Vec<String>,
}

/// The Secret `target` with `spec`'s keys: a value `live` (the Secret as
/// it is, if it exists) holds is kept unless `rotate`; the others are
/// generated.
pub(crate) fn build(
    target: &ObjectRef,
    spec: &SecretSpec,
    live: Option<&Value>,
    rotate: bool,
) -> Result<Generated, GeneratedError> {
    let random = SystemRandom::new();
    let mut data = Map::new();
    let mut new_keys = Vec::new();
    for (key, value_spec) in &spec.keys {
        let kept = live
            .and_then(|l| l.get("data"))
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .filter(|_| !rotate);
        let encoded = match kept {
            Some(encoded) => encoded.to_string(),
            None => {
                new_keys.push(key.clone());
                let value = random_value(value_spec, &random)?;
                base64::engine::general_purpose::STANDARD.encode(value)
            }
        };
        data.insert(key.clone(), Value::String(encoded));
    }
    let names: Vec<&str> = spec.keys.iter().map(|(k, _)| k.as_str()).collect();
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": target.name,
            "namespace": target.namespace,
            "annotations": { GENERATED_ANNOTATION: names.join(",") },
        },
        "type": "Opaque",
        "data": data,
    });
    Ok(Generated { secret, new_keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(keys: Value) -> Result<SecretSpec, GeneratedError> {
        SecretSpec::from_keys(Some(&keys))
    }

    fn decoded(secret: &Value, key: &str) -> String {
        let text = secret["data"][key].as_str().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn values_have_their_length_and_alphabet_and_differ() {
        let s =
            spec(json!({"password": {}, "pin": {"length": 6, "alphabet": "0123456789"}})).unwrap();
        let target = ObjectRef::secret("shop", "db");
        let one = build(&target, &s, None, false).unwrap();
        let two = build(&target, &s, None, false).unwrap();
        assert_eq!(one.new_keys, ["password", "pin"]);
        let password = decoded(&one.secret, "password");
        assert_eq!(password.len(), DEFAULT_LENGTH);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
        let pin = decoded(&one.secret, "pin");
        assert!(
            pin.len() == 6 && pin.chars().all(|c| c.is_ascii_digit()),
            "{pin}"
        );
        assert_ne!(password, decoded(&two.secret, "password"));
        assert_eq!(
            one.secret["metadata"]["annotations"][GENERATED_ANNOTATION],
            json!("password,pin")
        );
        assert!(crate::plan::is_generated("Secret", &one.secret));
    }

    #[test]
    fn live_values_are_kept_a_new_key_is_generated_and_rotate_makes_all_new() {
        let s = spec(json!({"password": {"length": 8}, "token": {}})).unwrap();
        let target = ObjectRef::secret("shop", "db");
        // Kept whatever its length: the spec changed, the value did not.
        let live = json!({"data": {"password": "a2VwdA==", "other": "eA=="}});
        let again = build(&target, &s, Some(&live), false).unwrap();
        assert_eq!(again.secret["data"]["password"], json!("a2VwdA=="));
        assert_eq!(again.new_keys, ["token"]);
        assert!(again.secret["data"].get("other").is_none());
        let rotated = build(&target, &s, Some(&live), true).unwrap();
        assert_ne!(rotated.secret["data"]["password"], json!("a2VwdA=="));
        assert_eq!(rotated.new_keys, ["password", "token"]);
    }

    #[test]
    fn every_character_of_the_alphabet_is_drawn() {
        let value = ValueSpec {
            length: 2000,
            alphabet: "abc".chars().collect(),
        };
        let drawn = random_value(&value, &SystemRandom::new()).unwrap();
        for c in ['a', 'b', 'c'] {
            let n = drawn.chars().filter(|d| *d == c).count();
            // 2000/3 expected; far outside chance below 500 or above 830.
            assert!((500..830).contains(&n), "{c}: {n}");
        }
    }

    #[test]
    fn bad_settings_name_the_field() {
        let err = |keys: Value| spec(keys).unwrap_err().to_string();
        assert!(err(json!({})).starts_with("keys must be a map"));
        assert_eq!(
            err(json!({"pw": {"length": 0}})),
            format!("keys.pw.length must be a whole number from 1 to {MAX_LENGTH}, not 0")
        );
        assert!(err(json!({"pw": {"length": "32"}})).contains("not \"32\""));
        assert!(err(json!({"pw": {"length": 4097}})).contains("not 4097"));
        assert_eq!(
            err(json!({"pw": {"alphabet": "a"}})),
            "keys.pw.alphabet must have at least 2 characters, not 1"
        );
        assert!(err(json!({"pw": {"alphabet": "abca"}})).contains("holds 'a' twice"));
        assert!(err(json!({"pw": {"alphabet": "ab c"}}))
            .contains("blank or control character (U+0020)"));
        assert!(err(json!({"pw": {"lenght": 3}}))
            .contains("keys.pw.lenght: unknown field (did you mean length?)"));
        assert!(err(json!({"pw": 32})).contains("keys.pw must be a map"));
        assert!(err(json!({"a b": {}})).starts_with("keys.a b: a Secret key"));
    }
}
