//! `template::` for scripts: envsubst-compatible `${VAR}` / `$VAR` substitution.
//!
//! Unlike envsubst, a variable the template uses but the caller did not give
//! is an error naming the variable and the template line, never an empty
//! string in a manifest. `$${` writes a literal `${` and `$$` a literal `$`.

/// A template references a variable that was not given, or writes a
/// malformed `${`: `template:line: message`, so a person can open the
/// template at that line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{template}:{line}: {message}")]
pub struct TemplateError {
    /// The template's name (file path or `template`).
    pub template: String,
    /// 1-based line of the reference.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Consumes a variable name (letters, digits, `_`) from `chars`.
fn take_name(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> String {
    let mut name = String::new();
    while let Some((_, c)) = chars.next_if(|&(_, c)| is_ident(c)) {
        name.push(c);
    }
    name
}

/// Substitutes `${VAR}` and `$VAR` in `text` with values from `lookup`.
///
/// `name` labels the template in errors.
pub fn render(
    text: &str,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let line_of = |idx: usize| text[..idx].matches('\n').count() + 1;
    let err = |idx: usize, message: String| TemplateError {
        template: name.to_string(),
        line: line_of(idx),
        message,
    };
    while let Some((idx, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek().map(|&(_, c)| c) {
            Some('$') => {
                // `$$` escapes: `$${X}` → `${X}`, `$$X` → `$X`.
                chars.next();
                out.push('$');
            }
            Some('{') => {
                chars.next();
                let var = take_name(&mut chars);
                let closed = chars.next_if(|&(_, c)| c == '}').is_some();
                if !closed || var.is_empty() || !var.starts_with(is_ident_start) {
                    let snippet: String = text[idx..]
                        .chars()
                        .take_while(|c| *c != '\n')
                        .take(24)
                        .collect();
                    return Err(err(
                        idx,
                        format!("{snippet:?}: ${{ must be followed by a variable name and }}; write $${{ for a literal ${{"),
                    ));
                }
                out.push_str(
                    &lookup(&var)
                        .ok_or_else(|| err(idx, format!("variable {var} is not defined")))?,
                );
            }
            Some(c) if is_ident_start(c) => {
                let var = take_name(&mut chars);
                out.push_str(
                    &lookup(&var)
                        .ok_or_else(|| err(idx, format!("variable {var} is not defined")))?,
                );
            }
            _ => out.push('$'),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "NAME" => Some("web".into()),
            "PORT" => Some("80".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_both_forms() {
        assert_eq!(render("${NAME}:$PORT/x", "t", &vars).unwrap(), "web:80/x");
        assert_eq!(render("a-$NAME-b", "t", &vars).unwrap(), "a-web-b");
    }

    #[test]
    fn escapes_and_lone_dollars() {
        assert_eq!(
            render("$${NAME} $$NAME $ 5$", "t", &vars).unwrap(),
            "${NAME} $NAME $ 5$"
        );
    }

    #[test]
    fn undefined_variable_names_line() {
        let err = render("a\nb: ${NAME}\nc: ${MISSING}\n", "svc.yaml", &vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "svc.yaml:3: variable MISSING is not defined"
        );
        let err = render("x $OTHER", "t", &vars).unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn malformed_references() {
        for bad in ["${NAME", "${1X}", "${}", "a \"${\" b}"] {
            let e = render(bad, "t", &vars).unwrap_err();
            assert!(
                e.message.contains("must be followed by a variable name"),
                "{bad}: {e}"
            );
        }
        let e = render("x: \"${\"\ny: ${NAME}\n", "t", &vars).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            !e.message.contains("y:"),
            "the snippet stays on its line: {e}"
        );
    }

    #[test]
    fn a_malformed_reference_reads_template_line_and_the_fix() {
        let err = render("a: 1\nb: ${1X}\n", "svc.yaml.tmpl", &vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "svc.yaml.tmpl:2: \"${1X}\": ${ must be followed by a variable name and }; write $${ for a literal ${"
        );
    }
}
