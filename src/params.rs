//! Recipe parameters: what a recipe declares in its `fn params()`, and the
//! command-line words (`--name myservice`) checked against it.
//!
//! A recipe declares its parameters as a list of maps:
//!
//! ```rhai
//! fn params() {
//!     [
//!         #{ name: "name", type: "label", required: true, help: "Service name" },
//!         #{ name: "port", type: "port", default: 80, help: "Container port" },
//!     ]
//! }
//! ```
//!
//! Every check here runs before the recipe's body, so a bad parameter never
//! leaves a half-done run behind.

use crate::objects::{strict, validate};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The type of a recipe parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamType {
    /// Any text.
    Text,
    /// A DNS-1123 label (object names, namespaces).
    Label,
    /// A whole number.
    Integer,
    /// A port number, 1–65535.
    Port,
    /// `true` or `false`; `--flag` alone means true.
    Bool,
}

impl ParamType {
    const ALL: [(&'static str, ParamType); 5] = [
        ("string", ParamType::Text),
        ("label", ParamType::Label),
        ("int", ParamType::Integer),
        ("port", ParamType::Port),
        ("bool", ParamType::Bool),
    ];

    fn parse(name: &str) -> Option<ParamType> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// The name used in declarations and help.
    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("string")
    }

    /// Converts a command-line word to a value of this type.
    pub(crate) fn convert(self, text: &str) -> Result<Value, String> {
        match self {
            ParamType::Text => Ok(Value::String(text.to_string())),
            ParamType::Label => validate::dns1123_label(text)
                .map(|_| Value::String(text.to_string()))
                .map_err(|e| format!("{text:?} is not a valid name: it {e} (a DNS-1123 label)")),
            ParamType::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{text:?} is not a whole number")),
            ParamType::Port => {
                let n = text
                    .parse::<i64>()
                    .map_err(|_| format!("{text:?} is not a port number (1-65535)"))?;
                validate::port(n).map(|_| Value::from(n))
            }
            ParamType::Bool => match text {
                "true" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(format!("{text:?} is not true or false")),
            },
        }
    }

    /// Checks a declared default against this type.
    fn check_default(self, value: &Value) -> Result<(), String> {
        let text = match value {
            Value::String(s) if matches!(self, ParamType::Text | ParamType::Label) => s.clone(),
            Value::Number(n) if matches!(self, ParamType::Integer | ParamType::Port) => {
                n.to_string()
            }
            Value::Bool(b) if self == ParamType::Bool => b.to_string(),
            other => return Err(format!("default {other} is not a {}", self.name())),
        };
        self.convert(&text).map(|_| ())
    }
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name, as in `--name`.
    pub(crate) name: String,
    /// Type.
    pub(crate) ty: ParamType,
    /// Whether it must be given.
    pub(crate) required: bool,
    /// Value when not given.
    pub(crate) default: Option<Value>,
    /// One line for `--help`.
    pub(crate) help: String,
}

const DECLARATION_KEYS: [&str; 5] = ["name", "type", "required", "default", "help"];

/// What is wrong with a recipe's parameters: in the recipe's declaration
/// (its author fixes `fn params()`), or in the words on the command line
/// (whoever runs it fixes the command; the command line maps this to exit
/// code 2). The message names the parameter and, where a known name is
/// close, the one that was probably meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParamsError {
    /// `fn params()` declares something wildrun cannot take.
    #[error("{0}")]
    Declaration(String),
    /// The command line gives the recipe's parameters wrongly.
    #[error("{0}")]
    Usage(String),
}

