//! Script errors as people read them: the outermost script location
//! first, then the message in plain words, then the call chain.

use super::limits::{
    CPU_TIME_SPENT, MAX_CALL_LEVELS, MAX_COLLECTION_SIZE, MAX_CPU_TIME, MAX_OPERATIONS,
    MAX_STRING_SIZE,
};
use rhai::{EvalAltResult, Position};

fn at(source: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{source}:{l}:{c}"),
        (Some(l), None) => format!("{source}:{l}"),
        _ => source.to_string(),
    }
}

/// Turns a script error into a message for people: the outermost script
/// location first, then the message, then the call chain inside modules.
pub fn describe_error(err: &EvalAltResult, main_source: &str) -> String {
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
                    chain.push(format!("  {}: syntax error: {kind}", at(module, *p)));
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

fn leaf_message(err: &EvalAltResult) -> String {
    match err {
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
                format!("data larger than wildrun allows ({what})")
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
