//! Script errors as people read them: the outermost script location
//! first, then the message in plain words, then the call chain.

use super::limits::{
    CPU_TIME_SPENT, MAX_CALL_LEVELS, MAX_COLLECTION_SIZE, MAX_CPU_TIME, MAX_OPERATIONS,
    MAX_STRING_SIZE,
};
use rhai::{EvalAltResult, ParseErrorType, Position};

fn at(source: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{source}:{l}:{c}"),
        (Some(l), None) => format!("{source}:{l}"),
        _ => source.to_string(),
    }
}

/// Turns a script error into a message for people: the outermost script
/// location first, then the message, then the call chain inside modules.
pub(crate) fn describe_error(err: &EvalAltResult, main_source: &str) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut source = main_source.to_string();
    let mut first_at: Option<String> = None;
    let mut err = err;
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(name, fn_source, inner, pos) => {
                let here = at(&source, *pos);
                if pos.is_none() {
                    // A call from Rust (a watch handler): no script location to show.
                } else if first_at.is_none() {
                    first_at = Some(here);
                } else {
                    chain.push(format!("  in {name}() called at {here}"));
                }
                if !fn_source.is_empty() {
                    source = fn_source.clone();
                }
                err = inner;
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                let here = at(&source, *pos);
                if first_at.is_none() {
                    first_at = Some(here);
                } else {
                    chain.push(format!("  importing {module} at {here}"));
                }
                if let EvalAltResult::ErrorParsing(kind, p) = inner.as_ref() {
                    chain.push(format!(
                        "  {}: syntax error: {}",
                        at(module, *p),
                        syntax_error_words(kind)
                    ));
                    break;
                }
                source = module.clone();
                err = inner;
            }
            other => {
                let pos = other.position();
                let message = leaf_message(other);
                let here = at(&source, pos);
                let head = match &first_at {
                    None => format!("{here}: {message}"),
                    Some(outer) => {
                        chain.insert(0, format!("  at {here}"));
                        format!("{outer}: {message}")
                    }
                };
                chain.insert(0, head);
                return chain.join("\n");
            }
        }
    }
    let head = format!("{}: error in imported module", first_at.unwrap_or(source));
    chain.insert(0, head);
    chain.join("\n")
}

/// A syntax error in plain words: Rhai's message, with the way out where
/// Rhai gives none.
pub(crate) fn syntax_error_words(kind: &ParseErrorType) -> String {
    match kind {
        // Kubernetes fields such as an IngressRoute's `match` are Rhai keywords.
        ParseErrorType::Reserved(word) => format!(
            "'{word}' is a reserved keyword in Rhai; as a map key, quote it: #{{ \"{word}\": ... }}, and read it as value[\"{word}\"]"
        ),
        other => other.to_string(),
    }
}

/// Rhai's "Unknown property 'x' - a getter is not registered for type 't'",
/// which a script meets when a map lacks a key (often a configuration
/// section) and the next `.x` reads from `()`.
fn unknown_property_words(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Unknown property '")?;
    let (property, rest) = rest.split_once('\'')?;
    let type_name = rest.split('\'').nth(1)?;
    Some(if type_name == "()" {
        format!(
            "cannot read .{property}: the value before it is missing (a key that is not there, such as a configuration section that is not set); check that key, or write ?.{property} to read () when it is absent"
        )
    } else {
        format!("a {type_name} has no property .{property}")
    })
}