/// Reads the value `fn params()` returned into declarations. `reserved`
/// are the long names of wildrun's own options, which a recipe cannot take.
///
/// Every error is a [`ParamsError::Declaration`].
pub(crate) fn from_declaration(
    value: &Value,
    reserved: &[String],
) -> Result<Vec<Param>, ParamsError> {
    let bad = ParamsError::Declaration;
    let items = value.as_array().ok_or_else(|| {
        bad(format!(
            "params() must return a list of maps, it returned {}",
            strict::describe(value)
        ))
    })?;
    let mut params: Vec<Param> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("params()[{i}]");
        let map = item.as_object().ok_or_else(|| {
            bad(format!(
                "{at}: expected a map such as #{{ name: \"port\", type: \"port\" }}"
            ))
        })?;
        for k in map.keys() {
            if !DECLARATION_KEYS.contains(&k.as_str()) {
                let hint = strict::nearest(k, DECLARATION_KEYS)
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default();
                return Err(bad(format!("{at}: unknown key {k}{hint}")));
            }
        }
        let name = map
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{at}: name is missing")))?
            .to_string();
        let at = format!("parameter {name}");
        if validate::dns1123_label(&name).is_err() {
            return Err(bad(format!(
                "{at}: a parameter name uses lowercase letters, digits and '-'"
            )));
        }
        if reserved.contains(&name) {
            return Err(bad(format!(
                "{at}: --{name} is one of wildrun's own options; choose another name"
            )));
        }
        if params.iter().any(|p| p.name == name) {
            return Err(bad(format!("{at} is declared twice")));
        }
        let ty = match map.get("type") {
            None => ParamType::Text,
            Some(Value::String(t)) => ParamType::parse(t).ok_or_else(|| {
                let names: Vec<&str> = ParamType::ALL.iter().map(|(n, _)| *n).collect();
                bad(format!(
                    "{at}: unknown type {t:?}; use one of {}",
                    names.join(", ")
                ))
            })?,
            Some(other) => {
                return Err(bad(format!(
                    "{at}: type must be a string, found {}",
                    strict::describe(other)
                )))
            }
        };
        let required = match map.get("required") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad(format!("{at}: required must be true or false"))),
        };
        let default = map.get("default").filter(|v| !v.is_null()).cloned();
        if let Some(d) = &default {
            ty.check_default(d).map_err(|e| bad(format!("{at}: {e}")))?;
        }
        let help = match map.get("help") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad(format!("{at}: help must be a string"))),
        };
        params.push(Param {
            name,
            ty,
            required,
            default,
            help,
        });
    }
    Ok(params)
}

/// Parses the recipe's words (`--name x --port=8080 --flag`) into `args`.
///
/// Every parameter appears in the result: given ones converted to their type,
/// the rest with their default or null. Every error is a [`ParamsError::Usage`].
pub(crate) fn parse_args(
    params: &[Param],
    words: &[String],
    script: &str,
) -> Result<Map<String, Value>, ParamsError> {
    let mut given: Map<String, Value> = Map::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let Some(body) = word.strip_prefix("--") else {
            return Err(ParamsError::Usage(format!(
                "unexpected argument {word:?}: recipe parameters are given as --name value"
            )));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(param) = params.iter().find(|p| p.name == name) else {
            let hint = strict::nearest(name, params.iter().map(|p| p.name.as_str()))
                .map(|s| format!(" (did you mean --{s}?)"))
                .unwrap_or_default();
            return Err(ParamsError::Usage(format!(
                "unknown parameter --{name}{hint}; `wildrun {script} --help` lists the parameters"
            )));
        };
        let text = match inline {
            Some(v) => v,
            None if param.ty == ParamType::Bool => {
                // A bare flag is true unless an explicit true/false follows.
                match words.get(i).map(String::as_str) {
                    Some(v @ ("true" | "false")) => {
                        i += 1;
                        v.to_string()
                    }
                    _ => "true".to_string(),
                }
            }
            None => match words.get(i) {
                Some(v) if !v.starts_with("--") => {
                    i += 1;
                    v.clone()
                }
                _ => {
                    return Err(ParamsError::Usage(format!(
                        "--{name} needs a value ({})",
                        param.ty.name()
                    )))
                }
            },
        };
        if given.contains_key(name) {
            return Err(ParamsError::Usage(format!("--{name} is given twice")));
        }
        let value = param
            .ty
            .convert(&text)
            .map_err(|e| ParamsError::Usage(format!("--{name}: {e}")))?;
        given.insert(name.to_string(), value);
    }
    let mut args = Map::new();
    for p in params {
        let value = match given.remove(&p.name) {
            Some(v) => v,
            None if p.required => {
                return Err(ParamsError::Usage(format!(
                    "missing required parameter --{} ({}); `wildrun {script} --help` lists the parameters",
                    p.name,
                    if p.help.is_empty() { p.ty.name() } else { &p.help }
                )))
            }
            None => p.default.clone().unwrap_or(Value::Null),
        };
        args.insert(p.name.clone(), value);
    }
    Ok(args)
}

