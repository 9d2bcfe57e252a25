//! Script options as typed values: a host function's options map is
//! deserialized into a struct of its own (`deny_unknown_fields`), one key
//! at a time, so that an unknown key is named with the nearest known one
//! and a value the key cannot take is named in the words of that key.

use super::support::{script_error, RhaiResultOf};
use rhai::{Dynamic, NativeCallContext};
use serde::de::{DeserializeOwned, Visitor};
use serde::Deserialize;

/// How the error for a value an option cannot take shows the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// The value itself: `option tcp must be true or false, not 3`.
    Value,
    /// Its type: `option force must be true or false, not i64`.
    Type,
}

/// The options of one host function, as a struct whose fields are the
/// keys, in the order the error for an unknown key lists them.
pub(crate) trait ScriptOptions: DeserializeOwned {
    /// What option `key` takes (`true or false`, `a port, 1-65535`), and
    /// how the error shows a value it cannot take.
    fn expected(key: &str) -> (&'static str, Shown);
}

/// `options` as `T`. An unknown key is refused naming the nearest known
/// one; a value its key cannot take, in the words of [`ScriptOptions::expected`].
/// Keys are checked in order, so the first wrong one is the one named.
pub(crate) fn parse<T: ScriptOptions>(
    ctx: &NativeCallContext,
    function: &str,
    options: &rhai::Map,
) -> RhaiResultOf<T> {
    let known = field_names::<T>();
    for (key, value) in options {
        if !known.contains(&key.as_str()) {
            return Err(unknown_option(ctx, function, key, known));
        }
        let alone = rhai::Map::from_iter([(key.clone(), value.clone())]);
        if rhai::serde::from_dynamic::<T>(&Dynamic::from_map(alone)).is_err() {
            let (expected, shown) = T::expected(key);
            let shown = match shown {
                Shown::Value => value.to_string(),
                Shown::Type => value.type_name().to_string(),
            };
            return Err(script_error(
                ctx,
                format!("{function}: option {key} must be {expected}, not {shown}"),
            ));
        }
    }
    rhai::serde::from_dynamic(&Dynamic::from_map(options.clone()))
        .map_err(|e| script_error(ctx, format!("{function}: {e}")))
}

/// The error for an option a host function does not know, naming the
/// nearest known one.
fn unknown_option(
    ctx: &NativeCallContext,
    function: &str,
    key: &str,
    known: &[&str],
) -> Box<rhai::EvalAltResult> {
    let hint = crate::objects::strict::did_you_mean(&crate::objects::strict::nearest(
        key,
        known.iter().copied(),
    ));
    script_error(
        ctx,
        format!(
            "{function}: unknown option {key}{hint}; known: {}",
            known.join(", ")
        ),
    )
}

/// For a field that, when given, must hold a `T` (with `#[serde(default)]`
/// for when it is not): unlike `Option<T>`, a `()` is not taken for absent.
pub(crate) fn given<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A whole number of seconds above zero (`timeout: 5`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "rhai::INT")]
pub(crate) struct Seconds(pub(crate) std::time::Duration);

impl TryFrom<rhai::INT> for Seconds {
    type Error = &'static str;

    fn try_from(seconds: rhai::INT) -> Result<Seconds, &'static str> {
        u64::try_from(seconds)
            .ok()
            .filter(|s| *s > 0)
            .map(|s| Seconds(std::time::Duration::from_secs(s)))
            .ok_or("not a positive number of seconds")
    }
}

/// The names of `T`'s fields, as its derived `Deserialize` gives them to a
/// deserializer (the only place serde says them).
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that only notes the fields a struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom(
            "only a struct's field names are read",
        ))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom(
            "only a struct's field names are read",
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options in both styles of error, as the host functions have them.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Example {
        #[serde(deserialize_with = "given")]
        tcp: Option<bool>,
        force: Option<bool>,
        timeout: Option<Seconds>,
    }

    impl ScriptOptions for Example {
        fn expected(key: &str) -> (&'static str, Shown) {
            match key {
                "tcp" => ("true or false", Shown::Value),
                "force" => ("true or false", Shown::Type),
                _ => ("a positive number of seconds", Shown::Value),
            }
        }
    }

    /// What `example(options)` says in a script: `ok` or the error.
    fn said(options: &str) -> String {
        let mut engine = rhai::Engine::new();
        engine.register_fn(
            "example",
            |ctx: NativeCallContext, options: rhai::Map| -> RhaiResultOf<String> {
                parse::<Example>(&ctx, "f", &options).map(|e| format!("{e:?}"))
            },
        );
        match engine.eval::<String>(&format!("example({options})")) {
            Ok(_) => "ok".to_string(),
            Err(e) => match *e {
                rhai::EvalAltResult::ErrorRuntime(message, _) => message.to_string(),
                other => other.to_string(),
            },
        }
    }

    #[test]
    fn field_names_come_in_declaration_order() {
        assert_eq!(field_names::<Example>(), ["tcp", "force", "timeout"]);
    }

    #[test]
    fn an_unknown_option_is_named_with_the_nearest_known_one() {
        assert_eq!(
            said("#{ tpc: true }"),
            "f: unknown option tpc (did you mean tcp?); known: tcp, force, timeout"
        );
    }

    #[test]
    fn a_value_an_option_cannot_take_is_named_in_its_words() {
        assert_eq!(
            said("#{ tcp: 3 }"),
            "f: option tcp must be true or false, not 3"
        );
        // `()` is a value given, not an option left out.
        assert!(said("#{ tcp: () }").starts_with("f: option tcp must be true or false, not"));
        assert_eq!(
            said("#{ force: 3 }"),
            "f: option force must be true or false, not i64"
        );
        assert_eq!(
            said("#{ timeout: 0 }"),
            "f: option timeout must be a positive number of seconds, not 0"
        );
        assert_eq!(said("#{ force: (), timeout: 5, tcp: false }"), "ok");
        assert_eq!(said("#{}"), "ok");
    }
}