fn leaf_message(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorDotExpr(message, _) => {
            unknown_property_words(message).unwrap_or_else(|| message.clone())
        }
        EvalAltResult::ErrorRuntime(value, _) => {
            if value.is_string() {
                value.clone().into_string().unwrap_or_default()
            } else {
                format!("script threw {value}")
            }
        }
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "the script was stopped after {MAX_OPERATIONS} operations; does a loop never end?"
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "the script was stopped at {MAX_CALL_LEVELS} nested function calls; does a function call itself forever?"
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            // Rhai names the limit ("Length of string", "Size of array", ...).
            let what = what.to_lowercase();
            let built = if what.contains("string") {
                format!("a string longer than {} MiB", MAX_STRING_SIZE >> 20)
            } else if what.contains("array") {
                format!("a list of more than {MAX_COLLECTION_SIZE} items")
            } else if what.contains("map") {
                format!("a map of more than {MAX_COLLECTION_SIZE} items")
            } else {
                format!("too much data ({what})")
            };
            format!("the script built {built}, more than wildrun allows")
        }
        EvalAltResult::ErrorModuleNotFound(name, _) => format!(
            "module {name:?} not found (looked in the recipe's folder, $WILDRUN_STDLIB, the nearest stdlib/ folder and the built-in stdlib)"
        ),
        EvalAltResult::ErrorTerminated(token, _)
            if token.clone().into_string().ok().as_deref() == Some(CPU_TIME_SPENT) =>
        {
            format!(
                "the script was stopped after {} s of computing; does it grow nested data in a loop, or copy large data again and again?",
                MAX_CPU_TIME.as_secs()
            )
        }
        EvalAltResult::ErrorTerminated(_, _) => "the script was stopped".to_string(),
        other => {
            let mut text = other.to_string();
            // Rhai appends " (line N, position M)"; we print the location first.
            if let Some(idx) = text.rfind(" (line ") {
                text.truncate(idx);
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{Dynamic, ParseErrorType};

    fn runtime(message: &str, line: u16, column: u16) -> Box<EvalAltResult> {
        EvalAltResult::ErrorRuntime(message.into(), Position::new(line, column)).into()
    }

    fn call(name: &str, source: &str, inner: Box<EvalAltResult>, at: Position) -> EvalAltResult {
        EvalAltResult::ErrorInFunctionCall(name.into(), source.into(), inner, at)
    }

    #[test]
    fn a_runtime_error_reads_file_line_column_message() {
        assert_eq!(
            describe_error(&runtime("boom", 3, 5), "r.rhai"),
            "r.rhai:3:5: boom"
        );
        let thrown = EvalAltResult::ErrorRuntime(Dynamic::from(42_i64), Position::new(3, 0));
        assert_eq!(
            describe_error(&thrown, "r.rhai"),
            "r.rhai:3: script threw 42"
        );
        let nowhere = EvalAltResult::ErrorRuntime("boom".into(), Position::NONE);
        assert_eq!(describe_error(&nowhere, "r.rhai"), "r.rhai: boom");
    }

    #[test]
    fn a_nested_call_shows_the_outer_line_first_then_the_chain() {
        let inner = call("helper", "", runtime("boom", 7, 9), Position::new(4, 3));
        let outer = call("deploy", "lib.rhai", inner.into(), Position::new(10, 1));
        assert_eq!(
            describe_error(&outer, "r.rhai"),
            "r.rhai:10:1: boom\n  at lib.rhai:7:9\n  in helper() called at lib.rhai:4:3"
        );
    }

    #[test]
    fn a_call_from_rust_has_no_location_of_its_own() {
        // A `kube::watch` handler: wildrun calls it, not a script line.
        let handler = call("on_event", "r.rhai", runtime("boom", 5, 3), Position::NONE);
        assert_eq!(describe_error(&handler, "r.rhai"), "r.rhai:5:3: boom");
        let nested = call(
            "on_event",
            "r.rhai",
            call(
                "check",
                "lib.rhai",
                runtime("boom", 2, 1),
                Position::new(6, 4),
            )
            .into(),
            Position::NONE,
        );
        assert_eq!(
            describe_error(&nested, "r.rhai"),
            "r.rhai:6:4: boom\n  at lib.rhai:2:1"
        );
    }

    #[test]
    fn a_module_with_a_syntax_error_is_named_with_its_line() {
        let parse = EvalAltResult::ErrorParsing(ParseErrorType::UnexpectedEOF, Position::new(2, 4));
        let err = EvalAltResult::ErrorInModule(
            "stdlib/layer.rhai".into(),
            parse.into(),
            Position::new(1, 1),
        );
        assert_eq!(
            describe_error(&err, "r.rhai"),
            "r.rhai:1:1: error in imported module\n  stdlib/layer.rhai:2:4: syntax error: Script is incomplete"
        );
        let at_runtime = EvalAltResult::ErrorInModule(
            "lib.rhai".into(),
            runtime("bad", 3, 1),
            Position::new(1, 1),
        );
        assert_eq!(
            describe_error(&at_runtime, "r.rhai"),
            "r.rhai:1:1: bad\n  at lib.rhai:3:1"
        );
    }

    #[test]
    fn limits_are_explained_in_plain_words() {
        let at = Position::new(2, 1);
        let cases: [(EvalAltResult, &str); 8] = [
            (
                EvalAltResult::ErrorTooManyOperations(at),
                "r.rhai:2:1: the script was stopped after 20000000 operations; does a loop never end?",
            ),
            (
                EvalAltResult::ErrorStackOverflow(at),
                "r.rhai:2:1: the script was stopped at 64 nested function calls; does a function call itself forever?",
            ),
            (
                EvalAltResult::ErrorModuleNotFound("layer".into(), at),
                "r.rhai:2:1: module \"layer\" not found (looked in the recipe's folder, $WILDRUN_STDLIB, the nearest stdlib/ folder and the built-in stdlib)",
            ),
            (
                EvalAltResult::ErrorDataTooLarge("Length of string".into(), at),
                "r.rhai:2:1: the script built a string longer than 16 MiB, more than wildrun allows",
            ),
            (
                EvalAltResult::ErrorDataTooLarge("Size of array/BLOB".into(), at),
                "r.rhai:2:1: the script built a list of more than 100000 items, more than wildrun allows",
            ),
            (
                EvalAltResult::ErrorDataTooLarge("Size of object map".into(), at),
                "r.rhai:2:1: the script built a map of more than 100000 items, more than wildrun allows",
            ),
            (
                EvalAltResult::ErrorTerminated(Dynamic::from(CPU_TIME_SPENT), at),
                "r.rhai:2:1: the script was stopped after 10 s of computing; does it grow nested data in a loop, or copy large data again and again?",
            ),
            (
                EvalAltResult::ErrorTerminated(Dynamic::UNIT, at),
                "r.rhai:2:1: the script was stopped",
            ),
        ];
        for (err, expected) in cases {
            assert_eq!(describe_error(&err, "r.rhai"), expected);
        }
    }

    #[test]
    fn a_property_of_a_missing_value_is_explained() {
        let engine = rhai::Engine::new();
        let err = engine
            .eval::<Dynamic>("let config = #{ cloud: #{} };\nconfig.apps.gitea")
            .unwrap_err();
        let message = describe_error(&err, "r.rhai");
        assert!(message.starts_with("r.rhai:2:"), "{message}");
        assert!(
            message.contains("cannot read .gitea: the value before it is missing")
                && message.contains("?.gitea")
                && !message.contains("getter"),
            "{message}"
        );
    }

    #[test]
    fn a_reserved_word_as_a_key_shows_the_quoted_form() {
        let err = rhai::Engine::new()
            .compile("let rule = #{ match: \"Host(`a`)\" };")
            .unwrap_err();
        let words = syntax_error_words(&err.0);
        assert!(
            words.contains("'match' is a reserved keyword")
                && words.contains("#{ \"match\": ... }")
                && words.contains("value[\"match\"]"),
            "{words}"
        );
    }

    #[test]
    fn any_other_error_loses_rhais_trailing_position() {
        let err = EvalAltResult::ErrorVariableNotFound("x".into(), Position::new(3, 5));
        assert_eq!(
            describe_error(&err, "r.rhai"),
            "r.rhai:3:5: Variable not found: x"
        );
        let other = EvalAltResult::ErrorDataTooLarge("Size of BLOB".into(), Position::new(3, 5));
        assert_eq!(
            describe_error(&other, "r.rhai"),
            "r.rhai:3:5: the script built too much data (size of blob), more than wildrun allows"
        );
    }
}