/// The text of `wildrun SCRIPT --help`.
pub(crate) fn help_text(script: &str, about: &str, params: &[Param]) -> String {
    let mut out = String::new();
    let required: Vec<String> = params
        .iter()
        .filter(|p| p.required)
        .map(|p| format!(" --{} <{}>", p.name, p.ty.name()))
        .collect();
    let _ = writeln!(
        out,
        "Usage: wildrun [OPTIONS] {script}{} [PARAMETERS]",
        required.concat()
    );
    if !about.is_empty() {
        let _ = writeln!(out, "\n{about}");
    }
    let _ = writeln!(out, "\nParameters:");
    if params.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let labels: Vec<String> = params
        .iter()
        .map(|p| match p.ty {
            ParamType::Bool => format!("--{}", p.name),
            ty => format!("--{} <{}>", p.name, ty.name()),
        })
        .collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    for (p, label) in params.iter().zip(&labels) {
        let mut line = format!("  {label:width$}  {}", p.help);
        if p.required {
            line.push_str(" (required)");
        }
        if let Some(d) = &p.default {
            let shown = match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(line, " [default: {shown}]");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "\nwildrun's own options (--dry-run, --config, --set, -o, ...) may stand before or after the script; see `wildrun --help`."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decl() -> Vec<Param> {
        from_declaration(
            &json!([
                {"name": "name", "type": "label", "required": true, "help": "Service name"},
                {"name": "port", "type": "port", "default": 80},
                {"name": "replicas", "type": "int", "default": 1},
                {"name": "debug", "type": "bool", "default": false},
                {"name": "image", "default": "nginx:latest"},
            ]),
            &own(),
        )
        .unwrap()
    }

    fn own() -> Vec<String> {
        vec!["config".to_string()]
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_and_fills_defaults() {
        let args = parse_args(
            &decl(),
            &words(&["--name", "web", "--port=8080", "--debug"]),
            "r.rhai",
        )
        .unwrap();
        assert_eq!(args["name"], json!("web"));
        assert_eq!(args["port"], json!(8080));
        assert_eq!(args["replicas"], json!(1));
        assert_eq!(args["debug"], json!(true));
        assert_eq!(args["image"], json!("nginx:latest"));
    }

    #[test]
    fn unknown_parameter_suggests_nearest() {
        let err = parse_args(&decl(), &words(&["--nmae", "web"]), "r.rhai").unwrap_err();
        assert_eq!(
            err,
            ParamsError::Usage(
                "unknown parameter --nmae (did you mean --name?); `wildrun r.rhai --help` lists the parameters".into()
            )
        );
    }

    #[test]
    fn missing_and_mistyped() {
        let err = parse_args(&decl(), &[], "r.rhai").unwrap_err();
        assert!(
            err.to_string()
                .contains("missing required parameter --name"),
            "{err}"
        );
        for bad in ["0", "70000", "abc"] {
            let err =
                parse_args(&decl(), &words(&["--name", "a", "--port", bad]), "r.rhai").unwrap_err();
            assert!(err.to_string().starts_with("--port:"), "{err}");
        }
        for bad in ["My_App", "", &"a".repeat(64)] {
            let err = parse_args(&decl(), &words(&["--name", bad]), "r.rhai").unwrap_err();
            assert!(err.to_string().contains("not a valid name"), "{err}");
        }
        let err = parse_args(&decl(), &words(&["--name"]), "r.rhai").unwrap_err();
        assert!(err.to_string().contains("needs a value"), "{err}");
    }

    #[test]
    fn bad_declarations() {
        assert!(
            from_declaration(&json!([{"name": "x", "tpye": "int"}]), &own())
                .unwrap_err()
                .to_string()
                .contains("did you mean type?")
        );
        assert!(
            from_declaration(&json!([{"name": "x", "type": "number"}]), &own())
                .unwrap_err()
                .to_string()
                .contains("unknown type")
        );
        assert!(from_declaration(&json!([{"name": "config"}]), &own())
            .unwrap_err()
            .to_string()
            .contains("wildrun's own options"));
        assert!(from_declaration(
            &json!([{"name": "p", "type": "port", "default": 0}]),
            &own()
        )
        .unwrap_err()
        .to_string()
        .contains("not a port"));
    }

    #[test]
    fn help_lists_parameters() {
        let text = help_text("r.rhai", "Deploys things.", &decl());
        assert!(text.contains("Usage: wildrun [OPTIONS] r.rhai --name <label>"));
        assert!(text.contains("--port <port>"));
        assert!(text.contains("[default: nginx:latest]"));
        assert!(text.contains("Service name (required)"));
    }

    #[test]
    fn a_declaration_error_is_the_recipes_a_usage_error_the_command_lines() {
        let err = from_declaration(
            &json!([{"name": "port", "type": "port", "default": 0}]),
            &own(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ParamsError::Declaration("parameter port: 0 is not a port number (1-65535)".into())
        );
        let err = from_declaration(&json!([{"name": "a"}, {"name": "a"}]), &own()).unwrap_err();
        assert_eq!(err.to_string(), "parameter a is declared twice");
        let err =
            parse_args(&decl(), &words(&["--name", "web", "--name", "x"]), "r.rhai").unwrap_err();
        assert_eq!(err, ParamsError::Usage("--name is given twice".into()));
        let err = parse_args(&decl(), &[], "r.rhai").unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing required parameter --name (Service name); `wildrun r.rhai --help` lists the parameters"
        );
    }
}
